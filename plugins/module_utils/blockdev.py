# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Block devices as the kernel sees them: sizes, mounts, swaps, holders, blkid tags.

Parsers are pure functions of a file's text; readers take a ``sysfs``/``proc`` root so
tests can point them at a captured tree.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal, describe_file_type, read_text

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


# blkid -o export writes each value byte by byte (util-linux misc-utils/blkid.c, safe_print):
# a byte >= 128 as "M-" and the byte less 128, then a control character (< 32, DEL) as "^" and
# the character xor 64, any other character of this set behind a backslash, the rest as is.
_BLKID_ESCAPED = ' \\"\'$`<>'


def encode_blkid_value(raw):
    """What ``blkid -o export`` prints for the value ``raw`` (bytes)."""
    out = []
    for byte in bytearray(raw):
        if byte >= 128:
            out.append('M-')
            byte -= 128
        if byte < 32 or byte == 127:
            out.append('^' + chr(byte ^ 64))
        else:
            out.append(('\\' if chr(byte) in _BLKID_ESCAPED else '') + chr(byte))
    return ''.join(out)


def decode_blkid_value(text):
    """The bytes ``blkid -o export`` printed as ``text`` (the inverse of encode_blkid_value).

    blkid does not escape a literal "^" or "M-", so "^I" is read as a tab and "M-x" as the byte
    0xf8: a value holding those reads wrong, which is why swap_rebuild takes the label from the
    swap header itself.
    """
    out, i = bytearray(), 0
    while i < len(text):
        high = 0
        if text.startswith('M-', i) and i + 2 < len(text):
            high, i = 128, i + 2
        if text[i] == '^' and i + 1 < len(text):
            byte, i = ord(text[i + 1]) ^ 64, i + 2
        elif text[i] == '\\' and i + 1 < len(text):
            byte, i = ord(text[i + 1]), i + 2
        else:
            byte, i = ord(text[i]), i + 1
        out.append((byte + high) & 0xff)
    return bytes(out)


def parse_blkid_export(text):
    """``blkid -o export`` output as a dict of decoded values (str, undecodable bytes kept as
    surrogates); empty when blkid found nothing. DEVNAME is printed unescaped and kept as is."""
    tags = {}
    for line in text.splitlines():
        key, sep, value = line.partition('=')
        if sep:
            tags[key] = value if key == 'DEVNAME' else decode_blkid_value(value).decode('utf-8', 'surrogateescape')
    return tags


BLKID_NOTHING_FOUND = 2
BLKID_AMBIVALENT = 8


def blkid_probe_tags(device, rc, out, err):
    """The tags of ``blkid -p -o export DEVICE`` from its exit status and output, or a Refusal.

    Exit 2 means no signature at all (no tags); exit 8, several signatures (an ambivalent result):
    refused, since what the device holds cannot be told.
    """
    if rc == BLKID_NOTHING_FOUND:
        return {}
    if rc == BLKID_AMBIVALENT:
        raise Refusal(
            '%s holds several signatures (blkid -p: ambivalent result), so what it holds cannot be told; '
            'list them with wipefs -n %s and remove the stale one with wipefs -o OFFSET once you know '
            'which it is' % (device, device))
    if rc != 0:
        raise Refusal('blkid -p %s failed (exit %d: %s), so what it holds cannot be told; check it with '
                      'blkid -p %s and wipefs -n %s, then run again' % (device, rc, (err or out).strip(), device, device))
    return parse_blkid_export(out)


def parse_wipefs_json(text):
    """``wipefs --no-act --json DEVICE`` output as a list of signatures (device, offset, type, uuid, label);
    finding none, util-linux 2.38 and 2.41 print an empty list (no output at all is taken the same)."""
    if not text.strip():
        return []
    try:
        signatures = json.loads(text)['signatures']
    except (ValueError, KeyError, TypeError) as exc:
        raise Refusal('wipefs --json printed something unexpected (%s): %r' % (exc, text[:200]))
    return [dict((key, sig.get(key)) for key in ('device', 'offset', 'type', 'uuid', 'label')) for sig in signatures]


