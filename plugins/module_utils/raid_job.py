# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The RAID job's plan, decided on the controller from raid_plan's one survey of the host (pure).

plan_job() says, per array, what the raid_reshape role runs (the reshape, the filesystem grow, the swap
rebuild, mounting /boot, the boot steps to remember) and, for the host, the boot steps (initramfs, GRUB
configuration, GRUB on which disks, the last-resort timers) and the steps owed by an interrupted run to
forget; ``refusals`` lists what the job cannot do safely, before anything changes; ``estimates`` says what each md
step moves and how long it takes at md's speed limits (md_estimate), and the summary shows it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils.md_estimate import (
    DEFAULT_DISK_SPEED_KIB, describe, estimate_steps, format_bound, format_duration, total)
from ansible_collections.fleet.linux.plugins.module_utils.swap import check_room_for_swapoff

MIB = 1048576
DEFAULTS = dict(
    config_file='/etc/mdadm/mdadm.conf', backup_min_free_mib=64, swap_force=False,
    update_initramfs=True, initramfs_command=['update-initramfs', '-u', '-k', 'all'],
    grub_install=True, grub_target='i386-pc', grub_mkconfig_command=['grub-mkconfig', '-o', '/boot/grub/grub.cfg'],
    start_degraded_boot=True, disk_speed_kib=DEFAULT_DISK_SPEED_KIB)


# The options of a job, as raid_plan and raid_apply take them (doc fragment fleet.linux.raid_job).
JOB_OPTIONS = dict(
    arrays=dict(type='list', elements='dict', required=True, options=dict(
        device=dict(type='path', required=True),
        level=dict(type='str', required=True),
        raid_devices=dict(type='int'),
        devices=dict(type='list', elements='path', required=True),
        backup_file=dict(type='path'),
        content=dict(type='str', choices=['filesystem', 'swap', 'none'], default='none'),
        boot=dict(type='bool', default=False),
        boot_disks=dict(type='list', elements='path'),
    )),
    backup_dir=dict(type='path', default='/root'),
    config_file=dict(type='path', default='/etc/mdadm/mdadm.conf'),
    state_dir=dict(type='path', default='/var/lib/fleet-raid-reshape'),
    swap_force=dict(type='bool', default=False),
    timeout=dict(type='int', default=7200),
    poll_interval=dict(type='int', default=5),
)


def md_params(spec, job):
    """md_reshape's parameters for the array ``spec`` of a job whose options are ``job``."""
    backup_file = spec['backup_file'] or os.path.join(job['backup_dir'], '%s-reshape.backup' % os.path.basename(spec['device']))
    return dict(device=spec['device'], level=spec['level'], raid_devices=spec['raid_devices'], devices=spec['devices'],
                backup_file=backup_file, update_config=True, config_file=job['config_file'],
                timeout=job['timeout'], poll_interval=job['poll_interval'], wait=True)


