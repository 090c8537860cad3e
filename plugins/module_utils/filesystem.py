# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Growing a filesystem into its grown device: one class per filesystem type.

Each class knows how to read its filesystem's size (pure parsers of the tool's output),
how far its grow tool would take it on a device of a given size (the tool's own slack:
rounding to blocks, a last group or allocation group too small to be added), and the
command that grows it. ``plan_grow`` decides from that state alone and returns the
commands to run (argument lists naming the tool), or raises Refusal.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal


def human(size):
    """1.5 GiB-style rendering of a byte count, for messages."""
    value = float(size)
    for unit in ('bytes', 'KiB', 'MiB', 'GiB', 'TiB'):
        if abs(value) < 1024 or unit == 'TiB':
            return ('%d %s' % (value, unit)) if unit == 'bytes' else ('%.1f %s' % (value, unit))
        value /= 1024
    return str(size)


def _colon_fields(text):
    """'Key:   value' lines (dumpe2fs -h) as a dict of stripped strings."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(':')
        if sep and key and not key.startswith(' '):
            fields.setdefault(key.strip(), value.strip())
    return fields


def parse_dumpe2fs(text):
    """The superblock fields of ``dumpe2fs -h`` that sizing needs, as integers and a feature set."""
    fields = _colon_fields(text)
    try:
        state = {
            'block_count': int(fields['Block count']),
            'block_size': int(fields['Block size']),
            'first_block': int(fields.get('First block', '0')),
            'blocks_per_group': int(fields['Blocks per group']),
            'inode_blocks_per_group': int(fields.get('Inode blocks per group', '0')),
            'reserved_gdt_blocks': int(fields.get('Reserved GDT blocks', '0')),
            'descriptor_size': int(fields.get('Group descriptor size', '32')),
        }
    except (KeyError, ValueError):
        raise ValueError('no ext2/3/4 superblock in dumpe2fs output: %s' % text.strip()[:200])
    state['features'] = sorted(fields.get('Filesystem features', '').split())
    state['state'] = fields.get('Filesystem state', '')
    return state


_XFS_NUMBER = re.compile(r'(\w+)=(\d+)')


def parse_xfs_info(text):
    """Data section geometry from ``xfs_info`` / ``xfs_growfs -n`` (blocks of ``block_size`` bytes)."""
    section, values = None, {}
    for line in text.splitlines():
        head = line.split('=', 1)[0].strip()
        if head:
            section = head
        for key, number in _XFS_NUMBER.findall(line):
            values.setdefault((section, key), int(number))
    try:
        return {
            'block_size': values[('data', 'bsize')],
            'data_blocks': values[('data', 'blocks')],
            'ag_count': values[('meta-data', 'agcount')],
            'ag_blocks': values[('meta-data', 'agsize')],
        }
    except KeyError:
        raise ValueError('no XFS geometry in xfs_info output: %s' % text.strip()[:200])


_BTRFS_DEVICE = re.compile(r'^\s*devid\s+(\d+)\s+size\s+(\d+)\s+used\s+(\d+)\s+path\s+(.+?)\s*$')


def parse_btrfs_show(text):
    """``btrfs filesystem show --raw`` of one filesystem: uuid, label and every device's size.

    A device reported as missing keeps its devid with ``path`` None.
    """
    uuid, label, total, devices = None, None, None, []
    for line in text.splitlines():
        match = re.match(r"^Label:\s+(?:'(.*)'|none)\s+uuid:\s+(\S+)", line)
        if match:
            label, uuid = match.group(1), match.group(2)
            continue
        match = re.match(r'^\s*Total devices\s+(\d+)', line)
        if match:
            total = int(match.group(1))
            continue
        match = _BTRFS_DEVICE.match(line)
        if match:
            path = match.group(4)
            devices.append({
                'devid': int(match.group(1)),
                'size': int(match.group(2)),
                'used': int(match.group(3)),
                'path': None if path.startswith('<missing') else path,
            })
    if uuid is None or not devices:
        raise ValueError('no btrfs filesystem in btrfs filesystem show output: %s' % text.strip()[:200])
    return {'uuid': uuid, 'label': label, 'total_devices': total, 'devices': devices}


def _is_power_of(number, base):
    while number > 1 and number % base == 0:
        number //= base
    return number == 1


class Ext(object):
    """ext2/3/4, grown with resize2fs: online when mounted, offline (after e2fsck -f) otherwise."""

    fstypes = ('ext2', 'ext3', 'ext4')
    tool = 'resize2fs'
    needs_mount = False
    # Kernel limit without the 64bit feature: 2^32 - 1 blocks.
    max_blocks_32bit = 2 ** 32 - 1

    @staticmethod
    def read_argv(device, mountpoint):
        return ['dumpe2fs', '-h', device]

    parse = staticmethod(parse_dumpe2fs)

    @staticmethod
    def size(state):
        return state['block_count'] * state['block_size']

    @classmethod
    def _group_has_superblock(cls, state, group):
        features = state['features']
        if 'sparse_super2' in features or 'sparse_super' not in features:
            return True  # every group (no sparse_super) or unknown backups: assume the larger overhead
        return group in (0, 1) or any(_is_power_of(group, base) for base in (3, 5, 7))

    @classmethod
    def target_blocks(cls, state, device_size):
        """Block count resize2fs gives this filesystem on ``device_size`` bytes.

        Like resize2fs: whole blocks, and a last group too small for its own metadata plus
        50 blocks is left out. The overhead is taken as its upper bound where the superblock
        backups cannot be told from dumpe2fs (sparse_super2), so this never overestimates.
        """
        per_group = state['blocks_per_group']
        blocks = device_size // state['block_size']
        if 'bigalloc' in state['features']:
            return blocks  # cluster rounding is left to resize2fs
        while blocks > state['first_block']:
            groups = -(-(blocks - state['first_block']) // per_group)
            remainder = (blocks - state['first_block']) % per_group
            overhead = 2 + state['inode_blocks_per_group']
            if cls._group_has_superblock(state, groups - 1):
                descriptor_blocks = -(-groups * state['descriptor_size'] // state['block_size'])
                overhead += 1 + descriptor_blocks + state['reserved_gdt_blocks']
            if groups > 1 and remainder and remainder < overhead + 50:
                blocks -= remainder
                continue
            break
        return blocks

    @classmethod
    def target_size(cls, state, device_size):
        return cls.target_blocks(state, device_size) * state['block_size']

    @classmethod
    def check_limits(cls, state, device, device_size):
        if '64bit' not in state['features'] and cls.target_blocks(state, device_size) > cls.max_blocks_32bit:
            raise Refusal(
                '%s: growing to %s needs more than 2^32 blocks, which an ext filesystem without the '
                '64bit feature cannot address; convert it first (unmounted: resize2fs -b %s)'
                % (device, human(device_size), device))

    @staticmethod
    def grow_argv(device, mountpoint, devices=None):
        if mountpoint:
            return [['resize2fs', device]]
        # Offline resize2fs insists on a freshly checked filesystem; -p repairs only what is safe.
        return [['e2fsck', '-f', '-p', device], ['resize2fs', device]]


class Xfs(object):
    """XFS, grown with xfs_growfs on its mountpoint (XFS cannot grow unmounted)."""

    fstypes = ('xfs',)
    tool = 'xfs_growfs'
    needs_mount = True
    min_ag_blocks = 64  # XFS_MIN_AG_BLOCKS: a smaller last allocation group is not added

    @staticmethod
    def read_argv(device, mountpoint):
        return ['xfs_info', mountpoint or device]

    parse = staticmethod(parse_xfs_info)

    @staticmethod
    def size(state):
        return state['data_blocks'] * state['block_size']

    @classmethod
    def target_size(cls, state, device_size):
        """Data size the kernel's xfs_growfs_data_private gives on ``device_size`` bytes."""
        blocks = device_size // state['block_size']
        remainder = blocks % state['ag_blocks']
        if remainder and remainder < cls.min_ag_blocks:
            blocks -= remainder
        return max(blocks, state['data_blocks']) * state['block_size']

    @staticmethod
    def check_limits(state, device, device_size):
        return None

    @staticmethod
    def grow_argv(device, mountpoint, devices=None):
        return [['xfs_growfs', mountpoint]]


