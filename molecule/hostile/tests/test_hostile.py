"""Verify the hostile-input battery: every request of vars/cases.yml refused before anything changed,
with a message saying what is wrong, and the node's fingerprint byte-identical before and after."""

import difflib
import json
import os

import pytest
import yaml

with open(os.path.join(os.path.dirname(__file__), '..', 'vars', 'cases.yml')) as handle:
    CASES = yaml.safe_load(handle)
MODULES = ['io_scheduler', 'fs_grow', 'swap_rebuild', 'md_reshape', 'raid_reshape']
EXPECTED = [(module, case) for module in MODULES for case in CASES['%s_cases' % module]]


@pytest.fixture(scope='module')
def results(host):
    answers = json.loads(host.file('/root/hostile/results.json').content_string)
    return dict(((a['module'], a['id']), a) for a in answers)


def test_the_battery_is_large_enough_and_ran_whole(results):
    assert len(EXPECTED) >= 60
    assert len(set(case['id'] for _module, case in EXPECTED)) == len(EXPECTED)
    assert sorted(results) == sorted((module, case['id']) for module, case in EXPECTED)


@pytest.mark.parametrize('module, case', EXPECTED, ids=[case['id'] for _module, case in EXPECTED])
def test_refused_changing_nothing_saying_what_is_wrong(results, module, case):
    answer = results[(module, case['id'])]
    assert answer['failed'] is True, answer
    assert answer['changed'] is False, answer
    assert case['expect'] in answer['msg'], answer['msg']


def test_the_fingerprint_is_byte_identical(host):
    before = host.file('/root/hostile/fingerprint-before').content_string
    after = host.file('/root/hostile/fingerprint-after').content_string
    assert '== mdadm --detail' in before and '/dev/md1:' in before and '/dev/md0:' in before
    assert before == after, ''.join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                                         'before', 'after'))
