# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decision tables for docker_ntpd's planner, fed with real ``docker inspect`` output
captured from dockerd 20.10 (tests/fixtures/docker/)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import pytest

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils import ntpd_plan as p

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'docker')


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle) if name.endswith('.json') else handle.read()


RUNNING = fixture('container_declared_running.json')
IMAGE_ID = RUNNING['Image']
# The parameters that created container_declared_running.json (docker_ntpd on the host, before
# the container got no-new-privileges, a read-only root and tmpfs).
PARAMS = {
    'name': 'ntpd', 'image': 'fleet-linux/ntpd', 'dockerfile': 'Dockerfile', 'stop_timeout': 10,
    'build_timeout': 1800, 'allow_extra_capabilities': False,
    'capabilities': ['SYS_TIME'], 'network_mode': 'bridge',
    'published_ports': ['127.0.0.1:10123:123/udp'], 'config_file': '/tmp/ntpd-dev/ntp.conf',
    'drift_volume': 'ntpd-dev-drift', 'ntpd_args': ['-g', '-n'],
}
HARDENED = fixture('container_hardened_running.json')
# The parameters that created container_hardened_*.json (tests/fixtures/docker/capture-hardened).
HARDENED_PARAMS = dict(
    PARAMS, published_ports=['127.0.0.1:10123:123/udp', '10124:123/udp'], drift_volume='fleet-capture-drift',
    config_file=HARDENED['HostConfig']['Binds'][0].split(':')[0], ntpd_args=['infinity'])
HARDENING = ['no_new_privileges', 'read_only_root', 'tmpfs']


def desired(image_id=IMAGE_ID, **changes):
    return p.desired_container(dict(PARAMS, **changes), image_id)


def hardened(image_id=HARDENED['Image'], **changes):
    return p.desired_container(dict(HARDENED_PARAMS, **changes), image_id)


def view(name):
    return p.current_container(fixture(name))


def test_view_of_the_hardened_running_container():
    current = view('container_hardened_running.json')
    assert current == dict(hardened(), capabilities_dropped=['ALL'], running=True, status='running')
    assert p.differences(current, hardened()) == []
    assert current['no_new_privileges'] and current['read_only_root']
    assert current['tmpfs'] == ['/run:rw,nosuid,nodev,noexec,size=1m', '/tmp:rw,nosuid,nodev,noexec,size=1m']


def test_a_container_made_before_the_hardening_is_recreated():
    current = view('container_declared_running.json')
    assert p.differences(current, desired()) == HARDENING
    assert p.plan('started', True, True, current, desired()) == ['stop', 'remove', 'create', 'start']


@pytest.mark.parametrize('state, container, expected', [
    # unchanged container
    ('started', 'container_hardened_running.json', []),
    ('started', 'container_hardened_created.json', ['start']),
    ('stopped', 'container_hardened_running.json', ['stop']),
    ('stopped', 'container_hardened_created.json', []),
    ('restarted', 'container_hardened_running.json', ['restart']),
    ('restarted', 'container_hardened_created.json', ['start']),
    ('absent', 'container_hardened_running.json', ['remove']),
    ('absent', 'container_hardened_created.json', ['remove']),
    # present: build and create, never start or stop what was not running
    ('present', 'container_hardened_running.json', []),
    ('present', 'container_hardened_created.json', []),
    ('present', None, ['create']),
    # no container yet
    ('started', None, ['create', 'start']),
    ('restarted', None, ['create', 'start']),
    ('stopped', None, ['create']),
    ('absent', None, []),
    # the source notes' hand-made container (docker run --cap-add ... -g -n): default
    # capabilities kept, no mounts, no ports -> replaced
    ('started', 'container_blog_cli_created.json', ['remove', 'create', 'start']),
    ('stopped', 'container_blog_cli_created.json', ['remove', 'create']),
    # a privileged container is never kept
    ('started', 'container_privileged_created.json', ['remove', 'create', 'start']),
])
def test_plan_with_the_image_built(state, container, expected):
    current = view(container) if container else None
    target = hardened() if container is None or 'hardened' in container else desired()
    assert p.plan(state, True, True, current, target) == expected


