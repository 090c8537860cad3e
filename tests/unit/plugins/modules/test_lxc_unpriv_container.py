# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lxc_unpriv_container's main() against a fixture host under tmp_path (/etc/subuid, the owner's
home) and lxc outputs captured on the lab Pi node; the owner plants links and FIFOs where root reads
and writes, and nothing outside the owner's tree may change."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import os
import stat

import pytest

from ansible_collections.fleet.linux.plugins.modules import lxc_unpriv_container
from ansible_collections.fleet.linux.tests.unit.plugins.modules.harness import FakeCommands, run_module

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'lxc')
# The owner must not be root; as root the files are given to a made-up uid, else to the tester.
OWNER_UID = os.geteuid() or 4242
OWNER_GID = os.getegid() if os.geteuid() else 4242
SECRET = 'root:$6$do-not-leak:19000:0:99999:7:::\n'
PasswdEntry = collections.namedtuple('PasswdEntry', 'pw_name pw_uid pw_gid pw_dir')


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def write(path, text, own=True):
    with open(str(path), 'w') as handle:
        handle.write(text)
    if own:
        os.lchown(str(path), OWNER_UID, OWNER_GID)


def read(path):
    with open(str(path)) as handle:
        return handle.read()


class Host(object):
    """/etc/subuid, /etc/subgid, a secret root file and the homes of lxc-web and lxc-db under tmp_path."""

    def __init__(self, tmp_path, monkeypatch):
        self.root = tmp_path
        (tmp_path / 'etc').mkdir()
        write(tmp_path / 'etc' / 'subuid', fixture('subuid.txt'), own=False)
        write(tmp_path / 'etc' / 'subgid', fixture('subuid.txt'), own=False)
        self.secret = tmp_path / 'etc' / 'shadow'
        write(self.secret, SECRET, own=False)
        os.chmod(str(self.secret), 0o640)
        self.home = tmp_path / 'home' / 'lxc-web'
        for directory in ('', '.config', '.config/lxc', '.local', '.local/share', '.local/share/lxc'):
            (self.home / directory).mkdir(parents=True, exist_ok=True)
            os.lchown(str(self.home / directory), OWNER_UID, OWNER_GID)
        write(self.default_conf, 'lxc.include = /etc/lxc/default.conf\nlxc.net.0.type = veth\n'
                                 'lxc.idmap = u 0 165536 65536\nlxc.idmap = g 0 165536 65536\n')
        (tmp_path / 'image').mkdir()
        for name in ('meta.tar.xz', 'rootfs.tar.xz'):
            write(tmp_path / 'image' / name, 'xz', own=False)
        entries = [PasswdEntry('root', 0, 0, '/root'), PasswdEntry('lxc-web', OWNER_UID, OWNER_GID, str(self.home)),
                   PasswdEntry('lxc-db', OWNER_UID + 1, OWNER_GID + 1, str(tmp_path / 'home' / 'lxc-db'))]
        monkeypatch.setattr(lxc_unpriv_container, 'pwd', FakePwd(entries))
        for name, path in (('SUBUID_FILE', 'etc/subuid'), ('SUBGID_FILE', 'etc/subgid'), ('SYSTEM_LXC_PATH', 'var/lib/lxc'),
                           ('SYSTEMD_RUNTIME', 'run/systemd/system'), ('LINGER_DIR', 'var/lib/systemd/linger'),
                           ('USER_RUNTIME', 'run/user')):
            monkeypatch.setattr(lxc_unpriv_container, name, str(tmp_path / path))

    @property
    def default_conf(self):
        return self.home / '.config' / 'lxc' / 'default.conf'

    @property
    def container_dir(self):
        return self.home / '.local' / 'share' / 'lxc' / 'web'

    def add_container(self, config=None, mode=0o640):
        self.container_dir.mkdir()
        os.lchown(str(self.container_dir), OWNER_UID, OWNER_GID)
        write(self.container_dir / 'config', config or (
            'lxc.include = /usr/share/lxc/config/common.conf\n'
            'lxc.idmap = u 0 165536 65536\nlxc.idmap = g 0 165536 65536\nlxc.start.auto = 1\n'))
        os.chmod(str(self.container_dir / 'config'), mode)

    def outside_owner_tree(self):
        """Kind, owner, mode and content of everything not below the owner's home."""
        seen = {}
        for root, dirs, files in os.walk(str(self.root)):
            if root.startswith(str(self.home)):
                continue
            for name in dirs + files:
                path = os.path.join(root, name)
                st = os.lstat(path)
                content = read(path) if stat.S_ISREG(st.st_mode) else None
                seen[path] = (stat.S_IFMT(st.st_mode), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), content)
        return seen

    def args(self, **kwargs):
        base = dict(name='web', owner='lxc-web', metadata=str(self.root / 'image' / 'meta.tar.xz'),
                    rootfs=str(self.root / 'image' / 'rootfs.tar.xz'))
        base.update(kwargs)
        return base


