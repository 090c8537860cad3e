# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""md parsers and the planner fed with real states captured on the lab microserver (tests/fixtures/md)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
from hypothesis import given, strategies as st

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils.md import (
    array_line_with_spares, array_entry_uuid, array_state, mdadm_conf_entries, mdadm_conf_with_array, normalize_level,
    parity_missing, parse_detail_export, parse_mdstat, parse_raid_disks, parse_sync_completed, read_md_sysfs, uuid_hex)
from ansible_collections.fleet.linux.plugins.module_utils.md_plan import (
    blocking_condition, plan, reshape_heading_to_target, resume_step)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'md')
SWAP = ['/dev/vda3', '/dev/vdb3', '/dev/vdc3', '/dev/vdd3']
BOOT = ['/dev/vda2', '/dev/vdb2', '/dev/vdc2', '/dev/vdd2']


def fixture(step, name):
    with open(os.path.join(FIXTURES, step, name)) as handle:
        return handle.read()


def captured_state(step, array):
    """The state md_reshape would read on the lab guest at that step."""
    sys_root = os.path.join(FIXTURES, step, 'sys')
    size = int(fixture(step, 'sys/block/%s/size' % array)) * 512
    state = array_state(parse_detail_export(fixture(step, 'mdadm_detail_export')),
                        read_md_sysfs(array, sys_root), size)
    state['device'] = '/dev/' + array
    return state


STATES = [
    # step, array, level, raid devices, members, spares, faulty, sync action, reshaping, degraded
    ('01-raid0-3-clean', 'md0', 0, 3, SWAP[:3], [], [], 'idle', False, 0),
    ('02-raid0-grow-add-reshaping', 'md0', 4, 5, SWAP, [], [], 'reshape', True, 1),
    ('03-raid0-grow-add-reshaped', 'md0', 4, 5, SWAP, [], [], 'idle', False, 1),
    ('04-raid4-to-raid0', 'md0', 0, 4, SWAP, [], [], 'idle', False, 0),
    ('11-raid1-2-clean', 'md1', 1, 2, BOOT[1:3], [], [], 'idle', False, 0),
    ('12-raid1-to-raid0', 'md1', 0, 1, ['/dev/vdc2'], [], [], 'idle', False, 0),
    ('15-raid10-2-plus-2-spares', 'md1', 10, 2, ['/dev/vdc2', '/dev/vdd2'], BOOT[:2], [], 'idle', False, 0),
    ('16-raid10-grow-4-reshaping', 'md1', 10, 4, BOOT, [], [], 'reshape', True, 0),
    ('17-raid10-4-clean', 'md1', 10, 4, BOOT, [], [], 'idle', False, 0),
    ('19-raid10-reshape-interrupted-read-auto', 'md1', 10, 4, BOOT, [], [], 'idle', True, 0),
    ('21-raid1-member-failed', 'md2', 1, 2, ['/dev/vda4'], [], ['/dev/vdb4'], 'idle', False, 1),
    ('22-raid1-degraded', 'md2', 1, 2, ['/dev/vda4'], [], [], 'idle', False, 1),
]


@pytest.mark.parametrize('step, array, level, raid_devices, members, spares, faulty, action, reshaping, degraded',
                         STATES, ids=[s[0] for s in STATES])
def test_captured_state(step, array, level, raid_devices, members, spares, faulty, action, reshaping, degraded):
    state = captured_state(step, array)
    assert (state['level'], state['raid_devices']) == (level, raid_devices)
    assert (state['members'], state['spares'], state['faulty']) == (members, spares, faulty)
    assert (state['sync_action'], state['reshaping'], state['degraded']) == (action, reshaping, degraded)


def test_grown_raid0_is_left_at_raid4_with_only_its_parity_missing():
    assert parity_missing(captured_state('03-raid0-grow-add-reshaped', 'md0'))
    assert not parity_missing(captured_state('22-raid1-degraded', 'md2'))


def test_reshape_progress_and_previous_device_count():
    state = captured_state('16-raid10-grow-4-reshaping', 'md1')
    assert state['previous_raid_devices'] == 2
    assert state['sync_completed'] == (48384, 129024)


