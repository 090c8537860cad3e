# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""partition_copy's planner: give a blank disk the partition table of another disk.

Pure functions of what was read (``sfdisk --json``, ``wipefs --no-act --json``, sizes and users from
sysfs/procfs): the parsers, the layout two tables are compared by, the refusals and the sfdisk script
that writes the copy. The script never carries the source's disk GUID (or DOS disk identifier) nor its
partitions' UUIDs, so sfdisk gives the copy new ones and no two disks share an identifier.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re

from ansible_collections.fleet.linux.plugins.module_utils.blockdev import blkid_probe_tags, device_node
from ansible_collections.fleet.linux.plugins.module_utils.common import C_LOCALE, CommandRunner, Refusal, command_line, read_text

# The GPT backup header and its table (128 entries of 128 bytes) take the disk's last 33 sectors,
# plus the backup header's own sector: a partition must end before them.
GPT_TAIL_SECTORS = 33
NO_TABLE_MESSAGES = ('does not contain a recognized partition table', 'does not contain a recognised partition table')


def parse_sfdisk_json(text):
    """``sfdisk --json DISK`` output as a table dict: label, id, device, unit, sector_size, first_lba,
    last_lba and partitions (node, start, size, type, uuid, name, attrs, bootable), sizes in sectors."""
    try:
        table = json.loads(text)['partitiontable']
    except (ValueError, KeyError, TypeError) as exc:
        raise Refusal('sfdisk --json printed something that is not a partition table (%s): %r' % (exc, text[:200]))
    if table.get('unit', 'sectors') != 'sectors':
        raise Refusal('sfdisk --json gave units of %s, not sectors' % table.get('unit'))
    partitions = []
    for part in table.get('partitions', []):
        partitions.append({
            'node': part['node'],
            'start': int(part['start']),
            'size': int(part['size']),
            'type': str(part['type']).upper(),
            'uuid': part.get('uuid'),
            'name': part.get('name', ''),
            'attrs': part.get('attrs', ''),
            'bootable': bool(part.get('bootable', False)),
        })
    return {
        'label': table['label'],
        'id': table.get('id'),
        'device': table.get('device'),
        'sector_size': int(table.get('sectorsize', 512)),
        'first_lba': int(table['firstlba']) if 'firstlba' in table else None,
        'last_lba': int(table['lastlba']) if 'lastlba' in table else None,
        'partitions': partitions,
    }


def read_sfdisk(device, rc, out, err):
    """The table of ``sfdisk --json DEVICE`` from its exit status and output; None when the device has no
    partition table. Any other failure is refused: what the disk holds cannot be told."""
    if rc == 0:
        return parse_sfdisk_json(out)
    if any(message in err for message in NO_TABLE_MESSAGES) or (not out.strip() and not err.strip()):
        return None
    raise Refusal('sfdisk --json %s failed (exit %d: %s), so its partition table cannot be read; check it with '
                  'sfdisk --list %s and run again' % (device, rc, (err or out).strip(), device))


def parse_wipefs_json(text):
    """``wipefs --no-act --json DEVICE`` output as a list of signatures (device, offset, type, uuid, label);
    wipefs prints nothing at all when it finds none."""
    if not text.strip():
        return []
    try:
        signatures = json.loads(text)['signatures']
    except (ValueError, KeyError, TypeError) as exc:
        raise Refusal('wipefs --json printed something unexpected (%s): %r' % (exc, text[:200]))
    return [dict((key, sig.get(key)) for key in ('device', 'offset', 'type', 'uuid', 'label')) for sig in signatures]


def partition_number(node):
    """The partition number at the end of a node name (/dev/vda2, /dev/nvme0n1p2, .../by-id/x-part2)."""
    match = re.search(r'(\d+)$', node)
    if not match:
        raise Refusal('cannot tell the partition number of %s' % node)
    return int(match.group(1))


def partition_node(disk, number):
    """The node of partition ``number`` of the kernel's ``disk`` node: a digit-ending name takes a ``p``."""
    return '%s%s%d' % (disk, 'p' if disk[-1:].isdigit() else '', number)


def layout(table):
    """What two disks must share to be partitioned alike: the label, and per partition its number, start,
    size, type, name, attributes and (DOS) boot flag. Identifiers (disk and partition UUIDs) are not part of it."""
    if table is None:
        return None
    return {
        'label': table['label'],
        'partitions': [dict(number=partition_number(p['node']), start=p['start'], size=p['size'], type=p['type'],
                            name=p['name'], attrs=p['attrs'], bootable=p['bootable'])
                       for p in table['partitions']],
    }


