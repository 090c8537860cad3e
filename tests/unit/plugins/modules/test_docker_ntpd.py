# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docker_ntpd: its checks that read the host (ports taken, dockerd's bounding set), and main()
against a fake engine answering with captured ``docker inspect`` JSON: every refusal makes no
changing call, and ``changed`` tells the truth on failure."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import io
import json
import os
import shutil
import socket
import tarfile
from pathlib import Path as py_path

import pytest

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal, command_line
from ansible_collections.fleet.linux.plugins.module_utils.docker_api import DockerError, archive_images, context_files
from ansible_collections.fleet.linux.plugins.module_utils import ntpd_plan
from ansible_collections.fleet.linux.plugins.module_utils.ntpd_plan import BUILD_HASH_LABEL, build_hash, image_tag
from ansible_collections.fleet.linux.plugins.modules import docker_ntpd

from ansible_collections.fleet.linux.tests.unit.plugins.modules.harness import FakeCommands, run_module

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'docker')


def declared(ports, network_mode='bridge'):
    return {'ports': ports, 'network_mode': network_mode}


@pytest.fixture
def hold_udp_port():
    """hold_udp_port(address) binds a free udp port on ``address`` for the test; returns it."""
    holders = []

    def hold(address):
        holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        holders.append(holder)
        holder.bind((address, 0))
        return holder.getsockname()[1]
    yield hold
    for holder in holders:
        holder.close()


@pytest.fixture
def taken_udp_port(hold_udp_port):
    return hold_udp_port('127.0.0.1')


def test_a_port_held_by_another_process_is_refused(taken_udp_port):
    with pytest.raises(Refusal) as refusal:
        docker_ntpd.refuse_taken_ports(declared(['127.0.0.1:%d:123/udp' % taken_udp_port]), None)
    assert str(refusal.value).startswith('udp port %d on 127.0.0.1 is already taken' % taken_udp_port)
    assert 'ss -ulpn "sport = :%d"' % taken_udp_port in str(refusal.value)


def test_a_port_held_by_the_running_container_itself_is_fine(taken_udp_port):
    port = '127.0.0.1:%d:123/udp' % taken_udp_port
    docker_ntpd.refuse_taken_ports(declared([port]), {'ports': [port], 'running': True, 'network_mode': 'bridge'})


def test_a_free_port_is_fine(taken_udp_port):
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(('127.0.0.1', 0))
    free = probe.getsockname()[1]
    probe.close()
    docker_ntpd.refuse_taken_ports(declared(['127.0.0.1:%d:123/udp' % free]), None)


def test_an_address_of_another_host_is_refused():
    with pytest.raises(Refusal, match='192.0.2.1 is not an address of this host'):
        docker_ntpd.refuse_taken_ports(declared(['192.0.2.1:10123:123/udp']), None)


def test_dockerd_bounding_set_is_read(monkeypatch):
    texts = {'/var/run/docker.pid': '42', '/proc/42/status': 'Name:\tdockerd\nCapBnd:\t000001fffeffffff\n'}
    monkeypatch.setattr(docker_ntpd, 'read_text', lambda path, default=None: texts.get(path, default))
    bounding = docker_ntpd.dockerd_bounding_set()
    assert 'SYS_TIME' in bounding and 'SYS_RESOURCE' not in bounding


def test_a_port_held_by_the_running_container_on_every_address_can_move_to_one(hold_udp_port):
    """Changing published_ports of the running container is not "port taken" by its own proxy
    (which binds every address as 0.0.0.0)."""
    port = hold_udp_port('0.0.0.0')
    current = {'ports': ['%d:123/udp' % port], 'running': True, 'network_mode': 'bridge'}
    docker_ntpd.refuse_taken_ports(declared(['127.0.0.1:%d:123/udp' % port]), current)
    with pytest.raises(Refusal, match='udp port %d on 127.0.0.1 is already taken' % port):
        docker_ntpd.refuse_taken_ports(declared(['127.0.0.1:%d:123/udp' % port]), dict(current, running=False))


def test_a_port_number_out_of_range_is_refused_before_any_probe():
    with pytest.raises(Refusal, match='host port 70000 is not a port number'):
        docker_ntpd.refuse_taken_ports(declared(['70000:123/udp']), None)


# -- main() against a fake engine fed with captured inspect JSON --

CHANGING = ('pull_image', 'build_image', 'create_container', 'start_container', 'stop_container',
            'restart_container', 'remove_container', 'save_image', 'load_image')
BASE = 'fleet-lab/debian:bookworm'
BASE_ID = 'sha256:' + '5' * 64
# Free in the captured /proc/net (10123 and 10124 are held by the hardened container's proxy).
FREE_PORTS = ['127.0.0.1:10126:123/udp']


