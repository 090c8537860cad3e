# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""io_scheduler's main() against sysfs trees built from the lab microserver's captures.

The queues come from tests/fixtures/io_scheduler (kernel 6.1 cloud: bfq and kyber are modules,
mq-deadline is built in); the device numbers of /sys/dev/block from the same guest's lsblk
(tests/fixtures/md/system/lsblk.json). ``modprobe bfq`` is answered by switching the tree to the
queues captured after loading it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil

import pytest

from ansible_collections.fleet.linux.plugins.modules import io_scheduler
from ansible_collections.fleet.linux.tests.unit.plugins.modules.harness import FakeCommands, FakeStat, run_module

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures')
CAPTURE = os.path.join(FIXTURES, 'io_scheduler')
DISKS = ['sda', 'vda', 'vdb', 'vdc', 'vdd']


def captured(*path):
    with open(os.path.join(CAPTURE, *path)) as handle:
        return handle.read()


def device_numbers():
    """{kernel name: MAJ:MIN} of the lab microserver (lsblk), loop devices as the kernel numbers them."""
    with open(os.path.join(FIXTURES, 'md', 'system', 'lsblk.json')) as handle:
        tree = json.load(handle)['blockdevices']
    numbers = dict(('loop%d' % i, '7:%d' % i) for i in range(8))
    while tree:
        device = tree.pop()
        numbers[device['name']] = device['maj:min']
        tree.extend(device.get('children') or [])
    return numbers


def load_queues(sys_root, step):
    """Give the tree's queue files the content captured at ``step``."""
    captured_block = os.path.join(CAPTURE, step, 'sys', 'block')
    for name in os.listdir(captured_block):
        for attr in ('scheduler', 'rotational'):
            shutil.copy(os.path.join(captured_block, name, 'queue', attr), os.path.join(sys_root, 'block', name, 'queue', attr))


@pytest.fixture
def sys_root(tmp_path, monkeypatch):
    """/sys as io_scheduler reads it: block/*/queue as captured at boot, dev/block links by number, and
    class/block/vdd1 a link into its disk's directory, as in the kernel's tree."""
    root = str(tmp_path / 'sys')
    shutil.copytree(os.path.join(CAPTURE, '01-boot', 'sys'), root)
    shutil.move(os.path.join(root, 'class', 'block', 'vdd1'), os.path.join(root, 'block', 'vdd', 'vdd1'))
    os.symlink('../../block/vdd/vdd1', os.path.join(root, 'class', 'block', 'vdd1'))
    os.makedirs(os.path.join(root, 'dev', 'block'))
    numbers = device_numbers()
    for name in os.listdir(os.path.join(root, 'block')) + ['vdd1']:
        os.symlink('../../devices/virtual/block/%s' % name, os.path.join(root, 'dev', 'block', numbers[name]))
    os.makedirs(os.path.join(root, 'module'))
    monkeypatch.setattr(io_scheduler, 'SYS_ROOT', root)
    monkeypatch.setattr(io_scheduler, 'STAT', FakeStat({
        '/dev/vdb': 'b 254:16', '/dev/vdc': 'b 254:32', '/dev/vdd1': 'b 254:49', '/dev/md0': 'b 9:0',
        '/dev/disk/by-id/virtio-data2': 'link /dev/vdc',
        '/dev/disk/by-path/vdb-renamed': 'link /dev/vdb',
        '/root/vdb': 'file', '/dev/sdz': 'file', '/dev/disk': 'dir', '/dev/null': 'chr 1:3',
        '/dev/disk/by-id/dangling': 'link /dev/vdq',
    }))
    return root


@pytest.fixture
def files(tmp_path):
    return {'rules_file': str(tmp_path / 'rules.d' / '60-fleet-io-scheduler.rules'),
            'modules_load_file': str(tmp_path / 'modules-load.d' / 'fleet-io-scheduler.conf')}


def scheduler_of(sys_root, name):
    with open(os.path.join(sys_root, 'block', name, 'queue', 'scheduler')) as handle:
        return handle.read()


