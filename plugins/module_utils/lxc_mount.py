# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host directories bind-mounted into an unprivileged LXC container: the checks, the plan of the
host directories and the ``lxc.mount.entry`` lines (pure; lxc_unpriv_container reads and acts).

Who could lead root astray: the container's owner (every file below its home is its own) and the
container's root (an unprivileged uid of the owner's range on the host, owner of a read-write
mount's directory). Root creates a mount's host directory, and walks to it, only through
directories that belong to root and that no one else may write to, so nobody but root can put a
link on the way; the module applies check_on_the_way() and check_host_directory() again to the
directories it holds open (each opened without following a link) when it acts.

A read-only mount is read-only twice: the ``ro`` bind mount, and the host directory, which belongs
to root or another user outside the container and gives the container's ids no write access. The
second matters because the container's root owns the container's mount namespace and may remount
a bind mount read-write there.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import stat
from collections import namedtuple

from ansible.module_utils.six import string_types

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal, describe_file_type

MOUNT_KEY = 'lxc.mount.entry'
# Host trees that are kernel filesystems, not data: the container has its own proc and sys.
KERNEL_TREES = ('/proc', '/sys', '/dev')
# lxc.mount.entry is an fstab line: fields split at blanks, backslash escapes (\040).
UNSAFE_CHARACTERS = re.compile(r'[\s\\\x00-\x1f\x7f]')
# Modes of the directories root creates: the ones on the way (root's, searchable by the container's
# root), a read-write mount's (the container root's own), a read-only mount's (root's, readable).
WAY_MODE = 0o755
READ_WRITE_MODE = 0o750
READ_ONLY_MODE = 0o755

Mount = namedtuple('Mount', 'host_path path read_only')
# One existing path on the host as lstat (or fstat of a descriptor) saw it: st_mode, st_uid, st_gid.
Entry = namedtuple('Entry', 'path mode uid gid')
# A directory root creates: path, owner, group and mode.
Directory = namedtuple('Directory', 'path uid gid mode')


def within(path, top):
    """Whether ``path`` is ``top`` or below it (both absolute and normalized)."""
    return path == top or path.startswith(top.rstrip('/') + '/')


def plain_form(path):
    return '/' + '/'.join(name for name in path.split('/') if name not in ('', '.'))


def check_path(label, value, example):
    """An absolute, normalized path that an lxc.mount.entry line can hold, other than /."""
    if not isinstance(value, string_types) or not value:
        raise Refusal('%s is missing: give an absolute path such as %s' % (label, example))
    if UNSAFE_CHARACTERS.search(value):
        raise Refusal('%s %r has a blank, a backslash or a control character: lxc.mount.entry is a line of '
                      'fields split at blanks; choose a path without them' % (label, value))
    if not value.startswith('/'):
        raise Refusal('%s %r is relative: give an absolute path such as %s' % (label, value, example))
    if '..' in value.split('/'):
        raise Refusal('%s %r has a ".." component: give the path it should be without "..", such as %s'
                      % (label, value, example))
    if value != plain_form(value):
        raise Refusal('%s %r is not written plainly (a double or trailing "/" or a "." component): write it as %r'
                      % (label, value, plain_form(value)))
    if value == '/':
        raise Refusal('%s is "/", the whole file system: give a directory of its own such as %s' % (label, example))


def mounts_of(mounts):
    """The ``mounts`` parameter (dicts: host_path, path, read_only) as a list of Mount."""
    return [Mount(item.get('host_path'), item.get('path'), bool(item.get('read_only'))) for item in mounts or []]


def check_mounts(mounts, owner, home):
    """The ``mounts`` parameter as a list of Mount (mounts_of()), checked.

    Refuses paths an entry cannot hold or that climb (check_path), a host_path in a kernel
    filesystem or in the owner's ``home`` (the owner could put links there), a container path given
    twice, and a host_path given twice or inside another mount's.
    """
    result = []
    for mount in mounts_of(mounts):
        host_path, path = mount.host_path, mount.path
        check_path('host_path', host_path, '/srv/lxc/NAME/data')
        check_path('path', path, '/srv/data')
        for tree in KERNEL_TREES:
            if within(host_path, tree):
                raise Refusal('host_path %s is in %s, a kernel file system, not a directory of data: bind-mount a '
                              'directory of data (the container has its own /proc, /sys and /dev)' % (host_path, tree))
        if home and home != '/' and within(host_path, home):
            raise Refusal('host_path %s is in %s, the home of %s, the container\'s owner: the owner could put a link '
                          'there that root would follow; choose a directory outside it, such as /srv/lxc/NAME/data'
                          % (host_path, home, owner))
        for other in result:
            if other.path == path:
                raise Refusal('path %s is given twice (host_path %s and %s): mount one directory there'
                              % (path, other.host_path, host_path))
            if within(host_path, other.host_path) or within(other.host_path, host_path):
                raise Refusal('host_path %s and host_path %s are one in the other: give each mount a directory of its '
                              'own, side by side' % (other.host_path, host_path))
        result.append(mount)
    return result


def mount_entry(mount):
    """The lxc.mount.entry value: a bind mount onto ``path`` relative to the container's rootfs,
    created there as a directory if missing, read-only when asked."""
    return '%s %s none bind,create=dir%s 0 0' % (mount.host_path, mount.path.lstrip('/'),
                                                 ',ro' if mount.read_only else '')


