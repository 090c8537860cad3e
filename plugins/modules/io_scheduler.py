#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: io_scheduler
short_description: Choose the blk-mq I/O scheduler of disks, at once and across reboots
version_added: 0.1.0
description:
  - Sets the I/O scheduler (C(mq-deadline), C(bfq), C(kyber) or C(none) - the blk-mq schedulers
    of Linux 5.0 and later) of the disks O(devices) selects, by writing
    C(/sys/block/DEV/queue/scheduler), and keeps it across reboots with a udev rule in
    O(rules_file), a file this module owns.
  - O(devices) holds kernel names or globs matched against C(/sys/block) (whole disks, never
    partitions). Virtual devices (C(loop*), C(ram*), C(zram*), C(dm-*), C(md*), C(nbd*)) are only
    selected by a pattern that names them (C(loop*), C(md0)). O(rotational) narrows the selection
    to spinning disks or to flash, so one task serves HDD servers and SD-card or SSD Raspberry Pis.
  - The rules file holds one rule per selection (the O(devices) patterns and O(rotational)), so
    tasks with different selections share it. Running the module again with the same selection
    replaces that rule in place; where selections overlap, the later rule in the file wins at boot.
  - A scheduler the kernel does not offer yet but has as a module (C(bfq), C(kyber-iosched)) is
    loaded with C(modprobe) when O(load_module=true). The modules the rules need are listed in
    O(modules_load_file) too, so they are loaded early at boot rather than on demand by the kernel.
  - Refuses, changing nothing, a device name that does not exist (or is a partition), a device
    path that is not a block device (a regular file, a directory, a missing path), a device
    without a scheduler (a bio-based md or dm device), a scheduler the kernel cannot offer (the
    message lists those it offers), and a O(rules_file) or O(modules_load_file) it did not write
    (or that holds lines it did not write, or is a symbolic link or no regular file).
  - A failure after something was changed (a scheduler module loaded, a scheduler set, a file
    written) reports C(changed=true) and the RV(actions) done; a failure before reports C(changed=false).
author:
  - fleet.linux contributors (@fleet-linux)
options:
  devices:
    description:
      - Kernel names or globs of the disks, for example C(sdb), C(sd*), C(vd[b-c]), C(mmcblk*),
        C(nvme*n1), matched against C(/sys/block) (C(/dev/sd*) is the glob C(sd*)).
      - Or paths of disks, for example C(/dev/sdb) or C(/dev/disk/by-id/ata-...); a path is the
        block device it leads to (links followed), found by its major:minor and written into the
        rule as that device's kernel name at the time of the run. A path that is not a block
        device (a regular file named like a disk, a directory) or does not exist is refused,
        with O(state=absent) too (give the kernel name to remove the rule of a disk that is gone).
      - A plain name must exist; a glob may select nothing (the rule is still written, for disks
        that appear later, and one play can serve hosts with different disks).
      - Kernel names like C(sdb) can change between boots when disks come and go; a glob with
        O(rotational) selects by kind instead.
    type: list
    elements: str
    required: true
  rotational:
    description:
      - Select only spinning disks (V(true)) or only non-rotational ones - SSD, SD card, eMMC,
        NVMe (V(false)), as C(queue/rotational) says. Unset selects both.
      - It is part of the selection, so a rule with V(true) and one with V(false) for the same
        O(devices) live side by side.
    type: bool
  scheduler:
    description:
      - The scheduler to use, for example V(mq-deadline), V(bfq), V(kyber) or V(none).
      - Required with O(state=present).
    type: str
  state:
    description:
      - V(present) sets the scheduler now and keeps the selection's rule in O(rules_file).
      - V(absent) removes the selection's rule (the file goes with its last rule); the
        schedulers in use stay until the next boot.
    type: str
    choices: [present, absent]
    default: present
  load_module:
    description: Load the scheduler's kernel module (C(modprobe SCHEDULER-iosched)) when the kernel does not offer it yet.
    type: bool
    default: true
  rules_file:
    description:
      - The udev rules file this module owns. One file can hold the rules of many tasks.
      - A file there that the module did not write is refused, never overwritten.
    type: path
    default: /etc/udev/rules.d/60-fleet-io-scheduler.rules
  modules_load_file:
    description:
      - The C(modules-load.d) file listing the scheduler modules the rules of O(rules_file) need
        (for example C(bfq)); removed when they need none. Built-in schedulers need no entry.
      - The module owns it as it owns O(rules_file) - a file there that it did not write, or a
        module listed in it that no rule needs, is refused, never overwritten or removed.
    type: path
    default: /etc/modules-load.d/fleet-io-scheduler.conf
