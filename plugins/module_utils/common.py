# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by every fleet.linux module: commands under the C locale, refusals, files."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import binascii
import errno
import os
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.six.moves import shlex_quote

C_LOCALE = {'LANG': 'C', 'LC_ALL': 'C', 'LC_MESSAGES': 'C'}


class Refusal(Exception):
    """A request refused to protect data: the message says what is wrong and what to do.

    Planners raise it before anything is changed; modules turn it into fail_json.
    """


class TruthfulModule(AnsibleModule):
    """An AnsibleModule whose every failure says whether something was changed before it and what was
    done (``changed``, ``actions``, kept up to date by the module), whoever fails it (a command that exits
    non-zero, atomic_move, an error of the module itself, or a part of a job reporting its own ``changed``
    and ``actions``, which follow the module's)."""

    changed = False
    actions = ()

    def fail_json(self, msg, **kwargs):
        kwargs['changed'] = bool(kwargs.get('changed')) or self.changed
        kwargs['actions'] = list(self.actions) + list(kwargs.get('actions') or [])
        super(TruthfulModule, self).fail_json(msg, **kwargs)


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


def command_line(argv):
    """An argument list as one line a shell would run as that list: how every module reports its actions."""
    return ' '.join(shlex_quote(str(arg)) for arg in argv)


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


# Directories and files below a trusted directory are opened with these flags: a symbolic link
# at any component fails (ELOOP or ENOTDIR) instead of being followed, a FIFO does not block.
DIRECTORY_NO_FOLLOW = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0)
FILE_NO_FOLLOW = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0)
TEMPORARY_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0)
READ_LIMIT = 1 << 20


def components_below(path, trusted_dir):
    """The names that lead from ``trusted_dir`` to ``path`` (both absolute and normalized)."""
    path, trusted_dir = os.path.normpath(path), os.path.normpath(trusted_dir)
    if not os.path.isabs(path) or not os.path.isabs(trusted_dir):
        raise Refusal('%s and %s must be absolute paths' % (path, trusted_dir))
    relative = os.path.relpath(path, trusted_dir)
    if relative == '.' or relative == '..' or relative.startswith('../'):
        raise Refusal('%s is not below %s' % (path, trusted_dir))
    return relative.split('/')


def open_directory(directory, trusted_dir=None):
    """A descriptor of ``directory``.

    Without ``trusted_dir`` the path is trusted as a whole (root's own directories such as /etc):
    links are followed and missing directories are created. With it, every component below
    ``trusted_dir`` is opened without following links and must exist, so a user who owns those
    directories cannot lead the caller elsewhere with a link, now or while it works.
    """
    if trusted_dir is None:
        if not os.path.isdir(directory):
            os.makedirs(directory)
        return os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    names = [] if os.path.normpath(directory) == os.path.normpath(trusted_dir) else components_below(directory, trusted_dir)
    fd = os.open(trusted_dir, os.O_RDONLY | os.O_DIRECTORY)
    walked = trusted_dir
    try:
        for name in names:
            walked = os.path.join(walked, name)
            try:
                child = os.open(name, DIRECTORY_NO_FOLLOW, dir_fd=fd)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise Refusal('%s is a symbolic link or not a directory: refusing to follow it below %s. '
                                  'Replace it with a real directory.' % (walked, trusted_dir))
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def describe_file_type(mode):
    for test, kind in ((stat.S_ISREG, 'a regular file'), (stat.S_ISLNK, 'a symbolic link'), (stat.S_ISDIR, 'a directory'), (stat.S_ISFIFO, 'a FIFO'),
                       (stat.S_ISSOCK, 'a socket'), (stat.S_ISBLK, 'a block device'), (stat.S_ISCHR, 'a character device')):
        if test(mode):
            return kind
    return 'of an unknown type'


