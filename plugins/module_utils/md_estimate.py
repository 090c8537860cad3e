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
  array's size (as it is before the grow). A level change that keeps the layout (a takeover) moves no data,
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
