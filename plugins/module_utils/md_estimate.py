# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long md's steps take (pure): the bytes each step moves and the seconds at the speed md will run at.

What md does, and what the estimate assumes:

- md runs a resync, recovery or reshape at most at the array's ``sync_speed_max`` (KiB/s; the file reads
  ``N (system)`` when it follows /proc/sys/dev/raid/speed_limit_max, ``N (local)`` when set for the array).
  While other I/O reaches the array's disks md slows down, to ``sync_speed_min`` at the lowest; and disks
  slower than the limit set the pace themselves. Nothing here measures the disks: the expected speed is
  the array's maximum capped at ``disk_speed`` (a conservative sequential speed, 100 MiB/s unless given),
  and the slowest is its minimum (a busy array), so an estimate is a range of seconds, expected..slowest.
- md's speed counts the sectors it walks through, and what it walks depends on the step: a recovery (a new
  mirror, the parity device of a RAID4, the mirrors a RAID0 -> RAID10 takeover adds) walks one member's
  size, writing it to every new member at once; a RAID4/5/6 reshape (and a RAID0 grow, which md runs as a
  RAID4 reshape) walks one member's size while it rewrites the whole array; a RAID10 reshape walks the
  array's old size, then resyncs the space it gained: its new size in all. A level change that keeps the layout (a takeover) moves no data,
  and neither does adding spares.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

KIB = 1024
SECTOR = 512
# The disks' own sequential speed, measured by nothing: a conservative figure for the rotating disks of a
# small server (KiB/s). The expected speed is md's maximum capped at it.
DEFAULT_DISK_SPEED_KIB = 100 * 1024
# md's defaults (/proc/sys/dev/raid/speed_limit_min and _max), when nothing was read.
DEFAULT_SPEED_LIMITS = dict(min=1000, max=200000)
SIZE_UNITS = ('B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB')


def format_size(nbytes):
    """1932735283 -> '1.8 GiB': binary units, one decimal below 10, none from 10 up."""
    if nbytes is None or nbytes < 0:
        raise ValueError('a size is a number of bytes, 0 or more, not %r' % (nbytes,))
    value = float(nbytes)
    for unit in SIZE_UNITS:
        shown = round(value, 1) if value < 10 else round(value)
        if shown < 1024 or unit == SIZE_UNITS[-1]:
            if unit == 'B':
                return '%d B' % shown
            return ('%.1f %s' if shown < 10 else '%.0f %s') % (shown, unit)
        value /= 1024
    raise AssertionError('unreachable')


def format_speed(kib_per_second):
    """md's speed (KiB/s) as a person reads it: 1000 -> '1000 KiB/s', 122880 -> '120 MiB/s'."""
    return '%s/s' % format_size(kib_per_second * KIB)


def format_duration(seconds):
    """A rough duration: 'under a minute', 'about 12 min', 'about 4 h 10 min' (to 5 min), 'about 2 d 3 h'."""
    if seconds is None or seconds < 0:
        raise ValueError('a duration is a number of seconds, 0 or more, not %r' % (seconds,))
    if seconds < 60:
        return 'under a minute'
    minutes = int(seconds / 60.0 + 0.5)
    if minutes < 60:
        return 'about %d min' % minutes
    if seconds < 86400 - 150:
        fives = int(seconds / 300.0 + 0.5)
        hours, rest = divmod(fives * 5, 60)
        return 'about %d h' % hours if not rest else 'about %d h %d min' % (hours, rest)
    days, hours = divmod(int(seconds / 3600.0 + 0.5), 24)
    return 'about %d d' % days if not hours else 'about %d d %d h' % (days, hours)


def parse_speed_limit(text):
    """An array's sync_speed_min or sync_speed_max: '1000 (system)' -> (1000, False), '8192 (local)' -> (8192, True);
    (None, None) when absent (a RAID0 has no such files: the system's limits apply once it has redundancy)."""
    match = re.match(r'^\s*(\d+)\s*(?:\((\w+)\))?', text or '')
    if not match:
        return None, None
    return int(match.group(1)), match.group(2) == 'local'