class FakeEngine(object):
    """DockerClient's calls, answered from captured JSON; records every call; ``failures``: call name ->
    DockerError raised instead."""

    def __init__(self, container=None, images=None, failures=None):
        self.container = container
        self.images = dict(images or {})
        self.failures = dict(failures or {})
        self.calls = []

    def record(self, name, *args):
        self.calls.append((name,) + args)
        if name in self.failures:
            raise self.failures[name]

    def changes(self):
        return [call[0] for call in self.calls if call[0] in CHANGING]

    def version(self):
        self.record('version')
        return fixture('version.json')

    def inspect_container(self, name):
        self.record('inspect_container', name)
        return copy.deepcopy(self.container)

    def inspect_image(self, name):
        self.record('inspect_image', name)
        return self.images.get(name)

    def pull_image(self, name):
        self.record('pull_image', name)
        self.images[name] = {'Id': BASE_ID}

    def build_image(self, context, tag, dockerfile, buildargs, labels, timeout=1800):
        self.record('build_image', tag)
        self.built = {'tag': tag, 'buildargs': buildargs, 'labels': labels}
        image = copy.deepcopy(fixture('image_built.json'))
        image['Config']['Labels'] = labels
        self.images[tag] = image
        return image['Id'], ['Step 1/2 : FROM ' + buildargs['BASE']]

    def create_container(self, name, spec):
        self.record('create_container', name)
        self.created_spec = spec
        self.container = {'Image': spec['Image'], 'Config': {'Cmd': spec['Cmd']}, 'HostConfig': spec['HostConfig'],
                          'State': {'Running': False, 'Status': 'created'}}
        return 'c0ffee'

    def start_container(self, name):
        self.record('start_container', name)
        self.container['State'] = {'Running': True, 'Status': 'running'}

    def stop_container(self, name, timeout):
        self.record('stop_container', name)
        self.container['State'] = {'Running': False, 'Status': 'exited'}

    def restart_container(self, name, timeout):
        self.record('restart_container', name)

    def remove_container(self, name):
        self.record('remove_container', name)
        self.container = None

    def save_image(self, name, sink, timeout=1800):
        self.record('save_image', name)
        sink.write(b'saved ' + name.encode('ascii'))

    def load_image(self, source, timeout=1800):
        self.record('load_image')
        for repo_tags, labels in archive_images(source.name):
            image = copy.deepcopy(fixture('image_built.json'))
            image['Config']['Labels'] = labels
            self.images.update((tag, image) for tag in repo_tags)


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle) if name.endswith('.json') else handle.read()


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A managed node: build context, ntp.conf, dockerd's pid and /proc (bounding set and
    /proc/net captured while the hardened container ran)."""
    build = tmp_path / 'build'
    build.mkdir()
    (build / 'Dockerfile').write_text('ARG BASE\nFROM ${BASE}\n')
    config = tmp_path / 'ntp.conf'
    config.write_text('driftfile /var/lib/ntp/ntp.drift\n')
    proc = tmp_path / 'proc'
    (proc / '42').mkdir(parents=True)
    (proc / '42' / 'status').write_text(fixture('proc_dockerd_status_caps.txt'))
    shutil.copytree(os.path.join(FIXTURES, 'proc_net'), str(proc / 'net'))
    (tmp_path / 'docker.pid').write_text('42\n')
    monkeypatch.setattr(docker_ntpd, 'PROC_ROOT', str(proc))
    monkeypatch.setattr(docker_ntpd, 'DOCKER_PID_FILE', str(tmp_path / 'docker.pid'))
    return {'build_context': str(build), 'config_file': str(config), 'base_image': BASE, 'pull_base': True,
            'capabilities': ['SYS_TIME'], 'published_ports': ['127.0.0.1:10123:123/udp', '10124:123/udp'],
            'drift_volume': 'fleet-capture-drift', 'ntpd_args': ['infinity'], 'architecture': 'amd64'}


def built_image(args):
    """The image inspect of a build of ``args``'s context on BASE (what makes 'build' unnecessary)."""
    files = []
    for relpath, path in context_files(args['build_context']):
        with open(path, 'rb') as handle:
            files.append((relpath, handle.read()))
    digest = build_hash(files, BASE_ID, {'BASE': BASE})
    image = copy.deepcopy(fixture('image_built.json'))
    image['Config']['Labels'][BUILD_HASH_LABEL] = digest
    return image_tag('fleet-linux/ntpd', 'amd64', digest), image


def running_as_declared(args):
    """container_hardened_running.json with this host's config file and the image of built_image."""
    container = fixture('container_hardened_running.json')
    container['HostConfig']['Binds'][0] = '%s:/etc/ntp.conf:ro' % args['config_file']
    container['Image'] = built_image(args)[1]['Id']
    return container


def run(monkeypatch, engine, args, check_mode=False):
    monkeypatch.setattr(docker_ntpd, 'DockerClient', lambda socket_path: engine)
    commands = FakeCommands()
    result = run_module(docker_ntpd, args, commands, check_mode=check_mode, monkeypatch=monkeypatch)
    assert commands.calls == []
    return result


def engine_with_image(args, **kwargs):
    tag, image = built_image(args)
    return FakeEngine(images={BASE: {'Id': BASE_ID}, tag: image}, **kwargs)


