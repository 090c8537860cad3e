# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docker_ntpd's actions as command lines (issue 13: one shape for every module): the line of each step
(docker CLI for what the module does through the Engine API), a create line that gives the container
exactly the declared options, and when a rewritten configuration still needs a restart."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import shlex

import pytest

from ansible_collections.fleet.linux.plugins.module_utils import ntpd_plan as p

PARAMS = {
    'name': 'ntpd', 'image': 'fleet-linux/ntpd', 'dockerfile': 'Dockerfile', 'stop_timeout': 10,
    'build_timeout': 1800, 'allow_extra_capabilities': False, 'capabilities': ['SYS_TIME', 'SYS_RESOURCE'],
    'network_mode': 'bridge', 'published_ports': ['192.168.1.2:123:123/udp'], 'config_file': '/etc/fleet-ntpd/ntp.conf',
    'drift_volume': 'ntpd-drift', 'ntpd_args': ['-g', '-n'],
}
TAG = 'fleet-linux/ntpd:amd64-0123456789ab'
DIGEST = '0123456789ab' + 'c' * 52
BASE = 'fleet-lab/debian:bookworm'
BASE_ID = 'sha256:' + '5' * 64


def facts(**changes):
    desired = p.desired_container(dict(PARAMS, **changes.pop('params', {})), None)
    return dict({
        'name': 'ntpd', 'stop_timeout': 10, 'write_config': '/etc/fleet-ntpd/ntp.conf',
        'write_dockerfile': '/var/lib/fleet-ntpd/build/Dockerfile', 'base_image': BASE,
        'build_context': '/var/lib/fleet-ntpd/build', 'dockerfile': 'Dockerfile', 'buildargs': {'BASE': BASE},
        'tag': TAG, 'labels': p.image_labels(DIGEST, BASE, BASE_ID), 'image_archive': '/var/tmp/ntpd image.tar',
        'save_archive': '/var/lib/fleet-ntpd/ntpd-image.tar', 'spec': p.container_spec(desired, None)}, **changes)


LABELS = ('--label fleet.linux.ntpd.base-image=%s --label fleet.linux.ntpd.base-image-id=%s '
          '--label fleet.linux.ntpd.build-hash=%s' % (BASE, BASE_ID, DIGEST))
HARDENING = ('--cap-drop ALL --cap-add SYS_RESOURCE --cap-add SYS_TIME --security-opt no-new-privileges --read-only '
             '--tmpfs /run:rw,nosuid,nodev,noexec,size=1m --tmpfs /tmp:rw,nosuid,nodev,noexec,size=1m --restart always')


@pytest.mark.parametrize('step, changes, expected', [
    ('write_config', {}, 'write /etc/fleet-ntpd/ntp.conf'),
    ('write_dockerfile', {}, 'write /var/lib/fleet-ntpd/build/Dockerfile'),
    ('pull', {}, 'docker pull fleet-lab/debian:bookworm'),
    ('build', {}, 'docker build --tag %s --build-arg BASE=%s %s /var/lib/fleet-ntpd/build' % (TAG, BASE, LABELS)),
    # a Dockerfile elsewhere in the context: docker build reads --file relative to the current directory
    ('build', {'dockerfile': 'ntpd/Dockerfile'}, 'docker build --tag %s --file /var/lib/fleet-ntpd/build/ntpd/Dockerfile '
     '--build-arg BASE=%s %s /var/lib/fleet-ntpd/build' % (TAG, BASE, LABELS)),
    # check mode before the base image is pulled: the build hash, so the labels, are not known yet
    ('build', {'labels': None, 'tag': 'fleet-linux/ntpd:amd64-pending'},
     'docker build --tag fleet-linux/ntpd:amd64-pending --build-arg BASE=%s /var/lib/fleet-ntpd/build' % BASE),
    ('load', {}, "docker load --input '/var/tmp/ntpd image.tar'"),
    ('save', {}, 'docker save --output /var/lib/fleet-ntpd/ntpd-image.tar %s' % TAG),
    ('create', {}, 'docker create --name ntpd %s --network bridge --volume /etc/fleet-ntpd/ntp.conf:/etc/ntp.conf:ro '
     '--volume ntpd-drift:/var/lib/ntp --publish 192.168.1.2:123:123/udp --label fleet.linux.ntpd.managed=true %s -g -n'
     % (HARDENING, TAG)),
    ('create', {'params': {'network_mode': 'host', 'capabilities': ['SYS_TIME', 'NET_BIND_SERVICE'], 'ntpd_args': []}},
     'docker create --name ntpd --cap-drop ALL --cap-add NET_BIND_SERVICE --cap-add SYS_TIME --security-opt '
     'no-new-privileges --read-only --tmpfs /run:rw,nosuid,nodev,noexec,size=1m --tmpfs /tmp:rw,nosuid,nodev,noexec,size=1m '
     '--restart always --network host --volume /etc/fleet-ntpd/ntp.conf:/etc/ntp.conf:ro --volume ntpd-drift:/var/lib/ntp '
     '--label fleet.linux.ntpd.managed=true %s' % TAG),
    ('start', {}, 'docker start ntpd'),
    ('stop', {'stop_timeout': 0}, 'docker stop --time 0 ntpd'),
    ('restart', {}, 'docker restart --time 10 ntpd'),
    ('remove', {}, 'docker rm --force ntpd'),
])
def test_action_line_of_each_step(step, changes, expected):
    assert p.action_line(step, facts(**changes)) == expected


