#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: raid_plan
short_description: Read every array of a RAID job and check it, in one call, changing nothing
version_added: 0.1.0
description:
  - The one look of the P(fleet.linux.raid_reshape#role) role. For every array of O(arrays) it runs what
    M(fleet.linux.md_reshape), M(fleet.linux.fs_grow) and M(fleet.linux.swap_rebuild) do in check mode -
    read, validate, refuse what could lose data, plan - and reads what the job decides from beyond one
    array - the free space and device of each backup file's directory, memory and the active swaps, the
    boot sector of each disk of an array holding /boot, the boot steps an interrupted run still owes,
    whether /boot is mounted, the mdadm last-resort timer, the dates of mdadm.conf and the initramfs images,
    and md's speed limits and the sizes the estimate of each step's duration needs.
  - The controller then plans the job from this survey (the P(fleet.linux.raid_reshape#role) role does it
    with its C(raid_reshape_plan) filter) and acts only where the plan says so; a run with nothing to do
    costs this one module call.
  - Never changes anything, in check mode or not. Fails, listing every array refused and why, when any
    array cannot be reshaped as declared.
author:
  - fleet.linux contributors (@fleet-linux)
extends_documentation_fragment:
  - fleet.linux.raid_job
notes:
  - Runs in check mode like outside it (it only reads).
seealso:
  - module: fleet.linux.md_reshape
  - module: fleet.linux.fs_grow
  - module: fleet.linux.swap_rebuild
'''

EXAMPLES = r'''
- name: Survey the microserver's arrays (the raid_reshape role's first and, on a no-op run, only call)
  fleet.linux.raid_plan:
    arrays:
      - {device: /dev/md0, level: 0, devices: [/dev/sda3, /dev/sdb3, /dev/sdc3, /dev/sdd3], content: swap}
      - {device: /dev/md1, level: 10, devices: [/dev/sda2, /dev/sdb2, /dev/sdc2, /dev/sdd2], content: filesystem,
         boot: true}
  register: survey

- name: Plan the job on the controller
  ansible.builtin.set_fact:
    plan: "{{ survey | fleet.linux.raid_reshape_plan }}"
'''

RETURN = r'''
arrays:
  description:
    - One entry per array of O(arrays), in order. When the module fails, an array it refuses has only C(device)
      and C(refusal).
  returned: always
  type: list
  elements: dict
  contains:
    device:
      description: The array as given.
      type: str
    refusal:
      description: Why this array cannot be reshaped as declared (the array's path, then what is wrong and what to do).
      type: str
      returned: when the array is refused
    name:
      description: Its kernel name (C(md127) for C(/dev/md/boot)).
      type: str
    kind:
      description: What it carries, as declared in O(arrays[].content).
      type: str
    md:
      description: What M(fleet.linux.md_reshape) returns in check mode (C(actions), C(steps), C(before), C(after),
        C(changed), C(config_line), C(reshape_interrupted), C(finished)), and C(config_changes), whether the planned
        ARRAY entry changes the mdadm configuration (then the initramfs must learn it).
      type: dict
    content:
      description:
        - What M(fleet.linux.fs_grow) or M(fleet.linux.swap_rebuild) returns in check mode; null when the array
          carries nothing to check or when its reshape was interrupted (its content reads wrong until the
          reshape is resumed).
      type: dict
    backup:
      description: The backup file, the kernel name of the device its directory is on (null for none) and
        its free bytes; null when the reshape needs no step.
      type: dict
    sync:
      description:
        - What the estimate of md's steps reads of the array (C(/sys/block/mdX/md/)) - C(speed_min) and C(speed_max)
          (KiB/s, C(sync_speed_min) and C(sync_speed_max); null when the array has none, as a RAID0) with
          C(speed_min_local) and C(speed_max_local) (set for the array rather than following the system's),
          C(component_size) (bytes of each member; null when md gives none, as for a RAID0), C(layout),
          C(sync_completed) (bytes done and in all, or null), C(reshape_position) (bytes, or null) and
          C(reshape_direction).
      type: dict
    boot:
      description:
        - For an array holding /boot - C(disks) (each with C(grub), whether its boot sector holds GRUB),
          C(owed) (boot steps an interrupted run still owes), C(in_fstab), C(mounted) (/boot) and
          C(start_degraded) (the mdadm last-resort timer is wanted at boot); null otherwise.
      type: dict
speed_limits:
  description:
    - md's limits for every array without its own (C(/proc/sys/dev/raid/speed_limit_min) and C(speed_limit_max),
      KiB/s, as C(min) and C(max); null when unreadable).
  returned: success
  type: dict
memory:
  description: C(available) (MemAvailable, bytes) and C(swaps) (each active swap with its kernel C(name), C(size), C(used)).
  returned: success
  type: dict
refusals:
  description: Every array's refusal, in order (the module failed).
  returned: failure
  type: list
  elements: str
initramfs:
  description:
    - The modification times of the mdadm configuration (C(config_mtime), null if missing) and of each initramfs
      image in C(/boot) (C(images)); C(images) is null when fstab mounts C(/boot) but it is not mounted (the images
      cannot be read then).
  returned: success
  type: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleet.linux.plugins.module_utils.blockdev import BlockDevices
from ansible_collections.fleet.linux.plugins.module_utils.raid_job import JOB_OPTIONS
from ansible_collections.fleet.linux.plugins.module_utils.raid_survey import survey_job

# Where the kernel's views and the device nodes are (tests point them at fixture trees).
SYS_ROOT = '/sys'
PROC_ROOT = '/proc'
DEV_ROOT = '/dev'
STAT = os.stat


def main():
    module = AnsibleModule(
        argument_spec=JOB_OPTIONS,
        supports_check_mode=True,
    )
    survey, refusals = survey_job(module, BlockDevices(sys_root=SYS_ROOT, proc_root=PROC_ROOT, dev_root=DEV_ROOT, stat_path=STAT))
    if refusals:
        module.fail_json(msg=' | '.join(refusals), refusals=refusals, changed=False, **survey)
    module.exit_json(changed=False, **survey)


if __name__ == '__main__':
    main()