@pytest.mark.parametrize('state, container, expected', [
    ('present', 'container_hardened_running.json', ['build', 'stop', 'remove', 'create', 'start']),
    ('present', 'container_hardened_created.json', ['build', 'remove', 'create']),
    ('present', None, ['build', 'create']),
    ('stopped', 'container_hardened_running.json', ['build', 'stop', 'remove', 'create']),
])
def test_present_builds_and_keeps_the_running_state(state, container, expected):
    current = view(container) if container else None
    assert p.plan(state, False, True, current, hardened(image_id=None)) == expected


@pytest.mark.parametrize('state, image_ready, base_present, expected', [
    ('started', False, True, ['build', 'stop', 'remove', 'create', 'start']),
    ('started', False, False, ['pull', 'build', 'stop', 'remove', 'create', 'start']),
    ('stopped', False, True, ['build', 'stop', 'remove', 'create']),
    ('restarted', False, True, ['build', 'stop', 'remove', 'create', 'start']),
    ('absent', False, False, ['remove']),
])
def test_plan_when_the_image_must_be_built(state, image_ready, base_present, expected):
    # A new build has a new image id: the running container differs in image_id.
    current = view('container_declared_running.json')
    target = desired(image_id=None) if not image_ready else desired()
    assert p.plan(state, image_ready, base_present, current, target) == expected


@pytest.mark.parametrize('container, changes, fields', [
    ('container_hardened_running.json', {}, []),
    ('container_hardened_running.json', {'capabilities': ['SYS_TIME', 'SYS_RESOURCE']}, ['capabilities']),
    ('container_hardened_running.json', {'ntpd_args': ['-g', '-n', '-x']}, ['command']),
    ('container_hardened_running.json', {'published_ports': ['123:123/udp']}, ['ports']),
    ('container_hardened_running.json', {'config_file': '/etc/fleet-ntpd/ntp.conf'}, ['mounts']),
    ('container_hardened_running.json', {'drift_volume': '/var/lib/fleet-ntpd/drift'}, ['mounts']),
    ('container_hardened_running.json',
     {'network_mode': 'host', 'capabilities': ['SYS_TIME', 'NET_BIND_SERVICE']},
     ['capabilities', 'network_mode', 'ports']),
])
def test_differences(container, changes, fields):
    assert p.differences(view(container), hardened(**changes)) == fields


@pytest.mark.parametrize('container, changes, fields', [
    ('container_host_network_created.json',
     {'network_mode': 'host', 'capabilities': ['SYS_TIME', 'NET_BIND_SERVICE']}, HARDENING),
    ('container_blog_cli_created.json', {'capabilities': ['SYS_TIME', 'SYS_RESOURCE']},
     HARDENING + ['network_mode', 'mounts', 'ports', 'capabilities_dropped']),
    ('container_privileged_created.json', {},
     ['capabilities', 'privileged'] + HARDENING + ['network_mode', 'capabilities_dropped']),
])
def test_differences_of_containers_made_by_hand_or_before_the_hardening(container, changes, fields):
    assert p.differences(view(container), desired(**changes)) == fields


def test_a_new_image_differs_from_the_running_one():
    assert p.differences(view('container_hardened_running.json'), hardened(image_id=None)) == ['image_id']
    other = 'sha256:' + 'f' * 64
    assert p.differences(view('container_hardened_running.json'), hardened(image_id=other)) == ['image_id']


def test_spec_creates_what_inspect_shows():
    """The create body, as dockerd stores it, reads back as the declared view (real fixture)."""
    created = fixture('container_hardened_created.json')
    spec = p.container_spec(hardened(), HARDENED['Image'])
    host = created['HostConfig']
    for key in ('Binds', 'CapAdd', 'CapDrop', 'Privileged', 'RestartPolicy', 'NetworkMode', 'PortBindings',
                'SecurityOpt', 'ReadonlyRootfs', 'Tmpfs'):
        assert spec['HostConfig'][key] == host[key], key
    assert spec['Cmd'] == created['Config']['Cmd']
    assert spec['Labels'][p.MANAGED_LABEL] == 'true'
    assert spec['ExposedPorts'] == {'123/udp': {}}
    assert host['SecurityOpt'] == ['no-new-privileges'] and host['ReadonlyRootfs'] is True


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