@pytest.mark.parametrize('changes, message', [
    ({'capabilities': ['SYS_TIME', 'SYS_ADMIN']}, 'SYS_ADMIN is not used by ntpd'),
    ({'capabilities': ['SYS_MODULE']}, 'SYS_MODULE is not used by ntpd'),
    ({'network_mode': 'host', 'capabilities': ['SYS_TIME', 'NET_BIND_SERVICE', 'SYS_ADMIN'],
      'allow_extra_capabilities': True}, 'would act on the host itself'),
    ({'drift_volume': '/'}, "drift_volume: '/' is neither a volume name"),
    ({'published_ports': ['70000:123/udp']}, 'host port 70000 is not a port number'),
    ({'published_ports': ['123:99999/udp']}, 'container port 99999 is not a port number'),
    ({'published_ports': ['10123:123/udp', '127.0.0.1:10123:123/udp']}, 'the same host port twice'),
    ({'stop_timeout': -1}, 'stop_timeout'),
    ({'dockerfile': '/etc/shadow'}, 'dockerfile'),
    ({'state': 'absent', 'capabilities': ['ALL']}, 'as --privileged does'),
])
def test_main_refuses_invalid_parameters_before_talking_to_dockerd(monkeypatch, host, changes, message):
    engine = engine_with_image(host, container=running_as_declared(host))
    result = run(monkeypatch, engine, dict(host, **changes))
    assert result['failed'] and message in result['msg']
    assert result['changed'] is False
    assert engine.calls == []


def test_main_refuses_a_config_file_behind_a_symlink(monkeypatch, host, tmp_path):
    link = tmp_path / 'link.conf'
    link.symlink_to(host['config_file'])
    engine = engine_with_image(host)
    result = run(monkeypatch, engine, dict(host, config_file=str(link)))
    assert result['failed'] and '%s is a symbolic link' % link in result['msg']
    assert engine.calls == []


def test_main_refuses_a_port_taken_by_another_container_changing_nothing(monkeypatch, host):
    engine = engine_with_image(host)
    result = run(monkeypatch, engine, dict(host, published_ports=['10125:123/udp']))
    assert result['failed'] and 'udp port 10125 on every address is already taken' in result['msg']
    assert result['changed'] is False and engine.changes() == []


def test_main_refuses_a_capability_dockerd_cannot_grant_changing_nothing(monkeypatch, host):
    engine = engine_with_image(host)
    result = run(monkeypatch, engine, dict(host, capabilities=['SYS_TIME', 'SYS_RESOURCE']))
    assert result['failed'] and 'CAP_SYS_RESOURCE cannot be granted' in result['msg']
    assert engine.changes() == []


def test_main_is_a_no_op_on_the_declared_container(monkeypatch, host):
    engine = engine_with_image(host, container=running_as_declared(host))
    result = run(monkeypatch, engine, host)
    assert not result.get('failed'), result
    assert (result['changed'], result['actions'], engine.changes()) == (False, [], [])


def test_main_moves_the_published_ports_of_its_running_container(monkeypatch, host):
    """Its own proxy holds 10124 on every address: publishing it on 127.0.0.1 only is a recreate."""
    engine = engine_with_image(host, container=running_as_declared(host))
    result = run(monkeypatch, engine, dict(host, published_ports=['127.0.0.1:10124:123/udp']))
    assert not result.get('failed'), result
    assert result['differences'] == ['ports'] and result['steps'] == ['stop', 'remove', 'create', 'start']
    assert engine.changes() == ['stop_container', 'remove_container', 'create_container', 'start_container']
    assert result['actions'][:2] == ['docker stop --time 10 ntpd', 'docker rm --force ntpd']
    assert ' --publish 127.0.0.1:10124:123/udp ' in result['actions'][2] and result['actions'][3] == 'docker start ntpd'
    assert result['after']['ports'] == ['127.0.0.1:10124:123/udp'] and result['after']['running']


def test_main_recreates_a_container_made_before_the_hardening(monkeypatch, host):
    old = running_as_declared(host)
    old['HostConfig'].update(SecurityOpt=None, ReadonlyRootfs=False, Tmpfs=None)
    engine = engine_with_image(host, container=old)
    result = run(monkeypatch, engine, host)
    assert result['differences'] == ['no_new_privileges', 'read_only_root', 'tmpfs']
    created = engine.container['HostConfig']
    assert created['SecurityOpt'] == ['no-new-privileges'] and created['ReadonlyRootfs'] is True
    assert created['CapDrop'] == ['ALL'] and created['CapAdd'] == ['CAP_SYS_TIME']


def test_check_mode_changes_nothing(monkeypatch, host):
    engine = FakeEngine(images={BASE: {'Id': BASE_ID}})
    result = run(monkeypatch, engine, dict(host, published_ports=FREE_PORTS), check_mode=True)
    assert (result['changed'], result['steps'], engine.changes()) == (True, ['build', 'create', 'start'], [])
    assert [line.split()[:2] for line in result['actions']] == [['docker', 'build'], ['docker', 'create'], ['docker', 'start']]


def test_present_builds_and_creates_without_starting(monkeypatch, host):
    engine = FakeEngine(images={BASE: {'Id': BASE_ID}})
    result = run(monkeypatch, engine, dict(host, state='present'))
    assert not result.get('failed'), result
    assert engine.changes() == ['build_image', 'create_container']
    assert result['after']['running'] is False


# -- changed tells the truth on failure (issue 12, point 4) --

def error(message, status=500):
    return DockerError(message, status)


