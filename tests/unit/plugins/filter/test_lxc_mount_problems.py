# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's lxc_mount_problems filter: the module's checks of bind mounts, as messages."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.fleet.linux.plugins.filter.lxc_mount_problems import FilterModule, lxc_mount_problems


def test_no_problems():
    mounts = [{'host_path': '/srv/lxc/web/data', 'path': '/srv/data', 'read_only': False}]
    assert lxc_mount_problems(mounts, 'lxc-web', '/home/lxc-web') == []
    assert lxc_mount_problems([], 'lxc-web', '/home/lxc-web') == []


def test_the_first_problem_as_the_module_says_it():
    mounts = [{'host_path': '/home/lxc-web/data', 'path': 'data'}]
    assert lxc_mount_problems(mounts, 'lxc-web', '/home/lxc-web') == [
        "path 'data' is relative: give an absolute path such as /srv/data"]
    assert lxc_mount_problems([dict(mounts[0], path='/data')], 'lxc-web', '/home/lxc-web')[0].startswith(
        "host_path /home/lxc-web/data is in /home/lxc-web, the home of lxc-web, the container's owner")


def test_registered():
    assert FilterModule().filters() == {'lxc_mount_problems': lxc_mount_problems}
