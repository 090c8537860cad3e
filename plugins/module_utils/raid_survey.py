# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one survey of a RAID job's host (what fleet.linux.raid_plan returns, and raid_apply reads when it plans
the job itself): per array md_reshape's check, the check of what it carries (fs_grow, swap_rebuild), the backup
file's room, the boot disks and owed boot steps; for the host md's speed limits, memory and swaps, the initramfs
images' times. Nothing changes."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import glob
import os

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal, read_text
from ansible_collections.fleet.linux.plugins.module_utils.fs_grow import FsGrow
from ansible_collections.fleet.linux.plugins.module_utils.md_estimate import parse_int, sync_inputs
from ansible_collections.fleet.linux.plugins.module_utils.md_reshape import CommandFailed, Survey
from ansible_collections.fleet.linux.plugins.module_utils.raid_job import md_params
from ansible_collections.fleet.linux.plugins.module_utils.swap import parse_fstab
from ansible_collections.fleet.linux.plugins.module_utils.swap_rebuild import SwapRebuild

# The host's files (tests point them at fixture trees).
FSTAB = '/etc/fstab'
BOOT = '/boot'
# Where the initramfs images are (tests point it at a fixture directory).
INITRAMFS_DIR = '/boot'
SYSTEMD_WANTS = '/etc/systemd/system/sysinit.target.wants'
# GRUB's boot code carries its name in the first sector.
GRUB_SIGNATURE = b'GRUB'
OWED_STEPS = ('grub-install', 'grub-mkconfig')
# What the estimate of md's steps reads of an array (/sys/block/mdX/md/), and of the system (/proc/sys/dev/raid/).
SYNC_FILES = ('sync_speed_min', 'sync_speed_max', 'component_size', 'layout', 'sync_completed', 'reshape_position',
              'reshape_direction')


def mtime(path):
    try:
        return os.stat(path).st_mtime
    except OSError as error:
        if error.errno != errno.ENOENT:
            raise
        return None


def holds_grub(device):
    with open(device, 'rb') as handle:
        return GRUB_SIGNATURE in handle.read(512)


class JobSurvey(object):

    def __init__(self, module, blockdevs):
        self.module = module
        self.blockdevs = blockdevs
        self.params = module.params

    def md(self, spec):
        survey = Survey(self.module, self.blockdevs, md_params(spec, self.params))
        survey.read_and_plan()
        return survey

    def content(self, spec, device):
        if spec['content'] == 'filesystem':
            result = FsGrow(self.module, self.blockdevs).survey(dict(device=device, path=None, mount_temporarily=False))
        elif spec['content'] == 'swap':
            result = SwapRebuild(self.module, self.blockdevs, FSTAB).survey(dict(device=device, force=self.params['swap_force']))
        else:
            return None
        del result['_context']
        return result

    def backup(self, path):
        directory = os.path.dirname(os.path.abspath(path))
        try:
            st = os.stat(directory)
            fs = os.statvfs(directory)
        except OSError as error:
            raise Refusal('cannot read the directory of the backup file %s: %s' % (path, error.strerror))
        number = '%d:%d' % (os.major(st.st_dev), os.minor(st.st_dev))
        return dict(file=path, directory=directory, device=self.blockdevs.name_of_number(number),
                    free=fs.f_bavail * fs.f_frsize)

    def boot_disks(self, spec, members):
        """Kernel names of the disks to keep bootable: those given, or the disks of the array's devices."""
        if spec['boot_disks']:
            return [self.blockdevs.identify(disk) for disk in spec['boot_disks']]
        disks = []
        for member in members:
            name = os.path.basename(member)
            disk = self.blockdevs.parent_disk(name) or name
            if disk not in disks:
                disks.append(disk)
        return disks

    def boot(self, spec, name, members):
        disks = []
        for disk in self.boot_disks(spec, members):
            try:
                disks.append(dict(disk='/dev/%s' % disk, grub=holds_grub(os.path.join(self.blockdevs.dev_root, disk))))
            except (IOError, OSError) as error:
                raise Refusal('cannot read the boot sector of /dev/%s: %s' % (disk, error))
        array = os.path.basename(spec['device'])
        owed = [step for step in OWED_STEPS if os.path.lexists(os.path.join(self.params['state_dir'], '%s.%s' % (array, step)))]
        return dict(disks=disks, owed=owed, in_fstab=self.boot_in_fstab(), mounted=self.boot_mounted(),
                    start_degraded=os.path.lexists(os.path.join(SYSTEMD_WANTS, 'mdadm-last-resort@%s.timer' % name)))

    def array(self, spec):
        entry = dict(device=spec['device'], kind=spec['content'], name=None, md=None, content=None, backup=None, boot=None)
        md = self.md(spec)
        entry.update(name=md.array.name, md=md.check_result())
        interrupted = entry['md']['reshape_interrupted']
        if not interrupted:
            entry['content'] = self.content(spec, md.array.path)
        if md.planned:
            entry['backup'] = self.backup(md.params['backup_file'])
        if spec['boot']:
            entry['boot'] = self.boot(spec, md.array.name, md.devices)
        base = os.path.join(self.blockdevs.sys_root, 'block', md.array.name, 'md')
        entry['sync'] = sync_inputs(dict((f, read_text(os.path.join(base, f))) for f in SYNC_FILES))
        return entry

    def host(self):
        swaps = [dict(name=self.blockdevs.kernel_name(swap['device']), size=swap['size'], used=swap['used'])
                 for swap in self.blockdevs.swaps()]
        meminfo = self.blockdevs.meminfo()
        # /boot in fstab but not mounted (after a restart mid-reshape): the images are not readable now.
        images = None
        if self.boot_mounted() or not self.boot_in_fstab():
            images = [dict(path=path, mtime=mtime(path)) for path in sorted(glob.glob(os.path.join(INITRAMFS_DIR, 'initrd.img-*')))]
        raid = os.path.join(self.blockdevs.proc_root, 'sys', 'dev', 'raid')
        return dict(
            speed_limits=dict((bound, parse_int(read_text(os.path.join(raid, 'speed_limit_%s' % bound))))
                              for bound in ('min', 'max')),
            memory=dict(available=meminfo.get('MemAvailable'), swaps=swaps),
            initramfs=dict(config_mtime=mtime(self.params['config_file']), images=images))

    def boot_in_fstab(self):
        return any(entry['file'] == BOOT for entry in parse_fstab(read_text(FSTAB, '')))

    def boot_mounted(self):
        return any(mount['mountpoint'] == BOOT for mount in self.blockdevs.mounts())


def survey_job(module, blockdevs):
    """The survey of every array of module.params['arrays'] and of the host; the refusals of the arrays that
    cannot be reshaped as declared (then the host is not read and each such array has only C(device) and C(refusal))."""
    job = JobSurvey(module, blockdevs)
    arrays, refusals = [], []
    for spec in module.params['arrays']:
        try:
            arrays.append(job.array(spec))
        except (Refusal, CommandFailed) as refusal:
            refusals.append('%s: %s' % (spec['device'], refusal))
            arrays.append(dict(device=spec['device'], refusal=refusals[-1]))
    if refusals:
        return dict(arrays=arrays), refusals
    return dict(job.host(), arrays=arrays), []
