#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: swap_rebuild
short_description: Re-create a swap area across its grown device, keeping its UUID and label
version_added: 0.1.0
description:
  - After the device under a swap area has grown (a reshaped md RAID0 array, a larger partition
    or logical volume), the swap still has its old size. This module turns the swap off if it is
    active, runs C(mkswap) with the B(same UUID and label), and turns it on again with the same
    priority (and the discard policy of its C(/etc/fstab) entry), so C(/etc/fstab) entries by
    UUID or LABEL keep working untouched.
  - The swap header is read directly from the device, so its size is known whether the swap is
    active or not, and its UUID and label are kept byte for byte (not as C(blkid) prints them,
    escaping spaces, quotes and other characters). A swap that already spans its device is left alone.
  - The device is what its major:minor says; a symlink to a block device (C(/dev/md/swap),
    C(/dev/disk/by-id/...)) is followed, and the commands run on the kernel's device node.
  - Before C(swapoff), checks that available memory (MemAvailable) plus the free space of the
    other active swaps can take back what this swap holds; otherwise refuses with the figures
    unless O(force=true).
  - Refuses, changing nothing, a path that does not exist or is not a block device (a regular
    file, a directory), a device that holds anything other than swap, or nothing, or several
    signatures (C(blkid -p) ambivalent), and a label C(mkswap -L) cannot write back unchanged
    (16 bytes long, or not UTF-8).
  - When a step fails after C(swapoff) has run, the result says C(changed=true), the message says
    what state the swap is left in and what to do; a failed C(mkswap) turns the old swap on again.
author:
  - fleet.linux contributors (@fleet-linux)
options:
  device:
    description:
      - The block device holding the swap area (for example C(/dev/md0)), or a symlink to it.
    type: path
    required: true
  force:
    description:
      - Turn the swap off even when memory and the other swaps look too small to take back what
        it holds. The kernel may then kill processes or refuse the swapoff.
    type: bool
    default: false
attributes:
  check_mode:
    description: Reports the commands that would run without running them.
    support: full
  diff_mode:
    description: Shows the swap and device sizes, UUID and label before and after.
    support: full
notes:
  - Requires C(blkid), C(mkswap), C(swapon) and C(swapoff) (util-linux).
seealso:
  - module: fleet.linux.md_reshape
  - module: fleet.linux.fs_grow
'''

EXAMPLES = r'''
- name: Grow the swap RAID0 array from 3 to 4 partitions
  fleet.linux.md_reshape:
    device: /dev/md0
    level: 0
    devices: [/dev/sda3, /dev/sdb3, /dev/sdc3, /dev/sdd3]

- name: Re-create its swap across the whole array, same UUID and label
  fleet.linux.swap_rebuild:
    device: /dev/md0