def mount_entries(config_values, mounts):
    """lxc.mount.entry values: those given in ``config`` first, then one per mount."""
    return list(config_values) + [mount_entry(m) for m in mounts]


def check_on_the_way(entry, host_path, container_uid):
    """A directory on the way to ``host_path``: a real directory of root that no
    one else may write to, which the container's root (``container_uid`` on the host) may search."""
    mode = entry.mode
    if stat.S_ISLNK(mode):
        raise Refusal('%s is a symbolic link: root follows no link on the way to host_path %s; give the path without '
                      'links' % (entry.path, host_path))
    if not stat.S_ISDIR(mode):
        raise Refusal('%s is %s, not a directory, so host_path %s cannot be below it: choose another path'
                      % (entry.path, describe_file_type(mode), host_path))
    if entry.uid != 0:
        raise Refusal('%s belongs to uid %d, not to root: its owner could swap what is in it for a link that root would '
                      'follow on the way to host_path %s; choose a host_path whose directories all belong to root'
                      % (entry.path, entry.uid, host_path))
    if mode & 0o022:
        raise Refusal('%s can be written by users other than root (mode %04o): one of them could swap what is in it for '
                      'a link that root would follow on the way to host_path %s; remove that access (chmod go-w) or '
                      'choose another path' % (entry.path, stat.S_IMODE(mode), host_path))
    if not mode & 0o001:
        raise Refusal('%s does not let other users search it (mode %04o): the container\'s root (uid %d on the host) '
                      'could not reach host_path %s to mount it; allow it (chmod o+x) or choose another path'
                      % (entry.path, stat.S_IMODE(mode), container_uid, host_path))


def check_host_directory(entry, mount, uid_range, gid_range):
    """An existing host_path: a real directory; a read-write mount's belongs to the container's root
    (the module hands over only directories it creates), a read-only mount's gives the container's
    ids no write access (they could remount the bind mount read-write)."""
    mode = entry.mode
    if stat.S_ISLNK(mode):
        raise Refusal('host_path %s is a symbolic link: root does not follow it; give the directory itself'
                      % mount.host_path)
    if not stat.S_ISDIR(mode):
        raise Refusal('host_path %s exists and is %s, not a directory: remove it or choose another path'
                      % (mount.host_path, describe_file_type(mode)))
    if not mount.read_only:
        if entry.uid != uid_range.start:
            raise Refusal('host_path %s exists and belongs to uid %d, not to the container\'s root (uid %d on the host): '
                          'the module gives the container only a directory it creates itself; choose a new path, or, '
                          'if the container should own that directory and all in it, chown %d:%d it yourself'
                          % (mount.host_path, entry.uid, uid_range.start, uid_range.start, gid_range.start))
        return
    if uid_range.start <= entry.uid < uid_range.end:
        raise Refusal('host_path %s of a read-only mount belongs to uid %d, one of the container\'s ids: the container '
                      'could make it writable again (its root may remount the bind mount read-write); give it to root '
                      '(chown root:root) or mount it read-write' % (mount.host_path, entry.uid))
    if mode & 0o022:
        raise Refusal('host_path %s of a read-only mount can be written by its group or others (mode %04o): the '
                      'container could write there after remounting the bind mount read-write; remove that access '
                      '(chmod go-w) or mount it read-write' % (mount.host_path, stat.S_IMODE(mode)))


def plan_host_directories(mounts, walks, uid_range, gid_range):
    """The directories root creates for ``mounts`` (Mount), in order, checking what exists.

    ``walks`` maps each host_path to the Entry of every path from / down to the last that exists
    (a link or another non-directory ends it). Missing directories on the way are created as
    root's (0755), a missing host_path as the container root's (0750) for a read-write mount, as
    root's (0755) for a read-only one. Raises Refusal before anything is created.
    """
    planned = []
    for mount in mounts:
        walk = list(walks[mount.host_path])
        last = walk[-1] if walk and walk[-1].path == mount.host_path else None
        for entry in walk:
            if entry is not last:
                check_on_the_way(entry, mount.host_path, uid_range.start)
        if last is not None:
            check_host_directory(last, mount, uid_range, gid_range)
            continue
        names = mount.host_path.split('/')[1:]
        for depth in range(len(walk), len(names) + 1):
            path = '/' + '/'.join(names[:depth])
            if any(d.path == path for d in planned):
                continue
            if path != mount.host_path:
                planned.append(Directory(path, 0, 0, WAY_MODE))
            elif mount.read_only:
                planned.append(Directory(path, 0, 0, READ_ONLY_MODE))
            else:
                planned.append(Directory(path, uid_range.start, gid_range.start, READ_WRITE_MODE))
    return planned


def directory_argv(directory):
    """The command that creates the directory as root does (how the module reports it)."""
    return ['install', '-d', '-o', str(directory.uid), '-g', str(directory.gid), '-m', '%04o' % directory.mode,
            directory.path]


def directory_of(argv):
    """The Directory of a directory_argv() list (the module acts on what it reported)."""
    return Directory(argv[8], int(argv[3]), int(argv[5]), int(argv[7], 8))