def parse_int(text):
    match = re.match(r'^\s*(-?\d+)\s*$', text or '')
    return int(match.group(1)) if match else None


def sync_inputs(values):
    """What the estimate reads of one array, from raw text of /sys/block/mdX/md/ (``values``: file name -> text or
    None): its own speed limits (KiB/s; ``*_local`` true when set for the array rather than following the system's),
    the member size (bytes, None when md gives none: a RAID0 says 0), the layout, and where a reshape is (bytes)."""
    speed_min, min_local = parse_speed_limit(values.get('sync_speed_min'))
    speed_max, max_local = parse_speed_limit(values.get('sync_speed_max'))
    component = parse_int(values.get('component_size'))
    completed = re.match(r'^\s*(\d+)\s*/\s*(\d+)', values.get('sync_completed') or '')
    position = parse_int(values.get('reshape_position'))
    return dict(
        speed_min=speed_min, speed_min_local=min_local, speed_max=speed_max, speed_max_local=max_local,
        component_size=component * KIB if component else None,
        layout=parse_int(values.get('layout')),
        sync_completed=[int(completed.group(1)) * SECTOR, int(completed.group(2)) * SECTOR] if completed else None,
        reshape_position=position * SECTOR if position is not None else None,
        reshape_direction=(values.get('reshape_direction') or '').strip() or None)


def speed_range(system, sync=None, disk_speed=DEFAULT_DISK_SPEED_KIB):
    """(expected, slowest) speed in KiB/s md runs the array's steps at.

    ``system`` is /proc/sys/dev/raid's dict(min=, max=) (None: md's defaults), ``sync`` the array's sync_inputs().
    The array's own files give the limits in force (its value, or the system's when they say "(system)"); an array
    without them (RAID0) gets the system's. md goes up to the maximum while the array is otherwise idle, and down
    to the minimum (never below it) while other I/O reaches its disks; it never goes faster than the disks, whose
    speed nothing measures here: ``disk_speed`` stands for it. 0 means md makes no progress at that bound.
    """
    system = dict(DEFAULT_SPEED_LIMITS, **dict((k, v) for k, v in (system or {}).items() if v is not None))
    sync = sync or {}
    low = sync.get('speed_min') if sync.get('speed_min') is not None else system['min']
    high = sync.get('speed_max') if sync.get('speed_max') is not None else system['max']
    # md sleeps only above the minimum: a minimum above the maximum wins.
    high = max(low, high)
    return min(high, disk_speed), min(low, disk_speed)


def data_size(level, devices, component, copies=2):
    """An array's size from its level, raid devices and member size (bytes)."""
    if level == 0:
        return devices * component
    if level == 1:
        return component
    if level in (4, 5):
        return (devices - 1) * component
    if level == 6:
        return (devices - 2) * component
    if level == 10:
        return devices * component // copies
    return None


def raid10_copies(layout):
    """Copies of each chunk of a RAID10 from its layout number (near copies times far copies); 2 when unknown."""
    if layout is None or layout < 0:
        return 2
    copies = (layout & 0xff) * ((layout >> 8) & 0xff)
    return copies or 2


def grow_options(argv):
    """{'level': 10, 'raid-devices': 4} of an mdadm argv's --level= and --raid-devices= options."""
    options = {}
    for word in argv:
        match = re.match(r'^--(level|raid-devices)=(\d+)$', word)
        if match:
            options[match.group(1)] = int(match.group(2))
    return options


