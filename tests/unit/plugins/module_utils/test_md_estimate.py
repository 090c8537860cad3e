# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""md_estimate: the formatting helpers, and the estimate of md's steps on sysfs values captured in the lab."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
from hypothesis import given, strategies as st

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils.md import normalize_level, parse_raid_disks
from ansible_collections.fleet.linux.plugins.module_utils.md_estimate import (
    DEFAULT_DISK_SPEED_KIB, data_size, describe, estimate_steps, format_duration, format_size, format_speed, parse_int,
    speed_range, sync_inputs, total)
from ansible_collections.fleet.linux.plugins.module_utils.md_plan import MIN_DEVICES, plan

KIB, MIB, GIB, TIB = 1024, 1024 ** 2, 1024 ** 3, 1024 ** 4


@pytest.mark.parametrize('nbytes, text', [
    (0, '0 B'), (1, '1 B'), (1023, '1023 B'), (1024, '1.0 KiB'), (1536, '1.5 KiB'), (10 * KIB, '10 KiB'),
    (64512 * KIB, '63 MiB'), (1023.96 * MIB, '1.0 GiB'), (int(1.8 * TIB), '1.8 TiB'), (932 * GIB, '932 GiB'),
    (9.96 * GIB, '10 GiB'), (2000 * 1024 ** 6, '2000 EiB')])
def test_sizes_read_in_binary_units(nbytes, text):
    assert format_size(nbytes) == text


@pytest.mark.parametrize('kib, text', [(1000, '1000 KiB/s'), (120 * 1024, '120 MiB/s'), (200000, '195 MiB/s'),
                                       (1024, '1.0 MiB/s')])
def test_speeds_read_as_md_limits_in_kib_per_second(kib, text):
    assert format_speed(kib) == text


@pytest.mark.parametrize('seconds, text', [
    (0, 'under a minute'), (59.9, 'under a minute'), (60, 'about 1 min'), (89, 'about 1 min'), (90, 'about 2 min'),
    (3569, 'about 59 min'), (3570, 'about 1 h'), (4 * 3600 + 10 * 60, 'about 4 h 10 min'), (4 * 3600 + 7 * 60, 'about 4 h 5 min'),
    (15729, 'about 4 h 20 min'), (23 * 3600 + 55 * 60, 'about 23 h 55 min'), (86400, 'about 1 d'),
    (2 * 86400 + 3 * 3600, 'about 2 d 3 h'), (22 * 86400, 'about 22 d')])
