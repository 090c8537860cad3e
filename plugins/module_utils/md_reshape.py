# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""md_reshape's backend: read one array, validate the request, plan it, and run the plan.

survey() does everything md_reshape does before it changes anything (the module, and raid_plan for
every array of a job in one call); Reshape runs the plan.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import stat
import time
import traceback

from ansible_collections.fleet.linux.plugins.module_utils.blockdev import probe_tags
from ansible_collections.fleet.linux.plugins.module_utils.common import CommandRunner, Refusal, check_regular, read_text, write_atomically
from ansible_collections.fleet.linux.plugins.module_utils.md import (
    array_line_with_spares, array_state, mdadm_conf_with_array, normalize_level, parse_detail_export, read_md_sysfs,
    uuid_hex)
from ansible_collections.fleet.linux.plugins.module_utils.md_plan import (
    blocking_condition, plan, reshape_heading_to_target, resume_step)
from ansible_collections.fleet.linux.plugins.module_utils.md_progress import counters_from_sysfs, progress_line

# Filesystems a power loss empties: a backup file there is gone when mdadm needs it.
VOLATILE_FILESYSTEMS = ('tmpfs', 'ramfs')


# After a step, md's thread starts the recovery or reshape within this time; sysfs is polled this often at first.
STEP_START_SECONDS = 2.0
FIRST_POLL_SECONDS = 0.1


class CommandFailed(Exception):
    """A command exited non-zero: the message names it and gives its output."""


class Timeout(Exception):
    """The array was still busy at the deadline."""


class MdArray(object):
    """Reads one live array's state through mdadm and sysfs, and runs mdadm on it."""

    def __init__(self, mdadm, blockdevs, name):
        self.mdadm = mdadm
        self.blockdevs = blockdevs
        self.name = name
        self.path = '/dev/%s' % name

    def run(self, *args):
        rc, out, err = self.mdadm.run(*args, check_rc=False)
        if rc != 0:
            raise CommandFailed('%s failed (exit %d): %s' % (' '.join(self.mdadm.argv(*args)), rc, (err or out).strip()))
        return out

    def sysfs(self):
        return read_md_sysfs(self.name, self.blockdevs.sys_root)

    def state(self):
        state = array_state(parse_detail_export(self.run('--detail', '--export', self.path)), self.sysfs(),
                            self.blockdevs.size(self.name))
        state['device'] = self.path
        return state

    def brief_line(self):
        """The ARRAY line mdadm gives this array as it is now (mdadm --detail --brief)."""
        return self.run('--detail', '--brief', self.path).strip().splitlines()[0]

    def wait_started(self, seconds=STEP_START_SECONDS):
        """After a step, until md's thread has started what the step asked for: a new member reads as
        missing (degraded) and sync_action as idle until the recovery starts."""
        for _poll in range(int(seconds / FIRST_POLL_SECONDS)):
            sysfs = self.sysfs()
            if (sysfs.get('sync_action') or 'idle') != 'idle' or (sysfs.get('degraded') or '0').strip() == '0':
                return
            time.sleep(FIRST_POLL_SECONDS)

    def wait_idle(self, deadline, poll_interval, progress, report=None):
        """Poll sysfs until no reshape, resync or recovery runs; Timeout when the deadline passed.

        The first polls come quickly (a small array is done in a moment), then every ``poll_interval``.
        ``report``, if given, is called with md's counters of the array (md_progress) at each poll while busy;
        ``progress`` gets a sample (action, percent, time and md_progress's line: speed and time left) at each change.
        """
        pause = FIRST_POLL_SECONDS
        speeds = os.path.join(self.blockdevs.sys_root, 'block', self.name, 'md')
        while True:
            counters = counters_from_sysfs(self.name, dict(self.sysfs(), sync_speed=read_text(os.path.join(speeds, 'sync_speed')),
                                                           sync_speed_max=read_text(os.path.join(speeds, 'sync_speed_max'))))
            if counters['action'] == 'idle':
                return
            if report:
                report(counters)
            percent = round(100.0 * counters['done'] / counters['total'], 1) if counters['done'] is not None else None
            if not progress or progress[-1]['action'] != counters['action'] or progress[-1]['percent'] != percent:
                progress.append({'action': counters['action'], 'percent': percent, 'time': int(time.time()),
                                 'line': progress_line(counters)})
            if time.time() >= deadline:
                raise Timeout('%s is still busy (%s); it goes on in the kernel (cat /proc/mdstat). '
                              'Run again to wait for it, or give a longer timeout.' % (self.path, progress[-1]['action']))
            time.sleep(pause)
            pause = min(pause * 2, poll_interval)


