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
  - The filesystem type is detected with C(blkid -p), never guessed from a name.
  - ext2/3/4 grow with C(resize2fs), online when mounted; unmounted, C(e2fsck -f -p) runs
    first, as resize2fs requires. XFS grows with C(xfs_growfs) on its mountpoint. btrfs grows
    B(every) device of the filesystem to its maximum (C(btrfs filesystem resize DEVID:max)).
  - A filesystem that already fills its device, up to the grow tool's own slack (whole blocks,
    a last group or allocation group too small to be added), is left alone.
  - Refuses, changing nothing, when the device holds no filesystem or an unsupported one, when
    the device is smaller than the filesystem (it never shrinks), and when an XFS or btrfs
    filesystem is not mounted (unless O(mount_temporarily=true)). A kernel refusal (for example
    a missing CAP_SYS_RESOURCE capability for an online ext4 resize) is reported with its cause.
author:
  - fleet.linux contributors (@fleet-linux)
options:
  device:
    description:
      - The block device holding the filesystem (any member device for a multi-device btrfs).
      - Exactly one of O(device) and O(path) is required.
    type: path
  path:
    description:
      - A path on the mounted filesystem to grow (usually its mountpoint).
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
  description: The block device the filesystem was found on (resolved from O(path) if given).
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

from ansible_collections.fleet.linux.plugins.module_utils.blockdev import BlockDevices, parse_blkid_export
from ansible_collections.fleet.linux.plugins.module_utils.common import CommandRunner, Refusal, read_text
from ansible_collections.fleet.linux.plugins.module_utils.filesystem import (
    Btrfs, explain_failure, filesystem_class, human, plan_grow)

TEMPORARY_MOUNTPOINT = '<temporary directory>'


class FsGrow(object):

    def __init__(self, module):
        self.module = module
        self.blockdevs = BlockDevices()
        self.runners = {}
        self.done = []

    def runner(self, tool):
        if tool not in self.runners:
            self.runners[tool] = CommandRunner(self.module, tool)
        return self.runners[tool]

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def mount_of_path(self, path):
        """The mount entry holding ``path`` (the last mounted one wins, like path lookup)."""
        real = os.path.realpath(path)
        best = None
        for mount in self.blockdevs.mounts():
            point = mount['mountpoint']
            if real == point or real.startswith(point.rstrip('/') + '/'):
                if best is None or len(point) >= len(best['mountpoint']):
                    best = mount
        return best

    def kernel_name(self, device):
        name = self.blockdevs.kernel_name(device) if device else None
        if name is None:
            self.fail('%s is not a block device' % device)
        return name

    def fstype(self, device):
        rc, out, err = self.runner('blkid').run('-p', '-o', 'export', device, check_rc=False)
        if rc not in (0, 2):
            self.fail('blkid -p %s failed (exit %d): %s' % (device, rc, (err or out).strip()))
        return parse_blkid_export(out).get('TYPE')

    def mountpoint(self, names, fstype):
        """A mountpoint of the filesystem on any of these kernel names (btrfs: any member)."""
        for mount in self.blockdevs.mounts():
            if mount['fstype'] != fstype:
                continue
            if self.blockdevs.kernel_name(mount['source']) in names:
                return mount['mountpoint']
        for name in names:
            points = self.blockdevs.mountpoints(name)
            if points:
                return points[0]
        return None

    def read_state(self, fs, fstype, device, mountpoint):
        argv = fs.read_argv(device, mountpoint)
        _rc, out, _err = self.runner(argv[0]).run(*argv[1:])
        try:
            state = fs.parse(out)
        except ValueError as exc:
            self.fail('%s: %s' % (device, exc))
        state['fstype'] = fstype
        if fs is Btrfs:
            sector = read_text('/sys/fs/btrfs/%s/sectorsize' % state['uuid'])
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
        self.fail(explain_failure([self.runner(tool).path] + argv[1:], rc, out, err),
                  rc=rc, stdout=out, stderr=err, actions=self.done)

    def run(self):
        params = self.module.params
        mountpoint = None
        if params['path']:
            mount = self.mount_of_path(params['path'])
            if mount is None or not mount['source'].startswith('/'):
                self.fail('%s is not on a filesystem mounted from a block device' % params['path'])
            device, mountpoint = mount['source'], mount['mountpoint']
        else:
            device = params['device']
        name = self.kernel_name(device)
        fstype = self.fstype(device)
        try:
            fs = filesystem_class(fstype, device)
        except Refusal as exc:
            self.fail(str(exc), fstype=fstype, device=device)
        names = [name]
        if fs is Btrfs:
            members = self.read_state(fs, fstype, device, None)['devices']
            names += [self.blockdevs.kernel_name(d['path']) for d in members if d['path']]
        mountpoint = mountpoint or self.mountpoint(names, fstype)
        device_size = self.blockdevs.size(name)
        state = self.read_state(fs, fstype, device, mountpoint)
        before = self.sizes(fs, state, device_size)
        result = {'changed': False, 'fstype': fstype, 'device': device, 'mountpoint': mountpoint,
                  'before': before}
        try:
            actions = plan_grow(fs, state, device, device_size, mountpoint, params['mount_temporarily'],
                                TEMPORARY_MOUNTPOINT)
        except Refusal as exc:
            self.fail(str(exc), **result)
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
