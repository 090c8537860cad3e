# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""swap_rebuild's main() against /sys, /proc, /dev and command outputs captured on the lab microserver
(tests/fixtures/swap: md0, a RAID0 grown from 3 to 4 members holding an active swap, pri=5) and swap
headers with labels blkid escapes (tests/fixtures/swap/labels)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import pytest

from ansible_collections.fleet.linux.plugins.modules import swap_rebuild
from ansible_collections.fleet.linux.tests.unit.plugins.modules.harness import FakeCommands, FakeStat, run_module
from ansible_collections.fleet.linux.tests.unit.plugins.modules.kernel_tree import (
    PROC_SWAPS_HEADER, KernelTree)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'swap')
UUID = '6c1f7ac5-c2a8-4e36-af1c-a81cd26d09c0'
MD0_GROWN = 260046848  # 4 x 62 MiB
CHANGING = ('swapoff', 'mkswap', 'swapon')


def fixture(name, mode='r'):
    with open(os.path.join(FIXTURES, name), mode) as handle:
        return handle.read()


class Guest(object):
    """The lab guest's md0 after its grow: the tree, /dev, the swap header on "disk", the commands."""

    def __init__(self, tmp_path, monkeypatch, header='swap-header-md0-raid0x3.bin', blkid='blkid-p-md0.txt',
                 size=MD0_GROWN, active=True):
        self.tree = KernelTree(tmp_path, {'md0': ('9:0', size), 'md1': ('9:1', 195035136)})
        self.tree.write_proc('meminfo', fixture('meminfo.txt'))
        if active:
            self.tree.write_proc('swaps', fixture('proc-swaps-md0-raid0x3.txt'))
        dev_root = str(tmp_path / 'dev')
        os.makedirs(dev_root)
        self.node = os.path.join(dev_root, 'md0')
        self.write_header(header)
        self.fstab = str(tmp_path / 'fstab')
        with open(self.fstab, 'w') as handle:
            handle.write('UUID=%s none swap sw,pri=5 0 0\n' % UUID)
        self.stat = FakeStat({
            '/dev/md0': 'b 9:0', self.node: 'b 9:0', os.path.join(dev_root, 'md1'): 'b 9:1',
            '/dev/md/swap': 'link /dev/md0', '/dev/disk/by-label/swap\\x20one': 'link /dev/md0',
            '/root/md0': 'file', '/root': 'dir', '/dev/null': 'chr 1:3',
        })
        for name, value in (('SYS_ROOT', self.tree.sys_root), ('PROC_ROOT', self.tree.proc_root),
                            ('DEV_ROOT', dev_root), ('FSTAB', self.fstab), ('STAT', self.stat)):
            monkeypatch.setattr(swap_rebuild, name, value)
        self.commands = FakeCommands({('blkid', '-p', '-o', 'export', self.node): (0, fixture(blkid), ''),
                                      ('udevadm', 'trigger', '--action=change', self.node): (0, '', ''),
                                      ('udevadm', 'settle', '--timeout=30'): (0, '', '')})
        self.monkeypatch = monkeypatch

    def write_header(self, name):
        with open(self.node, 'wb') as handle:
            handle.write(fixture(name, 'rb') + b'\0' * 61440)

    def on(self, argv, rc=0, err='', header=None, swaps=None):
        """Answer ``argv`` with rc/err; on success write the header mkswap would and /proc/swaps."""
        def answer(_argv):
            if rc == 0 and header:
                self.write_header(header)
            if rc == 0 and swaps is not None:
                self.tree.write_proc('swaps', swaps)
            return rc, '', err
        self.commands.table[tuple(argv)] = answer

    def grown(self, mkswap=None, label='swap'):
        """The commands of a rebuild that goes well."""
        self.on(['swapoff', self.node], swaps=PROC_SWAPS_HEADER)
        self.on(mkswap or ['mkswap', '-L', label, '-U', UUID, self.node], header='swap-header-md0-raid0x4.bin')
        self.on(['swapon', '-p', '5', self.node], swaps=fixture('proc-swaps-md0-raid0x4.txt'))

    def run(self, check_mode=False, missing_tools=(), **args):
        args.setdefault('device', '/dev/md0')
        return run_module(swap_rebuild, args, self.commands, check_mode=check_mode, monkeypatch=self.monkeypatch,
                          missing_tools=missing_tools)

    def changing_calls(self):
        return self.commands.ran(*CHANGING)


@pytest.fixture
def guest(tmp_path, monkeypatch):
    return Guest(tmp_path, monkeypatch)


