# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fs_grow's main() against /sys, /proc, /dev and command outputs captured on the lab microserver
(tests/fixtures/fs: ext4 on md1, XFS on vdc3, btrfs on vda3+vdb3, before and after they grew)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import pytest

from ansible_collections.fleet.linux.plugins.modules import fs_grow
from ansible_collections.fleet.linux.tests.unit.plugins.modules.harness import FakeCommands, FakeStat, run_module
from ansible_collections.fleet.linux.tests.unit.plugins.modules.kernel_tree import KernelTree

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures')
BTRFS_UUID = '173e977c-4117-4c7f-a834-5bb7ed0c6df5'
NUMBERS = {'md1': '9:1', 'vdc3': '254:35', 'vda3': '254:3', 'vdb3': '254:19'}
CHANGING = ('e2fsck', 'resize2fs', 'xfs_growfs', 'btrfs', 'mount', 'umount')


def fixture(name, directory='fs'):
    with open(os.path.join(FIXTURES, directory, name)) as handle:
        return handle.read()


def sizes(name):
    return dict((dev, int(size)) for dev, size in (line.split() for line in fixture(name).splitlines()))


def blkid(device):
    return ('blkid', '-p', '-o', 'export', device)


class Guest(object):
    """The lab guest after md1, vdc3, vda3 and vdb3 grew (sizes-after-grow), filesystems still small."""

    def __init__(self, tmp_path, monkeypatch, mountinfo=None):
        grown = sizes('sizes-after-grow.txt')
        self.tree = KernelTree(tmp_path, dict((name, (number, grown[name])) for name, number in NUMBERS.items()))
        self.tree.write_proc('self/mountinfo', fixture('mountinfo.txt') if mountinfo is None else mountinfo)
        self.tree.write_sys('fs/btrfs/%s/sectorsize' % BTRFS_UUID, '4096\n')
        self.stat = FakeStat(dict(
            [('/dev/%s' % name, 'b %s' % number) for name, number in NUMBERS.items()]
            + [('/srv', 'dir'), ('/srv/boot', 'dir'), ('/srv/xfs', 'dir'), ('/srv/btrfs', 'dir'), ('/srv/fuse', 'dir'),
               ('/dev/disk/by-id/md-name-microserver:1', 'link /dev/md1'), ('/root/md1', 'file'),
               ('/root', 'dir'), ('/dev/null', 'chr 1:3')]))
        for name, value in (('SYS_ROOT', self.tree.sys_root), ('PROC_ROOT', self.tree.proc_root), ('STAT', self.stat)):
            monkeypatch.setattr(fs_grow, name, value)
        self.commands = FakeCommands({
            blkid('/dev/md1'): (0, fixture('blkid-p-md1.txt'), ''),
            blkid('/dev/vdc3'): (0, fixture('blkid-p-vdc3.txt'), ''),
            blkid('/dev/vda3'): (0, fixture('blkid-p-vda3.txt'), ''),
        })
        self.monkeypatch = monkeypatch

    def reads(self, argv, before, after):
        """``argv`` reads the filesystem: ``before`` until a grow command ran, then ``after``."""
        def answer(_argv):
            return 0, fixture(after if self.changing_calls() else before), ''
        self.commands.table[tuple(argv)] = answer

    def run(self, check_mode=False, **args):
        return run_module(fs_grow, args, self.commands, check_mode=check_mode, monkeypatch=self.monkeypatch)

    def changing_calls(self):
        return [call for call in self.commands.ran(*CHANGING) if call[:3] != ['btrfs', 'filesystem', 'show']]


@pytest.fixture
def guest(tmp_path, monkeypatch):
    guest = Guest(tmp_path, monkeypatch)
    guest.reads(['dumpe2fs', '-h', '/dev/md1'], 'dumpe2fs-md1-raid0x2.txt', 'dumpe2fs-md1-raid0x3.txt')
    return guest


@pytest.mark.parametrize('args', [{'device': '/dev/md1'}, {'path': '/srv/boot'},
                                  {'device': '/dev/disk/by-id/md-name-microserver:1'}])
def test_ext4_grown_online(guest, args):
    guest.commands.add(['resize2fs', '/dev/md1'])
    result = guest.run(**args)
    assert not result.get('failed'), result
    assert result['changed'] is True
    assert (result['device'], result['mountpoint'], result['fstype']) == ('/dev/md1', '/srv/boot', 'ext4')
    assert result['actions'] == ['/usr/sbin/resize2fs /dev/md1']
    assert result['after']['fs_size'] == 190464 * 1024


def test_check_mode_runs_nothing_that_changes(guest):
    result = guest.run(check_mode=True, device='/dev/md1')
    assert result['changed'] is True and result['actions'] == ['/usr/sbin/resize2fs /dev/md1']
    assert guest.changing_calls() == []


def test_xfs_grown_on_its_mountpoint(guest):
    guest.reads(['xfs_info', '/srv/xfs'], 'xfs_info-vdc3-320M.txt', 'xfs_info-vdc3-448M.txt')
    guest.commands.add(['xfs_growfs', '/srv/xfs'])
    result = guest.run(path='/srv/xfs')
    assert not result.get('failed'), result
    assert (result['device'], result['actions']) == ('/dev/vdc3', ['/usr/sbin/xfs_growfs /srv/xfs'])


