# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""partition_copy's main() against sfdisk, wipefs and blkid outputs captured on the lab microserver
(tests/fixtures/partition_copy) and a /sys, /proc and /dev of its disks: the copy, check mode, the second run and
the refusals, each changing nothing."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.fleet.linux.plugins.modules import partition_copy
from ansible_collections.fleet.linux.tests.unit.plugins.modules.harness import FakeCommands, FakeStat, run_module
from ansible_collections.fleet.linux.tests.unit.plugins.modules.kernel_tree import KernelTree

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'partition_copy')
DISK = 512 * 1024 * 1024
NUMBERS = {'vda': '254:0', 'vdd': '254:48'}
PARTITION_NUMBERS = {'vda1': '254:1', 'vda2': '254:2', 'vda3': '254:3', 'vdd1': '254:49', 'vdd2': '254:50', 'vdd3': '254:51'}
WRITE = ('sfdisk', '--lock', '--wipe', 'always', '--wipe-partitions', 'always', '/dev/vdd')
CHANGING = ('sfdisk --lock', 'partx', 'udevadm')
UPDATE = ('partx', '--update', '/dev/vdd')


def captured(name):
    def read(suffix, default):
        path = os.path.join(FIXTURES, name + suffix)
        if not os.path.exists(path):
            return default
        with open(path) as handle:
            return handle.read()
    return int(read('.rc', '0')), read('', ''), read('.stderr', '')


def region(start, size):
    return ('blkid', '-p', '-o', 'export', '--offset', str(start * 512), '--size', str(size * 512), '/dev/vdd')


REGIONS = [region(2048, 2048), region(4096, 196608), region(200704, 131072)]
BLANK_REGION = captured('blkid-region-vdd-blank-2')


class Guest(object):
    """The lab guest: vda partitioned as the microserver's disks are, vdd blank (or as each test makes it)."""

    def __init__(self, tmp_path, monkeypatch, vdd_partitioned=False):
        self.tree = KernelTree(tmp_path, dict((name, (number, DISK)) for name, number in NUMBERS.items()))
        self.stat = dict([('/dev/%s' % name, 'b %s' % number) for name, number in NUMBERS.items()]
                         + [('/dev/disk/by-id/virtio-fleet-vdd', 'link /dev/vdd'), ('/dev/disk/by-id', 'dir'),
                            ('/dev/disk/by-id/virtio-fleet-vdd-dir', 'link /dev/disk/by-id'), ('/root/vdd', 'file')])
        for name in NUMBERS:
            self.tree.write_sys('block/%s/queue/logical_block_size' % name, '512\n')
        self.partition('vda')
        if vdd_partitioned:
            self.partition('vdd')
        for name, value in (('SYS_ROOT', self.tree.sys_root), ('PROC_ROOT', self.tree.proc_root), ('STAT', FakeStat(self.stat))):
            monkeypatch.setattr(partition_copy, name, value)
        self.written = vdd_partitioned
        self.commands = FakeCommands({
            ('sfdisk', '--json', '/dev/vda'): captured('sfdisk-json-vda'),
            ('sfdisk', '--json', '/dev/vdd'): lambda argv: captured('sfdisk-json-vdd-copied' if self.written else 'sfdisk-json-vdd-blank'),
            ('wipefs', '--no-act', '--json', '/dev/vdd'): captured('wipefs-json-vdd-blank'),
            WRITE: self.write,
            UPDATE: (0, '', ''),
            ('udevadm', 'settle'): (0, '', ''),
        })
        for argv in REGIONS:
            self.commands.table[argv] = BLANK_REGION
        self.monkeypatch = monkeypatch

    def partition(self, disk):
        """The kernel shows the disk's partitions (sysfs, /dev), as after sfdisk and udev."""
        for name, number in PARTITION_NUMBERS.items():
            if name.startswith(disk):
                part = os.path.join(self.tree.sys_root, 'class', 'block', disk, name)
                os.makedirs(part)
                self.tree.write_sys('class/block/%s/%s/partition' % (disk, name), name[-1] + '\n')
                self.tree.write_sys('class/block/%s/%s/dev' % (disk, name), number + '\n')
                os.symlink(part, os.path.join(self.tree.sys_root, 'class', 'block', name))
                os.symlink(part, os.path.join(self.tree.sys_root, 'dev', 'block', number))
                self.stat['/dev/%s' % name] = 'b %s' % number

    def write(self, argv):
        self.written = True
        self.partition('vdd')
        return 0, '', ''

    def run(self, check_mode=False, diff=True, **args):
        return run_module(partition_copy, args, self.commands, check_mode=check_mode, diff=diff, monkeypatch=self.monkeypatch)

    def changing(self):
        return [call for call in self.commands.calls if any(' '.join(call).startswith(c) for c in CHANGING)]