@pytest.mark.parametrize('images, container, failures, changed, steps, message', [
    # nothing changed
    ({}, None, {'pull_image': error('manifest unknown', 404)}, False, [], 'cannot be pulled'),
    ({BASE: {'Id': BASE_ID}}, None, {'build_image': error('The command returned a non-zero code: 100')}, False, [],
     'failed: The command returned a non-zero code: 100'),
    ('ready', None, {'create_container': error('Conflict. The container name "/ntpd" is already in use')}, False, [],
     'is already in use'),
    ('ready', None, {'start_container': error(fixture('error_start_caps.json')['message'])}, False, [],
     'could not grant the capabilities'),
    # something changed before the failure
    ({}, None, {'build_image': error('no space left on device')}, True, ['pull'], 'no space left on device'),
    ({BASE: {'Id': BASE_ID}}, None, {'create_container': error('no such image')}, True, ['build'], 'no such image'),
    ({BASE: {'Id': BASE_ID}}, 'running', {'create_container': error('no such image')}, True,
     ['build', 'stop', 'remove'], 'no such image'),
    ('ready', 'old', {'start_container': error(fixture('error_start_port_in_use.json')['message'])}, True,
     ['stop', 'remove'], 'a published port is already taken'),
    ('ready', None, {'start_container': error('OCI runtime create failed')}, True, ['create'], 'OCI runtime'),
])
def test_changed_tells_the_truth_on_failure(monkeypatch, host, images, container, failures, changed, steps, message):
    if images == 'ready':
        engine = engine_with_image(host, failures=failures)
    else:
        engine = FakeEngine(images=images, failures=failures)
    if container:
        engine.container = running_as_declared(host)
        if container == 'old':
            engine.container['HostConfig']['ReadonlyRootfs'] = False
    result = run(monkeypatch, engine, host if container else dict(host, published_ports=FREE_PORTS))
    assert result['failed'] and message in result['msg']
    assert (result['changed'], result['steps']) == (changed, steps)
    assert [line.split()[1] for line in result['actions']] == [DOCKER_COMMAND[step] for step in steps]


DOCKER_COMMAND = {'pull': 'pull', 'build': 'build', 'stop': 'stop', 'remove': 'rm', 'create': 'create'}


@pytest.mark.parametrize('make, message', [
    (lambda drift: drift.write_text('x'), 'exists and is not a directory'),
    (lambda drift: drift.symlink_to('/etc'), 'is a symbolic link'),
    (lambda drift: (drift.mkdir(), drift.chmod(0o777)), 'is writable by group or others (mode 0777)'),
])
def test_main_refuses_a_drift_directory_it_cannot_trust(monkeypatch, host, tmp_path, make, message):
    root = tmp_path / 'drift-root'
    root.mkdir()
    make(root / 'pi1')
    monkeypatch.setattr(ntpd_plan, 'DRIFT_DIRECTORY_ROOT', str(root))
    monkeypatch.setattr(docker_ntpd, 'DRIFT_DIRECTORY_ROOT', str(root))
    engine = engine_with_image(host)
    result = run(monkeypatch, engine, dict(host, drift_volume=str(root / 'pi1')))
    assert result['failed'] and message in result['msg'] and 'drift_volume: ' in result['msg']
    assert engine.calls == []


@pytest.mark.parametrize('make, message', [
    (lambda build: (build / 'Dockerfile').chmod(0o666), 'Dockerfile is writable by group or others (mode 0666)'),
    (lambda build: (build / 'ntp.conf.default').symlink_to('/etc/passwd'), 'ntp.conf.default is a symbolic link'),
    (lambda build: build.chmod(0o775), 'build is writable by group or others (mode 0775)'),
])
def test_main_refuses_a_build_context_another_user_can_change(monkeypatch, host, make, message):
    """What the image is built from runs with CAP_SYS_TIME: nobody but root may have a say in it."""
    make(py_path(host['build_context']))
    engine = engine_with_image(host)
    result = run(monkeypatch, engine, host)
    assert result['failed'] and message in result['msg'] and result['msg'].startswith('build_context: ')
    assert engine.calls == []


# -- one read per node: files as content, host time services, architecture, image shipped (issue 13) --

DOCKERFILE = 'ARG BASE\nFROM ${BASE}\n'


def run_with_commands(monkeypatch, engine, args, commands, check_mode=False):
    monkeypatch.setattr(docker_ntpd, 'DockerClient', lambda socket_path: engine)
    return run_module(docker_ntpd, args, commands, check_mode=check_mode, monkeypatch=monkeypatch)


def test_check_mode_plans_the_files_given_as_content_and_writes_nothing(monkeypatch, host, tmp_path):
    engine = FakeEngine(images={BASE: {'Id': BASE_ID}})
    args = dict(host, build_context=str(tmp_path / 'new-build'), config_file=str(tmp_path / 'etc' / 'ntp.conf'),
                dockerfile_content=DOCKERFILE, config_content='server 10.123.0.1 iburst\n', published_ports=FREE_PORTS)
    result = run(monkeypatch, engine, args, check_mode=True)
    assert not result.get('failed'), result
    assert result['steps'] == ['write_dockerfile', 'write_config', 'build', 'create', 'start']
    assert result['actions'][:2] == ['write %s' % (tmp_path / 'new-build' / 'Dockerfile'), 'write %s' % (tmp_path / 'etc' / 'ntp.conf')]
    assert not (tmp_path / 'new-build').exists() and not (tmp_path / 'etc').exists()
    assert engine.changes() == []


def test_content_equal_to_the_files_is_a_no_op(monkeypatch, host):
    engine = engine_with_image(host, container=running_as_declared(host))
    args = dict(host, dockerfile_content=DOCKERFILE, config_content='driftfile /var/lib/ntp/ntp.drift\n')
    result = run(monkeypatch, engine, args)
    assert (result['changed'], result['actions'], engine.changes()) == (False, [], [])


