# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""io_scheduler parsers, selection and rules file, fed with sysfs captured on the lab microserver
(tests/fixtures/io_scheduler, kernel 6.1 cloud: bfq and kyber are modules, mq-deadline built in)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils.io_scheduler import (
    RULES_HEADER, changes, device_pattern, is_partition, merge_rule, missing_names, normalize_pattern,
    parse_modprobe_show_depends, parse_modules_load, parse_rules, parse_scheduler, read_block_queues, render_modules_load,
    render_rules, scheduler_module_names, select_devices, udev_rule, unsupported)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'io_scheduler')
BOOT = os.path.join(FIXTURES, '01-boot', 'sys')
LOADED = os.path.join(FIXTURES, '02-modules-loaded', 'sys')
SET = os.path.join(FIXTURES, '03-vda-bfq-vdb-kyber-vdc-non-rotational', 'sys')
LOOPS = ['loop%d' % i for i in range(8)]
RULES = '/etc/udev/rules.d/60-fleet-io-scheduler.rules'


def fixture(*path):
    with open(os.path.join(FIXTURES, *path)) as handle:
        return handle.read()


@pytest.mark.parametrize('text, offered, current', [
    ('[none] mq-deadline \n', ['none', 'mq-deadline'], 'none'),
    ('mq-deadline [bfq] kyber none\n', ['mq-deadline', 'bfq', 'kyber', 'none'], 'bfq'),
    ('none\n', [], 'none'),   # a bio-based device (md): nothing to choose
    ('', [], None),
])
def test_parse_scheduler(text, offered, current):
    assert parse_scheduler(text) == (offered, current)


def test_captured_boot_state():
    devices = read_block_queues(BOOT)
    assert sorted(devices) == sorted(LOOPS + ['md0', 'sda', 'vda', 'vdb', 'vdc', 'vdd'])
    assert devices['vda'] == {'offered': ['none', 'mq-deadline'], 'current': 'none', 'rotational': True}
    assert devices['md0']['offered'] == [] and devices['md0']['current'] == 'none'


def test_captured_states_after_loading_and_setting():
    assert read_block_queues(LOADED)['vdd']['offered'] == ['none', 'mq-deadline', 'bfq', 'kyber']
    devices = read_block_queues(SET)
    assert [devices[d]['current'] for d in ('vda', 'vdb', 'vdc', 'vdd')] == ['bfq', 'kyber', 'none', 'none']
    assert devices['vdc']['rotational'] is False
    assert devices['vdd']['rotational'] is True


def test_partitions_are_not_in_sys_block():
    devices = read_block_queues(BOOT)
    assert 'vdd1' not in devices
    assert is_partition('vdd1', BOOT)
    assert not is_partition('vdd', BOOT)


@pytest.mark.parametrize('scheduler, expected', [
    ('bfq', ('module', 'bfq')),
    ('kyber', ('module', 'kyber-iosched')),
    ('mq-deadline', ('builtin', None)),
    ('none', (None, None)),   # modprobe failed: nothing printed
])
def test_parse_modprobe_show_depends(scheduler, expected):
    assert parse_modprobe_show_depends(fixture('modprobe', scheduler)) == expected


def test_modprobe_compressed_module_after_its_dependencies():
    text = 'insmod /lib/modules/6.6.51+rpt-rpi-v8/kernel/lib/foo.ko.xz \ninsmod /lib/modules/x/kernel/block/bfq.ko.xz \n'
    assert parse_modprobe_show_depends(text) == ('module', 'bfq')


@pytest.mark.parametrize('pattern, name', [('sdb', 'sdb'), ('/dev/sdb', 'sdb'), ('vd[b-c]', 'vd[b-c]'),
                                           ('mmcblk*', 'mmcblk*'), ('nvme?n1', 'nvme?n1')])
def test_normalize_pattern(pattern, name):
    assert normalize_pattern(pattern) == name


@pytest.mark.parametrize('pattern', ['', '/dev/', 'sd a', 'sda|sdb', 'sd"', 'sd,a', '/dev/disk/by-id/x'])
def test_normalize_pattern_refuses_what_udev_cannot_match(pattern):
    with pytest.raises(Refusal, match='not a kernel device name or glob'):
        normalize_pattern(pattern)