@pytest.fixture
def guest(tmp_path, monkeypatch):
    return Guest(tmp_path, monkeypatch)


def test_a_blank_disk_gets_the_sources_table(guest):
    result = guest.run(disk='/dev/disk/by-id/virtio-fleet-vdd', like='/dev/vda')
    assert 'failed' not in result, result
    assert result['changed'] is True
    assert result['actions'] == ['/usr/sbin/sfdisk --lock --wipe always --wipe-partitions always /dev/vdd',
                                 '/usr/sbin/partx --update /dev/vdd', '/usr/sbin/udevadm settle']
    assert result['disk'] == '/dev/vdd' and result['like'] == '/dev/vda'
    assert result['before'] is None and [p['name'] for p in result['after']['partitions']] == ['bios_grub', 'boot', 'swap']
    assert result['diff']['before'] == 'no partition table\n'
    assert result['diff']['after'].startswith('label: gpt\n1: start=2048, size=2048')
    source_ids = captured('sfdisk-json-vda')[1]
    assert result['identifiers']['disk'] not in source_ids
    assert not [u for u in result['identifiers']['partitions'] if u in source_ids]
    # Every region a partition will take was probed before anything was written.
    first_write = guest.commands.calls.index(list(WRITE))
    assert all(list(argv) in guest.commands.calls[:first_write] for argv in REGIONS)


def test_check_mode_returns_the_plan_and_writes_nothing(guest):
    result = guest.run(check_mode=True, disk='/dev/vdd', like='/dev/vda')
    assert result['changed'] is True and len(result['actions']) == 3
    assert result['script'].startswith('label: gpt\nunit: sectors\n')
    assert '/dev/vdd2 : start=4096, size=196608' in result['script']
    assert guest.changing() == []


def test_the_second_run_changes_nothing(tmp_path, monkeypatch):
    guest = Guest(tmp_path, monkeypatch, vdd_partitioned=True)
    guest.tree.write_sys('class/block/vdd/vdd2/holders/md1', '')
    result = guest.run(disk='/dev/vdd', like='/dev/vda')
    assert result['changed'] is False and result['actions'] == [] and result['script'] is None
    assert guest.commands.ran('wipefs', 'blkid') == [] and guest.changing() == []


@pytest.mark.parametrize('disk, like, message', [
    ('/dev/vda', '/dev/vda', 'are the same disk'),
    ('/dev/vdd2', '/dev/vda', 'is partition vdd2 of disk /dev/vdd, not a whole disk'),
    ('/dev/vdd', '/dev/vda2', 'is partition vda2 of disk /dev/vda, not a whole disk'),
    ('/root/vdd', '/dev/vda', 'is not a block device but a regular file'),
    ('/dev/disk/by-id/virtio-fleet-vdd-dir', '/dev/vda', 'is not a block device but a directory'),
    ('/dev/vde', '/dev/vda', 'does not exist'),
])
def test_what_is_not_a_whole_disk_is_refused(tmp_path, monkeypatch, disk, like, message):
    guest = Guest(tmp_path, monkeypatch, vdd_partitioned=True)
    result = guest.run(disk=disk, like=like)
    assert result['failed'] and result['changed'] is False and message in result['msg']
    assert guest.changing() == []


def test_a_source_without_a_table_is_refused(guest):
    guest.commands.table[('sfdisk', '--json', '/dev/vda')] = captured('sfdisk-json-vdd-blank')
    result = guest.run(disk='/dev/vdd', like='/dev/vda')
    assert result['failed'] and 'has no partition table' in result['msg'] and guest.changing() == []