def test_a_new_configuration_is_written_and_restarts_the_running_container(monkeypatch, host):
    engine = engine_with_image(host, container=running_as_declared(host))
    result = run(monkeypatch, engine, dict(host, config_content='server 10.123.0.1 iburst\n'))
    assert not result.get('failed'), result
    assert result['actions'] == ['write %s' % host['config_file'], 'docker restart --time 10 ntpd']
    assert result['steps'] == ['write_config', 'restart'] and engine.changes() == ['restart_container']
    assert result['restart_needed'] is False
    assert py_path(host['config_file']).read_text() == 'server 10.123.0.1 iburst\n'
    assert oct(os.stat(host['config_file']).st_mode & 0o777) == oct(0o644)


def test_a_new_dockerfile_is_written_before_the_build_of_its_image(monkeypatch, host):
    engine = engine_with_image(host, container=running_as_declared(host))
    result = run(monkeypatch, engine, dict(host, dockerfile_content=DOCKERFILE + 'RUN true\n', state='present'))
    assert not result.get('failed'), result
    assert result['steps'] == ['write_dockerfile', 'build', 'stop', 'remove', 'create', 'start']
    assert (py_path(host['build_context']) / 'Dockerfile').read_text().endswith('RUN true\n')
    assert engine.changes()[0] == 'build_image'


def test_a_link_at_the_config_path_is_refused_not_written_through(monkeypatch, host, tmp_path):
    target = tmp_path / 'elsewhere'
    target.write_text('keep\n')
    os.remove(host['config_file'])
    os.symlink(str(target), host['config_file'])
    engine = engine_with_image(host)
    result = run(monkeypatch, engine, dict(host, config_content='server 10.123.0.1\n'))
    assert result['failed'] and 'is a symbolic link' in result['msg'] and result['changed'] is False
    assert target.read_text() == 'keep\n' and engine.calls == []


SYSTEMCTL_SHOW = ('systemctl', 'show', '--property=Id,LoadState,ActiveState,UnitFileState', 'ntp.service',
                  'chrony.service', 'chronyd.service', 'systemd-timesyncd.service')


def test_the_read_reports_the_host_time_services(monkeypatch, host):
    commands = FakeCommands({SYSTEMCTL_SHOW: (0, fixture('systemctl_show_chrony.txt'), ''),
                             ('timedatectl', 'show', '--property=NTP', '--value'): (0, 'yes\n', '')})
    engine = engine_with_image(host, container=running_as_declared(host))
    args = dict(host, host_time_services=['ntp.service', 'chrony.service', 'chronyd.service'])
    result = run_with_commands(monkeypatch, engine, args, commands, check_mode=True)
    assert result['host_time_services'] == {'chrony.service': {'name': 'chrony.service', 'state': 'running',
                                                               'status': 'enabled'}}
    assert result['host_ntp_synchronization'] == 'yes' and result['actions'] == []
    assert result['engine_answers'] is True and result['architecture'] == 'amd64'


def test_a_daemon_that_does_not_answer_is_reported_for_the_rollout(monkeypatch, host):
    engine = engine_with_image(host, failures={'version': DockerError('Docker socket /var/run/docker.sock does not exist')})
    result = run(monkeypatch, engine, host, check_mode=True)
    assert result['failed'] and result['engine_answers'] is False and result['changed'] is False
    assert 'does not exist' in result['msg']


def test_the_base_image_is_chosen_by_dockerds_architecture(monkeypatch, host):
    args = dict((key, value) for key, value in host.items() if key not in ('base_image', 'architecture'))
    args['base_images'] = {'amd64': BASE, 'armhf': 'arm32v7/debian'}
    engine = engine_with_image(host, container=running_as_declared(host))
    result = run(monkeypatch, engine, args)
    assert (result.get('architecture'), result.get('base_image'), result['actions']) == ('amd64', BASE, []), result
    result = run(monkeypatch, engine, dict(args, base_images={'armhf': 'arm32v7/debian'}))
    assert result['failed'] and 'no base image for architecture amd64' in result['msg'] and engine.changes() == []


def on_a_pi(monkeypatch, engine, docker_arch, machine, bits):
    """The node reports this dockerd Arch, kernel machine and userspace width."""
    answer = dict(fixture('version.json'), Arch=docker_arch)
    monkeypatch.setattr(engine, 'version', lambda: answer)
    monkeypatch.setattr(docker_ntpd, 'node_platform', lambda: (machine, bits))


PI_BASES = {'armel': 'fleet-lab/debian:bookworm-armel', 'armhf': 'fleet-lab/debian:bookworm-armhf',
            'arm64': 'fleet-lab/debian:bookworm-arm64'}


