# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Packaging checks of fleet.linux, run by tests/build/run from the checkout's top directory.

  python tests/build/check_package.py metadata
      Every plugin's version_added (and its options') is galaxy.yml's version or a version
      changelogs/changelog.yaml lists as released; every role's min_ansible_version is the
      lower bound of meta/runtime.yml's requires_ansible; tests/compat/releases.txt (the releases
      make compat runs) holds one release of each ansible-core minor from that lower bound on, each
      one requires_ansible admits, and the dev venv's (requirements-dev.txt) as its dev row.
  python tests/build/check_package.py tarball PATH
      The built tarball ships only what users need (the top-level entries below, no caches, no
      changelog fragments, none of the lab-only playbooks) and every plugin, role and playbook
      file of the checkout, and its FILES.json lists exactly its members. Prints their count
      and FILES.json's size.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import json
import os
import re
import sys
import tarfile

import yaml
from packaging.specifiers import SpecifierSet

# What the tarball may hold at its top.
ALLOWED_TOP = frozenset([
    'MANIFEST.json', 'FILES.json', 'README.md', 'LICENSE', 'CHANGELOG.rst',
    'changelogs', 'docs', 'meta', 'playbooks', 'plugins', 'roles',
])
# Of changelogs/, only the release history ships (fragments are the next release's input).
ALLOWED_CHANGELOGS = frozenset(['changelogs', 'changelogs/changelog.yaml', 'changelogs/config.yaml'])
# The tarball holds these, whatever else it holds.
REQUIRED = ('MANIFEST.json', 'FILES.json', 'README.md', 'LICENSE', 'CHANGELOG.rst',
            'meta/runtime.yml', 'changelogs/changelog.yaml')
# The lab demo's playbooks (galaxy.yml build_ignore): they build the microserver's old layout
# on the lab guest's blank disks. Every other playbook ships.
LAB_ONLY = ('playbooks/files', 'playbooks/lab_disks.yml', 'playbooks/microserver_raid_demo.yml')
# Directories whose every file (and each role's README.md) ships.
SHIPPED_TREES = ('plugins', 'roles', 'playbooks', 'meta')
CACHE_PARTS = frozenset(['__pycache__', '.pytest_cache', '.hypothesis', '.ansible', '.cache'])
# Plugin directories without plugin documentation of their own.
UNDOCUMENTED_PLUGIN_DIRS = frozenset(['module_utils', 'doc_fragments'])


def load_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def version_tuple(text):
    """2.16 and 2.16.0 alike: (2, 16, 0)."""
    parts = tuple(int(part) for part in str(text).split('.'))
    return parts + (0,) * (3 - len(parts))


def plugin_documentation(path):
    """The DOCUMENTATION of a plugin file (.py or a .yml beside it), or None."""
    if path.endswith(('.yml', '.yaml')):
        data = load_yaml(path)
        return data.get('DOCUMENTATION') if isinstance(data, dict) else None
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(target, 'id', None) == 'DOCUMENTATION' for target in node.targets):
            return yaml.safe_load(ast.literal_eval(node.value))
    return None