def public_state(state):
    return dict((k, state[k]) for k in ('level', 'raid_devices', 'members', 'spares', 'size'))


def render(state):
    return ''.join('%s: %s\n' % (k, v) for k, v in sorted(public_state(state).items()))


def check_parameters(params):
    """Refuse a parameter out of range or of the wrong form, before anything is read or changed."""
    for name in ('timeout', 'poll_interval'):
        if params[name] < 1:
            raise Refusal('%s is %d: give a number of seconds, 1 or more.' % (name, params[name]))
    if params['raid_devices'] is not None and params['raid_devices'] < 1:
        raise Refusal('raid_devices is %d: give the number of active devices the array should have (1 or more), '
                      'or leave it out to make it the number of devices.' % params['raid_devices'])
    if normalize_level(params['level']) is None:
        raise Refusal('level %s is not one md_reshape handles: use one of 0, 1, 4, 5, 6, 10.' % params['level'])
    if not params['devices']:
        raise Refusal('devices is empty: list every device the array should end with, current members included.')
    for device in params['devices']:
        if not device or len(device.replace(',', ' ').split()) != 1:
            raise Refusal('devices holds "%s", which is not one device path: give devices as a list, one device per '
                          'item (devices: [/dev/sdb2, /dev/sdc2]).' % device)


def resolve_array(blockdevs, path):
    """Kernel name of the md array at ``path``, by its major:minor; Refusal for anything else."""
    try:
        name = blockdevs.identify(path)
    except Refusal as refusal:
        raise Refusal('%s is not an md array on this host: %s' % (path, refusal))
    if not os.path.isdir(os.path.join(blockdevs.sys_root, 'block', name, 'md')):
        raise Refusal('%s is /dev/%s, which is not an md array on this host (cat /proc/mdstat lists them): '
                      'md_reshape changes existing arrays, create it first.' % (path, name))
    return name


def resolve_devices(blockdevs, array_name, paths):
    """The kernel path of each declared device, by its major:minor; Refusal for a non-device or a duplicate."""
    names = []
    for path in paths:
        try:
            name = blockdevs.identify(path)
        except Refusal as refusal:
            raise Refusal('in devices, %s' % refusal)
        if name == array_name:
            raise Refusal('devices lists %s, which is the array itself: list the devices it is made of.' % path)
        if name in names:
            raise Refusal('devices lists /dev/%s twice: %s and %s are the same device. List each device once.'
                          % (name, paths[names.index(name)], path))
        names.append(name)
    return ['/dev/%s' % name for name in names]


def refuse_data_on(blkid, wipefs, state, device):
    """Refuse a device unless blkid and wipefs clearly find nothing on it but its partition entry (or this
    array's own member signature, left by an earlier step)."""
    tags = probe_tags(blkid, wipefs, device)
    found = dict((k, v) for k, v in tags.items() if k != 'DEVNAME' and not k.startswith('PART_ENTRY_'))
    if not found:
        return  # a blank partition: blkid reports only its entry in the partition table
    if found.get('TYPE') == 'linux_raid_member' and uuid_hex(found.get('UUID')) == uuid_hex(state['uuid']):
        return  # a member of this very array that an earlier step let go
    if found.get('TYPE'):
        what = 'a %s signature' % found['TYPE']
    elif found.get('PTTYPE'):
        what = 'a %s partition table' % found['PTTYPE']
    else:
        what = 'data blkid describes as %s' % ' '.join('%s=%s' % item for item in sorted(found.items()))
    raise Refusal('%s holds %s%s: adding it to %s would destroy it. If its contents are not needed, '
                  'erase it with "wipefs -a %s" and run again.'
                  % (device, what, ' (UUID %s)' % found['UUID'] if found.get('UUID') else '', state['device'], device))


