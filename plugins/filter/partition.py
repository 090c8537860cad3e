# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The path of a disk's partition N, named as the kernel and udev name it (pure, no node needed)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: partition
short_description: The path of partition N of a disk, as the kernel and udev name it
version_added: 0.1.0
author:
  - fleet.linux contributors (@fleet-linux)
description:
  - Returns the path of partition O(number) of the disk O(_input), without looking at any node.
  - A kernel name (C(/dev/sda) or C(sda)) takes the number, or C(p) and the number when the disk's
    name ends in a digit, as the kernel names partitions - C(/dev/sda3), C(/dev/nvme0n1p3),
    C(/dev/mmcblk0p3), C(/dev/md0p3), C(/dev/loop0p3).
  - A udev link under C(/dev/disk/by-id), C(by-path), C(by-diskseq), C(by-loop-ref) or C(by-loop-inode)
    takes C(-part) and the number, as udev's C(60-persistent-storage.rules) names the partitions' links
    (C(/dev/disk/by-id/ata-WDC_WD40EFRX_WD-1234-part3)). Debian 13's udev (systemd 257) makes C(by-diskseq)
    links of partitions, Debian 12's (systemd 252) only of whole disks.
  - Fails, naming what to give instead, for a path that already names a partition (C(/dev/sda3),
    C(/dev/nvme0n1p2), C(/dev/mmcblk0p1), a link ending in C(-partN)), for links that name a filesystem
    or a partition rather than a disk (C(by-uuid), C(by-label), C(by-partuuid), C(by-partlabel)),
    for device-mapper and other names below a subdirectory of C(/dev) (C(/dev/mapper/...), C(/dev/md/...),
    whose partitions their own tools name), for a number below 1 and for anything that is not a device path.
options:
  _input:
    description: The disk - a kernel name (C(sda), C(/dev/nvme0n1)) or a udev link under C(/dev/disk/).
    type: str
    required: true
  number:
    description: The partition's number, 1 or more.
    type: int
    required: true
'''

EXAMPLES = r'''
- name: Partition 3 of each disk, whatever kind of disk it is
  ansible.builtin.debug:
    msg: "{{ ['/dev/sda', '/dev/nvme0n1', '/dev/mmcblk0', '/dev/disk/by-id/ata-ST4000VN008_ZDH1'] | map('fleet.linux.partition', 3) | list }}"
    # ['/dev/sda3', '/dev/nvme0n1p3', '/dev/mmcblk0p3', '/dev/disk/by-id/ata-ST4000VN008_ZDH1-part3']

- name: The microserver's swap members
  ansible.builtin.set_fact:
    swap_members: "{{ microserver_disks | map('fleet.linux.partition', 3) | list }}"
'''

RETURN = r'''
_value:
  description: The partition's path, in the form of O(_input) (kernel name or udev link).
  type: str
  sample: /dev/nvme0n1p3
'''

import re

from ansible.errors import AnsibleFilterError

# udev's 60-persistent-storage.rules names a partition's link in these directories "<disk's link>-partN".
SUFFIXED_LINK_DIRS = ('by-id', 'by-path', 'by-diskseq', 'by-loop-ref', 'by-loop-inode')
# Links that name a filesystem or a partition, never a disk.
NOT_A_DISK_LINK_DIRS = ('by-uuid', 'by-label', 'by-partuuid', 'by-partlabel')
# Kernel names that are partitions already: sdX3, vdX3, hdX3, xvdX3, and <name ending in a digit>pN
# (nvme0n1p2, mmcblk0p1, md0p1, loop0p1); eMMC boot and RPMB areas are not partitionable disks.
KERNEL_PARTITION = re.compile(r'^(?:(?:sd|vd|hd|xvd)[a-z]+[0-9]+|.*[0-9]p[0-9]+|mmcblk[0-9]+(?:boot[0-9]+|rpmb))$')
KERNEL_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.:+-]*$')
LINK_PARTITION = re.compile(r'-part[0-9]+$')


def _number(number):
    if isinstance(number, bool):
        raise AnsibleFilterError('partition: number %r is not a partition number (1 or more)' % (number,))
    if isinstance(number, str) and number.strip().isdigit():
        number = int(number.strip())
    if not isinstance(number, int) or number < 1:
        raise AnsibleFilterError('partition: number %r is not a partition number (1 or more)' % (number,))
    return number


def partition(disk, number):
    """Path of partition `number` of `disk` (a kernel name or a udev link under /dev/disk/)."""
    number = _number(number)
    if not isinstance(disk, str) or not disk or any(c.isspace() or ord(c) < 32 for c in disk) or '//' in disk:
        raise AnsibleFilterError('partition: %r is not a disk path (for example /dev/sda, /dev/nvme0n1, '
                                 '/dev/disk/by-id/ata-...)' % (disk,))
    if disk.startswith('/dev/disk/'):
        parts = disk[len('/dev/disk/'):].split('/')
        if len(parts) != 2 or not parts[1] or parts[1] in ('.', '..'):
            raise AnsibleFilterError('partition: %s is not a disk link (/dev/disk/by-id/NAME, /dev/disk/by-path/NAME)' % disk)
        directory, name = parts
        if directory in NOT_A_DISK_LINK_DIRS:
            raise AnsibleFilterError('partition: %s names a filesystem or a partition, not a disk: give the disk '
                                     '(/dev/disk/by-id/... or /dev/disk/by-path/...) or list the partitions themselves' % disk)
        if directory not in SUFFIXED_LINK_DIRS:
            raise AnsibleFilterError('partition: %s: udev does not name partitions in /dev/disk/%s; give the disk as '
                                     '/dev/disk/by-id/..., /dev/disk/by-path/... or its kernel name' % (disk, directory))
        if LINK_PARTITION.search(name):
            raise AnsibleFilterError('partition: %s is a partition already (its disk is %s)' % (disk, LINK_PARTITION.sub('', disk)))
        return '%s-part%d' % (disk, number)

    if disk.startswith('/dev/'):
        name = disk[len('/dev/'):]
        if '/' in name:
            raise AnsibleFilterError('partition: %s is below a subdirectory of /dev (device-mapper, LVM, named md arrays): '
                                     'their partitions are named by their own tools; list the partitions themselves' % disk)
    elif '/' in disk:
        raise AnsibleFilterError('partition: %s is not a device path: give /dev/NAME, a kernel name or a /dev/disk/ link' % disk)
    else:
        name = disk
    if not KERNEL_NAME.match(name):
        raise AnsibleFilterError('partition: %r is not a kernel device name' % (disk,))
    if KERNEL_PARTITION.match(name):
        raise AnsibleFilterError('partition: %s is a partition (or an eMMC boot area), not a disk: give the whole disk '
                                 '(/dev/sda, /dev/nvme0n1, /dev/mmcblk0)' % disk)
    # The kernel's rule (block/partitions/core.c): a disk whose name ends in a digit takes "p" before the number.
    return '%s%s%d' % (disk, 'p' if name[-1].isdigit() else '', number)


class FilterModule(object):
    def filters(self):
        return {'partition': partition}