# -- every parameter checked up front (issue 12, points 3 and 8) --

@pytest.mark.parametrize('changes, message', [
    # capabilities ntpd does not use hand out host root
    ({'capabilities': ['SYS_TIME', 'SYS_ADMIN']}, 'capabilities: SYS_ADMIN is not used by ntpd'),
    ({'capabilities': ['SYS_MODULE', 'cap_sys_admin']}, 'capabilities: SYS_ADMIN, SYS_MODULE are not used by ntpd'),
    ({'capabilities': ['SYS_TIME', 'NET_BIND_SERVICE']}, 'without NET_BIND_SERVICE'),
    ({'capabilities': ['ALL']}, 'as --privileged does'),
    ({'capabilities': ['SYS_CLOCK']}, 'not a Linux capability'),
    # in the host's network no option widens them
    ({'network_mode': 'host', 'capabilities': ['SYS_TIME', 'NET_BIND_SERVICE', 'SYS_ADMIN'],
      'allow_extra_capabilities': True}, 'SYS_ADMIN in the host network would act on the host itself'),
    ({'network_mode': 'host', 'capabilities': ['SYS_TIME', 'NET_ADMIN', 'NET_BIND_SERVICE']},
     'allow_extra_capabilities does not apply'),
    ({'network_mode': 'host'}, 'needs NET_BIND_SERVICE'),
    # ports
    ({'published_ports': ['70000:123/udp']}, "host port 70000 is not a port number (1-65535)"),
    ({'published_ports': ['123:99999/udp']}, "container port 99999 is not a port number (1-65535)"),
    ({'published_ports': ['0:123/udp']}, "host port 0 is not a port number"),
    ({'published_ports': ['localhost:123:123/udp']}, 'localhost is not an IP address'),
    ({'published_ports': ['[fe80::zz]:123:123/udp']}, 'fe80::zz is not an IP address'),
    ({'published_ports': ['123:123/udp', '123:123']}, 'publish the same host port twice'),
    ({'published_ports': ['127.0.0.1:123:123/udp', '123:123/udp']}, 'publish the same host port twice'),
    ({'published_ports': ['[::]:123:123/udp', '192.168.1.2:123:123/udp']}, 'publish the same host port twice'),
    # drift file: a volume name or a directory under the documented root
    ({'drift_volume': '/'}, "drift_volume: '/' is neither a volume name"),
    ({'drift_volume': '/srv/ntp'}, 'nor a directory below /var/lib/fleet-ntpd/drift'),
    ({'drift_volume': '/var/lib/fleet-ntpd/drift/../../../etc'}, 'is neither a volume name'),
    ({'drift_volume': '/var/lib/fleet-ntpd/drift-other'}, 'is neither a volume name'),
    ({'drift_volume': 'x'}, 'is neither a volume name'),
    ({'drift_volume': '../etc'}, 'is neither a volume name'),
    # the rest
    ({'name': 'ntpd; rm -rf /'}, 'name: '),
    ({'image': 'fleet-linux/ntpd:latest'}, 'image: '),
    ({'image': 'Fleet/NTPD'}, 'image: '),
    ({'dockerfile': '/etc/shadow'}, 'dockerfile: '),
    ({'dockerfile': '../../etc/shadow'}, 'dockerfile: '),
    ({'stop_timeout': -1}, 'stop_timeout: -1 seconds is below 0'),
    ({'build_timeout': 0}, 'build_timeout: 0 seconds is below 1'),
])
def test_validate_refuses(changes, message):
    with pytest.raises(Refusal) as refusal:
        p.validate(dict(PARAMS, **changes))
    assert message in str(refusal.value)


