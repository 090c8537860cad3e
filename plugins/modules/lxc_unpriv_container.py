#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: lxc_unpriv_container
short_description: An unprivileged LXC container owned by its own non-root user
description:
  - Creates, starts, stops, freezes and destroys one unprivileged LXC container that belongs to a
    non-root O(owner) and lives in the owner's C(~/.local/share/lxc).
  - The container's id map is taken from the owner's subordinate ids in C(/etc/subuid) and
    C(/etc/subgid), so its root is an unprivileged uid on the host.
  - Runs as root (become) and runs the LXC command-line tools as the owner through
    C(sudo -u OWNER -H). sudo opens a PAM session, which on cgroup v1 or hybrid hosts
    (with libpam-cgfs) hands the owner its own cgroups. On hosts booted with systemd,
    C(lxc-start) runs in a C(systemd-run --user --scope -p Delegate=yes) scope of the owner's
    systemd user manager, the delegated cgroup v2 subtree LXC needs; lingering is enabled
    for the owner so that manager runs without a login.
  - Refuses, changing nothing, an invalid name, a O(timeout) below 1, a O(config) key that is not an
    LXC key or sets the id map, a O(config) value with a control character (a newline would add
    entries), an unknown or root owner, an owner without subordinate ids or whose ranges overlap
    another user's, a missing local image, a container of that name owned by another user, an
    existing container whose id map no longer matches the owner's ranges, and a link, FIFO, other
    special file or file of another user where the owner's container config or
    C(~/.config/lxc/default.conf) should be.
  - Bind-mounts host directories (O(mounts)), creating them if needed, and refuses those that root
    could be led astray on the way to (see O(mounts)).
  - Root never follows a link in the owner's home. It reads the owner's files through directories
    opened without following links, replaces the container config by a new file owned by the owner
    (unpredictable temporary name, fsync, atomic rename), and hands C(lxc-create) its configuration
    in a directory of root's own that the owner can only read the one file of.
  - The role P(fleet.linux.lxc_unprivileged#role) prepares owners, ranges, the bridge and its quota.
version_added: 0.1.0
author:
  - fleet.linux contributors (@fleet-linux)
options:
  name:
    description: Container name; also its hostname, so one DNS label (letters, digits, inner hyphens).
    type: str
    required: true
  owner:
    description: Non-root user that owns and runs the container.
    type: str
    required: true
  state:
    description:
      - V(started) creates the container if needed and runs it, V(stopped) creates it if needed and
        stops it, V(frozen) runs and freezes it, V(absent) stops and destroys it with its root filesystem.
    type: str
    choices: [started, stopped, frozen, absent]
    default: started
  template:
    description:
      - V(local) unpacks O(metadata) and O(rootfs) tarballs present on the host (offline fleets);
        V(download) fetches an image from O(server).
    type: str
    choices: [local, download]
    default: local
  metadata:
    description: Path on the host of the image's metadata tarball (C(meta.tar.xz)), for O(template=local).
    type: path
  rootfs:
    description: Path on the host of the image's root filesystem tarball (C(rootfs.tar.xz)), for O(template=local).
    type: path
  server:
    description: Image server for O(template=download); the template's own default when omitted.
    type: str
  distribution:
    description: Distribution for O(template=download).
    type: str
    default: debian
  release:
    description: Release for O(template=download).
    type: str
    default: bookworm
  architecture:
    description: Architecture for O(template=download).
    type: str
    default: amd64
  config:
    description:
      - Container configuration entries (C(lxc.container.conf(5)) keys), a string or a list of
        strings per key; each listed key is set to exactly these values.
      - Written into the creation configuration, so they apply from the first start; changes to an
        existing container are written to its config and take effect at its next start.
      - C(lxc.idmap) is not accepted here, the id map always comes from the owner's subordinate ids.
      - Keys are C(lxc.) keys (dot-separated letters, digits, C(_), C(-)); a value is one line of text,
        without newlines or other control characters.
    type: dict
    default: {}
  mounts:
    description:
      - Host directories bind-mounted into the container, each an C(lxc.mount.entry)
        C(HOST_PATH PATH none bind,create=dir[,ro] 0 0) (PATH relative to the container's root filesystem,
        created there if missing). When given (even as an empty list), the container's C(lxc.mount.entry)
        lines are exactly these, after any given in O(config); when omitted they are left alone.
      - A missing O(mounts[].host_path) is created, with the missing directories on the way (C(root:root 0755)),
        for a read-write mount as the directory of the container's root (the first uid and gid of the owner's
        ranges, mode C(0750)), so that root in the container owns it as C(root:root); for a read-only mount as
        C(root:root 0755), which the container's root may read but not write. An existing O(mounts[].host_path)
        is used as it is and never chowned.
      - The host directory is read-only to the container twice, by the C(ro) bind mount and by its owner and
        mode, because root in the container may remount its bind mounts read-write in its own mount namespace.
      - Refused, before anything changes, with what to do - a path that is not absolute, has a C(..) component,
        is not written plainly, is C(/), or has blanks, backslashes or control characters; a O(mounts[].host_path)
        in C(/proc), C(/sys), C(/dev) or in the owner's home; a container path given twice; a O(mounts[].host_path)
        given twice or inside another; a link, another file or a directory that is not root's, or that others
        may write to or not search, on the way to O(mounts[].host_path) (its owner could swap in a link root
        would follow); a O(mounts[].host_path) that is a link or not a directory; an existing read-write one that
        is not the container root's; an existing read-only one that belongs to one of the container's uids or
        that its group or others may write to.
      - Root creates the directories through descriptors opened without following links, checking each
        directory it opens, and owner and mode are set on the new directory's descriptor.
      - Like O(config), a change applies to a running container at its next start.
    type: list
    elements: dict
    suboptions:
      host_path:
        description: The directory on the host (absolute).
        type: str
        required: true
      path:
        description: Where it appears in the container (absolute, as the container sees it, for example C(/srv/data)).
        type: str
        required: true
      read_only:
        description: Mount it read-only (C(ro)), in a host directory the container's ids cannot write.
        type: bool
        default: false
  autostart:
    description:
      - Sets C(lxc.start.auto). The role P(fleet.linux.lxc_unprivileged#role) installs the owner's
        systemd user unit that runs C(lxc-autostart) at boot.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the container to start, to shut down cleanly, or to get an address (at least 1).
    type: int
    default: 60
  wait_for_address:
    description: With O(state=started), wait until the container has an IPv4 address.
    type: bool
    default: false
notes:
  - Needs C(lxc), C(uidmap) and C(sudo) on the host; C(systemd-run) and C(loginctl) on hosts booted with systemd.
  - Supports check mode. Returns the planned commands in RV(actions).
  - To attach to a container on a unified cgroup hierarchy, run C(lxc-attach) the same way as
    C(lxc-start), inside the owner's user scope, for example
    C(sudo -u OWNER -H env XDG_RUNTIME_DIR=/run/user/UID systemd-run --user --scope --quiet -- lxc-attach -n NAME);
    from outside the owner's delegated cgroup subtree the kernel refuses to move the process in.
attributes:
  check_mode:
    description: Plans and returns the commands without running them.
    support: full
  diff_mode:
    description: Shows the container state before and after.
    support: full
'''

EXAMPLES = r'''
- name: A container for the web stack, owned by user web (offline image)
  fleet.linux.lxc_unpriv_container:
    name: web
    owner: web
    template: local
    metadata: /var/cache/lxc-image/meta.tar.xz
    rootfs: /var/cache/lxc-image/rootfs.tar.xz
    config:
      lxc.cgroup2.memory.max: 512M
    wait_for_address: true
  become: true

- name: With a data directory it writes (created as its root's) and a shared one it only reads
  fleet.linux.lxc_unpriv_container:
    name: web
    owner: web
    metadata: /var/cache/lxc-image/meta.tar.xz
    rootfs: /var/cache/lxc-image/rootfs.tar.xz
    mounts:
      - host_path: /srv/lxc/web/data
        path: /srv/data
      - host_path: /srv/lxc/shared
        path: /srv/shared
        read_only: true
  become: true

- name: From the image server
  fleet.linux.lxc_unpriv_container:
    name: db
    owner: db
    template: download
    distribution: debian
    release: bookworm
    architecture: arm64
  become: true

- name: Freeze it, then remove it
  fleet.linux.lxc_unpriv_container:
    name: web
    owner: web
    state: "{{ item }}"
  loop: [frozen, absent]
  become: true
'''

RETURN = r'''
state:
  description: State after the run (V(started), V(stopped), V(frozen) or V(absent)).
  returned: always
  type: str
  sample: started
pid:
  description: Host pid of the container's init, when running or frozen.
  returned: always
  type: int
  sample: 4242
addresses:
  description: The container's IP addresses as lxc-info reports them.
  returned: always
  type: list
  elements: str
  sample: [10.0.3.117]
uid_range:
  description: Host uids the container's uids 0.. map to (from C(/etc/subuid)); C(end) is the last one.
  returned: always
  type: dict
  sample: {start: 100000, count: 65536, end: 165535}
gid_range:
  description: Host gids the container's gids 0.. map to (from C(/etc/subgid)); C(end) is the last one.
  returned: always
  type: dict
  sample: {start: 100000, count: 65536, end: 165535}
container_dir:
  description: The container's directory.
  returned: always
  type: str
  sample: /home/web/.local/share/lxc/web
actions:
  description:
    - The planned steps (run, or that would run in check mode), each as the command line it runs, as every
      fleet.linux module reports its actions; writing the configuration reads C(write PATH KEY...), creating a
      mount's host directory reads as the C(install -d) command that does the same.
    - On failure, the steps that ran before it (then C(changed) is true).
  returned: always
  type: list
  elements: str
  sample: ["/usr/bin/sudo -u web -H -- env XDG_RUNTIME_DIR=/run/user/998 /usr/bin/lxc-start -n web"]
before:
  description: Container state before the run (V(absent) when it did not exist).
  returned: always
  type: str
  sample: stopped
'''

import errno
import os
import posixpath
import pwd
import shutil
import stat
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleet.linux.plugins.module_utils.common import (
    C_LOCALE, DIRECTORY_NO_FOLLOW, Refusal, command_line, read_no_follow, read_text, write_atomically,
)
from ansible_collections.fleet.linux.plugins.module_utils.lxc import (
    LXC_STATE, OwnerCommands, check_request, creation_config, desired_config, parse_lxc_info,
    parse_subids, plan_container, update_config,
)
from ansible_collections.fleet.linux.plugins.module_utils.lxc_mount import (
    Entry, check_on_the_way, directory_of,
)

STATE_NAMES = dict((v, k) for k, v in LXC_STATE.items())
LXC_TOOLS = ('lxc-create', 'lxc-start', 'lxc-stop', 'lxc-freeze', 'lxc-unfreeze', 'lxc-destroy',
             'lxc-info', 'lxc-wait')
# Host paths the module reads (tests point them at a fixture tree).
SUBUID_FILE = '/etc/subuid'
SUBGID_FILE = '/etc/subgid'
SYSTEM_LXC_PATH = '/var/lib/lxc'
SYSTEMD_RUNTIME = '/run/systemd/system'
LINGER_DIR = '/var/lib/systemd/linger'
USER_RUNTIME = '/run/user'
# The host's / as mounts' host paths start from it.
HOST_ROOT = '/'


def lxcpath(home):
    return os.path.join(home, '.local', 'share', 'lxc')


def is_regular_file(path):
    """Whether ``path`` is a regular file, a link not followed (a link is no container of its owner)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def other_owner(name, owner):
    """The user (or root, for /var/lib/lxc) already holding a container with this name."""
    if is_regular_file(os.path.join(SYSTEM_LXC_PATH, name, 'config')):
        return 'root'
    for entry in pwd.getpwall():
        if entry.pw_name == owner or not entry.pw_dir or entry.pw_dir == '/':
            continue
        if is_regular_file(os.path.join(lxcpath(entry.pw_dir), name, 'config')):
            return entry.pw_name
    return None


def entry_of(path, st):
    return Entry(path, st.st_mode, st.st_uid, st.st_gid)


def open_host_root():
    return os.open(HOST_ROOT, os.O_RDONLY | os.O_DIRECTORY)


def walk_host_path(host_path):
    """lxc_mount.Entry of / and of each path on the way down to ``host_path`` that exists, each directory
    opened without following a link: the walk ends before a missing name, or at a link or other non-directory."""
    fd = open_host_root()
    entries = [entry_of('/', os.fstat(fd))]
    current = '/'
    try:
        for name in host_path.split('/')[1:]:
            current = posixpath.join(current, name)
            try:
                child = os.open(name, DIRECTORY_NO_FOLLOW, dir_fd=fd)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR):
                    entries.append(entry_of(current, os.stat(name, dir_fd=fd, follow_symlinks=False)))
                elif error.errno != errno.ENOENT:
                    raise
                break
            os.close(fd)
            fd = child
            entries.append(entry_of(current, os.fstat(fd)))
    finally:
        os.close(fd)
    return entries


def open_way(path, container_uid):
    """A descriptor of the directory ``path``, reached from / through directories each opened without following
    a link and checked as opened (lxc_mount.check_on_the_way)."""
    fd = open_host_root()
    current = '/'
    try:
        check_on_the_way(entry_of(current, os.fstat(fd)), path, container_uid)
        for name in [n for n in path.split('/') if n]:
            current = posixpath.join(current, name)
            try:
                child = os.open(name, DIRECTORY_NO_FOLLOW, dir_fd=fd)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise Refusal('%s is no longer a directory (a link or another file took its place while the module '
                                  'ran): nothing was created below it; look at it and run again' % current)
                raise
            os.close(fd)
            fd = child
            check_on_the_way(entry_of(current, os.fstat(fd)), path, container_uid)
    except BaseException:
        os.close(fd)
        raise
    return fd


def make_directory(directory, container_uid):
    """Create ``directory`` (lxc_mount.Directory) in its checked parent, then give the new directory, held
    open, its owner and mode."""
    parent, name = posixpath.split(directory.path)
    fd = open_way(parent, container_uid)
    try:
        try:
            os.mkdir(name, 0o700, dir_fd=fd)
        except OSError as error:
            if error.errno == errno.EEXIST:
                raise Refusal('%s appeared while the module ran: nothing was done to it; run again' % directory.path)
            raise
        child = os.open(name, DIRECTORY_NO_FOLLOW, dir_fd=fd)
        try:
            os.fchown(child, directory.uid, directory.gid)
            os.fchmod(child, directory.mode)
        finally:
            os.close(child)
        os.fsync(fd)
    finally:
        os.close(fd)


class Container(object):
    """Reads the container's facts, plans and acts. Files in the owner's home are read and written
    without following links and only when they belong to the owner (see common.read_no_follow)."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = self.params['name']
        self.systemd = os.path.isdir(SYSTEMD_RUNTIME)
        paths = {'sudo': module.get_bin_path('sudo', required=True),
                 'env': module.get_bin_path('env', required=True)}
        for tool in LXC_TOOLS:
            paths[tool] = module.get_bin_path(tool, required=True)
        if self.systemd:
            paths['systemd-run'] = module.get_bin_path('systemd-run', required=True)
            paths['loginctl'] = module.get_bin_path('loginctl', required=True)
        self.paths = paths
        self.owner = None
        self.commands = None
        self.done = []

    def fail(self, msg, **kwargs):
        """fail_json saying whether an action of this run already changed something."""
        self.module.fail_json(msg=msg, changed=bool(self.done), actions=[self.action_line(a) for a in self.done], **kwargs)

    def run(self, argv, check_rc=True):
        rc, out, err = self.module.run_command(argv, environ_update=C_LOCALE, cwd='/')
        if check_rc and rc != 0:
            self.fail('%s failed (exit %d): %s' % (' '.join(argv), rc, (err or out).strip()),
                      cmd=argv, rc=rc, stdout=out, stderr=err)
        return rc, out, err

    def read_owner(self):
        try:
            entry = pwd.getpwnam(self.params['owner'])
        except KeyError:
            return None
        return {'name': entry.pw_name, 'uid': entry.pw_uid, 'gid': entry.pw_gid, 'home': entry.pw_dir}

    def config_path(self):
        return os.path.join(lxcpath(self.owner['home']), self.name, 'config')

    def read_owned(self, path):
        """(text, stat) of the owner's file at ``path``, (None, None) if missing; a link, FIFO or a
        file of another user there is refused (the owner controls every directory below home)."""
        return read_no_follow(path, self.owner['home'], owner=self.owner['uid'])

    def info(self):
        if self.read_owned(self.config_path())[0] is None:
            return None
        rc, out, err = self.run(self.commands.as_owner('lxc-info', '-n', self.name), check_rc=False)
        info = parse_lxc_info(out)
        if info is None:
            self.fail('lxc-info could not read container %s: %s' % (self.name, (err or out).strip()))
        return info

    def user_manager_up(self):
        return os.path.exists(os.path.join(USER_RUNTIME, str(self.owner['uid']), 'bus'))

    def facts(self, uid_range, gid_range):
        config_text = self.read_owned(self.config_path())[0]
        info = self.info() if config_text is not None else None
        facts = {'exists': info is not None, 'state': info['state'] if info else None,
                 'config_text': config_text if info else None,
                 'other_owner': other_owner(self.name, self.owner['name']),
                 'uid_range': uid_range, 'gid_range': gid_range,
                 'linger': None, 'mount_walks': {}}
        if self.params['mounts'] and self.params['state'] != 'absent':
            facts['mount_walks'] = dict((m['host_path'], walk_host_path(m['host_path'])) for m in self.params['mounts'])
        if not info and self.params['state'] != 'absent':
            facts['default_conf'] = self.read_owned(os.path.join(self.owner['home'], '.config', 'lxc', 'default.conf'))[0]
        if self.systemd:
            facts['linger'] = (os.path.exists(os.path.join(LINGER_DIR, self.owner['name']))
                               and self.user_manager_up())
        if self.params['template'] == 'local':
            missing = ['%s=%s does not exist' % (key, self.params[key]) for key in ('metadata', 'rootfs')
                       if not self.params[key] or not os.path.isfile(self.params[key])]
            facts['template_found'] = not missing
            facts['template_missing'] = missing
        return facts, info

    def wait_until(self, test, what):
        deadline = time.time() + self.params['timeout']
        while not test():
            if time.time() > deadline:
                self.fail('timed out after %ds waiting for %s' % (self.params['timeout'], what))
            time.sleep(0.5)

    def write_config(self, wanted):
        """Set the owner's container config to ``wanted``: written as a new file owned by the owner,
        through directories opened without following links."""
        path = self.config_path()
        text, current = self.read_owned(path)
        if text is None:
            self.fail('lxc-create left no config at %s' % path)
        text = text.rstrip('\n') + '\n'
        new_text, _changed = update_config(text, wanted)
        if new_text == text:
            return
        write_atomically(self.module, path, new_text, mode=stat.S_IMODE(current.st_mode),
                         owner=self.owner['uid'], group=self.owner['gid'], trusted_dir=self.owner['home'])

    def create(self, argv, creation_text):
        """lxc-create as the owner with ``-f`` a file the owner may read but not replace: it lies in a
        directory of root's own (mode 0711, so the owner can only open that one name)."""
        tmpdir = tempfile.mkdtemp(prefix='fleet-lxc-')
        try:
            conf = os.path.join(tmpdir, 'create.conf')
            write_atomically(self.module, conf, creation_text, mode=0o600, owner=self.owner['uid'], group=self.owner['gid'])
            os.chmod(tmpdir, 0o711)
            argv = [conf if a == '{create_config}' else a for a in argv]
            rc, out, err = self.run(argv, check_rc=False)
            if rc != 0:
                self.fail('lxc-create of %s from the %s template failed (exit %d), nothing was kept: %s'
                          % (self.name, self.params['template'], rc, (err or out).strip()),
                          cmd=argv, rc=rc, stdout=out, stderr=err)
        finally:
            shutil.rmtree(tmpdir)

    def action_line(self, action):
        """An action as the command line it runs (a configuration write names the file and the keys it sets)."""
        return command_line([self.config_path() if arg == '{config_path}' else arg for arg in action.argv])

    def execute(self, actions, facts):
        wanted = desired_config(self.params)
        for action in actions:
            if action.kind == 'enable_linger':
                self.run(action.argv)
                self.done.append(action)
                self.wait_until(self.user_manager_up, "%s's systemd user manager" % self.owner['name'])
            elif action.kind == 'create':
                self.create(action.argv, creation_config(facts['default_conf'] or '', facts['uid_range'],
                                                         facts['gid_range'], wanted))
                self.done.append(action)
                self.write_config(wanted)
            elif action.kind == 'host_directory':
                make_directory(directory_of(action.argv), facts['uid_range'].start)
                self.done.append(action)
            elif action.kind == 'configure':
                self.write_config(wanted)
                self.done.append(action)
            else:
                self.run(action.argv)
                self.done.append(action)

    def wait_for_address(self):
        state = {}

        def has_address():
            state['info'] = self.info()
            return bool(state['info'] and [ip for ip in state['info']['ips'] if ':' not in ip])
        self.wait_until(has_address, 'an IPv4 address on container %s' % self.name)

    def main(self):
        p = self.params
        try:
            subuids = parse_subids(read_text(SUBUID_FILE, ''))
            subgids = parse_subids(read_text(SUBGID_FILE, ''))
            self.owner = self.read_owner()
            uid_range, gid_range = check_request(p, self.owner, subuids, subgids)
            self.commands = OwnerCommands(self.owner['name'], self.owner['uid'], self.paths, scope=self.systemd)
            facts, before = self.facts(uid_range, gid_range)
            actions = plan_container(p, facts, self.commands)
        except Refusal as refusal:
            self.module.fail_json(msg=str(refusal), changed=False)

        after = before
        try:
            if actions and not self.module.check_mode:
                self.execute(actions, facts)
            if not self.module.check_mode:
                if actions:
                    after = self.info()
                if p['state'] == 'started' and p['wait_for_address']:
                    self.wait_for_address()
                    after = self.info()
        except Refusal as refusal:
            self.fail(str(refusal))
        if self.module.check_mode and actions:
            after = None if p['state'] == 'absent' else {'state': LXC_STATE[p['state']], 'pid': None, 'ips': []}

        before_state = STATE_NAMES.get(before['state'], before['state'].lower()) if before else 'absent'
        after_state = STATE_NAMES.get(after['state'], after['state'].lower()) if after else 'absent'
        self.module.exit_json(
            changed=bool(actions), state=after_state, before=before_state,
            pid=after['pid'] if after else None, addresses=after['ips'] if after else [],
            uid_range=dict(start=uid_range.start, count=uid_range.count, end=uid_range.end - 1),
            gid_range=dict(start=gid_range.start, count=gid_range.count, end=gid_range.end - 1),
            container_dir=os.path.dirname(self.config_path()),
            actions=[self.action_line(a) for a in actions],
            diff=dict(before='state: %s\n' % before_state, after='state: %s\n' % after_state))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            owner=dict(type='str', required=True),
            state=dict(type='str', default='started', choices=['started', 'stopped', 'frozen', 'absent']),
            template=dict(type='str', default='local', choices=['local', 'download']),
            metadata=dict(type='path'),
            rootfs=dict(type='path'),
            server=dict(type='str'),
            distribution=dict(type='str', default='debian'),
            release=dict(type='str', default='bookworm'),
            architecture=dict(type='str', default='amd64'),
            config=dict(type='dict', default={}),
            mounts=dict(type='list', elements='dict', options=dict(
                host_path=dict(type='str', required=True),
                path=dict(type='str', required=True),
                read_only=dict(type='bool', default=False),
            )),
            autostart=dict(type='bool', default=True),
            timeout=dict(type='int', default=60),
            wait_for_address=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    Container(module).main()


if __name__ == '__main__':
    main()