def refuse_unsafe_new_devices(module, blockdevs, state, new_devices):
    """Refuse a new device that is in use, holds data or is smaller than the members."""
    member_size = min(blockdevs.size(os.path.basename(m)) for m in state['members']) if state['members'] else 0
    blkid, wipefs = CommandRunner(module, 'blkid'), CommandRunner(module, 'wipefs')
    for device in new_devices:
        name = os.path.basename(device)
        users = blockdevs.users(name)
        if users:
            raise Refusal('%s cannot join %s: %s. Free it first.' % (device, state['device'], '; '.join(users)))
        size = blockdevs.size(name)
        if size < member_size:
            raise Refusal('%s is too small to join %s: %d bytes, its members have %d. Use a device at least as large.'
                          % (device, state['device'], size, member_size))
        refuse_data_on(blkid, wipefs, state, device)


def refuse_unsafe_backup_file(blockdevs, state, backup_file, devices):
    """The backup file must survive what it exists for: refuse one on the array, its devices or a volatile filesystem."""
    directory = os.path.dirname(os.path.abspath(backup_file))
    try:
        directory_stat = os.stat(directory)
    except OSError:
        directory_stat = None
    if directory_stat is None or not stat.S_ISDIR(directory_stat.st_mode):
        raise Refusal('the directory of backup_file %s does not exist: create it on a filesystem outside %s.'
                      % (backup_file, state['device']))
    where = '%d:%d' % (os.major(directory_stat.st_dev), os.minor(directory_stat.st_dev))
    volatile = sorted(blockdevs.filesystem_types(where) & set(VOLATILE_FILESYSTEMS))
    if volatile:
        raise Refusal('backup_file %s is on %s, which a power loss empties, and a power loss in the middle of a reshape '
                      'is what mdadm needs it for. Put it on a disk filesystem outside the array (for example /root).'
                      % (backup_file, volatile[0]))
    refuse_directory_others_can_write(backup_file, os.path.realpath(directory))
    for name in [os.path.basename(d) for d in [state['device']] + devices]:
        if blockdevs.major_minor(name) == where:
            raise Refusal('backup_file %s is on /dev/%s, which this reshape changes: a crash would take the backup '
                          'with it. Put it on a filesystem outside the array (for example /root).' % (backup_file, name))
    if os.path.lexists(backup_file) and not state['reshaping']:
        raise Refusal('backup_file %s exists but %s is not reshaping: it is left from an earlier reshape. '
                      'Remove it (or choose another path) and run again.' % (backup_file, state['device']))


def refuse_directory_others_can_write(backup_file, directory):
    """mdadm writes the backup file as root and restores the array from it after a restart: refuse a directory
    (or one above it) where another user could plant a link in its place or swap the file. Above the file's own
    directory, a sticky directory such as /tmp is fine: others cannot move what root owns in it."""
    holding_the_file = True
    while True:
        st = os.stat(directory)
        shared = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and (holding_the_file or not st.st_mode & stat.S_ISVTX)
        if st.st_uid not in (0, os.geteuid()) or shared:
            raise Refusal('backup_file %s is below %s, which %s can write to: a link or file planted there would have '
                          'mdadm write where it points, or restore the array from it. Put it in a directory only root '
                          'can write to (for example /root).'
                          % (backup_file, directory, 'uid %d' % st.st_uid if st.st_uid not in (0, os.geteuid()) else 'other users'))
        parent = os.path.dirname(directory)
        if parent == directory:
            return
        directory, holding_the_file = parent, False


def decide(state, md, level, raid_devices, devices, backup_file):
    """From the array's state: (step resuming an interrupted reshape or None, 'wait' or None, planned steps).

    Raises Refusal for an array that cannot be reshaped now, or a target it cannot reach.
    """
    resume = resume_step(state, md)
    blocked = blocking_condition(state, level, raid_devices)
    if blocked == 'wait' and state['reshaping']:
        heading = reshape_heading_to_target(state, level, raid_devices, devices, md)
        if heading:
            raise Refusal(heading)
    elif blocked and blocked != 'wait':
        raise Refusal(blocked)
    return resume, blocked, plan(state, md, level, raid_devices, devices, backup_file)


