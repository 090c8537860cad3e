# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fs_grow's backend: find the filesystem, read it, plan its grow (survey) and run the plan."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import tempfile

from ansible_collections.fleet.linux.plugins.module_utils.blockdev import device_node, probe_tags
from ansible_collections.fleet.linux.plugins.module_utils.common import CommandRunner, Refusal, command_line, read_text
from ansible_collections.fleet.linux.plugins.module_utils.filesystem import (
    Btrfs, explain_failure, filesystem_class, human, plan_grow)


TEMPORARY_MOUNTPOINT = '<temporary directory>'
# Mounting and unmounting a temporary mountpoint leave nothing changed.
LEAVE_NO_CHANGE = ('mount', 'umount')


class FsGrow(object):
    """fs_grow: survey() reads and plans (raising Refusal, nothing changed); grow() acts on it; run() is the whole module."""

    def __init__(self, module, blockdevs):
        self.module = module
        self.blockdevs = blockdevs
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
        self.module.fail_json(msg=msg, changed=self.changed(), actions=[command_line(a) for a in self.done], **kwargs)

    def mount_of_path(self, path):
        """The mount entry holding ``path``, which must exist (the last mounted one wins, like path lookup)."""
        try:
            self.blockdevs.stat(path)
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

    def probe_fstype(self, device):
        return probe_tags(self.runner('blkid'), self.runner('wipefs'), device).get('TYPE')

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
            raise Refusal('%s failed (exit %d): %s' % (command_line([self.runner(argv[0]).path] + argv[1:]), rc, (err or out).strip()))
        try:
            state = fs.parse(out)
        except ValueError as exc:
            raise Refusal('%s: %s' % (device, exc))
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
            msg += ' (already done: %s; the filesystem was not grown)' % '; '.join(command_line(a) for a in self.done)
        self.fail(msg, rc=rc, stdout=out, stderr=err)

    def survey(self, params):
        """Read and plan growing the filesystem (``params``: device or path, mount_temporarily).

        Returns the result check mode gives, with the context apply() needs under ``_context``;
        raises Refusal (``self.fstype`` says what was found) before anything changes.
        """
        name, device, mountpoint = self.resolve(params)
        self.fstype = self.probe_fstype(device)
        fs = filesystem_class(self.fstype, device)
        names = [name]
        if fs is Btrfs:
            members = self.read_state(fs, self.fstype, device, None)['devices']
            names += [self.blockdevs.kernel_name(d['path']) for d in members if d['path']]
        mountpoint = mountpoint or self.mountpoint(names)
        device_size = self.blockdevs.size(name)
        state = self.read_state(fs, self.fstype, device, mountpoint)
        before = self.sizes(fs, state, device_size)
        self.partial = {'changed': False, 'fstype': self.fstype, 'device': device, 'mountpoint': mountpoint,
                        'before': before, 'actions': []}
        actions = plan_grow(fs, state, device, device_size, mountpoint, params['mount_temporarily'], TEMPORARY_MOUNTPOINT)
        after = dict(before, fs_size=before['target_size'] if actions else before['fs_size'])
        return dict(self.partial, changed=bool(actions), after=after,
                    actions=[command_line([self.runner(a[0]).path] + a[1:]) for a in actions],
                    _context=(fs, name, actions))

    def run(self):
        self.module.exit_json(**self.grow(self.module.params))

    def grow(self, params):
        """Read, plan and, outside check mode, grow (``params`` as survey's): fs_grow's result. Fails the module
        on a refusal (nothing changed) or a failing step (saying what was done)."""
        self.fstype = None
        self.partial = {}
        try:
            result = self.survey(params)
        except Refusal as exc:
            self.module.fail_json(msg=str(exc), **dict(dict(changed=False, fstype=self.fstype, actions=[]), **self.partial))
        fs, name, actions = result.pop('_context')
        if actions and not self.module.check_mode:
            self.apply(actions)
            try:
                state = self.read_state(fs, self.fstype, result['device'], result['mountpoint'])
            except Refusal as exc:
                self.fail(str(exc))
            result.update(actions=[command_line(a) for a in self.done], after=self.sizes(fs, state, self.blockdevs.size(name)))
        result['diff'] = {'before': self.describe(result['device'], result['before']),
                          'after': self.describe(result['device'], result['after'])}
        return result

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
