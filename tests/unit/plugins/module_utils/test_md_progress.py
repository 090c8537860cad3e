# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""md_progress: the raid_wait action's poll output (captured from the lab guest during a throttled reshape of
md0, and once its speed limits were set to 0), its progress lines, and stuck-versus-slow."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import subprocess
import time

import pytest
from hypothesis import given, strategies as st

from ansible_collections.fleet.linux.plugins.module_utils.md_progress import (
    StallWatch, job_finished, parse_md_line, parse_poll, poll_command, progress_line, stuck_advice)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'md_progress')
# The POSIX shell raid_wait's poll runs in on Debian (its /bin/sh).
SHELL = '/bin/dash' if os.path.exists('/bin/dash') else '/bin/sh'


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def test_a_reshape_in_the_lab_reads_as_md_counts_it():
    polled = parse_poll(fixture('reshape-md0-a.txt'))
    assert polled['job'] is None  # no job file given: the command prints {}
    assert polled['boot_id'] == '1281e105-22e9-4983-86a8-26905e33dd95'
    assert polled['limits'] == (100, 300)
    md0, md1 = polled['arrays']['md0'], polled['arrays']['md1']
    assert (md0['action'], md0['speed'], md0['speed_max'], md0['speed_max_own'], md0['done'], md0['total']) == \
        ('reshape', 341, 300, False, 11264, 126976)
    assert (md1['action'], md1['done'], md1['speed']) == ('idle', None, None)


def test_the_progress_line_gives_percent_size_speed_and_time_left():
    md0 = parse_poll(fixture('reshape-md0-b.txt'))['arrays']['md0']
    # 25600 of 126976 sectors at 368 KiB/s: 50688 KiB left, 137 s.
    assert progress_line(md0) == 'md0: reshape 20.2% (12 MiB of 62 MiB) at 368 KiB/s, about 2 min left'


def test_an_array_that_does_not_move_says_so():
    md0 = parse_poll(fixture('stuck-speed-limit-0.txt'))['arrays']['md0']
    assert progress_line(md0) == 'md0: reshape 20.2% (12 MiB of 62 MiB), not moving now'


def test_the_advice_names_what_md_shows():
    polled = parse_poll(fixture('stuck-speed-limit-0.txt'))
    advice = stuck_advice([polled['arrays']['md0']], polled['limits'])
    # md0 follows the system's limit ("0 (system)"): the system's limit is what to raise.
    assert advice == ['/proc/sys/dev/raid/speed_limit_max is 0: raise it (for example to 200000)']
    own = parse_md_line('md1|recover|read-auto|0|0|none|10 / 100')
    advice = stuck_advice([own], (1000, 200000))
    assert advice[0].startswith('md1 is read-auto') and '`mdadm --readwrite /dev/md1`' in advice[0]
    assert advice[1] == 'md1 has sync_speed_max 0: raise /sys/block/md1/md/sync_speed_max'
    frozen = parse_md_line('md2|frozen|clean|0|200000 (system)|none|none')
    assert 'echo idle > /sys/block/md2/md/sync_action' in stuck_advice([frozen], (1000, 200000))[0]
    assert 'dmesg' in stuck_advice([parse_md_line('md3|reshape|clean|0|200000 (system)|8|8 / 16')], (1000, 200000))[0]


@pytest.mark.parametrize('text, finished', [
    ('{}', False),  # no job file (the command prints {}): nothing ended
    ('{"started": true, "finished": false, "ansible_job_id": "j1.2"}', False),
    ('{"started": 1, "finished": 0, "ansible_job_id": "j1.2"}', False),  # ansible-core before 2.19
    ('{"changed": true, "actions": []}', True),
    ('{"failed": true, "msg": "boom"}', True),
])
def test_the_job_has_ended_when_its_file_holds_the_module_result(text, finished):
    job = parse_poll('@job %s\n' % text)['job']
    assert job_finished(job) is finished


def test_a_missing_or_torn_job_file_reads_as_none():
    assert parse_poll('@job \n@boot x\n')['job'] is None
    assert parse_poll('@job {"started": tr\n')['job'] is None


def test_stuck_only_when_no_busy_array_moved_for_the_whole_time():
    moving = parse_poll(fixture('reshape-md0-a.txt'))['arrays']
    later = parse_poll(fixture('reshape-md0-b.txt'))['arrays']
    watch = StallWatch(30)
    assert watch.update(moving, 0) == []
    assert watch.update(moving, 29) == []
    assert [a['name'] for a in watch.update(moving, 30)] == ['md0']
    watch = StallWatch(30)
    assert watch.update(moving, 0) == [] and watch.update(later, 25) == [] and watch.update(later, 50) == []
    idle = dict(md1=parse_md_line('md1|idle|clean|none|200000 (system)|none|none'))
    watch = StallWatch(30)
    assert watch.update(idle, 0) == [] and watch.update(idle, 1000) == []  # nothing busy: not md's to finish


