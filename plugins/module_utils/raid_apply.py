# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""raid_apply's backend: a RAID job's plan (the raid_reshape_plan filter over raid_plan's survey) applied in
one module call, array by array (remember the owed boot steps, reshape, mount /boot, grow the filesystem or
re-create the swap), then the host's boot steps.

Each part reads and checks the array again before it acts, as md_reshape, fs_grow and swap_rebuild do alone,
and whatever fails, the failure says everything the job did before it (TruthfulModule).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import glob
import os
import time

from ansible_collections.fleet.linux.plugins.module_utils.common import (
    CommandRunner, Refusal, check_regular, command_line, open_directory, read_no_follow, write_atomically)
from ansible_collections.fleet.linux.plugins.module_utils.fs_grow import FsGrow
from ansible_collections.fleet.linux.plugins.module_utils.md_progress import progress_line
from ansible_collections.fleet.linux.plugins.module_utils.md_reshape import CommandFailed, Survey, reshape
from ansible_collections.fleet.linux.plugins.module_utils.raid_job import md_params
from ansible_collections.fleet.linux.plugins.module_utils.swap_rebuild import SwapRebuild

BOOT = '/boot'
# Where the units are wanted at boot, the last-resort timer they point to, the initramfs images, fstab
# (tests point them elsewhere).
WANTS_DIR = '/etc/systemd/system/sysinit.target.wants'
LAST_RESORT_TIMER = '/lib/systemd/system/mdadm-last-resort@.timer'
INITRAMFS_IMAGES = '/boot/initrd.img-*'
FSTAB = '/etc/fstab'
# What the running job does, one line a person can cat from another shell (in the state directory).
PROGRESS_FILE = 'progress'
# The progress file is written at most this often (seconds), and when the job ends.
PROGRESS_SECONDS = 5
# The host's RAID job lock, in the state directory: one job at a time (a second one would run the same steps).
JOB_LOCK = 'job.lock'
# While another job holds the lock, it is tried again this often (seconds).
LOCK_POLL_SECONDS = 1
# After a failed mount of /boot, seconds to wait for the mount systemd was making to show in mountinfo.
MOUNT_SHOW_POLLS = 10


def initramfs_older_than(path):
    """Whether an initramfs image is older than ``path`` (which must exist)."""
    newest_input = os.stat(path).st_mtime
    return any(os.stat(image).st_mtime < newest_input for image in glob.glob(INITRAMFS_IMAGES))


def checked_name(name):
    """A file name of the state directory (never a path)."""
    if not name or '/' in name or name in ('.', '..'):
        raise Refusal('%r is not a file name of the state directory' % name)
    return name