PLANS_FROM_CAPTURED = [
    ('01-raid0-3-clean', 'md0', 0, 4, SWAP,
     ['mdadm --grow /dev/md0 --raid-devices=4 --add /dev/vdd3', 'mdadm --grow /dev/md0 --level=0']),
    ('03-raid0-grow-add-reshaped', 'md0', 0, 4, SWAP, ['mdadm --grow /dev/md0 --level=0']),
    ('04-raid4-to-raid0', 'md0', 0, 4, SWAP, []),
    ('11-raid1-2-clean', 'md1', 10, 4, BOOT,
     ['mdadm --grow /dev/md1 --level=0',
      'mdadm --grow /dev/md1 --level=10 --raid-devices=4 --add /dev/vda2 /dev/vdb2 /dev/vdd2',
      'mdadm --grow /dev/md1 --raid-devices=4']),
    ('12-raid1-to-raid0', 'md1', 10, 4, BOOT,
     ['mdadm --grow /dev/md1 --level=10 --raid-devices=4 --add /dev/vda2 /dev/vdb2 /dev/vdd2',
      'mdadm --grow /dev/md1 --raid-devices=4']),
    ('15-raid10-2-plus-2-spares', 'md1', 10, 4, BOOT, ['mdadm --grow /dev/md1 --raid-devices=4']),
    ('17-raid10-4-clean', 'md1', 10, 4, BOOT, []),
]


@pytest.mark.parametrize('step, array, level, raid_devices, devices, expected', PLANS_FROM_CAPTURED,
                         ids=['%s -> raid%d' % (p[0], p[2]) for p in PLANS_FROM_CAPTURED])
def test_plan_from_captured_state(step, array, level, raid_devices, devices, expected):
    state = captured_state(step, array)
    assert blocking_condition(state, level, raid_devices) is None
    steps = plan(state, '/dev/' + array, level, raid_devices, devices)
    assert [' '.join(s['argv']) for s in steps] == expected


def test_captured_commands_are_the_ones_planned():
    """The planner's commands are those that produced the next captured step."""
    assert fixture('02-raid0-grow-add-reshaping', 'mdadm.command').split() == \
        'mdadm --grow /dev/md0 --raid-devices=4 --add /dev/vdd3'.split()
    assert fixture('12-raid1-to-raid0', 'mdadm.command').split()[:4] == \
        'mdadm --grow /dev/md1 --level=0'.split()


@pytest.mark.parametrize('step, array', [('02-raid0-grow-add-reshaping', 'md0'), ('16-raid10-grow-4-reshaping', 'md1')])
def test_reshape_towards_the_target_is_waited_for(step, array):
    state = captured_state(step, array)
    devices = SWAP if array == 'md0' else BOOT
    level = 0 if array == 'md0' else 10
    assert blocking_condition(state, level, 4) == 'wait'
    assert reshape_heading_to_target(state, level, 4, devices, '/dev/' + array) is None


def test_reshape_interrupted_by_a_restart_is_resumed():
    """Power loss mid RAID10 grow, booted again: read-auto with the reshape pending (it never goes on by itself)."""
    state = captured_state('19-raid10-reshape-interrupted-read-auto', 'md1')
    assert (state['array_state'], state['previous_raid_devices']) == ('read-auto', 2)
    assert blocking_condition(state, 10, 4) == 'wait'
    assert reshape_heading_to_target(state, 10, 4, BOOT, '/dev/md1') is None
    step = resume_step(state, '/dev/md1')
    assert step['argv'] == fixture('19-raid10-reshape-interrupted-read-auto', 'mdadm.command').split()
    assert step['argv'] == ['mdadm', '--readwrite', '/dev/md1']
    assert plan(dict(state, reshaping=False), '/dev/md1', 10, 4, BOOT) == []


@pytest.mark.parametrize('step, array', [('16-raid10-grow-4-reshaping', 'md1'), ('17-raid10-4-clean', 'md1'),
                                         ('02-raid0-grow-add-reshaping', 'md0')])
def test_running_or_finished_reshape_needs_no_resume(step, array):
    assert resume_step(captured_state(step, array), '/dev/' + array) is None


def test_reshape_pending_on_an_array_made_read_only_is_refused():
    state = dict(captured_state('19-raid10-reshape-interrupted-read-auto', 'md1'), array_state='readonly')
    with pytest.raises(Refusal) as refusal:
        resume_step(state, '/dev/md1')
    assert 'read-only with a reshape pending' in str(refusal.value)
    assert 'mdadm --readwrite /dev/md1' in str(refusal.value)


