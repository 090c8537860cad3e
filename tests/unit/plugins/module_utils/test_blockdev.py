# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""BlockDevices: a device is what its major:minor says; mounts read from the lab's /proc/self/mountinfo."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.fleet.linux.plugins.module_utils.blockdev import BlockDevices
from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.tests.unit.plugins.modules.harness import FakeStat

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures')
DEV = {
    '/dev/vdd3': 'b 254:51',
    '/dev/md0': 'b 9:0',
    '/dev/md/swap': 'link /dev/md0',
    '/dev/disk/by-partlabel/swap4': 'link /dev/vdd3',
    '/dev/loop': 'link /dev/loop',
    '/dev/dangling': 'link /dev/nothing',
    '/root/vdd3': 'file',
    '/root/md0': 'dir',
    '/dev/vdd3-chr': 'chr 254:51',
    '/dev/vdd3-fifo': 'fifo',
    '/dev/sdz': 'b 8:240',
}


@pytest.fixture
def blockdevs(tmp_path):
    """The lab's vdd3 and md0 in /sys/dev/block, /proc/self/mountinfo as captured on the lab guest."""
    for name, number in (('vdd3', '254:51'), ('md0', '9:0')):
        (tmp_path / 'sys' / 'class' / 'block' / name).mkdir(parents=True)
        (tmp_path / 'sys' / 'dev' / 'block').mkdir(parents=True, exist_ok=True)
        os.symlink(str(tmp_path / 'sys' / 'class' / 'block' / name), str(tmp_path / 'sys' / 'dev' / 'block' / number))
    (tmp_path / 'proc' / 'self').mkdir(parents=True)
    with open(os.path.join(FIXTURES, 'fs', 'mountinfo.txt')) as captured:
        (tmp_path / 'proc' / 'self' / 'mountinfo').write_text(captured.read())
    return BlockDevices(sys_root=str(tmp_path / 'sys'), proc_root=str(tmp_path / 'proc'), stat_path=FakeStat(DEV))


@pytest.mark.parametrize('path, name', [('/dev/vdd3', 'vdd3'), ('/dev/md/swap', 'md0'), ('/dev/disk/by-partlabel/swap4', 'vdd3')])
def test_a_block_device_or_a_link_to_one_is_identified_by_its_numbers(blockdevs, path, name):
    assert blockdevs.identify(path) == name


@pytest.mark.parametrize('path, message', [
    ('/root/vdd3', '/root/vdd3 is not a block device but a regular file'),
    ('/root/md0', '/root/md0 is not a block device but a directory'),
    ('/dev/vdd3-chr', 'is not a block device but a character device'),
    ('/dev/vdd3-fifo', 'is not a block device but a FIFO'),
    ('/dev/missing', '/dev/missing does not exist'),
    ('/dev/dangling', '/dev/dangling does not exist'),
    ('/dev/loop', '/dev/loop does not exist (Too many levels of symbolic links)'),
    ('/dev/sdz', 'block special file for device 8:240, which this kernel does not have'),
])
def test_anything_but_a_block_device_is_refused_saying_what_was_given(blockdevs, path, message):
    with pytest.raises(Refusal) as refusal:
        blockdevs.identify(path)
    assert message in str(refusal.value)
    assert blockdevs.kernel_name(path) is None


@pytest.mark.parametrize('number, types', [('0:22', {'tmpfs'}), ('0:31', {'ramfs'}), ('8:0', {'ext4'}), ('254:35', {'xfs'}),
                                           ('7:7', set())])
def test_filesystem_types_by_device_number(blockdevs, number, types):
    assert blockdevs.filesystem_types(number) == types


def test_the_disk_of_a_partition_is_found_through_sysfs(tmp_path):
    """sysfs puts a partition's directory in its disk's (class/block/vdb2 -> devices/.../vdb/vdb2)."""
    disk = tmp_path / 'sys' / 'devices' / 'pci0000:00' / 'virtio3' / 'block' / 'vdb'
    (disk / 'vdb2').mkdir(parents=True)
    (disk / 'vdb2' / 'partition').write_text(u'2\n')
    (tmp_path / 'sys' / 'class' / 'block').mkdir(parents=True)
    for name, target in (('vdb', disk), ('vdb2', disk / 'vdb2')):
        os.symlink(str(target), str(tmp_path / 'sys' / 'class' / 'block' / name))
    blockdevs = BlockDevices(sys_root=str(tmp_path / 'sys'))
    assert (blockdevs.parent_disk('vdb2'), blockdevs.parent_disk('vdb')) == ('vdb', None)