def commands_for(sys_root, *extra):
    """modprobe as the lab kernel answers it; ``modprobe bfq`` loads bfq (the queues then offer it)."""
    def modprobe_bfq(argv):
        load_queues(sys_root, '02-modules-loaded')
        os.makedirs(os.path.join(sys_root, 'module', 'bfq'))
        return 0, '', ''

    commands = FakeCommands({
        ('modprobe', '--show-depends', 'bfq-iosched'): (0, captured('modprobe', 'bfq'), ''),
        ('modprobe', '--show-depends', 'kyber-iosched'): (0, captured('modprobe', 'kyber'), ''),
        ('modprobe', '--show-depends', 'mq-deadline-iosched'): (0, captured('modprobe', 'mq-deadline'), ''),
        ('modprobe', '--show-depends', 'none-iosched'): (1, '', captured('modprobe', 'none.stderr')),
        ('modprobe', 'bfq'): modprobe_bfq,
        ('udevadm', 'control', '--reload'): (0, '', ''),
    })
    for argv, answer in extra:
        commands.table[argv] = answer
    return commands


def changing(commands):
    return [call for call in commands.calls if call[:2] != ['modprobe', '--show-depends']]


def run(monkeypatch, args, commands, **kwargs):
    return run_module(io_scheduler, args, commands, monkeypatch=monkeypatch, **kwargs)


def test_bfq_is_loaded_set_and_kept(sys_root, files, monkeypatch):
    commands = commands_for(sys_root)
    result = run(monkeypatch, dict(files, devices=['vdb'], scheduler='bfq'), commands)
    assert not result.get('failed'), result
    assert result['changed'] is True
    assert result['actions'] == ['modprobe bfq', 'echo bfq > %s/block/vdb/queue/scheduler' % sys_root,
                                 'write %s' % files['rules_file'], 'write %s' % files['modules_load_file'],
                                 'udevadm control --reload']
    assert scheduler_of(sys_root, 'vdb') == 'bfq'
    assert scheduler_of(sys_root, 'vdc') == '[none] mq-deadline bfq kyber \n'
    with open(files['modules_load_file']) as handle:
        assert handle.read().endswith('\nbfq\n')


def test_check_mode_reads_only(sys_root, files, monkeypatch):
    commands = commands_for(sys_root)
    result = run(monkeypatch, dict(files, devices=['vd[b-c]'], scheduler='bfq'), commands, check_mode=True)
    assert result['changed'] is True and result['after'] == {'vdb': 'bfq', 'vdc': 'bfq'}
    assert changing(commands) == []
    assert not os.path.exists(files['rules_file']) and not os.path.exists(files['modules_load_file'])
    assert scheduler_of(sys_root, 'vdb') == '[none] mq-deadline \n'


# --- Point 1: a device given as a path is the device it is --------------------------------------

@pytest.mark.parametrize('given, name', [
    ('/dev/disk/by-id/virtio-data2', 'vdc'),
    ('/dev/disk/by-path/vdb-renamed', 'vdb'),
    ('/dev/vdc', 'vdc'),
])
def test_a_path_is_resolved_by_its_device_number(sys_root, files, monkeypatch, given, name):
    commands = commands_for(sys_root)
    result = run(monkeypatch, dict(files, devices=[given], scheduler='mq-deadline'), commands)
    assert not result.get('failed'), result
    assert result['devices'] == [name]
    assert 'KERNEL=="%s"' % name in result['rule']
    assert scheduler_of(sys_root, name) == 'mq-deadline'


def test_the_same_disk_by_name_and_by_link_is_one_selection(sys_root, files, monkeypatch):
    result = run(monkeypatch, dict(files, devices=['vdc', '/dev/vdc', '/dev/disk/by-id/virtio-data2'],
                                   scheduler='mq-deadline'), commands_for(sys_root), check_mode=True)
    assert result['devices'] == ['vdc'] and 'KERNEL=="vdc"' in result['rule']


