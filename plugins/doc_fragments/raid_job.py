# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The options of a RAID job, shared by raid_plan (its one look) and raid_apply (its one act)."""

    DOCUMENTATION = r'''
options:
  arrays:
    description: The arrays of the job, as the role's C(raid_reshape_arrays).
    type: list
    elements: dict
    required: true
    suboptions:
      device:
        description: The md array.
        type: path
        required: true
      level:
        description: Target RAID level.
        type: str
        required: true
      raid_devices:
        description: Target number of active devices; defaults to the number of O(arrays[].devices).
        type: int
      devices:
        description: Every device the array should end with, current members included.
        type: list
        elements: path
        required: true
      backup_file:
        description: mdadm's backup file for this array; defaults to C(<backup_dir>/<array name>-reshape.backup).
        type: path
      content:
        description: What the array carries, grown as M(fleet.linux.fs_grow) or M(fleet.linux.swap_rebuild) would after its reshape.
        type: str
        choices: [filesystem, swap, none]
        default: none
      boot:
        description: The array holds /boot; its disks are kept bootable (GRUB on each, the initramfs knowing the array).
        type: bool
        default: false
      boot_disks:
        description: The disks to keep bootable; defaults to the disks of O(arrays[].devices).
        type: list
        elements: path
  backup_dir:
    description: Directory of the default backup files.
    type: path
    default: /root
  config_file:
    description: The mdadm configuration file.
    type: path
    default: /etc/mdadm/mdadm.conf
  state_dir:
    description: Where the role remembers the boot steps an interrupted run still owes.
    type: path
    default: /var/lib/fleet-raid-reshape
  swap_force:
    description: M(fleet.linux.swap_rebuild)'s O(fleet.linux.swap_rebuild#module:force) for the swaps of the job.
    type: bool
    default: false
  timeout:
    description: Seconds a reshape may take before the job fails (it goes on in the kernel; run again to wait for it).
    type: int
    default: 7200
  poll_interval:
    description: Seconds between reads of a running reshape's progress (once the first quick reads found it still running).
    type: int
    default: 5
'''
