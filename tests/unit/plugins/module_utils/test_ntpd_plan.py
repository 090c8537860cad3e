# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decision tables for docker_ntpd's planner, fed with real ``docker inspect`` output
captured from dockerd 20.10 (tests/fixtures/docker/)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils import ntpd_plan as p

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'docker')


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read() if name.endswith('.txt') else json.load(handle)


RUNNING = fixture('container_declared_running.json')
IMAGE_ID = RUNNING['Image']
# The parameters that created container_declared_running.json (docker_ntpd on the host).
PARAMS = {
    'capabilities': ['SYS_TIME'], 'network_mode': 'bridge',
    'published_ports': ['127.0.0.1:10123:123/udp'], 'config_file': '/tmp/ntpd-dev/ntp.conf',
    'drift_volume': 'ntpd-dev-drift', 'ntpd_args': ['-g', '-n'],
}


def desired(image_id=IMAGE_ID, **changes):
    return p.desired_container(dict(PARAMS, **changes), image_id)


def view(name):
    return p.current_container(fixture(name))


def test_view_of_the_declared_running_container():
    current = view('container_declared_running.json')
    assert current == dict(desired(), capabilities_dropped=['ALL'], running=True, status='running')
    assert p.differences(current, desired()) == []


@pytest.mark.parametrize('state, container, expected', [
    # unchanged container
    ('started', 'container_declared_running.json', []),
    ('started', 'container_declared_stopped.json', ['start']),
    ('stopped', 'container_declared_running.json', ['stop']),
    ('stopped', 'container_declared_stopped.json', []),
    ('restarted', 'container_declared_running.json', ['restart']),
    ('restarted', 'container_declared_stopped.json', ['start']),
    ('absent', 'container_declared_running.json', ['remove']),
    ('absent', 'container_declared_stopped.json', ['remove']),
    # no container yet
    ('started', None, ['create', 'start']),
    ('restarted', None, ['create', 'start']),
    ('stopped', None, ['create']),
    ('absent', None, []),
    # the source notes' hand-made container (docker run --cap-add ... -g -n): default
    # capabilities kept, no mounts, no ports -> replaced
    ('started', 'container_blog_cli_created.json', ['recreate', 'start']),
    ('stopped', 'container_blog_cli_created.json', ['recreate']),
    # a privileged container is never kept
    ('started', 'container_privileged_created.json', ['recreate', 'start']),
])
def test_plan_with_the_image_built(state, container, expected):
    current = view(container) if container else None
    assert p.plan(state, True, True, current, desired()) == expected


@pytest.mark.parametrize('state, image_ready, base_present, expected', [
    ('started', False, True, ['build', 'recreate', 'start']),
    ('started', False, False, ['pull', 'build', 'recreate', 'start']),
    ('stopped', False, True, ['build', 'recreate']),
    ('restarted', False, True, ['build', 'recreate', 'start']),
    ('absent', False, False, ['remove']),
])
def test_plan_when_the_image_must_be_built(state, image_ready, base_present, expected):
    # A new build has a new image id: the running container differs in image_id.
    current = view('container_declared_running.json')
    target = desired(image_id=None) if not image_ready else desired()
    assert p.plan(state, image_ready, base_present, current, target) == expected


@pytest.mark.parametrize('container, changes, fields', [
    ('container_declared_running.json', {}, []),
    ('container_declared_running.json', {'capabilities': ['SYS_TIME', 'SYS_RESOURCE']}, ['capabilities']),
    ('container_declared_running.json', {'ntpd_args': ['-g', '-n', '-x']}, ['command']),
    ('container_declared_running.json', {'published_ports': ['123:123/udp']}, ['ports']),
    ('container_declared_running.json', {'config_file': '/etc/fleet-ntpd/ntp.conf'}, ['mounts']),
    ('container_declared_running.json', {'drift_volume': '/srv/ntp'}, ['mounts']),
    ('container_declared_running.json',
     {'network_mode': 'host', 'capabilities': ['SYS_TIME', 'NET_BIND_SERVICE']},
     ['capabilities', 'network_mode', 'ports']),
    ('container_host_network_created.json',
     {'network_mode': 'host', 'capabilities': ['SYS_TIME', 'NET_BIND_SERVICE']}, []),
    ('container_blog_cli_created.json', {'capabilities': ['SYS_TIME', 'SYS_RESOURCE']},
     ['network_mode', 'mounts', 'ports', 'capabilities_dropped']),
    ('container_privileged_created.json', {},
     ['capabilities', 'privileged', 'network_mode', 'capabilities_dropped']),
])
def test_differences(container, changes, fields):
    assert p.differences(view(container), desired(**changes)) == fields


def test_a_new_image_differs_from_the_running_one():
    assert p.differences(view('container_declared_running.json'), desired(image_id=None)) == ['image_id']
    other = 'sha256:' + 'f' * 64
    assert p.differences(view('container_declared_running.json'), desired(image_id=other)) == ['image_id']


def test_spec_creates_what_inspect_shows():
    """The create body, as dockerd stores it, reads back as the declared view (real fixture)."""
    spec = p.container_spec(desired(), IMAGE_ID)
    host = RUNNING['HostConfig']
    for key in ('Binds', 'CapAdd', 'CapDrop', 'Privileged', 'RestartPolicy', 'NetworkMode', 'PortBindings'):
        assert spec['HostConfig'][key] == host[key], key
    assert spec['Cmd'] == RUNNING['Config']['Cmd']
    assert spec['Labels'][p.MANAGED_LABEL] == 'true'
    assert spec['ExposedPorts'] == {'123/udp': {}}