@pytest.mark.parametrize('docker_arch, machine, bits, architecture', [
    ('arm', 'armv6l', 32, 'armel'),  # Pi 1, Zero, Zero W
    ('arm', 'armv7l', 32, 'armhf'),  # Pi 2
    ('arm', 'aarch64', 32, 'armhf'),  # Pi 3/4/5, 32-bit Raspberry Pi OS on a 64-bit kernel
    ('arm64', 'aarch64', 64, 'arm64'),  # Pi 3/4/5, 64-bit OS
])
def test_each_pi_reads_its_architecture_and_base_image(monkeypatch, host, docker_arch, machine, bits, architecture):
    args = dict((key, value) for key, value in host.items() if key not in ('base_image', 'architecture'))
    engine = FakeEngine(images=dict((base, {'Id': BASE_ID}) for base in PI_BASES.values()))
    on_a_pi(monkeypatch, engine, docker_arch, machine, bits)
    result = run(monkeypatch, engine, dict(args, base_images=PI_BASES, published_ports=FREE_PORTS), check_mode=True)
    assert not result.get('failed'), result.get('msg')
    assert (result['architecture'], result['base_image']) == (architecture, PI_BASES[architecture])
    assert (result['machine'], result['userspace_bits']) == (machine, bits)
    assert result['image'].startswith('fleet-linux/ntpd:%s-' % architecture) and 'build' in result['steps']


def test_armhf_given_for_an_armv6_pi_is_refused_before_anything_changes(monkeypatch, host):
    engine = FakeEngine(images=dict((base, {'Id': BASE_ID}) for base in PI_BASES.values()))
    on_a_pi(monkeypatch, engine, 'arm', 'armv6l', 32)
    args = dict((key, value) for key, value in host.items() if key != 'base_image')
    result = run(monkeypatch, engine, dict(args, base_images=PI_BASES, architecture='armhf'))
    assert result['failed'] and result['changed'] is False and engine.changes() == []
    assert 'architecture armhf cannot run on this node: its kernel is armv6l' in result['msg']
    assert 'use armel' in result['msg'] and result['machine'] == 'armv6l'
    result = run(monkeypatch, engine, dict(args, base_images=PI_BASES, architecture='armel', published_ports=FREE_PORTS),
                 check_mode=True)
    assert not result.get('failed') and result['architecture'] == 'armel', result.get('msg')


def save_archive(path, tag, labels):
    """A docker save archive (manifest.json and the image config) holding ``tag`` with ``labels``."""
    with tarfile.open(str(path), 'w') as tar:
        for name, content in (('manifest.json', [{'Config': 'c0ffee.json', 'RepoTags': [tag], 'Layers': []}]),
                              ('c0ffee.json', {'config': {'Labels': labels}})):
            data = json.dumps(content).encode('utf-8')
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def test_the_image_is_loaded_from_the_archive_of_the_same_build_instead_of_built(monkeypatch, host, tmp_path):
    tag, image = built_image(host)
    archive = save_archive(tmp_path / 'image.tar', tag, image['Config']['Labels'])
    engine = FakeEngine(images={BASE: {'Id': BASE_ID}})
    args = dict(host, image_archive=archive, published_ports=FREE_PORTS)
    assert run(monkeypatch, engine, args, check_mode=True)['steps'] == ['load', 'create', 'start']
    result = run(monkeypatch, engine, args)
    assert not result.get('failed'), result
    assert result['steps'] == ['load', 'create', 'start'] and result['actions'][0] == 'docker load --input ' + archive
    assert engine.changes() == ['load_image', 'create_container', 'start_container']


def test_an_archive_of_another_build_is_not_loaded_the_image_is_built(monkeypatch, host, tmp_path):
    tag, image = built_image(host)
    archive = save_archive(tmp_path / 'image.tar', tag, {BUILD_HASH_LABEL: 'another build'})
    engine = FakeEngine(images={BASE: {'Id': BASE_ID}})
    result = run(monkeypatch, engine, dict(host, image_archive=archive, state='built'))
    assert result['steps'] == ['build'] and engine.changes() == ['build_image']


def test_a_pulled_base_then_decides_between_load_and_build(monkeypatch, host, tmp_path):
    """Without the base image the build hash is unknown until the pull: the archive is read after it."""
    tag, image = built_image(host)
    archive = save_archive(tmp_path / 'image.tar', tag, image['Config']['Labels'])
    engine = FakeEngine()
    result = run(monkeypatch, engine, dict(host, image_archive=archive, state='built'))
    assert not result.get('failed'), result
    assert result['steps'] == ['pull', 'load'] and engine.changes() == ['pull_image', 'load_image']
    assert result['actions'] == ['docker pull ' + BASE, 'docker load --input ' + archive]


def test_not_a_docker_save_archive_is_refused(monkeypatch, host, tmp_path):
    bogus = tmp_path / 'image.tar'
    bogus.write_text('not a tar')
    engine = FakeEngine(images={BASE: {'Id': BASE_ID}})
    result = run(monkeypatch, engine, dict(host, image_archive=str(bogus), state='built'))
    assert result['failed'] and 'is not a docker save archive' in result['msg'] and engine.changes() == []


def test_built_saves_the_image_once_and_touches_no_container(monkeypatch, host, tmp_path):
    engine = FakeEngine(images={BASE: {'Id': BASE_ID}}, container=running_as_declared(host))
    archive = tmp_path / 'out' / 'image.tar'
    args = dict(host, state='built', save_archive=str(archive))
    result = run(monkeypatch, engine, args)
    assert not result.get('failed'), result
    assert result['steps'] == ['build', 'save'] and engine.changes() == ['build_image', 'save_image']
    assert result['actions'][1] == 'docker save --output %s %s' % (archive, result['image'])
    assert archive.read_bytes() == b'saved ' + result['image'].encode('ascii')
    assert oct(archive.stat().st_mode & 0o777) == oct(0o600)
    tag, image = built_image(host)
    save_archive(archive, tag, image['Config']['Labels'])
    engine.calls = []
    assert run(monkeypatch, engine, args)['actions'] == [] and engine.changes() == []


