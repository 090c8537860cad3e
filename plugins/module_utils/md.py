# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Linux md arrays: parsers of mdadm and kernel outputs, and the array state they describe.

The state of an array is a plain dict (see ``array_state``) built from
``mdadm --detail --export`` (members and their roles) and /sys/block/mdX/md/* (level,
device count, sync activity), so that unit tests can build it from captured outputs.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.fleet.linux.plugins.module_utils.common import read_text

LEVEL_ALIASES = {
    'stripe': 0, 'mirror': 1,
    '0': 0, '1': 1, '4': 4, '5': 5, '6': 6, '10': 10,
}
SUPPORTED_LEVELS = (0, 1, 4, 5, 6, 10)
MD_SYSFS_FILES = (
    'level', 'raid_disks', 'array_state', 'sync_action', 'sync_completed', 'reshape_position',
    'degraded', 'chunk_size', 'layout', 'component_size', 'metadata_version',
)


def normalize_level(value):
    """0, '0', 'raid0' or 'stripe' -> 0; None for a level md_reshape does not handle."""
    text = str(value).strip().lower()
    if text.startswith('raid'):
        text = text[4:]
    return LEVEL_ALIASES.get(text)


def parse_detail_export(text):
    """``mdadm --detail --export MD``: array keys and its member devices with their roles.

    Returns ``{'level': 'raid1', 'raid_devices': 2, 'uuid': ..., 'name': ..., 'members': [...]}``
    where each member is ``{'device': '/dev/vdb2', 'role': 'active'|'spare'|'faulty'|..., 'slot': int|None}``.
    """
    keys = {}
    for line in text.splitlines():
        key, sep, value = line.partition('=')
        if sep:
            keys[key.strip()] = value.strip()
    members = {}
    for key, value in keys.items():
        match = re.match(r'^MD_DEVICE_(.+)_(ROLE|DEV)$', key)
        if match:
            members.setdefault(match.group(1), {})[match.group(2)] = value
    member_list = []
    for entry in members.values():
        role = entry.get('ROLE', '')
        slot = int(role) if role.isdigit() else None
        member_list.append({
            'device': entry.get('DEV'),
            'role': 'active' if slot is not None else role,
            'slot': slot,
        })
    member_list.sort(key=lambda m: (m['slot'] is None, m['slot'] if m['slot'] is not None else 0, m['device'] or ''))
    return {
        'level': keys.get('MD_LEVEL'),
        'raid_devices': int(keys['MD_DEVICES']) if keys.get('MD_DEVICES', '').isdigit() else None,
        'uuid': keys.get('MD_UUID'),
        'name': keys.get('MD_NAME'),
        'metadata': keys.get('MD_METADATA'),
        'members': member_list,
    }


def parse_raid_disks(text):
    """sysfs raid_disks: '4' when idle, '4 (3)' while reshaping from 3 to 4 -> (new, old)."""
    match = re.match(r'^\s*(\d+)(?:\s+\((\d+)\))?', text or '')
    if not match:
        return None, None
    new = int(match.group(1))
    return new, int(match.group(2)) if match.group(2) else new


def parse_sync_completed(text):
    """sysfs sync_completed: 'none' or 'done / total' in sectors -> (done, total) or None."""
    match = re.match(r'^\s*(\d+)\s*/\s*(\d+)', text or '')
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse_mdstat(text):
    """/proc/mdstat -> {name: {'state', 'level', 'members', 'blocks', 'status', 'progress'}}.

    ``progress`` is ``{'action', 'percent', 'finish', 'speed'}`` while a resync, recovery,
    reshape or check runs, else None. Used for human-readable progress only: decisions read
    sysfs, which does not depend on the kernel's formatting.
    """
    arrays = {}
    current = None
    for line in text.splitlines():
        header = re.match(r'^(md\S+)\s*:\s*(\S+)\s*(.*)$', line)
        if header:
            name, state, rest = header.groups()
            words = rest.split()
            level = words[0] if words and not re.match(r'.+\[\d+\]', words[0]) else None
            members = []
            for word in words[1:] if level else words:
                member = re.match(r'^(\S+)\[(\d+)\](\((\w)\))?$', word)
                if member:
                    flag = member.group(4)
                    members.append({
                        'device': member.group(1),
                        'index': int(member.group(2)),
                        'role': {'S': 'spare', 'F': 'faulty', 'W': 'write-mostly'}.get(flag, 'active'),
                    })
            current = arrays[name] = {'state': state, 'level': level, 'members': members,
                                      'blocks': None, 'status': None, 'progress': None}
            continue
        if current is None or not line.startswith((' ', '\t')):
            current = None if not line.strip() else current
            continue
        blocks = re.match(r'^\s+(\d+) blocks', line)
        if blocks:
            current['blocks'] = int(blocks.group(1))
            status = re.search(r'\[(\d+)/(\d+)\]\s+\[([U_]+)\]', line)
            if status:
                current['status'] = {'raid_devices': int(status.group(1)), 'active': int(status.group(2)),
                                     'map': status.group(3)}
        progress = re.search(r'(resync|recovery|reshape|check|repair)\s*=\s*([\d.]+)%', line)
        if progress:
            finish = re.search(r'finish=(\S+)', line)
            speed = re.search(r'speed=(\S+)', line)
            current['progress'] = {'action': progress.group(1), 'percent': float(progress.group(2)),
                                   'finish': finish.group(1) if finish else None,
                                   'speed': speed.group(1) if speed else None}
        elif re.search(r'(resync|recovery|reshape)\s*=\s*(DELAYED|PENDING)', line):
            current['progress'] = {'action': re.search(r'(resync|recovery|reshape)', line).group(1),
                                   'percent': 0.0, 'finish': None, 'speed': None}
    return arrays


