#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: raid_plan
short_description: Read every array of a RAID job and check it, in one call, changing nothing
version_added: 0.1.0
description:
  - The one look of the P(fleet.linux.raid_reshape#role) role. For every array of O(arrays) it runs what
    M(fleet.linux.md_reshape), M(fleet.linux.fs_grow) and M(fleet.linux.swap_rebuild) do in check mode -
    read, validate, refuse what could lose data, plan - and reads what the job decides from beyond one
    array - the free space and device of each backup file's directory, memory and the active swaps, the
    boot sector of each disk of an array holding /boot, the boot steps an interrupted run still owes,
    whether /boot is mounted, the mdadm last-resort timer, the dates of mdadm.conf and the initramfs images,
    and md's speed limits and the sizes the estimate of each step's duration needs.
  - The controller then plans the job from this survey (the P(fleet.linux.raid_reshape#role) role does it
    with its C(raid_reshape_plan) filter) and acts only where the plan says so; a run with nothing to do
    costs this one module call.
  - Never changes anything, in check mode or not. Fails, listing every array refused and why, when any
    array cannot be reshaped as declared.
author:
  - fleet.linux contributors (@fleet-linux)
extends_documentation_fragment:
  - fleet.linux.raid_job
notes:
  - Runs in check mode like outside it (it only reads).
seealso:
  - module: fleet.linux.md_reshape
  - module: fleet.linux.fs_grow
  - module: fleet.linux.swap_rebuild
'''

EXAMPLES = r'''
- name: Survey the microserver's arrays (the raid_reshape role's first and, on a no-op run, only call)
  fleet.linux.raid_plan:
    arrays:
      - {device: /dev/md0, level: 0, devices: [/dev/sda3, /dev/sdb3, /dev/sdc3, /dev/sdd3], content: swap}
      - {device: /dev/md1, level: 10, devices: [/dev/sda2, /dev/sdb2, /dev/sdc2, /dev/sdd2], content: filesystem,
         boot: true}
  register: survey

- name: Plan the job on the controller
  ansible.builtin.set_fact:
    plan: "{{ survey | fleet.linux.raid_reshape_plan }}"
'''

RETURN = r'''
arrays:
  description:
    - One entry per array of O(arrays), in order. When the module fails, an array it refuses has only C(device)
      and C(refusal).
  returned: always
  type: list
  elements: dict
  contains:
    device:
      description: The array as given.
      type: str
    refusal:
      description: Why this array cannot be reshaped as declared (the array's path, then what is wrong and what to do).
      type: str
      returned: when the array is refused
    name:
      description: Its kernel name (C(md127) for C(/dev/md/boot)).
      type: str
    kind:
      description: What it carries, as declared in O(arrays[].content).
      type: str
    md:
      description: What M(fleet.linux.md_reshape) returns in check mode (C(actions), C(steps), C(before), C(after),
        C(changed), C(config_line), C(reshape_interrupted), C(finished)), and C(config_changes), whether the planned
        ARRAY entry changes the mdadm configuration (then the initramfs must learn it).
      type: dict
    content:
      description:
        - What M(fleet.linux.fs_grow) or M(fleet.linux.swap_rebuild) returns in check mode; null when the array
          carries nothing to check or when its reshape was interrupted (its content reads wrong until the
          reshape is resumed).
      type: dict
    backup:
      description: The backup file, the kernel name of the device its directory is on (null for none) and
        its free bytes; null when the reshape needs no step.
      type: dict
    sync:
      description:
        - What the estimate of md's steps reads of the array (C(/sys/block/mdX/md/)) - C(speed_min) and C(speed_max)
          (KiB/s, C(sync_speed_min) and C(sync_speed_max); null when the array has none, as a RAID0) with
          C(speed_min_local) and C(speed_max_local) (set for the array rather than following the system's),
          C(component_size) (bytes of each member; null when md gives none, as for a RAID0), C(layout),
          C(sync_completed) (bytes done and in all, or null), C(reshape_position) (bytes, or null) and
          C(reshape_direction).
      type: dict
    boot:
      description:
        - For an array holding /boot - C(disks) (each with C(grub), whether its boot sector holds GRUB),
          C(owed) (boot steps an interrupted run still owes), C(in_fstab), C(mounted) (/boot) and
          C(start_degraded) (the mdadm last-resort timer is wanted at boot); null otherwise.
      type: dict
speed_limits:
  description:
    - md's limits for every array without its own (C(/proc/sys/dev/raid/speed_limit_min) and C(speed_limit_max),
      KiB/s, as C(min) and C(max); null when unreadable).
  returned: success
  type: dict
memory:
  description: C(available) (MemAvailable, bytes) and C(swaps) (each active swap with its kernel C(name), C(size), C(used)).
  returned: success
  type: dict
refusals:
  description: Every array's refusal, in order (the module failed).
  returned: failure
  type: list
  elements: str
initramfs:
  description:
    - The modification times of the mdadm configuration (C(config_mtime), null if missing) and of each initramfs
      image in C(/boot) (C(images)); C(images) is null when fstab mounts C(/boot) but it is not mounted (the images
      cannot be read then).
  returned: success
  type: dict
'''

import errno
import glob
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleet.linux.plugins.module_utils.blockdev import BlockDevices
from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal, read_text
from ansible_collections.fleet.linux.plugins.module_utils.fs_grow import FsGrow
from ansible_collections.fleet.linux.plugins.module_utils.md_estimate import parse_int, sync_inputs
from ansible_collections.fleet.linux.plugins.module_utils.md_reshape import CommandFailed, Survey
from ansible_collections.fleet.linux.plugins.module_utils.raid_job import JOB_OPTIONS, md_params
from ansible_collections.fleet.linux.plugins.module_utils.swap import parse_fstab
from ansible_collections.fleet.linux.plugins.module_utils.swap_rebuild import SwapRebuild

# Where the kernel's views, the device nodes and the host's files are (tests point them at fixture trees).
SYS_ROOT = '/sys'
PROC_ROOT = '/proc'
DEV_ROOT = '/dev'
STAT = os.stat
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
        raid = os.path.join(PROC_ROOT, 'sys', 'dev', 'raid')
        return dict(
            speed_limits=dict((bound, parse_int(read_text(os.path.join(raid, 'speed_limit_%s' % bound))))
                              for bound in ('min', 'max')),
            memory=dict(available=meminfo.get('MemAvailable'), swaps=swaps),
            initramfs=dict(config_mtime=mtime(self.params['config_file']), images=images))

    def boot_in_fstab(self):
        return any(entry['file'] == BOOT for entry in parse_fstab(read_text(FSTAB, '')))

    def boot_mounted(self):
        return any(mount['mountpoint'] == BOOT for mount in self.blockdevs.mounts())


def main():
    module = AnsibleModule(
        argument_spec=JOB_OPTIONS,
        supports_check_mode=True,
    )
    job = JobSurvey(module, BlockDevices(sys_root=SYS_ROOT, proc_root=PROC_ROOT, dev_root=DEV_ROOT, stat_path=STAT))
    arrays, refusals = [], []
    for spec in module.params['arrays']:
        try:
            arrays.append(job.array(spec))
        except (Refusal, CommandFailed) as refusal:
            refusals.append('%s: %s' % (spec['device'], refusal))
            arrays.append(dict(device=spec['device'], refusal=refusals[-1]))
    if refusals:
        module.fail_json(msg=' | '.join(refusals), refusals=refusals, changed=False, arrays=arrays)
    module.exit_json(changed=False, arrays=arrays, **job.host())


if __name__ == '__main__':
    main()
