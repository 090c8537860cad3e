# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks of lxc_unpriv_container's bind mounts, for the role lxc_unprivileged to run before it changes
anything (pure, see module_utils/lxc_mount.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: lxc_mount_problems
short_description: What is wrong with a container's bind mounts, before anything is created
version_added: 0.1.0
author:
  - fleet.linux contributors (@fleet-linux)
description:
  - Runs the checks of the O(fleet.linux.lxc_unpriv_container#module:mounts) option that need no look at the host, and
    returns what is wrong (each message says what to do), or an empty list.
  - Refused are paths that are not absolute, have a C(..) component, are not written plainly, are C(/) or hold blanks,
    backslashes or control characters; a host path in C(/proc), C(/sys), C(/dev) or in the owner's home; a container
    path given twice; a host path given twice or inside another.
  - The module checks the host's directories on the way when it runs.
options:
  _input:
    description: The mounts (dicts with C(host_path), C(path), C(read_only)).
    type: list
    elements: dict
    required: true
  owner:
    description: The container's owner.
    type: str
    required: true
  home:
    description: The owner's home directory.
    type: str
    required: true
'''

EXAMPLES = r'''
- name: Check the mounts of container web before the role creates anything
  ansible.builtin.assert:
    that: mounts | fleet.linux.lxc_mount_problems('lxc-web', '/home/lxc-web') == []
'''

RETURN = r'''
_value:
  description: The problems found (at most one, the first), each a message that says what to do; empty when none.
  type: list
  elements: str
'''

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils.lxc_mount import check_mounts


def lxc_mount_problems(mounts, owner, home):
    try:
        check_mounts(mounts, owner, home)
    except Refusal as refusal:
        return [str(refusal)]
    return []


class FilterModule(object):
    def filters(self):
        return {'lxc_mount_problems': lxc_mount_problems}
