# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over /etc/subuid and /etc/subgid for the role lxc_unprivileged (pure, see module_utils/lxc.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: subid_range
short_description: A user's subordinate id range, allocating a free one if it has none
version_added: 0.1.0
author:
  - fleet.linux contributors (@fleet-linux)
description:
  - Given the texts of C(/etc/subuid) and C(/etc/subgid), returns the user's range that holds at least
    O(count) ids in both files, or the lowest free range (on a O(count) grid from 100000) that
    overlaps no range of either file, so no two users ever share ids.
  - Fails when the user's existing ranges overlap another user's.
options:
  _input:
    description: The text of C(/etc/subuid).
    type: str
    required: true
  subgid:
    description: The text of C(/etc/subgid).
    type: str
    required: true
  user:
    description: User name.
    type: str
    required: true
  uid:
    description: The user's numeric uid (subid files may name it instead of the user).
    type: int
    required: true
  count:
    description: Number of ids in the range, at least 65536 (a container's ids 0-65535).
    type: int
    default: 65536
'''

EXAMPLES = r'''
- name: Pick the range of user web
  ansible.builtin.set_fact:
    web_range: "{{ subuid_text | fleet.linux.subid_range(subgid_text, 'web', 998) }}"
'''

RETURN = r'''
_value:
  description: C(start), C(count), C(end) (last id) and C(allocated) (true when the user has no range yet).
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils.lxc import (
    CONTAINER_IDS, allocate_range, overlapping, parse_subids, ranges_of,
)


def subid_range(subuid, subgid, user, uid, count=CONTAINER_IDS):
    if count < CONTAINER_IDS:
        raise AnsibleFilterError('a range of %d ids is too small: a container needs %d (its ids 0-%d)'
                                 % (count, CONTAINER_IDS, CONTAINER_IDS - 1))
    uids, gids = parse_subids(subuid), parse_subids(subgid)
    for label, ranges in (('subuid', uids), ('subgid', gids)):
        clashes = overlapping(ranges, user, uid)
        if clashes:
            raise AnsibleFilterError('%s ranges of %s overlap: %s' % (label, user, '; '.join(
                '%s and %s' % (m.describe(), o.describe()) for m, o in clashes)))
    gid_starts = set((r.start, r.count) for r in ranges_of(gids, user, uid))
    for mine in ranges_of(uids, user, uid):
        if mine.count >= count and (mine.start, mine.count) in gid_starts:
            return dict(start=mine.start, count=mine.count, end=mine.end - 1, allocated=False)
    try:
        start = allocate_range(uids + gids, count)
    except Refusal as refusal:
        raise AnsibleFilterError(str(refusal))
    return dict(start=start, count=count, end=start + count - 1, allocated=True)


class FilterModule(object):
    def filters(self):
        return {'subid_range': subid_range}