# -- actions as command lines (issue 13: one shape for every module) --

def test_check_mode_lists_the_very_lines_a_run_then_performs(monkeypatch, host):
    args = dict(host, published_ports=FREE_PORTS, config_content='server 10.123.0.1 iburst\n')
    planned = run(monkeypatch, FakeEngine(images={BASE: {'Id': BASE_ID}}), args, check_mode=True)
    engine = FakeEngine(images={BASE: {'Id': BASE_ID}})
    done = run(monkeypatch, engine, args)
    assert not done.get('failed'), done
    assert done['steps'] == planned['steps'] == ['write_config', 'build', 'create', 'start']
    assert done['actions'] == planned['actions']
    assert done['actions'][0] == 'write ' + host['config_file'] and done['actions'][3] == 'docker start ntpd'


def test_the_build_and_create_lines_say_what_the_engine_was_asked(monkeypatch, host):
    """The labels and tag of the build, and every option of the create, as the Engine API got them."""
    engine = FakeEngine(images={BASE: {'Id': BASE_ID}})
    result = run(monkeypatch, engine, dict(host, published_ports=FREE_PORTS))
    build, create = result['actions'][:2]
    assert build == command_line(
        ['docker', 'build', '--tag', engine.built['tag'], '--build-arg', 'BASE=' + BASE]
        + [word for key in sorted(engine.built['labels']) for word in ('--label', '%s=%s' % (key, engine.built['labels'][key]))]
        + [host['build_context']])
    assert create == ntpd_plan.action_line('create', {'name': 'ntpd', 'spec': engine.created_spec, 'tag': result['image']})
    assert ' --cap-drop ALL --cap-add SYS_TIME --security-opt no-new-privileges --read-only ' in create
    assert create.endswith(' %s infinity' % result['image'])


@pytest.mark.parametrize('running, check_mode, restart_needed', [
    (True, True, True),
    (True, False, True),
    (False, False, False),
])
def test_present_tells_when_a_rewritten_configuration_still_needs_a_restart(
        monkeypatch, host, running, check_mode, restart_needed):
    """The role restarts the container after the switch-over only then (it was: 'write_config' in actions
    and no create or recreate among them)."""
    container = running_as_declared(host)
    container['State'] = {'Running': running, 'Status': 'running' if running else 'created'}
    engine = engine_with_image(host, container=container)
    args = dict(host, state='present', config_content='server 10.123.0.1 iburst\n')
    result = run(monkeypatch, engine, args, check_mode=check_mode)
    assert not result.get('failed'), result
    assert (result['steps'], result['restart_needed'], engine.changes()) == (['write_config'], restart_needed, [])


def test_a_recreate_is_no_restart_needed(monkeypatch, host):
    engine = engine_with_image(host, container=running_as_declared(host))
    args = dict(host, state='present', config_content='server 10.123.0.1 iburst\n', ntpd_args=['-g', '-n'])
    result = run(monkeypatch, engine, args)
    assert result['steps'] == ['write_config', 'stop', 'remove', 'create', 'start'] and result['restart_needed'] is False


# -- the wait for ntpd and the running check in the same call (issue 13: a change costs one module call) --

NTPQ = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'ntpq')


def ntpq_polls(name):
    """The ntpq answers of a capture in tests/fixtures/ntpq/, in order."""
    with open(os.path.join(NTPQ, name)) as handle:
        return [part.split('\n', 1)[1] for part in handle.read().split('### t=')[1:]]


class SyncEngine(FakeEngine):
    """FakeEngine whose exec answers ntpq with ``answers`` in turn (the last one again once they run out);
    a DockerError among them is raised; ``state`` is the container's State from the first exec on."""

    def __init__(self, answers, state=None, **kwargs):
        FakeEngine.__init__(self, **kwargs)
        self.answers = list(answers)
        self.state = state

    def exec_run(self, name, argv, timeout=30):
        self.record('exec_run', name, tuple(argv))
        if self.state is not None:
            self.container['State'] = dict(self.state)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, DockerError):
            raise answer
        return 0, answer, ''

    def execs(self):
        return [call for call in self.calls if call[0] == 'exec_run']


@pytest.fixture
def clock(monkeypatch):
    """time as the module sees it: sleeps advance it instantly; ``clock.slept`` lists them."""
    class Clock(object):
        now = 1000.0
        slept = []
    clock = Clock()

    def sleep(seconds):
        clock.slept.append(seconds)
        clock.now += seconds
    monkeypatch.setattr(docker_ntpd.time, 'sleep', sleep)
    monkeypatch.setattr(docker_ntpd.time, 'time', lambda: clock.now)
    return clock


def sync_engine(host, answers, **kwargs):
    tag, image = built_image(host)
    return SyncEngine(answers, images={BASE: {'Id': BASE_ID}, tag: image}, container=running_as_declared(host), **kwargs)


