#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: swap_rebuild
short_description: Re-create a swap area across its grown device, keeping its UUID and label
version_added: 0.1.0
description:
  - After the device under a swap area has grown (a reshaped md RAID0 array, a larger partition
    or logical volume), the swap still has its old size. This module turns the swap off if it is
    active, runs C(mkswap) with the B(same UUID and label), and turns it on again with the same
    priority (and the discard policy of its C(/etc/fstab) entry), so C(/etc/fstab) entries by
    UUID or LABEL keep working untouched. Where the host runs udev, it then has udev probe the
    new header and waits for it (C(udevadm trigger), then C(udevadm settle) for at most 30 seconds), so the
    C(/dev/disk/by-uuid) and C(/dev/disk/by-label) links are there when the module returns.
  - The swap header is read directly from the device, so its size is known whether the swap is
    active or not, and its UUID and label are kept byte for byte (not as C(blkid) prints them,
    escaping spaces, quotes and other characters). A swap that already spans its device is left alone.
  - The device is what its major:minor says; a symlink to a block device (C(/dev/md/swap),
    C(/dev/disk/by-id/...)) is followed, and the commands run on the kernel's device node.
  - Before C(swapoff), checks that available memory (MemAvailable) plus the free space of the
    other active swaps can take back what this swap holds; otherwise refuses with the figures
    unless O(force=true).
  - Refuses, changing nothing, a path that does not exist or is not a block device (a regular
    file, a directory), a device that holds anything other than swap, or nothing, or several
    signatures (C(blkid -p) ambivalent), and a label C(mkswap -L) cannot write back unchanged
    (16 bytes long, or not UTF-8).
  - When a step fails after C(swapoff) has run, the result says C(changed=true), the message says
    what state the swap is left in and what to do; a failed C(mkswap) turns the old swap on again.
author:
  - fleet.linux contributors (@fleet-linux)
options:
  device:
    description:
      - The block device holding the swap area (for example C(/dev/md0)), or a symlink to it.
    type: path
    required: true
  force:
    description:
      - Turn the swap off even when memory and the other swaps look too small to take back what
        it holds. The kernel may then kill processes or refuse the swapoff.
    type: bool
    default: false
attributes:
  check_mode:
    description: Reports the commands that would run without running them.
    support: full
  diff_mode:
    description: Shows the swap and device sizes, UUID and label before and after.
    support: full
notes:
  - Requires C(blkid), C(mkswap), C(swapon) and C(swapoff) (util-linux); uses C(udevadm) where it is
    installed (a failure of it is only a warning, the swap being re-created all the same).
seealso:
  - module: fleet.linux.md_reshape
  - module: fleet.linux.fs_grow
'''

EXAMPLES = r'''
- name: Grow the swap RAID0 array from 3 to 4 partitions
  fleet.linux.md_reshape:
    device: /dev/md0
    level: 0
    devices: [/dev/sda3, /dev/sdb3, /dev/sdc3, /dev/sdd3]

- name: Re-create its swap across the whole array, same UUID and label
  fleet.linux.swap_rebuild:
    device: /dev/md0
'''

RETURN = r'''
device:
  description: The device node of the swap device (the kernel's name for the device given; as given when it is refused).
  returned: always
  type: str
  sample: /dev/md0
actions:
  description:
    - The commands run (or, in check mode, that would run), each as one command line (arguments quoted as a
      shell would need them), as every fleet.linux module reports its actions.
    - On failure, the commands run before it.
  returned: always
  type: list
  elements: str
  sample:
    - /sbin/swapoff /dev/md0
    - /sbin/mkswap -L swap -U 2863a135-946b-4876-8458-454cec3f620e /dev/md0
    - /sbin/swapon -p 5 /dev/md0
    - /usr/bin/udevadm trigger --action=change /dev/md0
    - /usr/bin/udevadm settle --timeout=30
before:
  description:
    - The swap before the rebuild. Sizes in bytes; C(swap_size) is the usable size written in the
      swap header, C(device_size) the block device's, C(spanning_size) what mkswap gives the whole
      device. C(type) is blkid's TYPE. C(active), C(priority) and C(used) come from /proc/swaps.
  returned: success
  type: dict
  sample:
    device_size: 1073741824
    swap_size: 805302272
    spanning_size: 1073737728
    uuid: 2863a135-946b-4876-8458-454cec3f620e
    label: swap
    type: swap
    page_size: 4096
    active: true
    priority: 5
    used: 0
after:
  description: The swap after the rebuild (same keys as RV(before)); in check mode, as expected.
  returned: success
  type: dict
  sample:
    device_size: 1073741824
    swap_size: 1073737728
    spanning_size: 1073737728
    uuid: 2863a135-946b-4876-8458-454cec3f620e
    label: swap
    type: swap
    page_size: 4096
    active: true
    priority: 5
    used: 0
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleet.linux.plugins.module_utils.blockdev import BlockDevices
from ansible_collections.fleet.linux.plugins.module_utils.swap_rebuild import SwapRebuild

# Where the kernel's views and the device nodes are (tests point them at fixture trees).
SYS_ROOT = '/sys'
PROC_ROOT = '/proc'
DEV_ROOT = '/dev'
FSTAB = '/etc/fstab'
STAT = os.stat


def main():
    module = AnsibleModule(
        argument_spec=dict(
            device=dict(type='path', required=True),
            force=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    SwapRebuild(module, BlockDevices(sys_root=SYS_ROOT, proc_root=PROC_ROOT, dev_root=DEV_ROOT, stat_path=STAT), FSTAB).run()


if __name__ == '__main__':
    main()
