# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""raid_apply's main(): a RAID job's plan applied in one call - the arrays' parts against the lab guest as
captured (tests/fixtures/md), then the boot steps in order - and a failure says everything done before it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fcntl
import json
import os
import sys
import threading
import time

import pytest

from ansible_collections.fleet.linux.plugins.module_utils import detach as detach_backend
from ansible_collections.fleet.linux.plugins.module_utils import md_reshape as md_reshape_backend
from ansible_collections.fleet.linux.plugins.module_utils import raid_apply as backend
from ansible_collections.fleet.linux.plugins.module_utils import raid_survey
from ansible_collections.fleet.linux.plugins.filter.raid_reshape_plan import raid_reshape_plan
from ansible_collections.fleet.linux.plugins.module_utils.md_progress import counters_from_sysfs
from ansible_collections.fleet.linux.plugins.modules import raid_apply
from ansible_collections.fleet.linux.tests.unit.plugins.modules.harness import FakeCommands, FakeStat, run_module
from ansible_collections.fleet.linux.tests.unit.plugins.modules.test_md_reshape import AMBIVALENT, BLANK_PARTITION, SWAP, Lab

GRUB_OUTPUT = 'Installing for i386-pc platform.\nInstallation finished. No error reported.\n'


@pytest.fixture
def host(tmp_path, monkeypatch):
    wants = tmp_path / 'sysinit.target.wants'
    monkeypatch.setattr(backend, 'WANTS_DIR', str(wants))
    monkeypatch.setattr(backend, 'INITRAMFS_IMAGES', str(tmp_path / 'initrd.img-*'))
    monkeypatch.setattr(backend, 'LAST_RESORT_TIMER', '/lib/systemd/system/mdadm-last-resort@.timer')
    state = tmp_path / 'state'
    state.mkdir()
    return dict(state=state, wants=wants, commands=FakeCommands({
        ('grub-install', '--target=i386-pc', '/dev/vda'): (0, GRUB_OUTPUT, ''),
        ('grub-install', '--target=i386-pc', '/dev/vdb'): (0, GRUB_OUTPUT, ''),
        ('update-initramfs', '-u', '-k', 'all'): (0, '', ''),
    }))


def array(device, **plan):
    """An array of the job (as declared) and its plan (nothing to do unless said)."""
    spec = dict(device=device, level='0', devices=SWAP, content='swap')
    return spec, dict(dict(device=device, steps=['nothing to do'], remember={}, reshape=False, mount_boot=False,
                           grow_filesystem=False, rebuild_swap=False), **plan)


def run(host, monkeypatch, check_mode=False, arrays=(), args=None, **plan):
    """raid_apply with a plan of these boot steps and these arrays (array()), and these other parameters."""
    plan = dict(dict(arrays=[a[1] for a in arrays], initramfs=False, initramfs_if_outdated=False, grub_mkconfig=False,
                     grub_install=[], forget=[], start_degraded=[]), **plan)
    args = dict(dict(arrays=[a[0] for a in arrays], plan=plan, state_dir=str(host['state'])), **(args or {}))
    return run_module(raid_apply, args, host['commands'], check_mode=check_mode, monkeypatch=monkeypatch)


def state_files(host):
    """The owed steps remembered in the state directory (the job lock and progress file aside)."""
    return sorted(name for name in os.listdir(str(host['state'])) if name not in ('job.lock', 'progress'))


@pytest.fixture
def job(host, tmp_path, monkeypatch):
    """The host with md0, the swap RAID0 of vda3 vdb3 vdc3 (step 01) and vdd3 blank, for md0's reshape."""
    lab = Lab(tmp_path / 'lab', 'md0', '01-raid0-3-clean', monkeypatch)
    lab.blkid('/dev/vdd3', BLANK_PARTITION)
    lab.then(['mdadm', '--grow', '/dev/md0', '--backup-file=%s/md0-reshape.backup' % tmp_path, '--raid-devices=4', '--add',
              '/dev/vdd3'], '03-raid0-grow-add-reshaped')
    lab.then(['mdadm', '--grow', '/dev/md0', '--backup-file=%s/md0-reshape.backup' % tmp_path, '--level=0'], '04-raid4-to-raid0')
    for name, value in (('SYS_ROOT', os.path.join(lab.root, 'sys')), ('PROC_ROOT', os.path.join(lab.root, 'proc')),
                        ('STAT', FakeStat(lab.dev))):
        monkeypatch.setattr(raid_apply, name, value)
    monkeypatch.setattr(md_reshape_backend, 'write_atomically', lambda module, path, content: open(path, 'w').write(content))
    lab.commands.table.update(host['commands'].table)
    return dict(host, lab=lab, commands=lab.commands,
                args=dict(backup_dir=str(tmp_path), config_file=lab.config_file, poll_interval=1))


