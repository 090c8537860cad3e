# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lxc: parsers fed with LXC 5.0 outputs captured on the lab Pi node, the subordinate-id
allocator and the planner, as decision tables."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils import lxc

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'lxc')


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


R = lxc.SubIdRange
WEB_U, WEB_G = R('lxc-web', 165536, 65536), R('lxc-web', 165536, 65536)


# --- parsers -------------------------------------------------------------------------------

def test_parse_subids_captured():
    assert lxc.parse_subids(fixture('subuid.txt')) == [
        R('fleetadmin', 100000, 65536), R('lxc-web', 165536, 65536), R('lxc-db', 231072, 65536)]


def test_parse_subids_skips_comments_malformed_and_empty_ranges():
    text = '# comment\n\nalice:100000:65536\nbroken line\nbob:x:1\ncarol:300000:0\n1001:400000:10\n'
    assert lxc.parse_subids(text) == [R('alice', 100000, 65536), R('1001', 400000, 10)]


@pytest.mark.parametrize('name, state, pid, ips', [
    ('lxc-info-running.txt', 'RUNNING', 777, ['10.0.3.12']),
    ('lxc-info-web-running.txt', 'RUNNING', None, None),
    ('lxc-info-frozen.txt', 'FROZEN', 777, ['10.0.3.12']),
    ('lxc-info-stopped.txt', 'STOPPED', None, []),
])
def test_parse_lxc_info(name, state, pid, ips):
    info = lxc.parse_lxc_info(fixture(name))
    assert info['state'] == state
    if pid is not None or state == 'STOPPED':
        assert info['pid'] == pid
    if ips is not None:
        assert info['ips'] == ips
    assert info['name'] in ('c1', 'web')


def test_parse_lxc_info_missing_container():
    assert lxc.parse_lxc_info(fixture('lxc-info-missing.txt')) is None


def test_parse_lxc_ls_fancy_captured():
    assert lxc.parse_lxc_ls_fancy(fixture('lxc-ls-fancy.txt')) == [
        {'NAME': 'c1', 'STATE': 'RUNNING', 'AUTOSTART': '0', 'GROUPS': [], 'IPV4': ['10.0.3.12'],
         'IPV6': [], 'UNPRIVILEGED': 'true'}]
    assert lxc.parse_lxc_ls_fancy(fixture('lxc-ls-fancy-format.txt')) == [
        {'NAME': 'c1', 'STATE': 'RUNNING', 'PID': '777', 'IPV4': ['10.0.3.12'], 'IPV6': [],
         'AUTOSTART': '0', 'UNPRIVILEGED': 'true'}]


def test_parse_lxc_ls_fancy_cells_with_spaces_and_empty():
    text = ('NAME    STATE   IPV4                  PID  \n'
            'a       RUNNING 10.0.3.5, 10.0.3.6    12   \n'
            'longer  STOPPED -                     -    \n')
    assert lxc.parse_lxc_ls_fancy(text) == [
        {'NAME': 'a', 'STATE': 'RUNNING', 'IPV4': ['10.0.3.5', '10.0.3.6'], 'PID': '12'},
        {'NAME': 'longer', 'STATE': 'STOPPED', 'IPV4': [], 'PID': None}]
    assert lxc.parse_lxc_ls_fancy('') == []


def test_parse_config_captured():
    entries = lxc.parse_config(fixture('container-config.txt'))
    assert lxc.config_values(entries, 'lxc.idmap') == ['u 0 200000 65536', 'g 0 200000 65536']
    assert lxc.config_values(entries, 'lxc.mount.auto') == ['sys:mixed']
    assert ('lxc.uts.name', 'c1') in entries
    assert not [k for k, _v in entries if k.startswith('#')]


# --- update_config -------------------------------------------------------------------------