@pytest.mark.parametrize('changes, capabilities, ports', [
    ({}, ['SYS_TIME'], [('127.0.0.1', 10123, 123, 'udp')]),
    ({'capabilities': ['cap_sys_time', 'SYS_RESOURCE', 'SYS_TIME']}, ['SYS_RESOURCE', 'SYS_TIME'],
     [('127.0.0.1', 10123, 123, 'udp')]),
    ({'network_mode': 'host', 'capabilities': ['SYS_TIME', 'SYS_RESOURCE', 'NET_BIND_SERVICE']},
     ['NET_BIND_SERVICE', 'SYS_RESOURCE', 'SYS_TIME'], []),
    ({'capabilities': ['SYS_TIME', 'NET_BIND_SERVICE'], 'allow_extra_capabilities': True},
     ['NET_BIND_SERVICE', 'SYS_TIME'], [('127.0.0.1', 10123, 123, 'udp')]),
    ({'published_ports': ['123:123/udp', '123:123/tcp', '[::1]:1:65535']}, ['SYS_TIME'],
     [('', 123, 123, 'tcp'), ('', 123, 123, 'udp'), ('::1', 1, 65535, 'udp')]),
    ({'published_ports': ['127.0.0.1:123:123', '127.0.0.2:123:123']}, ['SYS_TIME'],
     [('127.0.0.1', 123, 123, 'udp'), ('127.0.0.2', 123, 123, 'udp')]),
    ({'published_ports': []}, ['SYS_TIME'], []),
    ({'drift_volume': '/var/lib/fleet-ntpd/drift'}, ['SYS_TIME'], [('127.0.0.1', 10123, 123, 'udp')]),
    ({'drift_volume': '/var/lib/fleet-ntpd/drift/pi1'}, ['SYS_TIME'], [('127.0.0.1', 10123, 123, 'udp')]),
])
def test_validate_accepts(changes, capabilities, ports):
    assert p.validate(dict(PARAMS, **changes)) == (capabilities, ports)


def test_validate_names_every_problem_at_once():
    with pytest.raises(Refusal) as refusal:
        p.validate(dict(PARAMS, capabilities=['SYS_ADMIN'], published_ports=['70000:123'], drift_volume='/',
                        stop_timeout=-5))
    message = str(refusal.value)
    for part in ('stop_timeout', 'SYS_ADMIN', '70000', "drift_volume: '/'"):
        assert part in message


@pytest.mark.parametrize('first, second, overlap', [
    ('', '127.0.0.1', True), ('', '::1', True), ('0.0.0.0', '127.0.0.1', True),
    ('0.0.0.0', '::1', False), ('::', '127.0.0.1', True), ('127.0.0.1', '127.0.0.2', False),
    ('::1', '0:0::1', True), ('192.168.1.2', '192.168.1.2', True),
])
def test_addresses_overlap(first, second, overlap):
    pair = (first, second)
    assert p.addresses_overlap(*pair) is overlap
    assert p.addresses_overlap(*reversed(pair)) is overlap


# -- ports taken: /proc/net read while the hardened container ran (capture-hardened) --

def sockets():
    found = []
    for name, proto in p.PROC_NET_FILES:
        found.extend(p.parse_proc_net(fixture(os.path.join('proc_net', name)), proto))
    return found


def test_proc_net_shows_the_proxy_and_the_other_holders():
    """dockerd's proxy binds 127.0.0.1:10123 and every address (0.0.0.0 and ::) for 10124;
    another process holds udp 0.0.0.0:10125 and listens on tcp 127.0.0.1:10126."""
    ours = [s for s in sockets() if 10123 <= s[2] <= 10126]
    assert sorted(ours) == [('tcp', '127.0.0.1', 10126), ('udp', '0.0.0.0', 10124), ('udp', '0.0.0.0', 10125),
                            ('udp', '127.0.0.1', 10123), ('udp', '::', 10124)]


def test_proc_net_address_decodes_mapped_and_ipv6():
    assert p.proc_net_address('0100007F') == '127.0.0.1'
    assert p.proc_net_address('00000000000000000000000001000000') == '::1'
    assert p.proc_net_address('0000000000000000FFFF00000100007F') == '127.0.0.1'


