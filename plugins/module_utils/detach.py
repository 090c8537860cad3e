# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module's long job run in the background from an ordinary (pipelined) module call.

What ``async`` with ``poll: 0`` gives - the call returns at once, the job goes on whatever happens to the
connection, its result lands in a job file in async's format (``~/.ansible_async/JID``: ``{"started": 1, ...}``
while it runs, the module's result once it has ended) - without async's cost on a slow node: async uploads the
module and async_wrapper and starts Python a second time for the job. Here the module's own process forks
(twice, in a new session, as async_wrapper does): the call returns the job id, and the job runs on in the
already started interpreter, its result (what exit_json or fail_json printed) written to the job file.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io
import json
import os
import random
import shutil
import stat
import sys
import tempfile
import traceback

ASYNC_DIR = '~/.ansible_async'


def _exit_call(code):
    """End the module's call without unwinding into AnsiballZ's wrapper, which would remove the payload the
    job in the background still imports from (the job removes it when it ends)."""
    os._exit(code)


def job_directory(path):
    """The async directory, created 0700 if missing; refused (OSError) when it is a link, not a directory, not
    the caller's or writable by others: the job file must not be written where someone else can plant a link."""
    path = os.path.expanduser(path)
    if not os.path.lexists(path):
        os.makedirs(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise OSError('%s must be a directory of user %d that no one else can write (it is %s, user %d, mode %o): '
                      'remove it and run again' % (path, os.geteuid(), 'a directory' if stat.S_ISDIR(info.st_mode)
                                                   else 'a link or file', info.st_uid, stat.S_IMODE(info.st_mode)))
    return path


def write_job_file(path, result):
    """Write ``result`` as the job file at once (a new file renamed over it: a reader sees the old or the new)."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.' + os.path.basename(path) + '.')
    try:
        with os.fdopen(handle, 'w') as out:
            json.dump(result, out)
            out.flush()
            os.fsync(out.fileno())
        os.rename(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def result_of(printed):
    """The module's result from what exit_json or fail_json printed (the last line that is a JSON object)."""
    for line in reversed(printed.splitlines()):
        line = line.strip()
        if line.startswith('{'):
            try:
                return json.loads(line)
            except ValueError:
                break
    return dict(failed=True, msg='the job in the background ended without a result: %s' % printed.strip()[-2000:])


def run_captured(body):
    """Run ``body`` (which ends in the module's exit_json or fail_json) and return the module's result."""
    printed = io.StringIO()
    stdout, sys.stdout = sys.stdout, printed
    try:
        body()
    except SystemExit:
        pass
    except BaseException:
        return dict(failed=True, msg='the job in the background failed: %s' % traceback.format_exc())
    finally:
        sys.stdout = stdout
    return result_of(printed.getvalue())


def payload_directory(module_file):
    """AnsiballZ's temporary directory holding the zip ``module_file`` was imported from, or None when the code
    does not run from one (tests, a module run from its source)."""
    marker = '.zip' + os.sep
    if marker not in module_file:
        return None
    archive = module_file.split(marker, 1)[0] + '.zip'
    directory = os.path.dirname(archive)
    name = os.path.basename(directory)
    if os.path.isfile(archive) and name.startswith('ansible_') and '_payload_' in name:
        return directory
    return None


def _background(job_file, body, payload, tell):
    """The job's own process, detached from the call's session and pipes, its process id written to ``tell``;
    never returns."""
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        os.write(tell, str(os.getpid()).encode('ascii'))
        os.close(tell)
    except BaseException:
        write_job_file(job_file, dict(failed=True, msg='the job could not start in the background: %s' % traceback.format_exc()))
        os._exit(1)
    try:
        os.chdir('/')
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        result = run_captured(body)
    except BaseException:
        result = dict(failed=True, msg='the job in the background failed: %s' % traceback.format_exc())
    # The payload goes first: once the result is in the job file, nothing of the job is left.
    if payload:
        shutil.rmtree(payload, ignore_errors=True)
    code = 1
    try:
        write_job_file(job_file, result)
        code = 0
    finally:
        os._exit(code)


def detach(module, body, async_dir=ASYNC_DIR, result=None):
    """Start ``body`` (the rest of the module, ending in exit_json or fail_json) in the background and end the
    module's call with ``job_id`` and ``results_file``, as async with poll 0 does, and ``pid``, the job's process
    (a follower can tell a job killed before its result from one still running), with ``result``'s items. Fails the
    module, nothing started, when the job file cannot be written."""
    try:
        directory = job_directory(async_dir)
        job_id = 'j%d.%d' % (random.randint(0, 999999999999), os.getpid())
        job_file = os.path.join(directory, job_id)
        write_job_file(job_file, dict(started=1, finished=0, ansible_job_id=job_id))
    except (IOError, OSError) as error:
        module.fail_json(msg='cannot start the job in the background: %s' % error, changed=False)
    payload = payload_directory(__file__)
    sys.stdout.flush()
    told, tell = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(told)
        _background(job_file, body, payload, tell)
    os.close(tell)
    os.waitpid(child, 0)
    with os.fdopen(told, 'rb') as reader:
        pid = reader.read().decode('ascii')  # until both children have let the pipe go
    try:
        module.exit_json(changed=False, job_id=job_id, results_file=job_file, pid=int(pid) if pid.isdigit() else None,
                         **(result or {}))
    except SystemExit as ended:
        sys.stdout.flush()
        _exit_call(ended.code or 0)
