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
  description:
    - Progress samples read while waiting - C(action), C(percent) done, C(time) (seconds since the epoch) and C(line), what
      md showed as a person reads it (percent, size, speed and time left), as M(fleet.linux.raid_wait) prints it.
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

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleet.linux.plugins.module_utils.blockdev import BlockDevices
from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils.md_reshape import (
    CommandFailed, Survey, reshape)

# Where the kernel is read and how a /dev path is identified (tests point them at fixture trees).
SYS_ROOT = '/sys'
PROC_ROOT = '/proc'
DEV_STAT = os.stat


def render(state):
    return ''.join('%s: %s\n' % (k, v) for k, v in sorted(state.items()))


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
    survey = Survey(module, BlockDevices(sys_root=SYS_ROOT, proc_root=PROC_ROOT, stat_path=DEV_STAT), p)
    try:
        survey.read_and_plan()
    except (Refusal, CommandFailed) as refusal:
        if survey.before:
            result['before'] = survey.before
        module.fail_json(msg='%s: %s' % (p['device'], refusal), **result)

    reshaped, failure = reshape(module, survey)
    result.update(reshaped)
    result.pop('config_changes', None)  # raid_apply's; changed says it here
    if failure:
        module.fail_json(msg=failure, **result)
    if module._diff:
        result['diff'] = dict(before=render(survey.before), after=render(result['after']))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