class FakePwd(object):
    def __init__(self, entries):
        self.entries = entries

    def getpwnam(self, name):
        for entry in self.entries:
            if entry.pw_name == name:
                return entry
        raise KeyError(name)

    def getpwall(self):
        return list(self.entries)


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


def as_owner(*args):
    """The command as the module runs it for lxc-web (FakeCommands keys: the tool's base name first)."""
    runtime = '/run/user/%d' % OWNER_UID
    return ('sudo', '-u', 'lxc-web', '-H', '--', '/usr/sbin/env', 'XDG_RUNTIME_DIR=%s' % runtime,
            'DBUS_SESSION_BUS_ADDRESS=unix:path=%s/bus' % runtime, '/usr/sbin/%s' % args[0]) + tuple(args[1:])


INFO = as_owner('lxc-info', '-n', 'web')


def run(monkeypatch, host, commands, check_mode=False, **kwargs):
    return run_module(lxc_unpriv_container, host.args(**kwargs), commands, check_mode=check_mode, monkeypatch=monkeypatch)


def assert_refused(result, message, commands, host, before):
    assert result['failed'] and result['changed'] is False, result
    assert message in result['msg'], result['msg']
    assert commands.calls == []
    assert host.outside_owner_tree() == before
    assert read(host.secret) == SECRET


# --- the owner plants links and FIFOs where root reads and writes --------------------------------

@pytest.mark.parametrize('check_mode', [True, False])
def test_container_config_linked_to_a_root_file_is_refused(monkeypatch, host, check_mode):
    host.add_container()
    os.unlink(str(host.container_dir / 'config'))
    os.symlink(str(host.secret), str(host.container_dir / 'config'))
    before = host.outside_owner_tree()
    commands = FakeCommands()
    result = run(monkeypatch, host, commands, check_mode=check_mode, config={'lxc.cgroup2.memory.max': '512M'})
    assert_refused(result, 'web/config is a symbolic link, not a regular file: refusing to read or replace it', commands,
                   host, before)
    assert os.readlink(str(host.container_dir / 'config')) == str(host.secret)


def test_container_config_as_a_fifo_is_refused_without_blocking(monkeypatch, host):
    host.add_container()
    os.unlink(str(host.container_dir / 'config'))
    os.mkfifo(str(host.container_dir / 'config'))
    before = host.outside_owner_tree()
    commands = FakeCommands()
    assert_refused(run(monkeypatch, host, commands), 'web/config is a FIFO', commands, host, before)


def test_container_config_hard_linked_from_root_is_refused(monkeypatch, host):
    """A file that is not the owner's (a hard link to a root file, where the kernel allows it)."""
    host.add_container()
    os.lchown(str(host.container_dir / 'config'), OWNER_UID + 1, OWNER_GID)
    before = host.outside_owner_tree()
    commands = FakeCommands()
    assert_refused(run(monkeypatch, host, commands), 'web/config belongs to uid %d, not to uid %d' % (OWNER_UID + 1, OWNER_UID),
                   commands, host, before)


@pytest.mark.parametrize('plant', ['link', 'fifo'])
def test_default_conf_planted_is_refused_before_anything_runs(monkeypatch, host, plant):
    os.unlink(str(host.default_conf))
    if plant == 'link':
        os.symlink(str(host.secret), str(host.default_conf))
    else:
        os.mkfifo(str(host.default_conf))
    before = host.outside_owner_tree()
    commands = FakeCommands()
    assert_refused(run(monkeypatch, host, commands), 'default.conf is a %s' % ('symbolic link' if plant == 'link' else 'FIFO'),
                   commands, host, before)