@pytest.mark.parametrize('declared, held_by, conflicts', [
    # the running container's own proxy: changing its published ports is not "port taken"
    (['10124:123/udp'], 'container_hardened_running.json', []),
    (['127.0.0.1:10124:123/udp'], 'container_hardened_running.json', []),
    (['10123:123/udp'], 'container_hardened_running.json', []),
    (['[::1]:10124:123/udp'], 'container_hardened_running.json', []),
    # another process, or another container's proxy
    (['10125:123/udp'], 'container_hardened_running.json', [('udp', '0.0.0.0', 10125)]),
    (['127.0.0.1:10125:123/udp'], 'container_hardened_running.json', [('udp', '0.0.0.0', 10125)]),
    (['10126:123/tcp'], 'container_hardened_running.json', [('tcp', '127.0.0.1', 10126)]),
    (['10124:123/udp'], 'container_hardened_created.json', [('udp', '0.0.0.0', 10124), ('udp', '::', 10124)]),
    (['10124:123/udp'], None, [('udp', '0.0.0.0', 10124), ('udp', '::', 10124)]),
    # free
    (['10126:123/udp', '10125:123/tcp', '127.0.0.2:10123:123/udp'], None, []),
])
def test_foreign_port_holders(declared, held_by, conflicts):
    current = view(held_by) if held_by else None
    target = hardened(published_ports=declared)
    found = p.foreign_port_holders(p.wanted_ports(target), sockets(), p.ports_held(current))
    assert [sock for _port, sock in found] == conflicts


def test_ntpd_in_the_host_network_holds_udp_123_on_every_address():
    host_view = dict(view('container_hardened_running.json'), network_mode='host')
    held = p.ports_held(host_view)
    udp123 = [('udp', '192.168.1.2', 123), ('udp', '127.0.0.1', 123), ('udp', '::1', 123)]
    assert p.foreign_port_holders([('', 123, 123, 'udp')], udp123, held) == []
    assert len(p.foreign_port_holders([('', 123, 123, 'udp')], udp123, [])) == 3


# -- paths the container gets from the host --

class Info(object):
    def __init__(self, mode, uid=0):
        self.st_mode = mode
        self.st_uid = uid


DIRECTORY = stat.S_IFDIR | 0o755


@pytest.mark.parametrize('tree, reason', [
    ({'/': DIRECTORY, '/etc': DIRECTORY, '/etc/fleet-ntpd': DIRECTORY, '/etc/fleet-ntpd/ntp.conf': stat.S_IFREG | 0o644}, None),
    ({'/': DIRECTORY, '/etc': DIRECTORY, '/etc/fleet-ntpd': DIRECTORY}, None),
    ({'/': DIRECTORY, '/etc': DIRECTORY, '/etc/fleet-ntpd': stat.S_IFLNK | 0o777},
     '/etc/fleet-ntpd is a symbolic link'),
    ({'/': DIRECTORY, '/etc': DIRECTORY, '/etc/fleet-ntpd': DIRECTORY, '/etc/fleet-ntpd/ntp.conf': stat.S_IFLNK | 0o777},
     '/etc/fleet-ntpd/ntp.conf is a symbolic link'),
    ({'/': DIRECTORY, '/etc': DIRECTORY, '/etc/fleet-ntpd': stat.S_IFDIR | 0o777},
     '/etc/fleet-ntpd is writable by group or others (mode 0777)'),
    ({'/': DIRECTORY, '/etc': stat.S_IFDIR | 0o1777, '/etc/fleet-ntpd': DIRECTORY}, None),
    ({'/': DIRECTORY, '/etc': DIRECTORY, '/etc/fleet-ntpd': DIRECTORY, '/etc/fleet-ntpd/ntp.conf': stat.S_IFREG | 0o664},
     '/etc/fleet-ntpd/ntp.conf is writable by group or others (mode 0664)'),
])
def test_unsafe_path_reason(tree, reason):
    def lstat(path):
        if path not in tree:
            raise OSError(2, 'No such file or directory', path)
        return Info(tree[path])
    assert p.unsafe_path_reason('/etc/fleet-ntpd/ntp.conf', lstat) == reason


def test_unsafe_path_reason_another_owner():
    owner = 4242 if os.geteuid() != 4242 else 4243
    tree = {'/': Info(DIRECTORY), '/home': Info(DIRECTORY), '/home/eve': Info(DIRECTORY, owner)}
    assert p.unsafe_path_reason('/home/eve/ntp.conf', tree.__getitem__) == '/home/eve is owned by uid %d' % owner