def test_durations_read_roughly(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize('bad', [-1, None])
def test_a_negative_or_missing_value_is_refused(bad):
    with pytest.raises(ValueError):
        format_duration(bad)
    with pytest.raises(ValueError):
        format_size(bad)


def as_seconds(text):
    """format_duration's text back to seconds (its rounding kept), for the order of durations."""
    if text == 'under a minute':
        return 0
    units = dict(d=86400, h=3600, min=60)
    words = text.split()[1:]
    return sum(int(number) * units[unit] for number, unit in zip(words[::2], words[1::2]))


def as_bytes(text):
    number, unit = text.split()
    return float(number) * 1024 ** ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'].index(unit)


@given(st.floats(min_value=0, max_value=1e9), st.floats(min_value=0, max_value=1e9))
def test_a_longer_duration_never_reads_shorter(a, b):
    a, b = sorted((a, b))
    assert as_seconds(format_duration(a)) <= as_seconds(format_duration(b))


@given(st.floats(min_value=60, max_value=1e9))
def test_a_duration_reads_within_a_few_percent_or_five_minutes(seconds):
    assert abs(as_seconds(format_duration(seconds)) - seconds) <= max(30, 150 if seconds < 86250 else 1800)


@given(st.integers(min_value=0, max_value=2 ** 70), st.integers(min_value=0, max_value=2 ** 70))
def test_a_larger_size_never_reads_smaller_and_reads_within_five_percent(a, b):
    a, b = sorted((a, b))
    assert as_bytes(format_size(a)) <= as_bytes(format_size(b))
    assert abs(as_bytes(format_size(b)) - b) <= 0.05 * b + 0.5


# The estimate against md in the lab: tests/fixtures/md-speed (capture-md-speed) timed three steps with md's
# speed limit lowered; tests/fixtures/md captured the procedures of the notes (sync_completed says what md walks).
FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures')
SYNC_FILES = ('sync_speed_min', 'sync_speed_max', 'component_size', 'layout', 'sync_completed', 'reshape_position',
              'reshape_direction')


def read(*parts):
    path = os.path.join(FIXTURES, *parts)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return handle.read().rstrip('\n')


def captured(fixture, step, name):
    """(state, sync inputs, system limits) of an array at a captured step, as raid_plan reads them."""
    md = (fixture, step, 'sys', 'block', name, 'md')
    sync = sync_inputs(dict((f, read(*md + (f,))) for f in SYNC_FILES))
    system = dict((bound, parse_int(read(fixture, step, 'proc', 'sys', 'dev', 'raid', 'speed_limit_%s' % bound)))
                  for bound in ('min', 'max'))
    level = normalize_level(read(*md + ('level',)))
    devices = parse_raid_disks(read(*md + ('raid_disks',)))[0]
    members = ['/dev/m%d' % i for i in range(devices - (1 if parity_missing_now(fixture, step, name) else 0))]
    state = dict(level=level, raid_devices=devices, members=members, spares=[], slots=dict((m, i) for i, m in enumerate(members)),
                 degraded=int(read(*md + ('degraded',)) or 0), size=int(read(fixture, step, 'sys', 'block', name, 'size')) * 512)
    return state, sync, system


def parity_missing_now(fixture, step, name):
    return read(fixture, step, 'sys', 'block', name, 'md', 'level') == 'raid4' and read(
        fixture, step, 'sys', 'block', name, 'md', 'degraded') == '1'


def timed(step):
    return float(read('md-speed', step, 'seconds'))


def planned(state, level, devices):
    """md_plan's steps taking ``state`` to ``level`` with ``devices`` raid devices, adding new devices as needed."""
    new = ['/dev/new%d' % i for i in range(devices - len(state['members']) - len(state['spares']))]
    return plan(state, '/dev/md9', level, devices, state['members'] + state['spares'] + new)


def test_the_speed_files_read_as_md_writes_them():
    state, sync, system = captured('md-speed', '03-raid10-grow-6-reshape-local-limit', 'md3')
    assert system == dict(min=1000, max=4096)
    assert (sync['speed_min'], sync['speed_min_local'], sync['speed_max'], sync['speed_max_local']) == (1000, False, 8192, True)
    assert (sync['component_size'], sync['layout'], sync['sync_completed'], sync['reshape_position']) == (
        129024 * KIB, 258, None, None)
    _state, raid0, _system = captured('md-speed', '02-raid0-grow-4-reshape', 'md2')
    assert (raid0['speed_min'], raid0['speed_max'], raid0['component_size'], raid0['layout']) == (None, None, None, -1)
    _state, reshaping, _system = captured('md', '16-raid10-grow-4-reshaping', 'md1')
    assert (reshaping['sync_completed'], reshaping['reshape_position']) == ([48384 * 512, 129024 * 512], 48384 * 512)


@pytest.mark.parametrize('system, sync, expected', [
    (dict(min=1000, max=200000), {}, (DEFAULT_DISK_SPEED_KIB, 1000)),
    (dict(min=1000, max=4096), dict(speed_min=1000, speed_max=8192), (8192, 1000)),
    (dict(min=1000, max=4096), dict(speed_min=None, speed_max=None), (4096, 1000)),
    (None, None, (DEFAULT_DISK_SPEED_KIB, 1000)),
    (dict(min=50000, max=20000), {}, (50000, 50000)),
    (dict(min=0, max=0), {}, (0, 0))])
def test_md_runs_between_its_limits_and_no_faster_than_the_disks(system, sync, expected):
    assert speed_range(system, sync) == expected


def test_a_recovery_walks_one_member_as_timed_in_the_lab():
    state, sync, system = captured('md-speed', '01-raid1-grow-3-recovery', 'md1')
    steps = planned(state, 1, 3)
    assert [' '.join(s['argv']) for s in steps] == ['mdadm --grow /dev/md9 --raid-devices=3 --add /dev/new0']
    (estimate,) = estimate_steps(state, steps, sync, system)
    assert (estimate['kind'], estimate['bytes'], estimate['walk'], estimate['speed']) == ('recovery', 130048 * KIB, 130048 * KIB, 4096)
    assert estimate['seconds'] == pytest.approx(timed('01-raid1-grow-3-recovery'), rel=0.1)
    assert describe('md1', estimate) == ('md1: grow to 3 mirrors writes 127 MiB to the new member, under a minute at 4.0 MiB/s '
                                         '(up to 2 min while other I/O holds md to 1000 KiB/s)')


def test_a_raid0_grow_walks_one_member_while_it_rewrites_the_array_as_timed_in_the_lab():
    state, sync, system = captured('md-speed', '02-raid0-grow-4-reshape', 'md2')
    steps = planned(state, 0, 4)
    grow, back_to_raid0 = estimate_steps(state, steps, sync, system)
    assert (grow['kind'], grow['bytes'], grow['walk']) == ('reshape', 774144 * 512, 129024 * KIB)
    assert grow['seconds'] == pytest.approx(timed('02-raid0-grow-4-reshape'), rel=0.1)
    assert (back_to_raid0['kind'], back_to_raid0['bytes'], back_to_raid0['seconds']) == ('takeover', 0, 0)
    assert describe('md2', grow).startswith('md2: grow to 4 devices rewrites 378 MiB (126 MiB a member), under a minute at 4.0 MiB/s')
    assert describe('md2', back_to_raid0) == 'md2: convert to raid0 moves no data (a takeover)'


def test_a_raid10_grow_walks_its_new_size_at_its_own_limit_as_timed_in_the_lab():
    """md reshaped the old 252 MiB, then resynced the 126 MiB gained (progress), at the array's own 8 MiB/s."""
    state, sync, system = captured('md-speed', '03-raid10-grow-6-reshape-local-limit', 'md3')
    state['spares'] = ['/dev/s0', '/dev/s1']
    steps = planned(state, 10, 6)
    assert [' '.join(s['argv']) for s in steps] == ['mdadm --grow /dev/md9 --raid-devices=6']
    (estimate,) = estimate_steps(state, steps, sync, system)
    assert (estimate['kind'], estimate['bytes'], estimate['walk'], estimate['speed']) == (
        'reshape', 516096 * 512, 774144 * 512, 8192)
    assert estimate['seconds'] == pytest.approx(timed('03-raid10-grow-6-reshape-local-limit'), rel=0.1)
    assert describe('md3', estimate) == ('md3: grow to 6 devices rewrites 252 MiB then resyncs the 126 MiB it gains, '
                                         'under a minute at 8.0 MiB/s (up to 6 min while other I/O holds md to 1000 KiB/s)')
    progress = read('md-speed', '03-raid10-grow-6-reshape-local-limit', 'progress').splitlines()
    assert progress[0].split()[1:] == ['reshape', '79872', '/', '516096', '8704']
    assert progress[-1].split()[1:5] == ['resync', '774144', '/', '774144']


@pytest.mark.parametrize('start, target, walks', [
    # the raid0 grow of the notes: md walked 126976 sectors (sync_completed at step 02), a member of md0
    (('md', '01-raid0-3-clean', 'md0'), (0, 4), [('reshape', 126976 * 512), ('takeover', 0)]),
    # raid10 of two with two spares grown to four: md walked 129024 sectors reshaping (step 16), then the gained space
    (('md', '15-raid10-2-plus-2-spares', 'md1'), (10, 4), [('reshape', 2 * 129024 * 512)]),
])
def test_what_md_walks_is_what_it_counted_in_the_captures(start, target, walks):
    state, sync, system = captured(*start)
    spares = ['/dev/s0', '/dev/s1'] if start[1].startswith('15') else []
    state['spares'] = spares
    steps = planned(state, *target)
    assert [(e['kind'], e['walk']) for e in estimate_steps(state, steps, sync, system)] == walks


def test_the_boot_array_of_the_notes_step_by_step():
    """RAID1 of two -> RAID0 of one (takeover) -> RAID10 of two plus two spares (one mirror recovered) -> RAID10 of four."""
    state, sync, system = captured('md', '11-raid1-2-clean', 'md1')
    steps = planned(state, 10, 4)
    estimates = estimate_steps(state, steps, sync, dict(min=1000, max=200000))
    component = 64512 * KIB
    assert [(e['kind'], e['bytes'], e['walk']) for e in estimates] == [
        ('takeover', 0, 0), ('recovery', component, component), ('reshape', component, 2 * component)]
    assert [e['what'] for e in estimates] == ['convert to raid0', 'convert to raid10', 'grow to 4 devices']
    assert total(estimates) == (sum(e['seconds'] for e in estimates), sum(e['slowest_seconds'] for e in estimates))


def test_an_interrupted_reshape_resumes_with_what_is_left():
    state, sync, system = captured('md', '19-raid10-reshape-interrupted-read-auto', 'md1')
    assert sync['sync_completed'] is None and sync['reshape_position'] == 32512 * 512
    step = dict(argv=['mdadm', '--readwrite', '/dev/md9'], description='resume',
                expect=dict(level=10, raid_devices=4, members=state['members'], spares=[]))
    (estimate,) = estimate_steps(state, [step], sync, system)
    new_size = 2 * 97280 * KIB
    assert (estimate['kind'], estimate['walk']) == ('resume', new_size - 32512 * 512)
    assert 0 < estimate['bytes'] < state['size']
    assert describe('md1', estimate).startswith('md1: resume the reshape rewrites 79 MiB more')


def test_a_speed_limit_of_zero_never_ends_and_says_so():
    state, sync, system = captured('md-speed', '01-raid1-grow-3-recovery', 'md1')
    (estimate,) = estimate_steps(state, planned(state, 1, 3), dict(sync, speed_max=0, speed_min=0), system)
    assert estimate['seconds'] is None and estimate['slowest_seconds'] is None
    assert describe('md1', estimate).endswith("never: md's speed limit is 0 (raise sync_speed_max)")
    assert total([estimate]) == (None, None)


def test_without_a_member_size_there_is_no_estimate():
    step = dict(argv=['mdadm', '--grow', '/dev/md9', '--raid-devices=3'], expect=dict(level=5, raid_devices=3, members=[], spares=[]))
    (estimate,) = estimate_steps(dict(level=5, raid_devices=2, members=[], spares=[], size=None), [step])
    assert estimate['seconds'] is None and describe('md9', estimate) == 'md9: grow to 3 devices: no estimate (md gives no member size)'


# Properties over the planner's own plans: any start md_plan handles, any target it reaches.
levels = st.sampled_from([0, 1, 4, 5, 6, 10])


@st.composite
def planned_jobs(draw):
    level = draw(levels)
    devices = draw(st.integers(min_value=max(1, MIN_DEVICES[level]), max_value=5))
    members = ['/dev/m%d' % i for i in range(devices)]
    target_level = draw(levels)
    target_devices = draw(st.integers(min_value=MIN_DEVICES[target_level], max_value=6))
    spares = draw(st.integers(min_value=0, max_value=0 if target_level == 0 else 2))
    targets = members + ['/dev/n%d' % i for i in range(max(0, target_devices + spares - devices))]
    state = dict(level=level, raid_devices=devices, members=members, spares=[], degraded=0,
                 slots=dict((m, i) for i, m in enumerate(members)))
    try:
        steps = plan(state, '/dev/md9', target_level, target_devices, targets)
    except Refusal:
        steps = []
    component = draw(st.integers(min_value=1, max_value=2 ** 44))
    return state, steps, component, draw(st.integers(min_value=0, max_value=300000)), draw(st.integers(min_value=0, max_value=300000))


def estimated(state, steps, component, low, high, scale=1):
    size = data_size(state['level'], state['raid_devices'], component * scale)
    return estimate_steps(dict(state, size=size), steps, dict(component_size=component * scale if state['level'] else None),
                          dict(min=low, max=high))


@given(planned_jobs())
def test_estimates_are_never_negative_and_takeovers_take_no_time(job):
    state, steps, component, low, high = job
    for estimate in estimated(state, steps, component, low, high):
        assert estimate['bytes'] >= 0 and estimate['walk'] >= 0
        for key in ('seconds', 'slowest_seconds'):
            assert estimate[key] is None or estimate[key] >= 0
        if estimate['kind'] in ('takeover', 'spares'):
            assert (estimate['bytes'], estimate['seconds'], estimate['slowest_seconds']) == (0, 0, 0)
        else:
            assert estimate['kind'] in ('recovery', 'reshape') and estimate['walk'] > 0
        assert estimate['seconds'] is not None or max(low, high) == 0
        assert estimate['slowest_seconds'] is None or estimate['seconds'] <= estimate['slowest_seconds']
        describe('md9', estimate)


@given(planned_jobs(), st.integers(min_value=2, max_value=1000))
def test_a_larger_array_never_takes_less_time(job, scale):
    state, steps, component, low, high = job
    small = estimated(state, steps, component, low, high)
    large = estimated(state, steps, component, low, high, scale)
    for a, b in zip(small, large):
        assert a['bytes'] <= b['bytes'] and a['walk'] <= b['walk']
        if a['seconds'] is not None:
            assert a['seconds'] <= b['seconds']
