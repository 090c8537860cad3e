# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-doc of every plugin and role of fleet.linux, under the ansible-core of the Python that runs this.

  PYTHON tests/compat/docs.py        (from the checkout's top directory; tests/compat/run runs it)

ANSIBLE_COLLECTIONS_PATH must find this checkout as fleet.linux (make collection). What the checkout holds
is what must be documented: every file of plugins/modules (module), each documented plugin of the other
plugin directories by its DOCUMENTATION name (filter, ...; not module_utils, doc_fragments, nor action,
which its module documents), and every role with meta/argument_specs.yml, each of its entry points.
Per plugin type, one `ansible-doc -t TYPE NAME...` renders every one of them with exit status 0 and
nothing on stderr (no error, no warning: ansible-core warns, for one, when meta/runtime.yml's
requires_ansible excludes it), each module and plugin with its EXAMPLES and RETURN VALUES, each role
with each entry point. Prints one line per type.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import subprocess
import sys

import yaml

import ansible

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'build'))
from check_package import plugin_documentation  # noqa: E402  (tests/build's, shared)

COLLECTION = 'fleet.linux'
# Plugin directories whose files are not documented plugins of their own.
UNDOCUMENTED = frozenset(['module_utils', 'doc_fragments', 'action'])
# "> MODULE fleet.linux.fs_grow (path)", "> ROLE: *fleet.linux.raid_reshape* (path)", "> FLEET.LINUX.FS_GROW    (path)".
HEADING = re.compile(r'^> (?:[A-Z]+:? )?\*?(%s\.\w+)\*?\s+\(' % re.escape(COLLECTION), re.IGNORECASE | re.MULTILINE)
# ansible-core 2.20's own warning about its internal collection (https://github.com/ansible/ansible/issues/85689):
# not about fleet.linux, so let through, and said so. Any other line on stderr fails.
PROTOMATTER = "[WARNING]: Collection at '%s' does not have a MANIFEST.json file, nor has it galaxy.yml: cannot detect version." % (
    os.path.join(os.path.dirname(ansible.__file__), '_internal', 'ansible_collections', 'ansible', '_protomatter'))


def expected():
    """{plugin type: {name: [regular expression of a line its rendering starts, ...]}} from the checkout."""
    wanted = {}
    for directory in sorted(os.listdir('plugins')):
        path = os.path.join('plugins', directory)
        if directory in UNDOCUMENTED or not os.path.isdir(path):
            continue
        plugin_type = 'module' if directory == 'modules' else directory
        for name in sorted(os.listdir(path)):
            if name.startswith('_') or not name.endswith('.py'):
                continue
            if plugin_type == 'module':
                plugin = name[:-3]
            else:
                doc = plugin_documentation(os.path.join(path, name))
                if doc is None:
                    continue
                plugin = doc['name']
            wanted.setdefault(plugin_type, {})[plugin] = [re.escape(heading) for heading in ('EXAMPLES:', 'RETURN VALUES:')]
    for role in sorted(os.listdir('roles')):
        specs = os.path.join('roles', role, 'meta', 'argument_specs.yml')
        if os.path.isfile(specs):
            with open(specs) as handle:
                entry_points = sorted(yaml.safe_load(handle)['argument_specs'])
            # "ENTRY POINT: *main* - ..." (2.17 and later), "ENTRY POINT: main - ..." (2.16).
            wanted.setdefault('role', {})[role] = [r'ENTRY POINT: \*?%s\*? - ' % re.escape(entry) for entry in entry_points]
    return wanted


def ansible_doc(*args):
    command = [os.path.join(os.path.dirname(sys.executable), 'ansible-doc')] + list(args)
    # Plain text: ansible-doc emphasises names with terminal codes even into a pipe.
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False, env=env)
    problems = []
    if result.returncode:
        problems.append('exit status %d' % result.returncode)
    stderr = [line for line in result.stderr.strip().splitlines() if line.strip() != PROTOMATTER]
    if stderr:
        problems.append('stderr:\n  ' + '\n  '.join(stderr))
    if PROTOMATTER in result.stderr:
        print('docs: %s: ansible-core\'s warning about its own internal collection ansible._protomatter '
              '(ansible/ansible#85689) let through' % ' '.join(['ansible-doc'] + list(args)))
    return result.stdout, ['%s: %s' % (' '.join(['ansible-doc'] + list(args)), problem) for problem in problems]


def renderings(output):
    """{fqcn: its part of a rendering of several plugins}."""
    starts = [(match.start(), match.group(1).lower()) for match in HEADING.finditer(output)]
    ends = [start for start, _fqcn in starts[1:]] + [len(output)]
    return dict((fqcn, output[start:end]) for (start, fqcn), end in zip(starts, ends))


def main():
    problems = []
    for plugin_type, plugins in sorted(expected().items()):
        before = len(problems)
        names = sorted('%s.%s' % (COLLECTION, name) for name in plugins)
        output, found = ansible_doc('-t', plugin_type, *names)
        problems.extend(found)
        parts = renderings(output)
        for name, needed in sorted(plugins.items()):
            fqcn = '%s.%s' % (COLLECTION, name)
            part = parts.get(fqcn)
            if part is None:
                problems.append('ansible-doc -t %s %s: no rendering of it' % (plugin_type, fqcn))
                continue
            problems.extend('ansible-doc -t %s %s: no line like %r' % (plugin_type, fqcn, pattern)
                            for pattern in needed if not re.search('^' + pattern, part, re.MULTILINE))
        if len(problems) == before:
            print('docs: %d %s%s rendered (%d lines): %s' % (
                len(plugins), plugin_type, '' if len(plugins) == 1 else 's', len(output.splitlines()), ', '.join(sorted(plugins))))
    for problem in problems:
        print('docs: %s' % problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
