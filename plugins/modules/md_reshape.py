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
  - Refuses, before changing anything, what could lose data - a degraded array, an array reshaping
    towards something else, a new device that is missing, mounted, in another array, holding data or
    too small, a backup file on the array itself - and transitions mdadm cannot do online.
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
      - The number of active devices the array should have.
      - Defaults to the number of O(devices); devices beyond it become spares.
    type: int
  devices:
    description:
      - Every device the array should end with, current members included, for example all four
        C(/dev/sdX2) partitions.
      - Members dropped by an intermediate step (RAID1 to RAID0 keeps one) are added back.
    type: list
    elements: path
    required: true
  backup_file:
    description:
      - File where mdadm saves the critical section during a reshape that needs one.
      - Must be on a filesystem that is not on the array or its members. mdadm reads it again to
        continue a reshape interrupted by a reboot.
    type: path
  wait:
    description:
      - Return only when every step, reshape and resync included, has finished.
      - With V(false), the module starts the next step and returns; run it again to go on.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for all steps before failing (the array keeps reshaping in the kernel).
    type: int
    default: 7200
  poll_interval:
    description: Seconds between two reads of the array's progress while waiting.
    type: int
    default: 5
  update_config:
    description: Write the array's C(ARRAY) line into O(config_file) (atomically) so it keeps its name at boot.
    type: bool
    default: false
  config_file:
    description: The mdadm configuration file updated by O(update_config).
    type: path
    default: /etc/mdadm/mdadm.conf
notes:
  - Supports check mode (the whole plan is returned in RV(actions)) and diff mode.
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
  returned: always
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
  description: The ARRAY line written to the mdadm configuration.
  returned: when update_config is true
  type: str
  sample: ARRAY /dev/md/1 metadata=1.2 name=microserver:1 UUID=b95b33c4:26ad8f39:950e870c:03a3e87c
