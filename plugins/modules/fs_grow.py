#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: fs_grow
short_description: Grow an ext2/3/4, XFS or btrfs filesystem into its grown device
version_added: 0.1.0
description:
  - After an md array, a partition, a logical volume or a loop file has grown, grows the
    filesystem on it to fill it, online where the kernel allows. Nothing that C(/etc/fstab)
    or the bootloader refers to (UUID, label, device) changes.
  - The filesystem type is detected with C(blkid -p), never guessed from a name. The device is
    what its major:minor says; a symlink to a block device is followed and the commands run on the
    kernel's device node; a mount is matched to it by the major:minor C(/proc/self/mountinfo) gives.
  - ext2/3/4 grow with C(resize2fs), online when mounted; unmounted, C(e2fsck -f -p) runs
    first, as resize2fs requires. XFS grows with C(xfs_growfs) on its mountpoint. btrfs grows
    B(every) device of the filesystem to its maximum (C(btrfs filesystem resize DEVID:max)).
  - A filesystem that already fills its device, up to the grow tool's own slack (whole blocks,
    a last group or allocation group too small to be added), is left alone.
  - Refuses, changing nothing, when the device holds no filesystem or an unsupported one, when
    the device is smaller than the filesystem (it never shrinks), and when an XFS or btrfs
    filesystem is not mounted (unless O(mount_temporarily=true)). A kernel refusal (for example
    a missing CAP_SYS_RESOURCE capability for an online ext4 resize) is reported with its cause.
  - Refuses, changing nothing, a O(device) that does not exist or is not a block device (a regular
    file, a directory), a O(path) that does not exist or is not on a filesystem of a block device,
    and a device with several signatures (C(blkid -p) ambivalent).
  - When a step fails after another changed something (C(e2fsck) before an offline C(resize2fs)),
    the result says C(changed=true) and the message lists what was done.
author:
  - fleet.linux contributors (@fleet-linux)
options:
  device:
    description:
      - The block device holding the filesystem (any member device for a multi-device btrfs), or
        a symlink to it.
      - Exactly one of O(device) and O(path) is required.
    type: path
  path:
    description:
      - A path on the mounted filesystem to grow (usually its mountpoint). It must exist.
    type: path
  mount_temporarily:
    description:
      - For XFS and btrfs, which only grow while mounted, mount an unmounted filesystem on a
        temporary directory for the grow and unmount it afterwards.
    type: bool
    default: false
attributes:
  check_mode:
    description: Reports the commands that would run, and the sizes, without running them.
    support: full
  diff_mode:
    description: Shows the filesystem and device sizes before and after.
    support: full
notes:
  - Growing an ext4 online needs the CAP_SYS_RESOURCE capability (missing in most containers).
  - Requires C(blkid), and C(resize2fs)/C(dumpe2fs)/C(e2fsck), C(xfs_growfs)/C(xfs_info) or
    C(btrfs) for the filesystem found.
seealso:
  - module: fleet.linux.md_reshape
  - module: fleet.linux.swap_rebuild
'''

EXAMPLES = r'''
- name: Grow /boot's ext4 online into its reshaped RAID10 array
  fleet.linux.fs_grow:
    device: /dev/md1

- name: Grow the filesystem mounted on /srv (XFS, ext4 or btrfs alike)
  fleet.linux.fs_grow:
    path: /srv

- name: Grow an unmounted XFS, mounting it on a temporary directory for the grow
  fleet.linux.fs_grow:
    device: /dev/md2
    mount_temporarily: true
'''

RETURN = r'''
fstype:
  description: Filesystem type found by blkid.
  returned: success
  type: str
  sample: ext4
device:
  description: The device node of the block device the filesystem was found on (resolved from O(path) if given).
  returned: success
  type: str
  sample: /dev/md1
mountpoint:
  description: Where the filesystem is mounted, or null.
  returned: success
  type: str
  sample: /boot
actions:
  description: The commands run (or, in check mode, that would run), as argument lists.
  returned: always
  type: list
  elements: list
  sample: [["/usr/sbin/resize2fs", "/dev/md1"]]
before:
  description:
    - Sizes in bytes before growing. C(fs_size) is the filesystem size, C(device_size) the block
      device's, C(target_size) what the grow tool would make of it. For btrfs C(devices) lists
      every device (devid, path, size in the filesystem, device_size).
  returned: success
  type: dict
  sample: {fs_size: 268435456, device_size: 536870912, target_size: 536870912}
after:
  description: Sizes in bytes after growing (same keys as RV(before)); in check mode, the expected sizes.
  returned: success
  type: dict
  sample: {fs_size: 536870912, device_size: 536870912, target_size: 536870912}
