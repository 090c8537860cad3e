# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Properties of docker_ntpd's parsers and checks, for random inputs (hypothesis)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import struct

import pytest
from hypothesis import given, strategies as st

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils import ntpd_plan as p

ports = st.integers(min_value=1, max_value=65535)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
host_ips = st.one_of(st.just(''), ipv4, ipv6)
protocols = st.sampled_from(['udp', 'tcp'])
published = st.tuples(host_ips, ports, ports, protocols).map(
    lambda port: ('' if port[0] == '0.0.0.0' else port[0],) + port[1:])


@given(published)
def test_port_text_round_trips(port):
    assert p.parse_port(p.port_text(port)) == port


@given(host_ips, st.integers(), st.integers(), protocols)
def test_a_port_outside_the_range_is_always_refused_never_crashes(host_ip, host_port, container_port, proto):
    spec = p.port_text((host_ip, abs(host_port), abs(container_port), proto))
    in_range = all(1 <= abs(n) <= 65535 for n in (host_port, container_port))
    if in_range:
        assert p.parse_port(spec)[1:3] == (abs(host_port), abs(container_port))
    else:
        with pytest.raises(Refusal, match='is not a port number'):
            p.parse_port(spec)


@given(st.lists(published, max_size=6))
def test_parse_ports_accepts_only_lists_without_a_port_twice(declared):
    specs = [p.port_text(port) for port in declared]
    clash = any(a[1] == b[1] and a[3] == b[3] and p.addresses_overlap(a[0], b[0])
                for i, a in enumerate(declared) for b in declared[i + 1:])
    if clash:
        with pytest.raises(Refusal, match='the same host port twice'):
            p.parse_ports(specs)
    else:
        assert p.parse_ports(specs) == sorted(declared)


def proc_net_hex(address):
    """/proc/net's notation of an address: 32-bit words in the host's byte order."""
    packed = ipaddress.ip_address(address).packed
    return ''.join('%08X' % struct.unpack('=I', packed[i:i + 4])[0] for i in range(0, len(packed), 4))


@given(st.one_of(ipv4, ipv6))
def test_proc_net_address_round_trips(address):
    decoded = p.proc_net_address(proc_net_hex(address))
    mapped = ipaddress.ip_address(address)
    assert decoded == str(getattr(mapped, 'ipv4_mapped', None) or mapped)


@given(st.lists(published, max_size=4), st.lists(st.tuples(protocols, st.one_of(ipv4, ipv6), ports), max_size=8))
def test_a_running_container_never_conflicts_with_its_own_proxy(declared, others):
    """The sockets dockerd's proxy opens for the ports a container holds are never reported
    as foreign, whatever ports its successor wants."""
    held = [port for port in declared if port[0] != '']
    proxy = [(proto, host_ip, host_port) for host_ip, host_port, _c, proto in held]
    found = p.foreign_port_holders(declared, proxy + others, held)
    assert all(sock not in proxy or sock in others for _port, sock in found)
