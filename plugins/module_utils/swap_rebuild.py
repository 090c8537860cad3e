# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""swap_rebuild's backend: read the swap, plan its rebuild keeping UUID and label (survey), run the plan."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.fleet.linux.plugins.module_utils.blockdev import device_node, probe_tags
from ansible_collections.fleet.linux.plugins.module_utils.common import CommandRunner, Refusal, command_line, read_text
from ansible_collections.fleet.linux.plugins.module_utils.filesystem import human
from ansible_collections.fleet.linux.plugins.module_utils.swap import (
    PAGE_SIZES, fstab_swap_options, parse_fstab, parse_swap_header, plan_swap_rebuild, spanning_last_page)


class SwapRebuild(object):
    """swap_rebuild: survey() reads and plans (raising Refusal, nothing changed); rebuild() acts on it; run() is the whole module."""

    def __init__(self, module, blockdevs, fstab='/etc/fstab'):
        self.module = module
        self.blockdevs = blockdevs
        self.fstab = fstab
        self.page_size = os.sysconf('SC_PAGE_SIZE')
        self.runners = {}
        self.done = []
        self.name = None
        self.device = None

    def fail(self, msg, **kwargs):
        """Fail saying whether anything changed: ``changed`` is true once a command that changes ran."""
        self.module.fail_json(msg=msg, changed=bool(self.done), actions=[command_line(a) for a in self.done], **kwargs)

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
            raise Refusal('cannot read the swap header of %s: %s' % (self.device, exc))
        return parse_swap_header(data, self.page_size)

    def read_state(self):
        tags = probe_tags(self.runner('blkid'), self.runner('wipefs'), self.device)
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
        entries = parse_fstab(read_text(self.fstab, ''))
        paths = [self.device] + [e['spec'] for e in entries
                                 if e['spec'].startswith('/') and self.blockdevs.kernel_name(e['spec']) == self.name]
        return fstab_swap_options(entries, paths, uuid, label)

    def survey(self, params):
        """Read the swap and plan its rebuild (``params``: device, force): the result check mode gives, with
        what apply() needs under ``_context``. Raises Refusal (``self.partial`` holds what was read) before any change."""
        self.resolve(params['device'])
        tags, header, active, others, before = self.read_state()
        self.partial = dict(device=self.device, before=before)
        actions = plan_swap_rebuild(
            self.device, tags, header, before['device_size'], self.page_size, active=active,
            other_swaps=others, meminfo=self.blockdevs.meminfo(),
            fstab_options=self.fstab_options(before['uuid'], before['label']),
            force=params['force'], udev=self.module.get_bin_path('udevadm') is not None)
        after = dict(before, swap_size=before['spanning_size'] if actions else before['swap_size'],
                     page_size=self.page_size if actions else before['page_size'])
        return dict(self.partial, changed=bool(actions), after=after,
                    actions=[command_line([self.runner(a[0]).path] + a[1:]) for a in actions], _context=(header, actions))

    def run(self):
        self.module.exit_json(**self.rebuild(self.module.params))

    def rebuild(self, params):
        """Read, plan and, outside check mode, re-create the swap (``params`` as survey's): swap_rebuild's result.
        Fails the module on a refusal (nothing changed) or a failing step (saying what was done and what to do)."""
        self.partial = {}
        try:
            result = self.survey(params)
        except Refusal as exc:
            self.module.fail_json(msg=str(exc), changed=False, actions=[], **dict(dict(device=params['device']), **self.partial))
        header, actions = result.pop('_context')
        if actions and not self.module.check_mode:
            self.apply(actions, result['before'])
            try:
                _tags, new_header, _active, _others, after = self.read_state()
            except Refusal as exc:
                self.fail('%s: the swap was re-created, but reading it back failed: %s' % (self.device, exc))
            self.check_identity(header, new_header, result['before'], after)
            result.update(actions=[command_line(a) for a in self.done], after=after)
        result['diff'] = {'before': self.describe(result['before']), 'after': self.describe(result['after'])}
        return result

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
            if argv[0] == 'udevadm':
                self.module.warn('%s failed (exit %d): %s. The swap was re-created and is as planned, but its '
                                 '/dev/disk/by-uuid and by-label links may be missing until udev next probes %s'
                                 % (command_line([runner.path] + argv[1:]), rc, (err or out).strip(), self.device))
                continue
            if argv[0] == 'swapoff':
                state = 'The kernel could not take the swap back into memory; nothing was changed, the swap is still on'
            elif argv[0] == 'mkswap':
                state = self.after_mkswap_failed(swapon[0] if swapon else None)
            else:
                state = ('The swap was re-created across the device with the same UUID and label but is off; '
                         'turn it on with: %s' % command_line([runner.path] + argv[1:]))
            self.fail('%s failed (exit %d): %s. %s' % (command_line([runner.path] + argv[1:]), rc, (err or out).strip(), state),
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