def test_the_boot_steps_run_in_order_in_one_call(host, monkeypatch):
    (host['state'] / 'md1.grub-install').write_text(u'{"level": 1}\n')
    result = run(host, monkeypatch, initramfs=True, grub_install=['/dev/vda', '/dev/vdb'],
                 forget=['md1.grub-install', 'md1.grub-mkconfig'], start_degraded=['mdadm-last-resort@md1.timer'])
    assert not result.get('failed'), result
    link = str(host['wants'] / 'mdadm-last-resort@md1.timer')
    assert result['changed'] is True
    assert result['actions'] == ['/usr/sbin/update-initramfs -u -k all',
                                 '/usr/sbin/grub-install --target=i386-pc /dev/vda',
                                 '/usr/sbin/grub-install --target=i386-pc /dev/vdb',
                                 'remove %s' % (host['state'] / 'md1.grub-install'),
                                 'link %s /lib/systemd/system/mdadm-last-resort@.timer' % link]
    assert [c[0] for c in host['commands'].calls] == ['update-initramfs', 'grub-install', 'grub-install']
    assert state_files(host) == []
    assert os.readlink(link) == '/lib/systemd/system/mdadm-last-resort@.timer'
    again = run(host, monkeypatch, start_degraded=['mdadm-last-resort@md1.timer'], forget=['md1.grub-install'])
    assert (again['changed'], again['actions']) == (False, [])


def test_owed_steps_are_remembered_as_root_files(host, monkeypatch):
    result = run(host, monkeypatch, arrays=[array('/dev/md1', remember={'md1.grub-install': '{"level": 1}\n'})])
    assert result['actions'] == ['write %s' % (host['state'] / 'md1.grub-install')]
    path = host['state'] / 'md1.grub-install'
    assert path.read_text() == u'{"level": 1}\n'
    assert oct(os.stat(str(path)).st_mode & 0o777) == oct(0o644)


def test_check_mode_returns_the_plan_and_reads_and_runs_nothing(host, monkeypatch):
    (host['state'] / 'md1.grub-install').write_text(u'{}\n')
    estimate = 'md1: convert to raid0 moves no data (a takeover)'
    summary = [{'/dev/md0': ['nothing to do']},
               {'/dev/md1': ['mdadm --grow /dev/md1 --level=0', 'grub-install on /dev/vda', estimate]},
               {'initramfs': ['update-initramfs -u -k all']}]
    result = run(host, monkeypatch, check_mode=True, arrays=[array('/dev/md0'), array('/dev/md1', reshape=True)],
                 grub_install=['/dev/vda'], forget=['md1.grub-install'], summary=summary, changes=True,
                 estimates=[{'device': '/dev/md1', 'lines': [estimate]}])
    assert result['changed'] is True
    assert result['actions'] == ['/dev/md1: mdadm --grow /dev/md1 --level=0', '/dev/md1: grub-install on /dev/vda',
                                 'initramfs: update-initramfs -u -k all']
    assert host['commands'].calls == []
    assert os.listdir(str(host['state'])) == ['md1.grub-install'] and not host['wants'].exists()


def test_a_plan_made_for_other_arrays_is_refused_before_anything(host, monkeypatch):
    spec, plan = array('/dev/md0', remember={'md0.grub-install': '{}\n'})
    result = run(host, monkeypatch, arrays=[(spec, dict(plan, device='/dev/md1'))], grub_install=['/dev/vda'])
    assert result['failed'] and result['changed'] is False and result['actions'] == []
    assert 'the plan is for the arrays /dev/md1, not for /dev/md0' in result['msg']
    assert host['commands'].calls == [] and os.listdir(str(host['state'])) == []