'''

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleet.linux.plugins.module_utils.blockdev import BlockDevices, blkid_probe_tags, device_node
from ansible_collections.fleet.linux.plugins.module_utils.common import CommandRunner, Refusal, read_text
from ansible_collections.fleet.linux.plugins.module_utils.filesystem import (
    Btrfs, explain_failure, filesystem_class, human, plan_grow)

TEMPORARY_MOUNTPOINT = '<temporary directory>'
# Mounting and unmounting a temporary mountpoint leave nothing changed.
LEAVE_NO_CHANGE = ('mount', 'umount')

# Where the kernel's views and the device nodes are (tests point them at fixture trees).
SYS_ROOT = '/sys'
PROC_ROOT = '/proc'
DEV_ROOT = '/dev'
STAT = os.stat


class FsGrow(object):

    def __init__(self, module):
        self.module = module
        self.blockdevs = BlockDevices(sys_root=SYS_ROOT, proc_root=PROC_ROOT, dev_root=DEV_ROOT, stat_path=STAT)
        self.runners = {}
        self.done = []

    def runner(self, tool):
        if tool not in self.runners:
            self.runners[tool] = CommandRunner(self.module, tool)
        return self.runners[tool]

    def changed(self):
        return any(os.path.basename(argv[0]) not in LEAVE_NO_CHANGE for argv in self.done)

    def fail(self, msg, **kwargs):
        """Fail saying whether anything changed: ``changed`` is true once a command that changes ran."""
        self.module.fail_json(msg=msg, changed=self.changed(), actions=self.done, **kwargs)

    def mount_of_path(self, path):
        """The mount entry holding ``path``, which must exist (the last mounted one wins, like path lookup)."""
        try:
            STAT(path)
        except OSError as exc:
            raise Refusal('path %s does not exist (%s): give a path on the mounted filesystem to grow, usually its '
                          'mountpoint, or its device' % (path, exc.strerror))
        real = os.path.realpath(path)
        best = None
        for mount in self.blockdevs.mounts():
            point = mount['mountpoint']
            if real == point or real.startswith(point.rstrip('/') + '/'):
                if best is None or len(point) >= len(best['mountpoint']):
                    best = mount
        if best is None:
            raise Refusal('%s is on no mounted filesystem' % path)
        return best

    def device_of_mount(self, mount):
        """Kernel name of the block device a mount is of, by the major:minor mountinfo gives, or None.

        btrfs alone mounts on an anonymous device number: its source (a member's path) is identified.
        """
        name = self.blockdevs.name_of_number(mount['major_minor'])
        if name is None and mount['fstype'] == 'btrfs':
            name = self.blockdevs.kernel_name(mount['source'])
        return name

    def resolve(self, params):
        """(kernel name, device node, mountpoint or None) of the filesystem to grow."""
        if params['path']:
            mount = self.mount_of_path(params['path'])
            name = self.device_of_mount(mount)
            if name is None:
                raise Refusal('%s is on %s (%s, mounted on %s), which is not a block device: fs_grow grows a '
                              'filesystem on a block device'
                              % (params['path'], mount['source'], mount['fstype'], mount['mountpoint']))
            return name, device_node(self.blockdevs, name, mount['source']), mount['mountpoint']
        name = self.blockdevs.identify(params['device'])
        return name, device_node(self.blockdevs, name, params['device']), None

    def fstype(self, device):
        rc, out, err = self.runner('blkid').run('-p', '-o', 'export', device, check_rc=False)
        return blkid_probe_tags(device, rc, out, err).get('TYPE')

    def mountpoint(self, names):
        """A mountpoint of the filesystem on any of these kernel names (btrfs: any member)."""
        for mount in self.blockdevs.mounts():
            if self.device_of_mount(mount) in names:
                return mount['mountpoint']
        return None

    def read_state(self, fs, fstype, device, mountpoint):
        argv = fs.read_argv(device, mountpoint)
        rc, out, err = self.runner(argv[0]).run(*argv[1:], check_rc=False)
        if rc != 0:
            self.fail('%s failed (exit %d): %s' % (' '.join([self.runner(argv[0]).path] + argv[1:]), rc, (err or out).strip()),
                      rc=rc, stdout=out, stderr=err)
        try:
            state = fs.parse(out)
        except ValueError as exc:
            self.fail('%s: %s' % (device, exc))
        state['fstype'] = fstype
        if fs is Btrfs:
            sector = read_text(os.path.join(self.blockdevs.sys_root, 'fs', 'btrfs', state['uuid'], 'sectorsize'))
            state['sector_size'] = int(sector) if sector else None
            for dev in state['devices']:
                name = self.blockdevs.kernel_name(dev['path']) if dev['path'] else None
                dev['device_size'] = self.blockdevs.size(name) if name else None
        return state

    def sizes(self, fs, state, device_size):
        sizes = {'fs_size': fs.size(state), 'device_size': device_size,
                 'target_size': fs.target_size(state, device_size)}
        if fs is Btrfs:
            sizes['device_size'] = sum(dev['device_size'] or 0 for dev in state['devices'])
            sizes['devices'] = [dict((k, dev[k]) for k in ('devid', 'path', 'size', 'device_size'))
                                for dev in state['devices']]
        return sizes

    def run_action(self, argv):
        tool = argv[0]
        rc, out, err = self.runner(tool).run(*argv[1:], check_rc=False)
        # e2fsck -p: 1 means "errors corrected", the filesystem is now consistent.
        if rc == 0 or (tool == 'e2fsck' and rc == 1):
            return
        msg = explain_failure([self.runner(tool).path] + argv[1:], rc, out, err)
        if self.changed():
            msg += ' (already done: %s; the filesystem was not grown)' % '; '.join(' '.join(a) for a in self.done)
        self.fail(msg, rc=rc, stdout=out, stderr=err)

    def run(self):
        params = self.module.params
        fstype = None
        try:
            name, device, mountpoint = self.resolve(params)
            fstype = self.fstype(device)
            fs = filesystem_class(fstype, device)
        except Refusal as exc:
            self.module.fail_json(msg=str(exc), changed=False, fstype=fstype, actions=[])
        names = [name]
        if fs is Btrfs:
            members = self.read_state(fs, fstype, device, None)['devices']
            names += [self.blockdevs.kernel_name(d['path']) for d in members if d['path']]
        mountpoint = mountpoint or self.mountpoint(names)
        device_size = self.blockdevs.size(name)
        state = self.read_state(fs, fstype, device, mountpoint)
        before = self.sizes(fs, state, device_size)
        result = {'changed': False, 'fstype': fstype, 'device': device, 'mountpoint': mountpoint,
                  'before': before, 'actions': []}
        try:
            actions = plan_grow(fs, state, device, device_size, mountpoint, params['mount_temporarily'],
                                TEMPORARY_MOUNTPOINT)
        except Refusal as exc:
            self.module.fail_json(msg=str(exc), **result)
        if actions and not self.module.check_mode:
            self.apply(actions)
            state = self.read_state(fs, fstype, device, mountpoint)
            device_size = self.blockdevs.size(name)
            after = self.sizes(fs, state, device_size)
        else:
            after = dict(before, fs_size=before['target_size'] if actions else before['fs_size'])
        shown = self.done if self.done else [
            [self.runner(a[0]).path] + a[1:] for a in actions]
        result.update(changed=bool(actions), actions=shown, after=after,
                      diff={'before': self.describe(device, before), 'after': self.describe(device, after)})
        self.module.exit_json(**result)

    def apply(self, actions):
        temporary = None
        if any(TEMPORARY_MOUNTPOINT in argv for argv in actions):
            temporary = tempfile.mkdtemp(prefix='fs_grow.')
            actions = [[temporary if arg == TEMPORARY_MOUNTPOINT else arg for arg in argv] for argv in actions]
        try:
            for argv in actions:
                self.run_action(argv)
                self.done.append([self.runner(argv[0]).path] + argv[1:])
        finally:
            if temporary:
                if os.path.ismount(temporary):
                    self.runner('umount').run(temporary, check_rc=False)
                if not os.path.ismount(temporary):
                    os.rmdir(temporary)

    @staticmethod
    def describe(device, sizes):
        lines = ['device %s: %s (%d bytes)' % (device, human(sizes['device_size']), sizes['device_size']),
                 'filesystem: %s (%d bytes)' % (human(sizes['fs_size']), sizes['fs_size'])]
        for dev in sizes.get('devices', []):
            lines.append('  devid %d %s: %d of %d bytes' % (dev['devid'], dev['path'], dev['size'],
                                                            dev['device_size'] or 0))
        return '\n'.join(lines) + '\n'


def main():
    module = AnsibleModule(
        argument_spec=dict(
            device=dict(type='path'),
            path=dict(type='path'),
            mount_temporarily=dict(type='bool', default=False),
        ),
        mutually_exclusive=[('device', 'path')],
        required_one_of=[('device', 'path')],
        supports_check_mode=True,
    )
    FsGrow(module).run()


if __name__ == '__main__':
    main()
