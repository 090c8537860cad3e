# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decision tables of the ntpd rollout: what one read of a node says it needs (container actions,
host time services), which node builds the image for which others, the base image per architecture, and the
planner's file writes, load and built state. systemctl output captured on the lab Pi nodes."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils import ntpd_plan as p
from ansible_collections.fleet.linux.plugins.filter.ntpd_host_time_actions import FilterModule as HostTimeActions
from ansible_collections.fleet.linux.plugins.filter.ntpd_image_sources import FilterModule as ImageSources
from ansible_collections.fleet.linux.plugins.filter.ntpd_rollout_plan import FilterModule as RolloutPlan

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'docker')
UNITS = ['ntp.service', 'ntpsec.service', 'chrony.service', 'chronyd.service', 'openntpd.service']


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


CHRONY = p.parse_systemctl_show(fixture('systemctl_show_chrony.txt'))
TIMESYNCD = p.parse_systemctl_show(fixture('systemctl_show_timesyncd.txt'))


def test_systemctl_show_of_a_node_with_chrony():
    """Units not installed are left out; chronyd.service is an alias (systemctl shows chrony.service)."""
    assert CHRONY == {'chrony.service': {'name': 'chrony.service', 'state': 'running', 'status': 'enabled'}}


def test_systemctl_show_of_a_node_with_timesyncd():
    """In a container systemd-timesyncd does not run (ConditionVirtualization), enabled all the same."""
    assert TIMESYNCD == {'systemd-timesyncd.service': {'name': 'systemd-timesyncd.service', 'state': 'stopped',
                                                       'status': 'enabled'}}


@pytest.mark.parametrize('services, ntp, expected', [
    (CHRONY, 'yes', ['timedatectl set-ntp false', 'systemctl stop chrony.service', 'systemctl disable chrony.service']),
    (TIMESYNCD, 'no', ['systemctl mask systemd-timesyncd.service']),
    ({'chrony.service': {'state': 'stopped', 'status': 'disabled'}}, 'no', []),
    ({'chrony.service': {'state': 'stopped', 'status': 'enabled'}}, 'no', ['systemctl disable chrony.service']),
    ({'ntp.service': {'state': 'running', 'status': 'masked'}}, None, []),
    ({'systemd-timesyncd.service': {'state': 'stopped', 'status': 'masked'}}, 'no', []),
    ({'systemd-timesyncd.service': {'state': 'running', 'status': 'masked'}}, 'no',
     ['systemctl stop systemd-timesyncd.service']),
    ({}, None, []),
])
def test_host_time_service_actions(services, ntp, expected):
    assert p.host_time_service_actions(services, ntp, UNITS) == expected


def read(steps=(), services=None, ntp='no', **extra):
    """A docker_ntpd check-mode result planning ``steps`` (each action line: 'docker STEP ntpd' here)."""
    return dict({'actions': ['docker %s ntpd' % step for step in steps], 'steps': list(steps),
                 'host_time_services': services or {}, 'host_ntp_synchronization': ntp, 'engine_answers': True,
                 'image': 'fleet-linux/ntpd:amd64-0123456789ab', 'machine': 'x86_64'}, **extra)


@pytest.mark.parametrize('check, state, disable, expected', [
    (read(), 'started', True, []),
    (read(['restart']), 'started', True, ['docker restart ntpd']),
    (read(services=CHRONY, ntp='yes'), 'started', True,
     ['timedatectl set-ntp false', 'systemctl stop chrony.service', 'systemctl disable chrony.service']),
    (read(services=CHRONY, ntp='yes'), 'started', False, []),
    (read(['remove'], services=CHRONY), 'absent', True, ['docker remove ntpd']),
    (read(['create', 'start'], services=TIMESYNCD), 'started', True,
     ['docker create ntpd', 'docker start ntpd', 'systemctl mask systemd-timesyncd.service']),
    ({'failed': True, 'msg': 'Docker socket ... does not exist', 'engine_answers': False}, 'started', True,
     list(p.ENGINE_FIRST)),
])
def test_rollout_plan(check, state, disable, expected):
    assert RolloutPlan().filters()['ntpd_rollout_plan'](check, state, disable, UNITS) == expected