@given(st.lists(st.tuples(st.integers(0, 10 ** 6), st.booleans()), min_size=1, max_size=30), st.integers(1, 100))
def test_stuck_is_said_only_after_stall_timeout_without_any_change(samples, stall_timeout):
    watch = StallWatch(stall_timeout)
    now, last_change, previous = 0, 0, None
    for done, advance in samples:
        now += 7
        arrays = dict(md0=parse_md_line('md0|reshape|clean|10|200000 (system)|none|%d / %d' % (done, 10 ** 6 + 1)))
        if done != previous:
            last_change, previous = now, done
        stuck = watch.update(arrays, now)
        assert bool(stuck) == (now - last_change >= stall_timeout)


def test_the_poll_command_runs_in_a_posix_shell(tmp_path):
    """The command on a fake host: the job file printed as is, a missing one as {}, no md arrays."""
    job = tmp_path / 'j1.2'
    job.write_text(u'{"changed": false}')
    out = subprocess.check_output([SHELL, '-c', poll_command(str(job))]).decode()
    polled = parse_poll(out)
    assert polled['job'] == {'changed': False} and polled['boot_id']
    missing = parse_poll(subprocess.check_output([SHELL, '-c', poll_command(str(tmp_path / 'gone'))]).decode())
    assert missing['job'] is None


def test_the_poll_reads_md_counters_with_the_shells_own_read(tmp_path):
    """Each array's counters from sysfs (an array without sync_action, as a RAID0, is left out), with no
    program but cat and sleep on PATH: a process per counter cost the guest 1.4 s a poll under TCG."""
    counters = dict(sync_action='reshape', array_state='clean', sync_speed='1024', sync_speed_max='200000 (system)',
                    reshape_position='3840', sync_completed='3840 / 194560')
    for name, files in (('md1', counters), ('md0', dict(array_state='clean'))):
        md = tmp_path / 'sys' / 'block' / name / 'md'
        md.mkdir(parents=True)
        for field, value in files.items():
            (md / field).write_text(u'%s\n' % value)
    tools = tmp_path / 'bin'
    tools.mkdir()
    for tool in ('cat', 'sleep'):
        os.symlink(shutil.which(tool), str(tools / tool))
    job = tmp_path / 'j1.2'
    job.write_text(u'{"started": 1, "finished": 0, "ansible_job_id": "j1.2"}')
    command = poll_command(str(job), wait=0.4, pid=os.getpid(), sys_root=str(tmp_path / 'sys'))
    run = subprocess.run([SHELL, '-c', command], env=dict(PATH=str(tools)), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=60, check=True)
    assert run.stderr == b''
    polled = parse_poll(run.stdout.decode())
    assert [line for line in run.stdout.decode().splitlines() if line.startswith('@md')] == [
        '@md md1|reshape|clean|1024|200000 (system)|3840|3840 / 194560']
    assert polled['arrays'] == dict(md1=parse_md_line('md1|reshape|clean|1024|200000 (system)|3840|3840 / 194560'))
    assert polled['alive'] is True and polled['job']['started'] == 1 and polled['boot_id']


def test_the_poll_waits_on_the_node_until_the_job_has_ended(tmp_path):
    """A started job is waited for (up to the wait, then printed as it is); an ended one is printed at once."""
    job = tmp_path / 'j1.2'
    job.write_text(u'{"started": 1, "finished": 0, "ansible_job_id": "j1.2"}')
    assert 'while' not in poll_command(str(job))
    # The job ends while the poll waits on the node: the poll prints its result (no second poll needed).
    writer = subprocess.Popen([SHELL, '-c', 'sleep 0.5; printf \'{"changed": true}\' >%s.tmp; mv %s.tmp %s' % ((job,) * 3)])
    polled = parse_poll(subprocess.check_output([SHELL, '-c', poll_command(str(job), wait=120)], timeout=60).decode())
    writer.wait()
    assert polled['job'] == {'changed': True} and job_finished(polled['job'])
    # Still running when the wait is over: printed as it is.
    job.write_text(u'{"started": 1, "finished": 0, "ansible_job_id": "j1.2"}')
    polled = parse_poll(subprocess.check_output([SHELL, '-c', poll_command(str(job), wait=0.4)], timeout=60).decode())
    assert polled['job']['started'] == 1 and not job_finished(polled['job'])
    # A missing job file ends the wait at once (and reads as no job).
    missing = parse_poll(subprocess.check_output([SHELL, '-c', poll_command(str(tmp_path / 'gone'), wait=120)],
                                                 timeout=60).decode())
    assert missing['job'] is None


def test_the_poll_says_whether_the_jobs_process_runs(tmp_path):
    """A running process (even named with ') ' in it) is alive; an ended one, reaped or still a zombie, is not; without
    a pid nothing is said."""
    job = tmp_path / 'j1.2'
    job.write_text(u'{"started": 1, "finished": 0, "ansible_job_id": "j1.2"}')

    def polled(pid):
        return parse_poll(subprocess.check_output([SHELL, '-c', poll_command(str(job), pid=pid)], timeout=60).decode())
    assert polled(None)['alive'] is None
    odd = tmp_path / 'a) b'
    os.symlink('/bin/sleep', str(odd))
    running = subprocess.Popen([str(odd), '60'])
    try:
        assert polled(running.pid)['alive'] is True
    finally:
        running.kill()
    time.sleep(0.2)
    assert polled(running.pid)['alive'] is False  # a zombie: not reaped yet
    running.wait()
    assert polled(running.pid)['alive'] is False
    assert polled(running.pid)['job']['started'] == 1