@pytest.mark.parametrize('wanted, changed, expect', [
    ({'lxc.start.auto': ['1']}, ['lxc.start.auto'], 'lxc.start.auto = 1'),
    ({'lxc.uts.name': ['c1']}, [], None),
    ({'lxc.idmap': ['u 0 1 2']}, ['lxc.idmap'], 'lxc.idmap = u 0 1 2'),
])
def test_update_config(wanted, changed, expect):
    text = fixture('container-config.txt')
    new_text, keys = lxc.update_config(text, wanted)
    assert keys == changed
    if not changed:
        assert new_text is text
        return
    entries = lxc.parse_config(new_text)
    for key, values in wanted.items():
        assert lxc.config_values(entries, key) == values
    assert expect in new_text.splitlines()
    assert lxc.update_config(new_text, wanted) == (new_text, [])
    # untouched keys and comments survive
    assert '# Distribution configuration' in new_text
    assert lxc.config_values(entries, 'lxc.rootfs.path') == ['dir:/home/u1/.local/share/lxc/c1/rootfs']


def test_normalize_config():
    assert lxc.normalize_config({'b': 'x', 'a': ['1', 2], 'c': True}) == {'a': ['1', '2'], 'b': ['x'], 'c': ['1']}


# --- allocator -----------------------------------------------------------------------------

@pytest.mark.parametrize('taken, count, start', [
    ([], 65536, 100000),
    ([R('admin', 100000, 65536)], 65536, 165536),
    ([R('a', 100000, 65536), R('b', 231072, 65536)], 65536, 165536),       # a hole
    ([R('a', 100000, 65536), R('b', 165537, 10)], 65536, 231072),          # hole too small
    ([R('a', 100000, 65536), R('a', 165536, 65536)], 65536, 231072),
    ([R('odd', 150000, 100)], 65536, 165536),                              # stays on the grid
    ([R('low', 0, 100000)], 65536, 100000),                                # below the first id
    ([R('huge', 100000, 1000000)], 65536, 1148576),
    ([R('a', 100000, 1000)], 1000, 101000),
])
def test_allocate_range(taken, count, start):
    assert lxc.allocate_range(taken, count) == start
    assert not any(r.overlaps(R('new', start, count)) for r in taken)


def test_allocate_range_full():
    with pytest.raises(Refusal, match='no free range of 65536'):
        lxc.allocate_range([R('all', 100000, 200000)], 65536, last=299999)


@pytest.mark.parametrize('ranges, clashes', [
    ([WEB_U, R('lxc-db', 231072, 65536)], 0),
    ([WEB_U, R('lxc-db', 100000, 65536)], 0),       # ends right before
    ([WEB_U, R('lxc-db', 231071, 65536)], 1),       # shares the last id
    ([WEB_U, R('lxc-db', 100000, 65537)], 1),       # shares the first id
    ([WEB_U, R('lxc-db', 200000, 10), R('x', 165536, 1)], 2),
    ([WEB_U, R('997', 165536, 65536)], 0),          # the same user by uid
])
def test_overlapping(ranges, clashes):
    assert len(lxc.overlapping(ranges, 'lxc-web', 997)) == clashes


# --- check_request: refusals before anything runs ------------------------------------------

OWNER = {'name': 'lxc-web', 'uid': 997, 'gid': 997, 'home': '/home/lxc-web'}


def want(**kw):
    base = dict(name='web', owner='lxc-web', state='started', template='local',
                metadata='/img/meta.tar.xz', rootfs='/img/rootfs.tar.xz', server=None,
                distribution='debian', release='bookworm', architecture='amd64',
                config={}, autostart=True, timeout=60, wait_for_address=False)
    base.update(kw)
    return base


@pytest.mark.parametrize('name', ['bad_name', '-web', 'web-', '', 'a' * 64, 'we b', 'web.local'])
def test_refuses_invalid_name(name):
    with pytest.raises(Refusal, match='invalid container name'):
        lxc.check_request(want(name=name), OWNER, [WEB_U], [WEB_G])


def test_accepts_names():
    for name in ['web', 'a', 'db-1', 'A' * 63]:
        assert lxc.check_request(want(name=name), OWNER, [WEB_U], [WEB_G]) == (WEB_U, WEB_G)


