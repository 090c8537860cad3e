# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unprivileged LXC owned by a dedicated user: parsers, the subordinate-id allocator and the planner.

Everything here is pure (text in, data or argument lists out) so that unit tests can drive it
with outputs captured from a real LXC 5.0. The module lxc_unpriv_container reads the facts,
asks plan_container() for the actions and runs them.

How the lxc tools run as the owner: ``sudo -u OWNER -H -- env XDG_RUNTIME_DIR=... lxc-...``.
sudo opens a PAM session (common-session-noninteractive), which on cgroup v1/hybrid hosts runs
pam_cgfs and gives the owner writable freezer/memory/name=systemd cgroups; ``runuser`` has no
such session, and a container started through it cannot be frozen there. ``lxc-start`` also runs
inside ``systemd-run --user --scope -p Delegate=yes``: a scope of the owner's own systemd user
manager (kept running by lingering), which is the delegated cgroup v2 subtree LXC needs on a
unified-hierarchy host (Debian 12, Raspberry Pi OS) and survives the end of the Ansible session.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
from collections import namedtuple

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils.lxc_mount import (
    MOUNT_KEY, check_mounts, directory_argv, mount_entries, mounts_of, plan_host_directories,
)

# A container name becomes its hostname (lxc.uts.name) and a directory name: one DNS label.
NAME_PATTERN = re.compile(r'^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$')
FIRST_SUBID = 100000
# A container's ids 0-65535 (root, system users, nobody at 65534) each need a host id.
CONTAINER_IDS = 65536
LAST_SUBID = 4294967294
STATES = ('started', 'stopped', 'frozen', 'absent')
# A config key as lxc.container.conf(5) spells them; a value is one line of printable text.
CONFIG_KEY_PATTERN = re.compile(r'^lxc(?:\.[A-Za-z0-9_-]+)+$')
CONTROL_CHARACTERS = re.compile(r'[\x00-\x1f\x7f]')
# The id map always comes from the owner's subordinate ids (lxc.id_map: its pre-3.0 spelling).
ID_MAP_KEYS = ('lxc.idmap', 'lxc.id_map')
LXC_STATE = {'started': 'RUNNING', 'stopped': 'STOPPED', 'frozen': 'FROZEN'}


class SubIdRange(namedtuple('SubIdRange', 'owner start count')):
    """One line of /etc/subuid or /etc/subgid; ``end`` is the first id after the range."""

    @property
    def end(self):
        return self.start + self.count

    def overlaps(self, other):
        return self.start < other.end and other.start < self.end

    def describe(self):
        return '%s:%d:%d (ids %d-%d)' % (self.owner, self.start, self.count, self.start, self.end - 1)


def parse_subids(text):
    """Ranges of an /etc/subuid or /etc/subgid file, in file order (malformed lines skipped)."""
    ranges = []
    for line in (text or '').splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        parts = line.split(':')
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            continue
        if int(parts[2]) > 0:
            ranges.append(SubIdRange(parts[0], int(parts[1]), int(parts[2])))
    return ranges


def ranges_of(ranges, user, uid):
    """The ranges a user owns (subid files may name the user or its numeric uid)."""
    return [r for r in ranges if r.owner in (user, str(uid))]


def overlapping(ranges, user, uid):
    """Pairs (owner's range, someone else's range) that share ids."""
    mine = ranges_of(ranges, user, uid)
    others = [r for r in ranges if r not in mine]
    return [(m, o) for m in mine for o in others if m.overlaps(o)]