def test_an_unknown_step_has_no_line():
    with pytest.raises(ValueError, match="unknown step 'recreate'"):
        p.action_line('recreate', facts())


def cli_view(line):
    """The container a ``docker create`` line declares, as desired_container words it (image_id aside)."""
    argv = shlex.split(line)
    assert argv[:4] == ['docker', 'create', '--name', 'ntpd']
    options = {}
    index = 4
    while argv[index].startswith('--'):
        if argv[index] in ('--read-only', '--privileged'):
            options.setdefault(argv[index], []).append(True)
            index += 1
        else:
            options.setdefault(argv[index], []).append(argv[index + 1])
            index += 2
    assert argv[index] == TAG
    return {
        'image_id': None,
        'command': argv[index + 1:],
        'capabilities': sorted(options['--cap-add']),
        'privileged': '--privileged' in options,
        'no_new_privileges': options['--security-opt'] == [p.NO_NEW_PRIVILEGES],
        'read_only_root': '--read-only' in options,
        'tmpfs': sorted(options['--tmpfs']),
        'restart_policy': options['--restart'] == ['always'] and 'always',
        'network_mode': options['--network'][0],
        'mounts': sorted(options['--volume']),
        'ports': [p.port_text(p.parse_port(port)) for port in options.get('--publish', [])],
    }, options['--cap-drop'], options['--label']


@pytest.mark.parametrize('changes', [
    {},
    {'capabilities': ['SYS_TIME'], 'published_ports': ['127.0.0.1:10123:123/udp', '10124:123/udp', '[::1]:123:123']},
    {'network_mode': 'host', 'capabilities': ['SYS_TIME', 'NET_BIND_SERVICE'], 'ntpd_args': ['-g', '-n', '-d']},
    {'drift_volume': '/var/lib/fleet-ntpd/drift/pi1', 'config_file': '/etc/fleet ntpd/ntp.conf', 'published_ports': []},
])
def test_the_create_line_gives_exactly_the_declared_container(changes):
    """Read back as a person's shell would, the line declares what the Engine API call creates."""
    params = dict(PARAMS, **changes)
    desired = p.desired_container(params, None)
    view, dropped, labels = cli_view(p.action_line('create', facts(params=changes)))
    assert view == desired
    assert dropped == ['ALL'] and labels == ['%s=true' % p.MANAGED_LABEL]


RUNNING = {'running': True}
STOPPED = {'running': False}


@pytest.mark.parametrize('steps, current, expected', [
    (['write_config'], RUNNING, True),   # state present: the container keeps running with the old file
    (['write_config'], STOPPED, False),  # it reads the file when it starts
    (['write_config'], None, False),
    (['write_config', 'restart'], RUNNING, False),
    (['write_config', 'stop'], RUNNING, False),
    (['write_config', 'build', 'stop', 'remove', 'create', 'start'], RUNNING, False),
    (['write_config', 'build', 'stop', 'remove', 'create'], RUNNING, False),
    (['write_dockerfile', 'build'], RUNNING, False),
    ([], RUNNING, False),
])
def test_restart_needed(steps, current, expected):
    assert p.restart_needed(steps, current) is expected