@pytest.mark.parametrize('given, message', [
    ('/root/vdb', '/root/vdb is not a block device but a regular file: give the path of a block device'),
    ('/dev/sdz', '/dev/sdz is not a block device but a regular file'),
    ('/dev/disk', '/dev/disk is not a block device but a directory'),
    ('/dev/null', '/dev/null is not a block device but a character device'),
    ('/dev/vdq', '/dev/vdq does not exist'),
    ('/dev/disk/by-id/dangling', '/dev/disk/by-id/dangling does not exist'),
    ('/dev/vdd1', 'vdd1 is a partition: the I/O scheduler belongs to its whole disk (vdd). Name the disk.'),
    ('/dev/md0', 'md0 has no I/O scheduler (a bio-based device such as md or dm)'),
    ('dev/vdb', "device 'dev/vdb' is not a kernel device name or glob"),
    ('/dev/disk/by-id/*', "device '/dev/disk/by-id/*' is not a kernel device name or glob"),
])
def test_what_is_not_a_disk_is_refused_before_anything_runs(sys_root, files, monkeypatch, given, message):
    for state in ('present', 'absent'):
        commands = commands_for(sys_root)
        result = run(monkeypatch, dict(files, devices=['vdb', given], scheduler='bfq', state=state), commands)
        if state == 'absent' and given in ('/dev/vdd1', '/dev/md0'):
            # Removing a rule needs no scheduler: a partition or md device simply has no rule.
            assert not result.get('failed'), result
            continue
        assert result['failed'] and result['changed'] is False, result
        assert message in result['msg']
        assert changing(commands) == []
        assert scheduler_of(sys_root, 'vdb') == '[none] mq-deadline \n'
        assert not os.path.exists(files['rules_file'])


def test_a_missing_name_is_still_refused_with_the_disks_there_are(sys_root, files, monkeypatch):
    result = run(monkeypatch, dict(files, devices=['vdz'], scheduler='bfq'), commands_for(sys_root))
    assert result['failed'] and 'device vdz does not exist: /sys/block lists %s.' % ', '.join(DISKS) in result['msg']


# --- Point 9: the modules-load file is owned like the rules file -------------------------------

FOREIGN_MODULES_LOAD = '# written by the admin\nbfq\n'


@pytest.mark.parametrize('scheduler', ['mq-deadline', 'bfq'])
def test_a_modules_load_file_of_another_tool_is_neither_overwritten_nor_removed(sys_root, files, monkeypatch, scheduler):
    os.makedirs(os.path.dirname(files['modules_load_file']))
    with open(files['modules_load_file'], 'w') as handle:
        handle.write(FOREIGN_MODULES_LOAD)
    commands = commands_for(sys_root)
    result = run(monkeypatch, dict(files, devices=['vdb'], scheduler=scheduler), commands)
    assert result['failed'] and result['changed'] is False
    assert '%s exists and was not written by io_scheduler' % files['modules_load_file'] in result['msg']
    assert changing(commands) == []
    with open(files['modules_load_file']) as handle:
        assert handle.read() == FOREIGN_MODULES_LOAD
    assert not os.path.exists(files['rules_file'])


def test_a_module_added_by_hand_to_the_owned_modules_load_file_is_refused(sys_root, files, monkeypatch):
    run(monkeypatch, dict(files, devices=['vdb'], scheduler='bfq'), commands_for(sys_root))
    with open(files['modules_load_file'], 'a') as handle:
        handle.write('dm_crypt\n')
    commands = commands_for(sys_root)
    result = run(monkeypatch, dict(files, devices=['vdb'], state='absent'), commands)
    assert result['failed'] and result['changed'] is False
    assert 'lists dm_crypt, which no rule of %s needs' % files['rules_file'] in result['msg']
    assert changing(commands) == []
    assert os.path.exists(files['rules_file'])


def test_the_owned_modules_load_file_goes_with_its_last_rule(sys_root, files, monkeypatch):
    run(monkeypatch, dict(files, devices=['vdb'], scheduler='bfq'), commands_for(sys_root))
    result = run(monkeypatch, dict(files, devices=['vdb'], state='absent'), commands_for(sys_root))
    assert result['changed'] is True and not result.get('failed')
    assert not os.path.exists(files['rules_file']) and not os.path.exists(files['modules_load_file'])


def link_to_shadow(path):
    os.symlink('/etc/shadow', path)


@pytest.mark.parametrize('which', ['rules_file', 'modules_load_file'])
@pytest.mark.parametrize('plant, kind', [(os.makedirs, 'a directory'), (os.mkfifo, 'no regular file'),
                                         (link_to_shadow, 'a symbolic link')])