def classify(shape, step):
    """What md does for one planned step from the array's ``shape``: (kind, members written, what it is called).

    kind is 'takeover' (a level change md makes in place: no data moves), 'spares' (added, idle), 'recovery'
    (new members written in one pass over a member's size), 'reshape' (the array rewritten) or 'resume' (an
    interrupted reshape going on).
    """
    argv = step['argv']
    expect = step['expect']
    options = grow_options(argv)
    if '--readwrite' in argv:
        return 'resume', 0, 'resume the reshape'
    if '--grow' not in argv:
        new = len(expect['members']) - len(shape['members'])
        if new > 0:
            return 'recovery', new, 'add the parity device'
        added = len(expect['spares']) - len(shape['spares'])
        return 'spares', 0, 'add %d spare%s' % (added, '' if added == 1 else 's')
    if 'level' in options:
        level = options['level']
        if level == 10 and shape['level'] == 0:
            return 'recovery', shape['raid_devices'], 'convert to raid10'
        if 'raid-devices' in options:
            return 'reshape', 0, 'convert to raid%d with %d devices' % (level, options['raid-devices'])
        if shape['level'] == 5 and level == 4 and shape['layout'] not in (None, 5):
            # md takes a RAID5 over as RAID4 only with its parity on the last device (parity-last); mdadm
            # moves it there first, rewriting the array.
            return 'reshape', 0, 'convert to raid4 (the parity moved to the last device)'
        return 'takeover', 0, 'convert to raid%d' % level
    if 'raid-devices' in options:
        devices = options['raid-devices']
        if shape['level'] == 1:
            return 'recovery', devices - shape['raid_devices'], 'grow to %d mirrors' % devices
        return 'reshape', 0, 'grow to %d devices' % devices
    return 'unknown', 0, ' '.join(argv)


def member_size(shape):
    """One member's size (bytes): md's own figure, else (RAID0) the array's size over its data members."""
    if shape.get('component'):
        return shape['component']
    level, devices, size = shape['level'], shape['raid_devices'], shape['size']
    data = {0: devices, 1: 1, 4: devices - 1, 5: devices - 1, 6: devices - 2}.get(level)
    if size is None or not data or data < 1:
        return None
    return size // data


def timing(walk, speed):
    """Seconds md needs to walk ``walk`` bytes at ``speed`` KiB/s: 0 for nothing, None when it never would."""
    if not walk:
        return 0.0
    if not speed:
        return None
    return walk / (speed * float(KIB))


def estimate_steps(before, steps, sync=None, system=None, disk_speed=DEFAULT_DISK_SPEED_KIB):
    """For each planned step (md_reshape's ``steps``, from the array's state ``before``), what md moves and how long.

    ``sync`` is the array's sync_inputs(), ``system`` /proc/sys/dev/raid's limits. Each entry has the step's
    ``action`` (its command line), ``kind`` (see classify), ``what`` (a short name), ``counts`` ('member' or
    'array': what md's speed counts in), ``bytes`` (written: the
    array's data for a reshape, the new members' for a recovery, 0 for a takeover), ``walk`` (the bytes md's
    speed counts through: a member's size for a recovery and a RAID4/5/6 reshape, the array's new size for a
    RAID10 reshape), ``speed`` and ``slowest_speed`` (KiB/s, see speed_range), ``seconds`` and ``slowest_seconds``
    (None when md would not progress at that speed). Sizes md does not give make ``bytes`` and the seconds None.
    """
    sync = sync or {}
    speed, slowest = speed_range(system, sync, disk_speed)
    shape = dict(level=before['level'], raid_devices=before['raid_devices'], members=list(before['members']),
                 spares=list(before['spares']), size=before.get('size'), component=sync.get('component_size'),
                 layout=sync.get('layout'))
    shape['component'] = member_size(shape)
    estimates = []
    for step in steps:
        kind, written, what = classify(shape, step)
        expect = step['expect']
        component, size = shape['component'], shape['size']
        layout = 258 if expect['level'] == 10 and shape['level'] == 0 else shape['layout']  # a takeover: near=2
        after = data_size(expect['level'], expect['raid_devices'], component, raid10_copies(layout)) if component else None
        moved = walk = None
        if kind in ('takeover', 'spares'):
            moved = walk = 0
        elif kind == 'recovery' and component is not None:
            moved, walk = written * component, component
        elif kind == 'reshape' and component is not None and size is not None:
            # A RAID10 grown walks its old size reshaping, then resyncs the space it gained: its new size in all.
            moved, walk = size, after if shape['level'] == 10 else component
        elif kind == 'resume' and component is not None and size is not None:
            moved, walk = remaining(shape, sync)
        estimates.append(dict(
            action=' '.join(step['argv']), kind=kind, what=what, bytes=moved, walk=walk, speed=speed,
            counts='array' if shape['level'] == 10 and kind in ('reshape', 'resume') else 'member',
            slowest_speed=slowest, seconds=timing(walk, speed) if walk is not None else None,
            slowest_seconds=timing(walk, slowest) if walk is not None else None))
        shape.update(level=expect['level'], raid_devices=expect['raid_devices'], members=list(expect['members']),
                     spares=list(expect['spares']), layout=layout, size=after if after is not None else size)
    return estimates