def test_reshape_towards_something_else_is_refused():
    state = captured_state('16-raid10-grow-4-reshaping', 'md1')
    assert 'already reshaping' in reshape_heading_to_target(state, 10, 2, BOOT[2:], '/dev/md1')


@pytest.mark.parametrize('step, array, message', [
    ('21-raid1-member-failed', 'md2', 'faulty members (/dev/vdb4)'),
    ('22-raid1-degraded', 'md2', 'degraded (1 raid devices missing)'),
])
def test_captured_degraded_arrays_are_refused(step, array, message):
    assert message in blocking_condition(captured_state(step, array), 1, 2)


def test_parse_mdstat_mid_reshape():
    arrays = parse_mdstat(fixture('02-raid0-grow-add-reshaping', 'proc_mdstat'))
    md0 = arrays['md0']
    assert md0['level'] == 'raid4'
    assert md0['status'] == {'raid_devices': 5, 'active': 4, 'map': 'UUU__'}
    assert md0['progress']['action'] == 'reshape'
    assert md0['progress']['percent'] == 16.0
    assert sorted(m['device'] for m in md0['members']) == ['vda3', 'vdb3', 'vdc3', 'vdd3']


def test_parse_mdstat_spares():
    md1 = parse_mdstat(fixture('15-raid10-2-plus-2-spares', 'proc_mdstat'))['md1']
    assert sorted(m['device'] for m in md1['members'] if m['role'] == 'spare') == ['vda2', 'vdb2']


@pytest.mark.parametrize('text, expected', [('4', (4, 4)), ('5 (4)', (5, 4)), ('', (None, None))])
def test_parse_raid_disks(text, expected):
    assert parse_raid_disks(text) == expected


@pytest.mark.parametrize('text, expected', [('none', None), ('41984 / 126976', (41984, 126976))])
def test_parse_sync_completed(text, expected):
    assert parse_sync_completed(text) == expected


@pytest.mark.parametrize('value, expected', [(0, 0), ('raid10', 10), ('RAID5', 5), ('mirror', 1), ('7', None)])
def test_normalize_level(value, expected):
    assert normalize_level(value) == expected


def test_mdadm_conf_replaces_the_line_of_the_same_uuid_only():
    scan = fixture('17-raid10-4-clean', 'mdadm_detail_scan').strip().splitlines()
    md1_line = [line for line in scan if 'name=microserver:1' in line][0]
    uuid = md1_line.split('UUID=')[1].split()[0]
    stale = md1_line.replace('ARRAY /dev/md1', 'ARRAY /dev/md/old level=raid1 num-devices=2')
    conf = 'HOMEHOST <system>\nARRAY /dev/md0 UUID=00000000:00000000:00000000:00000001\n%s\n' % stale
    updated = mdadm_conf_with_array(conf, md1_line, uuid)
    assert updated == 'HOMEHOST <system>\nARRAY /dev/md0 UUID=00000000:00000000:00000000:00000001\n%s\n' % md1_line
    assert mdadm_conf_with_array(updated, md1_line, uuid) == updated
    assert mdadm_conf_with_array('', md1_line, uuid) == md1_line + '\n'


def test_uuid_hex_ignores_punctuation():
    assert uuid_hex('b95b33c4:26ad8f39:950e870c:03a3e87c') == uuid_hex('b95b33c4-26ad-8f39-950e-870c03a3e87c')


# mdadm.conf as Debian's mkconf writes it, then edited by hand as admins do: an entry whose UUID and old
# member list sit on continuation lines (indented), comments, DEVICE lines, abbreviated keywords.
MD1_OLD_ENTRY = """ARRAY /dev/md1 level=raid1 num-devices=2
   UUID=d7674c1b:0ed54b0d:45d460fe:0955b373
   devices=/dev/vdb2,/dev/vdc2
\t# the two disks /boot came on
"""
DEBIAN_CONF = """# mdadm.conf
#
# !NB! Run update-initramfs -u after updating this file.
#
DEVICE partitions containers
DEVICE /dev/vd*

# automatically tag new arrays as belonging to the local system
HOMEHOST <system>

# instruct the monitoring daemon where to send mail alerts
MAILADDR root

# definitions of existing MD arrays
ARRAY /dev/md/0  metadata=1.2 UUID=4551aa1d:24d415bf:f8bec2d5:0ec6b660 name=microserver:0
%sarr /dev/md/2 uuid=0a0b0c0d:01020304:05060708:090a0b0c
   devices=/dev/vda4,/dev/vdb4

# This configuration was auto-generated on Tue, 01 Dec 2026 10:00:00 +0000 by mkconf
"""


