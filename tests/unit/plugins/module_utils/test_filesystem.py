# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fs_grow's parsers and planner, fed with outputs captured on the lab microserver."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
from hypothesis import given, strategies as st

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils.blockdev import (
    blkid_probe_tags, decode_blkid_value, encode_blkid_value, parse_blkid_export)
from ansible_collections.fleet.linux.plugins.module_utils.filesystem import (
    Btrfs, Ext, Xfs, explain_failure, filesystem_class, parse_btrfs_show, parse_dumpe2fs, parse_xfs_info, plan_grow)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'fs')
MiB = 1024 * 1024


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def sizes(name):
    return dict((dev, int(size)) for dev, size in (line.split() for line in fixture(name).splitlines()))


BEFORE = sizes('sizes-before-grow.txt')
AFTER = sizes('sizes-after-grow.txt')


def ext_state(name):
    return dict(parse_dumpe2fs(fixture(name)), fstype='ext4')


def xfs_state(name):
    return dict(parse_xfs_info(fixture(name)), fstype='xfs')


def btrfs_state(name, device_sizes, sector_size=4096):
    state = dict(parse_btrfs_show(fixture(name)), fstype='btrfs', sector_size=sector_size)
    for dev in state['devices']:
        dev['device_size'] = device_sizes.get(dev['path'])
    return state


# --- parsers -----------------------------------------------------------------------------------

def test_parse_dumpe2fs_of_ext4_on_md():
    state = parse_dumpe2fs(fixture('dumpe2fs-md1-raid0x2.txt'))
    assert state['block_count'] == 126976
    assert state['block_size'] == 1024
    assert state['first_block'] == 1
    assert state['blocks_per_group'] == 8192
    assert state['inode_blocks_per_group'] == 496
    assert state['reserved_gdt_blocks'] == 256
    assert state['descriptor_size'] == 64
    assert {'64bit', 'sparse_super', 'resize_inode', 'flex_bg'} <= set(state['features'])
    assert Ext.size(state) == BEFORE['md1'] == 124 * MiB


def test_parse_dumpe2fs_after_online_grow():
    assert Ext.size(parse_dumpe2fs(fixture('dumpe2fs-md1-raid0x3.txt'))) == AFTER['md1'] == 186 * MiB


def test_parse_dumpe2fs_rejects_other_output():
    with pytest.raises(ValueError, match='no ext2/3/4 superblock'):
        parse_dumpe2fs('dumpe2fs: Bad magic number in super-block while trying to open /dev/vdc3\n')


@pytest.mark.parametrize('name, blocks, ag_count', [
    ('xfs_info-vdc3-320M.txt', 81920, 4),
    ('xfs_growfs-n-vdc3-320M.txt', 81920, 4),
    ('xfs_info-vdc3-448M.txt', 114688, 6),
])
def test_parse_xfs_info(name, blocks, ag_count):
    state = parse_xfs_info(fixture(name))
    assert state == {'block_size': 4096, 'data_blocks': blocks, 'ag_count': ag_count, 'ag_blocks': 20480}


def test_parse_xfs_info_rejects_other_output():
    with pytest.raises(ValueError, match='no XFS geometry'):
        parse_xfs_info('xfs_info: /dev/vdd3 is not a valid XFS filesystem (unexpected SB magic number 0x00000000)\n')


def test_parse_btrfs_show_lists_every_device():
    state = parse_btrfs_show(fixture('btrfs-show-vda3-vdb3-320M.txt'))
    assert state['uuid'] == '173e977c-4117-4c7f-a834-5bb7ed0c6df5'
    assert state['label'] == 'btr'
    assert state['total_devices'] == 2
    assert [(d['devid'], d['size'], d['path']) for d in state['devices']] == [
        (1, 320 * MiB, '/dev/vda3'), (2, 320 * MiB, '/dev/vdb3')]


def test_parse_btrfs_show_missing_device_and_no_label():
    text = ("Label: none  uuid: 173e977c-4117-4c7f-a834-5bb7ed0c6df5\n"
            "\tTotal devices 2 FS bytes used 147456\n"
            "\tdevid    1 size 335544320 used 50331648 path /dev/vda3\n"
            "\tdevid    2 size 335544320 used 41943040 path <missing disk #2>\n")
    state = parse_btrfs_show(text)
    assert state['label'] is None
    assert state['devices'][1]['path'] is None


# --- detection ---------------------------------------------------------------------------------