def test_refuses_unknown_and_root_owner():
    with pytest.raises(Refusal, match="unknown owner 'lxc-web'"):
        lxc.check_request(want(), None, [], [])
    with pytest.raises(Refusal, match='is root'):
        lxc.check_request(want(owner='root'), dict(OWNER, name='root', uid=0), [], [])


def test_refuses_missing_subids_and_says_what_to_add():
    with pytest.raises(Refusal) as refusal:
        lxc.check_request(want(), OWNER, [R('admin', 100000, 65536)], [R('admin', 100000, 65536)])
    assert 'no subordinate uids: add "lxc-web:165536:65536"' in str(refusal.value)
    assert 'usermod --add-subuids 165536-231071 --add-subgids 165536-231071 lxc-web' in str(refusal.value)
    # the range offered is free in both files
    with pytest.raises(Refusal, match='add "lxc-web:231072:65536"'):
        lxc.check_request(want(), OWNER, [R('admin', 100000, 65536)], [R('x', 165536, 1)])
    with pytest.raises(Refusal, match='no subordinate gids'):
        lxc.check_request(want(), OWNER, [WEB_U], [])


def test_refuses_overlapping_subids():
    other = R('lxc-db', 200000, 65536)
    with pytest.raises(Refusal, match=r"subordinate uids of lxc-web overlap .* lxc-db:200000:65536"):
        lxc.check_request(want(), OWNER, [WEB_U, other], [WEB_G])
    with pytest.raises(Refusal, match='subordinate gids of lxc-web overlap'):
        lxc.check_request(want(), OWNER, [WEB_U], [WEB_G, other])


# --- planner -------------------------------------------------------------------------------

COMMANDS = lxc.OwnerCommands('lxc-web', 997)
PREFIX = ['sudo', '-u', 'lxc-web', '-H', '--', 'env', 'XDG_RUNTIME_DIR=/run/user/997',
          'DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/997/bus']
CONFIG = ('lxc.include = /usr/share/lxc/config/common.conf\n'
          'lxc.idmap = u 0 165536 65536\nlxc.idmap = g 0 165536 65536\nlxc.start.auto = 1\n')


def facts(state=None, **kw):
    base = dict(exists=state is not None, state=state, config_text=CONFIG if state else None,
                other_owner=None, uid_range=WEB_U, gid_range=WEB_G, template_found=True,
                template_missing=[], linger=True)
    base.update(kw)
    return base


def kinds(actions):
    return [a.kind for a in actions]


@pytest.mark.parametrize('current, target, expected', [
    (None, 'started', ['create', 'start', 'wait']),
    (None, 'stopped', ['create']),
    (None, 'frozen', ['create', 'start', 'wait', 'freeze']),
    (None, 'absent', []),
    ('STOPPED', 'started', ['start', 'wait']),
    ('STOPPED', 'stopped', []),
    ('STOPPED', 'frozen', ['start', 'wait', 'freeze']),
    ('STOPPED', 'absent', ['destroy']),
    ('RUNNING', 'started', []),
    ('RUNNING', 'stopped', ['stop']),
    ('RUNNING', 'frozen', ['freeze']),
    ('RUNNING', 'absent', ['stop', 'destroy']),
    ('FROZEN', 'started', ['unfreeze']),
    ('FROZEN', 'stopped', ['unfreeze', 'stop']),
    ('FROZEN', 'frozen', []),
    ('FROZEN', 'absent', ['unfreeze', 'stop', 'destroy']),
])
def test_plan_transitions(current, target, expected):
    assert kinds(lxc.plan_container(want(state=target), facts(current), COMMANDS)) == expected


