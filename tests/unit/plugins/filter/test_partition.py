# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The partition filter: partition N of a disk named as the kernel (block/partitions/core.c) and
udev (60-persistent-storage.rules: "-part%n") name it, and the refusals."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given, strategies as st

from ansible_collections.fleet.linux.plugins.filter.partition import FilterModule, partition


# Decision table: disk, number, partition.
@pytest.mark.parametrize('disk, number, expected', [
    # kernel names ending in a letter: the number follows
    ('/dev/sda', 3, '/dev/sda3'),
    ('/dev/sdd', 2, '/dev/sdd2'),
    ('/dev/sdaa', 1, '/dev/sdaa1'),
    ('/dev/vda', 3, '/dev/vda3'),
    ('/dev/hda', 1, '/dev/hda1'),
    ('/dev/xvdb', 2, '/dev/xvdb2'),
    ('sda', 3, 'sda3'),
    # kernel names ending in a digit: "p" before the number
    ('/dev/nvme0n1', 3, '/dev/nvme0n1p3'),
    ('/dev/nvme1n12', 2, '/dev/nvme1n12p2'),
    ('/dev/mmcblk0', 3, '/dev/mmcblk0p3'),
    ('/dev/mmcblk1', 1, '/dev/mmcblk1p1'),
    ('/dev/md0', 1, '/dev/md0p1'),
    ('/dev/md127', 2, '/dev/md127p2'),
    ('/dev/loop0', 1, '/dev/loop0p1'),
    ('/dev/nbd0', 1, '/dev/nbd0p1'),
    ('nvme0n1', 2, 'nvme0n1p2'),
    # udev links: "-part" and the number
    ('/dev/disk/by-id/ata-WDC_WD40EFRX-68N32N0_WD-WCC7K1234567', 3, '/dev/disk/by-id/ata-WDC_WD40EFRX-68N32N0_WD-WCC7K1234567-part3'),
    ('/dev/disk/by-id/nvme-Samsung_SSD_980_1TB_S649NF0R123456', 2, '/dev/disk/by-id/nvme-Samsung_SSD_980_1TB_S649NF0R123456-part2'),
    ('/dev/disk/by-id/nvme-eui.002538b911b2a7c8', 1, '/dev/disk/by-id/nvme-eui.002538b911b2a7c8-part1'),
    ('/dev/disk/by-id/mmc-SC32G_0x1234abcd', 2, '/dev/disk/by-id/mmc-SC32G_0x1234abcd-part2'),
    ('/dev/disk/by-id/wwn-0x50014ee2b5f3c0d1', 3, '/dev/disk/by-id/wwn-0x50014ee2b5f3c0d1-part3'),
    ('/dev/disk/by-id/virtio-disk1', 2, '/dev/disk/by-id/virtio-disk1-part2'),
    ('/dev/disk/by-path/pci-0000:00:1f.2-ata-1', 3, '/dev/disk/by-path/pci-0000:00:1f.2-ata-1-part3'),
    ('/dev/disk/by-path/platform-fe340000.mmc', 2, '/dev/disk/by-path/platform-fe340000.mmc-part2'),
    ('/dev/disk/by-diskseq/9', 1, '/dev/disk/by-diskseq/9-part1'),
    ('/dev/disk/by-loop-ref/disk.img', 1, '/dev/disk/by-loop-ref/disk.img-part1'),
    # the number as a digit string (from an inventory or -e) and two-digit numbers
    ('/dev/sda', '3', '/dev/sda3'),
    ('/dev/nvme0n1', 12, '/dev/nvme0n1p12'),
    ('/dev/disk/by-id/ata-X', 128, '/dev/disk/by-id/ata-X-part128'),
])
def test_partition(disk, number, expected):
    assert partition(disk, number) == expected


