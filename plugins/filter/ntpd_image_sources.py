# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which node builds the ntpd image for which others (they load its docker save), decided on the controller."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
name: ntpd_image_sources
short_description: The node that builds the ntpd image for each node that needs it
version_added: 0.1.0
description:
  - From every node's docker_ntpd check-mode read, maps each node whose plan builds the image (C(build) in its
    I(steps)) to the node that builds it, per image tag (architecture and build hash) the first node by name.
    An ARMv6 Pi's image is C(armel), apart from the later Pis' C(armhf) one.
  - The builder saves the image (C(docker save)); the others load it through the controller instead of
    building it, checked by its build-hash label.
options:
  _input:
    description: Host name -> the registered result of fleet.linux.docker_ntpd in check mode.
    type: dict
    required: true
author: fleet.linux contributors (@fleet-linux)
'''

EXAMPLES = r'''
- name: One builder per image
  ansible.builtin.set_fact:
    ntpd_container_image_sources: >-
      {{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'ntpd_container_check')))
         | fleet.linux.ntpd_image_sources }}
  run_once: true
'''

RETURN = r'''
_value:
  description: Host -> the host that builds its image (itself for a builder); nodes that build nothing are left out.
  type: dict
'''

from ansible_collections.fleet.linux.plugins.module_utils.ntpd_plan import image_sources


class FilterModule(object):
    def filters(self):
        return {'ntpd_image_sources': image_sources}
