# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""md_reshape's main() against the lab microserver as captured (tests/fixtures/md): sysfs, /proc, /dev, mdadm, blkid.

A ``Lab`` builds /sys and /proc under tmp_path from a captured step and answers mdadm and blkid from the
captures; running a step of the plan moves the lab to the captured step that followed it. Every refusal
asserts that nothing but reads ran.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil

import pytest

from ansible_collections.fleet.linux.plugins.module_utils import md_reshape as md_reshape_backend
from ansible_collections.fleet.linux.plugins.modules import md_reshape

from ansible_collections.fleet.linux.tests.unit.plugins.modules.harness import FakeCommands, FakeStat, run_module

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures')
MD = os.path.join(FIXTURES, 'md')
SWAP = ['/dev/vda3', '/dev/vdb3', '/dev/vdc3', '/dev/vdd3']
BOOT = ['/dev/vda2', '/dev/vdb2', '/dev/vdc2', '/dev/vdd2']
READS = (('mdadm', '--detail', '--export'), ('mdadm', '--detail', '--brief'), ('blkid', '-p', '-o', 'export'),
         ('wipefs', '--no-act', '--json'))


def text(*parts):
    with open(os.path.join(*parts)) as handle:
        return handle.read()


def lab_devices():
    """Every block device of the lab guest: kernel name -> (major:minor, size in bytes), from its lsblk."""
    devices = {}

    def walk(entries):
        for entry in entries:
            devices[entry['name']] = (entry['maj:min'], int(entry['size']))
            walk(entry.get('children', []))
    walk(json.loads(text(MD, 'system', 'lsblk.json'))['blockdevices'])
    return devices


def blkid_capture(name, where=os.path.join(MD, 'blkid')):
    return tuple([int(text(where, name + '.rc'))] + [text(where, name + '.' + s) for s in ('stdout', 'stderr')])


TRIXIE_BLKID = os.path.join(FIXTURES, 'trixie', 'blkid')
BLANK_PARTITION = (0, text(FIXTURES, 'swap', 'blkid-p-vdd3-empty.txt'), '')  # only its PART_ENTRY_* tags
NOTHING_FOUND = blkid_capture('nothing-found')
AMBIVALENT = blkid_capture('ambivalent-xfs-btrfs')
# wipefs's answers: what blkid -p's "nothing found" (exit 2) is checked with
NO_SIGNATURE = blkid_capture('nothing-found-wipefs')
NO_SIGNATURE_TRIXIE = blkid_capture('zeros-wipefs', TRIXIE_BLKID)
# Debian 13's blkid finds nothing on a partition holding ext4 and a btrfs superblock; wipefs lists both.
TRIXIE_NOTHING_FOUND = blkid_capture('ext4-btrfs-blkid', TRIXIE_BLKID)
TRIXIE_TWO_SIGNATURES = blkid_capture('ext4-btrfs-wipefs', TRIXIE_BLKID)