def identify_lab_paths(path):
    """BlockDevices.identify on the lab microserver: by-id links lead to disks; anything else is refused."""
    known = {'/dev/vdb': 'vdb', '/dev/disk/by-id/virtio-data2': 'vdc', '/dev/disk/by-path/x': 'vdd1'}
    if path not in known:
        raise Refusal('%s is not a block device but a regular file' % path)
    return known[path]


@pytest.mark.parametrize('given, pattern', [
    ('vdb', 'vdb'), ('sd*', 'sd*'), ('/dev/sd*', 'sd*'), ('/dev/vd[b-c]', 'vd[b-c]'),
    ('/dev/vdb', 'vdb'), ('/dev/disk/by-id/virtio-data2', 'vdc'), ('/dev/disk/by-path/x', 'vdd1'),
])
def test_device_pattern_resolves_paths_by_identity_and_keeps_names(given, pattern):
    assert device_pattern(given, identify_lab_paths) == pattern


@pytest.mark.parametrize('given', ['/root/vdd6', '/dev/sdz', '/tmp/vdb'])
def test_device_pattern_never_takes_a_file_for_the_disk_of_its_name(given):
    with pytest.raises(Refusal, match='not a block device'):
        device_pattern(given, identify_lab_paths)


@pytest.mark.parametrize('given', ['dev/vdb', '/dev/disk/by-id/*', 'vdb vdc'])
def test_device_pattern_refuses_relative_paths_and_path_globs(given):
    with pytest.raises(Refusal, match='nor the path of a block device'):
        device_pattern(given, identify_lab_paths)


MODULES_LOAD = '/etc/modules-load.d/fleet-io-scheduler.conf'


def test_modules_load_round_trip():
    kinds = {'bfq': ('module', 'bfq'), 'kyber': ('module', 'kyber-iosched'), 'mq-deadline': ('builtin', None)}
    owned = scheduler_module_names(['bfq', 'kyber', 'mq-deadline'], kinds)
    assert owned == set(['bfq', 'bfq-iosched', 'kyber', 'kyber-iosched', 'mq-deadline', 'mq-deadline-iosched'])
    text = render_modules_load(['kyber-iosched', 'bfq'])
    assert parse_modules_load(text, MODULES_LOAD, RULES, owned) == ['bfq', 'kyber-iosched']
    assert parse_modules_load('', MODULES_LOAD, RULES, set()) == []


@pytest.mark.parametrize('text', ['bfq\n', '# loaded for the backup job\nbfq\n', 'dm_crypt\n'])
def test_a_modules_load_file_of_another_tool_is_refused(text):
    with pytest.raises(Refusal, match='%s exists and was not written by io_scheduler' % MODULES_LOAD):
        parse_modules_load(text, MODULES_LOAD, RULES, set(['bfq']))


def test_an_entry_added_to_the_owned_modules_load_file_is_refused():
    text = render_modules_load(['bfq']) + 'dm_crypt\n'
    with pytest.raises(Refusal, match='line 4 lists dm_crypt, which no rule of %s needs' % RULES):
        parse_modules_load(text, MODULES_LOAD, RULES, set(['bfq']))


@pytest.mark.parametrize('patterns, rotational, selected', [
    (['vdb'], None, ['vdb']),
    (['vd*'], None, ['vda', 'vdb', 'vdc', 'vdd']),
    (['vd[b-c]'], None, ['vdb', 'vdc']),
    (['*'], None, ['sda', 'vda', 'vdb', 'vdc', 'vdd']),   # loop and md only when named
    (['*', 'loop*'], None, LOOPS + ['sda', 'vda', 'vdb', 'vdc', 'vdd']),
    (['md0'], None, ['md0']),
    (['vd*'], False, ['vdc']),
    (['vd*'], True, ['vda', 'vdb', 'vdd']),
    (['mmcblk*', 'nvme*'], None, []),
])
def test_select_devices(patterns, rotational, selected):
    assert select_devices(read_block_queues(SET), patterns, rotational) == selected


def test_missing_names_are_literal_names_only():
    devices = read_block_queues(BOOT)
    assert missing_names(devices, ['vdb', 'vdz', 'sd*', 'mmcblk*', 'vdd1']) == ['vdz', 'vdd1']


