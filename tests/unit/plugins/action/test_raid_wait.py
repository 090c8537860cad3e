# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The raid_wait action's run(): a job followed by shell reads on a node whose answers are polls captured in the lab
(tests/fixtures/md_progress), on a clock the test moves - the job's own result returned and its file removed,
progress printed, stuck said, a reboot and a lost job file told, a dropped connection ridden out."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import pytest
from ansible.errors import AnsibleConnectionFailure
from ansible.playbook.task import Task
from ansible.plugins.loader import connection_loader
from ansible.playbook.play_context import PlayContext

from ansible_collections.fleet.linux.plugins.action import raid_wait
from ansible_collections.fleet.linux.plugins.module_utils.md_progress import WAIT_STEP_SECONDS

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'md_progress')
JOB_FILE = '/root/.ansible_async/j1.2'


def poll(name, job='{"started": true, "finished": false, "ansible_job_id": "j1.2"}', boot=None):
    with open(os.path.join(FIXTURES, name)) as handle:
        text = handle.read().replace('@job {}', '@job %s' % job)
    if boot:
        text = text.replace('1281e105-22e9-4983-86a8-26905e33dd95', boot)
    return text


class Node(object):
    """Answers the action's shell commands from a script of polls (an exception is raised instead of answered);
    a poll that waits on the node for the job's end takes its whole wait on ``clock`` (the job has not ended)."""

    def __init__(self, polls, clock):
        self.polls = list(polls)
        self.clock = clock
        self.commands = []

    def __call__(self, cmd, sudoable=False, **kwargs):
        self.commands.append(cmd)
        if cmd.startswith('rm -f -- '):
            return dict(rc=0, stdout='', stderr='')
        looks = re.match(r'^i=0; while \[ "\$i" -lt (\d+) \]', cmd)
        if looks:
            self.clock.sleep(int(looks.group(1)) * WAIT_STEP_SECONDS)
        answer = self.polls.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return dict(rc=0, stdout=answer, stderr='')