attributes:
  check_mode:
    description: Reports the module loads, sysfs writes and file changes that would happen.
    support: full
  diff_mode:
    description: Shows the schedulers of the selected devices and both files before and after.
    support: full
notes:
  - Files are written atomically; C(udevadm control --reload) follows a change of O(rules_file).
  - Requires C(modprobe) (kmod) to load scheduler modules and C(udevadm) for the reload.
'''

EXAMPLES = r'''
- name: BFQ on the data disks of the microserver
  fleet.linux.io_scheduler:
    devices: [sdb, sdc, sdd]
    scheduler: bfq

- name: BFQ on spinning disks, mq-deadline on flash - HDD servers and Pis alike
  fleet.linux.io_scheduler:
    devices: ['sd*', 'mmcblk*', 'nvme*n*']
    rotational: "{{ item.rotational }}"
    scheduler: "{{ item.scheduler }}"
  loop:
    - {rotational: true, scheduler: bfq}
    - {rotational: false, scheduler: mq-deadline}

- name: Forget the rule of the data disks (their scheduler changes at the next boot)
  fleet.linux.io_scheduler:
    devices: [sdb, sdc, sdd]
    state: absent
'''

RETURN = r'''
devices:
  description: The kernel names the selection matched on this host.
  returned: always
  type: list
  elements: str
  sample: [vdb, vdc]
before:
  description: The scheduler each selected device used before the module ran.
  returned: always
  type: dict
  sample: {vdb: none, vdc: mq-deadline}
after:
  description: The scheduler each selected device uses now (in check mode, would use).
  returned: always
  type: dict
  sample: {vdb: bfq, vdc: bfq}
offered:
  description: The schedulers each selected device offered when the module read it.
  returned: always
  type: dict
  sample: {vdb: [mq-deadline, bfq, none]}
actions:
  description: What the module did (in check mode, would do), in order.
  returned: always
  type: list
  elements: str
  sample:
    - modprobe bfq
    - echo bfq > /sys/block/vdb/queue/scheduler
    - write /etc/udev/rules.d/60-fleet-io-scheduler.rules
    - write /etc/modules-load.d/fleet-io-scheduler.conf
    - udevadm control --reload
rule:
  description: The udev rule of this selection (empty with O(state=absent)).
  returned: always
  type: str
  sample: ACTION=="add|change", SUBSYSTEM=="block", ENV{DEVTYPE}=="disk", KERNEL=="vdb", ATTR{queue/scheduler}="bfq"
modules_load:
  description: The kernel modules O(modules_load_file) lists after the run.
  returned: always
  type: list
  elements: str
  sample: [bfq]
