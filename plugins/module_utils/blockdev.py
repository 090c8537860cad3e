# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Block devices as the kernel sees them: sizes, mounts, swaps, holders, blkid tags.

Parsers are pure functions of a file's text; readers take a ``sysfs``/``proc`` root so
tests can point them at a captured tree.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.fleet.linux.plugins.module_utils.common import read_text

SECTOR = 512


def _unescape_octal(field):
    """mountinfo and /proc/swaps escape space, tab, newline and backslash as \\ooo."""
    out, i = [], 0
    while i < len(field):
        if field[i] == '\\' and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return ''.join(out)


def parse_mountinfo(text):
    """Entries of /proc/self/mountinfo as dicts (major_minor, root, mountpoint, fstype, source)."""
    mounts = []
    for line in text.splitlines():
        if not line.strip():
            continue
        before, _sep, after = line.partition(' - ')
        fields = before.split()
        fstype, source = (after.split() + ['', ''])[:2]
        mounts.append({
            'major_minor': fields[2],
            'root': _unescape_octal(fields[3]),
            'mountpoint': _unescape_octal(fields[4]),
            'options': fields[5],
            'fstype': fstype,
            'source': _unescape_octal(source),
        })
    return mounts


def parse_proc_swaps(text):
    """Active swaps from /proc/swaps, sizes in bytes (the kernel prints KiB)."""
    swaps = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 5:
            continue
        swaps.append({
            'device': _unescape_octal(fields[0]),
            'type': fields[1],
            'size': int(fields[2]) * 1024,
            'used': int(fields[3]) * 1024,
            'priority': int(fields[4]),
        })
    return swaps


def parse_meminfo(text):
    """/proc/meminfo as a dict of bytes (values given in kB are converted)."""
    info = {}
    for line in text.splitlines():
        key, _sep, value = line.partition(':')
        parts = value.split()
        if not parts:
            continue
        number = int(parts[0])
        info[key.strip()] = number * 1024 if parts[1:] == ['kB'] else number
    return info


def parse_blkid_export(text):
    """``blkid -o export`` output (KEY=value lines) as a dict; empty when nothing was found."""
    tags = {}
    for line in text.splitlines():
        key, sep, value = line.partition('=')
        if sep:
            tags[key.strip()] = value.strip()
    return tags


class BlockDevices(object):
    """Reads block device state from sysfs and procfs (roots overridable for tests)."""

    def __init__(self, sys_root='/sys', proc_root='/proc', dev_root='/dev'):
        self.sys_root = sys_root
        self.proc_root = proc_root
        self.dev_root = dev_root

    def kernel_name(self, device):
        """'md0' for /dev/md0, /dev/md/0 or a /dev/disk/by-* link; None when it does not exist."""
        path = os.path.realpath(device)
        name = os.path.basename(path)
        if os.path.isdir(os.path.join(self.sys_root, 'class', 'block', name)):
            return name
        return None

    def _block(self, name, *parts):
        return os.path.join(self.sys_root, 'class', 'block', name, *parts)

    def size(self, name):
        """Size in bytes of a block device by kernel name."""
        return int(read_text(self._block(name, 'size'), '0')) * SECTOR

    def major_minor(self, name):
        return read_text(self._block(name, 'dev'))

    def holders(self, name):
        """Kernel names of the devices built on top of this one (md arrays, dm targets)."""
        try:
            return sorted(os.listdir(self._block(name, 'holders')))
        except OSError:
            return []

    def partitions(self, name):
        """Kernel names of this disk's partitions."""
        try:
            entries = os.listdir(self._block(name))
        except OSError:
            return []
        return sorted(e for e in entries if e.startswith(name) and os.path.exists(self._block(name, e, 'partition')))

    def mounts(self):
        return parse_mountinfo(read_text(os.path.join(self.proc_root, 'self', 'mountinfo'), ''))

    def swaps(self):
        return parse_proc_swaps(read_text(os.path.join(self.proc_root, 'swaps'), ''))

    def meminfo(self):
        return parse_meminfo(read_text(os.path.join(self.proc_root, 'meminfo'), ''))

    def mountpoints(self, name):
        """Where the device is mounted (every mountpoint, bind mounts included)."""
        dev = self.major_minor(name)
        return [m['mountpoint'] for m in self.mounts() if dev and m['major_minor'] == dev]

    def active_swap(self, name):
        """The /proc/swaps entry of this device, or None."""
        for swap in self.swaps():
            if self.kernel_name(swap['device']) == name:
                return swap
        return None

    def users(self, name):
        """Why the device (or one of its partitions) is busy: a list of human-readable reasons."""
        reasons = []
        for dev in [name] + self.partitions(name):
            reasons.extend('/dev/%s is mounted on %s' % (dev, mp) for mp in self.mountpoints(dev))
            if self.active_swap(dev):
                reasons.append('/dev/%s is an active swap' % dev)
            reasons.extend('/dev/%s is used by /dev/%s' % (dev, holder) for holder in self.holders(dev))
        return reasons