'''

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleet.linux.plugins.module_utils.blockdev import BlockDevices, parse_blkid_export
from ansible_collections.fleet.linux.plugins.module_utils.common import CommandRunner, Refusal, read_text, write_atomically
from ansible_collections.fleet.linux.plugins.module_utils.md import (
    array_state, mdadm_conf_with_array, normalize_level, parse_detail_export, read_md_sysfs, uuid_hex)
from ansible_collections.fleet.linux.plugins.module_utils.md_plan import (
    blocking_condition, plan, reshape_heading_to_target, resume_step)


class MdArray(object):
    """Reads one live array's state through mdadm and sysfs."""

    def __init__(self, module, mdadm, blockdevs, name):
        self.module = module
        self.mdadm = mdadm
        self.blockdevs = blockdevs
        self.name = name
        self.path = '/dev/%s' % name

    def state(self):
        _rc, out, _err = self.mdadm.run('--detail', '--export', self.path)
        state = array_state(parse_detail_export(out), read_md_sysfs(self.name), self.blockdevs.size(self.name))
        state['device'] = self.path
        return state

    def wait_idle(self, deadline, poll_interval, progress):
        """Poll sysfs until no reshape, resync or recovery runs; False when the deadline passed."""
        while True:
            sysfs = read_md_sysfs(self.name)
            action = sysfs.get('sync_action') or 'idle'
            reshaping = (sysfs.get('reshape_position') or 'none') != 'none'
            if action == 'idle' and not reshaping:
                return True
            completed = (sysfs.get('sync_completed') or '').split('/')
            percent = None
            if len(completed) == 2 and completed[1].strip().isdigit() and int(completed[1]) > 0:
                percent = round(100.0 * int(completed[0]) / int(completed[1]), 1)
            if not progress or progress[-1]['action'] != action or progress[-1]['percent'] != percent:
                progress.append({'action': 'reshape' if reshaping and action == 'idle' else action,
                                 'percent': percent, 'time': int(time.time())})
            if time.time() >= deadline:
                return False
            time.sleep(poll_interval)


def public_state(state):
    return dict((k, state[k]) for k in ('level', 'raid_devices', 'members', 'spares', 'size'))


def render(state):
    return ''.join('%s: %s\n' % (k, v) for k, v in sorted(public_state(state).items()))


def refuse_unsafe_new_devices(module, blockdevs, state, new_devices, current_members):
    """Refuse a new device that is in use, holds data or is smaller than the members."""
    member_size = min(blockdevs.size(os.path.basename(m)) for m in current_members) if current_members else 0
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
        rc, out, _err = blkid.run('-p', '-o', 'export', device, check_rc=False)
        tags = parse_blkid_export(out) if rc == 0 else {}
        if tags.get('TYPE') == 'linux_raid_member' and uuid_hex(tags.get('UUID')) == uuid_hex(state['uuid']):
            continue  # a member of this very array that an earlier step let go
        if tags.get('TYPE') or tags.get('PTTYPE'):
            raise Refusal('%s holds a %s signature%s: adding it to %s would destroy it. If its contents are not needed, '
                          'erase it with "wipefs -a %s" and run again.'
                          % (device, tags.get('TYPE') or tags.get('PTTYPE') + ' partition table',
                             ' (UUID %s)' % tags['UUID'] if tags.get('UUID') else '', state['device'], device))


def refuse_backup_on_array(blockdevs, state, backup_file, members):
    """The backup file must survive the array: refuse one stored on it or on its members."""
    directory = os.path.dirname(os.path.abspath(backup_file))
    if not os.path.isdir(directory):
        raise Refusal('the directory of backup_file %s does not exist: create it on a filesystem outside %s.'
                      % (backup_file, state['device']))
    st = os.stat(directory)
    where = '%d:%d' % (os.major(st.st_dev), os.minor(st.st_dev))
    array_name = os.path.basename(state['device'])
    for name in [array_name] + [os.path.basename(m) for m in members]:
        if blockdevs.major_minor(name) == where:
            raise Refusal('backup_file %s is on %s, which this reshape changes: a crash would take the backup '
                          'with it. Put it on a filesystem outside the array (for example /root).'
                          % (backup_file, '/dev/%s' % name))
    if os.path.exists(backup_file) and not state['reshaping']:
        raise Refusal('backup_file %s exists but %s is not reshaping: it is left from an earlier reshape. '
                      'Remove it (or choose another path) and run again.' % (backup_file, state['device']))


def update_config(module, mdadm, array_path, config_file):
    _rc, line, _err = mdadm.run('--detail', '--brief', array_path)
    line = line.strip().splitlines()[0]
    uuid = line.split('UUID=')[1].split()[0]
    current = read_text(config_file, '')
    if current and not current.endswith('\n'):
        current += '\n'
    wanted = mdadm_conf_with_array(current, line, uuid)
    if wanted == current:
        return line, False
    if not module.check_mode:
        write_atomically(module, config_file, wanted)
    return line, True


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
    blockdevs = BlockDevices()
    mdadm = CommandRunner(module, 'mdadm')
    deadline = time.time() + p['timeout']

    name = blockdevs.kernel_name(p['device'])
    if name is None or not os.path.isdir('/sys/block/%s/md' % name):
        module.fail_json(msg='%s is not an md array on this host (cat /proc/mdstat lists them): '
                             'md_reshape changes existing arrays, create it first.' % p['device'])
    level = normalize_level(p['level'])
    if level is None:
        module.fail_json(msg='level %s is not one md_reshape handles: use one of 0, 1, 4, 5, 6, 10.' % p['level'])
    devices = []
    for device in p['devices']:
        kernel = blockdevs.kernel_name(device)
        if kernel is None:
            module.fail_json(msg='device %s does not exist: check its name (lsblk) before reshaping %s.'
                                 % (device, p['device']))
        devices.append('/dev/%s' % kernel)
    raid_devices = p['raid_devices'] or len(devices)

    array = MdArray(module, mdadm, blockdevs, name)
    before = state = array.state()
    result = dict(changed=False, actions=[], steps=[], before=public_state(before), finished=False,
                  reshape_interrupted=False)
    progress = []
    try:
        resume = resume_step(state, array.path)
        blocked = blocking_condition(state, level, raid_devices)
        if blocked == 'wait' and state['reshaping']:
            heading = reshape_heading_to_target(state, level, raid_devices, devices, array.path)
            if heading:
                raise Refusal(heading)
        elif blocked and blocked != 'wait':
            raise Refusal(blocked)
        if resume:
            result.update(reshape_interrupted=True, changed=True, steps=[resume], actions=[' '.join(resume['argv'])])
            if not module.check_mode:
                mdadm.run(*resume['argv'][1:])
        if blocked == 'wait' and not module.check_mode:
            if not p['wait']:
                module.exit_json(msg='%s is busy (%s); run again to continue' % (array.path, state['sync_action']),
                                 after=public_state(state), **result)
            if not array.wait_idle(deadline, p['poll_interval'], progress):
                module.fail_json(msg='timed out waiting for %s to finish its %s' % (array.path, state['sync_action']),
                                 progress=progress, **result)
            state = array.state()
            blocked = blocking_condition(state, level, raid_devices)
            if blocked:
                raise Refusal(blocked)
        steps = plan(state, array.path, level, raid_devices, devices, p['backup_file'])
        new_devices = [d for d in devices if d not in state['members'] and d not in state['spares']]
        if steps:
            refuse_unsafe_new_devices(module, blockdevs, state, new_devices, state['members'])
            if p['backup_file']:
                refuse_backup_on_array(blockdevs, state, p['backup_file'], state['members'] + state['spares'])
    except Refusal as refusal:
        module.fail_json(msg='%s: %s' % (p['device'], refusal), **result)

    result['steps'] += steps
    result['actions'] += [' '.join(s['argv']) for s in steps]
    if module.check_mode or not steps:
        after = dict(state, **steps[-1]['expect']) if steps else state
        result.update(changed=result['changed'] or bool(steps), after=public_state(after),
                      finished=not steps and blocked is None)
    else:
        done = [' '.join(resume['argv'])] if resume else []
        for _attempt in range(len(steps) + 4):
            if not steps:
                break
            step = steps[0]
            mdadm.run(*step['argv'][1:])
            done.append(' '.join(step['argv']))
            time.sleep(1)
            if not p['wait']:
                break
            if not array.wait_idle(deadline, p['poll_interval'], progress):
                module.fail_json(msg='timed out after %d s while %s reshapes; it goes on in the kernel '
                                     '(cat /proc/mdstat). Run again to wait for it.' % (p['timeout'], array.path),
                                 progress=progress, changed=True, actions=done, before=result['before'])
            state = array.state()
            try:
                steps = plan(state, array.path, level, raid_devices, devices, p['backup_file'])
            except Refusal as refusal:
                module.fail_json(msg='%s after %s: %s' % (p['device'], done[-1], refusal), changed=True,
                                 actions=done, before=result['before'], after=public_state(state))
        state = array.state()
        result.update(changed=True, actions=done, after=public_state(state),
                      finished=p['wait'] and not steps and state['sync_action'] == 'idle')
        if steps and p['wait']:
            module.fail_json(msg='%s did not reach the target after %s' % (p['device'], '; '.join(done)), **result)
    if progress:
        result['progress'] = progress

    if p['update_config']:
        line, changed = update_config(module, mdadm, array.path, p['config_file'])
        result['config_line'] = line
        result['changed'] = result['changed'] or changed

    if module._diff:
        result['diff'] = dict(before=render(before), after=render(dict(state, **result['after'])))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