def versions_added(doc, where):
    """(where, version) of every version_added in a documentation tree."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key == 'version_added':
                yield where, value
            else:
                yield from versions_added(value, '%s.%s' % (where, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from versions_added(value, '%s[%d]' % (where, index))


def check_metadata():
    problems = []
    version = str(load_yaml('galaxy.yml')['version'])
    released = sorted((load_yaml('changelogs/changelog.yaml') or {}).get('releases') or {})
    allowed = set([version] + [str(v) for v in released])

    plugins = 0
    for plugin_type in sorted(os.listdir('plugins')):
        directory = os.path.join('plugins', plugin_type)
        if plugin_type in UNDOCUMENTED_PLUGIN_DIRS or not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if name.startswith('_') or not name.endswith(('.py', '.yml', '.yaml')):
                continue
            if plugin_type == 'action':
                # An action is documented by the module of its name (ansible-doc shows that one).
                if name.endswith('.py') and plugin_documentation(os.path.join('plugins', 'modules', name)) is None:
                    problems.append('%s: no plugins/modules/%s documents it' % (path, name))
                continue
            doc = plugin_documentation(path)
            if doc is None:
                if name.endswith('.py'):
                    problems.append('%s: no DOCUMENTATION' % path)
                continue
            plugins += 1
            if 'version_added' not in doc:
                problems.append('%s: no version_added (the release that added it: %s)' % (path, version))
            for where, added in versions_added(doc, 'DOCUMENTATION'):
                if str(added) not in allowed:
                    problems.append('%s: %s.version_added is %s; galaxy.yml says %s%s' % (
                        path, where, added, version,
                        ' and the released versions are %s' % ', '.join(released) if released else ' (nothing released yet)'))

    requires = load_yaml('meta/runtime.yml')['requires_ansible']
    match = re.match(r'^\s*>=\s*([0-9.]+)\s*(,|$)', requires)
    if not match:
        problems.append('meta/runtime.yml: requires_ansible %r has no ">=X.Y" lower bound first' % requires)
    else:
        minimum = version_tuple(match.group(1))
        for role in sorted(os.listdir('roles')):
            meta = os.path.join('roles', role, 'meta', 'main.yml')
            if not os.path.isfile(meta):
                continue
            role_min = (load_yaml(meta).get('galaxy_info') or {}).get('min_ansible_version')
            if role_min is None or version_tuple(role_min) != minimum:
                problems.append('%s: min_ansible_version %s, but meta/runtime.yml requires_ansible is %r' % (
                    meta, role_min, requires))
        problems.extend(check_compat_releases(requires, minimum))
    for problem in problems:
        print('metadata: %s' % problem, file=sys.stderr)
    if not problems:
        releases = [row[0] for row in compat_releases()]
        print('metadata: OK (%d plugins added in %s; every role needs ansible-core %s as meta/runtime.yml says; '
              'make compat runs %s)' % (plugins, version, requires, ', '.join(releases)))
    return not problems


COMPAT_RELEASES = 'tests/compat/releases.txt'
COMPAT_WHERE = ('host', 'trixie', 'dev')
COMPAT_TEST = ('all', 'docs')


def compat_releases():
    """The rows of tests/compat/releases.txt: [release, where, test, full]."""
    with open(COMPAT_RELEASES) as handle:
        return [line.split() for line in handle if line.strip() and not line.startswith('#')]


def check_compat_releases(requires, minimum):
    """tests/compat/releases.txt against requires_ansible (its lower bound MINIMUM) and requirements-dev.txt."""
    problems = []
    rows = compat_releases()
    with open('requirements-dev.txt') as handle:
        pins = re.findall(r'^ansible-core==([0-9.]+)\s*$', handle.read(), re.MULTILINE)
    minors = []
    for row in rows:
        if len(row) != 4 or not re.match(r'^[0-9]+\.[0-9]+\.[0-9]+$', row[0]) or row[1] not in COMPAT_WHERE or row[2] not in COMPAT_TEST:
            problems.append('%s: %r is not "RELEASE WHERE TEST FULL" (WHERE: %s; TEST: %s)' % (
                COMPAT_RELEASES, ' '.join(row), ', '.join(COMPAT_WHERE), ', '.join(COMPAT_TEST)))
            continue
        release, where = row[0], row[1]
        minors.append(version_tuple(release)[:2])
        if release not in SpecifierSet(requires):
            problems.append('%s: ansible-core %s, but meta/runtime.yml requires_ansible is %r' % (COMPAT_RELEASES, release, requires))
        if (where == 'dev') != (release in pins):
            problems.append('%s: ansible-core %s is %s, but requirements-dev.txt pins ansible-core %s' % (
                COMPAT_RELEASES, release, 'the dev row' if where == 'dev' else 'not the dev row', ', '.join(pins) or 'nothing'))
    wanted = [(minimum[0], minimum[1] + offset) for offset in range(len(minors))]
    if not minors or minors != wanted:
        problems.append('%s: its releases are of ansible-core %s; from requires_ansible %r on they must be of %s, one each, in order' % (
            COMPAT_RELEASES, ', '.join('%d.%d' % minor for minor in minors) or 'none',
            requires, ', '.join('%d.%d' % minor for minor in wanted) or '%d.%d and later' % minimum[:2]))
    if pins and not any(row[0] in pins for row in rows):
        problems.append('%s: no row of ansible-core %s, the dev venv\'s (requirements-dev.txt)' % (COMPAT_RELEASES, pins[0]))
    return problems


def shipped_tree_files():
    """Every file of the checkout that must ship: plugins, roles, playbooks (but the lab-only ones), meta."""
    files = set()
    for top in SHIPPED_TREES:
        for root, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d not in CACHE_PARTS)
            for name in names:
                path = os.path.join(root, name)
                if name.endswith(('.pyc', '.orig', '.rej', '.swp', '~')):
                    continue
                if any(path == lab or path.startswith(lab + '/') for lab in LAB_ONLY):
                    continue
                files.add(path)
    return files


def check_tarball(path):
    problems = []
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        names = set(member.name.rstrip('/') for member in members)
        files = set(member.name for member in members if member.isfile())
        manifest = json.load(tar.extractfile('FILES.json')) if 'FILES.json' in names else None
        files_json_size = tar.getmember('FILES.json').size if manifest is not None else 0

    for name in sorted(names):
        parts = name.split('/')
        if parts[0] not in ALLOWED_TOP:
            problems.append('ships %s, which users do not need (not one of %s)' % (name, ', '.join(sorted(ALLOWED_TOP))))
        elif parts[0] == 'changelogs' and name not in ALLOWED_CHANGELOGS:
            problems.append('ships %s (only changelogs/changelog.yaml and config.yaml ship)' % name)
        elif CACHE_PARTS.intersection(parts) or name.endswith('.pyc'):
            problems.append('ships the cache %s' % name)
        elif any(name == lab or name.startswith(lab + '/') for lab in LAB_ONLY):
            problems.append('ships the lab-only %s' % name)
    for name in REQUIRED:
        if name not in names:
            problems.append('lacks %s' % name)
    for name in sorted(shipped_tree_files() - files):
        problems.append('lacks %s' % name)
    for role in sorted(os.listdir('roles')):
        if os.path.isdir(os.path.join('roles', role)) and 'roles/%s/README.md' % role not in files:
            problems.append('lacks roles/%s/README.md (every role has a README)' % role)
    if manifest is not None:
        listed = set(entry['name'] for entry in manifest['files'] if entry['name'] != '.')
        if listed != names - set(['MANIFEST.json', 'FILES.json']):
            problems.append('FILES.json does not list exactly the members: %s' % ', '.join(
                sorted(listed.symmetric_difference(names - set(['MANIFEST.json', 'FILES.json'])))))

    for problem in problems:
        print('tarball: %s' % problem, file=sys.stderr)
    print('tarball: %d entries (%d files, %d directories), FILES.json %d bytes, %s %d bytes' % (
        len(names), len(files), len(names) - len(files), files_json_size, os.path.basename(path), os.path.getsize(path)))
    if not problems:
        print('tarball: OK (every plugin, role and playbook file; none of tests, lab, molecule, benchmarks, scripts, '
              'Makefile, caches, changelog fragments, the lab-only playbooks)')
    return not problems


def main(argv):
    if argv[1:2] == ['metadata'] and len(argv) == 2:
        return 0 if check_metadata() else 1
    if argv[1:2] == ['tarball'] and len(argv) == 3:
        return 0 if check_tarball(argv[2]) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
