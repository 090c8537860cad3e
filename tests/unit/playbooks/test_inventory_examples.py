# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's example inventories (playbooks/inventory-examples): they parse with ansible-inventory,
hold the groups the playbooks target, and every variable they set is one something reads:
  - an option of a role's meta/argument_specs.yml, whose value that spec accepts;
  - a variable a shipped playbook reads in its tasks or role vars (checked against the role option it
    feeds, where it feeds one);
  - a connection, become or interpreter variable ansible-core itself knows.
A variable a playbook reads only in a play keyword (hosts, serial, max_fail_percentage) is refused:
Ansible templates those before any host's inventory variables exist, so only -e sets it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re
import os
import subprocess
import sys

import jinja2
import jinja2.meta
import pytest
import yaml
from ansible import constants as C
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.loader import become_loader, connection_loader, shell_loader

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
EXAMPLES = os.path.join(ROOT, 'playbooks', 'inventory-examples')
# Each example inventory and the groups (with at least one host) the playbooks it is for target.
INVENTORIES = {
    'microserver.yml': ('microserver', 'lxc_hosts'),
    'pis.yml': ('rpi',),
}
# The playbooks that ship (galaxy.yml leaves the lab demo's out).
PLAYBOOKS = ('microserver_raid.yml', 'microserver_raid_state.yml', 'rpi_ntpd.yml', 'lxc_host.yml')
# Play keywords templated with the play's variables only (no host's inventory variables).
PLAY_KEYWORDS = ('hosts', 'serial', 'max_fail_percentage', 'strategy', 'order', 'throttle')
# Playbook variables handed to a role option (playbooks/*.yml): their values are checked against it.
FEEDS = {
    'lxc_host_containers': 'lxc_unprivileged_containers',
    'rpi_ntpd_wait_sync': 'ntpd_container_wait_sync',
}


def role_options():
    """Every option of every role entry point: name -> (role, spec)."""
    options = {}
    roles = os.path.join(ROOT, 'roles')
    for role in sorted(os.listdir(roles)):
        path = os.path.join(roles, role, 'meta', 'argument_specs.yml')
        if not os.path.isfile(path):
            continue
        with open(path) as handle:
            specs = yaml.safe_load(handle)['argument_specs']
        for entry in specs.values():
            for name, spec in (entry.get('options') or {}).items():
                options[name] = (role, spec)
    return options


def ansible_variables():
    """Connection, become, shell and interpreter variables ansible-core knows (ssh, local, sudo, su, sh)."""
    names = set()
    for aliases in C.MAGIC_VARIABLE_MAPPING.values():
        names.update(aliases)
    connection_loader.get('ssh', class_only=True)
    connection_loader.get('local', class_only=True)
    become_loader.get('sudo', class_only=True)
    become_loader.get('su', class_only=True)
    shell_loader.get('sh', class_only=True)
    definitions = [C.config.get_configuration_definitions()]
    for plugin_type, name in (('connection', 'ssh'), ('connection', 'local'), ('become', 'sudo'), ('become', 'su'), ('shell', 'sh')):
        definitions.append(C.config.get_configuration_definitions(plugin_type, name))
    for defs in definitions:
        for definition in defs.values():
            names.update(var['name'] for var in definition.get('vars') or [])
    return names


def template_names(value):
    """Names of the variables the Jinja templates in a YAML value read."""
    names = set()
    if isinstance(value, dict):
        for item in value.values():
            names |= template_names(item)
    elif isinstance(value, list):
        for item in value:
            names |= template_names(item)
    elif isinstance(value, str) and ('{{' in value or '{%' in value):
        names |= jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(value))
    return names


def playbook_variables(paths):
    """(read by tasks, roles and play vars; read only by play keywords) of the playbooks."""
    read, keywords = set(), set()
    for path in paths:
        with open(path) as handle:
            plays = yaml.safe_load(handle)
        for play in plays:
            for key, value in play.items():
                (keywords if key in PLAY_KEYWORDS else read).update(template_names(value))
    return read, keywords - read