@pytest.mark.parametrize('blkid, expected', [
    ('blkid-p-md1.txt', Ext),
    ('blkid-p-vdc3.txt', Xfs),
    ('blkid-p-vda3.txt', Btrfs),
])
def test_filesystem_class_from_blkid(blkid, expected):
    assert filesystem_class(parse_blkid_export(fixture(blkid)).get('TYPE'), '/dev/x') is expected


@pytest.mark.parametrize('blkid, message', [
    ('blkid-p-vdd3.txt', r'/dev/x holds no filesystem \(blkid finds no signature on it\)'),
    ('blkid-p-vda2.txt', r'/dev/x holds linux_raid_member, which fs_grow does not grow \(supported: btrfs, ext2, ext3, ext4, xfs\)'),
])
def test_filesystem_class_refusals(blkid, message):
    with pytest.raises(Refusal, match=message):
        filesystem_class(parse_blkid_export(fixture(blkid)).get('TYPE'), '/dev/x')


def test_swap_is_sent_to_swap_rebuild():
    with pytest.raises(Refusal, match='holds swap, not a filesystem; use fleet.linux.swap_rebuild'):
        filesystem_class('swap', '/dev/md0')


# --- planner: decision tables ------------------------------------------------------------------

@pytest.mark.parametrize('dumpe2fs, device_size, mountpoint, expected', [
    # fills its 2-member array: nothing to do, mounted or not
    ('dumpe2fs-md1-raid0x2.txt', BEFORE['md1'], '/srv/boot', []),
    ('dumpe2fs-md1-raid0x2.txt', BEFORE['md1'], None, []),
    # the array grew to 3 members: online when mounted, e2fsck first when not
    ('dumpe2fs-md1-raid0x2.txt', AFTER['md1'], '/srv/boot', [['resize2fs', '/dev/md1']]),
    ('dumpe2fs-md1-raid0x2.txt', AFTER['md1'], None,
     [['e2fsck', '-f', '-p', '/dev/md1'], ['resize2fs', '/dev/md1']]),
    # second run after the grow
    ('dumpe2fs-md1-raid0x3.txt', AFTER['md1'], '/srv/boot', []),
    # less than a block more: resize2fs would not add anything
    ('dumpe2fs-md1-raid0x3.txt', AFTER['md1'] + 1023, '/srv/boot', []),
    # its last group is partial (2047 of 8192 blocks): any whole block more extends it
    ('dumpe2fs-md1-raid0x3.txt', AFTER['md1'] + 1024, '/srv/boot', [['resize2fs', '/dev/md1']]),
])
def test_plan_ext(dumpe2fs, device_size, mountpoint, expected):
    assert plan_grow(Ext, ext_state(dumpe2fs), '/dev/md1', device_size, mountpoint) == expected


def test_ext_target_matches_what_resize2fs_did():
    """On the lab, resize2fs grew md1 to exactly the block count predicted here."""
    before, after = ext_state('dumpe2fs-md1-raid0x2.txt'), ext_state('dumpe2fs-md1-raid0x3.txt')
    assert Ext.target_blocks(before, AFTER['md1']) == after['block_count'] == 190464


@pytest.mark.parametrize('extra_blocks, expected', [
    (100, []),    # a new last group under its metadata (2 + 496 inode table blocks) + 50 is not added
    (547, []),
    (548, [['resize2fs', '/dev/md1']]),
    (1000, [['resize2fs', '/dev/md1']]),
])
def test_ext_new_last_group_rule(extra_blocks, expected):
    state = ext_state('dumpe2fs-md1-raid0x3.txt')
    state['block_count'] = boundary = 1 + 24 * 8192  # ends on a group boundary; group 24 has no backup
    assert plan_grow(Ext, state, '/dev/md1', (boundary + extra_blocks) * 1024, '/srv/boot') == expected


def test_ext_new_last_group_with_superblock_backup_needs_more():
    state = ext_state('dumpe2fs-md1-raid0x3.txt')
    state['block_count'] = boundary = 1 + 25 * 8192  # group 25 = 5^2 holds a superblock backup
    # 2 + 496 + 1 superblock + 26 groups x 64 bytes in 1 KiB blocks (2) + 255 reserved GDT + 50 = 806
    assert Ext.target_blocks(state, (boundary + 805) * 1024) == boundary
    assert Ext.target_blocks(state, (boundary + 806) * 1024) == boundary + 806


