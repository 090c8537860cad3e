#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: md_reshape
short_description: Reshape a live Linux md (software RAID) array to a declared level and device count
version_added: 0.1.0
description:
  - Declares the target of an existing md array (level, number of raid devices, member devices)
    and reaches it online with C(mdadm --grow), without unmounting what the array carries.
  - A planner computes the shortest sequence of mdadm steps over the transitions mdadm performs
    online (growing the device count of RAID0/1/4/5/6/10, RAID1 to RAID0 and back through RAID10,
    RAID0 to RAID10, RAID0 to RAID4, RAID4 to RAID5, RAID5 to RAID6, RAID1 to RAID5 with two
    devices, and compositions of these). After each step the module waits for the reshape or
    resync and plans again from the real state.
  - A RAID0 grown with mdadm passes through RAID4; the module always brings it back to RAID0.
  - Reads the array, validates every parameter and device, and plans before it changes anything.
    It refuses, changing nothing, what could lose data - a degraded array, an array reshaping towards
    something else, a new device that is mounted, in another array, holding data or too small, a backup
    file on the array, its devices or a filesystem a power loss empties (tmpfs, ramfs) - and
    transitions mdadm cannot do online.
  - A device (the array and every member) is what its major:minor says, not its name. Symlinks such as
    C(/dev/md/boot) or C(/dev/disk/by-id/...) are followed; a regular file, a directory, a character device,
    a missing path, the same device listed twice (say by kernel name and by a by-id link) and the array
    listed as its own member are refused.
  - A new device joins only when C(blkid -p) clearly finds nothing on it (exit 2), or only its partition
    table entry (C(PART_ENTRY_*)), or a member signature of this very array that an earlier step let go.
    Several signatures (exit 8, ambivalent), any other signature and a probe that fails are refused.
  - The array is reshaped, never shrunk; members are added, never removed.
  - After a restart (a power loss) in the middle of a reshape, md assembles the array
    auto-read-only with the reshape pending, and the kernel continues it only once the array is
    writable. Until then Linux (seen on 6.1) reads the part of a RAID10 already reshaped at the
    old data offset, so the array seems to hold no filesystem although its data is intact. The
    module resumes such a reshape (C(mdadm --readwrite)) when it leads to the target, and waits
    for it. An array made read-only on purpose (C(mdadm --readonly)) is refused instead.
author:
  - fleet.linux contributors (@fleet-linux)
options:
  device:
    description: The md array, for example C(/dev/md0) or C(/dev/md/boot).
    type: path
    required: true
  level:
    description: The RAID level the array should have, C(0), C(1), C(4), C(5), C(6) or C(10) (C(raid10) and so on are accepted too).
    type: str
    required: true
  raid_devices:
    description:
      - The number of active devices the array should have, 1 or more (V(0) is refused, not taken as unset).
      - Defaults to the number of O(devices); devices beyond it become spares.
    type: int
  devices:
    description:
      - Every device the array should end with, current members included, for example all four
        C(/dev/sdX2) partitions.
      - Members dropped by an intermediate step (RAID1 to RAID0 keeps one) are added back.
      - A YAML list, one device per item. As for any list option, Ansible splits a string at commas
        (V(/dev/sdb2,/dev/sdc2)); an item holding spaces or commas (V(/dev/sdb2 /dev/sdc2)) is refused.
    type: list
    elements: path
    required: true
  backup_file:
    description:
      - File where mdadm saves the critical section during a reshape that needs one.
      - Must be on a filesystem that is not on the array or its devices, and that keeps its files across a
        power loss (not tmpfs or ramfs), because mdadm reads it again to continue a reshape interrupted by a reboot.
      - Its directory must exist and the file must not, unless the array is reshaping.
      - Its directory, and every directory above it, must be writable by root only (a sticky directory such as
        C(/tmp) is accepted above it), because mdadm writes the file as root and restores the array from it.
    type: path
  wait:
    description:
      - Return only when every step, reshape and resync included, has finished.
      - With V(false), the module starts the next step and returns; run it again to go on.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for all steps before failing, 1 or more (the array keeps reshaping in the kernel;
        run again to go on waiting).
    type: int
    default: 7200
  poll_interval:
    description: Seconds between two reads of the array's progress while waiting, 1 or more.
    type: int
    default: 5
  update_config:
    description:
      - Write the array's C(ARRAY) line into O(config_file) (atomically) so it keeps its name at boot.
      - The whole entry of the array (found by UUID, continuation lines such as an old C(devices=) included) is
        replaced by the line C(mdadm --detail --brief) gives once the reshape is done; comments, C(DEVICE) lines
        and other arrays' entries are kept.
    type: bool
    default: false
  config_file:
    description: The mdadm configuration file updated by O(update_config).
    type: path
    default: /etc/mdadm/mdadm.conf