class Reshape(object):
    """Runs a plan on the array, planning again from the real state after every step.

    ``done`` lists the mdadm commands run so far: whatever fails, the module reports them and changed.
    """

    def __init__(self, module, blockdevs, array, target, params, report=None):
        self.module = module
        self.report = report
        self.blockdevs = blockdevs
        self.array = array
        self.level, self.raid_devices, self.devices = target
        self.params = params
        self.deadline = time.time() + self.params['timeout']
        self.done = []
        self.progress = []

    def plan(self, state):
        return plan(state, self.array.path, self.level, self.raid_devices, self.devices, self.params['backup_file'])

    def run(self, step):
        self.array.run(*step['argv'][1:])
        self.done.append(' '.join(step['argv']))

    def settled_state(self):
        """Wait for the array to be idle (unless wait is false); its state then, and whether it is idle."""
        if not self.params['wait']:
            return self.array.state(), False
        self.array.wait_idle(self.deadline, self.params['poll_interval'], self.progress, self.report)
        return self.array.state(), True

    def act(self, state, resume, blocked, steps):
        """Resume, wait, run the steps; returns the last state read and the steps still to run."""
        if resume:
            self.run(resume)
        if blocked == 'wait':
            state, idle = self.settled_state()
            if not idle:
                return state, steps
            blocked = blocking_condition(state, self.level, self.raid_devices)
            if blocked:
                raise Refusal(blocked)
            steps = self.plan(state)
        for _attempt in range(len(steps) + 4):
            if not steps:
                break
            # A device may have been mounted or written while the array was busy: check again before each step.
            refuse_unsafe_new_devices(self.module, self.blockdevs, state,
                                      [d for d in self.devices if d not in state['members'] + state['spares']])
            self.run(steps[0])
            self.array.wait_started()
            state, idle = self.settled_state()
            if not idle:
                break
            steps = self.plan(state)
        return state, steps


def refuse_unsafe_config_file(config_file):
    """mdadm.conf is replaced as a regular file: refuse a link or special file there before anything changes."""
    try:
        check_regular(config_file, os.lstat(config_file))
    except OSError as error:
        if error.errno != errno.ENOENT:
            raise Refusal('cannot read %s: %s' % (config_file, error.strerror))


def config_text_with(config_file, line):
    """(current, wanted) text of mdadm.conf once it holds the array's ARRAY entry ``line``."""
    current = read_text(config_file, '')
    if current and not current.endswith('\n'):
        current += '\n'
    return current, mdadm_conf_with_array(current, line, line.split('UUID=')[1].split()[0])


def update_config(module, config_file, line):
    """Put the array's ARRAY entry in mdadm.conf; whether the file changes."""
    current, wanted = config_text_with(config_file, line)
    if wanted == current:
        return False
    if not module.check_mode:
        write_atomically(module, config_file, wanted)
    return True