def test_rebuild_across_the_grown_array(guest):
    guest.grown()
    result = guest.run()
    assert not result.get('failed'), result
    assert result['changed'] is True
    assert result['actions'] == ['/usr/sbin/swapoff %s' % guest.node,
                                 '/usr/sbin/mkswap -L swap -U %s %s' % (UUID, guest.node),
                                 '/usr/sbin/swapon -p 5 %s' % guest.node,
                                 '/usr/sbin/udevadm trigger --action=change %s' % guest.node,
                                 '/usr/sbin/udevadm settle --timeout=30']
    assert (result['after']['swap_size'], result['after']['uuid'], result['after']['label']) == (
        63487 * 4096, UUID, 'swap')
    assert not result.get('warnings')


def test_without_udev_the_links_are_not_asked_for(guest):
    guest.grown()
    result = guest.run(missing_tools=('udevadm',))
    assert not result.get('failed'), result
    assert [line.split()[0] for line in result['actions']] == ['/usr/sbin/swapoff', '/usr/sbin/mkswap', '/usr/sbin/swapon']
    assert guest.commands.ran('udevadm') == []


def test_a_failing_udevadm_is_a_warning_after_the_rebuild(guest):
    guest.grown()
    guest.on(['udevadm', 'trigger', '--action=change', guest.node], rc=1,
             err='Failed to write \'change\' to uevent: Read-only file system\n')
    guest.on(['udevadm', 'settle', '--timeout=30'], rc=1, err='Timed out for waiting the udev queue being empty.\n')
    result = guest.run()
    assert not result.get('failed'), result
    assert result['changed'] is True and result['after']['swap_size'] == 63487 * 4096
    assert result['actions'][-1] == '/usr/sbin/swapon -p 5 %s' % guest.node
    assert len(result['warnings']) == 2
    assert re.match(r"^/usr/sbin/udevadm trigger --action=change \S+ failed \(exit 1\): Failed to write 'change' "
                    r"to uevent: Read-only file system\. The swap was re-created and is as planned, but its "
                    r"/dev/disk/by-uuid and by-label links may be missing", result['warnings'][0])
    assert result['warnings'][1].startswith('/usr/sbin/udevadm settle --timeout=30 failed (exit 1): Timed out')


def test_check_mode_runs_nothing_that_changes(guest):
    result = guest.run(check_mode=True)
    assert result['changed'] is True and not result.get('failed')
    assert guest.changing_calls() == []


def test_a_symlink_to_the_device_is_followed(guest):
    guest.grown()
    result = guest.run(device='/dev/md/swap')
    assert result['changed'] is True and result['device'] == guest.node


def test_a_label_with_a_space_is_kept_as_written(tmp_path, monkeypatch):
    """Regression: blkid prints LABEL=swap\\ one; the swap was re-created labelled 'swap\\ one'."""
    guest = Guest(tmp_path, monkeypatch, header='labels/space.header.bin', blkid='labels/space.blkid-p.txt',
                  size=2 * 1024 * 1024, active=False)
    guest.on(['mkswap', '-L', 'swap one', '-U', UUID, guest.node], header='labels/space.header.bin')
    result = guest.run(device='/dev/disk/by-label/swap\\x20one')
    assert not result.get('failed'), result
    assert result['actions'] == ["/usr/sbin/mkswap -L 'swap one' -U %s %s" % (UUID, guest.node),
                                 '/usr/sbin/udevadm trigger --action=change %s' % guest.node,
                                 '/usr/sbin/udevadm settle --timeout=30']
    assert result['before']['label'] == result['after']['label'] == 'swap one'


@pytest.mark.parametrize('device, message', [
    ('/root/md0', r'^/root/md0 is not a block device but a regular file: give the path of a block device'),
    ('/root', r'^/root is not a block device but a directory'),
    ('/dev/md9', r'^/dev/md9 does not exist \(No such file or directory\): give the path of a block device'),
    ('/dev/null', r'^/dev/null is not a block device but a character device'),
])
def test_what_is_not_a_block_device_is_refused(guest, device, message):
    result = guest.run(device=device)
    assert result['failed'] and result['changed'] is False
    assert re.match(message, result['msg']), result['msg']
    assert guest.commands.calls == []


@pytest.mark.parametrize('blkid, rc, message', [
    ('blkid-p-md1-ext4.txt', 0, r'holds ext4, not swap; swap_rebuild only re-creates an existing swap area'),
    ('blkid-p-vdd3-empty.txt', 0, r'holds no swap signature'),
    ('labels/ambivalent-swap-ext2.blkid-p.txt', 8, r'holds several signatures \(blkid -p: ambivalent result\)'),
])
def test_other_content_is_refused(guest, blkid, rc, message):
    guest.commands.add(['blkid', '-p', '-o', 'export', guest.node], rc, fixture(blkid), '')
    result = guest.run()
    assert result['failed'] and result['changed'] is False
    assert re.search(message, result['msg']), result['msg']
    assert guest.changing_calls() == []