@pytest.mark.parametrize('xfs_info, device_size, mountpoint, temporarily, expected', [
    ('xfs_info-vdc3-320M.txt', BEFORE['vdc3'], '/srv/xfs', False, []),
    ('xfs_info-vdc3-320M.txt', BEFORE['vdc3'], None, False, []),
    ('xfs_info-vdc3-320M.txt', AFTER['vdc3'], '/srv/xfs', False, [['xfs_growfs', '/srv/xfs']]),
    ('xfs_info-vdc3-320M.txt', AFTER['vdc3'], None, True,
     [['mount', '-t', 'xfs', '/dev/vdc3', '/tmp/t'], ['xfs_growfs', '/tmp/t'], ['umount', '/tmp/t']]),
    ('xfs_info-vdc3-448M.txt', AFTER['vdc3'], '/srv/xfs', False, []),
    # the partial last AG (12288 of 20480 blocks) is filled first, any amount
    ('xfs_info-vdc3-448M.txt', AFTER['vdc3'] + 8 * 4096, '/srv/xfs', False, [['xfs_growfs', '/srv/xfs']]),
    # 4 full AGs: a new last allocation group under 64 blocks is not added, one of 64 is
    ('xfs_info-vdc3-320M.txt', BEFORE['vdc3'] + 63 * 4096, '/srv/xfs', False, []),
    ('xfs_info-vdc3-320M.txt', BEFORE['vdc3'] + 64 * 4096, '/srv/xfs', False, [['xfs_growfs', '/srv/xfs']]),
])
def test_plan_xfs(xfs_info, device_size, mountpoint, temporarily, expected):
    assert plan_grow(Xfs, xfs_state(xfs_info), '/dev/vdc3', device_size, mountpoint, temporarily, '/tmp/t') == expected


def test_xfs_target_matches_what_xfs_growfs_did():
    before, after = xfs_state('xfs_info-vdc3-320M.txt'), xfs_state('xfs_info-vdc3-448M.txt')
    assert Xfs.target_size(before, AFTER['vdc3']) == Xfs.size(after) == AFTER['vdc3']


def test_xfs_unmounted_refused_without_mount_temporarily():
    with pytest.raises(Refusal, match=r'/dev/vdc3 \(xfs\) is not mounted and xfs can only grow a mounted '
                                      r'filesystem; mount it, or set mount_temporarily=true'):
        plan_grow(Xfs, xfs_state('xfs_info-vdc3-320M.txt'), '/dev/vdc3', AFTER['vdc3'], None)


@pytest.mark.parametrize('show, device_sizes, expected', [
    ('btrfs-show-vda3-vdb3-320M.txt', {'/dev/vda3': BEFORE['vda3'], '/dev/vdb3': BEFORE['vdb3']}, []),
    ('btrfs-show-vda3-vdb3-320M.txt', {'/dev/vda3': AFTER['vda3'], '/dev/vdb3': AFTER['vdb3']},
     [['btrfs', 'filesystem', 'resize', '1:max', '/srv/btrfs'], ['btrfs', 'filesystem', 'resize', '2:max', '/srv/btrfs']]),
    # only the second device grew: not devid 1 alone, only what grew
    ('btrfs-show-vda3-vdb3-320M.txt', {'/dev/vda3': BEFORE['vda3'], '/dev/vdb3': AFTER['vdb3']},
     [['btrfs', 'filesystem', 'resize', '2:max', '/srv/btrfs']]),
    # less than a sector more is no growth
    ('btrfs-show-vda3-vdb3-448M.txt', {'/dev/vda3': AFTER['vda3'] + 4095, '/dev/vdb3': AFTER['vdb3']}, []),
    ('btrfs-show-vda3-vdb3-448M.txt', {'/dev/vda3': AFTER['vda3'], '/dev/vdb3': AFTER['vdb3']}, []),
])
def test_plan_btrfs(show, device_sizes, expected):
    assert plan_grow(Btrfs, btrfs_state(show, device_sizes), '/dev/vda3', None, '/srv/btrfs') == expected


def test_btrfs_unmounted_mount_temporarily():
    state = btrfs_state('btrfs-show-vda3-vdb3-320M.txt', {'/dev/vda3': AFTER['vda3'], '/dev/vdb3': AFTER['vdb3']})
    assert plan_grow(Btrfs, state, '/dev/vdb3', None, None, True, '/tmp/t') == [
        ['mount', '-t', 'btrfs', '/dev/vdb3', '/tmp/t'],
        ['btrfs', 'filesystem', 'resize', '1:max', '/tmp/t'],
        ['btrfs', 'filesystem', 'resize', '2:max', '/tmp/t'],
        ['umount', '/tmp/t']]
    with pytest.raises(Refusal, match='not mounted and btrfs can only grow a mounted filesystem'):
        plan_grow(Btrfs, state, '/dev/vdb3', None, None)