def md1_line(step='17-raid10-4-clean'):
    return [line for line in fixture(step, 'mdadm_detail_scan').splitlines() if 'name=microserver:1' in line][0]


def test_mdadm_conf_replaces_a_whole_entry_continuation_lines_included():
    """An old devices= line left under the new entry would have md1 assemble from the old members only."""
    conf = DEBIAN_CONF % MD1_OLD_ENTRY
    updated = mdadm_conf_with_array(conf, md1_line(), 'd7674c1b-0ed5-4b0d-45d4-60fe0955b373')
    assert updated == DEBIAN_CONF % (md1_line() + '\n')
    assert 'devices=/dev/vdb2,/dev/vdc2' not in updated
    assert '   devices=/dev/vda4,/dev/vdb4' in updated  # md2's entry is not ours
    assert mdadm_conf_with_array(updated, md1_line(), 'd7674c1b:0ed54b0d:45d460fe:0955b373') == updated


def test_mdadm_conf_drops_a_second_entry_of_the_same_array():
    conf = DEBIAN_CONF % (MD1_OLD_ENTRY + 'ARRAY /dev/md/boot UUID=D7674C1B:0ED54B0D:45D460FE:0955B373\n')
    updated = mdadm_conf_with_array(conf, md1_line(), 'd7674c1b:0ed54b0d:45d460fe:0955b373')
    assert updated == DEBIAN_CONF % (md1_line() + '\n')


def test_mdadm_conf_appends_an_array_it_does_not_have_and_keeps_comments_naming_it():
    conf = '# ARRAY /dev/md1 UUID=d7674c1b:0ed54b0d:45d460fe:0955b373 (commented out)\nDEVICE partitions\n'
    assert mdadm_conf_with_array(conf, md1_line(), 'd7674c1b:0ed54b0d:45d460fe:0955b373') == conf + md1_line() + '\n'


@pytest.mark.parametrize('entry, uuid', [
    (['ARRAY /dev/md0 metadata=1.2 UUID=4551aa1d:24d415bf:f8bec2d5:0ec6b660'], '4551aa1d24d415bff8bec2d50ec6b660'),
    (['arr /dev/md0', '  uuid=4551aa1d:24d415bf:f8bec2d5:0ec6b660'], '4551aa1d24d415bff8bec2d50ec6b660'),
    (['ARRAY /dev/md0 # UUID=4551aa1d:24d415bf:f8bec2d5:0ec6b660'], None),
    (['DEVICE /dev/md0 UUID=4551aa1d:24d415bf:f8bec2d5:0ec6b660'], None),
    (['AR /dev/md0 UUID=4551aa1d:24d415bf:f8bec2d5:0ec6b660'], None),
    (['# ARRAY /dev/md0 UUID=4551aa1d:24d415bf:f8bec2d5:0ec6b660'], None),
])
def test_array_entry_uuid(entry, uuid):
    assert array_entry_uuid(entry) == uuid


def test_mdadm_conf_entries_keep_continuation_lines_with_their_line():
    entries = mdadm_conf_entries(DEBIAN_CONF % MD1_OLD_ENTRY)
    md1 = [e for e in entries if e[0].startswith('ARRAY /dev/md1')][0]
    assert md1 == MD1_OLD_ENTRY.splitlines()
    assert '\n'.join(line for entry in entries for line in entry) + '\n' == DEBIAN_CONF % MD1_OLD_ENTRY


def test_array_line_with_spares_is_the_line_mdadm_prints_for_that_shape():
    """Captured: md1 with two spares (step 15), then without (step 17): the line differs only by spares=."""
    with_spares, without = md1_line('15-raid10-2-plus-2-spares'), md1_line('17-raid10-4-clean')
    assert array_line_with_spares(with_spares, 0) == without
    assert array_line_with_spares(without, 2) == with_spares
    assert array_line_with_spares(without, 0) == without


# Properties of the parsers (hypothesis): what they decode is what was encoded.
DEVICE_NAMES = st.from_regex(r'\A(sd[a-z]|vd[a-z]|nvme[0-9]n[0-9]p)[1-9]\Z')
UUIDS = st.lists(st.from_regex(r'\A[0-9a-f]{8}\Z'), min_size=4, max_size=4).map(':'.join)


