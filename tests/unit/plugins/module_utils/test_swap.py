# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""swap_rebuild's header reader and planner, fed with outputs captured on the lab microserver."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.fleet.linux.plugins.module_utils.blockdev import (
    parse_blkid_export, parse_meminfo, parse_proc_swaps)
from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils.swap import (
    fstab_swap_options, parse_fstab, parse_swap_header, plan_swap_rebuild, spanning_last_page, swapon_options)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'swap')
UUID = '6c1f7ac5-c2a8-4e36-af1c-a81cd26d09c0'
MiB = 1024 * 1024


def fixture(name, mode='r'):
    with open(os.path.join(FIXTURES, name), mode) as handle:
        return handle.read()


SIZES = dict((dev, int(size)) for dev, size in (line.split() for line in fixture('sizes-after-grow.txt').splitlines()))
MD0 = SIZES['md0']  # 4 x 62 MiB after the grow
TAGS = parse_blkid_export(fixture('blkid-p-md0.txt'))
SMALL = parse_swap_header(fixture('swap-header-md0-raid0x3.bin', 'rb'), 4096)
FULL = parse_swap_header(fixture('swap-header-md0-raid0x4.bin', 'rb'), 4096)
MEMINFO = parse_meminfo(fixture('meminfo.txt'))
ACTIVE_SMALL = parse_proc_swaps(fixture('proc-swaps-md0-raid0x3.txt'))[0]


def test_header_of_the_three_member_array():
    assert SMALL == {'page_size': 4096, 'version': 1, 'last_page': 47615, 'bad_pages': 0,
                     'uuid': UUID, 'label': 'swap', 'label_bytes': b'swap', 'size': 47615 * 4096}


def test_header_size_is_what_the_kernel_and_swapon_report():
    """/proc/swaps (KiB) and swapon --show --bytes agree with last_page x page size."""
    for header, name in ((SMALL, 'raid0x3'), (FULL, 'raid0x4')):
        assert parse_proc_swaps(fixture('proc-swaps-md0-%s.txt' % name))[0]['size'] == header['size']
        show = fixture('swapon-show-bytes-md0-%s.txt' % name).splitlines()[1].split()
        assert int(show[2]) == header['size']


def test_rebuilt_header_spans_the_grown_array_with_same_uuid_and_label():
    assert FULL['last_page'] == spanning_last_page(MD0, 4096) == 63487
    assert (FULL['uuid'], FULL['label']) == (SMALL['uuid'], SMALL['label']) == (TAGS['UUID'], TAGS['LABEL'])


def test_header_found_whatever_page_size_is_asked_first():
    data = fixture('swap-header-md0-raid0x4.bin', 'rb') + b'\0' * 61440
    assert parse_swap_header(data, 65536)['page_size'] == 4096


def test_no_header_on_other_content():
    assert parse_swap_header(b'\0' * 65536, 4096) is None


def test_big_endian_header():
    data = bytearray(fixture('swap-header-md0-raid0x4.bin', 'rb'))
    data[1024:1036] = b'\0\0\0\x01\0\0\xf7\xff\0\0\0\0'
    header = parse_swap_header(bytes(data), 4096)
    assert (header['version'], header['last_page']) == (1, 63487)


# --- planner -----------------------------------------------------------------------------------

@pytest.mark.parametrize('header, active, options, expected', [
    # the documented case: active, priority 5 from fstab's pri=5 (seen in /proc/swaps)
    (SMALL, ACTIVE_SMALL, ['sw', 'pri=5'], [
        ['swapoff', '/dev/md0'],
        ['mkswap', '-L', 'swap', '-U', UUID, '/dev/md0'],
        ['swapon', '-p', '5', '/dev/md0']]),
    # inactive: only mkswap, never turned on
    (SMALL, None, ['sw'], [['mkswap', '-L', 'swap', '-U', UUID, '/dev/md0']]),
    # automatic (negative) priority is left to the kernel; discard policy from fstab kept
    (SMALL, dict(ACTIVE_SMALL, priority=-2), ['sw', 'discard=once'], [
        ['swapoff', '/dev/md0'],
        ['mkswap', '-L', 'swap', '-U', UUID, '/dev/md0'],
        ['swapon', '--discard=once', '/dev/md0']]),
    (SMALL, ACTIVE_SMALL, ['discard'], [
        ['swapoff', '/dev/md0'],
        ['mkswap', '-L', 'swap', '-U', UUID, '/dev/md0'],
        ['swapon', '-p', '5', '--discard', '/dev/md0']]),
    # already spans the device: nothing, active or not
    (FULL, dict(ACTIVE_SMALL, size=FULL['size']), ['sw'], []),
    (FULL, None, [], []),
])
def test_plan(header, active, options, expected):
    assert plan_swap_rebuild('/dev/md0', TAGS, header, MD0, 4096, active=active, meminfo=MEMINFO,
                             fstab_options=options) == expected