# --- planner: refusals -------------------------------------------------------------------------

def test_ext_device_smaller_than_filesystem_refused():
    with pytest.raises(Refusal) as refusal:
        plan_grow(Ext, ext_state('dumpe2fs-md1-raid0x3.txt'), '/dev/md1', BEFORE['md1'], '/srv/boot')
    assert str(refusal.value) == (
        '/dev/md1 is 124.0 MiB (130023424 bytes) but its ext4 filesystem is 186.0 MiB (195035136 bytes): '
        'the device is smaller than the filesystem; fs_grow never shrinks a filesystem, restore the device '
        'size first')


def test_xfs_device_smaller_than_filesystem_refused():
    with pytest.raises(Refusal, match='the device is smaller than the filesystem'):
        plan_grow(Xfs, xfs_state('xfs_info-vdc3-448M.txt'), '/dev/vdc3', BEFORE['vdc3'], '/srv/xfs')


def test_btrfs_device_smaller_than_its_share_refused():
    state = btrfs_state('btrfs-show-vda3-vdb3-448M.txt', {'/dev/vda3': AFTER['vda3'], '/dev/vdb3': BEFORE['vdb3']})
    with pytest.raises(Refusal, match=r'/dev/vdb3 \(devid 2\) is 320.0 MiB but the filesystem uses 448.0 MiB '
                                      r'of it; fs_grow never shrinks'):
        plan_grow(Btrfs, state, '/dev/vda3', None, '/srv/btrfs')


def test_btrfs_missing_device_refused():
    state = btrfs_state('btrfs-show-vda3-vdb3-320M.txt', {'/dev/vda3': AFTER['vda3']})
    with pytest.raises(Refusal, match=r'device 2 \(/dev/vdb3\) is missing'):
        plan_grow(Btrfs, state, '/dev/vda3', None, '/srv/btrfs')


def test_ext_without_64bit_beyond_2_to_the_32_blocks_refused():
    state = ext_state('dumpe2fs-md1-raid0x3.txt')
    state['features'] = [f for f in state['features'] if f != '64bit']
    with pytest.raises(Refusal, match='without the 64bit feature'):
        plan_grow(Ext, state, '/dev/md1', 2 ** 32 * 1024, '/srv/boot')
    assert plan_grow(Ext, state, '/dev/md1', 2 ** 31 * 1024, '/srv/boot') == [['resize2fs', '/dev/md1']]


# --- kernel refusals ---------------------------------------------------------------------------

def test_missing_cap_sys_resource_is_named():
    message = explain_failure(['/usr/sbin/resize2fs', '/dev/md1'], 1,
                              fixture('resize2fs-no-cap-sys-resource.stdout'),
                              fixture('resize2fs-no-cap-sys-resource.stderr'))
    assert message.startswith('/usr/sbin/resize2fs /dev/md1 failed (exit 1): the kernel refused the online '
                              'resize: this process lacks the CAP_SYS_RESOURCE capability')
    assert 'Permission denied to resize filesystem' in message


def test_unknown_failure_keeps_the_tool_output():
    assert explain_failure(['xfs_growfs', '/srv/xfs'], 1, '', 'xfs_growfs: something new\n') == \
        'xfs_growfs /srv/xfs failed (exit 1): xfs_growfs: something new'


# --- blkid -o export values: decoded as util-linux 2.38 encodes them (tests/fixtures/swap/labels) --

LABELS = os.path.join(FIXTURES, '..', 'swap', 'labels')


def label_fixture(name, suffix):
    """A captured file's bytes; labels that are not UTF-8 are kept in hex (NAME.label.hex)."""
    path = os.path.join(LABELS, name + suffix)
    if not os.path.exists(path) and os.path.exists(path + '.hex'):
        with open(path + '.hex') as handle:
            return bytes.fromhex(handle.read())
    with open(path, 'rb') as handle:
        return handle.read()


def blkid_label_text(name, probe):
    """The LABEL value exactly as blkid printed it (still encoded)."""
    for line in label_fixture(name, '.blkid-p.txt' if probe else '.blkid.txt').decode('ascii').splitlines():
        if line.startswith('LABEL='):
            return line[len('LABEL='):]
    raise AssertionError('no LABEL in %s' % name)