'''

import os
import stat

from ansible_collections.fleet.linux.plugins.module_utils.blockdev import BlockDevices
from ansible_collections.fleet.linux.plugins.module_utils.common import (
    CommandRunner, Refusal, TruthfulModule, read_file, write_atomically)
from ansible_collections.fleet.linux.plugins.module_utils.io_scheduler import (
    SCHEDULER_RE, VIRTUAL_PREFIXES, changes, device_pattern, is_partition, merge_rule, missing_names,
    parse_modprobe_show_depends, parse_modules_load, parse_rules, read_block_queues, render_modules_load, render_rules,
    scheduler_module_names, select_devices, udev_rule, unsupported)

# Where the kernel is read and written, and how a device path is identified (tests point them at fixtures).
SYS_ROOT = '/sys'
STAT = os.stat


def write_sysfs(path, value):
    with open(path, 'w') as handle:
        handle.write(value)


class IoScheduler(object):

    def __init__(self, module):
        self.module = module
        self.modprobe = CommandRunner(module, 'modprobe', required=False)
        self.kinds = {}
        self.actions = module.actions = []

    def act(self, action, change, *args):
        """Record an action; outside check mode do it: ``change(*args)``, after which the host has changed."""
        self.actions.append(action)
        if self.module.check_mode:
            return
        try:
            change(*args)
        except (IOError, OSError) as exc:
            self.module.fail_json(msg='io_scheduler: %s failed: %s' % (action, exc))
        self.module.changed = True

    def scheduler_module(self, scheduler):
        """('builtin'|'module'|None, module name) as modprobe resolves SCHEDULER-iosched, like the kernel."""
        if scheduler not in self.kinds:
            if scheduler == 'none' or not self.modprobe.path:
                self.kinds[scheduler] = (None, None)
            else:
                rc, out, _err = self.modprobe.run('--show-depends', '%s-iosched' % scheduler, check_rc=False)
                self.kinds[scheduler] = parse_modprobe_show_depends(out) if rc == 0 else (None, None)
        return self.kinds[scheduler]

    def refuse_missing(self, devices, patterns):
        for name in missing_names(devices, patterns):
            if is_partition(name, SYS_ROOT):
                disk = os.path.basename(os.path.dirname(os.path.realpath(os.path.join(SYS_ROOT, 'class', 'block', name))))
                raise Refusal('%s is a partition: the I/O scheduler belongs to its whole disk (%s). Name the disk.'
                              % (name, disk))
            disks = [d for d in sorted(devices) if not d.startswith(VIRTUAL_PREFIXES)]
            raise Refusal('device %s does not exist: /sys/block lists %s. Check the name (lsblk -d).'
                          % (name, ', '.join(disks) or 'no disk'))

    def module_loaded(self, scheduler):
        kind, kmod = self.scheduler_module(scheduler)
        return kind == 'module' and os.path.isdir(os.path.join(SYS_ROOT, 'module', kmod.replace('-', '_')))

    def refuse_unsupported(self, devices, names, scheduler):
        """Refuse selected devices that do not offer the scheduler, saying what they offer and why."""
        missing = unsupported(devices, names, scheduler)
        for name, offered in sorted(missing.items()):
            if not offered:
                raise Refusal('%s has no I/O scheduler (a bio-based device such as md or dm): set the scheduler '
                              'of the disks under it instead.' % name)
        if not missing:
            return
        kind, kmod = self.scheduler_module(scheduler)
        if kind is None:
            why = 'and this kernel has no module %s-iosched to load' % scheduler
        elif kind == 'builtin' or self.module_loaded(scheduler):
            why = 'although the kernel has it (a zoned disk only takes mq-deadline or none)'
        else:
            why = 'and load_module is false: set it to true, or run "modprobe %s" first' % kmod
        name, offered = sorted(missing.items())[0]
        raise Refusal('%s does not offer the I/O scheduler %s %s. The kernel offers: %s.'
                      % (', '.join(sorted(missing)), scheduler, why, ', '.join(offered)))

    def read_owned_file(self, path):
        """The content of a file the module owns ('' when there is none); Refusal for what is no regular file
        (a link too: write_atomically would refuse it only after the schedulers were set)."""
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return ''
        if not stat.S_ISREG(mode):
            kind = 'a directory' if stat.S_ISDIR(mode) else 'a symbolic link' if stat.S_ISLNK(mode) else 'no regular file'
            raise Refusal('%s is %s, not a file io_scheduler wrote: choose another path, or move it away.' % (path, kind))
        return read_file(path, '')

    def write_file(self, path, before, after):
        """Atomically give ``path`` the content ``after`` ('' removes it); whether it changes."""
        if before == after:
            return False
        if after:
            self.act('write %s' % path, write_atomically, self.module, path, after)
        else:
            self.act('remove %s' % path, os.remove, path)
        return True

    def run(self):
        p = self.module.params
        if os.path.abspath(p['rules_file']) == os.path.abspath(p['modules_load_file']):
            raise Refusal('rules_file and modules_load_file are the same file (%s): give each its own path.'
                          % p['rules_file'])
        scheduler = p['scheduler'] if p['state'] == 'present' else None
        if scheduler is not None and not SCHEDULER_RE.match(scheduler):
            raise Refusal('scheduler %r is not an I/O scheduler name (like mq-deadline, bfq, kyber or none).' % scheduler)
        identify = BlockDevices(sys_root=SYS_ROOT, stat_path=STAT).identify
        patterns = sorted(set(device_pattern(d, identify) for d in p['devices']))
        rules_before = self.read_owned_file(p['rules_file'])
        modules_load_before = self.read_owned_file(p['modules_load_file'])
        rules_in_file = parse_rules(rules_before, p['rules_file'])
        rules = merge_rule(rules_in_file, patterns, p['rotational'], scheduler)
        rules_after = render_rules(rules)
        modules = [self.scheduler_module(r['scheduler']) for r in rules]
        modules_load = sorted(set(m for kind, m in modules if kind == 'module'))
        modules_load_after = render_modules_load(modules_load)
        schedulers = set(r['scheduler'] for r in rules_in_file + rules)
        for name in schedulers:
            self.scheduler_module(name)
        parse_modules_load(modules_load_before, p['modules_load_file'], p['rules_file'],
                           scheduler_module_names(schedulers, self.kinds))

        devices = read_block_queues(SYS_ROOT)
        names = select_devices(devices, patterns, p['rotational'])
        before = dict((n, devices[n]['current']) for n in names)
        result = dict(changed=False, devices=names, before=before, after=dict(before), rule='',
                      offered=dict((n, devices[n]['offered']) for n in names), modules_load=modules_load)

        if scheduler is not None:
            self.refuse_missing(devices, patterns)
            result['rule'] = udev_rule(patterns, p['rotational'], scheduler)
            kind, kmod = self.scheduler_module(scheduler)
            if (unsupported(devices, names, scheduler) and kind == 'module' and p['load_module']
                    and not self.module_loaded(scheduler)):
                # Loading the module adds the scheduler to every blk-mq queue (those offering any).
                loading = dict((n, dict(d, offered=d['offered'] + [scheduler] if d['offered'] else []))
                               for n, d in devices.items())
                self.refuse_unsupported(loading, names, scheduler)
                self.act('modprobe %s' % kmod, self.modprobe.run, kmod)
                devices = loading if self.module.check_mode else read_block_queues(SYS_ROOT)
            self.refuse_unsupported(devices, names, scheduler)
            for name, _current, wanted in changes(devices, names, scheduler):
                path = os.path.join(SYS_ROOT, 'block', name, 'queue', 'scheduler')
                self.act('echo %s > %s' % (wanted, path), write_sysfs, path, wanted)
                result['after'][name] = wanted

        rules_changed = self.write_file(p['rules_file'], rules_before, rules_after)
        self.write_file(p['modules_load_file'], modules_load_before, modules_load_after)
        if rules_changed:
            udevadm = CommandRunner(self.module, 'udevadm')
            self.act('udevadm control --reload', udevadm.run, 'control', '--reload')
        if not self.module.check_mode and scheduler is not None:
            result['after'] = dict((n, d['current']) for n, d in read_block_queues(SYS_ROOT).items() if n in names)
        result.update(changed=bool(self.actions), actions=self.actions)
        if self.module._diff:
            result['diff'] = [
                dict(before_header='I/O schedulers', after_header='I/O schedulers',
                     before=''.join('%s: %s\n' % i for i in sorted(before.items())),
                     after=''.join('%s: %s\n' % i for i in sorted(result['after'].items()))),
                dict(before_header=p['rules_file'], after_header=p['rules_file'],
                     before=rules_before, after=rules_after),
                dict(before_header=p['modules_load_file'], after_header=p['modules_load_file'],
                     before=modules_load_before, after=modules_load_after),
            ]
        return result


def main():
    module = TruthfulModule(
        argument_spec=dict(
            devices=dict(type='list', elements='str', required=True),
            rotational=dict(type='bool'),
            scheduler=dict(type='str'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            load_module=dict(type='bool', default=True),
            rules_file=dict(type='path', default='/etc/udev/rules.d/60-fleet-io-scheduler.rules'),
            modules_load_file=dict(type='path', default='/etc/modules-load.d/fleet-io-scheduler.conf'),
        ),
        required_if=[('state', 'present', ['scheduler'])],
        supports_check_mode=True,
    )
    if not module.params['devices']:
        module.fail_json(msg='devices is empty: name the disks (or globs like sd*) whose scheduler to set.')
    try:
        result = IoScheduler(module).run()
    except Refusal as refusal:
        # Refusals come before any change, but for a scheduler module loaded first: fail_json says which.
        module.fail_json(msg='io_scheduler: %s' % refusal)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