class Btrfs(object):
    """btrfs, every device grown to its maximum (``devid:max``) on a mountpoint."""

    fstypes = ('btrfs',)
    tool = 'btrfs'
    needs_mount = True

    @staticmethod
    def read_argv(device, mountpoint):
        return ['btrfs', 'filesystem', 'show', '--raw', mountpoint or device]

    parse = staticmethod(parse_btrfs_show)

    @staticmethod
    def size(state):
        return sum(dev['size'] for dev in state['devices'])

    @staticmethod
    def device_target(state, device_size):
        """What ``devid:max`` makes of a device of ``device_size`` bytes: whole sectors."""
        sector = state.get('sector_size') or 4096
        return device_size - device_size % sector

    @classmethod
    def devices_to_grow(cls, state):
        """Devices whose block device is larger than their share of the filesystem (devid order)."""
        grow = []
        for dev in sorted(state['devices'], key=lambda d: d['devid']):
            if dev.get('device_size') is None:
                raise Refusal(
                    'btrfs %s: device %d (%s) is missing; replace or remove it before growing'
                    % (state['uuid'], dev['devid'], dev['path'] or 'missing'))
            if dev['device_size'] < dev['size']:
                raise Refusal(
                    'btrfs %s: %s (devid %d) is %s but the filesystem uses %s of it; fs_grow never '
                    'shrinks a filesystem' % (state['uuid'], dev['path'], dev['devid'],
                                              human(dev['device_size']), human(dev['size'])))
            if cls.device_target(state, dev['device_size']) > dev['size']:
                grow.append(dev)
        return grow

    @classmethod
    def target_size(cls, state, device_size=None):
        return sum(max(dev['size'], cls.device_target(state, dev['device_size'])) for dev in state['devices'])

    @staticmethod
    def check_limits(state, device, device_size):
        return None

    @classmethod
    def grow_argv(cls, device, mountpoint, devices=None):
        return [['btrfs', 'filesystem', 'resize', '%d:max' % dev['devid'], mountpoint] for dev in devices]


