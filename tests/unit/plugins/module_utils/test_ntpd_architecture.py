# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decision table of the ntpd image's architecture, for every Raspberry Pi and OS it can run: what the node
reports (dockerd's Arch and Os as its /version gives them, an arm variant where an engine gives one, the
kernel's uname -m, the width of the node's Python) -> the image architecture, or a refusal saying what to set.
lab/arm-images/prove shows why ARMv6 gets armel: Debian's armhf image stops with an illegal instruction
under qemu-arm -cpu arm1176, its armel image runs there."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils import ntpd_plan as p
from ansible_collections.fleet.linux.plugins.modules import docker_ntpd

ROLE = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'ntpd_container')


def node(docker_arch=None, machine=None, bits=None, docker_os='linux', variant=None):
    return {'docker_arch': docker_arch, 'docker_os': docker_os, 'docker_variant': variant, 'machine': machine,
            'userspace_bits': bits}


# (case, what the node reports, image architecture)
PIS = [
    # ARMv6 (BCM2835): Raspberry Pi 1 A/B/A+/B+, Zero, Zero W; only 32-bit OSes, armv6l kernels.
    ('Pi 1 / Zero / Zero W, 32-bit OS', node('arm', 'armv6l', 32), 'armel'),
    ('Pi 1 / Zero / Zero W, no dockerd word yet', node(None, 'armv6l', 32), 'armel'),
    ('Pi 1 / Zero / Zero W, width unknown', node(None, 'armv6l'), 'armel'),
    # ARMv7 (BCM2836): Raspberry Pi 2 B (v1.1); 32-bit only.
    ('Pi 2, 32-bit OS', node('arm', 'armv7l', 32), 'armhf'),
    ('Pi 2, no dockerd word', node(None, 'armv7l', 32), 'armhf'),
    # ARMv8 (Pi 2 v1.2, Zero 2 W, 3, 4, 5) under a 32-bit OS on a 32-bit kernel.
    ('Pi Zero 2 W / 3 / 4 / 5, 32-bit OS, 32-bit kernel', node('arm', 'armv7l', 32), 'armhf'),
    # ... under a 32-bit OS on a 64-bit kernel (Raspberry Pi OS's default kernel on a Pi 4 and 5): dockerd is arm.
    ('Pi Zero 2 W / 3 / 4 / 5, 32-bit OS, 64-bit kernel', node('arm', 'aarch64', 32), 'armhf'),
    ('Pi Zero 2 W / 3 / 4 / 5, 32-bit OS, 64-bit kernel, no dockerd word', node(None, 'aarch64', 32), 'armhf'),
    ('Pi Zero 2 W / 3 / 4 / 5, 32-bit OS, 64-bit kernel under linux32', node('arm', 'armv8l', 32), 'armhf'),
    ('Pi Zero 2 W / 3 / 4 / 5, linux32, no dockerd word', node(None, 'armv8l'), 'armhf'),
    # ... under a 64-bit OS.
    ('Pi Zero 2 W / 3 / 4 / 5, 64-bit OS', node('arm64', 'aarch64', 64), 'arm64'),
    ('Pi Zero 2 W / 3 / 4 / 5, 64-bit OS, no dockerd word', node(None, 'aarch64', 64), 'arm64'),
    ('Pi Zero 2 W / 3 / 4 / 5, 64-bit OS, width unknown', node(None, 'aarch64'), 'arm64'),
    # dockerd's word on the userspace wins over the width of the Python the module runs under.
    ('64-bit OS with a 32-bit Python', node('arm64', 'aarch64', 32), 'arm64'),
    ('32-bit dockerd on a 64-bit kernel, 64-bit Python', node('arm', 'aarch64', 64), 'armhf'),
    # x86-64 (the lab, the microserver).
    ('amd64', node('amd64', 'x86_64', 64), 'amd64'),
    ('amd64, no dockerd word', node(None, 'x86_64', 64), 'amd64'),
    # Only the variant where the kernel's machine is not known.
    ('arm v6 without the kernel machine', node('arm', variant='v6'), 'armel'),
    ('arm v7 without the kernel machine', node('arm', variant='v7'), 'armhf'),
    ('arm v7 on an armv6l kernel: the kernel decides', node('arm', 'armv6l', 32, variant='v7'), 'armel'),
]


@pytest.mark.parametrize('reported, expected', [case[1:] for case in PIS], ids=[case[0] for case in PIS])
def test_every_pi_gets_an_image_it_runs(reported, expected):
    assert p.image_architecture(reported) == expected
    assert expected in p.MACHINE_RUNS.get(reported['machine'], (expected,))


