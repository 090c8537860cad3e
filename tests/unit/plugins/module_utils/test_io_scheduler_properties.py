# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Properties of io_scheduler's parsers and rules file (hypothesis): what they write, they read back."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fnmatch

from hypothesis import given, strategies as st

from ansible_collections.fleet.linux.plugins.module_utils.io_scheduler import (
    VIRTUAL_PREFIXES, literal_prefix, merge_rule, normalize_pattern, parse_modules_load, parse_rules, parse_scheduler,
    render_modules_load, render_rules, scheduler_module_names, select_devices)

RULES = '/etc/udev/rules.d/60-fleet-io-scheduler.rules'
MODULES_LOAD = '/etc/modules-load.d/fleet-io-scheduler.conf'

names = st.text('abcdefghijklmnopqrstuvwxyz0123456789', min_size=1, max_size=8)
globs = st.builds(lambda prefix, tail: prefix + tail, names, st.sampled_from(['', '*', '?', '[a-c]', '*n1']))
patterns = st.lists(globs.map(normalize_pattern), min_size=1, max_size=4)
rotational = st.sampled_from([None, True, False])
schedulers = st.sampled_from(['mq-deadline', 'bfq', 'kyber', 'none'])
selections = st.lists(st.tuples(patterns, rotational, schedulers), max_size=6)


def rules_of(selection_list):
    rules = []
    for selection_patterns, selection_rotational, scheduler in selection_list:
        rules = merge_rule(rules, selection_patterns, selection_rotational, scheduler)
    return rules


@given(selections)
def test_the_rules_file_reads_back_what_it_was_written(selection_list):
    rules = rules_of(selection_list)
    assert parse_rules(render_rules(rules), RULES) == rules


@given(selections, patterns, rotational, schedulers)
def test_a_selection_has_one_rule_and_removing_it_leaves_the_others(selection_list, own, own_rotational, scheduler):
    rules = merge_rule(rules_of(selection_list), own, own_rotational, scheduler)
    key = (sorted(set(own)), own_rotational)
    assert [(sorted(set(r['patterns'])), r['rotational']) for r in rules].count(key) == 1
    assert merge_rule(rules, own, own_rotational, scheduler) == rules
    left = merge_rule(rules, own, own_rotational, None)
    assert len(left) == len(rules) - 1
    assert all((sorted(set(r['patterns'])), r['rotational']) != key for r in left)


@given(st.lists(schedulers, min_size=1, max_size=4, unique=True))
def test_the_modules_load_file_reads_back_what_it_was_written(listed):
    kinds = {'bfq': ('module', 'bfq'), 'kyber': ('module', 'kyber-iosched'), 'mq-deadline': ('builtin', None),
             'none': (None, None)}
    modules = [kinds[s][1] for s in listed if kinds[s][0] == 'module']
    owned = scheduler_module_names(listed, kinds)
    assert parse_modules_load(render_modules_load(modules), MODULES_LOAD, RULES, owned) == sorted(set(modules))


@given(st.lists(schedulers, min_size=1, max_size=4, unique=True), st.data())
def test_parse_scheduler_finds_the_bracketed_one(offered, data):
    current = data.draw(st.sampled_from(offered))
    text = ' '.join('[%s]' % s if s == current else s for s in offered) + ' \n'
    assert parse_scheduler(text) == (offered, current)


@given(st.lists(st.sampled_from(['sda', 'sdb', 'vda', 'mmcblk0', 'nvme0n1', 'loop0', 'ram1', 'zram0', 'dm-0', 'md0',
                                 'md127', 'nbd3']), unique=True),
       patterns, rotational)
def test_selection_is_a_subset_of_the_matches_and_never_an_unnamed_virtual_device(device_names, chosen, wanted):
    devices = dict((n, {'offered': ['none'], 'current': 'none', 'rotational': n.startswith('sd')}) for n in device_names)
    selected = select_devices(devices, chosen, wanted)
    for name in selected:
        assert any(fnmatch.fnmatchcase(name, p) for p in chosen)
        assert wanted is None or devices[name]['rotational'] is wanted
        for prefix in VIRTUAL_PREFIXES:
            if name.startswith(prefix):
                # Only a pattern naming the prefix itself (loop*, md0) selects a virtual device.
                assert any(literal_prefix(p).startswith(prefix) for p in chosen)