def test_a_failing_step_says_what_was_done_before_it(host, monkeypatch):
    (host['state'] / 'md1.grub-install').write_text(u'{}\n')
    host['commands'].add(['grub-install', '--target=i386-pc', '/dev/vdb'], 1, '', 'grub-install: error: cannot open /dev/vdb')
    result = run(host, monkeypatch, grub_install=['/dev/vda', '/dev/vdb'], forget=['md1.grub-install'])
    assert result['failed'] and result['changed'] is True
    assert result['actions'] == ['/usr/sbin/grub-install --target=i386-pc /dev/vda']
    assert 'cannot open /dev/vdb' in result['msg']
    assert state_files(host) == ['md1.grub-install']  # still owed: the next run installs GRUB again


@pytest.mark.parametrize('args', [{'forget': ['../../etc/passwd']}, {'arrays': [array('/dev/md1', remember={'/etc/cron.d/x': ''})]},
                                  {'start_degraded': ['../x.timer']}])
def test_names_that_are_paths_are_refused(host, monkeypatch, args):
    result = run(host, monkeypatch, **args)
    assert result['failed'] and result['changed'] is False and 'is not a file name of the state directory' in result['msg']


@pytest.mark.parametrize('config_age, runs', [(-100, True), (100, False)])
def test_the_initramfs_follows_mdadm_conf_only_when_newer(host, monkeypatch, tmp_path, config_age, runs):
    """After a reshape: regenerated if mdadm.conf, as the reshapes left it, is newer than an initramfs."""
    image, config = tmp_path / 'initrd.img-6.1.0-28-amd64', tmp_path / 'mdadm.conf'
    image.write_text(u'')
    config.write_text(u'ARRAY /dev/md/1 metadata=1.2 UUID=d7674c1b:0ed54b0d:45d460fe:0955b373\n')
    os.utime(str(image), (1000, 1000))
    os.utime(str(config), (1000 - config_age, 1000 - config_age))
    result = run(host, monkeypatch, initramfs=True, initramfs_if_outdated=True, args=dict(config_file=str(config)))
    assert result['actions'] == (['/usr/sbin/update-initramfs -u -k all'] if runs else [])


def md0_job_actions(job):
    """What md0's job (its owed GRUB step remembered, the reshape, mdadm.conf, GRUB on vda) reports it did."""
    return ['write %s' % (job['state'] / 'md0.grub-install'),
            'mdadm --grow /dev/md0 --backup-file=%s/md0-reshape.backup --raid-devices=4 --add /dev/vdd3' % job['args']['backup_dir'],
            'mdadm --grow /dev/md0 --backup-file=%s/md0-reshape.backup --level=0' % job['args']['backup_dir'],
            'write %s' % job['lab'].config_file, '/usr/sbin/grub-install --target=i386-pc /dev/vda']


def test_an_array_is_reshaped_after_its_owed_steps_are_remembered_and_before_the_boot_steps(job, monkeypatch):
    result = run(job, monkeypatch, arrays=[array('/dev/md0', reshape=True, remember={'md0.grub-install': '{}\n'})],
                 grub_install=['/dev/vda'], args=job['args'])
    assert not result.get('failed'), result['msg']
    assert result['changed'] is True
    assert result['actions'] == md0_job_actions(job)
    (md0,) = result['arrays']
    assert (md0['md']['after']['level'], md0['md']['after']['members'], md0['md']['finished']) == (0, SWAP, True)
    assert md0['md']['config_line'] in open(job['lab'].config_file).read()


def test_a_refusal_after_an_array_was_reshaped_says_the_host_changed_and_how(job, monkeypatch):
    """md0 reshaped, then the next array is refused: nothing more runs, and the failure lists md0's steps."""
    result = run(job, monkeypatch, arrays=[array('/dev/md0', reshape=True), array('/root/md1', reshape=True)],
                 grub_install=['/dev/vda'], args=job['args'])
    assert result['failed'] and result['changed'] is True
    assert result['msg'].startswith('/root/md1: /root/md1 is not an md array on this host')
    assert [a.split(' --backup-file')[0] for a in result['actions']] == ['mdadm --grow /dev/md0', 'mdadm --grow /dev/md0',
                                                                         'write %s' % job['lab'].config_file]
    assert not any(c[0] == 'grub-install' for c in job['commands'].calls)


