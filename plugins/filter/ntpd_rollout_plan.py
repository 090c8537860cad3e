# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ntpd rollout's decisions on the controller, from each node's one read (docker_ntpd in check mode)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
name: ntpd_rollout_plan
short_description: What a node still needs for ntpd_container, from its docker_ntpd check-mode read
version_added: 0.1.0
description:
  - The container's planned actions (docker_ntpd's I(actions), docker CLI command lines), then what turning
    the host's time services off takes, as command lines too (C(timedatectl set-ntp false),
    C(systemctl stop UNIT), C(systemctl disable UNIT), C(systemctl mask systemd-timesyncd.service)).
  - Empty for a node that needs nothing. When dockerd did not answer, the engine's steps
    (C(apt-get install docker.io) unless an engine is installed, C(systemctl enable --now docker)) and a
    comment line, the rest being planned once dockerd answers.
options:
  _input:
    description: The registered result of fleet.linux.docker_ntpd in check mode.
    type: dict
    required: true
  state:
    description: The container's declared state.
    type: str
    default: started
  disable_host_time_services:
    description: Whether the host's own time services are to be turned off.
    type: bool
    default: true
  units:
    description: The host's time service units to stop and disable.
    type: list
    elements: str
    default: []
author: fleet.linux contributors (@fleet-linux)
'''

EXAMPLES = r'''
- name: Decide what each node needs
  ansible.builtin.set_fact:
    ntpd_container_plan: "{{ ntpd_container_check | fleet.linux.ntpd_rollout_plan('started', true, ['chrony.service']) }}"
'''

RETURN = r'''
_value:
  description: The actions still needed, in order, one command line each; empty when none.
  type: list
  elements: str
'''

from ansible_collections.fleet.linux.plugins.module_utils.ntpd_plan import rollout_plan


class FilterModule(object):
    def filters(self):
        return {'ntpd_rollout_plan': rollout_plan}
