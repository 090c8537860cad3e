# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lxc_mount: the checks of a bind mount's paths, the plan of its host directories and its
lxc.mount.entry, as decision tables; and how lxc's planner and config take them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import stat

import pytest

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils import lxc, lxc_mount
from ansible_collections.fleet.linux.plugins.module_utils.lxc_mount import Directory, Entry, Mount

R = lxc.SubIdRange
WEB_U, WEB_G = R('lxc-web', 165536, 65536), R('lxc-web', 165536, 65536)
HOME = '/home/lxc-web'
RW = Mount('/srv/lxc/web/data', '/srv/data', False)
RO = Mount('/srv/lxc/shared', '/srv/shared', True)


def refused(message):
    return pytest.raises(Refusal, match=re.escape(message))


def directory(path, mode=0o755, uid=0, gid=0):
    return Entry(path, stat.S_IFDIR | mode, uid, gid)


def link(path):
    return Entry(path, stat.S_IFLNK | 0o777, 0, 0)


def regular(path, uid=0):
    return Entry(path, stat.S_IFREG | 0o644, uid, uid)


ROOT = directory('/')
SRV = directory('/srv')


# --- the paths -------------------------------------------------------------------------------

@pytest.mark.parametrize('item, message', [
    ({'host_path': 'srv/data', 'path': '/srv/data'}, "host_path 'srv/data' is relative: give an absolute path"),
    ({'host_path': '/srv/data', 'path': 'srv/data'}, "path 'srv/data' is relative: give an absolute path"),
    ({'host_path': '/srv/../etc', 'path': '/srv/data'}, "host_path '/srv/../etc' has a \"..\" component"),
    ({'host_path': '/srv/data', 'path': '/srv/../../etc'}, "path '/srv/../../etc' has a \"..\" component"),
    ({'host_path': '/srv/data', 'path': '/..'}, "path '/..' has a \"..\" component"),
    ({'host_path': '/srv//data', 'path': '/srv/data'}, "host_path '/srv//data' is not written plainly"),
    ({'host_path': '/srv/data/', 'path': '/srv/data'}, "write it as '/srv/data'"),
    ({'host_path': '/srv/./data', 'path': '/srv/data'}, "write it as '/srv/data'"),
    ({'host_path': '//srv', 'path': '/srv/data'}, "write it as '/srv'"),
    ({'host_path': '/srv/data', 'path': '/srv/data/.'}, "path '/srv/data/.' is not written plainly"),
    ({'host_path': '/', 'path': '/srv/data'}, 'host_path is "/", the whole file system'),
    ({'host_path': '/srv/data', 'path': '/'}, 'path is "/", the whole file system'),
    ({'host_path': '/srv/my data', 'path': '/srv/data'}, 'has a blank, a backslash or a control character'),
    ({'host_path': '/srv/data', 'path': '/srv/a\tb'}, 'has a blank, a backslash or a control character'),
    ({'host_path': '/srv/a\\040b', 'path': '/srv/data'}, 'has a blank, a backslash or a control character'),
    ({'host_path': '/srv/data\n/etc', 'path': '/srv/data'}, 'has a blank, a backslash or a control character'),
    ({'host_path': '', 'path': '/srv/data'}, 'host_path is missing'),
    ({'host_path': '/srv/data', 'path': None}, 'path is missing'),
])
def test_refuses_paths_an_entry_cannot_hold_or_that_climb(item, message):
    with refused(message):
        lxc_mount.check_mounts([item], 'lxc-web', HOME)


@pytest.mark.parametrize('host_path, message', [
    ('/proc/1/root', 'host_path /proc/1/root is in /proc, a kernel file system'),
    ('/sys', 'host_path /sys is in /sys, a kernel file system'),
    ('/dev/shm', 'host_path /dev/shm is in /dev, a kernel file system'),
    (HOME, 'host_path /home/lxc-web is in /home/lxc-web, the home of lxc-web, the container\'s owner: the owner '
           'could put a link there that root would follow; choose a directory outside it'),
    (HOME + '/.local/share/lxc/web/rootfs/srv', 'is in /home/lxc-web, the home of lxc-web'),
])
def test_refuses_kernel_trees_and_the_owner_home(host_path, message):
    with refused(message):
        lxc_mount.check_mounts([{'host_path': host_path, 'path': '/srv/data'}], 'lxc-web', HOME)


