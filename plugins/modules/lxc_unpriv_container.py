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
  - Refuses, changing nothing, an invalid name, an unknown or root owner, an owner without
    subordinate ids or whose ranges overlap another user's, a missing local image, a container
    of that name owned by another user, and an existing container whose id map no longer
    matches the owner's ranges.
  - The role P(fleet.linux.lxc_unprivileged#role) prepares owners, ranges, the bridge and its quota.
version_added: 1.0.0
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
    type: dict
    default: {}
  autostart:
    description:
      - Sets C(lxc.start.auto). The role P(fleet.linux.lxc_unprivileged#role) installs the owner's
        systemd user unit that runs C(lxc-autostart) at boot.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the container to start, to shut down cleanly, or to get an address.
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
  description: The planned steps, each with its kind and command as it runs (or would run in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{kind: start, argv: [sudo, -u, web, -H, --, env, XDG_RUNTIME_DIR=/run/user/998, lxc-start, -n, web]}]
before:
  description: Container state before the run (V(absent) when it did not exist).
  returned: always
  type: str
  sample: stopped
'''

import os
import pwd
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleet.linux.plugins.module_utils.common import C_LOCALE, Refusal, read_text
from ansible_collections.fleet.linux.plugins.module_utils.lxc import (
    LXC_STATE, OwnerCommands, check_request, creation_config, desired_config, parse_lxc_info,
    parse_subids, plan_container, update_config,
)

STATE_NAMES = dict((v, k) for k, v in LXC_STATE.items())
LXC_TOOLS = ('lxc-create', 'lxc-start', 'lxc-stop', 'lxc-freeze', 'lxc-unfreeze', 'lxc-destroy',
             'lxc-info', 'lxc-wait')


def lxcpath(home):
    return os.path.join(home, '.local', 'share', 'lxc')


def other_owner(name, owner):
    """The user (or root, for /var/lib/lxc) already holding a container with this name."""
    if os.path.isfile(os.path.join('/var/lib/lxc', name, 'config')):
        return 'root'
    for entry in pwd.getpwall():
        if entry.pw_name == owner or not entry.pw_dir or entry.pw_dir == '/':
            continue
        if os.path.isfile(os.path.join(lxcpath(entry.pw_dir), name, 'config')):
            return entry.pw_name
    return None


class Container(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = self.params['name']
        self.systemd = os.path.isdir('/run/systemd/system')
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

    def run(self, argv, check_rc=True):
        rc, out, err = self.module.run_command(argv, environ_update=C_LOCALE, cwd='/')
        if check_rc and rc != 0:
            self.module.fail_json(msg='%s failed (exit %d): %s' % (' '.join(argv), rc, (err or out).strip()),
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

    def info(self):
        if not os.path.isfile(self.config_path()):
            return None
        rc, out, err = self.run(self.commands.as_owner('lxc-info', '-n', self.name), check_rc=False)
        info = parse_lxc_info(out)
        if info is None:
            self.module.fail_json(msg='lxc-info could not read container %s: %s' % (self.name, (err or out).strip()))
        return info

    def user_manager_up(self):
        return os.path.exists('/run/user/%d/bus' % self.owner['uid'])

    def facts(self, uid_range, gid_range):
        info = self.info()
        facts = {'exists': info is not None, 'state': info['state'] if info else None,
                 'config_text': read_text(self.config_path(), '') if info else None,
                 'other_owner': other_owner(self.name, self.owner['name']),
                 'uid_range': uid_range, 'gid_range': gid_range,
                 'linger': None}
        if self.systemd:
            facts['linger'] = (os.path.exists('/var/lib/systemd/linger/%s' % self.owner['name'])
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
                self.module.fail_json(msg='timed out after %ds waiting for %s' % (self.params['timeout'], what))
            time.sleep(0.5)

    def write_config(self, wanted):
        path = self.config_path()
        text = read_text(path, '') + '\n'
        new_text, _changed = update_config(text, wanted)
        if new_text == text:
            return
        mode = os.stat(path).st_mode & 0o7777
        tmp = path + '.fleet-tmp'
        with open(tmp, 'w') as handle:
            handle.write(new_text)
        os.chown(tmp, self.owner['uid'], self.owner['gid'])
        os.chmod(tmp, mode)
        os.rename(tmp, path)

    def create(self, argv, uid_range, gid_range, wanted):
        default_conf = read_text(os.path.join(self.owner['home'], '.config', 'lxc', 'default.conf'), '')
        tmpdir = tempfile.mkdtemp(prefix='fleet-lxc-')
        try:
            os.chown(tmpdir, self.owner['uid'], self.owner['gid'])
            conf = os.path.join(tmpdir, 'create.conf')
            with open(conf, 'w') as handle:
                handle.write(creation_config(default_conf, uid_range, gid_range, wanted))
            os.chown(conf, self.owner['uid'], self.owner['gid'])
            argv = [conf if a == '{create_config}' else a for a in argv]
            rc, out, err = self.run(argv, check_rc=False)
            if rc != 0:
                self.module.fail_json(
                    msg='lxc-create of %s from the %s template failed (exit %d), nothing was kept: %s'
                        % (self.name, self.params['template'], rc, (err or out).strip()),
                    cmd=argv, rc=rc, stdout=out, stderr=err)
        finally:
            for entry in os.listdir(tmpdir):
                os.unlink(os.path.join(tmpdir, entry))
            os.rmdir(tmpdir)

    def execute(self, actions, uid_range, gid_range):
        wanted = desired_config(self.params)
        for action in actions:
            if action.kind == 'enable_linger':
                self.run(action.argv)
                self.wait_until(self.user_manager_up, "%s's systemd user manager" % self.owner['name'])
            elif action.kind == 'create':
                self.create(action.argv, uid_range, gid_range, wanted)
                self.write_config(wanted)
            elif action.kind == 'configure':
                self.write_config(wanted)
            else:
                self.run(action.argv)

    def wait_for_address(self):
        state = {}

        def has_address():
            state['info'] = self.info()
            return bool(state['info'] and [ip for ip in state['info']['ips'] if ':' not in ip])
        self.wait_until(has_address, 'an IPv4 address on container %s' % self.name)

    def main(self):
        p = self.params
        if 'lxc.idmap' in (p['config'] or {}):
            self.module.fail_json(msg='config must not set lxc.idmap: the id map comes from the owner\'s '
                                      'subordinate ids in /etc/subuid and /etc/subgid')
        if p['template'] == 'local' and p['state'] != 'absent' and not (p['metadata'] and p['rootfs']):
            self.module.fail_json(msg='template=local needs metadata and rootfs (paths of meta.tar.xz and rootfs.tar.xz)')
        subuids = parse_subids(read_text('/etc/subuid', ''))
        subgids = parse_subids(read_text('/etc/subgid', ''))
        self.owner = self.read_owner()
        try:
            uid_range, gid_range = check_request(p, self.owner, subuids, subgids)
            self.commands = OwnerCommands(self.owner['name'], self.owner['uid'], self.paths, scope=self.systemd)
            facts, before = self.facts(uid_range, gid_range)
            actions = plan_container(p, facts, self.commands)
        except Refusal as refusal:
            self.module.fail_json(msg=str(refusal), changed=False)

        if actions and not self.module.check_mode:
            self.execute(actions, uid_range, gid_range)
        after = before
        if not self.module.check_mode:
            if actions:
                after = self.info()
            if p['state'] == 'started' and p['wait_for_address']:
                self.wait_for_address()
                after = self.info()
        elif actions:
            after = None if p['state'] == 'absent' else {'state': LXC_STATE[p['state']], 'pid': None, 'ips': []}

        before_state = STATE_NAMES.get(before['state'], before['state'].lower()) if before else 'absent'
        after_state = STATE_NAMES.get(after['state'], after['state'].lower()) if after else 'absent'
        self.module.exit_json(
            changed=bool(actions), state=after_state, before=before_state,
            pid=after['pid'] if after else None, addresses=after['ips'] if after else [],
            uid_range=dict(start=uid_range.start, count=uid_range.count, end=uid_range.end - 1),
            gid_range=dict(start=gid_range.start, count=gid_range.count, end=gid_range.end - 1),
            container_dir=os.path.dirname(self.config_path()),
            actions=[dict(kind=a.kind, argv=a.argv) for a in actions],
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
            autostart=dict(type='bool', default=True),
            timeout=dict(type='int', default=60),
            wait_for_address=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    Container(module).main()


if __name__ == '__main__':
    main()
