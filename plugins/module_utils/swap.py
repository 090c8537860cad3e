# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Re-creating a swap area across its grown device with the same UUID and label.

The swap header (first page of the device) is read directly, so its size is known whether
the swap is active or not: ``last_page`` is the index of the last usable page, and mkswap
writes ``device size // page size - 1`` there. ``plan_swap_rebuild`` decides from that,
blkid's tags, /proc/swaps, /proc/meminfo and fstab, and returns the commands to run.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import struct
import uuid as uuidlib

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils.filesystem import human

SIGNATURES = (b'SWAPSPACE2', b'SWAP-SPACE')
PAGE_SIZES = (4096, 8192, 16384, 65536)
HEADER_OFFSET = 1024  # struct swap_header_v1_2 starts after the boot block
# How long swap_rebuild waits for udev to have probed the re-created swap.
UDEV_SETTLE_SECONDS = 30
MKSWAP_LABEL_MAX = 15  # the header has 16 bytes for the label; mkswap -L writes at most 15


def parse_swap_header(data, page_size=None):
    """The swap header in the first bytes of a device, or None when there is no swap signature.

    ``data`` holds at least the first page. The page size the header was written for is where
    its signature sits (the last 10 bytes of the first page); ``page_size`` is tried first.
    Fields: page_size, version, last_page, bad_pages, uuid, label, label_bytes, size (usable bytes).
    ``label_bytes`` are the label exactly as written; ``label`` is them as text (undecodable
    bytes replaced, for messages).
    """
    sizes = ([page_size] if page_size else []) + [s for s in PAGE_SIZES if s != page_size]
    for size in sizes:
        signature = data[size - 10:size]
        if len(data) < size or signature not in SIGNATURES:
            continue
        if signature == b'SWAP-SPACE':
            return {'page_size': size, 'version': 0, 'last_page': None, 'bad_pages': 0,
                    'uuid': None, 'label': None, 'label_bytes': b'', 'size': None}
        version, last_page, bad_pages = struct.unpack_from('<III', data, HEADER_OFFSET)
        if version != 1 and struct.unpack_from('>I', data, HEADER_OFFSET)[0] == 1:
            version, last_page, bad_pages = struct.unpack_from('>III', data, HEADER_OFFSET)
        raw_uuid = data[HEADER_OFFSET + 12:HEADER_OFFSET + 28]
        raw_label = data[HEADER_OFFSET + 28:HEADER_OFFSET + 44].split(b'\0', 1)[0]
        return {
            'page_size': size,
            'version': version,
            'last_page': last_page,
            'bad_pages': bad_pages,
            'uuid': str(uuidlib.UUID(bytes=raw_uuid)) if raw_uuid.strip(b'\0') else None,
            'label': raw_label.decode('utf-8', 'replace') or None,
            'label_bytes': raw_label,
            'size': last_page * size,
        }
    return None


def spanning_last_page(device_size, page_size):
    """The ``last_page`` mkswap writes for a device of ``device_size`` bytes."""
    return device_size // page_size - 1


def _fstab_field(field):
    """An fstab field as libmount reads it: \\ooo octal escapes (\\040 for a space) decoded, and
    the quotes of a quoted tag value (LABEL="swap") dropped."""
    field = re.sub(r'\\([0-7]{3})', lambda match: chr(int(match.group(1), 8)), field)
    tag, sep, value = field.partition('=')
    if sep and len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
        return tag + sep + value[1:-1]
    return field


def parse_fstab(text):
    """/etc/fstab entries as dicts (spec, file, vfstype, options list)."""
    entries = []
    for line in text.splitlines():
        fields = [_fstab_field(field) for field in line.split('#', 1)[0].split()]
        if len(fields) >= 3:
            entries.append({'spec': fields[0], 'file': fields[1], 'vfstype': fields[2],
                            'options': fields[3].split(',') if len(fields) > 3 else []})
    return entries


def fstab_swap_options(entries, device_paths, uuid, label):
    """Options of the fstab swap entry that names this swap (by UUID, LABEL or a path), or []."""
    names = set(device_paths)
    if uuid:
        names.update(['UUID=%s' % uuid, '/dev/disk/by-uuid/%s' % uuid])
    if label:
        names.update(['LABEL=%s' % label, '/dev/disk/by-label/%s' % label])
    for entry in entries:
        if entry['vfstype'] == 'swap' and entry['spec'] in names:
            return entry['options']
    return []


def swapon_options(priority, options):
    """swapon arguments that restore a swap's priority and discard policy."""
    args = []
    if priority is not None and priority >= 0:
        args += ['-p', str(priority)]
    for option in options:
        if option == 'discard':
            args.append('--discard')
        elif option.startswith('discard='):
            args.append('--discard=%s' % option.split('=', 1)[1])
    return args