class Clock(object):
    def __init__(self):
        self.now = 1000.0

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture
def wait(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(raid_wait.time, 'time', clock.time)
    monkeypatch.setattr(raid_wait.time, 'sleep', clock.sleep)
    shown = []
    monkeypatch.setattr(raid_wait.display, 'display', lambda msg, **kwargs: shown.append((msg, kwargs)))
    warned = []
    monkeypatch.setattr(raid_wait.display, 'warning', lambda msg, **kwargs: warned.append(msg))

    def run(polls, check_mode=False, **args):
        task = Task()
        task.args = dict(dict(jid='j1.2'), **args)
        task.check_mode = check_mode
        play_context = PlayContext()
        connection = connection_loader.get('local', play_context)
        action = raid_wait.ActionModule(task, connection, play_context, loader=None, templar=None, shared_loader_obj=None)
        node = Node(polls, clock)
        monkeypatch.setattr(action, '_low_level_execute_command', node)
        monkeypatch.setattr(action, '_remote_expand_user', lambda path, sudoable=True: path.replace('~', '/root'))
        result = action.run(task_vars=dict(inventory_hostname='microserver'))
        return result, node
    return dict(run=run, clock=clock, shown=shown, warned=warned)


def test_the_job_result_is_returned_and_its_file_removed_with_progress_on_the_way(wait):
    done = '{"changed": true, "actions": ["mdadm --grow /dev/md0 --raid-devices=4"], "warnings": ["look"]}'
    result, node = wait['run']([poll('reshape-md0-a.txt'), poll('reshape-md0-b.txt'), poll('reshape-md0-b.txt', job=done)],
                               report_interval=60)
    assert result['changed'] is True and result['failed'] is False
    assert result['actions'] == ['mdadm --grow /dev/md0 --raid-devices=4']
    assert JOB_FILE in node.commands[0] and node.commands[-1] == 'rm -f -- %s' % JOB_FILE
    # md0 reported once when first seen busy (the second poll came 0.5 s later, within report_interval)
    assert [msg for msg, _kw in wait['shown']] == ['microserver: md0: reshape 8.9% (5.5 MiB of 62 MiB) at 341 KiB/s, about 3 min left']
    assert all(kw.get('stderr') for _msg, kw in wait['shown'])
    assert wait['warned'] == ['look']


def test_the_results_file_raid_apply_returned_is_the_one_followed(wait):
    job_file = '/var/lib/other/.ansible_async/j7.8'
    result, node = wait['run']([poll('reshape-md0-b.txt', job='{"changed": false}')], jid='j7.8', results_file=job_file)
    assert result['failed'] is False
    assert job_file in node.commands[0] and JOB_FILE not in node.commands[0]
    assert node.commands[-1] == 'rm -f -- %s' % job_file


def test_a_job_whose_process_died_without_its_result_ends_the_wait_saying_so(wait):
    """The process (pid) is looked at before the file: gone with the file still saying "started", it was killed."""
    result, node = wait['run']([poll('reshape-md0-a.txt') + '@alive yes\n', poll('reshape-md0-b.txt') + '@alive no\n'],
                               pid=2811)
    assert result['failed'] is True
    assert result['msg'].startswith('the RAID job (process 2811) ended without writing its result: it was killed')
    assert all('/proc/2811/stat' in cmd for cmd in node.commands[:2])
    assert node.commands[-1] == 'rm -f -- %s' % JOB_FILE


def test_a_job_that_ended_with_its_result_is_not_taken_for_killed(wait):
    done = '{"changed": true, "actions": []}'
    result, _node = wait['run']([poll('reshape-md0-b.txt', job=done) + '@alive no\n'], pid=2811)
    assert result['failed'] is False and result['changed'] is True


def test_polls_come_quickly_then_every_poll_interval(wait):
    running = poll('reshape-md0-b.txt')
    start = wait['clock'].now
    result, node = wait['run']([running] * 6 + [poll('reshape-md0-b.txt', job='{"changed": false}')], poll_interval=5)
    assert result['changed'] is False
    # 0.5 + 1 + 2 + 4 + 5 + 5 seconds of pauses before the seventh poll, each waited on the node for the job's end
    # in looks of 0.2 s (the first 0.6 s)
    assert wait['clock'].now == pytest.approx(start + 17.6)
    assert 'grep' not in node.commands[0]
    assert [int(re.search(r'-lt (\d+) ', cmd).group(1)) for cmd in node.commands[1:-1]] == [3, 5, 10, 20, 25, 25]


def test_md_that_stops_moving_is_said_stuck_with_what_to_do(wait):
    stuck = poll('stuck-speed-limit-0.txt')
    result, node = wait['run']([stuck] * 40, stall_timeout=30, poll_interval=5)
    assert result['failed'] and result['ansible_job_id'] == 'j1.2'
    assert result['msg'].startswith('md is stuck, not slow: no array has moved for 30 s (md0: reshape 20.2%')
    assert '/proc/sys/dev/raid/speed_limit_max is 0: raise it' in result['msg']
    assert not any(cmd.startswith('rm ') for cmd in node.commands)  # the job goes on: its file stays


def test_a_reboot_of_the_node_ends_the_wait(wait):
    result, node = wait['run']([poll('reshape-md0-a.txt'), poll('reshape-md0-a.txt', boot='another-boot')])
    assert result['failed'] and 'microserver rebooted while the RAID job ran' in result['msg']


def test_a_lost_job_file_ends_the_wait(wait):
    result, node = wait['run']([poll('reshape-md0-a.txt', job='')])
    assert result['failed'] and 'the job file %s is gone' % JOB_FILE in result['msg']


def test_a_dropped_connection_is_ridden_out(wait):
    result, node = wait['run']([AnsibleConnectionFailure('ssh: connect to host: Connection refused'),
                                poll('reshape-md0-a.txt', job='{"changed": true}')])
    assert result['changed'] is True and not result['failed']
    assert 'cannot reach the node' in wait['warned'][0]


def test_the_timeout_leaves_the_job_running(wait):
    result, node = wait['run']([poll('reshape-md0-a.txt'), poll('reshape-md0-b.txt')] * 20, timeout=10, poll_interval=5)
    assert result['failed'] and 'still runs after 10 s' in result['msg']


def test_check_mode_waits_for_nothing(wait):
    result, node = wait['run']([], check_mode=True)
    assert result['skipped'] and node.commands == []