def test_one_builder_per_image_the_others_load_it():
    """Per image tag: its architecture keeps the ARMv6 Pis (armel) apart from the later 32-bit ones (armhf)."""
    amd64 = 'fleet-linux/ntpd:amd64-0123456789ab'
    armhf = 'fleet-linux/ntpd:armhf-0123456789ab'
    armel = 'fleet-linux/ntpd:armel-0123456789ab'
    checks = {
        'pi3': read(['build', 'create', 'start'], image=armhf, machine='aarch64'),
        'pi2': read(['build', 'create', 'start'], image=armhf, machine='armv7l'),
        'zero': read(['build', 'create', 'start'], image=armel, machine='armv6l'),
        'pi1': read(['pull', 'build', 'create', 'start'], image=armel, machine='armv6l'),
        'x86': read(['build'], image=amd64),
        'done': read([], image=armhf, machine='armv7l'),
        'no-engine': {'failed': True, 'engine_answers': False},
    }
    assert ImageSources().filters()['ntpd_image_sources'](checks) == {
        'pi2': 'pi2', 'pi3': 'pi2', 'pi1': 'pi1', 'zero': 'pi1', 'x86': 'x86'}


def test_base_image_given_or_per_architecture():
    images = {'armhf': 'arm32v7/debian:bookworm-slim'}
    assert p.resolve_base_image('mine:1', images, 'armhf') == 'mine:1'
    assert p.resolve_base_image(None, images, 'armhf') == 'arm32v7/debian:bookworm-slim'
    with pytest.raises(Refusal, match='no base image for architecture arm64'):
        p.resolve_base_image('', images, 'arm64')


CURRENT = {'running': True}


@pytest.mark.parametrize('state, ready, loadable, writes, expected', [
    ('started', True, False, ['write_config'], ['write_config', 'restart']),
    ('started', True, False, ['write_dockerfile'], ['write_dockerfile']),
    ('present', True, False, ['write_config'], ['write_config']),
    ('started', False, True, [], ['load']),
    ('built', False, False, ['write_dockerfile'], ['write_dockerfile', 'build']),
    ('built', True, False, [], []),
])
def test_plan_writes_loads_and_builds(monkeypatch, state, ready, loadable, writes, expected):
    monkeypatch.setattr(p, 'differences', lambda current, desired: [])
    assert p.plan(state, ready, True, CURRENT, {}, writes, loadable) == expected


def test_a_new_image_recreates_whatever_was_written():
    assert p.plan('started', False, True, CURRENT, {'image_id': None}, ['write_config'], True) == \
        ['write_config', 'load', 'stop', 'remove', 'create', 'start']


@pytest.mark.parametrize('images, expected', [
    ([(['fleet-linux/ntpd:amd64-0123456789ab'], {p.BUILD_HASH_LABEL: '0123456789abcdef'})], True),
    ([(['fleet-linux/ntpd:amd64-0123456789ab'], {p.BUILD_HASH_LABEL: 'another build'})], False),
    ([(['fleet-linux/ntpd:armhf-0123456789ab'], {p.BUILD_HASH_LABEL: '0123456789abcdef'})], False),
    ([([], None)], False),
])
def test_an_archive_serves_only_the_image_with_this_build_hash(images, expected):
    assert p.archive_matches(images, 'fleet-linux/ntpd:amd64-0123456789ab', '0123456789abcdef') is expected


# -- the one-call change: a node whose read found the host's time services off (filter ntpd_host_time_actions) --

def host_time_actions(check, units=tuple(UNITS)):
    return HostTimeActions().filters()['ntpd_host_time_actions'](check, units)


def test_a_node_with_chrony_running_still_needs_it_turned_off():
    check = {'host_time_services': CHRONY, 'host_ntp_synchronization': 'yes'}
    assert host_time_actions(check) == ['timedatectl set-ntp false', 'systemctl stop chrony.service',
                                        'systemctl disable chrony.service']


def test_a_node_whose_services_are_off_needs_nothing_so_one_call_does_the_change():
    off = {'chrony.service': dict(CHRONY['chrony.service'], state='stopped', status='disabled'),
           p.TIMESYNCD: {'name': p.TIMESYNCD, 'state': 'stopped', 'status': 'masked'}}
    assert host_time_actions({'host_time_services': off, 'host_ntp_synchronization': 'no'}) == []


def test_timesyncd_enabled_but_not_running_still_needs_its_mask():
    assert host_time_actions({'host_time_services': TIMESYNCD, 'host_ntp_synchronization': 'no'}) == [
        'systemctl mask systemd-timesyncd.service']


def test_a_read_without_host_time_services_needs_nothing():
    assert host_time_actions({}) == [] and host_time_actions(None, None) == []