@pytest.mark.parametrize('linked', ['.local', '.local/share/lxc', '.config'])
def test_linked_directory_in_the_owner_home_is_refused(monkeypatch, host, linked):
    target = host.root / 'etc' / 'lxc'
    (target / 'web').mkdir(parents=True)
    write(target / 'web' / 'config', 'lxc.idmap = u 0 165536 65536\n', own=False)
    write(target / 'default.conf', 'lxc.net.0.type = empty\n', own=False)
    moved = host.root / 'moved'
    os.rename(str(host.home / linked), str(moved))
    os.symlink(str(target), str(host.home / linked))
    before = host.outside_owner_tree()
    commands = FakeCommands()
    assert_refused(run(monkeypatch, host, commands), '%s is a symbolic link or not a directory: refusing to follow it below %s'
                   % (os.path.join(str(host.home), linked.split('/')[0] if linked == '.local' else linked), host.home),
                   commands, host, before)


# --- root writes as it should ------------------------------------------------------------------

def test_config_change_is_a_new_file_of_the_owner_with_its_mode(monkeypatch, host):
    host.add_container(mode=0o640)
    old_inode = os.stat(str(host.container_dir / 'config')).st_ino
    before = host.outside_owner_tree()
    commands = FakeCommands({INFO: (0, fixture('lxc-info-running.txt'), '')})
    result = run(monkeypatch, host, commands, config={'lxc.cgroup2.memory.max': '512M'})
    assert not result.get('failed') and result['changed'], result
    st = os.stat(str(host.container_dir / 'config'))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (OWNER_UID, OWNER_GID, 0o640) and st.st_ino != old_inode
    assert 'lxc.cgroup2.memory.max = 512M' in read(host.container_dir / 'config').splitlines()
    assert os.listdir(str(host.container_dir)) == ['config']
    assert host.outside_owner_tree() == before


def test_create_hands_lxc_create_a_file_in_a_directory_of_root(monkeypatch, host):
    seen = {}

    def lxc_create(argv):
        conf = argv[argv.index('-f') + 1]
        directory = os.stat(os.path.dirname(conf))
        st = os.lstat(conf)
        seen.update(dir=(directory.st_uid, stat.S_IMODE(directory.st_mode)), conf=(st.st_uid, stat.S_IMODE(st.st_mode)),
                    text=read(conf), path=conf)
        host.add_container(config=fixture('container-config.txt').replace('200000', '165536'))
        return 0, '', ''
    create = as_owner('lxc-create', '-n', 'web', '-f', '{create_config}', '-t', 'local', '--',
                      '--metadata', host.args()['metadata'], '--fstree', host.args()['rootfs'])
    commands = CreateCommands(create[:create.index('{create_config}')], lxc_create,
                              {INFO: (0, fixture('lxc-info-stopped.txt'), '')})
    result = run(monkeypatch, host, commands, state='stopped')
    assert not result.get('failed') and result['changed'] and result['state'] == 'stopped', result
    assert seen['dir'] == (os.geteuid(), 0o711)
    assert seen['conf'] == (OWNER_UID, 0o600)
    assert 'lxc.idmap = u 0 165536 65536' in seen['text'].splitlines()
    assert 'lxc.net.0.type = veth' in seen['text'].splitlines()
    assert not os.path.exists(os.path.dirname(seen['path']))
    assert 'lxc.start.auto = 1' in read(host.container_dir / 'config').splitlines()


class CreateCommands(FakeCommands):
    """lxc-create's -f path is a fresh temporary file: matched by the argv before it."""

    def __init__(self, create_prefix, create, table):
        FakeCommands.__init__(self, table)
        self.create_prefix = create_prefix
        self.create = create

    def __call__(self, module, args, **kwargs):
        argv = [str(a) for a in args]
        key = tuple([os.path.basename(argv[0])] + argv[1:])
        if key[:len(self.create_prefix)] == self.create_prefix:
            self.calls.append(list(key))
            return self.create(key)
        return FakeCommands.__call__(self, module, args, **kwargs)


# --- changed tells the truth on failure ----------------------------------------------------------

@pytest.mark.parametrize('config, changed', [({}, False), ({'lxc.cgroup2.memory.max': '512M'}, True)])
def test_failed_start_says_whether_something_changed(monkeypatch, host, config, changed):
    host.add_container()
    commands = FakeCommands({INFO: (0, fixture('lxc-info-stopped.txt'), ''),
                             as_owner('lxc-start', '-n', 'web'): (1, '', 'lxc-start: web: failed to start')})
    result = run(monkeypatch, host, commands, config=config)
    assert result['failed'] and result['changed'] is changed, result
    assert 'failed to start' in result['msg']
    assert [line.split()[0] for line in result['actions']] == (['write'] if changed else [])


