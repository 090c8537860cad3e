# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What turning a node's own time services off still takes, from its docker_ntpd read, on the controller."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
name: ntpd_host_time_actions
short_description: What turning the host's own time services off still takes, from a docker_ntpd read
version_added: 0.1.0
description:
  - The command lines, in the role's order (C(timedatectl set-ntp false), C(systemctl stop UNIT),
    C(systemctl disable UNIT), C(systemctl mask systemd-timesyncd.service)), that the host time services
    read by fleet.linux.docker_ntpd (I(host_time_services), I(host_ntp_synchronization)) still need.
  - Empty when they are off already; the role ntpd_container then runs its change in one docker_ntpd call.
options:
  _input:
    description: The registered result of fleet.linux.docker_ntpd (its read of the host's time services).
    type: dict
    required: true
  units:
    description: The host's time service units to stop and disable (systemd-timesyncd is masked in any case).
    type: list
    elements: str
    default: []
author: fleet.linux contributors (@fleet-linux)
'''

EXAMPLES = r'''
- name: Whether the host's time services are off already
  ansible.builtin.set_fact:
    host_time_off: "{{ ntpd_container_check | fleet.linux.ntpd_host_time_actions(['chrony.service']) | length == 0 }}"
'''

RETURN = r'''
_value:
  description: The actions still needed, in order, one command line each; empty when none.
  type: list
  elements: str
'''

from ansible_collections.fleet.linux.plugins.module_utils.ntpd_plan import host_time_service_actions


def host_time_actions(check, units=()):
    return host_time_service_actions((check or {}).get('host_time_services') or {},
                                     (check or {}).get('host_ntp_synchronization'), list(units or []))


class FilterModule(object):
    def filters(self):
        return {'ntpd_host_time_actions': host_time_actions}