@given(st.dictionaries(DEVICE_NAMES, st.one_of(st.integers(0, 15), st.sampled_from(['spare', 'faulty'])), max_size=8),
       st.integers(1, 16), UUIDS)
def test_detail_export_round_trips(roles, raid_devices, uuid):
    """Members written as mdadm --detail --export writes them are read back with their roles and slots."""
    lines = ['MD_LEVEL=raid10', 'MD_DEVICES=%d' % raid_devices, 'MD_METADATA=1.2', 'MD_UUID=%s' % uuid, 'MD_NAME=host:1']
    for name, role in roles.items():
        lines += ['MD_DEVICE_dev_%s_ROLE=%s' % (name, role), 'MD_DEVICE_dev_%s_DEV=/dev/%s' % (name, name)]
    parsed = parse_detail_export('\n'.join(lines) + '\n')
    assert (parsed['raid_devices'], parsed['uuid'], parsed['level']) == (raid_devices, uuid, 'raid10')
    decoded = dict((m['device'], m['slot'] if m['role'] == 'active' else m['role']) for m in parsed['members'])
    assert decoded == dict(('/dev/' + name, role) for name, role in roles.items())


@given(st.integers(1, 64), st.one_of(st.none(), st.integers(1, 64)))
def test_raid_disks_round_trips(new, old):
    assert parse_raid_disks('%d (%d)' % (new, old) if old else str(new)) == (new, old or new)


@st.composite
def mdadm_conf(draw):
    """mdadm.conf texts: comments, blank lines, DEVICE/HOMEHOST lines and ARRAY entries, with continuation lines
    holding their UUID or old devices= lists; returns the text and the UUIDs of its ARRAY entries in order."""
    entries, uuids = [], []
    for _entry in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(['comment', 'blank', 'device', 'array']))
        if kind == 'comment':
            entries.append(['# ' + draw(st.sampled_from(['ARRAY /dev/md0 UUID=%s' % draw(UUIDS), 'definitions', '']))])
        elif kind == 'blank':
            entries.append([''])
        elif kind == 'device':
            entries.append([draw(st.sampled_from(['DEVICE partitions containers', 'DEVICE /dev/sd*', 'HOMEHOST <system>']))])
        else:
            uuid = draw(UUIDS)
            keyword = draw(st.sampled_from(['ARRAY', 'array', 'Arr']))
            tail = ['  devices=/dev/sda1,/dev/sdb1'] if draw(st.booleans()) else []
            if draw(st.booleans()):
                entries.append(['%s /dev/md/%d metadata=1.2' % (keyword, len(uuids)), '\tUUID=%s' % uuid] + tail)
            else:
                entries.append(['%s /dev/md/%d metadata=1.2 UUID=%s' % (keyword, len(uuids), uuid)] + tail)
            uuids.append(uuid)
    return entries, uuids


@given(mdadm_conf(), st.one_of(st.none(), st.integers(0, 5)), UUIDS)
def test_mdadm_conf_replacement_leaves_one_whole_entry_and_every_other_untouched(conf, pick, fresh_uuid):
    entries, uuids = conf
    uuid = uuids[pick % len(uuids)] if uuids and pick is not None else fresh_uuid
    line = 'ARRAY /dev/md/new metadata=1.2 name=host:new UUID=%s' % uuid
    text = ''.join('\n'.join(entry) + '\n' for entry in entries)
    updated = mdadm_conf_with_array(text, line, uuid)
    parsed = mdadm_conf_entries(updated)
    assert [e for e in parsed if array_entry_uuid(e) == uuid_hex(uuid)] == [[line]]
    assert [e for e in parsed if array_entry_uuid(e) != uuid_hex(uuid)] == \
        [e for e in entries if array_entry_uuid(e) != uuid_hex(uuid)]
    assert mdadm_conf_with_array(updated, line, uuid) == updated


@given(st.sampled_from([line for step in ('04-raid4-to-raid0', '17-raid10-4-clean')
                        for line in fixture(step, 'mdadm_detail_scan').splitlines()]), st.integers(0, 8))
def test_array_line_with_spares_round_trips(line, spares):
    with_spares = array_line_with_spares(line, spares)
    assert ('spares=%d' % spares in with_spares.split()) == (spares > 0)
    assert array_line_with_spares(with_spares, 0) == line