def end_sector(table):
    """The first sector after the table's last partition."""
    return max([p['start'] + p['size'] for p in table['partitions']] or [0])


def required_sectors(table):
    """The smallest disk (in sectors) the table fits on: past its last partition, plus GPT's backup tail."""
    return end_sector(table) + (GPT_TAIL_SECTORS if table['label'] == 'gpt' else 0)


def _quoted(value, what):
    if '"' in value or '\n' in value or '\\' in value:
        raise Refusal('%s %r holds a double quote, backslash or newline, which an sfdisk script cannot carry: '
                      'rename it on the source disk (sfdisk --part-label) and run again' % (what, value))
    return '"%s"' % value


def script(table, disk):
    """The sfdisk script that gives the kernel's ``disk`` node the layout of ``table``, with new identifiers:
    no label-id, no partition uuid, no last-lba (the copy's GPT spans its own disk)."""
    lines = ['label: %s' % table['label'], 'unit: sectors']
    if table['label'] == 'gpt' and table['first_lba'] is not None:
        lines.append('first-lba: %d' % table['first_lba'])
    if table['sector_size'] != 512:
        lines.append('sector-size: %d' % table['sector_size'])
    lines.append('')
    for part in table['partitions']:
        fields = ['start=%d' % part['start'], 'size=%d' % part['size'], 'type=%s' % part['type']]
        if table['label'] == 'gpt':
            if part['name']:
                fields.append('name=%s' % _quoted(part['name'], 'partition name'))
            if part['attrs']:
                fields.append('attrs=%s' % _quoted(part['attrs'], 'partition attributes'))
        elif part['bootable']:
            fields.append('bootable')
        lines.append('%s : %s' % (partition_node(disk, partition_number(part['node'])), ', '.join(fields)))
    return '\n'.join(lines) + '\n'


def describe(lay):
    """A layout as lines a person reads (the diff's before and after)."""
    if lay is None:
        return 'no partition table\n'
    lines = ['label: %s' % lay['label']]
    for part in lay['partitions']:
        extra = ''.join([', name=%s' % part['name'] if part['name'] else '', ', attrs=%s' % part['attrs'] if part['attrs'] else '',
                         ', bootable' if part['bootable'] else ''])
        lines.append('%d: start=%d, size=%d, type=%s%s' % (part['number'], part['start'], part['size'], part['type'], extra))
    return '\n'.join(lines) + '\n'


def plan_copy(source, target):
    """Decide what to do to give ``target`` the partition table of ``source``; raise Refusal, saying what is
    wrong and what to do, for anything that could lose data or would not work.

    ``source`` and ``target`` are dicts read from the host: ``path`` (as given), ``node`` (kernel device
    node), ``number`` (MAJ:MIN), ``sector_size`` (logical, bytes) and ``table`` (read_sfdisk's, or None);
    the target also ``size`` (bytes), ``signatures`` (wipefs's, of the disk and each partition) and
    ``users`` (why it is busy - mounted, an active swap, a holder such as an md array).

    Returns {'changed': False} when the target already has the source's layout (a second run), else
    {'changed': True, 'script': the sfdisk script}.
    """
    if source['number'] == target['number']:
        raise Refusal('%s and %s are the same disk (block device %s): give as the disk to partition a new, blank '
                      'disk and as its model one of the existing members' % (target['path'], source['path'], target['number']))
    if source['table'] is None:
        raise Refusal('%s has no partition table, so there is nothing to copy to %s: give as the model a disk that '
                      'is partitioned as the new one should be (sfdisk --list shows it)' % (source['path'], target['path']))
    if not source['table']['partitions']:
        raise Refusal('%s has a %s partition table without any partition: give as the model a disk that is '
                      'partitioned as the new one should be' % (source['path'], source['table']['label']))
    wanted = layout(source['table'])
    if target['table'] is not None and layout(target['table']) == wanted:
        return {'changed': False}
    reasons = []
    if target['table'] is not None:
        reasons.append('a %s partition table with %d partitions, not laid out as %s'
                       % (target['table']['label'], len(target['table']['partitions']), source['path']))
    reasons.extend('the signature %s%s at offset %s of %s' % (sig['type'], ' (UUID %s)' % sig['uuid'] if sig.get('uuid') else '',
                                                              sig['offset'], sig['device'])
                   for sig in target['signatures'] if not (target['table'] is not None and sig['device'] == target['node']
                                                           and sig['type'] in ('gpt', 'PMBR', 'dos')))
    reasons.extend(target['users'])
    if reasons:
        raise Refusal('%s is not blank: it holds %s. Nothing was changed. partition_copy only partitions a disk '
                      'that holds nothing; if this is the right disk and its contents are not needed, erase it '
                      '(wipefs --all on each partition, then on the disk) and run again; if it is not, give the new, blank disk instead'
                      % (target['path'], '; '.join(reasons)))
    if target['sector_size'] != source['sector_size']:
        raise Refusal('%s has %d-byte logical sectors and %s %d-byte ones: a table in sectors cannot be copied '
                      'between them; partition %s by hand' % (target['path'], target['sector_size'], source['path'],
                                                              source['sector_size'], target['path']))
    needed = required_sectors(source['table']) * source['sector_size']
    if target['size'] < needed:
        raise Refusal('%s (%d bytes) is smaller than the partitions of %s need (%d bytes, to the end of its last '
                      'partition%s): give a disk at least that large'
                      % (target['path'], target['size'], source['path'], needed,
                         ' and the GPT backup table' if source['table']['label'] == 'gpt' else ''))
    return {'changed': True, 'script': script(source['table'], target['node'])}


