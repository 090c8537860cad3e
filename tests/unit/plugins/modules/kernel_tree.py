# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A /sys and /proc fixture tree for a module's main(), built from captures of the lab microserver.

    tree = KernelTree(tmp_path, {'md0': ('9:0', 260046848)})
    tree.write_proc('swaps', captured_text)
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os


SECTOR = 512
PROC_SWAPS_HEADER = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n'


class KernelTree(object):
    """sys/ (dev/block/MAJ:MIN links, class/block/NAME/{dev,size}) and proc/ under ``root``."""

    def __init__(self, root, devices):
        self.sys_root = os.path.join(str(root), 'sys')
        self.proc_root = os.path.join(str(root), 'proc')
        os.makedirs(os.path.join(self.sys_root, 'dev', 'block'))
        os.makedirs(os.path.join(self.proc_root, 'self'))
        for name, (number, size) in devices.items():
            os.symlink('../../devices/virtual/block/%s' % name, os.path.join(self.sys_root, 'dev', 'block', number))
            os.makedirs(os.path.join(self.sys_root, 'class', 'block', name))
            self.write_sys(os.path.join('class', 'block', name, 'dev'), number + '\n')
            self.resize(name, size)
        self.write_proc('self/mountinfo', '')
        self.write_proc('swaps', PROC_SWAPS_HEADER)
        self.write_proc('meminfo', '')

    def resize(self, name, size):
        self.write_sys(os.path.join('class', 'block', name, 'size'), '%d\n' % (size // SECTOR))

    def write_sys(self, path, text):
        self._write(os.path.join(self.sys_root, path), text)

    def write_proc(self, path, text):
        self._write(os.path.join(self.proc_root, path), text)

    @staticmethod
    def _write(path, text):
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        with open(path, 'w') as handle:
            handle.write(text)
