# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""common: the atomic write and the no-follow read, with real files under tmp_path where a user
planted links and FIFOs."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.fleet.linux.plugins.module_utils import common
from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal, read_no_follow, write_atomically

AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason='chown to another uid needs root')


class FakeModule(object):
    """The part of AnsibleModule write_atomically uses: SELinux contexts."""

    def __init__(self, selinux=False):
        self.selinux = selinux
        self.contexts = []

    def selinux_enabled(self):
        return self.selinux

    def selinux_context(self, path):
        return ['system_u', 'object_r', 'etc_t', 's0']

    def selinux_default_context(self, path):
        return ['system_u', 'object_r', 'default_t', 's0']

    def set_context_if_different(self, path, context, changed):
        self.contexts.append((os.path.dirname(path), context))
        return changed


MODULE = FakeModule()


def read(path):
    with open(path) as handle:
        return handle.read()


def write(path, text):
    with open(path, 'w') as handle:
        handle.write(text)


def snapshot(directory):
    """Every entry below ``directory`` with what it is (kind, owner, mode, content or link target)."""
    entries = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            content = os.readlink(path) if stat.S_ISLNK(st.st_mode) else read(path) if stat.S_ISREG(st.st_mode) else None
            entries[path] = (stat.S_IFMT(st.st_mode), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), content)
    return entries


# --- write_atomically -----------------------------------------------------------------------

def test_writes_new_file_with_default_mode_and_no_leftovers(tmp_path):
    target = tmp_path / 'etc' / 'mdadm' / 'mdadm.conf'
    write_atomically(MODULE, str(target), 'ARRAY /dev/md0\n')
    assert read(str(target)) == 'ARRAY /dev/md0\n'
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o644
    assert os.listdir(str(target.parent)) == ['mdadm.conf']


def test_replaces_and_keeps_mode_and_owner_of_the_file_replaced(tmp_path):
    target = str(tmp_path / 'rules')
    write(target, 'old\n')
    os.chmod(target, 0o600)
    before = os.stat(target)
    write_atomically(MODULE, target, 'new\n')
    after = os.stat(target)
    assert read(target) == 'new\n'
    assert stat.S_IMODE(after.st_mode) == 0o600 and (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert after.st_ino != before.st_ino  # a new file renamed over, never written in place


@AS_ROOT
def test_explicit_mode_and_owner(tmp_path):
    target = str(tmp_path / 'config')
    write(target, 'old\n')
    write_atomically(MODULE, target, 'new\n', mode=0o640, owner=4242, group=4343)
    st = os.stat(target)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 4242, 4343)


@pytest.mark.parametrize('trusted', [False, True])
def test_refuses_a_link_at_the_target_and_leaves_what_it_points_to(tmp_path, trusted):
    secret = tmp_path / 'shadow'
    write(str(secret), 'root:$6$secret\n')
    os.chmod(str(secret), 0o640)
    home = tmp_path / 'home'
    home.mkdir()
    os.symlink(str(secret), str(home / 'config'))
    before = snapshot(str(tmp_path))
    with pytest.raises(Refusal, match='config is a symbolic link, not a regular file'):
        write_atomically(MODULE, str(home / 'config'), 'owned\n', trusted_dir=str(home) if trusted else None)
    assert snapshot(str(tmp_path)) == before


def test_refuses_a_fifo_at_the_target_without_blocking(tmp_path):
    fifo = str(tmp_path / 'default.conf')
    os.mkfifo(fifo)
    with pytest.raises(Refusal, match='is a FIFO, not a regular file'):
        write_atomically(MODULE, fifo, 'x\n')
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.listdir(str(tmp_path)) == ['default.conf']


def test_refuses_a_directory_at_the_target(tmp_path):
    (tmp_path / 'config').mkdir()
    with pytest.raises(Refusal, match='is a directory'):
        write_atomically(MODULE, str(tmp_path / 'config'), 'x\n')


def test_temporary_name_is_unpredictable_and_a_link_planted_there_is_not_followed(tmp_path, monkeypatch):
    """The old fixed name .NAME.fleet-tmp, and the next random name, both planted: neither is followed."""
    victim = tmp_path / 'victim'
    write(str(victim), 'precious\n')
    directory = tmp_path / 'dir'
    directory.mkdir()
    os.symlink(str(victim), str(directory / '.config.fleet-tmp'))
    draws = iter([b'\x00' * 8, b'\x11' * 8])
    monkeypatch.setattr(common.os, 'urandom', lambda n: next(draws))
    os.symlink(str(victim), str(directory / ('.config.%s.tmp' % ('00' * 8))))
    write_atomically(MODULE, str(directory / 'config'), 'mine\n')
    assert read(str(victim)) == 'precious\n'
    assert read(str(directory / 'config')) == 'mine\n'
    assert sorted(os.listdir(str(directory))) == sorted(['.config.fleet-tmp', '.config.%s.tmp' % ('00' * 8), 'config'])