REFUSED = [
    ('unknown machine', node('riscv64', 'riscv64', 64), 'cannot tell the image architecture of this node'),
    ('nothing reported', node(docker_os=None), 'cannot tell the image architecture of this node'),
    ('32-bit arm of unknown level', node('arm'), 'cannot tell the image architecture of this node'),
    ('i386 userspace on x86-64', node(None, 'x86_64', 32), 'cannot tell the image architecture of this node'),
    ('arm64 dockerd on a 32-bit kernel', node('arm64', 'armv7l', 32), 'runs arm64 images but its kernel is armv7l'),
    ('arm dockerd on x86-64', node('arm', 'x86_64', 32), 'runs arm images but its kernel is x86_64'),
    ('Windows containers', node('amd64', 'x86_64', 64, docker_os='windows'), 'runs windows containers'),
]


@pytest.mark.parametrize('reported, message', [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_a_node_that_cannot_be_told_is_refused_naming_what_to_set(reported, message):
    with pytest.raises(Refusal, match=message) as refusal:
        p.image_architecture(reported)
    if 'cannot tell' in message or 'but its kernel' in message:
        assert 'set architecture (role: ntpd_container_architecture)' in str(refusal.value)


# (case, what the node reports, requested architecture, accepted)
REQUESTED = [
    ('armhf on an ARMv6 Pi', node('arm', 'armv6l', 32), 'armhf', False),
    ('arm64 on an ARMv6 Pi', node('arm', 'armv6l', 32), 'arm64', False),
    ('amd64 on an ARMv6 Pi', node('arm', 'armv6l', 32), 'amd64', False),
    ('armel on an ARMv6 Pi', node('arm', 'armv6l', 32), 'armel', True),
    ('arm64 on a 32-bit kernel', node('arm', 'armv7l', 32), 'arm64', False),
    ('armel on a Pi 2', node('arm', 'armv7l', 32), 'armel', True),
    ('arm64 on a 64-bit kernel under 32-bit userspace', node('arm', 'aarch64', 32), 'arm64', True),
    ('armel on a Pi 4 with a 64-bit OS (shares the Pi 1s\' image)', node('arm64', 'aarch64', 64), 'armel', True),
    ('armhf on x86-64', node('amd64', 'x86_64', 64), 'armhf', False),
    ('anything where the machine is unknown', node('riscv64', 'riscv64', 64), 'arm64', True),
]


@pytest.mark.parametrize('reported, requested, accepted', [case[1:] for case in REQUESTED],
                         ids=[case[0] for case in REQUESTED])
def test_a_given_architecture_wins_unless_the_kernel_cannot_run_it(reported, requested, accepted):
    if accepted:
        assert p.image_architecture(reported, requested) == requested
    else:
        with pytest.raises(Refusal, match='architecture %s cannot run on this node: its kernel is %s'
                           % (requested, reported['machine'])):
            p.image_architecture(reported, requested)


def test_armhf_on_an_armv6_pi_is_refused_with_the_reason_and_the_fix():
    with pytest.raises(Refusal) as refusal:
        p.image_architecture(node('arm', 'armv6l', 32), 'armhf')
    message = str(refusal.value)
    assert 'ARMv6: Raspberry Pi 1, Zero, Zero W' in message
    assert 'illegal instruction' in message and 'use armel' in message


def test_every_architecture_decided_is_a_choice_of_the_module_and_the_role_with_a_base_image():
    assert set(case[2] for case in PIS) == set(p.ARCHITECTURES)
    assert set(arch for runs in p.MACHINE_RUNS.values() for arch in runs) == set(p.ARCHITECTURES)
    module_choices = yaml.safe_load(docker_ntpd.DOCUMENTATION)['options']['architecture']['choices']
    with open(os.path.join(ROLE, 'meta', 'argument_specs.yml')) as handle:
        role_options = yaml.safe_load(handle)['argument_specs']['main']['options']
    with open(os.path.join(ROLE, 'defaults', 'main.yml')) as handle:
        defaults = yaml.safe_load(handle)
    assert module_choices == role_options['ntpd_container_architecture']['choices'] == list(p.ARCHITECTURES)
    assert defaults['ntpd_container_base_images'] == role_options['ntpd_container_base_images']['default']
    assert sorted(defaults['ntpd_container_base_images']) == sorted(p.ARCHITECTURES)
    assert defaults['ntpd_container_base_images']['armel'] == 'arm32v5/debian:bookworm-slim'