def probe_tags(blkid, wipefs, device):
    """The tags of ``blkid -p -o export DEVICE`` (as blkid_probe_tags), run with the CommandRunners given.

    "Nothing found" is not taken on blkid's word: util-linux 2.41 (Debian 13) exits 2, nothing, for a device
    with several signatures where 2.38 exits 8, ambivalent (tests/fixtures/trixie/blkid). So then wipefs,
    which lists every signature it knows, must find nothing too; a signature it finds is refused as
    ambivalent, since blkid cannot tell which of them holds the data.
    """
    rc, out, err = blkid.run('-p', '-o', 'export', device, check_rc=False)
    if rc == BLKID_NOTHING_FOUND:
        wrc, wout, werr = wipefs.run('--no-act', '--json', device, check_rc=False)
        if wrc != 0:
            raise Refusal('blkid -p finds nothing on %s and wipefs -n %s failed (exit %d: %s), so what it holds '
                          'cannot be told; check it with wipefs -n %s, then run again'
                          % (device, device, wrc, (werr or wout).strip(), device))
        signatures = parse_wipefs_json(wout)
        if signatures:
            raise Refusal(
                '%s holds several signatures (%s) that blkid -p does not tell apart, so what it holds cannot be '
                'told; list them with wipefs -n %s and remove the stale one with wipefs -o OFFSET once you know '
                'which it is' % (device, ', '.join('%s at %s' % (sig['type'], sig['offset']) for sig in signatures),
                                 device))
    return blkid_probe_tags(device, rc, out, err)


def device_node(blockdevs, name, given):
    """The device node of kernel block device ``name`` (``given`` is how it was named), checked by its
    major:minor, so that commands run on that device and not on a path that could change under them."""
    node = os.path.join(blockdevs.dev_root, name.replace('!', '/'))
    if blockdevs.kernel_name(node) != name:
        raise Refusal('%s is block device %s, but %s is not its device node; fix /dev (udevadm trigger) '
                      'and run again' % (given, name, node))
    return node


class BlockDevices(object):
    """Reads block device state from sysfs and procfs (roots overridable for tests)."""

    def __init__(self, sys_root='/sys', proc_root='/proc', dev_root='/dev', stat_path=os.stat):
        self.sys_root = sys_root
        self.proc_root = proc_root
        self.dev_root = dev_root
        self.stat = stat_path

    def identify(self, path):
        """Kernel name of the block device at ``path``, found by its major:minor, never by its name.

        Symlinks (/dev/md/boot, /dev/disk/by-id/...) are followed. Raises Refusal, saying what
        was given and what is expected, for a path that does not exist or is not a block special
        file (a regular file named like a device is not that device).
        """
        try:
            st = self.stat(path)
        except OSError as exc:
            raise Refusal('%s does not exist (%s): give the path of a block device, such as /dev/sdb2 '
                          'or a /dev/disk/by-id link to one (lsblk lists them).' % (path, exc.strerror))
        if not stat.S_ISBLK(st.st_mode):
            raise Refusal('%s is not a block device but %s: give the path of a block device, such as '
                          '/dev/sdb2 or a /dev/disk/by-id link to one (lsblk lists them).'
                          % (path, describe_file_type(st.st_mode)))
        number = '%d:%d' % (os.major(st.st_rdev), os.minor(st.st_rdev))
        name = self.name_of_number(number)
        if name is None:
            raise Refusal('%s is a block special file for device %s, which this kernel does not have: '
                          'give a device the kernel knows (lsblk lists them).' % (path, number))
        return name

    def name_of_number(self, number):
        """Kernel name of the block device MAJOR:MINOR (from /sys/dev/block), or None."""
        try:
            target = os.readlink(os.path.join(self.sys_root, 'dev', 'block', number))
        except OSError:
            return None
        return os.path.basename(target)

    def kernel_name(self, device):
        """Kernel name of the block device at ``device`` (by major:minor), or None when there is none."""
        try:
            return self.identify(device)
        except Refusal:
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

    def parent_disk(self, name):
        """Kernel name of the disk a partition is on, or None for a whole device."""
        if not os.path.exists(self._block(name, 'partition')):
            return None
        return os.path.basename(os.path.dirname(os.path.realpath(self._block(name))))

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

    def filesystem_types(self, number):
        """Types of the filesystems mounted from device MAJOR:MINOR (a file's st_dev), e.g. {'tmpfs'}."""
        return set(m['fstype'] for m in self.mounts() if m['major_minor'] == number)

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