@pytest.mark.parametrize('second, message', [
    ({'host_path': '/srv/other', 'path': RW.path}, 'path /srv/data is given twice (host_path /srv/lxc/web/data and /srv/other)'),
    ({'host_path': RW.host_path, 'path': '/srv/again', 'read_only': True},
     'host_path /srv/lxc/web/data and host_path /srv/lxc/web/data are one in the other'),
    ({'host_path': RW.host_path + '/sub', 'path': '/srv/sub'}, 'are one in the other: give each mount a directory'),
    ({'host_path': '/srv/lxc', 'path': '/srv/all'}, 'host_path /srv/lxc/web/data and host_path /srv/lxc are one in the other'),
])
def test_refuses_a_container_path_twice_and_host_paths_in_one_another(second, message):
    with refused(message):
        lxc_mount.check_mounts([{'host_path': RW.host_path, 'path': RW.path}, second], 'lxc-web', HOME)


def test_accepts_mounts_side_by_side_and_names_like_the_home():
    mounts = [{'host_path': RW.host_path, 'path': RW.path, 'read_only': False},
              {'host_path': RO.host_path, 'path': RO.path, 'read_only': True},
              {'host_path': '/home/lxc-web2/data', 'path': '/data', 'read_only': None},
              {'host_path': '/devices', 'path': '/srv/data/devices'}]
    assert lxc_mount.check_mounts(mounts, 'lxc-web', HOME) == [
        RW, RO, Mount('/home/lxc-web2/data', '/data', False), Mount('/devices', '/srv/data/devices', False)]
    assert lxc_mount.check_mounts(None, 'lxc-web', HOME) == []
    # an owner without a home of its own (/) puts no path out of bounds
    assert lxc_mount.check_mounts(mounts[:1], 'lxc-web', '/') == [RW]


def test_mount_entries_bind_relative_to_the_rootfs_create_the_target_and_ro():
    assert lxc_mount.mount_entry(RW) == '/srv/lxc/web/data srv/data none bind,create=dir 0 0'
    assert lxc_mount.mount_entry(RO) == '/srv/lxc/shared srv/shared none bind,create=dir,ro 0 0'
    assert lxc_mount.mount_entries(['tmpfs tmp tmpfs defaults 0 0'], [RO]) == [
        'tmpfs tmp tmpfs defaults 0 0', '/srv/lxc/shared srv/shared none bind,create=dir,ro 0 0']


# --- the host directories -------------------------------------------------------------------

def plan(mounts, *walks):
    return lxc_mount.plan_host_directories(mounts, dict((m.host_path, w) for m, w in zip(mounts, walks)), WEB_U, WEB_G)


@pytest.mark.parametrize('mount, walk, expected', [
    # nothing below /srv yet: root's directories on the way, then the mount's own
    (RW, [ROOT, SRV], [Directory('/srv/lxc', 0, 0, 0o755), Directory('/srv/lxc/web', 0, 0, 0o755),
                       Directory('/srv/lxc/web/data', 165536, 165536, 0o750)]),
    (RO, [ROOT, SRV], [Directory('/srv/lxc', 0, 0, 0o755), Directory('/srv/lxc/shared', 0, 0, 0o755)]),
    (RW, [ROOT], [Directory('/srv', 0, 0, 0o755), Directory('/srv/lxc', 0, 0, 0o755),
                  Directory('/srv/lxc/web', 0, 0, 0o755), Directory('/srv/lxc/web/data', 165536, 165536, 0o750)]),
    (RW, [ROOT, SRV, directory('/srv/lxc', 0o711), directory('/srv/lxc/web', 0o755)],
     [Directory('/srv/lxc/web/data', 165536, 165536, 0o750)]),
    # there already: the container root's (whatever it made of its mode), or, read-only, root's or another one's
    (RW, [ROOT, SRV, directory('/srv/lxc'), directory('/srv/lxc/web'), directory(RW.host_path, 0o700, 165536, 165536)], []),
    (RW, [ROOT, SRV, directory('/srv/lxc'), directory('/srv/lxc/web'), directory(RW.host_path, 0o777, 165536, 0)], []),
    (RO, [ROOT, SRV, directory('/srv/lxc'), directory(RO.host_path, 0o755)], []),
    (RO, [ROOT, SRV, directory('/srv/lxc'), directory(RO.host_path, 0o750, 231072, 231072)], []),
    (RO, [ROOT, SRV, directory('/srv/lxc'), directory(RO.host_path, 0o1755, 165535, 231072)], []),
])
def test_plan_host_directories(mount, walk, expected):
    assert plan([mount], walk) == expected


def test_plan_creates_a_shared_way_once():
    assert plan([RW, RO], [ROOT, SRV], [ROOT, SRV]) == [
        Directory('/srv/lxc', 0, 0, 0o755), Directory('/srv/lxc/web', 0, 0, 0o755),
        Directory('/srv/lxc/web/data', 165536, 165536, 0o750), Directory('/srv/lxc/shared', 0, 0, 0o755)]


WAY = 'root would follow on the way to host_path /srv/lxc/web/data'


