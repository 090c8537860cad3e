# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by every fleet.linux module: commands under the C locale, refusals, files."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

C_LOCALE = {'LANG': 'C', 'LC_ALL': 'C', 'LC_MESSAGES': 'C'}


class Refusal(Exception):
    """A request refused to protect data: the message says what is wrong and what to do.

    Planners raise it before anything is changed; modules turn it into fail_json.
    """


class CommandRunner(object):
    """Runs one tool's commands as argument lists under the C locale.

    ``run`` fails the module with the command's output on a non-zero exit unless
    ``check_rc=False``; ``argv`` returns the list that would run (for the returned plan).
    """

    def __init__(self, module, tool, required=True):
        self.module = module
        self.path = module.get_bin_path(tool, required=required)
        self.tool = tool

    def argv(self, *args):
        return [self.path or self.tool] + [str(a) for a in args]

    def run(self, *args, **kwargs):
        check_rc = kwargs.pop('check_rc', True)
        cmd = self.argv(*args)
        rc, out, err = self.module.run_command(cmd, environ_update=C_LOCALE, **kwargs)
        if check_rc and rc != 0:
            self.module.fail_json(
                msg='%s failed (exit %d): %s' % (' '.join(cmd), rc, (err or out).strip()),
                cmd=cmd, rc=rc, stdout=out, stderr=err)
        return rc, out, err


def read_file(path, default=None):
    """Whole contents of a file, or ``default`` when it cannot be read."""
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return default


def read_text(path, default=None):
    """Contents of a (sysfs/procfs) file without its trailing newline, or ``default``."""
    text = read_file(path)
    return default if text is None else text.rstrip('\n')


def write_atomically(module, path, content):
    """Give ``path`` this content through a temporary file in its directory and an atomic move."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    tmp = os.path.join(directory, '.%s.fleet-tmp' % os.path.basename(path))
    with open(tmp, 'w') as handle:
        handle.write(content)
    module.atomic_move(tmp, path)