def test_refuses_a_linked_directory_below_the_trusted_one(tmp_path):
    etc = tmp_path / 'etc'
    (etc / 'lxc').mkdir(parents=True)
    home = tmp_path / 'home' / 'lxc-web'
    home.mkdir(parents=True)
    os.symlink(str(etc), str(home / '.config'))
    before = snapshot(str(tmp_path))
    with pytest.raises(Refusal, match=r'lxc-web/\.config is a symbolic link or not a directory: refusing to follow it below'):
        write_atomically(MODULE, str(home / '.config' / 'lxc' / 'default.conf'), 'x\n', trusted_dir=str(home))
    assert snapshot(str(tmp_path)) == before


def test_refuses_a_path_outside_the_trusted_directory(tmp_path):
    with pytest.raises(Refusal, match='is not below'):
        write_atomically(MODULE, str(tmp_path / 'a' / '..' / '..' / 'x'), 'x\n', trusted_dir=str(tmp_path / 'a'))


def test_follows_links_of_a_trusted_path(tmp_path):
    """Without trusted_dir the directory is root's own (/etc): a link there is the admin's choice."""
    real = tmp_path / 'real'
    real.mkdir()
    os.symlink(str(real), str(tmp_path / 'rules.d'))
    write_atomically(MODULE, str(tmp_path / 'rules.d' / 'x.rules'), 'rule\n')
    assert read(str(real / 'x.rules')) == 'rule\n'


def test_failure_leaves_the_target_and_no_temporary_file(tmp_path, monkeypatch):
    target = str(tmp_path / 'mdadm.conf')
    write(target, 'old\n')

    def failing_fsync(fd):
        raise OSError(5, 'Input/output error')
    monkeypatch.setattr(common.os, 'fsync', failing_fsync)
    with pytest.raises(OSError, match='Input/output error'):
        write_atomically(MODULE, target, 'new\n')
    assert read(target) == 'old\n' and os.listdir(str(tmp_path)) == ['mdadm.conf']


def test_fsyncs_the_file_before_the_rename_and_the_directory_after(tmp_path, monkeypatch):
    target = str(tmp_path / 'config')
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        st = os.fstat(fd)
        synced.append(('dir' if stat.S_ISDIR(st.st_mode) else 'file', os.path.exists(target)))
        real_fsync(fd)
    monkeypatch.setattr(common.os, 'fsync', spy)
    write_atomically(MODULE, target, 'x\n')
    assert synced == [('file', False), ('dir', True)]


@pytest.mark.parametrize('exists, context', [(True, 'etc_t'), (False, 'default_t')])
def test_selinux_context_of_the_file_replaced_or_the_default(tmp_path, exists, context):
    target = str(tmp_path / 'mdadm.conf')
    if exists:
        write(target, 'old\n')
    module = FakeModule(selinux=True)
    write_atomically(module, target, 'new\n')
    assert [(d, c[2]) for d, c in module.contexts] == [(str(tmp_path), context)]


# --- read_no_follow ---------------------------------------------------------------------------

@pytest.fixture
def home(tmp_path):
    config = tmp_path / 'home' / 'lxc-web' / '.config' / 'lxc'
    config.mkdir(parents=True)
    return tmp_path / 'home' / 'lxc-web'


def test_reads_a_regular_file_and_its_stat(home):
    write(str(home / '.config' / 'lxc' / 'default.conf'), 'lxc.net.0.link = lxcbr0\n')
    text, st = read_no_follow(str(home / '.config' / 'lxc' / 'default.conf'), str(home), owner=os.geteuid())
    assert text == 'lxc.net.0.link = lxcbr0\n' and stat.S_ISREG(st.st_mode)


def test_missing_file_reads_as_none(home):
    assert read_no_follow(str(home / '.config' / 'lxc' / 'default.conf'), str(home)) == (None, None)


def test_read_refuses_a_link_a_fifo_and_a_linked_directory(tmp_path, home):
    secret = tmp_path / 'shadow'
    write(str(secret), 'root:$6$secret\n')
    path = home / '.config' / 'lxc' / 'default.conf'
    os.symlink(str(secret), str(path))
    with pytest.raises(Refusal, match='default.conf is a symbolic link'):
        read_no_follow(str(path), str(home))
    os.unlink(str(path))
    os.mkfifo(str(path))
    with pytest.raises(Refusal, match='default.conf is a FIFO'):
        read_no_follow(str(path), str(home))
    os.unlink(str(path))
    (home / '.config' / 'lxc').rmdir()
    os.symlink(str(tmp_path), str(home / '.config' / 'lxc'))
    with pytest.raises(Refusal, match=r'\.config/lxc is a symbolic link or not a directory'):
        read_no_follow(str(home / '.config' / 'lxc' / 'shadow'), str(home))


def test_read_refuses_a_file_of_another_owner_and_a_huge_file(home):
    path = str(home / '.config' / 'lxc' / 'default.conf')
    write(path, 'x' * 2048)
    with pytest.raises(Refusal, match='belongs to uid %d, not to uid 4242' % os.geteuid()):
        read_no_follow(path, str(home), owner=4242)
    with pytest.raises(Refusal, match='larger than 1024 bytes'):
        read_no_follow(path, str(home), limit=1024)


def test_missing_directory_on_the_way_reads_as_none(home):
    assert read_no_follow(str(home / '.local' / 'share' / 'lxc' / 'web' / 'config'), str(home)) == (None, None)