'''

RETURN = r'''
device:
  description: The device node of the swap device (the kernel's name for the device given; as given when it is refused).
  returned: always
  type: str
  sample: /dev/md0
actions:
  description: The commands run (or, in check mode, that would run), as argument lists.
  returned: always
  type: list
  elements: list
  sample:
    - ["/sbin/swapoff", "/dev/md0"]
    - ["/sbin/mkswap", "-L", "swap", "-U", "2863a135-946b-4876-8458-454cec3f620e", "/dev/md0"]
    - ["/sbin/swapon", "-p", "5", "/dev/md0"]
before:
  description:
    - The swap before the rebuild. Sizes in bytes; C(swap_size) is the usable size written in the
      swap header, C(device_size) the block device's, C(spanning_size) what mkswap gives the whole
      device. C(type) is blkid's TYPE. C(active), C(priority) and C(used) come from /proc/swaps.
  returned: success
  type: dict
  sample:
    device_size: 1073741824
    swap_size: 805302272
    spanning_size: 1073737728
    uuid: 2863a135-946b-4876-8458-454cec3f620e
    label: swap
    type: swap
    page_size: 4096
    active: true
    priority: 5
    used: 0
after:
  description: The swap after the rebuild (same keys as RV(before)); in check mode, as expected.
  returned: success
  type: dict
  sample:
    device_size: 1073741824
    swap_size: 1073737728
    spanning_size: 1073737728
    uuid: 2863a135-946b-4876-8458-454cec3f620e
    label: swap
    type: swap
    page_size: 4096
    active: true
    priority: 5
    used: 0
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleet.linux.plugins.module_utils.blockdev import BlockDevices, blkid_probe_tags, device_node
from ansible_collections.fleet.linux.plugins.module_utils.common import CommandRunner, Refusal, read_text
from ansible_collections.fleet.linux.plugins.module_utils.filesystem import human
from ansible_collections.fleet.linux.plugins.module_utils.swap import (
    PAGE_SIZES, fstab_swap_options, parse_fstab, parse_swap_header, plan_swap_rebuild, spanning_last_page)

# Where the kernel's views and the device nodes are (tests point them at fixture trees).
SYS_ROOT = '/sys'
PROC_ROOT = '/proc'
DEV_ROOT = '/dev'
FSTAB = '/etc/fstab'
STAT = os.stat


class SwapRebuild(object):

    def __init__(self, module):
        self.module = module
        self.blockdevs = BlockDevices(sys_root=SYS_ROOT, proc_root=PROC_ROOT, dev_root=DEV_ROOT, stat_path=STAT)
        self.page_size = os.sysconf('SC_PAGE_SIZE')
        self.runners = {}
        self.done = []
        self.name = None
        self.device = None

    def fail(self, msg, **kwargs):
        """Fail saying whether anything changed: ``changed`` is true once a command that changes ran."""
        self.module.fail_json(msg=msg, changed=bool(self.done), actions=self.done, **kwargs)

    def runner(self, tool):
        if tool not in self.runners:
            self.runners[tool] = CommandRunner(self.module, tool)
        return self.runners[tool]

    def resolve(self, given):
        """The device node of the block device at ``given`` (by its major:minor), or a Refusal."""
        self.name = self.blockdevs.identify(given)
        self.device = device_node(self.blockdevs, self.name, given)

    def read_header(self):
        try:
            with open(self.device, 'rb') as handle:
                data = handle.read(max(PAGE_SIZES))
        except (IOError, OSError) as exc:
            self.fail('cannot read the swap header of %s: %s' % (self.device, exc))
        return parse_swap_header(data, self.page_size)

    def read_state(self):
        rc, out, err = self.runner('blkid').run('-p', '-o', 'export', self.device, check_rc=False)
        tags = blkid_probe_tags(self.device, rc, out, err)
        header = self.read_header() if tags.get('TYPE') == 'swap' else None
        swaps = self.blockdevs.swaps()
        # /proc/swaps names the kernel's path of each swap: identified by major:minor like the device
        active = [s for s in swaps if self.blockdevs.kernel_name(s['device']) == self.name]
        device_size = self.blockdevs.size(self.name)
        state = {
            'device_size': device_size,
            'swap_size': header['size'] if header else None,
            'spanning_size': spanning_last_page(device_size, self.page_size) * self.page_size,
            'uuid': (header or {}).get('uuid') or tags.get('UUID'),
            'label': (header or {}).get('label'),
            'type': tags.get('TYPE'),
            'page_size': header['page_size'] if header else None,
            'active': bool(active),
            'priority': active[0]['priority'] if active else None,
            'used': active[0]['used'] if active else None,
        }
        others = [s for s in swaps if s not in active]
        return tags, header, (active[0] if active else None), others, state

    def fstab_options(self, uuid, label):
        entries = parse_fstab(read_text(FSTAB, ''))
        paths = [self.device] + [e['spec'] for e in entries
                                 if e['spec'].startswith('/') and self.blockdevs.kernel_name(e['spec']) == self.name]
        return fstab_swap_options(entries, paths, uuid, label)

    def run(self):
        result = {'device': self.module.params['device'], 'actions': []}
        try:
            self.resolve(self.module.params['device'])
            tags, header, active, others, before = self.read_state()
            result.update(device=self.device, before=before)
            actions = plan_swap_rebuild(
                self.device, tags, header, before['device_size'], self.page_size, active=active,
                other_swaps=others, meminfo=self.blockdevs.meminfo(),
                fstab_options=self.fstab_options(before['uuid'], before['label']),
                force=self.module.params['force'])
        except Refusal as exc:
            self.module.fail_json(msg=str(exc), changed=False, **result)
        if actions and not self.module.check_mode:
            self.apply(actions, before)
            try:
                _tags, new_header, _active, _others, after = self.read_state()
            except Refusal as exc:
                self.fail('%s: the swap was re-created, but reading it back failed: %s' % (self.device, exc))
            self.check_identity(header, new_header, before, after)
        else:
            after = dict(before, swap_size=before['spanning_size'] if actions else before['swap_size'],
                         page_size=self.page_size if actions else before['page_size'])
        shown = self.done if self.done else [[self.runner(a[0]).path] + a[1:] for a in actions]
        result.update(changed=bool(actions), actions=shown, after=after,
                      diff={'before': self.describe(before), 'after': self.describe(after)})
        self.module.exit_json(**result)

    def check_identity(self, old, new, before, after):
        """After mkswap: the header must hold the old UUID and the old label, byte for byte."""
        if new is not None and (new['uuid'], new['label_bytes']) == (old['uuid'], old['label_bytes']):
            return
        self.fail('%s: the swap was re-created but its header now reads UUID %s and label %r instead of %s and %r; '
                  'set them back by hand (swaplabel -U %s -L LABEL %s) so that /etc/fstab finds the swap'
                  % (self.device, (new or {}).get('uuid'), (new or {}).get('label_bytes'), old['uuid'],
                     old['label_bytes'], old['uuid'], self.device), before=before, after=after)

    def apply(self, actions, before):
        """Run the planned steps; on a failure, fail saying what state the swap is left in and what to do."""
        swapon = [argv for argv in actions if argv[0] == 'swapon']
        for argv in actions:
            runner = self.runner(argv[0])
            rc, out, err = runner.run(*argv[1:], check_rc=False)
            if rc == 0:
                self.done.append([runner.path] + argv[1:])
                continue
            if argv[0] == 'swapoff':
                state = 'The kernel could not take the swap back into memory; nothing was changed, the swap is still on'
            elif argv[0] == 'mkswap':
                state = self.after_mkswap_failed(swapon[0] if swapon else None)
            else:
                state = ('The swap was re-created across the device with the same UUID and label but is off; '
                         'turn it on with: %s' % ' '.join([runner.path] + argv[1:]))
            self.fail('%s failed (exit %d): %s. %s' % (' '.join([runner.path] + argv[1:]), rc, (err or out).strip(), state),
                      rc=rc, stdout=out, stderr=err, before=before)

    def after_mkswap_failed(self, swapon):
        """What a failed mkswap leaves, for its message: the old swap, turned on again as it was if it was on."""
        if swapon is None:
            return 'The swap was not re-created (nothing else was done)'
        rc, _out, err = self.runner('swapon').run(*swapon[1:], check_rc=False)
        if rc == 0:
            self.done.append([self.runner('swapon').path] + swapon[1:])
            return 'The swap was not re-created; the old one was turned on again as it was'
        return ('The swap was not re-created and is now off (turning it on again failed: %s); check the device '
                'with blkid -p %s before turning it on with swapon' % (err.strip(), self.device))

    def describe(self, state):
        swap_size = state['swap_size'] or 0
        return ('device %s: %s (%d bytes)\nswap: %s (%d bytes), UUID=%s LABEL=%s, %s\n'
                % (self.device, human(state['device_size']), state['device_size'], human(swap_size), swap_size,
                   state['uuid'], state['label'],
                   'active, priority %s' % state['priority'] if state['active'] else 'inactive'))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            device=dict(type='path', required=True),
            force=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    SwapRebuild(module).run()


if __name__ == '__main__':
    main()