# --- parameters refused before anything is read or run -------------------------------------------

@pytest.mark.parametrize('kwargs, message', [
    (dict(config={'lxc.cgroup2.memory.max': '512M\nlxc.idmap = u 0 0 65536'}), 'has a value with a control character'),
    (dict(config={'lxc.idmap': 'u 0 0 65536'}), 'config must not set lxc.idmap'),
    (dict(config={'lxc.id_map': 'u 0 0 65536'}), 'config must not set lxc.id_map'),
    (dict(config={'lxc.net.0.link\nlxc.idmap': 'x'}), 'is not an LXC configuration key'),
    (dict(timeout=0), 'timeout is 0'),
    (dict(rootfs=None), 'template=local needs metadata and rootfs'),
    (dict(owner='root'), 'is root'),
    (dict(owner='nobody-here'), "unknown owner 'nobody-here'"),
])
def test_wrong_parameters_are_refused_before_anything_runs(monkeypatch, host, kwargs, message):
    before = host.outside_owner_tree()
    commands = FakeCommands()
    args = host.args(**kwargs)
    if args.get('rootfs') is None:
        args.pop('rootfs')
    result = run_module(lxc_unpriv_container, args, commands, monkeypatch=monkeypatch)
    assert_refused(result, message, commands, host, before)


# --- bind mounts: root creates the host directories without being led astray ----------------------

AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason='giving a directory to the container root (uid 165536) needs root')
MOUNTS = [{'host_path': '/srv/lxc/web/data', 'path': '/srv/data'},
          {'host_path': '/srv/lxc/shared', 'path': '/srv/shared', 'read_only': True}]
ENTRIES = ['lxc.mount.entry = /srv/lxc/web/data srv/data none bind,create=dir 0 0',
           'lxc.mount.entry = /srv/lxc/shared srv/shared none bind,create=dir,ro 0 0']
STOPPED = {INFO: (0, fixture('lxc-info-stopped.txt'), '')}


@pytest.fixture
def host_root(tmp_path, monkeypatch):
    """The host's / for mounts: a directory of root (0755) holding /srv (0755)."""
    root = tmp_path / 'host'
    (root / 'srv').mkdir(parents=True)
    for path in (root, root / 'srv'):
        os.chmod(str(path), 0o755)
    monkeypatch.setattr(lxc_unpriv_container, 'HOST_ROOT', str(root))
    return root


def owner_mode(path):
    st = os.lstat(str(path))
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


@AS_ROOT
def test_mounts_create_their_directories_and_entries_then_change_nothing(monkeypatch, host, host_root):
    host.add_container()
    result = run(monkeypatch, host, FakeCommands(STOPPED), state='stopped', mounts=MOUNTS)
    assert not result.get('failed') and result['changed'], result
    assert result['actions'] == [
        'install -d -o 0 -g 0 -m 0755 /srv/lxc', 'install -d -o 0 -g 0 -m 0755 /srv/lxc/web',
        'install -d -o 165536 -g 165536 -m 0750 /srv/lxc/web/data', 'install -d -o 0 -g 0 -m 0755 /srv/lxc/shared',
        'write %s lxc.mount.entry' % (host.container_dir / 'config')]
    assert owner_mode(host_root / 'srv' / 'lxc') == (0, 0, 0o755)
    assert owner_mode(host_root / 'srv' / 'lxc' / 'web' / 'data') == (165536, 165536, 0o750)
    assert owner_mode(host_root / 'srv' / 'lxc' / 'shared') == (0, 0, 0o755)
    assert [line for line in read(host.container_dir / 'config').splitlines() if 'mount' in line] == ENTRIES
    commands = FakeCommands(STOPPED)
    again = run(monkeypatch, host, commands, state='stopped', mounts=MOUNTS)
    assert not again.get('failed') and not again['changed'] and again['actions'] == [], again


@AS_ROOT
def test_mounts_in_check_mode_plan_and_create_nothing(monkeypatch, host, host_root):
    host.add_container()
    before = host.outside_owner_tree()
    config = read(host.container_dir / 'config')
    result = run(monkeypatch, host, FakeCommands(STOPPED), check_mode=True, state='stopped', mounts=MOUNTS)
    assert result['changed'] and len(result['actions']) == 5 and result['actions'][2].startswith('install -d -o 165536')
    assert os.listdir(str(host_root / 'srv')) == []
    assert host.outside_owner_tree() == before and read(host.container_dir / 'config') == config