def memory_available(meminfo):
    """Bytes the kernel can hand out without swapping (MemAvailable, or its old approximation)."""
    if 'MemAvailable' in meminfo:
        return meminfo['MemAvailable']
    return meminfo.get('MemFree', 0) + meminfo.get('Buffers', 0) + meminfo.get('Cached', 0)


def check_room_for_swapoff(device, active, other_swaps, meminfo):
    """Refuse when what this swap holds cannot go back to memory or the other swaps."""
    available = memory_available(meminfo)
    other_free = sum(max(swap['size'] - swap['used'], 0) for swap in other_swaps)
    if active['used'] > available + other_free:
        raise Refusal(
            'swapoff %s would have to bring back %s (%d bytes) of swapped-out memory, but only %s '
            '(%d bytes) is available: MemAvailable %s + free space on the other swaps %s. Free '
            'memory first (or add another swap), or set force=true to try anyway (the kernel may '
            'then kill processes or refuse the swapoff)'
            % (device, human(active['used']), active['used'], human(available + other_free),
               available + other_free, human(available), human(other_free)))


def label_to_keep(device, header):
    """The header's label as mkswap -L must be given it to write it back byte for byte, or None.

    Refuses a label mkswap cannot write back unchanged: longer than 15 bytes (it truncates) or
    not UTF-8 text (a task cannot pass those bytes).
    """
    raw = header['label_bytes']
    if not raw:
        return None
    try:
        label = raw.decode('utf-8')
    except UnicodeDecodeError:
        raise Refusal('%s: the swap label %r is not UTF-8 text, which swap_rebuild cannot pass to mkswap -L '
                      'unchanged; give the swap a new label by hand (swaplabel -L NEW %s), update /etc/fstab '
                      'if it names the old one, and run again' % (device, raw, device))
    if len(raw) > MKSWAP_LABEL_MAX:
        raise Refusal('%s: the swap label %r is %d bytes long but mkswap writes at most %d, so re-creating the '
                      'swap would cut it; give it a label of at most %d bytes by hand (swaplabel -L NEW %s), '
                      'update /etc/fstab if it names the old one, and run again'
                      % (device, label, len(raw), MKSWAP_LABEL_MAX, MKSWAP_LABEL_MAX, device))
    return label


def plan_swap_rebuild(device, tags, header, device_size, page_size, active=None, other_swaps=(),
                      meminfo=None, fstab_options=(), force=False, udev=False):
    """Commands that re-create the swap on ``device`` across its whole size; [] when it already spans it.

    ``tags`` are blkid's (TYPE, UUID), ``header`` the parsed swap header (the UUID and label kept
    are the header's, byte for byte), ``active`` the /proc/swaps entry of this device (None when
    inactive), ``other_swaps`` the other active ones. With ``udev`` (the host runs udev), the last
    commands have udev probe the new header and wait for it (at most UDEV_SETTLE_SECONDS), so that its
    /dev/disk/by-uuid and by-label links are there when the module returns.
    """
    fstype = tags.get('TYPE')
    if not fstype:
        raise Refusal('%s holds no swap signature (blkid finds nothing on it); nothing to rebuild' % device)
    if fstype != 'swap' or header is None:
        raise Refusal(
            '%s holds %s, not swap; swap_rebuild only re-creates an existing swap area and will not '
            'overwrite it' % (device, fstype if fstype != 'swap' else 'no readable swap header'))
    if header['version'] != 1:
        raise Refusal('%s holds an old version %d swap area without UUID or label; re-create it with '
                      'mkswap by hand' % (device, header['version']))
    if header['page_size'] == page_size and header['last_page'] == spanning_last_page(device_size, page_size):
        return []
    uuid = header['uuid'] or tags.get('UUID')
    label = label_to_keep(device, header)
    if active is not None and not force:
        check_room_for_swapoff(device, active, other_swaps, meminfo or {})
    mkswap = ['mkswap']
    if label:
        mkswap += ['-L', label]
    if uuid:
        mkswap += ['-U', uuid]
    actions = [mkswap + [device]]
    if active is not None:
        actions.insert(0, ['swapoff', device])
        actions.append(['swapon'] + swapon_options(active['priority'], fstab_options) + [device])
    if udev:
        # udev's own look after mkswap (its watch on the device) can miss the new header and leave the
        # links removed until the next event (seen in CI, after udevadm settle): ask for that event, and
        # wait for it a bounded time (trigger --settle has no timeout, and a busy udev must not hold a job).
        actions.append(['udevadm', 'trigger', '--action=change', device])
        actions.append(['udevadm', 'settle', '--timeout=%d' % UDEV_SETTLE_SECONDS])
    return actions