def test_plan_argv_as_they_run():
    actions = dict((a.kind, a.argv) for a in lxc.plan_container(want(), facts(None), COMMANDS))
    assert actions['create'] == PREFIX + ['lxc-create', '-n', 'web', '-f', '{create_config}', '-t', 'local', '--',
                                          '--metadata', '/img/meta.tar.xz', '--fstree', '/img/rootfs.tar.xz']
    assert actions['start'] == PREFIX + ['systemd-run', '--user', '--scope', '--quiet', '-p', 'Delegate=yes',
                                         '--', 'lxc-start', '-n', 'web']
    assert actions['wait'] == PREFIX + ['lxc-wait', '-n', 'web', '-s', 'RUNNING', '-t', '60']
    stop = lxc.plan_container(want(state='stopped', timeout=30), facts('RUNNING'), COMMANDS)
    assert stop[0].argv == PREFIX + ['lxc-stop', '-n', 'web', '-t', '30']


def test_plan_without_systemd_starts_directly_and_uses_paths():
    commands = lxc.OwnerCommands('lxc-web', 997, {'sudo': '/usr/bin/sudo', 'lxc-start': '/usr/bin/lxc-start'},
                                 scope=False)
    start = [a for a in lxc.plan_container(want(), facts('STOPPED', linger=None), commands) if a.kind == 'start']
    assert start[0].argv[0] == '/usr/bin/sudo'
    assert start[0].argv[-3:] == ['/usr/bin/lxc-start', '-n', 'web']
    assert 'systemd-run' not in start[0].argv


def test_plan_download_template():
    create = lxc.plan_container(want(template='download', server='images.example', architecture='arm64'),
                                facts(None), COMMANDS)[0]
    assert create.argv[-11:] == ['-t', 'download', '--', '--dist', 'debian', '--release', 'bookworm',
                                 '--arch', 'arm64', '--server', 'images.example']


@pytest.mark.parametrize('linger, target, expected_first', [
    (False, 'started', 'enable_linger'),
    (False, 'stopped', 'enable_linger'),
    (False, 'absent', 'destroy'),
    (True, 'stopped', None),
    (None, 'stopped', None),
])
def test_plan_lingering(linger, target, expected_first):
    actions = lxc.plan_container(want(state=target), facts('STOPPED', linger=linger), COMMANDS)
    assert (actions[0].kind if actions else None) == expected_first
    if expected_first == 'enable_linger':
        assert actions[0].argv == ['loginctl', 'enable-linger', 'lxc-web']


def test_plan_config_change_and_autostart():
    actions = lxc.plan_container(want(config={'lxc.cgroup2.memory.max': '512M'}), facts('RUNNING'), COMMANDS)
    assert [(a.kind, a.argv) for a in actions] == [('configure', ['write', '{config_path}', 'lxc.cgroup2.memory.max'])]
    actions = lxc.plan_container(want(autostart=False), facts('RUNNING'), COMMANDS)
    assert actions[0].argv[2:] == ['lxc.start.auto']


def test_plan_refuses_container_of_another_user():
    with pytest.raises(Refusal, match='container web belongs to user lxc-db, not lxc-web'):
        lxc.plan_container(want(), facts(None, other_owner='lxc-db'), COMMANDS)
    with pytest.raises(Refusal, match='belongs to user root'):
        lxc.plan_container(want(state='absent'), facts(None, other_owner='root'), COMMANDS)


def test_plan_refuses_missing_image():
    with pytest.raises(Refusal, match='image not found for container web: metadata=/x does not exist'):
        lxc.plan_container(want(), facts(None, template_found=False,
                                         template_missing=['metadata=/x does not exist']), COMMANDS)
    # an existing container does not need the image
    assert lxc.plan_container(want(), facts('RUNNING', template_found=False), COMMANDS) == []


def test_plan_refuses_idmap_that_no_longer_matches():
    moved = R('lxc-web', 300000, 65536)
    with pytest.raises(Refusal, match='maps to .*165536.* but lxc-web\'s subordinate ids are'):
        lxc.plan_container(want(), facts('STOPPED', uid_range=moved, gid_range=moved), COMMANDS)


# --- creation config -----------------------------------------------------------------------