@pytest.mark.parametrize('case', ['ext4', 'swap', 'md', 'stale', 'mounted', 'active swap'])
def test_a_disk_that_holds_anything_is_refused(guest, case):
    if case in ('ext4', 'swap', 'md'):
        guest.commands.table[('wipefs', '--no-act', '--json', '/dev/vdd')] = captured('wipefs-json-vdd-%s' % case)
    if case == 'md':
        guest.tree.write_sys('class/block/vdd/holders/md9', '')
    if case == 'stale':
        guest.commands.table[region(4096, 196608)] = captured('blkid-region-vdd-stale-2')
    if case == 'mounted':
        guest.tree.write_proc('self/mountinfo', '30 1 254:48 / /srv rw,relatime shared:1 - ext4 /dev/vdd rw\n')
    if case == 'active swap':
        guest.stat['/dev/vdd'] = 'b 254:48'
        guest.tree.write_proc('swaps', captured('proc-swaps-vdd')[1])
    result = guest.run(disk='/dev/vdd', like='/dev/vda')
    assert result['failed'] and result['changed'] is False and result['actions'] == []
    assert 'is not blank' in result['msg'] and 'Nothing was changed' in result['msg']
    expected = {'ext4': 'the signature ext4', 'swap': 'the signature swap', 'md': '/dev/vdd is used by /dev/md9',
                'stale': 'where its partition 2 would be', 'mounted': 'mounted on /srv', 'active swap': 'an active swap'}
    assert expected[case] in result['msg']
    assert guest.changing() == []


def test_a_disk_with_another_table_is_refused(guest):
    guest.commands.table[('sfdisk', '--json', '/dev/vdd')] = captured('sfdisk-json-vdd-md')
    guest.commands.table[('sfdisk', '--json', '/dev/vdd')] = (0, captured('sfdisk-json-vda')[1].replace('196608', '196000'), '')
    result = guest.run(disk='/dev/vdd', like='/dev/vda')
    assert result['failed'] and 'not laid out as /dev/vda' in result['msg'] and guest.changing() == []


def test_a_small_disk_is_refused(guest):
    guest.tree.resize('vdd', 100 * 1024 * 1024)
    result = guest.run(disk='/dev/vdd', like='/dev/vda')
    assert result['failed'] and 'is smaller than' in result['msg'] and guest.changing() == []


def test_sfdisk_failing_before_writing_says_nothing_changed(guest):
    guest.commands.table[WRITE] = (1, '', 'sfdisk: /dev/vdd: cannot get exclusive lock\n')
    result = guest.run(disk='/dev/vdd', like='/dev/vda')
    assert result['failed'] and result['changed'] is False and 'nothing was written' in result['msg']


def test_a_failing_partx_says_the_table_was_written(guest):
    guest.commands.table[UPDATE] = (1, '', 'partx: /dev/vdd: error adding partition 1\n')
    result = guest.run(disk='/dev/vdd', like='/dev/vda')
    assert result['failed'] and result['changed'] is True and 'the partition table was written' in result['msg']
    assert result['actions'] == ['/usr/sbin/sfdisk --lock --wipe always --wipe-partitions always /dev/vdd']


def test_partitions_the_kernel_did_not_take_from_sfdisk_are_added_by_partx(guest):
    """sfdisk's own re-read can fail (a disk busy at that moment): partx --update adds what the kernel lacks."""
    def sfdisk_without_reread(argv):
        guest.written = True
        return 0, '', 'Re-reading the partition table failed.: Device or resource busy\n'

    def partx(argv):
        guest.partition('vdd')
        return 0, '', ''
    guest.commands.table[WRITE] = sfdisk_without_reread
    guest.commands.table[UPDATE] = partx
    result = guest.run(disk='/dev/vdd', like='/dev/vda')
    assert 'failed' not in result, result
    assert result['changed'] is True and [p['name'] for p in result['after']['partitions']] == ['bios_grub', 'boot', 'swap']


def test_partitions_the_kernel_never_shows_fail_saying_so(guest):
    def sfdisk_without_reread(argv):
        guest.written = True
        return 0, '', ''
    guest.commands.table[WRITE] = sfdisk_without_reread
    result = guest.run(disk='/dev/vdd', like='/dev/vda')
    assert result['failed'] and result['changed'] is True
    assert 'does not show its partitions /dev/vdd1, /dev/vdd2, /dev/vdd3 even after partx --update' in result['msg']