def allocate_range(ranges, count=65536, first=FIRST_SUBID, last=LAST_SUBID):
    """The lowest start of ``count`` free ids, on a ``count`` grid from ``first``.

    ``ranges`` are every range already in use (subuid and subgid together, so that the same
    start is free in both files). The grid gives 100000, 165536, 231072... as useradd does.
    """
    if count < 1:
        raise ValueError('count must be positive')
    taken = sorted(ranges, key=lambda r: r.start)
    candidate = first
    while candidate + count - 1 <= last:
        wanted = SubIdRange('', candidate, count)
        clashes = [r.end for r in taken if r.overlaps(wanted)]
        if not clashes:
            return candidate
        top = max(clashes)
        candidate = first + -(-(top - first) // count) * count
    raise Refusal('no free range of %d subordinate ids between %d and %d' % (count, first, last))


def parse_lxc_info(text):
    """``lxc-info -n NAME`` output: state, init pid and IP addresses (None if it does not exist)."""
    info = {'name': None, 'state': None, 'pid': None, 'ips': []}
    for line in (text or '').splitlines():
        if not line or line[0].isspace() or ':' not in line:
            continue
        key, value = [part.strip() for part in line.split(':', 1)]
        if key == 'Name':
            info['name'] = value
        elif key == 'State':
            info['state'] = value
        elif key == 'PID' and value.isdigit():
            info['pid'] = int(value)
        elif key == 'IP':
            info['ips'].append(value)
    return info if info['state'] else None


def parse_lxc_ls_fancy(text):
    """``lxc-ls -f`` / ``--fancy-format`` table: one dict per container, keys from the header.

    Columns are left-aligned under their header word and a cell may hold spaces
    (``10.0.3.5, 10.0.3.6``), so cells are cut at the header's column positions.
    Lists (IPV4, IPV6, GROUPS) become lists, '-' becomes an empty list or None.
    """
    lines = [line for line in (text or '').splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0]
    starts = [m.start() for m in re.finditer(r'\S+', header)]
    names = header.split()
    rows = []
    for line in lines[1:]:
        row = {}
        for i, name in enumerate(names):
            end = starts[i + 1] if i + 1 < len(starts) else None
            cell = line[starts[i]:end].strip()
            if name in ('IPV4', 'IPV6', 'GROUPS'):
                row[name] = [] if cell in ('-', '') else [v.strip() for v in cell.split(',') if v.strip()]
            else:
                row[name] = None if cell in ('-', '') else cell
        rows.append(row)
    return rows


def parse_config(text):
    """Container config ``key = value`` entries, in order (keys may repeat)."""
    entries = []
    for line in (text or '').splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith('#') or '=' not in stripped:
            continue
        key, value = stripped.split('=', 1)
        entries.append((key.strip(), value.strip()))
    return entries


def config_values(entries, key):
    return [value for k, value in entries if k == key]


def normalize_config(config):
    """Module ``config`` (key -> string or list) as key -> list of strings, keys sorted."""
    result = {}
    for key in sorted(config or {}):
        value = config[key]
        values = value if isinstance(value, list) else [value]
        result[key] = ['1' if v is True else '0' if v is False else str(v) for v in values]
    return result


def update_config(text, wanted):
    """The config text with every key of ``wanted`` set to exactly its values.

    A key's first line is replaced in place by its values and its other lines dropped; new
    keys go at the end. Returns (new_text, changed_keys); new_text is ``text`` when nothing changes.
    """
    entries = parse_config(text)
    changed = [key for key in wanted if config_values(entries, key) != wanted[key]]
    if not changed:
        return text, []
    out = []
    placed = set()
    for line in text.splitlines():
        stripped = line.strip()
        key = stripped.split('=', 1)[0].strip() if '=' in stripped and not stripped.startswith('#') else None
        if key in changed:
            if key not in placed:
                out.extend('%s = %s' % (key, v) for v in wanted[key])
                placed.add(key)
            continue
        out.append(line)
    for key in changed:
        if key not in placed:
            out.extend('%s = %s' % (key, v) for v in wanted[key])
    return '\n'.join(out) + '\n', changed


def idmap_entries(uid_range, gid_range):
    """The lxc.idmap values that map the container's ids 0.. onto the owner's ranges."""
    return ['u 0 %d %d' % (uid_range.start, uid_range.count),
            'g 0 %d %d' % (gid_range.start, gid_range.count)]


class OwnerCommands(object):
    """Argument lists that run the lxc tools as the owner (see the module docstring).

    ``paths`` maps tool names to the absolute paths found on the host; ``scope`` says whether
    lxc-start runs in a systemd user scope (hosts booted with systemd).
    """

    def __init__(self, owner, uid, paths=None, scope=True):
        self.owner = owner
        self.uid = uid
        self.paths = paths or {}
        self.scope = scope

    def tool(self, name):
        return self.paths.get(name, name)

    def as_owner(self, tool, *args):
        runtime = '/run/user/%d' % self.uid
        return [self.tool('sudo'), '-u', self.owner, '-H', '--', self.tool('env'),
                'XDG_RUNTIME_DIR=%s' % runtime,
                'DBUS_SESSION_BUS_ADDRESS=unix:path=%s/bus' % runtime,
                self.tool(tool)] + [str(a) for a in args]

    def start(self, name):
        if self.scope:
            return self.as_owner('systemd-run', '--user', '--scope', '--quiet', '-p', 'Delegate=yes',
                                 '--', self.tool('lxc-start'), '-n', name)
        return self.as_owner('lxc-start', '-n', name)


Action = namedtuple('Action', 'kind argv')


def template_argv(want):
    """lxc-create's template part: ``-t local -- --metadata M --fstree R`` or the download form."""
    if want['template'] == 'local':
        return ['-t', 'local', '--', '--metadata', want['metadata'], '--fstree', want['rootfs']]
    argv = ['-t', 'download', '--', '--dist', want['distribution'], '--release', want['release'],
            '--arch', want['architecture']]
    if want.get('server'):
        argv += ['--server', want['server']]
    return argv


def check_config(config):
    """Refuse config keys that are not lxc keys, the id map, and values that are not one line of text
    (a newline would add entries, an lxc.idmap among them, past these checks)."""
    for key, values in sorted(normalize_config(config).items()):
        if not CONFIG_KEY_PATTERN.match(key):
            raise Refusal('config key %r is not an LXC configuration key: use keys like lxc.cgroup2.memory.max '
                          '(lxc. and dot-separated letters, digits, "_" or "-"), see lxc.container.conf(5)' % (key,))
        if key in ID_MAP_KEYS:
            raise Refusal('config must not set %s: the id map comes from the owner\'s subordinate ids in '
                          '/etc/subuid and /etc/subgid' % key)
        for value in values:
            if CONTROL_CHARACTERS.search(value):
                raise Refusal('config %s has a value with a control character (newline, tab, ...): %r; give each '
                              'value as one line of text, several values as a list' % (key, value))


def check_parameters(want):
    """Refusals of the parameters alone: name, timeout, the local image's paths and config."""
    name = want['name']
    if not NAME_PATTERN.match(name or ''):
        raise Refusal('invalid container name %r: use 1-63 letters, digits and inner hyphens '
                      '(it becomes the hostname and a directory name)' % (name,))
    if want['timeout'] < 1:
        raise Refusal('timeout is %d: give the seconds to wait for the container, at least 1' % want['timeout'])
    if want['template'] == 'local' and want['state'] != 'absent' and not (want['metadata'] and want['rootfs']):
        raise Refusal('template=local needs metadata and rootfs (paths of meta.tar.xz and rootfs.tar.xz)')
    check_config(want.get('config'))


def check_request(want, owner, subuids, subgids):
    """Refusals that need no running tool: the parameters, the owner and its subordinate ids.

    ``owner`` is a dict (name, uid, home) or None when no such user exists.
    Returns (uid_range, gid_range), the owner's first ranges.
    """
    check_parameters(want)
    if owner is None:
        raise Refusal('unknown owner %r: create the user first (the role lxc_unprivileged does)'
                      % (want['owner'],))
    if owner['uid'] == 0:
        raise Refusal('owner %r is root: an unprivileged container needs a non-root owner' % owner['name'])
    check_mounts(want.get('mounts'), owner['name'], owner['home'])
    result = []
    for label, ranges, path in (('uid', subuids, '/etc/subuid'), ('gid', subgids, '/etc/subgid')):
        clashes = overlapping(ranges, owner['name'], owner['uid'])
        if clashes:
            raise Refusal('subordinate %ss of %s overlap another user\'s in %s: %s; give each user '
                          'its own range so no container can reach another one\'s files'
                          % (label, owner['name'], path,
                             '; '.join('%s and %s' % (m.describe(), o.describe()) for m, o in clashes)))
        owned = ranges_of(ranges, owner['name'], owner['uid'])
        mine = [r for r in owned if r.count >= CONTAINER_IDS]
        if not mine:
            free = allocate_range(subuids + subgids)
            too_small = ' of %d ids (%s: too small)' % (CONTAINER_IDS, ', '.join(r.describe() for r in owned)) if owned else ''
            raise Refusal('owner %s has no subordinate %ss%s: add "%s:%d:65536" to /etc/subuid and '
                          '/etc/subgid (usermod --add-subuids %d-%d --add-subgids %d-%d %s)'
                          % (owner['name'], label, too_small, owner['name'], free, free, free + 65535,
                             free, free + 65535, owner['name']))
        result.append(mine[0])
    return result[0], result[1]


def desired_config(want):
    """The config entries the module owns: ``config``, lxc.start.auto from ``autostart`` and, when
    ``mounts`` is given (a list, even empty), lxc.mount.entry: those of ``config``, then the mounts'."""
    wanted = normalize_config(want.get('config'))
    wanted['lxc.start.auto'] = ['1' if want.get('autostart') else '0']
    if want.get('mounts') is not None:
        wanted[MOUNT_KEY] = mount_entries(wanted.get(MOUNT_KEY, []), mounts_of(want['mounts']))
    return wanted


def plan_container(want, facts, commands):
    """Actions taking the container from ``facts`` to ``want``.

    facts: exists, state (RUNNING/STOPPED/FROZEN or None), config_text (existing container),
    other_owner (user holding a container of that name, or None), uid_range/gid_range (from
    check_request), template_found (local files present), linger (bool or None without systemd),
    mount_walks (host_path -> lxc_mount.Entry list from /, for ``mounts``).
    Raises Refusal before anything changes.
    """
    name = want['name']
    if facts.get('other_owner'):
        raise Refusal('container %s belongs to user %s, not %s: manage it with owner=%s or choose '
                      'another name' % (name, facts['other_owner'], want['owner'], facts['other_owner']))
    wanted_config = desired_config(want)
    expected_idmap = idmap_entries(facts['uid_range'], facts['gid_range'])
    actions = []
    if facts.get('linger') is False and want['state'] != 'absent':
        actions.append(Action('enable_linger', [commands.tool('loginctl'), 'enable-linger', want['owner']]))
    if want.get('mounts') and want['state'] != 'absent':
        for directory in plan_host_directories(mounts_of(want['mounts']), facts['mount_walks'],
                                               facts['uid_range'], facts['gid_range']):
            actions.append(Action('host_directory', directory_argv(directory)))

    if want['state'] == 'absent':
        if not facts['exists']:
            return actions
        if facts['state'] == 'FROZEN':
            actions.append(Action('unfreeze', commands.as_owner('lxc-unfreeze', '-n', name)))
        if facts['state'] in ('RUNNING', 'FROZEN'):
            actions.append(Action('stop', commands.as_owner('lxc-stop', '-n', name, '-t', want['timeout'])))
        actions.append(Action('destroy', commands.as_owner('lxc-destroy', '-n', name)))
        return actions

    state = facts['state']
    if not facts['exists']:
        if want['template'] == 'local' and not facts.get('template_found'):
            raise Refusal('image not found for container %s: %s; build it (lab/lxc-image/build) '
                          'or copy meta.tar.xz and rootfs.tar.xz to the host first'
                          % (name, ', '.join(facts.get('template_missing') or [])))
        actions.append(Action('create', commands.as_owner(
            'lxc-create', '-n', name, '-f', '{create_config}', *template_argv(want))))
        state = 'STOPPED'
    else:
        current = parse_config(facts['config_text'])
        idmap = config_values(current, 'lxc.idmap')
        if sorted(idmap) != sorted(expected_idmap):
            raise Refusal('container %s maps to %s but %s\'s subordinate ids are %s: its files '
                          'belong to the old range; restore /etc/subuid and /etc/subgid or recreate '
                          'the container' % (name, idmap or 'no idmap', want['owner'], expected_idmap))
        _text, changed = update_config(facts['config_text'], wanted_config)
        if changed:
            actions.append(Action('configure', ['write', '{config_path}'] + changed))

    target = LXC_STATE[want['state']]
    if state == target:
        return actions
    if state == 'FROZEN':
        actions.append(Action('unfreeze', commands.as_owner('lxc-unfreeze', '-n', name)))
        state = 'RUNNING'
    if target == 'STOPPED':
        if state == 'RUNNING':
            actions.append(Action('stop', commands.as_owner('lxc-stop', '-n', name, '-t', want['timeout'])))
        return actions
    if state == 'STOPPED':
        actions.append(Action('start', commands.start(name)))
        actions.append(Action('wait', commands.as_owner(
            'lxc-wait', '-n', name, '-s', 'RUNNING', '-t', want['timeout'])))
    if target == 'FROZEN':
        actions.append(Action('freeze', commands.as_owner('lxc-freeze', '-n', name)))
    return actions


def creation_config(default_conf_text, uid_range, gid_range, wanted):
    """The file given to ``lxc-create -f``: the owner's default.conf without its idmap,
    the idmap from the owner's subordinate ids, then ``wanted`` (desired_config())."""
    lines = []
    for key, value in parse_config(default_conf_text):
        if key != 'lxc.idmap' and key not in wanted:
            lines.append('%s = %s' % (key, value))
    lines.extend('lxc.idmap = %s' % v for v in idmap_entries(uid_range, gid_range))
    for key, values in sorted(wanted.items()):
        lines.extend('%s = %s' % (key, v) for v in values)
    return '\n'.join(lines) + '\n'
