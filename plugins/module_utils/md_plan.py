# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planner for md_reshape: from an array's state and a declared target, the mdadm steps.

The search runs over array *shapes* (level, raid devices, spares, parity missing, devices
still to add) along the transitions mdadm performs online; the shortest path (fewest mdadm
commands) is then made concrete with device names. Each step predicts the state it leads
to, so check mode can show the whole plan; the module re-plans from the real state after
every step, which also absorbs kernels that finish a step differently (a grown RAID0 left
at RAID4 or already back at RAID0).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections import deque, namedtuple

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils.md import parity_missing

MIN_DEVICES = {0: 1, 1: 2, 4: 2, 5: 2, 6: 4, 10: 2}
BUSY_ACTIONS = ('resync', 'recover', 'check', 'repair')

Shape = namedtuple('Shape', 'level devices spares parity_missing pool')
Edge = namedtuple('Edge', 'kind shape adds releases')


def _successors(shape, max_devices):
    """Shapes reachable by one mdadm step, as Edges (kind, next shape, devices added, released)."""
    level, n, spares, missing, pool = shape
    edges = []
    if missing:
        edges.append(Edge('level', Shape(0, n - 1, 0, False, pool), 0, 0))
        if pool:
            edges.append(Edge('add', Shape(4, n, 0, False, pool - 1), 1, 0))
        return edges
    for m in range(n + 1, max_devices + 1):
        if level == 0:
            # mdadm grows a RAID0 through RAID4: it ends with the parity slot empty.
            added = m - n
            if added <= pool:
                edges.append(Edge('grow', Shape(4, m + 1, 0, True, pool - added), added, 0))
        elif level in (1, 4, 5, 6, 10):
            added = max(0, m - n - spares)
            if added <= pool:
                edges.append(Edge('grow', Shape(level, m, spares - (m - n - added), False, pool - added), added, 0))
    if level == 1:
        edges.append(Edge('level', Shape(0, 1, 0, False, pool + n - 1 + spares), 0, n - 1 + spares))
        if n == 2:
            edges.append(Edge('level', Shape(5, 2, spares, False, pool), 0, 0))
    if level == 0:
        # Takeover to RAID10 near=2 mirrors every member; extra devices join as spares
        # (mdadm wants them all at once: adding every device first is the documented way).
        for total in range(max_devices, 2 * n - 1, -1):
            added = total - n
            if added <= pool:
                edges.append(Edge('takeover10', Shape(10, 2 * n, total - 2 * n, False, pool - added), added, 0))
        edges.append(Edge('level', Shape(4, n + 1, 0, True, pool), 0, 0))
    if level == 10 and n % 2 == 0 and not spares:
        edges.append(Edge('level', Shape(0, n // 2, 0, False, pool + n // 2), 0, n // 2))
    if level == 5 and n == 2:
        edges.append(Edge('level', Shape(1, 2, spares, False, pool), 0, 0))
    if level == 4:
        edges.append(Edge('level', Shape(5, n, spares, False, pool), 0, 0))
    if level == 5:
        edges.append(Edge('level', Shape(4, n, spares, False, pool), 0, 0))
        added = 0 if spares else 1
        if added <= pool and n + 1 <= max_devices:
            edges.append(Edge('level6', Shape(6, n + 1, spares - (1 - added), False, pool - added), added, 0))
    if level == 6 and n > 4:
        edges.append(Edge('level5', Shape(5, n - 1, spares, False, pool + 1), 0, 1))
    if pool and level != 0:
        edges.append(Edge('spares', Shape(level, n, spares + pool, False, 0), pool, 0))
    # No step may pass through an array below its level's minimum (a RAID6 of three).
    return [e for e in edges if e.shape.devices - e.shape.parity_missing >= MIN_DEVICES[e.shape.level]]


def _search(start, goal, max_devices):
    """Fewest-steps path of Edges from start to goal, or None; also every shape reached."""
    previous = {start: None}
    queue = deque([start])
    while queue:
        shape = queue.popleft()
        if shape == goal:
            path = []
            while previous[shape] is not None:
                before, edge = previous[shape]
                path.append(edge)
                shape = before
            return list(reversed(path)), previous
        for edge in _successors(shape, max_devices):
            if edge.shape not in previous:
                previous[edge.shape] = (shape, edge)
                queue.append(edge.shape)
    return None, previous


def _describe(level, devices):
    return 'raid%d with %d device%s' % (level, devices, '' if devices == 1 else 's')


def _mdadm_grow(md, backup_file, *args):
    backup = ['--backup-file=%s' % backup_file] if backup_file else []
    return ['mdadm', '--grow', md] + backup + list(args)


def _realize(edges, state, md, target_devices, backup_file):
    """Concrete steps (argv, description, predicted state) along a path of Edges."""
    members = list(state['members'])
    spares = list(state['spares'])
    pool = sorted(d for d in target_devices if d not in members and d not in spares)
    level, n = state['level'], state['raid_devices']
    steps = []
    for edge in edges:
        added, pool = pool[:edge.adds], pool[edge.adds:]
        if edge.kind == 'grow':
            new_n = edge.shape.devices - (1 if edge.shape.parity_missing else 0)
            argv = _mdadm_grow(md, backup_file, '--raid-devices=%d' % new_n, *(['--add'] + added if added else []))
            text = 'grow %s to %d raid devices' % (_describe(level, n), new_n)
            used_spares = new_n - n - len(added)
            members += spares[:used_spares] + added
            spares = spares[used_spares:]
        elif edge.kind == 'takeover10':
            total = len(members) + len(added)
            argv = _mdadm_grow(md, backup_file, '--level=10', '--raid-devices=%d' % total, '--add', *added)
            text = 'convert raid0 to raid10 (near=2), mirroring every member'
            mirrors = added[:len(members)]
            spares += added[len(members):]
            members += mirrors
        elif edge.kind == 'add':
            argv = ['mdadm', md, '--add'] + added
            text = 'add the parity device of raid4'
            members += added
        elif edge.kind == 'spares':
            argv = ['mdadm', md, '--add'] + added
            text = 'add %s as spare%s' % (', '.join(added), '' if len(added) == 1 else 's')
            spares += added
        else:
            target_level = edge.shape.level
            extra = []
            if edge.kind == 'level6':
                extra = ['--raid-devices=%d' % edge.shape.devices] + (['--add'] + added if added else [])
                if not added:
                    members.append(spares.pop(0))
                else:
                    members += added
            elif edge.kind == 'level5':
                extra = ['--raid-devices=%d' % edge.shape.devices]
            argv = _mdadm_grow(md, backup_file, '--level=%d' % target_level, *extra)
            text = 'convert %s to %s' % (_describe(level, n), _describe(target_level, edge.shape.devices))
            if edge.releases:
                # Seen on mdadm 4.2 / Linux 6.1: RAID1 -> RAID0 keeps the last member; those
                # leaving are re-added later. (A prediction for check mode only: the module
                # plans again from the real state after every step.)
                kept = edge.shape.devices
                ordered = sorted(members, key=lambda d: state['slots'].get(d, 99), reverse=True)
                released_spares = edge.releases - len(ordered[kept:])
                released = ordered[kept:] + spares[:released_spares]
                members, spares = ordered[:kept], spares[released_spares:]
                pool = sorted(pool + released)
        level, n = edge.shape.level, edge.shape.devices
        steps.append({
            'argv': argv,
            'description': text,
            'expect': {'level': level, 'raid_devices': n, 'members': sorted(members), 'spares': sorted(spares)},
        })
    return steps


def _reachable_summary(reached):
    shapes = sorted(set((s.level, s.devices) for s in reached if not s.parity_missing))
    return ', '.join(_describe(level, n) for level, n in shapes)


def check_target(level, raid_devices, devices):
    """Refuse a level/device combination that makes no sense."""
    if level not in MIN_DEVICES:
        raise Refusal('level %s is not one md_reshape handles: use one of 0, 1, 4, 5, 6, 10.' % level)
    if raid_devices < MIN_DEVICES[level]:
        raise Refusal('raid%d needs at least %d raid devices, not %d.' % (level, MIN_DEVICES[level], raid_devices))
    if len(devices) < raid_devices:
        raise Refusal('raid_devices is %d but only %d devices are listed: list every member the array '
                      'should end with.' % (raid_devices, len(devices)))
    if level == 0 and len(devices) > raid_devices:
        raise Refusal('raid0 cannot have spares: list exactly %d devices.' % raid_devices)


def plan(state, md, level, raid_devices, devices, backup_file=None):
    """The steps that take an idle array from ``state`` to the target, or raise Refusal.

    ``devices`` are kernel device paths the array should end with (members then spares).
    Returns a list of steps ``{'argv', 'description', 'expect'}``; empty when the array
    already has the target shape.
    """
    current = set(state['members']) | set(state['spares'])
    unwanted = sorted(current - set(devices))
    if unwanted:
        raise Refusal('%s %s in %s but not in devices: md_reshape adds members and never removes them. '
                      'Add %s to devices, or remove it yourself first (mdadm %s --fail/--remove).'
                      % (', '.join(unwanted), 'is' if len(unwanted) == 1 else 'are', md,
                         'it' if len(unwanted) == 1 else 'them', md))
    check_target(level, raid_devices, devices)
    missing = parity_missing(state)
    start = Shape(state['level'], state['raid_devices'], len(state['spares']), missing,
                  len(set(devices) - current))
    goal = Shape(level, raid_devices, len(devices) - raid_devices, False, 0)
    if start == goal:
        return []
    max_devices = len(devices) + 1
    path, reached = _search(start, goal, max_devices)
    if path is None:
        raise Refusal('mdadm cannot take %s %s to %s online with the devices given. From here it can reach: %s.'
                      % (md, _describe(state['level'], state['raid_devices']), _describe(level, raid_devices),
                         _reachable_summary(reached)))
    return _realize(path, state, md, devices, backup_file)


def blocking_condition(state, target_level, target_devices):
    """Why the array cannot be reshaped now (a Refusal message), 'wait' for a sync to finish, or None.

    A RAID4 with only its parity missing is the planned transient state of a RAID0 grow,
    not a degradation.
    """
    action = state['sync_action']
    if state['reshaping'] or action == 'reshape':
        return 'wait'
    if action in BUSY_ACTIONS:
        return 'wait'
    if state['faulty']:
        return ('%s has faulty members (%s): replace them and let it recover before reshaping.'
                % (state.get('device', 'the array'), ', '.join(state['faulty'])))
    if state['degraded'] and not parity_missing(state):
        return ('the array is degraded (%d raid devices missing): reshaping a degraded array risks its data. '
                'Add replacement devices and wait for the recovery (cat /proc/mdstat) first.' % state['degraded'])
    return None


def resume_step(state, md):
    """The step that resumes a reshape a restart interrupted, None if there is none; Refusal if read-only on purpose.

    After a restart md assembles an array whose reshape is pending auto-read-only (read-auto), and
    the kernel goes on with the reshape only once the array is writable. Until then Linux (seen on
    6.1) reads the part of a RAID10 already reshaped at the members' old data offset with the new
    layout: the array reads wrong (blkid finds no filesystem) although its data is intact on the
    members. Making it writable resumes the reshape, and reads are right again at once.
    """
    if not state['reshaping'] or state['array_state'] not in ('read-auto', 'readonly'):
        return None
    if state['array_state'] == 'readonly':
        raise Refusal('%s was made read-only with a reshape pending: the kernel goes on with the reshape only on a '
                      'writable array, and until then a RAID10 reads wrong data from its part already reshaped. '
                      'Do not write to it, fsck or mkfs it; make it writable when you want the reshape to go on '
                      '(mdadm --readwrite %s) and run again.' % (md, md))
    return {
        'argv': ['mdadm', '--readwrite', md],
        'description': 'resume the reshape a restart interrupted (%s came back auto-read-only)' % md,
        'expect': dict((k, state[k]) for k in ('level', 'raid_devices', 'members', 'spares')),
    }


def reshape_heading_to_target(state, level, raid_devices, devices, md):
    """For an array already reshaping: None when its destination leads to the target, else a Refusal message."""
    destination = dict(state, raid_devices=state['raid_devices'], reshaping=False, sync_action='idle')
    try:
        plan(destination, md, level, raid_devices, devices)
    except Refusal as refusal:
        return ('%s is already reshaping (raid%s towards %d raid devices), and not towards the declared target: '
                'wait for the reshape to finish (cat /proc/mdstat), then declare a target reachable from there. %s'
                % (md, state['level'], state['raid_devices'], refusal))
    return None