def backup_refusal(array, names, min_free_mib):
    """Why the backup file's directory cannot serve (on an array of the job, or too little room), or None."""
    backup = array['backup']
    where = 'is on /dev/%s' % backup['device'] if backup['device'] else 'is on a device-less filesystem'
    if backup['device'] in names or backup['free'] < min_free_mib * MIB:
        return ('The backup file %s of %s needs a directory on a filesystem outside every array being reshaped with at '
                'least %d MiB free; %s %s with %d MiB free. Set backup_file or raid_reshape_backup_dir. Nothing was changed.'
                % (backup['file'], array['device'], min_free_mib, backup['directory'], where, backup['free'] // MIB))
    return None


def memory_refusal(array, memory):
    """Why the swap on this array cannot be turned off for its rebuild (memory cannot take it back), or None."""
    swap = array['content']['before']
    others = [s for s in memory['swaps'] if s['name'] != array['name']]
    try:
        check_room_for_swapoff(array['device'], swap, others, {'MemAvailable': memory['available'] or 0})
    except Refusal as refusal:
        return '%s. Nothing was changed (raid_reshape_swap_force=true tries anyway).' % refusal
    return None


def state_name(device):
    """The name owed boot steps of an array are remembered under: /dev/md1 -> md1, /dev/md/boot -> boot."""
    return device.rstrip('/').split('/')[-1]


def level_changes_from_other_than_raid1(md):
    return bool(md['actions']) and md['before']['level'] != 1 and md['after']['level'] != md['before']['level']


class ArrayPlan(object):
    """What the role does with one array, and the plan lines saying so."""

    def __init__(self, array, options):
        md = array['md']
        content = array['content']
        interrupted = md['reshape_interrupted']
        kind = array['kind']
        self.device = array['device']
        self.reshape = md['changed']
        self.steps = list(md['actions'])
        if md['changed'] and not md['actions']:
            self.steps.append('write %s to %s' % (md['config_line'], options['config_file']))
        self.grow_filesystem = kind == 'filesystem' and (interrupted or bool(md['actions']) or content['changed'])
        if self.grow_filesystem:
            self.steps.append('grow the filesystem on %s (fs_grow) to fill it' % self.device)
        self.rebuild_swap = kind == 'swap' and (interrupted or bool(md['actions']) or content['changed'])
        if self.rebuild_swap and interrupted:
            self.steps.append('re-create the swap on %s across it if needed, same UUID and LABEL (swap_rebuild)' % self.device)
        elif self.rebuild_swap:
            self.steps.append('re-create the swap on %s across it, same UUID %s and LABEL %s (swap_rebuild)'
                              % (self.device, content['before']['uuid'], content['before']['label']))
        self.remember = {}
        self.mount_boot = False
        self.grub_disks = []
        self.grub_mkconfig = False
        self.start_degraded = None
        if array['boot']:
            self.plan_boot(array, md, options)

    def plan_boot(self, array, md, options):
        boot = array['boot']
        if md['actions']:
            # file name -> content: the array as it was, for whoever looks into the state directory
            self.remember = dict(('%s.%s' % (state_name(self.device), step), json.dumps(md['before'], sort_keys=True) + '\n')
                                 for step, owed in (('grub-install', options['grub_install']),
                                                    ('grub-mkconfig', level_changes_from_other_than_raid1(md))) if owed)
        if boot['in_fstab'] and not boot['mounted']:
            self.mount_boot = True
            self.steps.append('mount /boot (as in fstab)')
        reinstall = bool(md['actions']) or 'grub-install' in boot['owed']
        disks = [d['disk'] for d in boot['disks'] if reinstall or not d['grub']]
        if options['grub_install'] and disks:
            self.grub_disks = disks
            self.steps.append('grub-install --target=%s on %s' % (options['grub_target'], ', '.join(disks)))
        if level_changes_from_other_than_raid1(md) or 'grub-mkconfig' in boot['owed']:
            self.grub_mkconfig = True
            self.steps.append('%s (the level changes from other than RAID1)' % ' '.join(options['grub_mkconfig_command']))
        if options['start_degraded_boot'] and not boot['start_degraded']:
            self.start_degraded = 'mdadm-last-resort@%s.timer' % array['name']
            self.steps.append('systemctl add-wants sysinit.target %s (start /boot degraded at boot)' % self.start_degraded)

    def as_dict(self):
        return dict(device=self.device, steps=self.steps or ['nothing to do'], reshape=self.reshape,
                    grow_filesystem=self.grow_filesystem, rebuild_swap=self.rebuild_swap, remember=self.remember,
                    mount_boot=self.mount_boot)


def initramfs_outdated(initramfs):
    """Whether an initramfs image is older than mdadm.conf; None when the images could not be read."""
    if initramfs['images'] is None:
        return None
    config = initramfs['config_mtime'] or 0
    return any(image['mtime'] is not None and image['mtime'] < config for image in initramfs['images'])


def array_estimate(array, limits, disk_speed):
    """How long md's steps of one array take (md_estimate), or None: no md step, or a survey without sizes."""
    md = array['md']
    if not md.get('steps') or md.get('before', {}).get('size') is None:
        return None
    steps = estimate_steps(md['before'], md['steps'], array.get('sync'), limits, disk_speed)
    seconds, slowest = total(steps)
    name = array.get('name') or state_name(array['device'])
    lines = [describe(name, step) for step in steps]
    if len([step for step in steps if step['walk']]) > 1 and seconds is not None:
        lines.append('%s: %s in all%s' % (name, format_duration(seconds), '' if slowest is None or slowest == seconds
                                          else ' (up to %s)' % format_bound(slowest)))
    return dict(device=array['device'], steps=steps, seconds=seconds, slowest_seconds=slowest, lines=lines)


def plan_job(survey, options=None):
    """The job's plan from raid_plan's result (``survey``) and the role's options (see DEFAULTS)."""
    options = dict(DEFAULTS, **dict((k, v) for k, v in (options or {}).items() if v is not None))
    arrays = survey['arrays']
    names = set(a['name'] for a in arrays)
    refusals = []
    plans = []
    for array in arrays:
        if array['backup'] and array['md']['actions']:
            refusals.append(backup_refusal(array, names, options['backup_min_free_mib']))
        plan = ArrayPlan(array, options)
        content = array['content']
        if plan.rebuild_swap and content and content['before']['active'] and not options['swap_force']:
            refusals.append(memory_refusal(array, survey['memory']))
        plans.append(plan)
    # The ARRAY entry of an array is read from mdadm once its reshape has ended (mid-reshape it may
    # read otherwise): after a reshape the initramfs is regenerated if mdadm.conf is then newer than
    # it (raid_apply checks); at once when an entry of an array left as it is changes, or when the
    # initramfs is already older than mdadm.conf.
    # When /boot is not mounted now (the role mounts it), its images are compared with mdadm.conf then.
    outdated = initramfs_outdated(survey['initramfs'])
    deferred = outdated is None or any(a['md']['actions'] for a in arrays)
    initramfs_now = bool(outdated) or any(a['md'].get('config_changes') and not a['md']['actions'] for a in arrays)
    initramfs = options['update_initramfs'] and (initramfs_now or deferred)
    # md's steps, how long each takes (md_estimate): after each array's steps in the summary.
    estimates = [array_estimate(a, survey.get('speed_limits'), options['disk_speed_kib']) for a in arrays]
    summary = [{p.device: (p.steps or ['nothing to do']) + (e['lines'] if e else [])} for p, e in zip(plans, estimates)]
    if initramfs:
        summary.append({'initramfs': ['%s (%s)' % (' '.join(options['initramfs_command']),
                                                   'mdadm.conf changes or is newer than an initramfs in /boot' if initramfs_now
                                                   else 'if mdadm.conf is then newer than an initramfs in /boot')]})
    forget = []
    for array, plan in zip(arrays, plans):
        owed = ['%s.%s' % (state_name(array['device']), step) for step in (array['boot'] or {}).get('owed', [])]
        for name in owed + sorted(plan.remember):
            if name not in forget:
                forget.append(name)
    grub_disks = []
    for plan in plans:
        grub_disks.extend(d for d in plan.grub_disks if d not in grub_disks)
    boot = dict(initramfs=bool(initramfs), initramfs_if_outdated=bool(initramfs) and not initramfs_now,
                grub_mkconfig=any(p.grub_mkconfig for p in plans), grub_install=grub_disks,
                forget=forget, start_degraded=[p.start_degraded for p in plans if p.start_degraded])
    return dict(
        boot,
        refusals=[r for r in refusals if r],
        arrays=[p.as_dict() for p in plans],
        boot_steps=any(v for k, v in boot.items() if k != 'initramfs_if_outdated'),
        summary=summary,
        estimates=[e for e in estimates if e],
        changes=any(p.steps for p in plans) or bool(initramfs),
    )