def test_btrfs_every_member_grown(guest):
    """btrfs mounts on an anonymous device number (0:39): its source names a member."""
    for target in ('/dev/vda3', '/srv/btrfs'):
        guest.reads(['btrfs', 'filesystem', 'show', '--raw', target], 'btrfs-show-vda3-vdb3-320M.txt', 'btrfs-show-vda3-vdb3-448M.txt')
    guest.commands.add(['btrfs', 'filesystem', 'resize', '1:max', '/srv/btrfs'])
    guest.commands.add(['btrfs', 'filesystem', 'resize', '2:max', '/srv/btrfs'])
    result = guest.run(path='/srv/btrfs')
    assert not result.get('failed'), result
    assert result['actions'] == ['/usr/sbin/btrfs filesystem resize %d:max /srv/btrfs' % devid for devid in (1, 2)]


@pytest.mark.parametrize('args, message', [
    # regression: a path that does not exist was reported on as /
    ({'path': '/srv/nothing'}, r'^path /srv/nothing does not exist \(No such file or directory\): give a path on the '
                               r'mounted filesystem to grow'),
    ({'device': '/root/md1'}, r'^/root/md1 is not a block device but a regular file: give the path of a block device'),
    ({'device': '/root'}, r'^/root is not a block device but a directory'),
    ({'device': '/dev/md9'}, r'^/dev/md9 does not exist'),
    ({'device': '/dev/null'}, r'^/dev/null is not a block device but a character device'),
])
def test_what_is_not_a_block_device_is_refused(guest, args, message):
    result = guest.run(**args)
    assert result['failed'] and result['changed'] is False
    assert re.match(message, result['msg']), result['msg']
    assert guest.commands.calls == []


def test_a_mount_that_only_claims_a_device_as_its_source_is_refused(tmp_path, monkeypatch):
    """A FUSE mount a user made with /dev/md1 as its source is not md1 (its number is anonymous)."""
    guest = Guest(tmp_path, monkeypatch, mountinfo=fixture('mountinfo.txt')
                  + '240 26 0:50 / /srv/fuse rw,nosuid,nodev,relatime shared:120 - fuse.sshfs /dev/md1 rw,user_id=1000\n')
    result = guest.run(path='/srv/fuse')
    assert result['failed'] and result['changed'] is False
    assert result['msg'].startswith('/srv/fuse is on /dev/md1 (fuse.sshfs, mounted on /srv/fuse), which is not a block '
                                    'device')
    assert guest.commands.calls == []


def test_several_signatures_refused(guest):
    guest.commands.add(blkid('/dev/md1'), 8, '', fixture('ambivalent-swap-ext2.blkid-p.stderr', 'swap/labels'))
    result = guest.run(device='/dev/md1')
    assert result['failed'] and result['changed'] is False
    assert 'holds several signatures (blkid -p: ambivalent result)' in result['msg']
    assert guest.changing_calls() == []


def test_swap_refused(guest):
    guest.commands.add(blkid('/dev/md1'), 0, fixture('blkid-p-md0.txt', 'swap'), '')
    result = guest.run(device='/dev/md1')
    assert result['failed'] and result['changed'] is False and 'use fleet.linux.swap_rebuild' in result['msg']
    assert guest.changing_calls() == []


def test_online_resize_refused_by_the_kernel_changes_nothing(guest):
    guest.commands.add(['resize2fs', '/dev/md1'], 1, fixture('resize2fs-no-cap-sys-resource.stdout'),
                       fixture('resize2fs-no-cap-sys-resource.stderr'))
    result = guest.run(device='/dev/md1')
    assert result['failed'] and result['changed'] is False
    assert 'CAP_SYS_RESOURCE' in result['msg'] and 'already done' not in result['msg']


def test_offline_resize_failing_after_e2fsck_repaired_says_changed(tmp_path, monkeypatch):
    guest = Guest(tmp_path, monkeypatch, mountinfo=fixture('mountinfo.txt').replace(' 9:1 ', ' 9:99 '))
    guest.reads(['dumpe2fs', '-h', '/dev/md1'], 'dumpe2fs-md1-raid0x2.txt', 'dumpe2fs-md1-raid0x2.txt')
    guest.commands.add(['e2fsck', '-f', '-p', '/dev/md1'], 1, 'boot: 11/31744 files\n', '')
    guest.commands.add(['resize2fs', '/dev/md1'], 1, '', 'resize2fs: No space left on device while trying to resize\n')
    result = guest.run(device='/dev/md1')
    assert result['failed'] and result['changed'] is True
    assert result['actions'] == ['/usr/sbin/e2fsck -f -p /dev/md1']
    assert 'already done: /usr/sbin/e2fsck -f -p /dev/md1; the filesystem was not grown' in result['msg']


def test_reading_back_failing_after_the_grow_says_changed(guest):
    guest.commands.add(['resize2fs', '/dev/md1'])
    guest.commands.table[('dumpe2fs', '-h', '/dev/md1')] = lambda argv: (
        (1, '', 'dumpe2fs: Input/output error\n') if guest.changing_calls() else (0, fixture('dumpe2fs-md1-raid0x2.txt'), ''))
    result = guest.run(device='/dev/md1')
    assert result['failed'] and result['changed'] is True
    assert result['msg'] == '/usr/sbin/dumpe2fs -h /dev/md1 failed (exit 1): dumpe2fs: Input/output error'