def test_a_failing_reshape_step_lists_the_steps_of_the_arrays_before_it(job, monkeypatch):
    job['lab'].then(['mdadm', '--grow', '/dev/md0', '--backup-file=%s/md0-reshape.backup' % job['args']['backup_dir'], '--level=0'],
                    None, rc=1, err='mdadm: could not set level to raid0')
    result = run(job, monkeypatch, arrays=[array('/dev/md1', remember={'md1.grub-install': '{}\n'}), array('/dev/md0', reshape=True)],
                 args=job['args'])
    assert result['failed'] and result['changed'] is True
    assert 'could not set level to raid0' in result['msg']
    assert [a.split(' --backup-file')[0] for a in result['actions']] == [
        'write %s' % (job['state'] / 'md1.grub-install'), 'mdadm --grow /dev/md0']


@pytest.mark.parametrize('mounted', [True, False])
def test_boot_is_mounted_only_when_it_is_not(job, monkeypatch, mounted):
    if mounted:
        job['lab'].mount('9:1', '/boot', 'ext4', '/dev/md1')
    job['commands'].add(['udevadm', 'settle', '--timeout=30'])
    job['commands'].add(['mount', '/boot'], 32, '', 'mount: /boot: /dev/md1 already mounted on /boot.')
    monkeypatch.setattr(backend.time, 'sleep', lambda seconds: None)
    result = run(job, monkeypatch, arrays=[array('/dev/md0', mount_boot=True)], args=job['args'])
    assert result.get('failed', False) is not mounted and result['changed'] is False
    assert [c for c in job['commands'].calls if c[0] == 'mount'] == ([] if mounted else [['mount', '/boot']])
    job['commands'].add(['mount', '/boot'], 0, '', '')
    if not mounted:
        again = run(job, monkeypatch, arrays=[array('/dev/md0', mount_boot=True)], args=job['args'])
        assert (again['changed'], again['actions']) == (True, ['/usr/sbin/mount /boot'])


def test_boot_mounted_by_systemd_while_mount_ran_is_not_a_failure(job, monkeypatch):
    """The race seen in the lab: systemd mounts /boot as the array reads right again; mount then fails busy."""
    def systemd_wins(_argv):
        job['lab'].mount('9:1', '/boot', 'ext4', '/dev/md1')
        return 32, '', 'mount: /boot: /dev/md1 already mounted or mount point busy.'
    job['commands'].add(['udevadm', 'settle', '--timeout=30'])
    job['commands'].table[('mount', '/boot')] = systemd_wins
    monkeypatch.setattr(backend.time, 'sleep', lambda seconds: None)
    result = run(job, monkeypatch, arrays=[array('/dev/md0', mount_boot=True)], args=job['args'])
    assert not result.get('failed'), result['msg']
    assert (result['changed'], result['actions']) == (False, [])


def held_lock(host, process=b'4242'):
    """The job lock as another raid_apply holds it (its own open file description)."""
    lock = os.open(str(host['state'] / 'job.lock'), os.O_RDWR | os.O_CREAT, 0o600)
    os.write(lock, process + b'\n')
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return lock


def test_a_second_job_still_running_at_the_timeout_is_refused_before_anything(host, monkeypatch):
    lock = held_lock(host)
    try:
        result = run(host, monkeypatch, grub_install=['/dev/vda'], args=dict(timeout=0))
    finally:
        os.close(lock)
    assert result['failed'] and result['changed'] is False and result['actions'] == []
    assert 'another RAID job (raid_apply, process 4242) still runs on this host' in result['msg']
    assert host['commands'].calls == []


def test_a_job_started_while_another_runs_waits_for_it_then_does_nothing_but_say_so(host, monkeypatch):
    """A controller run interrupted and started again: the new job waits for the running one (raid_wait shows md's
    progress meanwhile), then changes nothing - its plan was made while the other ran - and says whom it waited for."""
    (host['state'] / 'progress').write_text(u'2026-12-03T23:10:02Z md1: reshape 40.0% (25 MiB of 62 MiB) at 1000 KiB/s\n')
    lock = held_lock(host)
    monkeypatch.setattr(backend, 'LOCK_POLL_SECONDS', 0.01)
    releases = threading.Timer(0.2, os.close, [lock])
    releases.start()
    try:
        result = run(host, monkeypatch, grub_install=['/dev/vda'], args=dict(timeout=60))
    finally:
        releases.join()
    assert not result.get('failed'), result
    assert result['changed'] is False and result['actions'] == [] and host['commands'].calls == []
    assert result['waited_for_job'] == dict(process='4242', last='2026-12-03T23:10:02Z md1: reshape 40.0% (25 MiB of 62 MiB) at 1000 KiB/s')