def command_capture(*parts):
    """A command's captured (rc, stdout, stderr) under tests/fixtures/PARTS."""
    where = os.path.join(FIXTURES, '..', *parts)
    return [int(fixture(where + '.rc'))] + [fixture(where + '.' + s) for s in ('stdout', 'stderr')]


def test_nothing_found_by_blkid_nor_wipefs_is_refused(guest):
    guest.commands.add(['blkid', '-p', '-o', 'export', guest.node], 2, '', '')
    guest.commands.add(['wipefs', '--no-act', '--json', guest.node], *command_capture('md', 'blkid', 'nothing-found-wipefs'))
    result = guest.run()
    assert result['failed'] and result['changed'] is False and 'holds no swap signature' in result['msg']
    assert guest.changing_calls() == []


def test_signatures_blkid_does_not_tell_apart_are_refused(guest):
    """Debian 13's blkid -p finds nothing where two signatures are (tests/fixtures/trixie/blkid): wipefs tells."""
    guest.commands.add(['blkid', '-p', '-o', 'export', guest.node], *command_capture('trixie', 'blkid', 'ext4-btrfs-blkid'))
    guest.commands.add(['wipefs', '--no-act', '--json', guest.node], *command_capture('trixie', 'blkid', 'ext4-btrfs-wipefs'))
    result = guest.run()
    assert result['failed'] and result['changed'] is False
    assert 'holds several signatures (ext4 at 0x438, btrfs at 0x10040) that blkid -p does not tell apart' in result['msg']
    assert guest.changing_calls() == []


@pytest.mark.parametrize('name', ['sixteen-bytes-raw', 'invalid-utf8'])
def test_a_label_mkswap_cannot_write_back_is_refused(tmp_path, monkeypatch, name):
    guest = Guest(tmp_path, monkeypatch, header='labels/%s.header.bin' % name, blkid='labels/%s.blkid-p.txt' % name,
                  size=2 * 1024 * 1024)
    result = guest.run()
    assert result['failed'] and result['changed'] is False
    assert 'swaplabel -L NEW' in result['msg']
    assert guest.changing_calls() == []


def test_not_enough_memory_is_refused(guest):
    guest.tree.write_proc('swaps', PROC_SWAPS_HEADER + '/dev/md0 partition 190460 190000 5\n')
    guest.tree.write_proc('meminfo', 'MemTotal: 996324 kB\nMemAvailable: 1000 kB\n')
    result = guest.run()
    assert result['failed'] and result['changed'] is False
    assert result['msg'].startswith('swapoff %s would have to bring back' % guest.node)
    assert guest.changing_calls() == []


def test_swapoff_refused_by_the_kernel_changes_nothing(guest):
    guest.on(['swapoff', guest.node], rc=255, err='swapoff: /dev/md0: swapoff failed: Cannot allocate memory\n')
    result = guest.run()
    assert result['failed'] and result['changed'] is False
    assert 'nothing was changed, the swap is still on' in result['msg']
    assert guest.commands.ran('mkswap', 'swapon') == []


def test_mkswap_failing_after_swapoff_turns_the_old_swap_on_and_says_changed(guest):
    guest.on(['swapoff', guest.node], swaps=PROC_SWAPS_HEADER)
    guest.on(['mkswap', '-L', 'swap', '-U', UUID, guest.node], rc=1, err='mkswap: cannot open /dev/md0: Device busy\n')
    guest.on(['swapon', '-p', '5', guest.node])
    result = guest.run()
    assert result['failed'] and result['changed'] is True
    assert 'the old one was turned on again as it was' in result['msg']
    assert result['actions'][-1] == '/usr/sbin/swapon -p 5 %s' % guest.node


def test_swapon_failing_after_mkswap_says_changed_and_how_to_turn_it_on(guest):
    guest.on(['swapoff', guest.node], swaps=PROC_SWAPS_HEADER)
    guest.on(['mkswap', '-L', 'swap', '-U', UUID, guest.node], header='swap-header-md0-raid0x4.bin')
    guest.on(['swapon', '-p', '5', guest.node], rc=255, err='swapon: /dev/md0: swapon failed: Invalid argument\n')
    result = guest.run()
    assert result['failed'] and result['changed'] is True
    assert 'same UUID and label but is off; turn it on with: /usr/sbin/swapon -p 5 %s' % guest.node in result['msg']


def test_a_label_that_came_back_different_fails_saying_changed(guest):
    """Regression: a corrupted label after mkswap was reported with changed: false."""
    guest.grown()
    guest.on(['mkswap', '-L', 'swap', '-U', UUID, guest.node], header='labels/space.header.bin')
    result = guest.run()
    assert result['failed'] and result['changed'] is True
    assert "label b'swap one' instead of %s and b'swap'" % UUID in result['msg']
