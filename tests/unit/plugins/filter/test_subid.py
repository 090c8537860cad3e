# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's subid_range filter: keep a user's range, or allocate one free in both files."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fleet.linux.plugins.filter.subid import subid_range

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'lxc')
with open(os.path.join(FIXTURES, 'subuid.txt')) as handle:
    CAPTURED = handle.read()  # fleetadmin 100000, lxc-web 165536, lxc-db 231072


@pytest.mark.parametrize('subuid, subgid, user, uid, expected', [
    (CAPTURED, CAPTURED, 'lxc-web', 997, dict(start=165536, count=65536, end=231071, allocated=False)),
    (CAPTURED, CAPTURED, 'lxc-new', 995, dict(start=296608, count=65536, end=362143, allocated=True)),
    ('', '', 'first', 995, dict(start=100000, count=65536, end=165535, allocated=True)),
    # a gid range taken only in subgid is skipped for both
    ('', 'other:100000:65536\n', 'u', 995, dict(start=165536, count=65536, end=231071, allocated=True)),
    # a range named by uid counts as the user's
    ('995:400000:65536\n', '995:400000:65536\n', 'u', 995, dict(start=400000, count=65536, end=465535, allocated=False)),
    # too small, or not the same in both files: a new one
    ('u:400000:10\n', 'u:400000:10\n', 'u', 995, dict(start=100000, count=65536, end=165535, allocated=True)),
])
def test_subid_range(subuid, subgid, user, uid, expected):
    assert subid_range(subuid, subgid, user, uid) == expected


def test_subid_range_refuses_overlap():
    with pytest.raises(AnsibleFilterError, match='subuid ranges of lxc-web overlap'):
        subid_range(CAPTURED + 'intruder:200000:10\n', CAPTURED, 'lxc-web', 997)


@pytest.mark.parametrize('count', [0, 1000, 65535])
def test_subid_range_refuses_a_range_too_small_for_a_container(count):
    with pytest.raises(AnsibleFilterError, match='a range of %d ids is too small: a container needs 65536' % count):
        subid_range(CAPTURED, CAPTURED, 'lxc-new', 995, count)
