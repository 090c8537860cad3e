# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docker_ntpd's own checks that read the host: ports taken, dockerd's bounding set."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import socket

import pytest

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.modules import docker_ntpd


def declared(ports, network_mode='bridge'):
    return {'ports': ports, 'network_mode': network_mode}


@pytest.fixture
def taken_udp_port():
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(('127.0.0.1', 0))
    yield holder.getsockname()[1]
    holder.close()


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
