# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The RAID job's plan, decided on the controller from the survey of fleet.linux.raid_plan (see module_utils/raid_job.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: raid_reshape_plan
short_description: Plan a RAID job on the controller from the one survey of its host
version_added: 0.1.0
author:
  - fleet.linux contributors (@fleet-linux)
description:
  - Given the result of M(fleet.linux.raid_plan), says what the P(fleet.linux.raid_reshape#role) role runs - per array
    the reshape, the filesystem grow or swap rebuild, mounting /boot, the boot steps to remember; for the host the
    initramfs, the GRUB configuration, GRUB on which disks, the mdadm last-resort timers - and what it refuses
    (a backup directory on an array of the job or short of room, a swap memory cannot take back), before any change.
  - Estimates each md step from the survey - the data it moves (a takeover none, a recovery one member to each new
    member, a reshape the whole array) and how long md takes at its speed limits (the array's C(sync_speed_max), or
    the system's C(speed_limit_max), capped at C(disk_speed_kib); and at C(sync_speed_min), where md holds a step
    while other I/O reaches the disks) - and adds a line per step to the summary.
options:
  _input:
    description: The registered result of M(fleet.linux.raid_plan).
    type: dict
    required: true
  options:
    description:
      - The role's settings - C(config_file), C(backup_min_free_mib), C(swap_force), C(update_initramfs),
        C(initramfs_command), C(grub_install), C(grub_target), C(grub_mkconfig_command), C(start_degraded_boot);
        unset ones take the role's defaults.
      - C(disk_speed_kib) (KiB/s, default 102400) - the disks' own speed the estimate of md's steps assumes (nothing
        measures it) - md runs a step at most at the array's speed limit and no faster than this.
    type: dict
'''

EXAMPLES = r'''
- name: Plan the job
  ansible.builtin.set_fact:
    plan: "{{ survey | fleet.linux.raid_reshape_plan({'backup_min_free_mib': 128}) }}"
'''

RETURN = r'''
_value:
  description:
    - C(refusals) (list), C(arrays) (per array C(device), C(steps), C(reshape), C(grow_filesystem), C(rebuild_swap),
      C(remember), C(mount_boot)), C(initramfs), C(initramfs_if_outdated) (only if mdadm.conf is then newer),
      C(grub_mkconfig), C(grub_install) (disks), C(forget) (files of owed
      steps to remove once done), C(start_degraded) (timer units), C(boot_steps) (whether any of these boot steps is to
      run), C(summary) (the plan to show, per array; the estimate of each md step after the array's steps),
      C(estimates) (per array with md steps - C(device), C(steps) (each with C(action), C(kind) (takeover, spares,
      recovery, reshape or resume), C(what), C(bytes) moved, C(walk) (the bytes md's speed counts through),
      C(counts), C(speed) and C(slowest_speed) (KiB/s), C(seconds) and C(slowest_seconds) (null - never, at a speed
      limit of 0)), C(seconds), C(slowest_seconds) and C(lines)) and C(changes) (whether anything is to do).
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible_collections.fleet.linux.plugins.module_utils.raid_job import plan_job


def raid_reshape_plan(survey, options=None):
    try:
        return plan_job(survey, options)
    except (KeyError, TypeError) as error:
        raise AnsibleFilterError('raid_reshape_plan: the input is not a fleet.linux.raid_plan result (%s)' % error)


class FilterModule(object):
    def filters(self):
        return {'raid_reshape_plan': raid_reshape_plan}