def hold_job_lock(state_dir, deadline):
    """Take the host's RAID job lock (flock, held until this process ends: the descriptor is not inherited by
    the commands it runs, so mdadm's background reshape never holds it) and write this process's id into it.

    Another job holding it is waited for until ``deadline`` (time.time()), then refused. Returns the lock's
    descriptor and the process id of the job waited for (None if there was none).
    """
    dir_fd = open_directory(state_dir)
    try:
        fd = os.open(JOB_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise Refusal('%s is a symbolic link: refusing to follow it' % os.path.join(state_dir, JOB_LOCK))
        raise
    finally:
        os.close(dir_fd)
    waited_for = None
    try:
        check_regular(os.path.join(state_dir, JOB_LOCK), os.fstat(fd))
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except (IOError, OSError) as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if waited_for is None:
                os.lseek(fd, 0, os.SEEK_SET)
                waited_for = os.read(fd, 32).decode('ascii', 'replace').strip() or 'unknown'
            if time.time() >= deadline:
                raise Refusal('another RAID job (raid_apply, process %s) still runs on this host: a second one would '
                              'repeat its steps. Nothing was changed. Wait until it has ended (ps -p %s; cat /proc/mdstat), '
                              'then run again.' % (waited_for, waited_for))
            time.sleep(LOCK_POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.write(fd, ('%d\n' % os.getpid()).encode('ascii'))
    except BaseException:
        os.close(fd)
        raise
    return fd, waited_for


class JobApply(object):
    """Runs the plan ``params['plan']`` for the arrays ``params['arrays']``; module.actions is the record."""

    def __init__(self, module, blockdevs):
        self.module = module
        self.blockdevs = blockdevs
        self.params = module.params
        self.plan = module.params['plan']
        module.actions = []
        self.results = []
        self.progress_written = None
        self.waited_for = None

    def tell(self, line, now=None):
        """Put ``line`` (with the time) in the state directory's progress file."""
        now = time.time() if now is None else now
        write_atomically(self.module, os.path.join(self.params['state_dir'], PROGRESS_FILE),
                         '%s %s\n' % (time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now)), line), 0o644, 0, 0)
        self.progress_written = now

    def told(self):
        """The progress file's line (None if there is none)."""
        try:
            text, _st = read_no_follow(os.path.join(self.params['state_dir'], PROGRESS_FILE), self.params['state_dir'])
        except (IOError, OSError, Refusal):
            return None
        return text.strip() if text else None

    def report(self, counters):
        """md_reshape's report while it waits for an array: the progress line, at most every PROGRESS_SECONDS."""
        now = time.time()
        if self.progress_written is None or now - self.progress_written >= PROGRESS_SECONDS:
            self.tell(progress_line(counters), now)

    def step(self, line, change, *args):
        """Run ``change(*args)``; the host has changed, by ``line``."""
        change(*args)
        self.module.changed = True
        self.module.actions.append(line)

    def part(self, result):
        """A part (reshape, grow, rebuild) that ended well: its actions join the job's."""
        self.module.actions.extend(result['actions'])
        self.module.changed = self.module.changed or result['changed']
        return result

    def command(self, argv):
        runner = CommandRunner(self.module, argv[0])
        self.step(command_line(runner.argv(*argv[1:])), runner.run, *argv[1:])

    def array_plans(self):
        """Each array of the job with its plan, in order; the plan must be the one made for these arrays."""
        plans = self.plan.get('arrays') or []
        devices = [spec['device'] for spec in self.params['arrays']]
        if [plan.get('device') for plan in plans] != devices:
            raise Refusal('the plan is for the arrays %s, not for %s: give the raid_reshape_plan filter the survey of '
                          'these arrays' % (', '.join(str(plan.get('device')) for plan in plans), ', '.join(devices)))
        return zip(self.params['arrays'], plans)

    def planned(self):
        """The plan's steps as check mode returns them, each 'DEVICE: step' (the initramfs step last; the summary's
        estimate lines are not steps)."""
        self.array_plans()
        estimates = set(line for estimate in self.plan.get('estimates') or [] for line in estimate.get('lines') or [])
        return ['%s: %s' % (where, step) for entry in self.plan.get('summary') or [] for where, steps in sorted(entry.items())
                for step in steps if step != 'nothing to do' and step not in estimates]

    def run(self):
        plans = list(self.array_plans())
        lock, waited_for = hold_job_lock(self.params['state_dir'], time.time() + self.params['timeout'])
        if waited_for:
            # The plan was made while that job ran: what it left must be read and planned again.
            os.close(lock)
            self.waited_for = dict(process=waited_for, last=self.told())
            return []
        ended = 'ended with a failure (see the run that started it)'
        try:
            self.tell('raid_apply (process %d) started' % os.getpid())
            for spec, plan in plans:
                entry = dict(device=spec['device'])
                self.remember(plan.get('remember') or {})
                if plan.get('reshape'):
                    entry['md'] = self.reshape(spec)
                if plan.get('mount_boot'):
                    self.mount_boot()
                if plan.get('grow_filesystem'):
                    entry['filesystem'] = self.part(FsGrow(self.module, self.blockdevs).grow(
                        dict(device=spec['device'], path=None, mount_temporarily=False)))
                if plan.get('rebuild_swap'):
                    entry['swap'] = self.part(SwapRebuild(self.module, self.blockdevs, FSTAB).rebuild(
                        dict(device=spec['device'], force=self.params['swap_force'])))
                self.results.append(entry)
            self.boot()
            ended = 'finished: %d actions' % len(self.module.actions)
            return self.results
        finally:
            try:
                self.tell('raid_apply (process %d) %s' % (os.getpid(), ended))
            finally:
                os.close(lock)

    def remember(self, owed):
        for name, content in sorted(owed.items()):
            path = os.path.join(self.params['state_dir'], checked_name(name))
            self.step('write %s' % path, write_atomically, self.module, path, content, 0o644, 0, 0)

    def reshape(self, spec):
        params = md_params(spec, self.params)
        survey = Survey(self.module, self.blockdevs, params)
        try:
            survey.read_and_plan()
        except (Refusal, CommandFailed) as refusal:
            self.module.fail_json(msg='%s: %s' % (spec['device'], refusal), before=survey.before)
        result, failure = reshape(self.module, survey, self.report)
        if failure:
            self.module.fail_json(msg=failure, **result)
        if result.get('config_changes'):
            result['actions'] = list(result['actions']) + ['write %s' % params['config_file']]
        return self.part(result)

    def mount_boot(self):
        """Mount /boot as fstab says, unless it is mounted already: once the array reads right after a
        resumed reshape, udev announces its filesystem and systemd mounts /boot by itself, racing this
        mount (which then fails busy). Let udev settle first, and after a failed mount give systemd's
        mount the seconds it takes to show."""
        CommandRunner(self.module, 'udevadm').run('settle', '--timeout=30', check_rc=False)
        if self.boot_mounted():
            return
        runner = CommandRunner(self.module, 'mount')
        rc, _out, err = runner.run(BOOT, check_rc=False)
        if rc == 0:
            self.module.changed = True
            self.module.actions.append(command_line(runner.argv(BOOT)))
            return
        for _poll in range(MOUNT_SHOW_POLLS):
            if self.boot_mounted():
                return
            time.sleep(1)
        self.module.fail_json(msg='%s failed (exit %d): %s' % (command_line(runner.argv(BOOT)), rc, err.strip()))

    def boot_mounted(self):
        return any(mount['mountpoint'] == BOOT for mount in self.blockdevs.mounts())

    def boot(self):
        plan, p = self.plan, self.params
        if plan.get('initramfs') and (not plan.get('initramfs_if_outdated') or initramfs_older_than(p['config_file'])):
            self.command(p['initramfs_command'])
        if plan.get('grub_mkconfig'):
            self.command(p['grub_mkconfig_command'])
        for disk in plan.get('grub_install') or []:
            self.command(['grub-install', '--target=%s' % p['grub_target'], disk])
        for name in plan.get('forget') or []:
            self.remove(os.path.join(p['state_dir'], checked_name(name)))
        for unit in plan.get('start_degraded') or []:
            self.link(unit)

    def remove(self, path):
        try:
            check_regular(path, os.lstat(path))
        except OSError as error:
            if error.errno == errno.ENOENT:
                return
            raise
        self.step('remove %s' % path, os.unlink, path)

    def link(self, unit):
        path = os.path.join(WANTS_DIR, checked_name(unit))
        if os.path.islink(path) and os.readlink(path) == LAST_RESORT_TIMER:
            return
        if not os.path.isdir(WANTS_DIR):
            os.makedirs(WANTS_DIR)
        self.step('link %s %s' % (path, LAST_RESORT_TIMER), os.symlink, LAST_RESORT_TIMER, path)
