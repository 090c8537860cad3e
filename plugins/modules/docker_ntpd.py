#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: docker_ntpd
short_description: Run ntpd in a locally built Docker container with only the capabilities it needs
description:
  - Builds an ntpd image from a Dockerfile on the managed node (base image chosen per
    architecture, ntpd from the distribution's ntpsec or ntp package) and tags it per build
    (C(IMAGE:ARCH-HASH)); the hash covers the build context, the base image id and the build
    arguments, so the image is rebuilt only when the Dockerfile or the base image changed.
  - Runs it as a container with C(--restart always), the ntpd arguments (C(-g -n) by default),
    the ntp configuration mounted read-only at C(/etc/ntp.conf), the drift directory
    C(/var/lib/ntp) on a volume so the measured drift survives restarts, and udp/123 published
    (or the host network).
  - ntpd runs as root (uid 0) inside the container, because setting the clock needs CAP_SYS_TIME.
    What keeps that root from the host is fixed, with no option to widen it. The container drops every
    capability and gets back only the declared ones (SYS_TIME and SYS_RESOURCE by default, and
    NET_BIND_SERVICE in the host's network). It runs with C(no-new-privileges), a read-only root
    filesystem (small C(noexec) tmpfs on C(/run) and C(/tmp)). It is never privileged.
  - Refuses, before anything is read from dockerd, every invalid parameter, listing all of them.
    That covers a capability ntpd does not use (unless I(allow_extra_capabilities)), and in the host's
    network any capability but SYS_TIME, SYS_RESOURCE and NET_BIND_SERVICE. It also covers a port
    outside 1-65535, a host IP that is not an IP address, and the same host port published twice.
    A drift volume that is neither a volume name nor a directory below C(/var/lib/fleet-ntpd/drift) is
    refused too, and so is a config file, build context or drift directory that a symbolic link,
    another user, or group/world write access could redirect.
  - Compares the existing container with the declared one (image id, capabilities, privileged,
    no-new-privileges, read-only root, tmpfs, restart policy, arguments, mounts, network mode,
    ports) and recreates it only on a difference (a container made before these were fixed too).
  - Talks to the Docker Engine API over its unix socket with Python's standard library (no
    Docker SDK and no requests on the managed node).
  - Refuses, before changing anything, a capability the daemon cannot grant (not in dockerd's
    capability bounding set), and a published port already taken by another process or container
    (the ports the managed container itself holds do not count, since it is stopped before its
    successor starts). It also refuses a missing base image that cannot be pulled, and a daemon that
    does not answer.
  - C(changed) says whether the host changed, also on failure. A failed pull, build or create that
    changed nothing reports C(false). A failure after the image was built or the old container
    stopped or removed reports C(true), and I(actions) lists the steps that were done.
version_added: 0.1.0
author:
  - fleet.linux contributors (@fleet-linux)
options:
  name:
    description: Name of the container.
    type: str
    default: ntpd
  state:
    description:
      - C(started) builds if needed, creates or recreates the container and runs it.
      - C(stopped) does the same but leaves the container stopped.
      - C(restarted) also restarts an unchanged running container (for example after its
        configuration file changed).
      - C(absent) removes the container; the image and the drift volume stay.
      - C(present) builds if needed and creates or recreates the container without starting a
        new one (a running container that must be recreated is started again). A role can prepare
        everything with it before the host's own time services go off.
    type: str
    choices: [started, stopped, absent, restarted, present]
    default: started
  image:
    description: Repository of the built image; the tag is C(ARCH-HASH) of the build.
    type: str
    default: fleet-linux/ntpd
  build_context:
    description:
      - Directory on the managed node holding the Dockerfile (and anything it copies).
      - The image runs with CAP_SYS_TIME, so the directory, the files in it and the directories
        above it are under the same conditions as I(config_file).
      - Required unless I(state=absent).
    type: path
  dockerfile:
    description: Path of the Dockerfile inside I(build_context).
    type: str
    default: Dockerfile
  base_image:
    description:
      - Base image of the target architecture, passed to the Dockerfile as the build argument
        C(BASE). It must be in the local engine or pullable.
      - Required unless I(state=absent).
    type: str
  architecture:
    description:
      - Architecture named in the image tag. Defaults to dockerd's own architecture.
    type: str
    choices: [armhf, arm64, amd64]
  pull_base:
    description: Pull I(base_image) when the local engine does not have it.
    type: bool
    default: true
  ntpd_args:
    description: Arguments of ntpd (the image's entrypoint).
    type: list
    elements: str
    default: ['-g', '-n']
  capabilities:
    description:
      - The only capabilities the container gets (every other one is dropped). Names with or
        without C(CAP_). C(ALL) is refused.
      - ntpd uses C(SYS_TIME), C(SYS_RESOURCE) and, with I(network_mode=host) only, C(NET_BIND_SERVICE).
        Any other is refused unless I(allow_extra_capabilities=true). In the host's network, no other
        capability is accepted at all.
      - Where the host withholds one (for example CAP_SYS_RESOURCE inside some containers),
        the module refuses and names it; drop it from the list.
    type: list
    elements: str
    default: [SYS_TIME, SYS_RESOURCE]
  allow_extra_capabilities:
    description:
      - Accept capabilities in I(capabilities) that ntpd does not use (root in the container then
        gets them). Never applies with I(network_mode=host).
    type: bool
    default: false
  config_file:
    description:
      - ntp configuration file on the managed node, mounted read-only at C(/etc/ntp.conf).
      - Neither it nor a directory above it may be a symbolic link, owned by another user than root
        (or the user running the module), or writable by group or others (sticky directories excepted).
      - Required unless I(state=absent).
    type: path
  drift_volume:
    description:
      - Named volume mounted at C(/var/lib/ntp) for the drift file. Removing the container keeps it.
      - Or a host directory at or below C(/var/lib/fleet-ntpd/drift), with the same conditions as
        I(config_file); nothing else (ntpd writes there as root).
    type: str
    default: ntpd-drift
  network_mode:
    description:
      - C(bridge) publishes I(published_ports); C(host) runs ntpd in the host's network
        (I(published_ports) are then ignored, and C(NET_BIND_SERVICE) must be in I(capabilities)).
    type: str
    choices: [bridge, host]
    default: bridge
  published_ports:
    description:
      - Ports to publish as C([HOST_IP:]HOST_PORT:CONTAINER_PORT[/udp|tcp]) (udp by default).
        An empty list serves nobody but the container itself.
      - Ports are 1-65535, C(HOST_IP) an IP address of this host (IPv6 in brackets). The same host port
        must not be published twice on overlapping addresses.
    type: list
    elements: str
    default: ['123:123/udp']
  docker_socket:
    description: Path of dockerd's unix socket.
    type: path
    default: /var/run/docker.sock
  stop_timeout:
    description: Seconds ntpd gets to stop before it is killed (0 or more).
    type: int
    default: 10
  build_timeout:
    description: Seconds an image build (apt-get inside the base image) may take (at least 1).
    type: int
    default: 1800
notes:
  - Supports check mode and diff mode.
  - The drift volume and the images are never removed by this module; earlier builds stay
    tagged C(IMAGE:ARCH-HASH) until removed with C(docker image rm).
  - Build contexts are sent whole (no C(.dockerignore)); keep the directory to the Dockerfile
    and what it copies.
seealso:
  - name: ntpd in a Docker container (source notes)
    description: The Time Server in a Container procedure this module automates.
    link: https://github.com/fleet-linux/fleet.linux/blob/main/README.md
'''

EXAMPLES = r'''
- name: Run ntpd in a container on a Raspberry Pi (armhf)
  fleet.linux.docker_ntpd:
    build_context: /var/lib/fleet-ntpd/build
    base_image: arm32v7/debian:bookworm-slim
    architecture: armhf
    config_file: /etc/fleet-ntpd/ntp.conf

- name: Host where CAP_SYS_RESOURCE is withheld (ntpd then cannot lock its memory)
  fleet.linux.docker_ntpd:
    build_context: /var/lib/fleet-ntpd/build
    base_image: fleet-lab/debian:bookworm
    pull_base: false
    config_file: /etc/fleet-ntpd/ntp.conf
    capabilities: [SYS_TIME]
    published_ports: ['192.168.1.2:123:123/udp']

- name: Restart ntpd after its configuration changed
  fleet.linux.docker_ntpd:
    build_context: /var/lib/fleet-ntpd/build
    base_image: debian:bookworm-slim
    config_file: /etc/fleet-ntpd/ntp.conf
    state: restarted

- name: Remove the container (image and drift volume stay)
  fleet.linux.docker_ntpd:
    name: ntpd
    state: absent
'''

RETURN = r'''
actions:
  description:
    - The planned (in check mode) or performed actions, in order.
    - On failure, the steps done before it (C(recreate) split into C(stop), C(remove) and C(create);
      a container created by the task and removed again because it could not start is left out);
      empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: [build, recreate, start]
differences:
  description: Fields in which the existing container differed from the declared one.
  returned: always
  type: list
  elements: str
  sample: [image_id, capabilities]
image:
  description: The image reference (C(IMAGE:ARCH-HASH)) the container runs.
  returned: unless state=absent
  type: str
  sample: fleet-linux/ntpd:armhf-3f1c2a9b7d10
image_id:
  description: Id of that image (null in check mode when it is still to be built).
  returned: unless state=absent
  type: str
  sample: sha256:3c6dd1c0fb3a5d0c9f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d
build_hash:
  description: Hash of the build inputs, stored in the image label C(fleet.linux.ntpd.build-hash).
  returned: unless state=absent
  type: str
build_log:
  description: Last lines of the docker build output.
  returned: when an image was built
  type: list
  elements: str
before:
  description: The container before the task (null when there was none).
  returned: always
  type: dict
  sample:
    image_id: sha256:3c6d...
    command: ['-g', '-n']
    capabilities: [SYS_RESOURCE, SYS_TIME]
    capabilities_dropped: [ALL]
    privileged: false
    no_new_privileges: true
    read_only_root: true
    tmpfs: ['/run:rw,nosuid,nodev,noexec,size=1m', '/tmp:rw,nosuid,nodev,noexec,size=1m']
    restart_policy: always
    network_mode: bridge
    mounts: ['/etc/fleet-ntpd/ntp.conf:/etc/ntp.conf:ro', 'ntpd-drift:/var/lib/ntp']
    ports: ['123:123/udp']
    running: true
    status: running
after:
  description: The container after the task (predicted in check mode; null when absent).
  returned: always
  type: dict
'''

import errno
import os
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal, read_file, read_text
from ansible_collections.fleet.linux.plugins.module_utils.docker_api import (
    DockerClient, DockerError, context_files, context_tar)
from ansible_collections.fleet.linux.plugins.module_utils.ntpd_plan import (
    BUILD_HASH_LABEL, DOCKER_ARCHITECTURES, DRIFT_DIRECTORY_ROOT, PROC_NET_FILES, build_hash, capabilities_from_mask, container_spec,
    current_container, desired_container, differences, foreign_port_holders, image_matches, image_tag,
    parse_proc_net, parse_status_mask, plan, ports_held, refuse_ungrantable, translate_start_error,
    unsafe_path_reason, validate, wanted_ports)

# Where the module reads the host (tests point these at fixture trees).
PROC_ROOT = '/proc'
DOCKER_PID_FILE = '/var/run/docker.pid'


def dockerd_bounding_set():
    """Capabilities dockerd may hand out: its CapBnd (this process's when its pid is unknown)."""
    pid = (read_text(DOCKER_PID_FILE) or '').strip()
    status = (read_text('%s/%s/status' % (PROC_ROOT, pid)) if pid.isdigit() else None) \
        or read_text(PROC_ROOT + '/self/status') or ''
    mask = parse_status_mask(status)
    return None if mask is None else capabilities_from_mask(mask)


def bound_sockets():
    """Every bound UDP socket and listening TCP socket of the host: (proto, address, port)."""
    sockets = []
    for name, proto in PROC_NET_FILES:
        sockets.extend(parse_proc_net(read_file('%s/net/%s' % (PROC_ROOT, name), ''), proto))
    return sockets


def refuse_taken_ports(desired, current):
    """Refuse when a host port to publish is held by something other than this container
    (the ports the running container holds are its own: it is stopped before its successor starts)."""
    wanted = wanted_ports(desired)
    for port, sock in foreign_port_holders(wanted, bound_sockets(), ports_held(current)):
        host_ip, host_port, _container_port, proto = port
        raise Refusal(
            '%s port %d on %s is already taken by another process or container (bound on %s); stop it '
            '(a host ntpd or chronyd? see: ss -ulpn "sport = :%d"; docker ps) or publish '
            'on another address' % (proto, host_port, host_ip or 'every address', sock[1], host_port))
    for host_ip in sorted(set(port[0] for port in wanted if port[0])):
        probe = socket.socket(socket.AF_INET6 if ':' in host_ip else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind((host_ip, 0))
        except (OSError, IOError) as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise Refusal('published_ports: %s is not an address of this host' % host_ip)
            raise
        finally:
            probe.close()


def refuse_unsafe_files(params):
    """The files the container gets from the host: present, and out of every other user's reach."""
    dockerfile = os.path.join(params['build_context'], params['dockerfile'])
    if not os.path.isfile(dockerfile):
        raise Refusal('the Dockerfile %s does not exist on the managed node' % dockerfile)
    config = params['config_file']
    if not os.path.isfile(config):
        raise Refusal('the ntp configuration %s does not exist on the managed node: it is '
                      'mounted read-only into the container, write it first' % config)
    checks = [('config_file', config, 'the ntp configuration steers a process holding CAP_SYS_TIME',
               '/etc/fleet-ntpd/ntp.conf')]
    checks.extend(('build_context', path, 'the image it builds runs with CAP_SYS_TIME', '/var/lib/fleet-ntpd/build')
                  for path in [params['build_context']] + [path for _relpath, path in context_files(params['build_context'])])
    drift = params['drift_volume']
    if os.path.isabs(drift):
        checks.append(('drift_volume', drift, 'ntpd writes there as root', DRIFT_DIRECTORY_ROOT))
    for option, path, why, example in checks:
        reason = unsafe_path_reason(path)
        if reason:
            raise Refusal('%s: %s: another user could change what %s leads to (%s); give a path that '
                          'only root can change, such as %s' % (option, reason, path, why, example))
    if os.path.isabs(drift) and os.path.lexists(drift) and not os.path.isdir(drift):
        raise Refusal('drift_volume: %s exists and is not a directory' % drift)


class NtpdContainer(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = module.params['name']
        self.client = DockerClient(module.params['docker_socket'])
        self.result = {'changed': False, 'actions': [], 'differences': []}
        self.bounding = None
        self.performed = []

    def fail(self, msg, **extra):
        self.module.fail_json(msg=msg, **dict(self.result, **extra))

    def did(self, step):
        """Record a step that changed the host: a failure after it still reports changed."""
        self.performed.append(step)
        self.result.update(changed=True, actions=list(self.performed))

    def inputs(self):
        """The build context's files (what the image build depends on)."""
        files = []
        for relpath, path in context_files(self.params['build_context']):
            with open(path, 'rb') as handle:
                files.append((relpath, handle.read()))
        return files

    def run(self):
        params = self.params
        state = params['state']
        validate(params)
        if state != 'absent':
            refuse_unsafe_files(params)
        version = self.client.version()
        current_inspect = self.client.inspect_container(self.name)
        current = current_container(current_inspect)
        self.result['before'] = current
        if state == 'absent':
            actions = plan(state, True, True, current, None)
            return self.execute(actions, None, None, current)

        files = self.inputs()
        architecture = params['architecture'] or DOCKER_ARCHITECTURES.get(version.get('Arch'), version.get('Arch'))
        base = self.client.inspect_image(params['base_image'])
        buildargs = {'BASE': params['base_image']}
        digest = build_hash(files, base['Id'], buildargs) if base else None
        tag = image_tag(params['image'], architecture, digest or 'pending')
        image = self.client.inspect_image(tag) if base else None
        ready = image_matches(image, digest)
        desired = desired_container(params, image['Id'] if ready else None)
        self.bounding = dockerd_bounding_set()
        if self.bounding is not None:
            refuse_ungrantable(desired['capabilities'], self.bounding)
        actions = plan(state, ready, base is not None, current, desired)
        if current is not None:
            self.result['differences'] = differences(current, desired)
        if set(actions) & set(['start', 'restart']):
            refuse_taken_ports(desired, current)
        if 'pull' in actions and not params['pull_base']:
            raise Refusal('the base image %s is not in the local Docker engine and pull_base is false: '
                          'load it (docker load -i FILE) or build it (debootstrap + docker import)'
                          % params['base_image'])
        self.result.update(image=tag, image_id=desired['image_id'], build_hash=digest)
        return self.execute(actions, desired, (tag, files, buildargs, architecture), current)

    def execute(self, actions, desired, build, current):
        """Carry out ``actions``; ``changed`` and ``actions`` of a failure say what was done before it."""
        params = self.params
        if self.module.check_mode or not actions:
            self.result.update(actions=actions, changed=bool(actions))
            self.result['after'] = self.predicted(actions, desired, current)
            return self.finish()
        steps = []
        for action in actions:
            if action == 'recreate':
                steps.extend((['stop'] if current['running'] else []) + ['remove', 'create'])
            else:
                steps.append(action)
        for step in steps:
            if step == 'pull':
                try:
                    self.client.pull_image(params['base_image'])
                except DockerError as exc:
                    self.fail('the base image %s is not in the local Docker engine and cannot be pulled '
                              '(%s): load it (docker load -i FILE) or build it locally (debootstrap + '
                              'docker import) and run again' % (params['base_image'], exc))
            elif step == 'build':
                desired = self.build(desired, *build)
            elif step == 'create':
                self.client.create_container(self.name, container_spec(desired, desired['image_id']))
            elif step == 'start':
                self.start(desired)
            elif step == 'stop':
                self.client.stop_container(self.name, params['stop_timeout'])
            elif step == 'restart':
                self.client.restart_container(self.name, params['stop_timeout'])
            elif step == 'remove':
                self.client.remove_container(self.name)
            self.did(step)
        self.result['actions'] = actions
        self.result['after'] = current_container(self.client.inspect_container(self.name))
        return self.finish()

    def build(self, desired, tag, files, buildargs, architecture):
        params = self.params
        base = self.client.inspect_image(params['base_image'])
        if base is None:
            self.fail('the base image %s is still missing after the pull' % params['base_image'])
        digest = build_hash(files, base['Id'], buildargs)
        tag = image_tag(params['image'], architecture, digest)
        labels = {BUILD_HASH_LABEL: digest, 'fleet.linux.ntpd.base-image': params['base_image'],
                  'fleet.linux.ntpd.base-image-id': base['Id']}
        try:
            image_id, output = self.client.build_image(
                context_tar(params['build_context']), tag, params['dockerfile'], buildargs, labels,
                timeout=params['build_timeout'])
        except DockerError as exc:
            self.fail('building %s from %s failed: %s' % (tag, params['build_context'], exc))
        self.result.update(image=tag, image_id=image_id, build_hash=digest, build_log=output[-30:])
        return dict(desired, image_id=image_id)

    def start(self, desired):
        """Start the container; one that cannot start and was created by this run is removed again."""
        try:
            self.client.start_container(self.name)
        except DockerError as exc:
            message = translate_start_error(str(exc), desired['capabilities'], self.bounding)
            if message is None:
                raise
            if self.performed[-1:] == ['create']:
                self.client.remove_container(self.name)
                self.performed.pop()
                self.result.update(changed=bool(self.performed), actions=list(self.performed))
            self.fail(message)

    def predicted(self, actions, desired, current):
        """The container view after ``actions`` (check mode and no-op runs)."""
        if desired is None:
            return None if 'remove' in actions else current
        if current is None or set(actions) & set(['create', 'recreate']):
            after = dict(desired, capabilities_dropped=['ALL'], running=False, status='created')
        else:
            after = dict(current)
        if set(actions) & set(['start', 'restart']):
            after.update(running=True, status='running')
        elif 'stop' in actions:
            after.update(running=False, status='exited')
        return after

    def finish(self):
        if self.module._diff:
            self.result['diff'] = {'before': render(self.result.get('before')),
                                   'after': render(self.result.get('after'))}
        self.module.exit_json(**self.result)


def render(view):
    if not view:
        return ''
    return ''.join('%s: %s\n' % (key, view[key]) for key in sorted(view))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', default='ntpd'),
            state=dict(type='str', default='started', choices=['started', 'stopped', 'absent', 'restarted', 'present']),
            image=dict(type='str', default='fleet-linux/ntpd'),
            build_context=dict(type='path'),
            dockerfile=dict(type='str', default='Dockerfile'),
            base_image=dict(type='str'),
            architecture=dict(type='str', choices=['armhf', 'arm64', 'amd64']),
            pull_base=dict(type='bool', default=True),
            ntpd_args=dict(type='list', elements='str', default=['-g', '-n']),
            capabilities=dict(type='list', elements='str', default=['SYS_TIME', 'SYS_RESOURCE']),
            allow_extra_capabilities=dict(type='bool', default=False),
            config_file=dict(type='path'),
            drift_volume=dict(type='str', default='ntpd-drift'),
            network_mode=dict(type='str', default='bridge', choices=['bridge', 'host']),
            published_ports=dict(type='list', elements='str', default=['123:123/udp']),
            docker_socket=dict(type='path', default='/var/run/docker.sock'),
            stop_timeout=dict(type='int', default=10),
            build_timeout=dict(type='int', default=1800),
        ),
        required_if=[
            ('state', 'started', ['build_context', 'base_image', 'config_file']),
            ('state', 'stopped', ['build_context', 'base_image', 'config_file']),
            ('state', 'restarted', ['build_context', 'base_image', 'config_file']),
            ('state', 'present', ['build_context', 'base_image', 'config_file']),
        ],
        supports_check_mode=True,
    )
    container = NtpdContainer(module)
    try:
        container.run()
    except Refusal as exc:
        container.fail(str(exc))
    except DockerError as exc:
        container.fail(str(exc))


if __name__ == '__main__':
    main()