@pytest.mark.parametrize('disk, message', [
    # partitions already
    ('/dev/sda3', r'/dev/sda3 is a partition'),
    ('/dev/vdb1', r'/dev/vdb1 is a partition'),
    ('/dev/xvda2', r'/dev/xvda2 is a partition'),
    ('/dev/nvme0n1p2', r'/dev/nvme0n1p2 is a partition'),
    ('/dev/mmcblk0p1', r'/dev/mmcblk0p1 is a partition'),
    ('/dev/md0p1', r'/dev/md0p1 is a partition'),
    ('/dev/mmcblk0boot0', r'eMMC boot area'),
    ('/dev/mmcblk0rpmb', r'eMMC boot area'),
    ('/dev/disk/by-id/ata-X-part2', r'is a partition already \(its disk is /dev/disk/by-id/ata-X\)'),
    ('/dev/disk/by-path/pci-0000:00:1f.2-ata-1-part1', r'is a partition already'),
    # links naming a filesystem or partition, or not made for partitions
    ('/dev/disk/by-uuid/0a1b2c3d-1111-2222-3333-444455556666', r'names a filesystem or a partition, not a disk'),
    ('/dev/disk/by-label/boot', r'names a filesystem or a partition, not a disk'),
    ('/dev/disk/by-partuuid/0a1b2c3d-02', r'names a filesystem or a partition, not a disk'),
    ('/dev/disk/by-partlabel/swap', r'names a filesystem or a partition, not a disk'),
    ('/dev/disk/by-something/x', r'udev does not name partitions in /dev/disk/by-something'),
    ('/dev/disk/by-id', r'is not a disk link'),
    ('/dev/disk/by-id/', r'is not a disk link'),
    ('/dev/disk/by-id/a/b', r'is not a disk link'),
    ('/dev/disk/by-id/..', r'is not a disk link'),
    # names below /dev subdirectories
    ('/dev/mapper/vg-data', r'below a subdirectory of /dev'),
    ('/dev/md/boot', r'below a subdirectory of /dev'),
    ('/dev/vg0/root', r'below a subdirectory of /dev'),
    # not a device path
    ('', r'is not a disk path'),
    (' /dev/sda', r'is not a disk path'),
    ('/dev/sda\n', r'is not a disk path'),
    ('/dev/sd a', r'is not a disk path'),
    ('//dev/sda', r'is not a disk path'),
    ('dev/sda', r'is not a device path'),
    ('/home/sda', r'is not a device path'),
    ('/dev/', r'is not a kernel device name'),
    ('/dev/-sda', r'is not a kernel device name'),
    (None, r'is not a disk path'),
    (['/dev/sda'], r'is not a disk path'),
])
def test_partition_refuses(disk, message):
    with pytest.raises(AnsibleFilterError, match=message):
        partition(disk, 3)


@pytest.mark.parametrize('number', [0, -1, '0', '', 'three', '3a', 1.5, True, False, None, [3]])
def test_partition_refuses_a_number_that_is_not_one(number):
    with pytest.raises(AnsibleFilterError, match='is not a partition number'):
        partition('/dev/sda', number)


def test_partition_is_the_collections_filter():
    assert FilterModule().filters() == {'partition': partition}


@given(st.from_regex(r'\A(sd|vd|xvd)[a-z]{1,2}\Z'), st.integers(min_value=1, max_value=256))
def test_letter_disks_take_the_number(name, number):
    assert partition('/dev/' + name, number) == '/dev/%s%d' % (name, number)


@given(st.from_regex(r'\A(nvme[0-9]n[1-9][0-9]?|mmcblk[0-9]{1,2}|md[0-9]{1,3}|loop[0-9]{1,2})\Z'),
       st.integers(min_value=1, max_value=256))
def test_digit_disks_take_p_and_the_number(name, number):
    result = partition('/dev/' + name, number)
    assert result == '/dev/%sp%d' % (name, number)
    # the partition itself is refused as a disk
    with pytest.raises(AnsibleFilterError, match='is a partition'):
        partition(result, 1)


@given(st.sampled_from(['by-id', 'by-path', 'by-diskseq']),
       st.from_regex(r'\A[A-Za-z0-9][A-Za-z0-9_.:-]{0,40}\Z').filter(lambda n: not re.search(r'-part[0-9]+$', n)),
       st.integers(min_value=1, max_value=256))
def test_links_take_part_and_the_number(directory, name, number):
    disk = '/dev/disk/%s/%s' % (directory, name)
    result = partition(disk, number)
    assert result == '%s-part%d' % (disk, number)
    with pytest.raises(AnsibleFilterError, match='is a partition already'):
        partition(result, 1)
