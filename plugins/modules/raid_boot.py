#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: raid_boot
short_description: Run the boot steps a RAID job's plan lists, in one call
version_added: 0.1.0
description:
  - The boot steps of the P(fleet.linux.raid_reshape#role) role, as its plan (the C(raid_reshape_plan) filter over
    M(fleet.linux.raid_plan)) lists them, in one module call and in this order - remember the steps a reshape
    will owe (O(remember)), regenerate the initramfs, regenerate the GRUB configuration, install GRUB on each disk
    of O(grub_install), forget the owed steps done (O(forget)), and want mdadm's last-resort timer of each array
    of O(start_degraded) at boot.
  - Runs exactly what it is given; a step left empty is not run. Deciding what is needed is the plan's job.
  - Owed steps are files in O(state_dir) (a directory root owns), written atomically; they survive a power
    loss in the middle of a reshape, so the next run finishes the boot steps.
  - On failure, RV(actions) lists the steps done before it and C(changed) says whether there were any.
author:
  - fleet.linux contributors (@fleet-linux)
options:
  state_dir:
    description: Where owed boot steps are remembered.
    type: path
    default: /var/lib/fleet-raid-reshape
  remember:
    description: Owed steps to remember, file name (C(ARRAY.grub-install), C(ARRAY.grub-mkconfig)) to content.
    type: dict
    default: {}
  initramfs_command:
    description: The command regenerating the initramfs, run when given (see O(initramfs_if_older_than)).
    type: list
    elements: str
    default: []
  initramfs_if_older_than:
    description:
      - Run O(initramfs_command) only if an initramfs image in C(/boot) (C(initrd.img-*)) is older than this file,
        the mdadm configuration once the reshapes have written it.
    type: path
  grub_mkconfig_command:
    description: The command regenerating the GRUB configuration, run when given.
    type: list
    elements: str
    default: []
  grub_install:
    description: Disks to install GRUB on.
    type: list
    elements: path
    default: []
  grub_target:
    description: C(grub-install --target).
    type: str
    default: i386-pc
  forget:
    description: Owed steps done, file names in O(state_dir) to remove.
    type: list
    elements: str
    default: []
  start_degraded:
    description: Last-resort timer units (C(mdadm-last-resort@md1.timer)) to want at boot (in C(sysinit.target.wants)).
    type: list
    elements: str
    default: []
notes:
  - Supports check mode (returns the steps it would run).
seealso:
  - module: fleet.linux.raid_plan
'''

EXAMPLES = r'''
- name: GRUB on every disk of /boot's array, and its owed step forgotten
  fleet.linux.raid_boot:
    grub_install: [/dev/sda, /dev/sdb, /dev/sdc, /dev/sdd]
    forget: [md1.grub-install]
'''

RETURN = r'''
actions:
  description:
    - The steps run (or, in check mode, that would run), each as one command line, as every fleet.linux module
      reports its actions; writing and removing files read C(write PATH), C(remove PATH), C(link PATH TARGET).
    - On failure, the steps done before it.
  returned: always
  type: list
  elements: str
  sample: [/usr/sbin/grub-install --target=i386-pc /dev/sda, remove /var/lib/fleet-raid-reshape/md1.grub-install]
'''

import errno
import glob
import os

from ansible_collections.fleet.linux.plugins.module_utils.common import (
    CommandRunner, Refusal, TruthfulModule, check_regular, command_line, write_atomically)

# Where the units are wanted at boot, the last-resort timer they point to, the initramfs images (tests point
# them elsewhere).
WANTS_DIR = '/etc/systemd/system/sysinit.target.wants'
LAST_RESORT_TIMER = '/lib/systemd/system/mdadm-last-resort@.timer'
INITRAMFS_IMAGES = '/boot/initrd.img-*'


def initramfs_older_than(path):
    """Whether an initramfs image is older than ``path`` (which must exist)."""
    newest_input = os.stat(path).st_mtime
    return any(os.stat(image).st_mtime < newest_input for image in glob.glob(INITRAMFS_IMAGES))


def checked_name(name):
    """A file name of the state directory (never a path)."""
    if not name or '/' in name or name in ('.', '..'):
        raise Refusal('%r is not a file name of the state directory' % name)
    return name


class BootSteps(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params
        module.actions = []

    def step(self, line, change, *args):
        """Record the step; outside check mode run it (``change(*args)``), after which the host has changed."""
        if not self.module.check_mode:
            change(*args)
            self.module.changed = True
        self.module.actions.append(line)

    def command(self, argv):
        runner = CommandRunner(self.module, argv[0])
        self.step(command_line(runner.argv(*argv[1:])), runner.run, *argv[1:])

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
        if not os.path.isdir(WANTS_DIR) and not self.module.check_mode:
            os.makedirs(WANTS_DIR)
        self.step('link %s %s' % (path, LAST_RESORT_TIMER), os.symlink, LAST_RESORT_TIMER, path)

    def run(self):
        p = self.params
        state_dir = p['state_dir']
        for name, content in sorted(p['remember'].items()):
            path = os.path.join(state_dir, checked_name(name))
            self.step('write %s' % path, write_atomically, self.module, path, content, 0o644, 0, 0)
        if p['initramfs_command'] and (not p['initramfs_if_older_than'] or initramfs_older_than(p['initramfs_if_older_than'])):
            self.command(p['initramfs_command'])
        if p['grub_mkconfig_command']:
            self.command(p['grub_mkconfig_command'])
        for disk in p['grub_install']:
            self.command(['grub-install', '--target=%s' % p['grub_target'], disk])
        for name in p['forget']:
            self.remove(os.path.join(state_dir, checked_name(name)))
        for unit in p['start_degraded']:
            self.link(unit)


def main():
    module = TruthfulModule(
        argument_spec=dict(
            state_dir=dict(type='path', default='/var/lib/fleet-raid-reshape'),
            remember=dict(type='dict', default={}),
            initramfs_command=dict(type='list', elements='str', default=[]),
            initramfs_if_older_than=dict(type='path'),
            grub_mkconfig_command=dict(type='list', elements='str', default=[]),
            grub_install=dict(type='list', elements='path', default=[]),
            grub_target=dict(type='str', default='i386-pc'),
            forget=dict(type='list', elements='str', default=[]),
            start_degraded=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    try:
        BootSteps(module).run()
    except (Refusal, IOError, OSError) as failure:
        module.fail_json(msg='raid_boot: %s' % failure)
    module.exit_json(changed=bool(module.actions), actions=module.actions)


if __name__ == '__main__':
    main()