def test_a_change_restarts_waits_for_the_peer_and_checks_running_in_one_call(monkeypatch, host, clock):
    """The lab's serve-only ntpd: a peer at 7 s, leap 3 throughout; the wait for 'peer' returns then."""
    engine = sync_engine(host, ntpq_polls('serve-only.polls.txt'))
    result = run(monkeypatch, engine, dict(host, config_content='server 10.123.0.1 iburst\n', wait_sync=True,
                                           sync_condition='peer', wait_timeout=120, check_running=True))
    assert not result.get('failed'), result
    assert result['steps'] == ['write_config', 'restart'] and engine.changes() == ['restart_container']
    assert result['sync'] == {'peer': '10.231.0.2', 'refid': '.LOCL.', 'delay_ms': 0.2112, 'offset_ms': 0.0404,
                              'peers': 1, 'stratum': 2, 'leap': 3}
    polls = ntpq_polls('serve-only.polls.txt')
    first_peer = next(i for i, out in enumerate(polls) if '\n*' in out)
    assert len(engine.execs()) == first_peer + 1
    assert engine.execs()[0][2] == ('ntpq', '-n', '-p', '-c', 'rv 0 leap,stratum')
    assert clock.slept[:4] == [0.5, 0.5, 1.0, 1.0] and result['waited'] == sum(clock.slept)
    assert engine.calls[-1][0] == 'inspect_container'  # the running check, after the wait


def test_serving_waits_for_leap_to_clear(monkeypatch, host, clock):
    """A peer with leap 3, then leap 0: 'serving' goes on polling until leap is no longer 3."""
    peer_leap3 = [out for out in ntpq_polls('serve-only.polls.txt') if '\n*' in out][0]
    peer_leap0 = [out for out in ntpq_polls('discipline-drift.polls.txt') if '\n*' in out][0]
    engine = sync_engine(host, [peer_leap3, peer_leap3, peer_leap0], state={'Running': True, 'Status': 'running'})
    result = run(monkeypatch, engine, dict(host, state='restarted', wait_sync=True, check_running=True))
    assert not result.get('failed'), result
    assert len(engine.execs()) == 3 and result['sync']['leap'] == 0 and result['sync']['peer'] == '10.231.0.2'


def test_a_wait_that_times_out_fails_changed_with_the_last_sync(monkeypatch, host, clock):
    never = ntpq_polls('serve-only.polls.txt')[-1]  # a peer, leap 3 for ever
    engine = sync_engine(host, [never])
    result = run(monkeypatch, engine, dict(host, config_content='server 192.0.2.1 iburst\n', wait_sync=True,
                                           sync_condition='serving', wait_timeout=5, check_running=True))
    assert result['failed'] and result['changed'] is True and result['steps'] == ['write_config', 'restart']
    assert 'ntpd in ntpd is not synchronised (a system peer and leap not 3) after 5 s' in result['msg']
    assert 'follows 10.231.0.2: stratum 2, leap 3' in result['msg']
    assert result['sync']['leap'] == 3 and sum(clock.slept) == 5
    assert engine.changes() == ['restart_container']


def test_an_ntpd_that_exits_fails_the_wait_at_once(monkeypatch, host, clock):
    engine = sync_engine(host, [error('Container abc is restarting, wait until the container is running', 409)],
                         state={'Running': True, 'Restarting': True, 'Status': 'restarting', 'ExitCode': 1})
    result = run(monkeypatch, engine, dict(host, state='restarted', wait_sync=True, wait_timeout=300))
    assert result['failed'] and result['changed'] is True
    assert result['msg'] == 'ntpd in ntpd does not keep running (status restarting, exit code 1): see docker logs ntpd'
    assert len(engine.execs()) == 1 and clock.slept == []


def test_check_running_without_a_wait_looks_three_seconds_after_the_start(monkeypatch, host, clock):
    engine = sync_engine(host, ['unused'])

    def restart_then_exit(name, timeout):
        engine.record('restart_container', name)
        engine.container['State'] = {'Running': False, 'Status': 'exited', 'ExitCode': 255}
    engine.restart_container = restart_then_exit
    result = run(monkeypatch, engine, dict(host, state='restarted', check_running=True))
    assert result['failed'] and result['changed'] is True and result['steps'] == ['restart']
    assert result['msg'] == 'ntpd in ntpd does not keep running (status exited, exit code 255): see docker logs ntpd'
    assert clock.slept == [3] and engine.execs() == []


def test_check_running_on_a_no_op_looks_without_waiting(monkeypatch, host, clock):
    engine = sync_engine(host, ['unused'])
    result = run(monkeypatch, engine, dict(host, check_running=True))
    assert not result.get('failed'), result
    assert (result['changed'], clock.slept, engine.execs(), engine.changes()) == (False, [], [], [])


def test_check_mode_neither_waits_nor_execs(monkeypatch, host, clock):
    engine = sync_engine(host, ['unused'])
    result = run(monkeypatch, engine, dict(host, config_content='server 10.123.0.1 iburst\n', wait_sync=True,
                                           check_running=True), check_mode=True)
    assert not result.get('failed'), result
    assert result['steps'] == ['write_config', 'restart'] and 'sync' not in result
    assert (clock.slept, engine.execs(), engine.changes()) == ([], [], [])


def test_no_wait_for_a_container_meant_to_be_stopped(monkeypatch, host, clock):
    engine = sync_engine(host, ['unused'])
    result = run(monkeypatch, engine, dict(host, state='stopped', wait_sync=True, check_running=True))
    assert not result.get('failed'), result
    assert result['steps'] == ['stop'] and engine.execs() == [] and clock.slept == []