def array_state(detail_export, sysfs, size_bytes):
    """The state md_reshape plans from, from parsed --detail --export and raw sysfs values.

    ``sysfs`` maps file names of /sys/block/mdX/md/ to their text (missing files -> None).
    """
    new_devices, old_devices = parse_raid_disks(sysfs.get('raid_disks'))
    level = normalize_level(sysfs.get('level') or detail_export.get('level') or '')
    # mdadm reports a failed member still in the array as a spare; the kernel knows better.
    kernel_states = sysfs.get('member_states') or {}
    members = [dict(m, role='faulty') if 'faulty' in kernel_states.get(m['device'], '') else m
               for m in detail_export['members']]
    active = [m for m in members if m['role'] == 'active']
    reshape_position = sysfs.get('reshape_position')
    chunk = sysfs.get('chunk_size')
    component = sysfs.get('component_size')
    return {
        'level': level,
        'raid_devices': new_devices if new_devices is not None else detail_export.get('raid_devices'),
        'previous_raid_devices': old_devices,
        'members': sorted(m['device'] for m in active),
        'slots': dict((m['device'], m['slot']) for m in active),
        'spares': sorted(m['device'] for m in members if m['role'] == 'spare'),
        'faulty': sorted(m['device'] for m in members if m['role'] == 'faulty'),
        'degraded': int(sysfs.get('degraded') or 0),
        'sync_action': sysfs.get('sync_action') or 'idle',
        'sync_completed': parse_sync_completed(sysfs.get('sync_completed')),
        'reshaping': bool(reshape_position and reshape_position != 'none'),
        'array_state': sysfs.get('array_state'),
        'chunk_kib': int(chunk) // 1024 if chunk and chunk.isdigit() else None,
        'layout': sysfs.get('layout'),
        'component_size': int(component) * 1024 if component and component.isdigit() else None,
        'size': size_bytes,
        'uuid': detail_export.get('uuid'),
    }


def parity_missing(state):
    """True for the RAID4 that growing a RAID0 leaves behind: every data slot active, parity absent."""
    if state['level'] != 4 or state['degraded'] != 1:
        return False
    parity_slot = state['raid_devices'] - 1
    return parity_slot not in state['slots'].values() and len(state['members']) == parity_slot


def read_md_sysfs(name, sys_root='/sys'):
    """Raw values of /sys/block/NAME/md/*, plus 'member_states': {'/dev/vdb2': 'in_sync', ...}."""
    base = os.path.join(sys_root, 'block', name, 'md')
    values = dict((f, read_text(os.path.join(base, f))) for f in MD_SYSFS_FILES)
    try:
        entries = os.listdir(base)
    except OSError:
        entries = []
    values['member_states'] = dict(('/dev/' + e[4:], read_text(os.path.join(base, e, 'state'), ''))
                                   for e in entries if e.startswith('dev-'))
    return values


def uuid_hex(uuid):
    """An md UUID as 32 hex digits, whatever its punctuation (mdadm uses ':', blkid uses '-')."""
    return re.sub(r'[^0-9a-f]', '', (uuid or '').lower())


def mdadm_conf_entries(conf_text):
    """mdadm.conf as a list of entries, each the list of its lines: a line and the continuation lines after it.

    As mdadm reads it (mdadm.conf(5)): a line starting with a space or tab continues the line before it,
    so an ARRAY entry may carry its ``devices=`` or ``UUID=`` on lines of their own.
    """
    entries = []
    for line in conf_text.splitlines():
        if line[:1] in (' ', '\t') and entries:
            entries[-1].append(line)
        else:
            entries.append([line])
    return entries


def _entry_words(entry):
    """The words of an entry, comments (from a word starting with '#' to the end of its line) left out."""
    words = []
    for line in entry:
        for word in line.split():
            if word.startswith('#'):
                break
            words.append(word)
    return words


def array_entry_uuid(entry):
    """The UUID (32 hex digits) of an ARRAY entry, None for any other entry.

    Keywords are case-insensitive and may be abbreviated to three letters (ARR, array), as mdadm reads them.
    """
    words = _entry_words(entry)
    if not words or len(words[0]) < 3 or not 'array'.startswith(words[0].lower()):
        return None
    for word in words[1:]:
        if word.lower().startswith('uuid='):
            return uuid_hex(word[5:])
    return None


def mdadm_conf_with_array(conf_text, array_line, uuid):
    """mdadm.conf text with the whole ARRAY entry of ``uuid`` (continuation lines included) replaced by
    ``array_line``, other entries of that UUID dropped, or ``array_line`` appended when there is none."""
    wanted = uuid_hex(uuid)
    out, placed = [], False
    for entry in mdadm_conf_entries(conf_text):
        if array_entry_uuid(entry) != wanted:
            out.extend(entry)
        elif not placed:
            out.append(array_line)
            placed = True
    if not placed:
        out.append(array_line)
    return '\n'.join(out) + '\n'


def array_line_with_spares(brief_line, spares):
    """``mdadm --detail --brief`` line of the same array with ``spares`` spare devices.

    mdadm prints ``spares=N`` after ``metadata=`` only when the array has spares; the rest of the
    line (name, UUID) does not depend on the shape, so the line a reshape ends with can be told before.
    """
    words = [w for w in brief_line.split() if not w.startswith('spares=')]
    if spares:
        after = next((i for i, w in enumerate(words) if w.startswith('metadata=')), 1)
        words.insert(after + 1, 'spares=%d' % spares)
    return ' '.join(words)