class Lab(object):
    """The lab guest at a captured step: a sysfs and procfs tree, a /dev (FakeStat) and the commands' answers."""

    def __init__(self, root, array, step, monkeypatch):
        self.root = str(root)
        self.array = array
        self.devices = lab_devices()
        self.dev = dict(('/dev/' + name, 'b ' + number) for name, (number, _size) in self.devices.items())
        self.commands = FakeCommands()
        self.mountinfo = text(FIXTURES, 'fs', 'mountinfo.txt')
        self.config_file = os.path.join(self.root, 'mdadm.conf')
        for name, (number, size) in self.devices.items():
            block = os.path.join(self.root, 'sys', 'class', 'block', name)
            os.makedirs(os.path.join(block, 'holders'))
            for attribute, value in (('dev', number), ('size', str(size // 512))):
                with open(os.path.join(block, attribute), 'w') as handle:
                    handle.write(value + '\n')
            links = os.path.join(self.root, 'sys', 'dev', 'block')
            if not os.path.isdir(links):
                os.makedirs(links)
            os.symlink(block, os.path.join(links, number))
        self.goto(step)
        monkeypatch.setattr(md_reshape, 'SYS_ROOT', os.path.join(self.root, 'sys'))
        monkeypatch.setattr(md_reshape, 'PROC_ROOT', os.path.join(self.root, 'proc'))
        monkeypatch.setattr(md_reshape, 'DEV_STAT', FakeStat(self.dev))
        monkeypatch.setattr(md_reshape_backend.time, 'sleep', lambda seconds: None)

    def goto(self, step):
        """The array as captured at ``step``: its sysfs directory, mdadm's answers, its members' holders."""
        path = '/dev/' + self.array
        array_sys = os.path.join(self.root, 'sys', 'block', self.array)
        if os.path.isdir(array_sys):
            shutil.rmtree(array_sys)
        shutil.copytree(os.path.join(MD, step, 'sys', 'block', self.array), array_sys)
        export = text(MD, step, 'mdadm_detail_export')
        self.commands.add(['mdadm', '--detail', '--export', path], out=export)
        scan = os.path.join(MD, step, 'mdadm_detail_scan')
        if os.path.exists(scan):
            brief = [line for line in text(scan).splitlines() if line.startswith('ARRAY %s ' % path)][0]
            self.commands.add(['mdadm', '--detail', '--brief', path], out=brief + '\n')
        for name in self.devices:
            holder = os.path.join(self.root, 'sys', 'class', 'block', name, 'holders', self.array)
            if os.path.exists(holder):
                os.rmdir(holder)
            if 'MD_DEVICE_dev_%s_DEV' % name in export:
                os.mkdir(holder)
        self.write_proc(step)

    def write_proc(self, step=None):
        proc = os.path.join(self.root, 'proc')
        if not os.path.isdir(os.path.join(proc, 'self')):
            os.makedirs(os.path.join(proc, 'self'))
        with open(os.path.join(proc, 'self', 'mountinfo'), 'w') as handle:
            handle.write(self.mountinfo)
        swaps = os.path.join(MD, step, 'proc_swaps') if step else None
        if swaps and os.path.exists(swaps):
            shutil.copy(swaps, os.path.join(proc, 'swaps'))

    def mount(self, number, mountpoint, fstype, source):
        self.mountinfo += '240 26 %s / %s rw,relatime shared:130 - %s %s rw\n' % (number, mountpoint, fstype, source)
        self.write_proc()

    def blkid(self, device, answer, wipefs=NO_SIGNATURE):
        """blkid -p's answer about ``device`` and wipefs's (asked only when blkid finds nothing)."""
        self.commands.table[('blkid', '-p', '-o', 'export', device)] = answer
        self.commands.table[('wipefs', '--no-act', '--json', device)] = wipefs

    def then(self, argv, step, rc=0, err=''):
        """Running ``argv`` succeeds (moving the lab to ``step``) or fails with ``rc``."""
        def answer(_argv):
            if rc == 0:
                self.goto(step)
            return rc, '', err
        self.commands.table[tuple(argv)] = answer

    def run(self, monkeypatch, check_mode=False, **args):
        return run_module(md_reshape, args, self.commands, check_mode=check_mode, monkeypatch=monkeypatch)

    def writes(self):
        """Commands that ran and may change something (anything but the reads)."""
        return [call for call in self.commands.calls if not any(tuple(call[:len(r)]) == r for r in READS)]


@pytest.fixture
def swap_lab(tmp_path, monkeypatch):
    """md0, the swap RAID0 of vda3 vdb3 vdc3 (step 01), vdd3 a blank partition."""
    lab = Lab(tmp_path, 'md0', '01-raid0-3-clean', monkeypatch)
    lab.blkid('/dev/vdd3', BLANK_PARTITION)
    return lab


@pytest.fixture
def boot_lab(tmp_path, monkeypatch):
    """md1, the /boot RAID10 of two with two spares (step 15)."""
    return Lab(tmp_path, 'md1', '15-raid10-2-plus-2-spares', monkeypatch)


def test_check_mode_plans_from_the_captured_state_and_changes_nothing(swap_lab, monkeypatch):
    result = swap_lab.run(monkeypatch, check_mode=True, device='/dev/md0', level='0', devices=SWAP)
    assert not result.get('failed'), result['msg']
    assert result['changed'] is True
    assert result['actions'] == ['mdadm --grow /dev/md0 --raid-devices=4 --add /dev/vdd3', 'mdadm --grow /dev/md0 --level=0']
    assert result['after']['members'] == SWAP
    assert swap_lab.writes() == []


def test_the_documented_swap_grow_runs_step_by_step_and_writes_mdadm_conf(swap_lab, monkeypatch):
    swap_lab.then(['mdadm', '--grow', '/dev/md0', '--raid-devices=4', '--add', '/dev/vdd3'], '03-raid0-grow-add-reshaped')
    swap_lab.then(['mdadm', '--grow', '/dev/md0', '--level=0'], '04-raid4-to-raid0')
    with open(swap_lab.config_file, 'w') as handle:
        handle.write('DEVICE partitions\nARRAY /dev/md0 level=raid0 num-devices=3\n   UUID=4551aa1d:24d415bf:f8bec2d5:0ec6b660\n'
                     '   devices=/dev/vda3,/dev/vdb3,/dev/vdc3\n')
    monkeypatch.setattr(md_reshape_backend, 'write_atomically', lambda module, path, content: open(path, 'w').write(content))
    result = swap_lab.run(monkeypatch, device='/dev/md0', level='raid0', devices=SWAP, update_config=True,
                          config_file=swap_lab.config_file)
    assert not result.get('failed'), result['msg']
    assert (result['changed'], result['finished']) == (True, True)
    assert result['actions'] == ['mdadm --grow /dev/md0 --raid-devices=4 --add /dev/vdd3', 'mdadm --grow /dev/md0 --level=0']
    assert (result['after']['level'], result['after']['members']) == (0, SWAP)
    line = text(MD, '04-raid4-to-raid0', 'mdadm_detail_scan').strip()
    assert result['config_line'] == line
    assert text(swap_lab.config_file) == 'DEVICE partitions\n%s\n' % line


def test_a_failure_after_a_step_ran_reports_changed(swap_lab, monkeypatch):
    """mdadm --grow ran, then the next step failed: the array did change."""
    swap_lab.then(['mdadm', '--grow', '/dev/md0', '--raid-devices=4', '--add', '/dev/vdd3'], '03-raid0-grow-add-reshaped')
    swap_lab.then(['mdadm', '--grow', '/dev/md0', '--level=0'], None, rc=1, err='mdadm: /dev/md0: could not set level to raid0')
    result = swap_lab.run(monkeypatch, device='/dev/md0', level='0', devices=SWAP)
    assert result['failed'] is True
    assert result['changed'] is True
    assert result['actions'] == ['mdadm --grow /dev/md0 --raid-devices=4 --add /dev/vdd3']
    assert 'could not set level to raid0' in result['msg']


def test_a_timeout_after_a_step_ran_reports_changed(swap_lab, monkeypatch):
    swap_lab.then(['mdadm', '--grow', '/dev/md0', '--raid-devices=4', '--add', '/dev/vdd3'], '02-raid0-grow-add-reshaping')
    clock = iter(range(0, 100000, 10))
    monkeypatch.setattr(md_reshape_backend.time, 'time', lambda: next(clock))
    result = swap_lab.run(monkeypatch, device='/dev/md0', level='0', devices=SWAP, timeout=30)
    assert (result['failed'], result['changed']) == (True, True)
    assert 'still busy (reshape)' in result['msg'] and 'Run again' in result['msg']


def test_an_mdadm_conf_that_is_a_link_is_refused_before_the_reshape(swap_lab, monkeypatch, tmp_path):
    """A link at mdadm.conf would only be refused once the array had changed: it is checked first."""
    target = tmp_path / 'elsewhere'
    target.write_text(u'DEVICE partitions\n')
    os.symlink(str(target), swap_lab.config_file)
    result = swap_lab.run(monkeypatch, device='/dev/md0', level='0', devices=SWAP, update_config=True,
                          config_file=swap_lab.config_file)
    assert (result['failed'], result['changed']) == (True, False)
    assert '%s is a symbolic link, not a regular file' % swap_lab.config_file in result['msg']
    assert swap_lab.writes() == []
    assert target.read_text() == u'DEVICE partitions\n'


def test_a_refusal_read_from_the_state_reports_unchanged(tmp_path, monkeypatch):
    lab = Lab(tmp_path, 'md2', '22-raid1-degraded', monkeypatch)
    result = lab.run(monkeypatch, device='/dev/md2', level='1', devices=['/dev/vda4', '/dev/vdb4'])
    assert (result['failed'], result['changed']) == (True, False)
    assert 'degraded' in result['msg']
    assert lab.writes() == []


# Point 1 of issue 12: a device is what its major:minor says.
IDENTITY_REFUSALS = [
    pytest.param({'device': '/root/md0'}, {'/root/md0': 'file'}, '/root/md0 is not an md array on this host: /root/md0 is not a '
                 'block device but a regular file', id='device: a regular file named like the array'),
    pytest.param({'device': '/dev/md9'}, {}, '/dev/md9 is not an md array on this host: /dev/md9 does not exist',
                 id='device: does not exist'),
    pytest.param({'device': '/dev/vda3'}, {}, '/dev/vda3 is /dev/vda3, which is not an md array', id='device: not an array'),
    pytest.param({'devices': SWAP[:3] + ['/root/vdd3']}, {'/root/vdd3': 'file'},
                 'in devices, /root/vdd3 is not a block device but a regular file', id='member: a regular file named like a device'),
    pytest.param({'devices': SWAP[:3] + ['/root/vdd3']}, {'/root/vdd3': 'link /root/image'}, 'in devices, /root/vdd3 does not exist',
                 id='member: a dangling link'),
    pytest.param({'devices': SWAP[:3] + ['/dev/vdd3x']}, {'/dev/vdd3x': 'chr 254:51'}, 'not a block device but a character device',
                 id='member: a character device with the numbers of a block device'),
    pytest.param({'devices': SWAP[:3] + ['/dev/sdz']}, {'/dev/sdz': 'b 8:240'}, 'device 8:240, which this kernel does not have',
                 id='member: a block special file of no device'),
    pytest.param({'devices': SWAP + ['/dev/vdd3']}, {}, 'devices lists /dev/vdd3 twice', id='member listed twice'),
    pytest.param({'devices': SWAP + ['/dev/disk/by-partlabel/swap4']}, {'/dev/disk/by-partlabel/swap4': 'link /dev/vdd3'},
                 'devices lists /dev/vdd3 twice: /dev/vdd3 and /dev/disk/by-partlabel/swap4 are the same device',
                 id='member listed by kernel name and by a udev link'),
    pytest.param({'devices': SWAP + ['/dev/md/swap']}, {'/dev/md/swap': 'link /dev/md0'}, 'devices lists /dev/md/swap, which is the array itself',
                 id='the array listed as its own member'),
]


@pytest.mark.parametrize('args, dev, message', IDENTITY_REFUSALS)
def test_devices_are_identified_by_major_minor(swap_lab, monkeypatch, args, dev, message):
    swap_lab.dev.update(dev)
    result = swap_lab.run(monkeypatch, **dict(dict(device='/dev/md0', level='0', devices=SWAP), **args))
    assert result['failed'] is True and result['changed'] is False
    assert message in result['msg']
    assert swap_lab.commands.calls == []


def test_devices_given_by_udev_links_are_resolved_to_their_kernel_names(swap_lab, monkeypatch):
    swap_lab.dev.update({'/dev/md/swap': 'link /dev/md0', '/dev/disk/by-partlabel/swap4': 'link /dev/vdd3'})
    result = swap_lab.run(monkeypatch, check_mode=True, device='/dev/md/swap', level='0',
                          devices=SWAP[:3] + ['/dev/disk/by-partlabel/swap4'])
    assert result['actions'][0] == 'mdadm --grow /dev/md0 --raid-devices=4 --add /dev/vdd3'


# Point 3 of issue 12: every parameter validated before anything is read or changed.
PARAMETER_REFUSALS = [
    pytest.param({'poll_interval': -1}, 'poll_interval is -1: give a number of seconds, 1 or more', id='poll_interval -1'),
    pytest.param({'poll_interval': 0}, 'poll_interval is 0', id='poll_interval 0'),
    pytest.param({'timeout': 0}, 'timeout is 0: give a number of seconds, 1 or more', id='timeout 0'),
    pytest.param({'raid_devices': 0}, 'raid_devices is 0: give the number of active devices', id='raid_devices 0 is not unset'),
    pytest.param({'raid_devices': -4}, 'raid_devices is -4', id='raid_devices negative'),
    pytest.param({'devices': '/dev/vda3 /dev/vdb3 /dev/vdc3 /dev/vdd3'},
                 'devices holds "/dev/vda3 /dev/vdb3 /dev/vdc3 /dev/vdd3", which is not one device path: give devices as a list',
                 id='a list given as one string'),
    pytest.param({'devices': SWAP[:2] + ['/dev/vdc3 /dev/vdd3']}, 'devices holds "/dev/vdc3 /dev/vdd3"', id='two devices in one item'),
    pytest.param({'devices': SWAP[:2] + ['/dev/vdc3,/dev/vdd3']}, 'devices holds "/dev/vdc3,/dev/vdd3"', id='a comma inside an item'),
    pytest.param({'devices': []}, 'devices is empty', id='no devices'),
    pytest.param({'level': 'raid7'}, 'level raid7 is not one md_reshape handles', id='unknown level'),
]


@pytest.mark.parametrize('args, message', PARAMETER_REFUSALS)
def test_parameters_are_validated_before_anything_runs(swap_lab, monkeypatch, args, message):
    result = swap_lab.run(monkeypatch, **dict(dict(device='/dev/md0', level='0', devices=SWAP), **args))
    assert result['failed'] is True and result['changed'] is False
    assert message in result['msg']
    assert swap_lab.commands.calls == []


def test_a_comma_separated_string_is_a_list(swap_lab, monkeypatch):
    """Ansible splits a string at commas for a list option: documented, and taken as the list it names."""
    result = swap_lab.run(monkeypatch, check_mode=True, device='/dev/md0', level='0', devices=','.join(SWAP))
    assert result['actions'][0] == 'mdadm --grow /dev/md0 --raid-devices=4 --add /dev/vdd3'


# Point 5 of issue 12: only a clear "nothing found" is blank.
@pytest.mark.parametrize('answer, wipefs', [(NOTHING_FOUND, NO_SIGNATURE), (NOTHING_FOUND, NO_SIGNATURE_TRIXIE),
                                            (BLANK_PARTITION, NO_SIGNATURE)],
                         ids=['exit 2: nothing found, nor by wipefs', "exit 2, and Debian 13's wipefs finds nothing",
                              'exit 0: only the partition entry'])
def test_a_blank_new_device_is_taken(swap_lab, monkeypatch, answer, wipefs):
    swap_lab.blkid('/dev/vdd3', answer, wipefs)
    result = swap_lab.run(monkeypatch, check_mode=True, device='/dev/md0', level='0', devices=SWAP)
    assert not result.get('failed'), result['msg']


# Debian 13: blkid -p exits 2 (nothing found) for a partition with two signatures, where Debian 12's exits 8.
@pytest.mark.parametrize('wipefs, message', [
    (TRIXIE_TWO_SIGNATURES, '/dev/vdd3 holds several signatures (ext4 at 0x438, btrfs at 0x10040) that blkid -p does not tell apart'),
    ((1, '', 'wipefs: error: /dev/vdd3: probing initialization failed: Input/output error\n'),
     'blkid -p finds nothing on /dev/vdd3 and wipefs -n /dev/vdd3 failed (exit 1: wipefs: error: /dev/vdd3: probing'),
], ids=['wipefs lists two signatures', 'wipefs fails'])
def test_nothing_found_by_blkid_but_not_by_wipefs_is_refused(swap_lab, monkeypatch, wipefs, message):
    swap_lab.blkid('/dev/vdd3', TRIXIE_NOTHING_FOUND, wipefs)
    result = swap_lab.run(monkeypatch, device='/dev/md0', level='0', devices=SWAP)
    assert result['failed'] is True and result['changed'] is False
    assert message in result['msg']
    assert 'wipefs' in result['msg']
    assert swap_lab.writes() == []


DATA_REFUSALS = [
    pytest.param(AMBIVALENT, '/dev/vdd3 holds several signatures (blkid -p: ambivalent result)', id='exit 8: ambivalent'),
    pytest.param((4, '', 'blkid: error: /dev/vdd3: Input/output error\n'),
                 'blkid -p /dev/vdd3 failed (exit 4: blkid: error: /dev/vdd3: Input/output error), so what it holds cannot be told',
                 id='exit 4: probe failed'),
    pytest.param((0, text(FIXTURES, 'fs', 'blkid-p-vdc3.txt'), ''), '/dev/vdd3 holds a xfs signature (UUID a0fcdbf5', id='a filesystem'),
    pytest.param((0, 'DEVNAME=/dev/vdd3\nPTUUID=7c1f0bd5\nPTTYPE=dos\n', ''), 'holds a dos partition table', id='a partition table'),
    pytest.param((0, text(FIXTURES, 'fs', 'blkid-p-vda2.txt'), ''), 'holds a linux_raid_member signature',
                 id="another array's member"),
]


@pytest.mark.parametrize('answer, message', DATA_REFUSALS)
def test_a_new_device_not_clearly_blank_is_refused(swap_lab, monkeypatch, answer, message):
    swap_lab.blkid('/dev/vdd3', answer)
    result = swap_lab.run(monkeypatch, device='/dev/md0', level='0', devices=SWAP)
    assert result['failed'] is True and result['changed'] is False
    assert message in result['msg']
    assert 'wipefs' in result['msg']
    assert swap_lab.writes() == []


def test_a_mounted_new_device_is_refused(swap_lab, monkeypatch):
    swap_lab.mount('254:51', '/srv/busy', 'ext4', '/dev/vdd3')
    result = swap_lab.run(monkeypatch, device='/dev/md0', level='0', devices=SWAP)
    assert '/dev/vdd3 cannot join /dev/md0: /dev/vdd3 is mounted on /srv/busy. Free it first.' in result['msg']
    assert swap_lab.writes() == []


@pytest.mark.parametrize('fstype', ['tmpfs', 'ramfs'])
def test_a_backup_file_on_a_filesystem_a_power_loss_empties_is_refused(swap_lab, monkeypatch, tmp_path, fstype):
    backup_dir = tmp_path / 'run'
    backup_dir.mkdir()
    st_dev = os.stat(str(backup_dir)).st_dev
    swap_lab.mount('%d:%d' % (os.major(st_dev), os.minor(st_dev)), str(backup_dir), fstype, fstype)
    result = swap_lab.run(monkeypatch, device='/dev/md0', level='0', devices=SWAP, backup_file=str(backup_dir / 'md0.backup'))
    assert result['failed'] is True and result['changed'] is False
    assert 'is on %s, which a power loss empties' % fstype in result['msg']
    assert swap_lab.writes() == []


@pytest.mark.parametrize('mode, where', [(0o777, 'shared'), (0o775, 'shared'), (0o1777, 'shared/backups'), (0o777, 'shared/backups')],
                         ids=['a world-writable directory above', 'a group-writable directory above',
                              "sticky like /tmp, the file's own directory", "the file's own directory world-writable"])
def test_a_backup_file_where_others_can_write_is_refused(swap_lab, monkeypatch, tmp_path, mode, where):
    (tmp_path / 'shared' / 'backups').mkdir(parents=True)
    shared = tmp_path / where
    shared.chmod(mode)
    result = swap_lab.run(monkeypatch, device='/dev/md0', level='0', devices=SWAP,
                          backup_file=str(tmp_path / 'shared' / 'backups' / 'md0.backup'))
    assert result['failed'] is True and result['changed'] is False
    assert 'is below %s, which other users can write to' % shared in result['msg']
    assert swap_lab.writes() == []


def test_a_backup_file_on_a_disk_filesystem_is_taken(swap_lab, monkeypatch, tmp_path):
    """In a directory only its owner writes to, below a sticky one (pytest's tmp_path is below /tmp)."""
    private = tmp_path / 'private'
    private.mkdir(mode=0o700)
    tmp_path.chmod(0o1777)
    result = swap_lab.run(monkeypatch, check_mode=True, device='/dev/md0', level='0', devices=SWAP,
                          backup_file=str(private / 'md0.backup'))
    assert not result.get('failed'), result['msg']
    assert result['actions'][0].startswith('mdadm --grow /dev/md0 --backup-file=%s ' % (private / 'md0.backup'))


@pytest.fixture
def interrupted_lab(tmp_path, monkeypatch):
    """md1 came back from a power loss auto-read-only in the middle of its RAID10 grow (step 19)."""
    return Lab(tmp_path, 'md1', '19-raid10-reshape-interrupted-read-auto', monkeypatch)


def test_an_interrupted_reshape_is_resumed_and_waited_for(interrupted_lab, monkeypatch):
    interrupted_lab.then(['mdadm', '--readwrite', '/dev/md1'], '17-raid10-4-clean')
    result = interrupted_lab.run(monkeypatch, device='/dev/md1', level='10', devices=BOOT)
    assert not result.get('failed'), result['msg']
    assert (result['changed'], result['reshape_interrupted'], result['finished']) == (True, True, True)
    assert result['actions'] == ['mdadm --readwrite /dev/md1']


@pytest.mark.parametrize('args, message', [
    pytest.param({'backup_file': '/nonexistent/md1.backup'}, 'the directory of backup_file /nonexistent/md1.backup does not exist',
                 id='backup directory missing'),
    pytest.param({'devices': BOOT + ['/dev/vdd3']}, '/dev/vdd3 holds several signatures', id='an ambivalent new device'),
    pytest.param({'poll_interval': -1}, 'poll_interval is -1', id='poll_interval -1'),
])
def test_nothing_is_resumed_before_every_check_passed(interrupted_lab, monkeypatch, args, message):
    """mdadm --readwrite changes the array: it must not run before the devices and the backup file are checked."""
    interrupted_lab.then(['mdadm', '--readwrite', '/dev/md1'], '17-raid10-4-clean')
    interrupted_lab.blkid('/dev/vdd3', AMBIVALENT)
    result = interrupted_lab.run(monkeypatch, **dict(dict(device='/dev/md1', level='10', devices=BOOT, raid_devices=4), **args))
    assert result['failed'] is True and result['changed'] is False
    assert message in result['msg']
    assert interrupted_lab.writes() == []


# Point 6 of issue 12: check mode's config_line is the line the real run writes.
def test_check_mode_config_line_is_the_line_of_the_planned_final_state(boot_lab, monkeypatch, tmp_path):
    """md1 has two spares now (spares=2 in its line); once grown to four raid devices it has none."""
    result = boot_lab.run(monkeypatch, check_mode=True, device='/dev/md1', level='10', devices=BOOT, update_config=True,
                          config_file=str(tmp_path / 'mdadm.conf'))
    assert result['actions'] == ['mdadm --grow /dev/md1 --raid-devices=4']
    final_line = [line for line in text(MD, '17-raid10-4-clean', 'mdadm_detail_scan').splitlines() if '/dev/md1 ' in line][0]
    assert result['config_line'] == final_line
    assert not (tmp_path / 'mdadm.conf').exists()


def test_waiting_records_what_md_showed_with_speed_and_time_left(tmp_path, monkeypatch):
    """The samples of a wait (the module's progress, raid_apply's progress file) from md's counters as the lab
    showed them mid-reshape (tests/fixtures/md_progress/reshape-md0-b.txt), until md is idle."""
    md = tmp_path / 'block' / 'md0' / 'md'
    md.mkdir(parents=True)
    for name, value in (('sync_action', 'reshape'), ('array_state', 'clean'), ('sync_speed', '368'),
                        ('sync_speed_max', '200000 (system)'), ('reshape_position', '102400'),
                        ('sync_completed', '25600 / 126976')):
        (md / name).write_text(u'%s\n' % value)

    def md_ends(_seconds):
        for name, value in (('sync_action', 'idle'), ('sync_completed', 'none'), ('reshape_position', 'none'),
                            ('sync_speed', 'none')):
            (md / name).write_text(u'%s\n' % value)
    monkeypatch.setattr(md_reshape_backend.time, 'sleep', md_ends)
    reported = []
    array = md_reshape_backend.MdArray(None, type('Devices', (), dict(sys_root=str(tmp_path)))(), 'md0')
    progress = []
    array.wait_idle(md_reshape_backend.time.time() + 60, 5, progress, reported.append)
    assert [(p['action'], p['percent'], p['line']) for p in progress] == [
        ('reshape', 20.2, 'md0: reshape 20.2% (12 MiB of 62 MiB) at 368 KiB/s, about 2 min left')]
    assert [r['done'] for r in reported] == [25600]