def plant(host_root, tmp_path, how):
    """/srv/lxc as something root must not walk through; returns the directory a link would lead to."""
    elsewhere = tmp_path / 'etc-like'
    (elsewhere / 'web').mkdir(parents=True)
    lxc_dir = host_root / 'srv' / 'lxc'
    if how == 'link':
        os.symlink(str(elsewhere), str(lxc_dir))
    elif how == 'owner':
        (lxc_dir / 'web').mkdir(parents=True)
        os.chmod(str(lxc_dir), 0o755)
        os.lchown(str(lxc_dir), OWNER_UID, OWNER_GID)
    elif how == 'writable':
        lxc_dir.mkdir()
        os.chmod(str(lxc_dir), 0o1777)
    return elsewhere


@AS_ROOT
@pytest.mark.parametrize('how, message', [
    ('link', '/srv/lxc is a symbolic link: root follows no link on the way to host_path /srv/lxc/web/data'),
    ('owner', '/srv/lxc belongs to uid %d, not to root' % OWNER_UID),
    ('writable', '/srv/lxc can be written by users other than root (mode 1777)'),
])
def test_mounts_refuse_a_way_others_could_swap_a_link_into(monkeypatch, host, host_root, tmp_path, how, message):
    host.add_container()
    plant(host_root, tmp_path, how)
    before = host.outside_owner_tree()
    commands = FakeCommands(STOPPED)
    result = run(monkeypatch, host, commands, state='stopped', mounts=MOUNTS)
    assert result['failed'] and result['changed'] is False and message in result['msg'], result
    assert commands.calls == [list(INFO)] and host.outside_owner_tree() == before


@AS_ROOT
@pytest.mark.parametrize('how, message', [
    ('link', '/srv/lxc is no longer a directory (a link or another file took its place while the module ran)'),
    ('owner', '/srv/lxc belongs to uid %d, not to root' % OWNER_UID),
])
def test_mounts_act_on_what_they_open_not_on_what_they_saw(monkeypatch, host, host_root, tmp_path, how, message):
    """/srv/lxc changes between the look and the act (the look is stale): root creates nothing through it."""
    host.add_container()
    elsewhere = plant(host_root, tmp_path, how)
    stale = [lxc_unpriv_container.Entry(path, stat.S_IFDIR | 0o755, 0, 0) for path in ('/', '/srv', '/srv/lxc', '/srv/lxc/web')]
    monkeypatch.setattr(lxc_unpriv_container, 'walk_host_path', lambda host_path: stale)
    before = host.outside_owner_tree()
    result = run(monkeypatch, host, FakeCommands(STOPPED), state='stopped', mounts=MOUNTS[:1])
    assert result['failed'] and result['changed'] is False and message in result['msg'], result
    assert os.listdir(str(elsewhere / 'web')) == [] and host.outside_owner_tree() == before


@AS_ROOT
def test_mounts_refuse_a_host_path_that_is_not_a_directory_of_the_container(monkeypatch, host, host_root):
    host.add_container()
    (host_root / 'srv' / 'lxc' / 'web').mkdir(parents=True)
    os.chmod(str(host_root / 'srv' / 'lxc'), 0o755)
    os.chmod(str(host_root / 'srv' / 'lxc' / 'web'), 0o755)
    write(host_root / 'srv' / 'lxc' / 'web' / 'data', 'a file\n', own=False)
    before = host.outside_owner_tree()
    result = run(monkeypatch, host, FakeCommands(STOPPED), state='stopped', mounts=MOUNTS)
    assert result['failed'] and 'host_path /srv/lxc/web/data exists and is a regular file, not a directory' in result['msg']
    os.unlink(str(host_root / 'srv' / 'lxc' / 'web' / 'data'))
    (host_root / 'srv' / 'lxc' / 'web' / 'data').mkdir()
    result = run(monkeypatch, host, FakeCommands(STOPPED), state='stopped', mounts=MOUNTS)
    assert result['failed'] and 'exists and belongs to uid 0, not to the container\'s root (uid 165536' in result['msg']
    assert owner_mode(host_root / 'srv' / 'lxc' / 'web' / 'data')[:2] == (0, 0)
    assert not (host_root / 'srv' / 'lxc' / 'shared').exists()
    assert sorted(host.outside_owner_tree()) == sorted(before)
