#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: partition_copy
short_description: Give a new, blank disk the partition table of an existing disk
version_added: 0.1.0
description:
  - Writes on O(disk) the partition table of O(like) - the same label (GPT or DOS), and per partition the same
    number, start, size, type, name and attributes (DOS - boot flag) - so that a disk added to a server is
    partitioned as its other disks are (for example the microserver's fourth disk, whose partitions then join its
    arrays). The copy gets a new disk GUID (DOS - disk identifier) and new partition UUIDs, so no two disks share an
    identifier. Its GPT spans the new disk (a larger disk keeps its extra space free after the last partition).
  - Reads both tables with C(sfdisk --json), writes with C(sfdisk --lock) from a script (sfdisk has the kernel
    read the new table while it holds the disk), adds any partition the kernel does not show yet
    (C(partx --update)) and waits for udev (C(udevadm settle)), so the partitions' device nodes exist when the
    module returns. The table written is read back and compared.
  - Both disks are what their major:minor say (a C(/dev/disk/by-id) link is followed); each must be a whole disk.
  - Refuses, changing nothing, with what is wrong and what to do - a O(disk) or O(like) that does not exist, is
    not a block device (a regular file named like a disk) or is not a whole disk (a partition, a /dev link to a
    partition); O(disk) and O(like) being the same disk; O(like) without a partition table or without a partition;
    a O(disk) that holds anything - a partition table other than the copy, any signature C(wipefs) finds on it or
    on one of its partitions (filesystem, RAID member, LVM physical volume, swap), a signature C(blkid) finds where
    one of the new partitions would start (it would come back with the partition), a mount, an active swap, a
    holder (md array, device-mapper) of it or of a partition; a O(disk) smaller than the end of O(like)'s last
    partition (plus GPT's backup table); logical sector sizes that differ.
  - A O(disk) that already has O(like)'s layout (same label, numbers, starts, sizes, types, names, attributes) is
    left alone (C(changed=false)) - the second run - whatever its partitions hold by then.
author:
  - fleet.linux contributors (@fleet-linux)
options:
  disk:
    description: The new, blank disk to partition (a whole disk, or a link to one such as C(/dev/disk/by-id/...)).
    type: path
    required: true
  like:
    description: The disk whose partition table O(disk) gets (an existing member, partitioned as the new one should be).
    type: path
    required: true
attributes:
  check_mode:
    description: Reads both disks, checks everything and returns the plan (RV(actions), RV(script), RV(after)) without writing.
    support: full
  diff_mode:
    description: Shows O(disk)'s partitions before and after.
    support: full
notes:
  - Requires C(sfdisk) (util-linux 2.36 or later, for C(--lock)), C(wipefs), C(blkid), C(partx) and C(udevadm) on the host.
  - To erase a disk that is refused but whose contents are not needed, run C(wipefs --all) on each of its
    partitions, then on the disk. The module never erases anything.
  - The P(fleet.linux.raid_reshape#role) role's option C(raid_reshape_new_disks) partitions new disks with this module
    before it plans the arrays.
seealso:
  - module: fleet.linux.raid_plan
  - module: fleet.linux.raid_apply
'''

EXAMPLES = r'''
- name: Partition the microserver's new fourth disk like the first
  fleet.linux.partition_copy:
    disk: /dev/sdd
    like: /dev/sda

- name: The same by stable names, showing the plan only
  fleet.linux.partition_copy:
    disk: /dev/disk/by-id/ata-WDC_WD40EFRX-68N32N0_WD-WCC7K0000004
    like: /dev/disk/by-id/ata-WDC_WD40EFRX-68N32N0_WD-WCC7K0000001
  check_mode: true
  register: plan
'''

RETURN = r'''
disk:
  description: The device node of the disk partitioned (resolved from O(disk)).
  returned: when both disks were identified
  type: str
  sample: /dev/sdd
like:
  description: The device node of the model disk (resolved from O(like)).
  returned: when both disks were identified
  type: str
  sample: /dev/sda
actions:
  description:
    - The commands run (in check mode, that would run), each as one command line, as every fleet.linux module
      reports its actions; C(sfdisk) reads RV(script) on its input.
    - On failure, the commands run before it.
  returned: always
  type: list
  elements: str
  sample: ["/usr/sbin/sfdisk --lock --wipe always --wipe-partitions always /dev/sdd", "/usr/bin/partx --update /dev/sdd",
           "/usr/bin/udevadm settle"]
script:
  description: The sfdisk script written (in check mode, that would be written); null when nothing is to be done.
  returned: success
  type: str
  sample: "label: gpt\nunit: sectors\nfirst-lba: 34\n\n/dev/sdd1 : start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, name=\"bios_grub\"\n"
before:
  description:
    - O(disk)'s layout before - C(label) and C(partitions) (each C(number), C(start), C(size) in sectors, C(type),
      C(name), C(attrs), C(bootable)); null when it had no partition table.
  returned: when both disks were identified
  type: dict
after:
  description: O(disk)'s layout after (in check mode, the one planned), as RV(before).
  returned: success
  type: dict
  sample: {label: gpt, partitions: [{number: 1, start: 2048, size: 2048, type: 21686148-6449-6E6F-744E-656564454649,
           name: bios_grub, attrs: "", bootable: false}]}
identifiers:
  description: The new disk GUID (DOS - disk identifier) and partition UUIDs the copy got, as sfdisk read them back.
  returned: when the table was written
  type: dict
  sample: {disk: 0B7C1D0E-2C52-4C3B-9E0A-6A1F7C2D3E4F, partitions: [5D3C2B1A-0F9E-4D8C-B7A6-958473625140]}
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleet.linux.plugins.module_utils.blockdev import BlockDevices
from ansible_collections.fleet.linux.plugins.module_utils.partition_copy import PartitionCopy

# Where the kernel's views and the device nodes are (tests point them at fixture trees).
SYS_ROOT = '/sys'
PROC_ROOT = '/proc'
DEV_ROOT = '/dev'
STAT = os.stat


def main():
    module = AnsibleModule(
        argument_spec=dict(
            disk=dict(type='path', required=True),
            like=dict(type='path', required=True),
        ),
        supports_check_mode=True,
    )
    PartitionCopy(module, BlockDevices(sys_root=SYS_ROOT, proc_root=PROC_ROOT, dev_root=DEV_ROOT, stat_path=STAT)).run()


if __name__ == '__main__':
    main()