@pytest.mark.parametrize('walk, message', [
    ([ROOT, SRV, link('/srv/lxc')], '/srv/lxc is a symbolic link: root follows no link on the way to host_path '
                                    '/srv/lxc/web/data; give the path without links'),
    ([ROOT, SRV, regular('/srv/lxc')], '/srv/lxc is a regular file, not a directory, so host_path /srv/lxc/web/data '
                                       'cannot be below it'),
    ([ROOT, SRV, directory('/srv/lxc', 0o755, 997, 997)], '/srv/lxc belongs to uid 997, not to root: its owner could '
                                                          'swap what is in it for a link that ' + WAY),
    ([ROOT, SRV, directory('/srv/lxc'), directory('/srv/lxc/web', 0o755, 165536)], '/srv/lxc/web belongs to uid 165536'),
    ([ROOT, SRV, directory('/srv/lxc', 0o775)], '/srv/lxc can be written by users other than root (mode 0775)'),
    ([ROOT, directory('/srv', 0o1777)], '/srv can be written by users other than root (mode 1777): one of them could '
                                        'swap what is in it for a link that ' + WAY + '; remove that access (chmod go-w)'),
    ([ROOT, SRV, directory('/srv/lxc', 0o2757)], 'mode 2757'),
    ([ROOT, SRV, directory('/srv/lxc', 0o750)], '/srv/lxc does not let other users search it (mode 0750): the '
                                                'container\'s root (uid 165536 on the host) could not reach host_path '
                                                '/srv/lxc/web/data to mount it; allow it (chmod o+x)'),
    ([directory('/', 0o755, 1000)], '/ belongs to uid 1000, not to root'),
    # host_path itself
    ([ROOT, SRV, directory('/srv/lxc'), directory('/srv/lxc/web'), link(RW.host_path)],
     'host_path /srv/lxc/web/data is a symbolic link: root does not follow it; give the directory itself'),
    ([ROOT, SRV, directory('/srv/lxc'), directory('/srv/lxc/web'), regular(RW.host_path, 165536)],
     'host_path /srv/lxc/web/data exists and is a regular file, not a directory: remove it or choose another path'),
    ([ROOT, SRV, directory('/srv/lxc'), directory('/srv/lxc/web'),
      Entry(RW.host_path, stat.S_IFIFO | 0o600, 165536, 165536)], 'exists and is a FIFO, not a directory'),
    ([ROOT, SRV, directory('/srv/lxc'), directory('/srv/lxc/web'), directory(RW.host_path)],
     'host_path /srv/lxc/web/data exists and belongs to uid 0, not to the container\'s root (uid 165536 on the host): '
     'the module gives the container only a directory it creates itself; choose a new path, or, if the container '
     'should own that directory and all in it, chown 165536:165536 it yourself'),
    ([ROOT, SRV, directory('/srv/lxc'), directory('/srv/lxc/web'), directory(RW.host_path, 0o750, 231072, 231072)],
     'belongs to uid 231072, not to the container\'s root'),
])
def test_plan_refuses_what_root_could_be_led_astray_by(walk, message):
    with refused(message):
        plan([RW], walk)


@pytest.mark.parametrize('entry, message', [
    (directory(RO.host_path, 0o555, 165536, 0), 'host_path /srv/lxc/shared of a read-only mount belongs to uid 165536, '
                                                'one of the container\'s ids: the container could make it writable again'),
    (directory(RO.host_path, 0o755, 231071, 0), 'belongs to uid 231071, one of the container\'s ids'),
    (directory(RO.host_path, 0o775, 0, 165536), 'host_path /srv/lxc/shared of a read-only mount can be written by its '
                                                'group or others (mode 0775)'),
    (directory(RO.host_path, 0o1777), 'can be written by its group or others (mode 1777)'),
    (link(RO.host_path), 'host_path /srv/lxc/shared is a symbolic link'),
])
def test_plan_refuses_a_read_only_directory_the_container_could_write(entry, message):
    with refused(message):
        plan([RO], [ROOT, SRV, directory('/srv/lxc'), entry])


def test_directory_argv_is_what_the_module_does():
    created = Directory('/srv/lxc/web/data', 165536, 165536, 0o750)
    argv = lxc_mount.directory_argv(created)
    assert argv == ['install', '-d', '-o', '165536', '-g', '165536', '-m', '0750', '/srv/lxc/web/data']
    assert lxc_mount.directory_of(argv) == created


# --- in lxc's planner and config -------------------------------------------------------------

OWNER = {'name': 'lxc-web', 'uid': 997, 'gid': 997, 'home': HOME}
COMMANDS = lxc.OwnerCommands('lxc-web', 997)
CONFIG = ('lxc.include = /usr/share/lxc/config/common.conf\n'
          'lxc.idmap = u 0 165536 65536\nlxc.idmap = g 0 165536 65536\nlxc.start.auto = 1\n')
MOUNTS = [{'host_path': RW.host_path, 'path': RW.path, 'read_only': False},
          {'host_path': RO.host_path, 'path': RO.path, 'read_only': True}]