def test_the_job_lock_is_taken_and_let_go(host, monkeypatch):
    result = run(host, monkeypatch, grub_install=['/dev/vda'])
    assert not result.get('failed'), result
    lock = os.open(str(host['state'] / 'job.lock'), os.O_RDWR)
    try:
        assert os.read(lock, 32).decode().strip().isdigit()
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if the module had kept it
    finally:
        os.close(lock)


def test_a_link_planted_as_the_job_lock_is_refused(host, monkeypatch, tmp_path):
    target = tmp_path / 'elsewhere'
    target.write_text(u'')
    os.symlink(str(target), str(host['state'] / 'job.lock'))
    result = run(host, monkeypatch, grub_install=['/dev/vda'])
    assert result['failed'] and result['changed'] is False
    assert 'symbolic link' in result['msg'] and host['commands'].calls == []


def test_the_progress_file_says_how_the_job_ended(host, monkeypatch):
    result = run(host, monkeypatch, grub_install=['/dev/vda'])
    assert not result.get('failed'), result
    line = (host['state'] / 'progress').read_text()
    assert line.endswith(' finished: 1 actions\n') and line.startswith('20')
    host['commands'].add(['grub-install', '--target=i386-pc', '/dev/vdb'], 1, '', 'grub-install: error: cannot open /dev/vdb')
    result = run(host, monkeypatch, grub_install=['/dev/vdb'])
    assert result['failed']
    assert (host['state'] / 'progress').read_text().endswith(' ended with a failure (see the run that started it)\n')


def test_md_progress_goes_to_the_progress_file_at_most_every_few_seconds(host, monkeypatch):
    """What md_reshape reports while it waits for an array (md's counters), as a person reads it with cat."""
    clock = [1000.0]
    monkeypatch.setattr(backend.time, 'time', lambda: clock[0])
    module = type('Module', (), dict(params=dict(plan={}, state_dir=str(host['state'])), selinux_enabled=lambda self: False))()
    job = backend.JobApply(module, None)
    md0 = counters_from_sysfs('md0', dict(sync_action='reshape', array_state='clean', sync_speed='368',
                                          sync_speed_max='200000 (system)', reshape_position='102400',
                                          sync_completed='25600 / 126976'))
    job.report(md0)
    assert (host['state'] / 'progress').read_text() == (
        '1970-01-01T00:16:40Z md0: reshape 20.2% (12 MiB of 62 MiB) at 368 KiB/s, about 2 min left\n')
    clock[0] += backend.PROGRESS_SECONDS - 1
    job.report(dict(md0, done=50000))
    assert '20.2%' in (host['state'] / 'progress').read_text()
    clock[0] += 1
    job.report(dict(md0, done=50000))
    assert '39.4%' in (host['state'] / 'progress').read_text()


@pytest.fixture
def detached(monkeypatch, tmp_path):
    """raid_apply's detach with its async directory in tmp_path and the payload AnsiballZ would leave: the call's end
    exits as sys.exit (the harness's), not os._exit."""
    monkeypatch.setattr(raid_apply, 'ASYNC_DIR', str(tmp_path / 'async'))
    monkeypatch.setattr(detach_backend, '_exit_call', sys.exit)
    payload = tmp_path / 'ansible_raid_apply_payload_x'
    payload.mkdir()
    monkeypatch.setattr(detach_backend, 'payload_directory', lambda module_file: str(payload))
    return dict(async_dir=tmp_path / 'async', payload=payload)


def running(pid):
    """Whether the process runs (a zombie, left for whoever reaps orphans here, does not)."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().rsplit(') ', 1)[1].split()[0] not in ('Z', 'X', 'x')
    except (IOError, OSError):
        return False


def job_result(path, timeout=60):
    """The job file once the job in the background has ended."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path) as handle:
            result = json.load(handle)
        if 'started' not in result:
            return result
        time.sleep(0.05)
    raise AssertionError('the job in the background did not end within %d s: %s' % (timeout, result))