notes:
  - Supports check mode (the whole plan is returned in RV(actions), and RV(config_line) is the line the run would
    write) and diff mode.
  - When a step fails after others ran, the module fails with C(changed=true) and the commands run in RV(actions).
  - Runs for as long as the reshape takes; use C(async) with a long playbook.
  - After a level change, regenerate the initramfs so the array assembles at boot under its name.
requirements:
  - mdadm 3.3 or later, a kernel with the md personalities involved.
seealso:
  - module: fleet.linux.fs_grow
  - module: fleet.linux.swap_rebuild
'''

EXAMPLES = r'''
- name: Grow the swap RAID0 from three to four partitions (ends as RAID0, not RAID4)
  fleet.linux.md_reshape:
    device: /dev/md0
    level: 0
    devices: [/dev/sda3, /dev/sdb3, /dev/sdc3, /dev/sdd3]

- name: Turn the /boot RAID1 of two partitions into a RAID10 of four, through RAID0
  fleet.linux.md_reshape:
    device: /dev/md1
    level: raid10
    raid_devices: 4
    devices: [/dev/sda2, /dev/sdb2, /dev/sdc2, /dev/sdd2]
    backup_file: /root/md1-reshape.backup
    update_config: true
  async: 7200
  poll: 15

- name: Only show what would be done
  fleet.linux.md_reshape:
    device: /dev/md1
    level: 10
    devices: [/dev/sda2, /dev/sdb2, /dev/sdc2, /dev/sdd2]
  check_mode: true
  register: md1_plan
'''

RETURN = r'''
actions:
  description: The mdadm commands of the plan, in order (run, or that would run in check mode).
  returned: always
  type: list
  elements: str
  sample: ["mdadm --grow /dev/md0 --raid-devices=4 --add /dev/sdd3", "mdadm --grow /dev/md0 --level=0"]
steps:
  description: The plan's steps with a description and the state each one leads to.
  returned: always
  type: list
  elements: dict
before:
  description: The array before the module ran.
  returned: success, and failures after the array was read
  type: dict
  contains:
    level: {description: RAID level (an integer), type: int}
    raid_devices: {description: Number of raid devices, type: int}
    members: {description: Active member devices, type: list, elements: str}
    spares: {description: Spare devices, type: list, elements: str}
    size: {description: Array size in bytes, type: int}