# Labels that blkid reports whole: what mkswap or the header holds is what decodes.
EXACT_LABELS = ['space', 'double-quote', 'single-quote', 'backslash', 'dollar-backtick-angle', 'non-ascii',
                'tab', 'fifteen-bytes', 'sixteen-bytes-raw', 'invalid-utf8', 'high-control']


@pytest.mark.parametrize('name', EXACT_LABELS)
@pytest.mark.parametrize('probe', [True, False], ids=['blkid-p', 'blkid-cache'])
def test_blkid_label_decodes_to_the_bytes_written(name, probe):
    raw = label_fixture(name, '.label')
    text = blkid_label_text(name, probe)
    assert decode_blkid_value(text) == raw
    assert encode_blkid_value(raw) == text


def test_blkid_label_with_a_space_is_not_taken_with_its_backslash():
    tags = parse_blkid_export(label_fixture('space', '.blkid-p.txt').decode('ascii'))
    assert tags['LABEL'] == 'swap one'
    assert tags['TYPE'] == 'swap'


def test_blkid_non_ascii_label_decodes_to_text():
    tags = parse_blkid_export(label_fixture('non-ascii', '.blkid-p.txt').decode('ascii'))
    assert tags['LABEL'] == u'h\u00e9llo w\u00f6rld'


def test_blkid_undecodable_label_keeps_its_bytes():
    tags = parse_blkid_export(label_fixture('invalid-utf8', '.blkid-p.txt').decode('ascii'))
    assert tags['LABEL'].encode('utf-8', 'surrogateescape') == b'bad\xff\xfex'


@pytest.mark.parametrize('name, reads_as', [
    # blkid leaves a literal "^" and "M-" unescaped: these read as a tab and as byte 0xf8
    ('caret-literal', b'caret\t'),
    ('m-dash-literal', b'\xf8'),
    # blkid trims trailing white space off a label (the header keeps it)
    ('trailing-space', b'trail'),
    # mkswap writes at most 15 bytes
    ('sixteen-bytes-truncated', b'sixteen-bytes-a'),
])
def test_blkid_labels_that_read_other_than_written(name, reads_as):
    assert decode_blkid_value(blkid_label_text(name, True)) == reads_as


def test_blkid_devname_is_kept_as_printed():
    assert parse_blkid_export('DEVNAME=/dev/a\\b\nTYPE=swap\n') == {'DEVNAME': '/dev/a\\b', 'TYPE': 'swap'}


def test_blkid_probe_tags_nothing_found():
    assert blkid_probe_tags('/dev/vdd3', 2, '', '') == {}


def test_blkid_probe_tags_ambivalent_refused():
    rc = int(label_fixture('ambivalent-swap-ext2', '.blkid-p.rc'))
    err = label_fixture('ambivalent-swap-ext2', '.blkid-p.stderr').decode('ascii')
    with pytest.raises(Refusal, match=r'^/dev/md0 holds several signatures \(blkid -p: ambivalent result\).*'
                                      r'wipefs -n /dev/md0'):
        blkid_probe_tags('/dev/md0', rc, '', err)


def test_blkid_probe_tags_other_failure():
    with pytest.raises(Refusal, match=r'^blkid -p /dev/md0 failed \(exit 4: boom\), so what it holds cannot be told; check it'):
        blkid_probe_tags('/dev/md0', 4, '', 'boom\n')


# blkid prints a literal "^" and "M" (also in the 7 low bits of a byte >= 128) unescaped, the two
# characters its own escapes start with: values without them decode to exactly what was encoded.
UNAMBIGUOUS = st.binary(max_size=64).filter(lambda raw: not any(b & 0x7f in (ord('^'), ord('M')) for b in bytearray(raw)))


@given(st.binary(max_size=64))
def test_blkid_encoding_is_one_line_of_printable_ascii(raw):
    assert all(32 <= ord(c) < 127 for c in encode_blkid_value(raw))


@given(UNAMBIGUOUS)
def test_blkid_decode_inverts_encode(raw):
    assert decode_blkid_value(encode_blkid_value(raw)) == raw


@given(UNAMBIGUOUS)
def test_blkid_export_line_round_trips(raw):
    tags = parse_blkid_export('TYPE=swap\nLABEL=%s\n' % encode_blkid_value(raw))
    assert tags['LABEL'].encode('utf-8', 'surrogateescape') == raw