def test_spec_never_privileged_and_drops_every_other_capability():
    spec = p.container_spec(desired(capabilities=['sys_time', 'CAP_SYS_RESOURCE']), IMAGE_ID)
    assert spec['HostConfig']['Privileged'] is False
    assert spec['HostConfig']['CapDrop'] == ['ALL']
    assert spec['HostConfig']['CapAdd'] == ['CAP_SYS_RESOURCE', 'CAP_SYS_TIME']


@pytest.mark.parametrize('spec, expected', [
    ('123:123/udp', ('', 123, 123, 'udp')),
    ('123:123', ('', 123, 123, 'udp')),
    ('0.0.0.0:123:123/udp', ('', 123, 123, 'udp')),
    ('192.168.1.2:123:123/udp', ('192.168.1.2', 123, 123, 'udp')),
    ('127.0.0.1:10123:123/UDP', ('127.0.0.1', 10123, 123, 'udp')),
    ('[::1]:123:123/udp', ('::1', 123, 123, 'udp')),
])
def test_parse_port(spec, expected):
    assert p.parse_port(spec) == expected
    assert p.parse_port(p.port_text(expected)) == expected


@pytest.mark.parametrize('spec', ['123', 'ntp:123/udp', '123:123/sctp', '1:2:3:4'])
def test_parse_port_refuses(spec):
    with pytest.raises(Refusal, match='published_ports'):
        p.parse_port(spec)


@pytest.mark.parametrize('name, expected', [
    ('SYS_TIME', 'SYS_TIME'), ('cap_sys_time', 'SYS_TIME'), ('CAP_SYS_RESOURCE', 'SYS_RESOURCE'),
    (' net_bind_service ', 'NET_BIND_SERVICE'),
])
def test_normalize_capability(name, expected):
    assert p.normalize_capability(name) == expected


@pytest.mark.parametrize('name, message', [
    ('ALL', 'as --privileged does'), ('cap_all', 'as --privileged does'),
    ('SYS_CLOCK', 'not a Linux capability'),
])
def test_normalize_capability_refuses(name, message):
    with pytest.raises(Refusal, match=message):
        p.normalize_capability(name)


def test_host_network_needs_net_bind_service():
    with pytest.raises(Refusal, match='NET_BIND_SERVICE'):
        desired(network_mode='host')
    assert desired(network_mode='host', capabilities=['SYS_TIME', 'NET_BIND_SERVICE'])['ports'] == []


def test_bounding_set_of_this_host_lacks_sys_resource():
    """Real /proc/PID/status of dockerd on the CI host, whose bounding set lacks CAP_SYS_RESOURCE."""
    bounding = p.capabilities_from_mask(p.parse_status_mask(fixture('proc_dockerd_status_caps.txt')))
    assert 'SYS_RESOURCE' not in bounding
    assert set(['SYS_TIME', 'NET_BIND_SERVICE', 'CHECKPOINT_RESTORE']) <= bounding
    p.refuse_ungrantable(['SYS_TIME'], bounding)
    with pytest.raises(Refusal) as refusal:
        p.refuse_ungrantable(['SYS_RESOURCE', 'SYS_TIME'], bounding)
    message = str(refusal.value)
    assert 'capability CAP_SYS_RESOURCE cannot be granted' in message
    assert 'capabilities: ["SYS_TIME"]' in message
    assert 'unable to apply caps' in message


def test_parse_status_mask_missing_field():
    assert p.parse_status_mask('Name:\tdockerd\n') is None


def test_build_hash_follows_dockerfile_base_and_args():
    files = [('Dockerfile', b'FROM ${BASE}\n')]
    base = 'sha256:' + 'a' * 64
    digest = p.build_hash(files, base, {'BASE': 'debian:bookworm'})
    assert digest == p.build_hash(list(files), base, {'BASE': 'debian:bookworm'})
    assert digest != p.build_hash([('Dockerfile', b'FROM ${BASE}\nRUN true\n')], base, {'BASE': 'debian:bookworm'})
    assert digest != p.build_hash(files, 'sha256:' + 'b' * 64, {'BASE': 'debian:bookworm'})
    assert digest != p.build_hash(files, base, {'BASE': 'debian:trixie'})
    assert digest != p.build_hash(files + [('ntp.conf.default', b'')], base, {'BASE': 'debian:bookworm'})
    assert p.image_tag('fleet-linux/ntpd', 'armhf', digest) == 'fleet-linux/ntpd:armhf-' + digest[:12]


def test_image_matches_the_label_of_a_real_build():
    image = fixture('image_built.json')
    digest = image['Config']['Labels'][p.BUILD_HASH_LABEL]
    assert p.image_matches(image, digest)
    assert not p.image_matches(image, '0' * 64)
    assert not p.image_matches(None, digest)


@pytest.mark.parametrize('name, expected', [
    ('error_start_caps.json', 'could not grant the capabilities CAP_SYS_RESOURCE'),
    ('error_start_port_allocated.json', 'a published port is already taken'),
    ('error_start_port_in_use.json', 'a published port is already taken'),
])
def test_translate_start_errors(name, expected):
    bounding = p.capabilities_from_mask(p.parse_status_mask(fixture('proc_dockerd_status_caps.txt')))
    message = p.translate_start_error(fixture(name)['message'], ['SYS_RESOURCE', 'SYS_TIME'], bounding)
    assert expected in message


def test_translate_start_error_leaves_others_alone():
    assert p.translate_start_error('No such image: x', ['SYS_TIME']) is None


def test_plan_rejects_unknown_state():
    with pytest.raises(ValueError):
        p.plan('running', True, True, None, desired())