def test_creation_config_replaces_default_idmap_and_adds_config():
    default = ('lxc.include = /etc/lxc/default.conf\nlxc.net.0.link = lxcbr0\n'
               'lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n')
    text = lxc.creation_config(default, WEB_U, WEB_G, lxc.desired_config(want(config={'lxc.net.0.link': 'br1'})))
    entries = lxc.parse_config(text)
    assert lxc.config_values(entries, 'lxc.idmap') == ['u 0 165536 65536', 'g 0 165536 65536']
    assert lxc.config_values(entries, 'lxc.net.0.link') == ['br1']
    assert lxc.config_values(entries, 'lxc.start.auto') == ['1']
    assert lxc.config_values(entries, 'lxc.include') == ['/etc/lxc/default.conf']


# --- parameters: config keys and values, timeout, local image ---------------------------------

@pytest.mark.parametrize('config, message', [
    ({'lxc.cgroup2.memory.max': '512M\nlxc.idmap = u 0 0 65536'}, 'config lxc.cgroup2.memory.max has a value with a control character'),
    ({'lxc.net.0.link': ['lxcbr0', 'br1\r']}, 'config lxc.net.0.link has a value with a control character'),
    ({'lxc.uts.name': 'web\x00'}, 'control character'),
    ({'lxc.uts.name': 'a\tb'}, 'control character'),
    ({'lxc.uts.name': 'a\x7fb'}, 'control character'),
    ({'lxc.idmap': 'u 0 0 65536'}, 'config must not set lxc.idmap'),
    ({'lxc.id_map': 'u 0 0 65536'}, 'config must not set lxc.id_map'),
    ({' lxc.idmap': 'u 0 0 65536'}, "config key ' lxc.idmap' is not an LXC configuration key"),
    ({'lxc.idmap\nlxc.x': '1'}, 'is not an LXC configuration key'),
    ({'lxc.start.auto = 1\nlxc.idmap': 'u 0 0 1'}, 'is not an LXC configuration key'),
    ({'security.privileged': 'true'}, 'is not an LXC configuration key'),
    ({'lxc.': '1'}, 'is not an LXC configuration key'),
])
def test_refuses_config_smuggling_entries(config, message):
    with pytest.raises(Refusal, match=message.replace('.', r'\.')):
        lxc.check_request(want(config=config), OWNER, [WEB_U], [WEB_G])


def test_accepts_config_of_lxc_keys_with_one_line_values():
    config = {'lxc.cgroup2.memory.max': '512M', 'lxc.net.0.link': ['lxcbr0'], 'lxc.apparmor.allow_nesting': True,
              'lxc.mount.entry': 'tmpfs tmp tmpfs defaults 0 0', 'lxc.environment': 'LANG=C.UTF-8 é'}
    assert lxc.check_request(want(config=config), OWNER, [WEB_U], [WEB_G]) == (WEB_U, WEB_G)


@pytest.mark.parametrize('timeout', [0, -1])
def test_refuses_timeout_below_one(timeout):
    with pytest.raises(Refusal, match='timeout is %d: give the seconds' % timeout):
        lxc.check_request(want(timeout=timeout), OWNER, [WEB_U], [WEB_G])


def test_refuses_local_template_without_image_paths_unless_absent():
    with pytest.raises(Refusal, match='template=local needs metadata and rootfs'):
        lxc.check_request(want(rootfs=None), OWNER, [WEB_U], [WEB_G])
    assert lxc.check_request(want(rootfs=None, state='absent'), OWNER, [WEB_U], [WEB_G]) == (WEB_U, WEB_G)


def test_parameters_are_checked_before_the_owner():
    """A wrong parameter is named even when the owner is wrong too."""
    with pytest.raises(Refusal, match='control character'):
        lxc.check_request(want(config={'lxc.uts.name': 'a\nb'}), None, [], [])


def test_refuses_owner_ranges_too_small_for_a_container_and_uses_a_large_one():
    small = R('lxc-web', 400000, 1000)
    with pytest.raises(Refusal, match=r'owner lxc-web has no subordinate uids of 65536 ids \(lxc-web:400000:1000 .*too small\): add'):
        lxc.check_request(want(), OWNER, [small], [small])
    assert lxc.check_request(want(), OWNER, [small, WEB_U], [small, WEB_G]) == (WEB_U, WEB_G)