after:
  description: The array when the module returned (the plan's prediction in check mode).
  returned: always
  type: dict
finished:
  description: Whether the array has reached the target with no reshape or resync left to wait for.
  returned: always
  type: bool
reshape_interrupted:
  description:
    - Whether the array came back from a restart auto-read-only with its reshape pending; its
      contents read wrong until the reshape resumes (RV(actions) starts with C(mdadm --readwrite)).
  returned: always
  type: bool
progress:
  description: Progress samples read while waiting (action, percent done).
  returned: when the module waited
  type: list
  elements: dict
config_line:
  description:
    - The ARRAY line written to the mdadm configuration (in check mode, the line the planned final state gets;
      C(spares=N) follows the spares the array ends with).
  returned: when update_config is true
  type: str
  sample: ARRAY /dev/md/1 metadata=1.2 name=microserver:1 UUID=b95b33c4:26ad8f39:950e870c:03a3e87c
'''

import errno
import os
import stat
import time
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleet.linux.plugins.module_utils.blockdev import BlockDevices, blkid_probe_tags
from ansible_collections.fleet.linux.plugins.module_utils.common import CommandRunner, Refusal, check_regular, read_text, write_atomically
from ansible_collections.fleet.linux.plugins.module_utils.md import (
    array_line_with_spares, array_state, mdadm_conf_with_array, normalize_level, parse_detail_export, read_md_sysfs,
    uuid_hex)
from ansible_collections.fleet.linux.plugins.module_utils.md_plan import (
    blocking_condition, plan, reshape_heading_to_target, resume_step)

# Where the kernel is read and how a /dev path is identified (tests point them at fixture trees).
SYS_ROOT = '/sys'
PROC_ROOT = '/proc'
DEV_STAT = os.stat
# Filesystems a power loss empties: a backup file there is gone when mdadm needs it.
VOLATILE_FILESYSTEMS = ('tmpfs', 'ramfs')


class CommandFailed(Exception):
    """A command exited non-zero: the message names it and gives its output."""


class Timeout(Exception):
    """The array was still busy at the deadline."""


class MdArray(object):
    """Reads one live array's state through mdadm and sysfs, and runs mdadm on it."""

    def __init__(self, mdadm, blockdevs, name):
        self.mdadm = mdadm
        self.blockdevs = blockdevs
        self.name = name
        self.path = '/dev/%s' % name

    def run(self, *args):
        rc, out, err = self.mdadm.run(*args, check_rc=False)
        if rc != 0:
            raise CommandFailed('%s failed (exit %d): %s' % (' '.join(self.mdadm.argv(*args)), rc, (err or out).strip()))
        return out

    def sysfs(self):
        return read_md_sysfs(self.name, self.blockdevs.sys_root)

    def state(self):
        state = array_state(parse_detail_export(self.run('--detail', '--export', self.path)), self.sysfs(),
                            self.blockdevs.size(self.name))
        state['device'] = self.path
        return state

    def brief_line(self):
        """The ARRAY line mdadm gives this array as it is now (mdadm --detail --brief)."""
        return self.run('--detail', '--brief', self.path).strip().splitlines()[0]

    def wait_idle(self, deadline, poll_interval, progress):
        """Poll sysfs until no reshape, resync or recovery runs; Timeout when the deadline passed."""
        while True:
            sysfs = self.sysfs()
            action = sysfs.get('sync_action') or 'idle'
            reshaping = (sysfs.get('reshape_position') or 'none') != 'none'
            if action == 'idle' and not reshaping:
                return
            completed = (sysfs.get('sync_completed') or '').split('/')
            percent = None
            if len(completed) == 2 and completed[1].strip().isdigit() and int(completed[1]) > 0:
                percent = round(100.0 * int(completed[0]) / int(completed[1]), 1)
            if not progress or progress[-1]['action'] != action or progress[-1]['percent'] != percent:
                progress.append({'action': 'reshape' if reshaping and action == 'idle' else action,
                                 'percent': percent, 'time': int(time.time())})
            if time.time() >= deadline:
                raise Timeout('%s is still busy (%s); it goes on in the kernel (cat /proc/mdstat). '
                              'Run again to wait for it, or give a longer timeout.' % (self.path, progress[-1]['action']))
            time.sleep(poll_interval)


def public_state(state):
    return dict((k, state[k]) for k in ('level', 'raid_devices', 'members', 'spares', 'size'))


def render(state):
    return ''.join('%s: %s\n' % (k, v) for k, v in sorted(public_state(state).items()))


def check_parameters(params):
    """Refuse a parameter out of range or of the wrong form, before anything is read or changed."""
    for name in ('timeout', 'poll_interval'):
        if params[name] < 1:
            raise Refusal('%s is %d: give a number of seconds, 1 or more.' % (name, params[name]))
    if params['raid_devices'] is not None and params['raid_devices'] < 1:
        raise Refusal('raid_devices is %d: give the number of active devices the array should have (1 or more), '
                      'or leave it out to make it the number of devices.' % params['raid_devices'])
    if normalize_level(params['level']) is None:
        raise Refusal('level %s is not one md_reshape handles: use one of 0, 1, 4, 5, 6, 10.' % params['level'])
    if not params['devices']:
        raise Refusal('devices is empty: list every device the array should end with, current members included.')
    for device in params['devices']:
        if not device or len(device.replace(',', ' ').split()) != 1:
            raise Refusal('devices holds "%s", which is not one device path: give devices as a list, one device per '
                          'item (devices: [/dev/sdb2, /dev/sdc2]).' % device)


def resolve_array(blockdevs, path):
    """Kernel name of the md array at ``path``, by its major:minor; Refusal for anything else."""
    try:
        name = blockdevs.identify(path)
    except Refusal as refusal:
        raise Refusal('%s is not an md array on this host: %s' % (path, refusal))
    if not os.path.isdir(os.path.join(blockdevs.sys_root, 'block', name, 'md')):
        raise Refusal('%s is /dev/%s, which is not an md array on this host (cat /proc/mdstat lists them): '
                      'md_reshape changes existing arrays, create it first.' % (path, name))
    return name


def resolve_devices(blockdevs, array_name, paths):
    """The kernel path of each declared device, by its major:minor; Refusal for a non-device or a duplicate."""
    names = []
    for path in paths:
        try:
            name = blockdevs.identify(path)
        except Refusal as refusal:
            raise Refusal('in devices, %s' % refusal)
        if name == array_name:
            raise Refusal('devices lists %s, which is the array itself: list the devices it is made of.' % path)
        if name in names:
            raise Refusal('devices lists /dev/%s twice: %s and %s are the same device. List each device once.'
                          % (name, paths[names.index(name)], path))
        names.append(name)
    return ['/dev/%s' % name for name in names]


def refuse_data_on(blkid, state, device):
    """Refuse a device unless blkid clearly finds nothing on it but its partition entry (or this array's own
    member signature, left by an earlier step)."""
    rc, out, err = blkid.run('-p', '-o', 'export', device, check_rc=False)
    tags = blkid_probe_tags(device, rc, out, err)
    found = dict((k, v) for k, v in tags.items() if k != 'DEVNAME' and not k.startswith('PART_ENTRY_'))
    if not found:
        return  # a blank partition: blkid reports only its entry in the partition table
    if found.get('TYPE') == 'linux_raid_member' and uuid_hex(found.get('UUID')) == uuid_hex(state['uuid']):
        return  # a member of this very array that an earlier step let go
    if found.get('TYPE'):
        what = 'a %s signature' % found['TYPE']
    elif found.get('PTTYPE'):
        what = 'a %s partition table' % found['PTTYPE']
    else:
        what = 'data blkid describes as %s' % ' '.join('%s=%s' % item for item in sorted(found.items()))
    raise Refusal('%s holds %s%s: adding it to %s would destroy it. If its contents are not needed, '
                  'erase it with "wipefs -a %s" and run again.'
                  % (device, what, ' (UUID %s)' % found['UUID'] if found.get('UUID') else '', state['device'], device))


def refuse_unsafe_new_devices(module, blockdevs, state, new_devices):
    """Refuse a new device that is in use, holds data or is smaller than the members."""
    member_size = min(blockdevs.size(os.path.basename(m)) for m in state['members']) if state['members'] else 0
    blkid = CommandRunner(module, 'blkid')
    for device in new_devices:
        name = os.path.basename(device)
        users = blockdevs.users(name)
        if users:
            raise Refusal('%s cannot join %s: %s. Free it first.' % (device, state['device'], '; '.join(users)))
        size = blockdevs.size(name)
        if size < member_size:
            raise Refusal('%s is too small to join %s: %d bytes, its members have %d. Use a device at least as large.'
                          % (device, state['device'], size, member_size))
        refuse_data_on(blkid, state, device)


def refuse_unsafe_backup_file(blockdevs, state, backup_file, devices):
    """The backup file must survive what it exists for: refuse one on the array, its devices or a volatile filesystem."""
    directory = os.path.dirname(os.path.abspath(backup_file))
    try:
        directory_stat = os.stat(directory)
    except OSError:
        directory_stat = None
    if directory_stat is None or not stat.S_ISDIR(directory_stat.st_mode):
        raise Refusal('the directory of backup_file %s does not exist: create it on a filesystem outside %s.'
                      % (backup_file, state['device']))
    where = '%d:%d' % (os.major(directory_stat.st_dev), os.minor(directory_stat.st_dev))
    volatile = sorted(blockdevs.filesystem_types(where) & set(VOLATILE_FILESYSTEMS))
    if volatile:
        raise Refusal('backup_file %s is on %s, which a power loss empties, and a power loss in the middle of a reshape '
                      'is what mdadm needs it for. Put it on a disk filesystem outside the array (for example /root).'
                      % (backup_file, volatile[0]))
    refuse_directory_others_can_write(backup_file, os.path.realpath(directory))
    for name in [os.path.basename(d) for d in [state['device']] + devices]:
        if blockdevs.major_minor(name) == where:
            raise Refusal('backup_file %s is on /dev/%s, which this reshape changes: a crash would take the backup '
                          'with it. Put it on a filesystem outside the array (for example /root).' % (backup_file, name))
    if os.path.lexists(backup_file) and not state['reshaping']:
        raise Refusal('backup_file %s exists but %s is not reshaping: it is left from an earlier reshape. '
                      'Remove it (or choose another path) and run again.' % (backup_file, state['device']))


def refuse_directory_others_can_write(backup_file, directory):
    """mdadm writes the backup file as root and restores the array from it after a restart: refuse a directory
    (or one above it) where another user could plant a link in its place or swap the file. Above the file's own
    directory, a sticky directory such as /tmp is fine: others cannot move what root owns in it."""
    holding_the_file = True
    while True:
        st = os.stat(directory)
        shared = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and (holding_the_file or not st.st_mode & stat.S_ISVTX)
        if st.st_uid not in (0, os.geteuid()) or shared:
            raise Refusal('backup_file %s is below %s, which %s can write to: a link or file planted there would have '
                          'mdadm write where it points, or restore the array from it. Put it in a directory only root '
                          'can write to (for example /root).'
                          % (backup_file, directory, 'uid %d' % st.st_uid if st.st_uid not in (0, os.geteuid()) else 'other users'))
        parent = os.path.dirname(directory)
        if parent == directory:
            return
        directory, holding_the_file = parent, False


def decide(state, md, level, raid_devices, devices, backup_file):
    """From the array's state: (step resuming an interrupted reshape or None, 'wait' or None, planned steps).

    Raises Refusal for an array that cannot be reshaped now, or a target it cannot reach.
    """
    resume = resume_step(state, md)
    blocked = blocking_condition(state, level, raid_devices)
    if blocked == 'wait' and state['reshaping']:
        heading = reshape_heading_to_target(state, level, raid_devices, devices, md)
        if heading:
            raise Refusal(heading)
    elif blocked and blocked != 'wait':
        raise Refusal(blocked)
    return resume, blocked, plan(state, md, level, raid_devices, devices, backup_file)


class Reshape(object):
    """Runs a plan on the array, planning again from the real state after every step.

    ``done`` lists the mdadm commands run so far: whatever fails, the module reports them and changed.
    """

    def __init__(self, module, blockdevs, array, target):
        self.module = module
        self.blockdevs = blockdevs
        self.array = array
        self.level, self.raid_devices, self.devices = target
        self.params = module.params
        self.deadline = time.time() + self.params['timeout']
        self.done = []
        self.progress = []

    def plan(self, state):
        return plan(state, self.array.path, self.level, self.raid_devices, self.devices, self.params['backup_file'])

    def run(self, step):
        self.array.run(*step['argv'][1:])
        self.done.append(' '.join(step['argv']))

    def settled_state(self):
        """Wait for the array to be idle (unless wait is false); its state then, and whether it is idle."""
        if not self.params['wait']:
            return self.array.state(), False
        self.array.wait_idle(self.deadline, self.params['poll_interval'], self.progress)
        return self.array.state(), True

    def act(self, state, resume, blocked, steps):
        """Resume, wait, run the steps; returns the last state read and the steps still to run."""
        if resume:
            self.run(resume)
        if blocked == 'wait':
            state, idle = self.settled_state()
            if not idle:
                return state, steps
            blocked = blocking_condition(state, self.level, self.raid_devices)
            if blocked:
                raise Refusal(blocked)
            steps = self.plan(state)
        for _attempt in range(len(steps) + 4):
            if not steps:
                break
            # A device may have been mounted or written while the array was busy: check again before each step.
            refuse_unsafe_new_devices(self.module, self.blockdevs, state,
                                      [d for d in self.devices if d not in state['members'] + state['spares']])
            self.run(steps[0])
            time.sleep(1)
            state, idle = self.settled_state()
            if not idle:
                break
            steps = self.plan(state)
        return state, steps


def refuse_unsafe_config_file(config_file):
    """mdadm.conf is replaced as a regular file: refuse a link or special file there before anything changes."""
    try:
        check_regular(config_file, os.lstat(config_file))
    except OSError as error:
        if error.errno != errno.ENOENT:
            raise Refusal('cannot read %s: %s' % (config_file, error.strerror))


def update_config(module, config_file, line):
    """Put the array's ARRAY entry in mdadm.conf; whether the file changes."""
    current = read_text(config_file, '')
    if current and not current.endswith('\n'):
        current += '\n'
    wanted = mdadm_conf_with_array(current, line, line.split('UUID=')[1].split()[0])
    if wanted == current:
        return False
    if not module.check_mode:
        write_atomically(module, config_file, wanted)
    return True


def main():
    module = AnsibleModule(
        argument_spec=dict(
            device=dict(type='path', required=True),
            level=dict(type='str', required=True),
            raid_devices=dict(type='int'),
            devices=dict(type='list', elements='path', required=True),
            backup_file=dict(type='path'),
            wait=dict(type='bool', default=True),
            timeout=dict(type='int', default=7200),
            poll_interval=dict(type='int', default=5),
            update_config=dict(type='bool', default=False),
            config_file=dict(type='path', default='/etc/mdadm/mdadm.conf'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, actions=[], steps=[], finished=False, reshape_interrupted=False)
    # Read and validate everything, then plan: nothing changes before this block has passed.
    try:
        check_parameters(p)
        level = normalize_level(p['level'])
        blockdevs = BlockDevices(sys_root=SYS_ROOT, proc_root=PROC_ROOT, stat_path=DEV_STAT)
        array = MdArray(CommandRunner(module, 'mdadm'), blockdevs, resolve_array(blockdevs, p['device']))
        devices = resolve_devices(blockdevs, array.name, p['devices'])
        raid_devices = len(devices) if p['raid_devices'] is None else p['raid_devices']
        before = state = array.state()
        result['before'] = public_state(before)
        resume, blocked, steps = decide(state, array.path, level, raid_devices, devices, p['backup_file'])
        if steps or resume:
            refuse_unsafe_new_devices(module, blockdevs, state,
                                      [d for d in devices if d not in state['members'] + state['spares']])
            if p['backup_file']:
                refuse_unsafe_backup_file(blockdevs, state, p['backup_file'], devices)
        line = None
        if p['update_config']:
            refuse_unsafe_config_file(p['config_file'])
            line = array.brief_line()
    except (Refusal, CommandFailed) as refusal:
        module.fail_json(msg='%s: %s' % (p['device'], refusal), **result)

    planned = ([resume] if resume else []) + steps
    result.update(reshape_interrupted=bool(resume), steps=planned, actions=[' '.join(s['argv']) for s in planned])
    if module.check_mode or not (planned or (blocked == 'wait' and p['wait'])):
        after = dict(state, **planned[-1]['expect']) if planned else state
        result.update(changed=bool(planned), finished=not planned and blocked is None)
        if line:
            line = array_line_with_spares(line, len(after['spares']))
    else:
        reshape = Reshape(module, blockdevs, array, (level, raid_devices, devices))
        try:
            after, steps = reshape.act(state, resume, blocked, steps)
            if p['update_config']:
                line = array.brief_line()
        except Exception as failure:
            failed_step = ' after %s' % reshape.done[-1] if reshape.done else ''
            module.fail_json(msg='%s%s: %s' % (p['device'], failed_step, failure), changed=bool(reshape.done),
                             actions=reshape.done, before=result['before'], progress=reshape.progress,
                             exception=traceback.format_exc())
        result.update(changed=bool(reshape.done), actions=reshape.done, finished=p['wait'] and not steps and after['sync_action'] == 'idle')
        if reshape.progress:
            result['progress'] = reshape.progress
        if steps and p['wait']:
            module.fail_json(msg='%s did not reach the target after %s' % (p['device'], '; '.join(reshape.done)),
                             after=public_state(after), **result)
    result['after'] = public_state(after)

    if line:
        result['config_line'] = line
        try:
            result['changed'] = update_config(module, p['config_file'], line) or result['changed']
        except (Refusal, IOError, OSError) as failure:
            module.fail_json(msg='%s: cannot update %s: %s' % (p['device'], p['config_file'], failure), **result)

    if module._diff:
        result['diff'] = dict(before=render(before), after=render(after))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
