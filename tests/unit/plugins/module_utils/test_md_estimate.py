# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""md_estimate: the formatting helpers, and the estimate of md's steps on sysfs values captured in the lab."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from hypothesis import given, strategies as st

from ansible_collections.fleet.linux.plugins.module_utils.md_estimate import format_duration, format_size, format_speed

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
