# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() as Ansible would, against commands and files captured from the lab.

    commands = FakeCommands({('mdadm', '--detail', '--export', '/dev/md1'): (0, DETAIL, '')})
    result = run_module(md_reshape, {'device': '/dev/md1', ...}, commands, check_mode=True)
    assert result['failed'] and commands.calls == [...]

Commands are matched by the tool's base name and the rest of the argv; a command that is not in
the table fails the test (a module must never run what the test did not foresee). Every call is
recorded in ``commands.calls`` so a test can assert that nothing changing ran before a refusal.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import functools
import io
import json
import os
import stat as stat_module
import sys

from ansible.module_utils import basic


class FakeCommands(object):
    """A table of argv -> (rc, stdout, stderr); the key's first item is the tool's base name.

    A value may also be a callable taking the argv (for commands whose output depends on state).
    """

    def __init__(self, table=None):
        self.table = dict(table or {})
        self.calls = []

    def __get__(self, module, owner=None):
        """Bound as AnsibleModule.run_command: called with the module first."""
        return functools.partial(self, module)

    def add(self, argv, rc=0, out='', err=''):
        self.table[tuple(argv)] = (rc, out, err)

    def __call__(self, module, args, **kwargs):
        argv = [str(a) for a in (args if isinstance(args, (list, tuple)) else args.split())]
        key = tuple([os.path.basename(argv[0])] + argv[1:])
        self.calls.append(list(key))
        if key not in self.table:
            raise AssertionError('unexpected command: %s' % ' '.join(key))
        answer = self.table[key]
        rc, out, err = answer(key) if callable(answer) else answer
        return rc, out, err

    def ran(self, *tools):
        """The recorded calls whose tool is one of ``tools``."""
        return [call for call in self.calls if call[0] in tools]


class FakeStat(object):
    """os.stat for a fixture /dev: path -> 'b MAJ:MIN' (block device), 'file', 'dir', 'chr MAJ:MIN';
    a link is given as 'link TARGET' and followed. Paths not listed do not exist."""

    def __init__(self, entries):
        self.entries = entries

    def __call__(self, path):
        seen = 0
        entry = self.entries.get(path)
        while entry is not None and entry.startswith('link '):
            path = entry.split(' ', 1)[1]
            entry = self.entries.get(path)
            seen += 1
            if seen > 40:
                raise OSError(40, 'Too many levels of symbolic links', path)
        if entry is None:
            raise OSError(2, 'No such file or directory', path)
        kind, _sep, number = entry.partition(' ')
        mode = {'b': stat_module.S_IFBLK, 'chr': stat_module.S_IFCHR, 'file': stat_module.S_IFREG,
                'dir': stat_module.S_IFDIR, 'fifo': stat_module.S_IFIFO}[kind] | 0o660
        major, minor = (int(n) for n in number.split(':')) if number else (0, 0)
        return FakeStatResult(mode, os.makedev(major, minor))


class FakeStatResult(object):
    def __init__(self, mode, rdev):
        self.st_mode = mode
        self.st_rdev = rdev
        self.st_dev = 0
        self.st_uid = self.st_gid = self.st_size = 0


def run_module(module, args, commands, check_mode=False, diff=False, bin_dir='/usr/sbin', monkeypatch=None,
               missing_tools=()):
    """Run ``module.main()`` with these parameters; returns its result dict ('failed' set on fail_json).

    Every tool is found in ``bin_dir`` except ``missing_tools``; the module's warnings are under 'warnings'.
    ``monkeypatch`` (pytest's) patches AnsibleModule for the duration of the test.
    """
    args = dict(args)
    args['_ansible_check_mode'] = check_mode
    args['_ansible_diff'] = diff
    args.setdefault('_ansible_remote_tmp', '/tmp')
    args.setdefault('_ansible_keep_remote_files', False)

    warnings = []

    # As AnsibleModule's own: the result printed as JSON on standard output, then the process's exit.
    def exit_json(self, **kwargs):
        kwargs.setdefault('changed', False)
        if warnings:
            kwargs['warnings'] = warnings
        print('\n%s' % json.dumps(kwargs))
        sys.exit(0)

    def fail_json(self, msg, **kwargs):
        kwargs['failed'] = True
        kwargs['msg'] = msg
        if warnings:
            kwargs['warnings'] = warnings
        print('\n%s' % json.dumps(kwargs))
        sys.exit(1)

    def warn(self, warning):
        warnings.append(warning)

    def get_bin_path(self, arg, required=False, opt_dirs=None):
        if arg in missing_tools:
            if required:
                self.fail_json(msg='Failed to find required executable "%s"' % arg)
            return None
        return os.path.join(bin_dir, arg)

    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', commands)
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', get_bin_path)
    monkeypatch.setattr(basic.AnsibleModule, 'warn', warn)
    monkeypatch.setattr(basic, '_ANSIBLE_ARGS', json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode('utf-8'))
    if hasattr(basic, '_ANSIBLE_PROFILE'):
        monkeypatch.setattr(basic, '_ANSIBLE_PROFILE', 'legacy')
    printed = io.StringIO()
    monkeypatch.setattr(sys, 'stdout', printed)
    try:
        module.main()
    except SystemExit:
        lines = printed.getvalue().strip().splitlines()
        return json.loads(lines[-1])
    raise AssertionError('%s.main() returned without exit_json or fail_json' % module.__name__)