class PartitionCopy(object):
    """partition_copy's reader and runner: survey() reads both disks and plans (raising Refusal, nothing changed);
    copy() is the whole module (check mode included)."""

    def __init__(self, module, blockdevs):
        self.module = module
        self.blockdevs = blockdevs
        self.runners = {}
        self.done = []
        self.partial = {}

    def runner(self, tool):
        if tool not in self.runners:
            self.runners[tool] = CommandRunner(self.module, tool)
        return self.runners[tool]

    def whole_disk(self, path, role):
        """(kernel name, device node, MAJ:MIN) of the whole disk at ``path``, by its major:minor; refuses a
        partition and anything that is not a block device."""
        name = self.blockdevs.identify(path)
        parent = self.blockdevs.parent_disk(name)
        if parent is not None:
            raise Refusal('%s is partition %s of disk /dev/%s, not a whole disk: give as the %s the disk itself '
                          '(such as /dev/%s or its /dev/disk/by-id link)' % (path, name, parent, role, parent))
        if not os.path.isdir(os.path.join(self.blockdevs.sys_root, 'block', name)):
            raise Refusal('%s is block device %s, which is not a whole disk (it is not in /sys/block): give as the %s a '
                          'disk (lsblk --nodeps lists them)' % (path, name, role))
        return name, device_node(self.blockdevs, name, path), self.blockdevs.major_minor(name)

    def sector_size(self, name):
        return int(read_text(os.path.join(self.blockdevs.sys_root, 'block', name, 'queue', 'logical_block_size'), '512'))

    def table(self, node):
        rc, out, err = self.runner('sfdisk').run('--json', node, check_rc=False)
        return read_sfdisk(node, rc, out, err)

    def signatures(self, node):
        rc, out, err = self.runner('wipefs').run('--no-act', '--json', node, check_rc=False)
        if rc != 0:
            raise Refusal('wipefs --no-act --json %s failed (exit %d: %s), so what it holds cannot be told; check it '
                          'with wipefs --no-act %s and run again' % (node, rc, (err or out).strip(), node))
        # wipefs names the device by its kernel name (vdd): the node probed says it for the message.
        return [dict(sig, device=node) for sig in parse_wipefs_json(out)]

    def region_signatures(self, node, table, sector_size, size):
        """What blkid finds where each partition of ``table`` would start on ``node`` (an old filesystem, RAID
        member or swap left inside a disk whose own start was wiped would come back with the partition)."""
        found = []
        for part in table['partitions']:
            offset, length = part['start'] * sector_size, part['size'] * sector_size
            if offset + length > size:
                continue
            rc, out, err = self.runner('blkid').run('-p', '-o', 'export', '--offset', str(offset), '--size', str(length),
                                                    node, check_rc=False)
            tags = blkid_probe_tags('%s at offset %d' % (node, offset), rc, out, err)
            if tags.get('TYPE') or tags.get('PTTYPE'):
                found.append({'device': '%s where its partition %d would be (byte %d on)'
                                        % (node, partition_number(part['node']), offset),
                              'offset': 0, 'type': tags.get('TYPE') or tags.get('PTTYPE'), 'uuid': tags.get('UUID'),
                              'label': tags.get('LABEL')})
        return found

    def read_disk(self, path, role):
        name, node, number = self.whole_disk(path, role)
        return {'path': path, 'name': name, 'node': node, 'number': number, 'sector_size': self.sector_size(name),
                'size': self.blockdevs.size(name), 'table': self.table(node), 'signatures': [], 'users': []}

    def partition_nodes(self, name):
        return [device_node(self.blockdevs, part, '/dev/' + part) for part in self.blockdevs.partitions(name)]

    def survey(self, params):
        """Read both disks and plan: the result check mode gives, plus ``_plan`` for copy()."""
        source = self.read_disk(params['like'], 'model (like)')
        target = self.read_disk(params['disk'], 'disk to partition')
        self.partial = {'disk': target['node'], 'like': source['node'], 'before': layout(target['table'])}
        if source['number'] != target['number'] and source['table'] is not None \
                and layout(target['table']) != layout(source['table']):
            # Only a disk that is not already the copy is probed: a second run finds its partitions in use.
            target['signatures'] = [sig for dev in [target['node']] + self.partition_nodes(target['name'])
                                    for sig in self.signatures(dev)]
            target['users'] = self.blockdevs.users(target['name'])
            if target['table'] is None and not target['signatures'] and not target['users']:
                target['signatures'] = self.region_signatures(target['node'], source['table'], source['sector_size'],
                                                              target['size'])
        plan = plan_copy(source, target)
        actions = []
        if plan['changed']:
            actions = [self.runner('sfdisk').argv('--lock', '--wipe', 'always', '--wipe-partitions', 'always', target['node']),
                       self.runner('partx').argv('--update', target['node']),
                       self.runner('udevadm').argv('settle')]
        after = layout(source['table']) if plan['changed'] else layout(target['table'])
        return dict(self.partial, changed=plan['changed'], after=after, script=plan.get('script'),
                    actions=[command_line(a) for a in actions], _plan=(target, source, actions, plan.get('script')))

    def copy(self, params):
        """Read, plan and, outside check mode, write the copy: partition_copy's result. Fails the module on a
        refusal (nothing changed) or a failing step (saying what was done)."""
        try:
            result = self.survey(params)
        except Refusal as exc:
            self.module.fail_json(msg=str(exc), **dict(dict(changed=False, actions=[]), **self.partial))
        target, source, actions, text = result.pop('_plan')
        if actions and not self.module.check_mode:
            self.write(target, actions, text)
            try:
                written = self.table(target['node'])
            except Refusal as exc:
                self.fail(str(exc))
            if layout(written) != layout(source['table']):
                self.fail('%s was written but reads back otherwise (%s): check it with sfdisk --list %s'
                          % (target['node'], describe(layout(written)).strip().replace('\n', '; '), target['node']))
            missing = [node for node in (partition_node(target['node'], p['number']) for p in layout(written)['partitions'])
                       if self.blockdevs.kernel_name(node) is None]
            if missing:
                self.fail('%s was partitioned, but the kernel does not show its partitions %s even after partx --update: '
                          'reboot and run again' % (target['node'], ', '.join(missing)))
            result.update(actions=[command_line(a) for a in self.done], after=layout(written),
                          identifiers={'disk': written['id'], 'partitions': [p['uuid'] for p in written['partitions']]})
        result['diff'] = {'before': describe(result['before']), 'after': describe(result['after'])}
        return result

    def write(self, target, actions, text):
        """Run the copy's actions in order: sfdisk reading the script on its input (it has the kernel re-read the
        table while it holds the disk's lock), partx adding any partition the kernel does not show yet (a
        whole-disk re-read after the lock is gone would race udev's probe of the new partitions: EBUSY), then
        udev's links."""
        for index, argv in enumerate(actions):
            rc, out, err = self.module.run_command(argv, data=text if index == 0 else None, binary_data=index != 0,
                                                   environ_update=C_LOCALE)
            if rc != 0:
                msg = '%s failed (exit %d): %s' % (command_line(argv), rc, (err or out).strip())
                if index == 0:
                    # Whether sfdisk wrote anything before it failed: the disk tells.
                    try:
                        changed = self.table(target['node']) is not None
                    except Refusal:
                        changed = True
                    self.module.fail_json(msg=msg + ('' if changed else ' (nothing was written)'), changed=changed,
                                          actions=[command_line(argv)] if changed else [], rc=rc, stdout=out, stderr=err)
                self.fail(msg + ' (the partition table was written)', rc=rc, stdout=out, stderr=err)
            self.done.append(argv)

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, changed=True, actions=[command_line(a) for a in self.done], **kwargs)

    def run(self):
        self.module.exit_json(**self.copy(self.module.params))