def remaining(shape, sync):
    """(bytes still to rewrite, bytes md still walks) of an interrupted reshape going on from where it stopped.

    Where md is: sync_completed when it says so (it reads 'none' while the reshape waits), else reshape_position
    (array bytes: a RAID10 walks them, then resyncs up to its new size; a RAID4/5/6 walks them over its new data
    members). A reshape going backwards (a shrink) is counted whole.
    """
    level, size, component = shape['level'], shape['size'], shape['component']
    if level == 10:
        walk = data_size(10, shape['raid_devices'], component, raid10_copies(shape['layout']))
        done = sync['sync_completed'][0] if sync.get('sync_completed') else sync.get('reshape_position')
    else:
        walk = component
        parity = {4: 1, 5: 1, 6: 2}.get(level)
        done = None
        if sync.get('sync_completed'):
            done = sync['sync_completed'][0]
        elif sync.get('reshape_position') is not None and parity:
            done = sync['reshape_position'] // (shape['raid_devices'] - parity)
    if done is None or sync.get('reshape_direction') == 'backwards' or not walk:
        return size, walk
    left = max(0, walk - done)
    if level == 10:
        return max(0, size - done), left
    return min(size, size * left // walk), left


def format_bound(seconds):
    """A duration as an upper bound reads it: 'up to ' + format_bound(s) -> 'up to 4 h 10 min', 'up to a minute'."""
    text = format_duration(seconds)
    return 'a minute' if text == 'under a minute' else text[len('about '):]


def describe(name, estimate):
    """One estimate as the plan shows it: 'md1: grow to 4 devices rewrites 1.8 TiB, about 4 h at 120 MiB/s'."""
    kind, moved, walk = estimate['kind'], estimate['bytes'], estimate['walk']
    head = '%s: %s' % (name, estimate['what'])
    if kind == 'takeover':
        return '%s moves no data (a takeover)' % head
    if kind == 'spares':
        return '%s moves no data' % head
    if moved is None:
        return '%s: no estimate (md gives no member size)' % head
    if kind == 'recovery':
        written = moved // walk if walk else 0
        text = '%s writes %s %s' % (head, format_size(walk), 'to the new member' if written == 1
                                    else 'to each of %d new members at once' % written)
    else:
        text = '%s rewrites %s%s' % (head, format_size(moved), ' more' if kind == 'resume' else '')
        if estimate['counts'] == 'member' and walk != moved:
            text += ' (%s a member)' % format_size(walk)
        elif kind == 'reshape' and walk > moved:
            text += ' then resyncs the %s it gains' % format_size(walk - moved)
    if estimate['seconds'] is None:
        return "%s, never: md's speed limit is 0 (raise sync_speed_max)" % text
    text += ', %s at %s' % (format_duration(estimate['seconds']), format_speed(estimate['speed']))
    slowest = estimate['slowest_seconds']
    if slowest is None:
        text += ' (no end while other I/O holds md to its minimum of 0 KiB/s)'
    elif format_duration(slowest) != format_duration(estimate['seconds']):
        text += ' (up to %s while other I/O holds md to %s)' % (format_bound(slowest), format_speed(estimate['slowest_speed']))
    return text


def total(estimates):
    """(expected, slowest) seconds of all the steps; None for a sum md never reaches or cannot be estimated."""
    def add(key):
        values = [e[key] for e in estimates]
        if any(v is None for v in values):
            return None
        return sum(values)
    return add('seconds'), add('slowest_seconds')