def test_detached_the_call_returns_at_once_and_the_job_file_gets_the_jobs_result(job, monkeypatch, detached):
    result = run(job, monkeypatch, arrays=[array('/dev/md0', reshape=True, remember={'md0.grub-install': '{}\n'})],
                 grub_install=['/dev/vda'], args=dict(job['args'], detach=True))
    assert not result.get('failed'), result
    assert result['changed'] is False and result['job_id'].startswith('j')
    assert isinstance(result['pid'], int) and result['pid'] != os.getpid()
    assert result['results_file'] == str(detached['async_dir'] / result['job_id'])
    assert job['commands'].calls == []  # the job runs in its own process
    assert oct(os.stat(str(detached['async_dir'])).st_mode & 0o777) == oct(0o700)
    ended = job_result(result['results_file'])
    assert not ended.get('failed'), ended
    assert ended['changed'] is True
    assert ended['actions'] == md0_job_actions(job)
    assert ended['arrays'][0]['md']['finished'] is True
    assert not detached['payload'].exists()  # the job let AnsiballZ's payload go when it ended
    deadline = time.time() + 30
    while running(result['pid']) and time.time() < deadline:
        time.sleep(0.05)
    assert not running(result['pid'])  # the job's process, told by the call, has ended
    assert sorted(os.listdir(str(detached['async_dir']))) == [result['job_id']]


def test_detached_a_failing_job_writes_its_failure_saying_what_was_done(job, monkeypatch, detached):
    job['lab'].then(['mdadm', '--grow', '/dev/md0', '--backup-file=%s/md0-reshape.backup' % job['args']['backup_dir'], '--level=0'],
                    None, rc=1, err='mdadm: could not set level to raid0')
    result = run(job, monkeypatch, arrays=[array('/dev/md0', reshape=True)], args=dict(job['args'], detach=True))
    ended = job_result(result['results_file'])
    assert ended['failed'] is True and ended['changed'] is True
    assert 'could not set level to raid0' in ended['msg']
    assert [a.split(' --backup-file')[0] for a in ended['actions']] == ['mdadm --grow /dev/md0']


def test_detached_check_mode_returns_the_plan_and_starts_nothing(job, monkeypatch, detached):
    result = run(job, monkeypatch, check_mode=True, arrays=[array('/dev/md0', reshape=True)], changes=True,
                 summary=[{'/dev/md0': ['grow md0 to 4 devices']}], args=dict(job['args'], detach=True))
    assert 'job_id' not in result and result['changed'] is True and result['actions'] == ['/dev/md0: grow md0 to 4 devices']
    assert not detached['async_dir'].exists() and job['commands'].calls == []


@pytest.mark.parametrize('plant', ['link', 'writable'])
def test_detached_an_async_directory_others_could_write_in_is_refused_before_anything(job, monkeypatch, detached, tmp_path, plant):
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    if plant == 'link':
        detached['async_dir'].symlink_to(elsewhere)
    else:
        detached['async_dir'].mkdir()
        detached['async_dir'].chmod(0o777)
    result = run(job, monkeypatch, arrays=[array('/dev/md0', reshape=True)], args=dict(job['args'], detach=True))
    assert result['failed'] and result['changed'] is False
    assert result['msg'].startswith('cannot start the job in the background: %s must be a directory' % detached['async_dir'])
    assert job['commands'].calls == [] and os.listdir(str(elsewhere)) == []


@pytest.fixture
def planning(job, tmp_path, monkeypatch):
    """The job's host as raid_apply's own survey (planning) reads it: the lab's md0 with /dev, fstab, /boot and the
    systemd directory in tmp_path."""
    dev = tmp_path / 'devnodes'
    dev.mkdir()
    fstab = tmp_path / 'fstab'
    fstab.write_text(u'')
    (tmp_path / 'boot').mkdir()
    monkeypatch.setattr(raid_apply, 'DEV_ROOT', str(dev))
    for name, value in (('FSTAB', str(fstab)), ('INITRAMFS_DIR', str(tmp_path / 'boot')), ('SYSTEMD_WANTS', str(job['wants']))):
        monkeypatch.setattr(raid_survey, name, value)
    return job