def test_plan_without_label_keeps_uuid_only():
    tags = dict(TAGS)
    del tags['LABEL']
    header = dict(SMALL, label=None, label_bytes=b'')
    assert plan_swap_rebuild('/dev/md0', tags, header, MD0, 4096) == [['mkswap', '-U', UUID, '/dev/md0']]


def test_plan_swap_written_for_another_page_size_is_rebuilt():
    header = dict(FULL, page_size=65536, last_page=MD0 // 65536 - 1)
    assert plan_swap_rebuild('/dev/md0', TAGS, header, MD0, 4096) == [['mkswap', '-L', 'swap', '-U', UUID, '/dev/md0']]


# --- memory check: decision table on the guest's real /proc/meminfo -----------------------------

AVAILABLE = MEMINFO['MemAvailable']


@pytest.mark.parametrize('used, other_swaps, force, refused', [
    (0, [], False, False),
    (AVAILABLE, [], False, False),
    (AVAILABLE + 1, [], False, True),
    (AVAILABLE + 1, [], True, False),
    # another active swap with room takes the rest
    (AVAILABLE + 64 * MiB, [{'device': '/dev/vdd3', 'size': 100 * MiB, 'used': 36 * MiB, 'priority': -2}], False, False),
    (AVAILABLE + 64 * MiB, [{'device': '/dev/vdd3', 'size': 100 * MiB, 'used': 37 * MiB, 'priority': -2}], False, True),
])
def test_memory_check(used, other_swaps, force, refused):
    active = dict(ACTIVE_SMALL, used=used)

    def plan():
        return plan_swap_rebuild('/dev/md0', TAGS, SMALL, MD0, 4096, active=active, other_swaps=other_swaps,
                                 meminfo=MEMINFO, force=force)
    if refused:
        with pytest.raises(Refusal, match=r'^swapoff /dev/md0 would have to bring back .* but only .* is available: '
                                          r'MemAvailable .* \+ free space on the other swaps .*force=true'):
            plan()
    else:
        assert plan()[0] == ['swapoff', '/dev/md0']


def test_memory_refusal_gives_the_figures():
    active = dict(ACTIVE_SMALL, used=900 * MiB)
    with pytest.raises(Refusal) as refusal:
        plan_swap_rebuild('/dev/md0', TAGS, SMALL, MD0, 4096, active=active, meminfo={'MemAvailable': 100 * MiB},
                          other_swaps=[{'device': '/dev/vdd3', 'size': 20 * MiB, 'used': 10 * MiB, 'priority': -2}])
    assert str(refusal.value).startswith(
        'swapoff /dev/md0 would have to bring back 900.0 MiB (943718400 bytes) of swapped-out memory, but only '
        '110.0 MiB (115343360 bytes) is available: MemAvailable 100.0 MiB + free space on the other swaps 10.0 MiB.')


def test_memory_fallback_without_memavailable():
    active = dict(ACTIVE_SMALL, used=30 * MiB)
    meminfo = {'MemFree': 10 * MiB, 'Buffers': 10 * MiB, 'Cached': 10 * MiB}
    assert plan_swap_rebuild('/dev/md0', TAGS, SMALL, MD0, 4096, active=active, meminfo=meminfo)
    with pytest.raises(Refusal):
        plan_swap_rebuild('/dev/md0', TAGS, SMALL, MD0, 4096, active=dict(active, used=30 * MiB + 1), meminfo=meminfo)


def test_spanning_swap_is_no_op_even_without_memory():
    active = dict(ACTIVE_SMALL, used=900 * MiB)
    assert plan_swap_rebuild('/dev/md0', TAGS, FULL, MD0, 4096, active=active, meminfo={'MemAvailable': 0}) == []


# --- refusals ----------------------------------------------------------------------------------

def test_ext4_device_refused():
    tags = parse_blkid_export(fixture('blkid-p-md1-ext4.txt'))
    with pytest.raises(Refusal, match=r'^/dev/md1 holds ext4, not swap; swap_rebuild only re-creates an existing '
                                      r'swap area and will not overwrite it$'):
        plan_swap_rebuild('/dev/md1', tags, None, MD0, 4096)


def test_empty_device_refused():
    tags = parse_blkid_export(fixture('blkid-p-vdd3-empty.txt'))
    with pytest.raises(Refusal, match=r'^/dev/vdd3 holds no swap signature'):
        plan_swap_rebuild('/dev/vdd3', tags, None, MD0, 4096)


def test_blkid_swap_without_readable_header_refused():
    with pytest.raises(Refusal, match='holds no readable swap header, not swap'):
        plan_swap_rebuild('/dev/md0', TAGS, None, MD0, 4096)


# --- fstab and swapon options ------------------------------------------------------------------

FSTAB = """# /etc/fstab
LABEL=root / ext4 defaults,noatime 0 1
UUID=%s none swap sw,pri=5,discard=pages 0 0
/dev/md/swap2 none swap sw 0 0
LABEL=other none swap sw,pri=1
""" % UUID


@pytest.mark.parametrize('paths, uuid, label, expected', [
    (['/dev/md0'], UUID, 'swap', ['sw', 'pri=5', 'discard=pages']),
    (['/dev/md0'], None, 'other', ['sw', 'pri=1']),
    (['/dev/md127', '/dev/md/swap2'], None, None, ['sw']),
    (['/dev/md0'], '00000000-0000-0000-0000-000000000000', 'nolabel', []),
])
def test_fstab_swap_options(paths, uuid, label, expected):
    assert fstab_swap_options(parse_fstab(FSTAB), paths, uuid, label) == expected


def test_swapon_options():
    assert swapon_options(5, ['sw', 'pri=5', 'discard=pages']) == ['-p', '5', '--discard=pages']
    assert swapon_options(0, []) == ['-p', '0']
    assert swapon_options(-3, ['discard']) == ['--discard']


# --- labels blkid escapes: the label comes from the swap header, byte for byte -----------------------

LABELS = os.path.join(FIXTURES, 'labels')
SWAP_FILE_SIZE = 1024 * 1024


def label_case(name):
    """blkid's tags and the parsed header of a captured swap file with this label."""
    with open(os.path.join(LABELS, name + '.blkid-p.txt')) as handle:
        tags = parse_blkid_export(handle.read())
    with open(os.path.join(LABELS, name + '.header.bin'), 'rb') as handle:
        header = parse_swap_header(handle.read(), 4096)
    return tags, header


@pytest.mark.parametrize('name, label', [
    ('space', 'swap one'),
    ('double-quote', 'a"b'),
    ('single-quote', "it's"),
    ('backslash', 'back\\slash'),
    ('dollar-backtick-angle', 'c$HOME`x<y>'),
    ('non-ascii', u'h\u00e9llo w\u00f6rld'),
    ('trailing-space', 'trail '),
    ('tab', 'tab\tx'),
    ('caret-literal', 'caret^I'),
    ('m-dash-literal', 'M-x'),
    ('fifteen-bytes', 'fifteen-bytes-a'),
    ('sixteen-bytes-truncated', 'sixteen-bytes-a'),
])
def test_rebuild_keeps_the_label_mkswap_wrote(name, label):
    tags, header = label_case(name)
    assert header['label'] == label
    assert plan_swap_rebuild('/dev/md0', tags, header, 2 * SWAP_FILE_SIZE, 4096) == [
        ['mkswap', '-L', label, '-U', UUID, '/dev/md0']]


@pytest.mark.parametrize('name, message', [
    ('sixteen-bytes-raw', r"^/dev/md0: the swap label 'sixteen-bytes-ab' is 16 bytes long but mkswap writes at most 15"),
    ('invalid-utf8', r"^/dev/md0: the swap label b'bad\\xff\\xfex' is not UTF-8 text"),
    ('high-control', r"^/dev/md0: the swap label b'\\x81\\xa0\\xff' is not UTF-8 text"),
])
def test_label_mkswap_cannot_write_back_refused(name, message):
    tags, header = label_case(name)
    with pytest.raises(Refusal, match=message):
        plan_swap_rebuild('/dev/md0', tags, header, 2 * SWAP_FILE_SIZE, 4096)


def test_fstab_label_with_a_space_octal_escaped():
    entries = parse_fstab('LABEL=swap\\040one none swap sw,discard=once 0 0\n')
    assert entries[0]['spec'] == 'LABEL=swap one'
    assert fstab_swap_options(entries, ['/dev/md0'], UUID, 'swap one') == ['sw', 'discard=once']


def test_fstab_quoted_tag():
    entries = parse_fstab('UUID="%s" none swap sw,pri=3 0 0\n' % UUID)
    assert fstab_swap_options(entries, ['/dev/md0'], UUID, None) == ['sw', 'pri=3']


def test_on_a_host_with_udev_the_last_step_waits_for_its_links():
    active = dict(ACTIVE_SMALL, used=0)
    plan = plan_swap_rebuild('/dev/md0', TAGS, SMALL, MD0, 4096, active=active, meminfo=MEMINFO, udev=True)
    assert [argv[0] for argv in plan] == ['swapoff', 'mkswap', 'swapon', 'udevadm', 'udevadm']
    assert plan[-2:] == [['udevadm', 'trigger', '--action=change', '/dev/md0'], ['udevadm', 'settle', '--timeout=30']]
    assert plan_swap_rebuild('/dev/md0', TAGS, FULL, MD0, 4096, active=active, meminfo=MEMINFO, udev=True) == []
