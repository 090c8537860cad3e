#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: fs_grow
short_description: Grow an ext2/3/4, XFS or btrfs filesystem into its grown device
version_added: 0.1.0
description:
  - After an md array, a partition, a logical volume or a loop file has grown, grows the
    filesystem on it to fill it, online where the kernel allows. Nothing that C(/etc/fstab)
    or the bootloader refers to (UUID, label, device) changes.
  - The filesystem type is detected with C(blkid -p), never guessed from a name. The device is
    what its major:minor says; a symlink to a block device is followed and the commands run on the
    kernel's device node; a mount is matched to it by the major:minor C(/proc/self/mountinfo) gives.
  - ext2/3/4 grow with C(resize2fs), online when mounted; unmounted, C(e2fsck -f -p) runs
    first, as resize2fs requires. XFS grows with C(xfs_growfs) on its mountpoint. btrfs grows
    B(every) device of the filesystem to its maximum (C(btrfs filesystem resize DEVID:max)).
  - A filesystem that already fills its device, up to the grow tool's own slack (whole blocks,
    a last group or allocation group too small to be added), is left alone.
  - Refuses, changing nothing, when the device holds no filesystem or an unsupported one, when
    the device is smaller than the filesystem (it never shrinks), and when an XFS or btrfs
    filesystem is not mounted (unless O(mount_temporarily=true)). A kernel refusal (for example
    a missing CAP_SYS_RESOURCE capability for an online ext4 resize) is reported with its cause.
  - Refuses, changing nothing, a O(device) that does not exist or is not a block device (a regular
    file, a directory), a O(path) that does not exist or is not on a filesystem of a block device,
    and a device with several signatures (C(blkid -p) ambivalent).
  - When a step fails after another changed something (C(e2fsck) before an offline C(resize2fs)),
    the result says C(changed=true) and the message lists what was done.
author:
  - fleet.linux contributors (@fleet-linux)
options:
  device:
    description:
      - The block device holding the filesystem (any member device for a multi-device btrfs), or
        a symlink to it.
      - Exactly one of O(device) and O(path) is required.
    type: path
  path:
    description:
      - A path on the mounted filesystem to grow (usually its mountpoint). It must exist.
    type: path
  mount_temporarily:
    description:
      - For XFS and btrfs, which only grow while mounted, mount an unmounted filesystem on a
        temporary directory for the grow and unmount it afterwards.
    type: bool
    default: false
attributes:
  check_mode:
    description: Reports the commands that would run, and the sizes, without running them.
    support: full
  diff_mode:
    description: Shows the filesystem and device sizes before and after.
    support: full
notes:
  - Growing an ext4 online needs the CAP_SYS_RESOURCE capability (missing in most containers).
  - Requires C(blkid), and C(resize2fs)/C(dumpe2fs)/C(e2fsck), C(xfs_growfs)/C(xfs_info) or
    C(btrfs) for the filesystem found.
seealso:
  - module: fleet.linux.md_reshape
  - module: fleet.linux.swap_rebuild
'''

EXAMPLES = r'''
- name: Grow /boot's ext4 online into its reshaped RAID10 array
  fleet.linux.fs_grow:
    device: /dev/md1

- name: Grow the filesystem mounted on /srv (XFS, ext4 or btrfs alike)
  fleet.linux.fs_grow:
    path: /srv

- name: Grow an unmounted XFS, mounting it on a temporary directory for the grow
  fleet.linux.fs_grow:
    device: /dev/md2
    mount_temporarily: true
'''

RETURN = r'''
fstype:
  description: Filesystem type found by blkid.
  returned: success
  type: str
  sample: ext4
device:
  description: The device node of the block device the filesystem was found on (resolved from O(path) if given).
  returned: success
  type: str
  sample: /dev/md1
mountpoint:
  description: Where the filesystem is mounted, or null.
  returned: success
  type: str
  sample: /boot
actions:
  description:
    - The commands run (or, in check mode, that would run), each as one command line (arguments quoted as a
      shell would need them), as every fleet.linux module reports its actions.
    - On failure, the commands run before it.
  returned: always
  type: list
  elements: str
  sample: ["/usr/sbin/resize2fs /dev/md1"]
before:
  description:
    - Sizes in bytes before growing. C(fs_size) is the filesystem size, C(device_size) the block
      device's, C(target_size) what the grow tool would make of it. For btrfs C(devices) lists
      every device (devid, path, size in the filesystem, device_size).
  returned: success
  type: dict
  sample: {fs_size: 268435456, device_size: 536870912, target_size: 536870912}
after:
  description: Sizes in bytes after growing (same keys as RV(before)); in check mode, the expected sizes.
  returned: success
  type: dict
  sample: {fs_size: 536870912, device_size: 536870912, target_size: 536870912}
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleet.linux.plugins.module_utils.blockdev import BlockDevices
from ansible_collections.fleet.linux.plugins.module_utils.fs_grow import FsGrow

# Where the kernel's views and the device nodes are (tests point them at fixture trees).
SYS_ROOT = '/sys'
PROC_ROOT = '/proc'
DEV_ROOT = '/dev'
STAT = os.stat


def main():
    module = AnsibleModule(
        argument_spec=dict(
            device=dict(type='path'),
            path=dict(type='path'),
            mount_temporarily=dict(type='bool', default=False),
        ),
        mutually_exclusive=[('device', 'path')],
        required_one_of=[('device', 'path')],
        supports_check_mode=True,
    )
    FsGrow(module, BlockDevices(sys_root=SYS_ROOT, proc_root=PROC_ROOT, dev_root=DEV_ROOT, stat_path=STAT)).run()


if __name__ == '__main__':
    main()