ENTRIES = ['/srv/lxc/web/data srv/data none bind,create=dir 0 0', '/srv/lxc/shared srv/shared none bind,create=dir,ro 0 0']


def want(**kw):
    base = dict(name='web', owner='lxc-web', state='started', template='local',
                metadata='/img/meta.tar.xz', rootfs='/img/rootfs.tar.xz', server=None,
                distribution='debian', release='bookworm', architecture='amd64',
                config={}, autostart=True, timeout=60, wait_for_address=False, mounts=MOUNTS)
    base.update(kw)
    return base


def facts(state=None, config=CONFIG, walks=None):
    return dict(exists=state is not None, state=state, config_text=config if state else None,
                other_owner=None, uid_range=WEB_U, gid_range=WEB_G, template_found=True,
                template_missing=[], linger=True,
                mount_walks=walks if walks is not None else {RW.host_path: [ROOT, SRV], RO.host_path: [ROOT, SRV]})


def test_check_request_checks_mounts_against_the_owner_home():
    assert lxc.check_request(want(), OWNER, [WEB_U], [WEB_G]) == (WEB_U, WEB_G)
    with refused('host_path /home/lxc-web/data is in /home/lxc-web, the home of lxc-web'):
        lxc.check_request(want(mounts=[{'host_path': HOME + '/data', 'path': '/data'}]), OWNER, [WEB_U], [WEB_G])


def test_new_container_gets_its_directories_first_and_the_entries_at_creation():
    actions = lxc.plan_container(want(), facts(None), COMMANDS)
    assert [a.kind for a in actions] == ['host_directory'] * 4 + ['create', 'start', 'wait']
    assert actions[2].argv == ['install', '-d', '-o', '165536', '-g', '165536', '-m', '0750', RW.host_path]
    wanted = lxc.desired_config(want())
    assert wanted['lxc.mount.entry'] == ENTRIES
    text = lxc.creation_config('lxc.include = /etc/lxc/default.conf\n', WEB_U, WEB_G, wanted)
    assert lxc.config_values(lxc.parse_config(text), 'lxc.mount.entry') == ENTRIES


def test_existing_container_gets_the_entries_written_once():
    walks = {RW.host_path: [ROOT, SRV, directory('/srv/lxc'), directory('/srv/lxc/web'),
                            directory(RW.host_path, 0o750, 165536, 165536)],
             RO.host_path: [ROOT, SRV, directory('/srv/lxc'), directory(RO.host_path)]}
    actions = lxc.plan_container(want(), facts('RUNNING', walks=walks), COMMANDS)
    assert [(a.kind, a.argv) for a in actions] == [('configure', ['write', '{config_path}', 'lxc.mount.entry'])]
    written, changed = lxc.update_config(CONFIG, lxc.desired_config(want()))
    assert changed == ['lxc.mount.entry']
    assert lxc.plan_container(want(), facts('RUNNING', config=written, walks=walks), COMMANDS) == []


@pytest.mark.parametrize('mounts, config, entries', [
    (None, {}, None),  # not given: whatever lxc.mount.entry lines there are stay
    ([], {}, []),  # given empty: none
    ([], {'lxc.mount.entry': 'tmpfs tmp tmpfs defaults 0 0'}, ['tmpfs tmp tmpfs defaults 0 0']),
    (MOUNTS[1:], {'lxc.mount.entry': ['tmpfs tmp tmpfs defaults 0 0']}, ['tmpfs tmp tmpfs defaults 0 0', ENTRIES[1]]),
])
def test_mounts_own_lxc_mount_entry_only_when_given(mounts, config, entries):
    assert lxc.desired_config(want(mounts=mounts, config=config)).get('lxc.mount.entry') == entries


def test_removing_the_last_mount_drops_its_entry_and_leaves_its_directory():
    with_entry = CONFIG + 'lxc.mount.entry = %s\n' % ENTRIES[0]
    actions = lxc.plan_container(want(mounts=[]), facts('RUNNING', config=with_entry, walks={}), COMMANDS)
    assert [a.kind for a in actions] == ['configure']
    assert lxc.update_config(with_entry, lxc.desired_config(want(mounts=[])))[0] == CONFIG
    assert lxc.plan_container(want(mounts=None), facts('RUNNING', config=with_entry, walks={}), COMMANDS) == []


def test_absent_creates_no_directory_and_refusals_come_before_any_action():
    assert [a.kind for a in lxc.plan_container(want(state='absent'), facts('STOPPED', walks={}), COMMANDS)] == ['destroy']
    with refused('/srv is a symbolic link'):
        lxc.plan_container(want(), facts('STOPPED', walks={RW.host_path: [ROOT, link('/srv')],
                                                           RO.host_path: [ROOT, SRV]}), COMMANDS)