def test_unsupported_before_and_after_loading_the_module():
    names = ['vda', 'vdb', 'md0']
    assert unsupported(read_block_queues(BOOT), names, 'bfq') == {
        'vda': ['none', 'mq-deadline'], 'vdb': ['none', 'mq-deadline'], 'md0': []}
    assert unsupported(read_block_queues(LOADED), names, 'bfq') == {'md0': []}
    assert unsupported(read_block_queues(LOADED), names, 'none') == {}   # md0 already is 'none'


def test_changes_only_devices_on_another_scheduler():
    devices = read_block_queues(SET)
    assert changes(devices, ['vda', 'vdb', 'vdc'], 'bfq') == [('vdb', 'kyber', 'bfq'), ('vdc', 'none', 'bfq')]
    assert changes(devices, ['vda'], 'bfq') == []


def test_udev_rule_for_names():
    assert udev_rule(['vdc', 'vdb'], None, 'bfq') == (
        'ACTION=="add|change", SUBSYSTEM=="block", ENV{DEVTYPE}=="disk", KERNEL=="vdb|vdc", '
        'ATTR{queue/scheduler}="bfq"')


def test_udev_rule_for_a_class_of_globs():
    assert udev_rule(['sd*', 'mmcblk*'], False, 'mq-deadline') == (
        'ACTION=="add|change", SUBSYSTEM=="block", ENV{DEVTYPE}=="disk", KERNEL=="mmcblk*|sd*", '
        'ATTR{queue/rotational}=="0", ATTR{queue/scheduler}="mq-deadline"')


@pytest.mark.parametrize('patterns, excluded', [
    (['*'], 'KERNEL!="loop*|ram*|zram*|dm-*|md*|nbd*"'),
    (['*', 'loop*'], 'KERNEL!="ram*|zram*|dm-*|md*|nbd*"'),
    (['m*'], 'KERNEL!="md*"'),
    (['d?-*'], 'KERNEL!="dm-*"'),
])
def test_udev_rule_leaves_virtual_devices_out_of_wide_globs(patterns, excluded):
    assert excluded + ', ATTR{queue/scheduler}="bfq"' in udev_rule(patterns, None, 'bfq')


def test_rules_round_trip_and_merge_by_selection():
    rules = merge_rule([], ['vdb'], None, 'bfq')
    rules = merge_rule(rules, ['sd*', 'mmcblk*'], True, 'bfq')
    rules = merge_rule(rules, ['mmcblk*', 'sd*'], False, 'mq-deadline')
    text = render_rules(rules)
    assert text.startswith(RULES_HEADER)
    assert '# selection: devices=mmcblk*,sd* rotational=true\n' in text
    parsed = parse_rules(text, RULES)
    assert parsed == rules
    # The same selection (patterns in any order) replaces its rule in place.
    again = merge_rule(parsed, ['sd*', 'mmcblk*', 'sd*'], True, 'kyber')
    assert [r['scheduler'] for r in again] == ['bfq', 'kyber', 'mq-deadline']
    assert render_rules(merge_rule(parsed, ['vdb'], None, 'bfq')) == text
    # Removing selections; the last one leaves nothing to write.
    left = merge_rule(merge_rule(merge_rule(parsed, ['vdb'], None, None), ['mmcblk*', 'sd*'], True, None),
                      ['mmcblk*', 'sd*'], False, None)
    assert left == [] and render_rules(left) == ''
    assert merge_rule(parsed, ['vdz'], None, None) == parsed


def test_a_rules_file_not_written_by_the_module_is_refused():
    with pytest.raises(Refusal, match='was not written by io_scheduler'):
        parse_rules('ACTION=="add", KERNEL=="sda", ATTR{queue/scheduler}="bfq"\n', RULES)


def test_a_hand_edited_rule_is_refused():
    text = render_rules(merge_rule([], ['vdb'], None, 'bfq')) + 'KERNEL=="sdz", RUN+="/bin/true"\n'
    with pytest.raises(Refusal, match='line 6 is not a rule io_scheduler wrote'):
        parse_rules(text, RULES)


def test_empty_or_missing_rules_file():
    assert parse_rules('', RULES) == []


def test_render_modules_load():
    assert render_modules_load([]) == ''
    assert render_modules_load([None, 'kyber-iosched', 'bfq', 'bfq']).endswith('\nbfq\nkyber-iosched\n')