class Survey(object):
    """One array read, the request validated and planned: everything md_reshape knows before any change.

    ``before`` is set as soon as read_and_plan() has read the array (a refusal after that still reports it).
    """

    def __init__(self, module, blockdevs, params):
        self.module = module
        self.blockdevs = blockdevs
        self.params = params
        self.before = None

    def read_and_plan(self):
        """Raises Refusal or CommandFailed for anything wrong, before any change."""
        module, blockdevs, params = self.module, self.blockdevs, self.params
        check_parameters(params)
        self.level = normalize_level(params['level'])
        self.array = MdArray(CommandRunner(module, 'mdadm'), blockdevs, resolve_array(blockdevs, params['device']))
        self.devices = resolve_devices(blockdevs, self.array.name, params['devices'])
        self.raid_devices = len(self.devices) if params['raid_devices'] is None else params['raid_devices']
        self.state = self.array.state()
        self.before = public_state(self.state)
        self.resume, self.blocked, self.steps = decide(self.state, self.array.path, self.level, self.raid_devices,
                                                       self.devices, params['backup_file'])
        if self.steps or self.resume:
            refuse_unsafe_new_devices(module, blockdevs, self.state, self.new_devices(self.state))
            if params['backup_file']:
                refuse_unsafe_backup_file(blockdevs, self.state, params['backup_file'], self.devices)
        self.line = None
        if params['update_config']:
            refuse_unsafe_config_file(params['config_file'])
            self.line = self.array.brief_line()

    def new_devices(self, state):
        return [d for d in self.devices if d not in state['members'] + state['spares']]

    @property
    def planned(self):
        return ([self.resume] if self.resume else []) + self.steps

    def planned_after(self):
        """The state the plan ends in, and the ARRAY line that state gets (or None)."""
        after = dict(self.state, **self.planned[-1]['expect']) if self.planned else self.state
        line = array_line_with_spares(self.line, len(after['spares'])) if self.line else None
        return after, line

    def check_result(self):
        """What md_reshape returns in check mode: the plan, the state it ends in, the config line it writes
        (and ``config_changes``: whether that changes the configuration file)."""
        after, line = self.planned_after()
        result = dict(changed=bool(self.planned), actions=[' '.join(s['argv']) for s in self.planned],
                      steps=self.planned, reshape_interrupted=bool(self.resume),
                      finished=not self.planned and self.blocked is None,
                      before=self.before, after=public_state(after))
        if line:
            current, wanted = config_text_with(self.params['config_file'], line)
            result.update(config_line=line, config_changes=wanted != current, changed=result['changed'] or wanted != current)
        return result


def reshape(module, survey, report=None):
    """md_reshape's result once ``survey`` has read and planned, and the message to fail with (or None): in check
    mode, or with nothing to run or wait for, the plan; otherwise the plan applied (apply_plan). Either way the
    array's ARRAY line goes in the mdadm configuration if asked (not in check mode)."""
    params = survey.params
    if not module.check_mode and (survey.planned or (survey.blocked == 'wait' and params['wait'])):
        return apply_plan(module, survey, report)
    result = survey.check_result()
    result['changed'] = bool(survey.planned)
    return result, put_config_line(module, params, result.get('config_line'), result)


def apply_plan(module, survey, report=None):
    """Outside check mode, run the plan ``survey`` made (resume, wait, steps, each planned again from the real
    state), then put the array's ARRAY line in the mdadm configuration if asked.

    Returns md_reshape's result and, when it must fail, its message (the result then says what was done).
    ``report``: see MdArray.wait_idle.
    """
    p = survey.params
    result = dict(reshape_interrupted=bool(survey.resume), steps=survey.planned, before=survey.before)
    reshape = Reshape(module, survey.array.blockdevs, survey.array, (survey.level, survey.raid_devices, survey.devices), p,
                      report)
    try:
        after, steps = reshape.act(survey.state, survey.resume, survey.blocked, survey.steps)
        line = survey.array.brief_line() if p['update_config'] else None
    except Exception as failure:
        failed_step = ' after %s' % reshape.done[-1] if reshape.done else ''
        result.update(changed=bool(reshape.done), actions=reshape.done, progress=reshape.progress,
                      exception=traceback.format_exc())
        return result, '%s%s: %s' % (p['device'], failed_step, failure)
    result.update(changed=bool(reshape.done), actions=reshape.done, after=public_state(after),
                  finished=p['wait'] and not steps and after['sync_action'] == 'idle')
    if reshape.progress:
        result['progress'] = reshape.progress
    if steps and p['wait']:
        return result, '%s did not reach the target after %s' % (p['device'], '; '.join(reshape.done))
    return result, put_config_line(module, p, line, result)


def put_config_line(module, params, line, result):
    """Put the ARRAY line ``line`` (if any) in the mdadm configuration, saying so in ``result`` (config_line,
    config_changes, changed); the message to fail with, or None."""
    result['config_changes'] = False
    if not line:
        return None
    result['config_line'] = line
    try:
        result['config_changes'] = update_config(module, params['config_file'], line)
    except (Refusal, IOError, OSError) as failure:
        return '%s: cannot update %s: %s' % (params['device'], params['config_file'], failure)
    result['changed'] = result['changed'] or result['config_changes']
    return None