def test_an_owned_file_that_is_not_a_regular_file_is_refused(sys_root, files, monkeypatch, which, plant, kind):
    if not os.path.isdir(os.path.dirname(files[which])):
        os.makedirs(os.path.dirname(files[which]))
    plant(files[which])   # reading a FIFO would hang the module
    commands = commands_for(sys_root)
    result = run(monkeypatch, dict(files, devices=['vdb'], scheduler='mq-deadline'), commands)
    assert result['failed'] and result['changed'] is False
    assert '%s is %s, not a file io_scheduler wrote' % (files[which], kind) in result['msg']
    assert changing(commands) == []


def test_one_path_for_both_files_is_refused(sys_root, files, monkeypatch):
    commands = commands_for(sys_root)
    result = run(monkeypatch, dict(files, devices=['vdb'], scheduler='bfq', modules_load_file=files['rules_file']),
                 commands)
    assert result['failed'] and 'rules_file and modules_load_file are the same file' in result['msg']
    assert changing(commands) == []


# --- Point 4: changed tells the truth, also on failure -------------------------------------------

def kernel_refuses(monkeypatch, device):
    """The kernel refuses a scheduler for ``device`` (EINVAL), as for one it does not offer."""
    write_sysfs = io_scheduler.write_sysfs

    def write(path, value):
        if '/%s/' % device in path:
            raise IOError(22, 'Invalid argument')
        write_sysfs(path, value)

    monkeypatch.setattr(io_scheduler, 'write_sysfs', write)


def test_a_failed_first_write_changed_nothing(sys_root, files, monkeypatch):
    kernel_refuses(monkeypatch, 'vdb')
    result = run(monkeypatch, dict(files, devices=['vdb'], scheduler='mq-deadline'), commands_for(sys_root))
    assert result['failed'] and result['changed'] is False, result
    assert 'echo mq-deadline > %s/block/vdb/queue/scheduler failed: [Errno 22] Invalid argument' % sys_root in result['msg']
    assert not os.path.exists(files['rules_file'])


def test_a_failed_write_after_a_module_was_loaded_says_changed(sys_root, files, monkeypatch):
    kernel_refuses(monkeypatch, 'vdc')
    result = run(monkeypatch, dict(files, devices=['vdb', 'vdc'], scheduler='bfq'), commands_for(sys_root))
    assert result['failed'] and result['changed'] is True, result
    assert 'echo bfq > %s/block/vdc/queue/scheduler failed' % sys_root in result['msg']
    assert result['actions'] == ['modprobe bfq', 'echo bfq > %s/block/vdb/queue/scheduler' % sys_root,
                                 'echo bfq > %s/block/vdc/queue/scheduler' % sys_root]
    assert scheduler_of(sys_root, 'vdb') == 'bfq'


def test_a_failed_rules_write_after_the_schedulers_were_set_says_changed(sys_root, files, monkeypatch):
    with open(os.path.dirname(files['rules_file']), 'w'):
        pass   # the rules directory is a file: the write fails
    result = run(monkeypatch, dict(files, devices=['vdb'], scheduler='mq-deadline'), commands_for(sys_root))
    assert result['failed'] and result['changed'] is True, result
    assert scheduler_of(sys_root, 'vdb') == 'mq-deadline'
    assert 'write %s failed' % files['rules_file'] in result['msg']


def test_a_failed_udev_reload_after_the_rules_were_written_says_changed(sys_root, files, monkeypatch):
    commands = commands_for(sys_root, (('udevadm', 'control', '--reload'), (1, '', 'Failed to send reload request')))
    result = run(monkeypatch, dict(files, devices=['vdb'], scheduler='mq-deadline'), commands)
    assert result['failed'] and result['changed'] is True, result
    assert 'Failed to send reload request' in result['msg']
    assert os.path.exists(files['rules_file'])


def test_a_failed_modprobe_changed_nothing(sys_root, files, monkeypatch):
    commands = commands_for(sys_root, (('modprobe', 'bfq'), (1, '', 'modprobe: ERROR: could not insert bfq')))
    result = run(monkeypatch, dict(files, devices=['vdb'], scheduler='bfq'), commands)
    assert result['failed'] and result['changed'] is False, result
    assert result['actions'] == ['modprobe bfq']
    assert not os.path.exists(files['rules_file'])