def plan_and_apply(job, monkeypatch, check_mode=False, **args):
    """raid_apply reading and planning md0's grow to four members itself (planning), then applying it."""
    args = dict(dict(job['args'], arrays=[dict(device='/dev/md0', level='0', devices=SWAP)], state_dir=str(job['state']),
                     planning=dict(update_initramfs=False)), **args)
    return run_module(raid_apply, args, job['commands'], check_mode=check_mode, monkeypatch=monkeypatch)


def mdadm_grows(job):
    return [c for c in job['commands'].calls if c[:2] == ['mdadm', '--grow']]


def test_planning_reads_plans_and_applies_in_one_call(planning, monkeypatch):
    result = plan_and_apply(planning, monkeypatch)
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is True
    assert result['plan']['changes'] is True and result['plan']['refusals'] == []
    options = {'update_initramfs': False, 'config_file': planning['lab'].config_file}
    assert result['plan'] == raid_reshape_plan(result['survey'], options)
    assert result['survey']['arrays'][0]['md']['before']['members'] == SWAP[:3]
    assert [a.split(' --backup-file')[0] for a in result['actions']] == [
        'mdadm --grow /dev/md0', 'mdadm --grow /dev/md0', 'write %s' % planning['lab'].config_file]
    assert len(mdadm_grows(planning)) == 2
    progress = (planning['state'] / 'progress').read_text()
    again = plan_and_apply(planning, monkeypatch)
    assert not again.get('failed'), again.get('msg')
    assert (again['changed'], again['actions'], again['plan']['changes']) == (False, [], False)
    assert len(mdadm_grows(planning)) == 2  # nothing to do: no job ran
    assert (planning['state'] / 'progress').read_text() == progress


def test_planning_in_check_mode_reads_and_plans_and_changes_nothing(planning, monkeypatch):
    result = plan_and_apply(planning, monkeypatch, check_mode=True)
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is True
    assert [a.split(' --backup-file')[0] for a in result['actions']] == ['/dev/md0: mdadm --grow /dev/md0'] * 2
    assert result['plan']['summary'][0]['/dev/md0'][0].startswith('mdadm --grow /dev/md0')
    assert mdadm_grows(planning) == [] and planning['lab'].writes() == []
    assert os.listdir(str(planning['state'])) == []


def test_planning_a_refusal_of_the_survey_fails_before_anything(planning, monkeypatch):
    planning['lab'].blkid('/dev/vdd3', AMBIVALENT)
    result = plan_and_apply(planning, monkeypatch)
    assert result['failed'] and result['changed'] is False and result['actions'] == []
    assert result['msg'].startswith('/dev/md0: /dev/vdd3 holds')
    assert result['refusals'] == [result['msg']] and 'plan' not in result
    assert mdadm_grows(planning) == [] and planning['lab'].writes() == []
    assert os.listdir(str(planning['state'])) == []


def test_planning_a_refusal_of_the_plan_fails_before_anything(planning, monkeypatch):
    result = plan_and_apply(planning, monkeypatch, planning=dict(update_initramfs=False, backup_min_free_mib=1 << 40))
    assert result['failed'] and result['changed'] is False and result['actions'] == []
    assert result['refusals'] == result['plan']['refusals'] and 'free' in result['msg']
    assert mdadm_grows(planning) == [] and planning['lab'].writes() == []


def test_planning_takes_no_plan_of_its_own_and_needs_one_of_the_two(planning, monkeypatch):
    both = plan_and_apply(planning, monkeypatch, plan={'arrays': []})
    assert both['failed'] and 'mutually exclusive' in both['msg']
    neither = plan_and_apply(planning, monkeypatch, planning=None)
    assert neither['failed'] and neither['msg'].startswith('give the plan to apply (plan), or planning')
    assert planning['commands'].calls == []


def test_planning_detached_returns_the_plan_with_the_job(planning, monkeypatch, detached):
    result = plan_and_apply(planning, monkeypatch, detach=True)
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is False and result['job_id'].startswith('j') and result['plan']['changes'] is True
    assert mdadm_grows(planning) == []  # the job runs in its own process
    ended = job_result(result['results_file'])
    assert not ended.get('failed'), ended
    assert ended['changed'] is True and len(ended['actions']) == 3