FILESYSTEMS = dict((fstype, cls) for cls in (Ext, Xfs, Btrfs) for fstype in cls.fstypes)


def filesystem_class(fstype, device):
    """The class for a blkid TYPE, or a Refusal saying what the device holds instead."""
    if not fstype:
        raise Refusal('%s holds no filesystem (blkid finds no signature on it); nothing to grow' % device)
    if fstype == 'swap':
        raise Refusal('%s holds swap, not a filesystem; use fleet.linux.swap_rebuild to grow it' % device)
    if fstype not in FILESYSTEMS:
        raise Refusal('%s holds %s, which fs_grow does not grow (supported: %s)'
                      % (device, fstype, ', '.join(sorted(FILESYSTEMS))))
    return FILESYSTEMS[fstype]


def plan_grow(fs, state, device, device_size, mountpoint=None, mount_temporarily=False,
              temporary_mountpoint=None):
    """Commands (argument lists) that grow the filesystem into its device; [] when it already fills it.

    ``fs`` is a filesystem class, ``state`` its parsed size state (for btrfs each device carries
    the ``device_size`` of its block device), ``mountpoint`` where it is mounted or None.
    Raises Refusal, before anything is changed, when growing is impossible or would shrink it.
    """
    fstype = state.get('fstype', fs.fstypes[-1])
    if fs is Btrfs:
        grow_devices = fs.devices_to_grow(state)
        if not grow_devices:
            return []
    else:
        current = fs.size(state)
        if device_size < current:
            raise Refusal(
                '%s is %s (%d bytes) but its %s filesystem is %s (%d bytes): the device is smaller '
                'than the filesystem; fs_grow never shrinks a filesystem, restore the device size first'
                % (device, human(device_size), device_size, fstype, human(current), current))
        if fs.target_size(state, device_size) <= current:
            return []
        fs.check_limits(state, device, device_size)
        grow_devices = None
    if mountpoint or not fs.needs_mount:
        return fs.grow_argv(device, mountpoint, grow_devices)
    if not mount_temporarily:
        raise Refusal(
            '%s (%s) is not mounted and %s can only grow a mounted filesystem; mount it, or set '
            'mount_temporarily=true to mount it on a temporary directory for the grow'
            % (device, fstype, fstype))
    return ([['mount', '-t', fstype, device, temporary_mountpoint]]
            + fs.grow_argv(device, temporary_mountpoint, grow_devices)
            + [['umount', temporary_mountpoint]])


_CAUSES = (
    (re.compile(r'Permission denied to resize filesystem'),
     'the kernel refused the online resize: this process lacks the CAP_SYS_RESOURCE capability '
     '(typical inside a container or under a restricted service); run it on the host with full '
     'root capabilities, or unmount the filesystem so that it is grown offline'),
    (re.compile(r'Operation not permitted'),
     'the kernel refused the resize (Operation not permitted): this process lacks the '
     'CAP_SYS_ADMIN capability; run it as root with full capabilities'),
    (re.compile(r"Please run 'e2fsck -f"),
     'resize2fs wants a checked filesystem: e2fsck found problems it could not repair '
     'safely; run e2fsck -f on the unmounted device by hand'),
)


def explain_failure(argv, rc, out, err):
    """A message naming the cause of a failed grow command, with the tool's own words."""
    text = ((err or '') + '\n' + (out or '')).strip()
    for pattern, cause in _CAUSES:
        if pattern.search(text):
            return '%s failed (exit %d): %s. Tool output: %s' % (' '.join(argv), rc, cause, text)
    return '%s failed (exit %d): %s' % (' '.join(argv), rc, text)
