# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""raid_wait: wait on the controller for a RAID job started in the background (raid_apply's detach, or async
with poll 0), printing md's progress.

Each poll is one shell command on the node (the job's async result file and md's counters: no Python
start there, where async_status costs seconds of a Pi's or a TCG guest's CPU, stolen from the job). Polls
come quickly at first (a small job ends in seconds), then every poll_interval; between two polls the
node itself waits for the job's end, looking at its file, so that the end is seen at once.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time
from shlex import quote

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.fleet.linux.plugins.module_utils.md_progress import (
    StallWatch, job_finished, parse_poll, poll_command, progress_line, stuck_advice)

display = Display()

FIRST_POLL_SECONDS = 0.5
ARGUMENT_SPEC = dict(
    jid=dict(type='str', required=True),
    results_file=dict(type='str'),
    pid=dict(type='int'),
    timeout=dict(type='int', default=10800),
    poll_interval=dict(type='float', default=5),
    stall_timeout=dict(type='int', default=600),
    report_interval=dict(type='int', default=60),
)


class ActionModule(ActionBase):

    _requires_connection = True
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if self._task.check_mode:
            result.update(skipped=True, msg='check mode: no job to wait for')
            return result
        host = (task_vars or {}).get('inventory_hostname', self._connection._play_context.remote_addr)
        job_file = args['results_file']
        if not job_file:
            async_dir = self._remote_expand_user(self.get_shell_option('async_dir', default='~/.ansible_async'))
            job_file = self._connection._shell.join_path(async_dir, args['jid'])
        watch = StallWatch(args['stall_timeout'])
        deadline = time.time() + args['timeout']
        reported = {}
        boot_id = None
        pause, wait = FIRST_POLL_SECONDS, 0
        while True:
            try:
                polled = self._poll(poll_command(job_file, wait, args['pid']))
            except AnsibleConnectionFailure as error:
                display.warning('%s: cannot reach the node to look at the job (%s); trying again' % (host, error))
                polled = None
                time.sleep(pause)
            now = time.time()
            if polled is not None:
                if boot_id is None:
                    boot_id = polled['boot_id']
                elif polled['boot_id'] != boot_id:
                    result.update(failed=True, msg='%s rebooted while the RAID job ran: the job is gone. Run the playbook '
                                                   'again: it reads the arrays as the reboot left them and goes on.' % host)
                    return result
                job = polled['job']
                if job is None:
                    result.update(failed=True, msg='the job file %s is gone or unreadable: the job cannot be followed. '
                                                   'Look at /proc/mdstat, then run the playbook again.' % job_file)
                    return result
                if job_finished(job):
                    self._cleanup(job_file)
                    return self._finish(result, job)
                if polled['alive'] is False:
                    self._cleanup(job_file)
                    result.update(failed=True, msg=(
                        'the RAID job (process %d) ended without writing its result: it was killed (out of memory? '
                        'journalctl -k) or died. md goes on with what it was doing (cat /proc/mdstat; the progress file '
                        'in the state directory says what the job was doing). Run the playbook again: it reads the '
                        'arrays as the job left them and goes on.' % args['pid']))
                    return result
                self._report(host, polled['arrays'], reported, now, args['report_interval'])
                stuck = watch.update(polled['arrays'], now)
                if stuck:
                    result.update(failed=True, ansible_job_id=args['jid'], msg=(
                        'md is stuck, not slow: no array has moved for %d s (%s). What to do: %s. The job (async id %s) '
                        'goes on waiting in the background and carries on by itself once md moves; a run of the playbook '
                        'started meanwhile follows it until it ends, then plans again.' % (
                            args['stall_timeout'], '; '.join(progress_line(a) for a in stuck),
                            '; '.join(stuck_advice(stuck, polled['limits'])), args['jid'])))
                    return result
            if now >= deadline:
                result.update(failed=True, ansible_job_id=args['jid'], msg=(
                    'the RAID job (async id %s) still runs after %d s: it goes on in the background (cat /proc/mdstat); '
                    'run the playbook again once it has ended, or give a longer timeout.' % (args['jid'], args['timeout'])))
                return result
            # The next poll waits on the node for the job's end, up to the pause (its end is seen at once).
            wait = min(pause, max(deadline - now, 0))
            pause = min(pause * 2, args['poll_interval'])

    def _poll(self, command):
        out = self._low_level_execute_command(command, sudoable=True)
        if out['rc'] == 255:
            raise AnsibleConnectionFailure('exit 255: %s' % out['stderr'].strip())
        if out['rc'] != 0:
            raise AnsibleActionFail('looking at the job failed (exit %s): %s' % (out['rc'], out['stderr'].strip()))
        return parse_poll(out['stdout'])

    def _cleanup(self, job_file):
        self._low_level_execute_command('rm -f -- %s' % quote(job_file), sudoable=True)

    def _report(self, host, arrays, reported, now, interval):
        """A progress line per busy array, when it starts and then every ``interval`` seconds (stderr: the
        stdout callback's output stays as it is)."""
        for name, array in sorted(arrays.items()):
            if array['action'] == 'idle' and array['done'] is None:
                reported.pop(name, None)
                continue
            if name not in reported or now - reported[name] >= interval:
                reported[name] = now
                display.display('%s: %s' % (host, progress_line(array)), stderr=True)

    @staticmethod
    def _finish(result, job):
        for warning in job.pop('warnings', None) or []:
            display.warning(str(warning))
        job.pop('deprecations', None)
        result.update(job)
        result['changed'] = bool(job.get('changed'))
        result['failed'] = bool(job.get('failed'))
        return result