def problems(hostvars, options, ansible_vars, read, keyword_only):
    """What is wrong with the variables set for each host ({host: {name: value}})."""
    found = []
    for host, variables in sorted(hostvars.items()):
        for name, value in sorted(variables.items()):
            option = FEEDS.get(name, name)
            if name in keyword_only:
                found.append('%s: %s is read only in a play keyword (hosts, serial, ...), before inventory '
                             'variables exist: set it with -e, not in the inventory' % (host, name))
            elif option in options:
                role, spec = options[option]
                if isinstance(value, str) and '{{' in value:
                    continue  # a template: its value is known only when a play runs
                spec = dict(spec, required=False)
                result = ArgumentSpecValidator({option: spec}).validate({option: value})
                found.extend('%s: %s (role %s): %s' % (host, name, role, error) for error in result.error_messages)
            elif name not in read and name not in ansible_vars:
                found.append('%s: %s is not an option of any role, a variable the playbooks read or an '
                             'Ansible connection variable' % (host, name))
    return found


@pytest.fixture(scope='module')
def known():
    read, keyword_only = playbook_variables(os.path.join(ROOT, 'playbooks', name) for name in PLAYBOOKS)
    return role_options(), ansible_variables(), read, keyword_only


def inventory_list(name):
    env = dict(os.environ, ANSIBLE_INVENTORY_UNPARSED_FAILED='1', ANSIBLE_INVENTORY_ENABLED='yaml',
               ANSIBLE_NOCOLOR='1')
    output = subprocess.check_output([sys.executable, '-m', 'ansible.cli.inventory', '-i', os.path.join(EXAMPLES, name), '--list'],
                                     env=env, cwd=EXAMPLES)
    return json.loads(output)


@pytest.mark.parametrize('name', sorted(INVENTORIES))
def test_example_inventory(name, known):
    listing = inventory_list(name)
    for group in INVENTORIES[name]:
        assert listing.get(group, {}).get('hosts'), 'group %s has no hosts in %s' % (group, name)
    hostvars = listing['_meta']['hostvars']
    assert hostvars, 'no host sets any variable in %s' % name
    assert problems(hostvars, *known) == []


def test_examples_are_all_checked():
    examples = set(n for n in os.listdir(EXAMPLES) if n.endswith(('.yml', '.yaml')))
    assert examples == set(INVENTORIES)
    assert set(PLAYBOOKS) == set(n for n in os.listdir(os.path.join(ROOT, 'playbooks'))
                                 if n.endswith('.yml') and n not in ('lab_disks.yml', 'microserver_raid_demo.yml'))


def test_the_playbooks_read_what_the_examples_set(known):
    options, ansible_vars, read, keyword_only = known
    assert {'microserver_disks', 'microserver_new_disk', 'lxc_host_containers', 'rpi_ntpd_wait_sync'} <= read
    assert {'rpi_ntpd_hosts', 'lxc_host_targets'} <= keyword_only
    assert {'ansible_host', 'ansible_user', 'ansible_python_interpreter', 'ansible_become_password'} <= ansible_vars
    assert {'ntpd_container_serve_networks', 'raid_reshape_timeout', 'lxc_unprivileged_image_src'} <= set(options)


@pytest.mark.parametrize('variables, message', [
    ({'ntpd_container_serve_network': []}, 'ntpd_container_serve_network is not an option of any role'),
    ({'ansible_usr': 'admin'}, 'ansible_usr is not an option'),
    ({'rpi_ntpd_hosts': 'pis'}, 'rpi_ntpd_hosts is read only in a play keyword'),
    ({'ntpd_container_serve_networks': '192.168.1.0/24'}, 'ntpd_container_serve_networks'),
    ({'ntpd_container_serve_networks': [{'address': '192.168.1.0'}]}, 'mask'),
    ({'raid_reshape_timeout': 'long'}, 'raid_reshape_timeout'),
    ({'lxc_host_containers': [{'user': 'lxc-web'}]}, 'lxc_host_containers \\(role lxc_unprivileged\\).*name'),
    ({'rpi_ntpd_wait_sync': 'maybe'}, 'rpi_ntpd_wait_sync \\(role ntpd_container\\)'),
    ({'ntpd_container_capabilities': ['SYS_ADMIN']}, 'ntpd_container_capabilities'),
])
def test_problems_are_found(variables, message, known):
    found = problems({'h': variables}, *known)
    assert found and all(re.search(message, problem) for problem in found), found


def test_templated_and_known_values_pass(known):
    assert problems({'h': {'ansible_host': '192.0.2.1', 'ntpd_container_published_ports': '{{ ports }}',
                           'microserver_disks': ['/dev/sda'], 'ntpd_container_serve_networks': []}}, *known) == []