def check_regular(path, st, owner=None):
    """Refuse anything but a regular file (owned by ``owner`` when given)."""
    if not stat.S_ISREG(st.st_mode):
        raise Refusal('%s is %s, not a regular file: refusing to read or replace it. Remove it and run again.'
                      % (path, describe_file_type(st.st_mode)))
    if owner is not None and st.st_uid != owner:
        raise Refusal('%s belongs to uid %d, not to uid %d whose file it should be: refusing to use it. '
                      'Remove it and run again.' % (path, st.st_uid, owner))


def read_no_follow(path, trusted_dir, owner=None, limit=READ_LIMIT):
    """(text, stat) of a regular file below ``trusted_dir`` reached without following any link,
    or (None, None) when it (or a directory on the way) does not exist. Refuses a link, a FIFO or
    another special file, a file of another owner than ``owner`` (uid, when given) and one larger
    than ``limit`` bytes."""
    try:
        dir_fd = open_directory(os.path.dirname(path), trusted_dir)
    except OSError as error:
        if error.errno == errno.ENOENT:
            return None, None
        raise
    try:
        try:
            fd = os.open(os.path.basename(path), FILE_NO_FOLLOW, dir_fd=dir_fd)
        except OSError as error:
            if error.errno == errno.ENOENT:
                return None, None
            if error.errno == errno.ELOOP:
                check_regular(path, os.stat(os.path.basename(path), dir_fd=dir_fd, follow_symlinks=False))
            raise
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, 'rb') as handle:
        st = os.fstat(handle.fileno())
        check_regular(path, st, owner)
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise Refusal('%s is larger than %d bytes: refusing to read it.' % (path, limit))
    return data.decode('utf-8', 'surrogateescape'), st


def existing_file(dir_fd, name, path):
    """stat of the regular file ``name`` (not following a link), None if there is none."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as error:
        if error.errno == errno.ENOENT:
            return None
        raise
    check_regular(path, st)
    return st


def create_temporary(dir_fd, name):
    """An unpredictable, new temporary file next to ``name``: (fd, its name)."""
    while True:
        temporary = '.%s.%s.tmp' % (name, binascii.hexlify(os.urandom(8)).decode('ascii'))
        try:
            return os.open(temporary, TEMPORARY_FLAGS, 0o600, dir_fd=dir_fd), temporary
        except OSError as error:
            if error.errno != errno.EEXIST:
                raise


def write_atomically(module, path, content, mode=None, owner=None, group=None, trusted_dir=None):
    """Give ``path`` this content: a new temporary file in its directory, written, given its mode and
    owner, flushed to disk, then renamed over ``path``, and the directory flushed.

    A link, FIFO, directory or other special file at ``path`` is refused, never written through.
    ``mode``, ``owner`` and ``group`` (numeric) default to those of the file replaced, else 0644 and
    the caller's own. ``trusted_dir``: see open_directory(); give it when a user controls the
    directories between it and ``path`` (a home directory). The temporary file is removed on failure.
    In a trusted directory the SELinux context of the file replaced (or the default one) is kept.
    """
    directory, name = os.path.split(os.path.normpath(path))
    dir_fd = open_directory(directory, trusted_dir)
    temporary = None
    try:
        current = existing_file(dir_fd, name, path)
        if mode is None:
            mode = stat.S_IMODE(current.st_mode) if current else 0o644
        if owner is None:
            owner = current.st_uid if current else os.geteuid()
        if group is None:
            group = current.st_gid if current else os.getegid()
        fd, temporary = create_temporary(dir_fd, name)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(content.encode('utf-8', 'surrogateescape'))
            handle.flush()
            os.fchown(handle.fileno(), owner, group)
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        if trusted_dir is None and module.selinux_enabled():
            context = module.selinux_context(path) if current else module.selinux_default_context(path)
            module.set_context_if_different(os.path.join(directory, temporary), context, False)
        os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        temporary = None
        os.fsync(dir_fd)
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary, dir_fd=dir_fd)
            except OSError:
                pass
        os.close(dir_fd)
