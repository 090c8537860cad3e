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
    stopped or removed reports C(true), and I(actions) and I(steps) list the steps that were done.
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
      - C(built) only builds (or loads from I(image_archive)) the image, and saves it into
        I(save_archive) when given; no container is touched and I(config_file) is not needed.
    type: str
    choices: [started, stopped, absent, restarted, present, built]
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
  dockerfile_content:
    description:
      - The Dockerfile's content. Written to I(dockerfile) in I(build_context) (created, mode 0755, when
        missing) only when the file differs, atomically and never through a link (step C(write_dockerfile)).
      - Without it the Dockerfile must be there already.
    type: str
  config_content:
    description:
      - The ntp configuration's content. Written to I(config_file) (its directory created when missing) only
        when the file differs, atomically and never through a link (step C(write_config)). A running
        container that is not recreated is then restarted with I(state=started).
      - Without it the file must be there already.
    type: str
  base_image:
    description:
      - Base image of the target architecture, passed to the Dockerfile as the build argument
        C(BASE). It must be in the local engine or pullable.
      - Unless I(state=absent), it or I(base_images) is required.
    type: str
  base_images:
    description:
      - Base image per architecture (C(armel), C(armhf), C(arm64), C(amd64)), used when I(base_image) is not
        given, the entry of the detected (or given) I(architecture).
    type: dict
  architecture:
    description:
      - Architecture of the image, named in its tag (Debian's port names).
      - By default it is decided from what the node reports. dockerd's architecture and variant give the
        userspace (C(arm) under 32-bit Raspberry Pi OS even on a 64-bit kernel), else the width of the node's
        Python. The kernel's machine (C(uname -m)) gives the level of 32-bit arm.
      - C(armel) on an ARMv6 Pi (C(armv6l) Pi 1, Zero, Zero W). Debian armel is ARMv5TE code, which runs on
        ARMv6; Debian has no ARMv6 hard-float port, and Raspbian's archive is not used.
      - C(armhf) under a 32-bit OS on a later Pi (C(armv7l) Pi 2, or a Zero 2 W, 3, 4 or 5 with a 32-bit
        kernel or a 64-bit kernel under 32-bit userspace). C(arm64) under a 64-bit OS, C(amd64) on x86-64.
        A node that cannot be told apart is refused.
      - Given, it wins, but one the kernel cannot run is refused (C(armhf), ARMv7 code, on an C(armv6l) Pi;
        C(arm64) on a 32-bit kernel; arm on x86-64).
    type: str
    choices: [armel, armhf, arm64, amd64]
  image_archive:
    description:
      - A C(docker save) archive on the managed node (made by I(save_archive) on a node of the same
        architecture). When the image to run is missing and the archive holds it, tagged and labelled with
        the build hash this node computes, it is loaded (step C(load)) instead of built; otherwise it
        is built. The loaded image is checked by its build-hash label.
    type: path
  save_archive:
    description:
      - Save the image (C(docker save), step C(save)) into this file on the managed node unless it
        already holds it, to ship it to the other nodes of the architecture (I(image_archive)).
    type: path
  host_time_services:
    description:
      - Units whose state and status (and systemd-timesyncd's, and timedatectl's NTP property) are read
        and returned in I(host_time_services) and I(host_ntp_synchronization). Read only.
    type: list
    elements: str
    default: []
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
      - Required unless I(state=absent) or I(state=built).
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
    description: Seconds an image build (apt-get inside the base image), load or save may take (at least 1).
    type: int
    default: 1800
  wait_sync:
    description:
      - With I(state=started) or I(state=restarted), once the container runs, wait until ntpd is synchronised
        as I(sync_condition) says, at most I(wait_timeout) seconds, and return its state in I(sync). Polls
        C(ntpq -n -p -c 'rv 0 leap,stratum') inside the container through the Engine API (no docker CLI
        needed), after 0.5 and 0.5 seconds, then every second up to 16 seconds (ntpd with C(iburst) selects its
        peer after about 7 seconds), then every 2 seconds.
      - A container that stops or restarts meanwhile fails the task at once (see I(check_running)). A wait
        that times out fails the task; C(changed) still says what was done before.
      - Not in check mode.
    type: bool
    default: false
  sync_condition:
    description:
      - What I(wait_sync) waits for. C(serving) (the default) that ntpd has selected a system peer and its leap
        indicator is no longer 3 (unsynchronised), so that the LAN clients it serves get synchronised answers.
        C(peer) only that ntpd has selected a system peer (C(*) in C(ntpq -p)).
      - With a small offset ntpd clears leap 3 together with the peer's selection (seconds). After a step (an offset
        beyond 128 ms) ntpsec measures the clock's frequency for 300 s first, so C(serving) then takes about 5 minutes.
        An ntpd that does not discipline the clock (C(disable ntp)) never clears leap 3, so use C(peer) there.
    type: str
    choices: [serving, peer]
    default: serving
  wait_timeout:
    description: Seconds I(wait_sync) waits at most (at least 1).
    type: int
    default: 300
  check_running:
    description:
      - With I(state=started) or I(state=restarted), check (not in check mode) that ntpd keeps running, and fail
        naming its status and exit code when it does not (dockerd restarts a container whose ntpd exits, for
        example on a configuration it refuses). After the wait of I(wait_sync), or, without it, 3 seconds after
        a start or restart done by the task.
    type: bool
    default: false
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

- name: Build the image on one node and save it for the others of its architecture
  fleet.linux.docker_ntpd:
    state: built
    build_context: /var/lib/fleet-ntpd/build
    dockerfile_content: "{{ lookup('ansible.builtin.file', 'Dockerfile', rstrip=false) }}"
    base_images: {armel: arm32v5/debian:bookworm-slim, armhf: arm32v7/debian:bookworm-slim, arm64: arm64v8/debian:bookworm-slim}
    save_archive: /var/lib/fleet-ntpd/ntpd-image.tar

- name: Read everything in one call (check mode), host time services included
  fleet.linux.docker_ntpd:
    build_context: /var/lib/fleet-ntpd/build
    dockerfile_content: "{{ lookup('ansible.builtin.file', 'Dockerfile', rstrip=false) }}"
    config_file: /etc/fleet-ntpd/ntp.conf
    config_content: "{{ lookup('ansible.builtin.template', 'ntp.conf.j2') }}"
    base_images: {armel: arm32v5/debian:bookworm-slim, armhf: arm32v7/debian:bookworm-slim, arm64: arm64v8/debian:bookworm-slim}
    image_archive: /var/lib/fleet-ntpd/ntpd-image.tar
    host_time_services: [ntp.service, chrony.service]
  check_mode: true

- name: Restart after a change, wait until LAN clients get synchronised answers, check that ntpd keeps running
  fleet.linux.docker_ntpd:
    build_context: /var/lib/fleet-ntpd/build
    base_image: debian:bookworm-slim
    config_file: /etc/fleet-ntpd/ntp.conf
    config_content: "{{ lookup('ansible.builtin.template', 'ntp.conf.j2') }}"
    wait_sync: true
    sync_condition: serving
    wait_timeout: 600
    check_running: true
  register: ntpd

- name: Remove the container (image and drift volume stay)
  fleet.linux.docker_ntpd:
    name: ntpd
    state: absent
'''

RETURN = r'''
actions:
  description:
    - The planned (in check mode) or performed steps, in order, each as the command line a person would run
      for it. The module talks to the Engine API, so these are the docker CLI commands that do the same, with
      the options the container really gets; C(write PATH) for a file it writes.
    - A container that differs from the declared one is recreated, C(docker stop) (when it runs), C(docker rm)
      and C(docker create). While the base image is still to be pulled (check mode), the build's labels,
      which carry the build hash, are not known yet and left out, and its tag ends in C(pending).
    - On failure, the steps done before it (a container created by the task and removed again because it
      could not start is left out); empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample:
    - write /etc/fleet-ntpd/ntp.conf
    - >-
      docker build --tag fleet-linux/ntpd:armhf-3f1c2a9b7d10 --build-arg BASE=arm32v7/debian:bookworm-slim
      --label fleet.linux.ntpd.base-image=arm32v7/debian:bookworm-slim --label fleet.linux.ntpd.base-image-id=sha256:5e8a...
      --label fleet.linux.ntpd.build-hash=3f1c2a9b7d10... /var/lib/fleet-ntpd/build
    - docker stop --time 10 ntpd
    - docker rm --force ntpd
    - >-
      docker create --name ntpd --cap-drop ALL --cap-add SYS_RESOURCE --cap-add SYS_TIME --security-opt no-new-privileges
      --read-only --tmpfs /run:rw,nosuid,nodev,noexec,size=1m --tmpfs /tmp:rw,nosuid,nodev,noexec,size=1m --restart always
      --network bridge --volume /etc/fleet-ntpd/ntp.conf:/etc/ntp.conf:ro --volume ntpd-drift:/var/lib/ntp
      --publish 123:123/udp --label fleet.linux.ntpd.managed=true fleet-linux/ntpd:armhf-3f1c2a9b7d10 -g -n
    - docker start ntpd
steps:
  description:
    - The kind of each line of I(actions), in the same order, for the decisions of a role or playbook
      (C(write_dockerfile), C(write_config), C(pull), C(build), C(load), C(save), C(stop), C(remove),
      C(create), C(start), C(restart)).
  returned: always
  type: list
  elements: str
  sample: [write_config, build, stop, remove, create, start]
restart_needed:
  description:
    - Whether the task rewrote (in check mode would rewrite) I(config_file) of a running container that it
      neither restarts, stops nor recreates (I(state=present)). ntpd keeps the old configuration until the
      container is restarted (I(state=restarted)).
  returned: always
  type: bool
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
architecture:
  description: Architecture of the image (given or detected).
  returned: unless state=absent
  type: str
  sample: armhf
machine:
  description: The kernel's machine (C(uname -m)), e.g. C(armv6l) on a Pi 1 or Zero, where only armel images run.
  returned: always
  type: str
  sample: aarch64
userspace_bits:
  description: The width of the node's userspace as its Python has it (32 or 64), for the architecture decision.
  returned: always
  type: int
  sample: 32
base_image:
  description: The base image used (given or chosen from I(base_images)).
  returned: unless state=absent
  type: str
engine_answers:
  description: Whether dockerd answered (false when its socket is missing or nothing listens).
  returned: always
  type: bool
host_time_services:
  description: The units of I(host_time_services) and systemd-timesyncd that systemd knows, as service_facts words them.
  returned: always
  type: dict
  sample: {chrony.service: {name: chrony.service, state: running, status: enabled}}
host_ntp_synchronization:
  description: timedatectl's NTP property (C(yes), C(no)); null without timedatectl or I(host_time_services).
  returned: always
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
sync:
  description:
    - ntpd's synchronisation at the last poll of I(wait_sync) (also when the wait failed; null when ntpq did not
      answer). I(peer) (its I(refid), I(delay_ms) and I(offset_ms), as C(ntpq -p) prints them) is null while no
      system peer is selected; I(stratum) and I(leap) are ntpd's own (leap 3, unsynchronised, is what LAN
      clients get too); I(peers) counts the associations.
  returned: when wait_sync ran
  type: dict
  sample: {peer: 10.123.0.1, refid: .LOCL., stratum: 2, leap: 0, offset_ms: 0.044, delay_ms: 0.1507, peers: 1}
waited:
  description: Seconds I(wait_sync) waited (rounded to 0.1).
  returned: when wait_sync ran
  type: float
'''

import errno
import os
import socket
import stat
import struct
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleet.linux.plugins.module_utils.common import (
    C_LOCALE, Refusal, create_temporary, existing_file, open_directory, read_file, read_text, write_atomically)
from ansible_collections.fleet.linux.plugins.module_utils.docker_api import (
    DockerClient, DockerError, archive_images, context_files, context_tar)
from ansible_collections.fleet.linux.plugins.module_utils.ntpd_plan import (
    DRIFT_DIRECTORY_ROOT, PROC_NET_FILES, TIMESYNCD, action_line, archive_matches, build_hash, capabilities_from_mask,
    container_spec, current_container, desired_container, differences, foreign_port_holders, image_architecture,
    image_labels, image_matches, image_tag, parse_proc_net, parse_status_mask, parse_systemctl_show, plan, ports_held,
    refuse_ungrantable, resolve_base_image, restart_needed, translate_start_error, unsafe_path_reason, validate,
    wanted_ports, NTPQ_ARGV, parse_ntpq_sync, poll_delays, running_problem, sync_reached, sync_text)

# Where the module reads the host (tests point these at fixture trees).
PROC_ROOT = '/proc'
DOCKER_PID_FILE = '/var/run/docker.pid'
# check_running without wait_sync: how long ntpd runs before it is looked at again (it exits within a second
# on a configuration it refuses, and dockerd then restarts it).
SETTLE_SECONDS = 3
# The steps that leave ntpd freshly started.
STARTING_STEPS = ('start', 'restart')


def node_platform():
    """(the kernel's machine, uname -m; the userspace width in bits, that of this Python)."""
    return os.uname()[4], struct.calcsize('P') * 8


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
    """The files the container gets from the host: present (or given as content), and out of every
    other user's reach."""
    dockerfile = os.path.join(params['build_context'], params['dockerfile'])
    if params['dockerfile_content'] is None and not os.path.isfile(dockerfile):
        raise Refusal('the Dockerfile %s does not exist on the managed node (or give dockerfile_content)' % dockerfile)
    checks = [('build_context', path, 'the image it builds runs with CAP_SYS_TIME', '/var/lib/fleet-ntpd/build')
              for path in [params['build_context'], dockerfile] + [path for _relpath, path in context_files(params['build_context'])]]
    config = params['config_file']
    if params['state'] != 'built':
        if params['config_content'] is None and not os.path.isfile(config):
            raise Refusal('the ntp configuration %s does not exist on the managed node: it is mounted read-only '
                          'into the container, write it first (or give config_content)' % config)
        checks.insert(0, ('config_file', config, 'the ntp configuration steers a process holding CAP_SYS_TIME',
                          '/etc/fleet-ntpd/ntp.conf'))
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


def file_differs(path, content):
    """Whether ``path`` (a regular file, not followed if a link: refused) lacks exactly ``content``."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return True
        raise
    if not stat.S_ISREG(info.st_mode):
        raise Refusal('%s is not a regular file: refusing to write it; remove it and run again' % path)
    return read_file(path) != content


def host_time_services(module, units):
    """(services as parse_systemctl_show gives them, timedatectl's NTP property or None) of ``units``
    and systemd-timesyncd; ({}, None) without systemd."""
    systemctl = module.get_bin_path('systemctl')
    if not systemctl or not units:
        return {}, None
    names = list(units) + ([TIMESYNCD] if TIMESYNCD not in units else [])
    rc, out, _err = module.run_command([systemctl, 'show', '--property=Id,LoadState,ActiveState,UnitFileState'] + names,
                                       environ_update=C_LOCALE)
    services = parse_systemctl_show(out) if rc == 0 else {}
    timedatectl = module.get_bin_path('timedatectl')
    ntp = None
    if timedatectl:
        rc, out, _err = module.run_command([timedatectl, 'show', '--property=NTP', '--value'], environ_update=C_LOCALE)
        ntp = out.strip() if rc == 0 else None
    return services, ntp


class NtpdContainer(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = module.params['name']
        self.client = DockerClient(module.params['docker_socket'])
        self.result = {'changed': False, 'actions': [], 'steps': [], 'differences': [], 'restart_needed': False}
        self.bounding = None
        self.facts = {'name': self.name, 'stop_timeout': module.params['stop_timeout']}

    def fail(self, msg, **extra):
        self.module.fail_json(msg=msg, **dict(self.result, **extra))

    def did(self, step):
        """Record a step that changed the host: a failure after it still reports changed."""
        self.result.update(changed=True, steps=self.result['steps'] + [step],
                           actions=self.result['actions'] + [action_line(step, self.facts)])

    def undo_create(self):
        """Forget the create of a container removed again (it could not start)."""
        steps, actions = self.result['steps'][:-1], self.result['actions'][:-1]
        self.result.update(changed=bool(steps), steps=steps, actions=actions)

    def inputs(self):
        """The build context's files (what the image build depends on), the Dockerfile as it will be written."""
        params = self.params
        files = dict((relpath, path) for relpath, path in context_files(params['build_context']))
        if params['dockerfile_content'] is not None:
            files[os.path.normpath(params['dockerfile'])] = params['dockerfile_content'].encode('utf-8')
        contents = []
        for relpath, source in sorted(files.items()):
            if isinstance(source, bytes):
                contents.append((relpath, source))
                continue
            with open(source, 'rb') as handle:
                contents.append((relpath, handle.read()))
        return contents

    def writes(self):
        """The files to write first: the Dockerfile and the configuration given as content, where they differ."""
        params = self.params
        wanted = [('write_dockerfile', os.path.join(params['build_context'], params['dockerfile']), params['dockerfile_content'])]
        if params['state'] != 'built':
            wanted.append(('write_config', params['config_file'], params['config_content']))
        return [(step, path, content) for step, path, content in wanted if content is not None and file_differs(path, content)]

    def read_engine(self):
        """dockerd's version answer; a daemon that does not answer fails with engine_answers: false."""
        try:
            return self.client.version()
        except DockerError as exc:
            self.fail(str(exc), engine_answers=False)

    def run(self):
        params = self.params
        state = params['state']
        validate(params)
        if state != 'absent':
            refuse_unsafe_files(params)
        writes = self.writes() if state != 'absent' else []
        services, ntp = host_time_services(self.module, params['host_time_services'])
        machine, bits = node_platform()
        self.result.update(host_time_services=services, host_ntp_synchronization=ntp, machine=machine,
                           userspace_bits=bits)
        version = self.read_engine()
        current_inspect = self.client.inspect_container(self.name)
        current = current_container(current_inspect)
        self.result.update(before=current, engine_answers=True)
        if state == 'absent':
            return self.execute(plan(state, True, True, current, None), None, None, current)

        files = self.inputs()
        # dockerd's /version names no arm variant (20.10 to 28); taken when an engine gives one.
        architecture = image_architecture(
            dict(docker_arch=version.get('Arch'), docker_os=version.get('Os'), docker_variant=version.get('Variant'),
                 machine=machine, userspace_bits=bits), params['architecture'])
        base_image = resolve_base_image(params['base_image'], params['base_images'], architecture)
        self.result.update(architecture=architecture, base_image=base_image)
        base = self.client.inspect_image(base_image)
        buildargs = {'BASE': base_image}
        digest = build_hash(files, base['Id'], buildargs) if base else None
        tag = image_tag(params['image'], architecture, digest or 'pending')
        image = self.client.inspect_image(tag) if base else None
        ready = image_matches(image, digest)
        loadable = not ready and digest is not None and self.archive_holds(params['image_archive'], tag, digest)
        desired = desired_container(params, image['Id'] if ready else None) if state != 'built' else None
        self.bounding = dockerd_bounding_set()
        if self.bounding is not None and desired is not None:
            refuse_ungrantable(desired['capabilities'], self.bounding)
        steps = plan(state, ready, base is not None, current, desired, [step for step, _path, _content in writes], loadable)
        if params['save_archive'] and not (digest and self.archive_holds(params['save_archive'], tag, digest)):
            steps.append('save')
        if current is not None and desired is not None:
            self.result['differences'] = differences(current, desired)
        if set(steps) & set(['start', 'restart']):
            refuse_taken_ports(desired, current)
        if 'pull' in steps and not params['pull_base']:
            raise Refusal('the base image %s is not in the local Docker engine and pull_base is false: '
                          'load it (docker load -i FILE) or build it (debootstrap + docker import)' % base_image)
        self.result.update(image=tag, image_id=image['Id'] if ready else None, build_hash=digest,
                           restart_needed=restart_needed(steps, current))
        self.facts.update((step, path) for step, path, _content in writes)
        self.facts.update(
            base_image=base_image, build_context=params['build_context'], dockerfile=params['dockerfile'],
            buildargs=buildargs, tag=tag, labels=image_labels(digest, base_image, base['Id']) if base else None,
            image_archive=params['image_archive'], save_archive=params['save_archive'],
            spec=container_spec(desired, image['Id'] if ready else None) if desired else None)
        return self.execute(steps, desired, (tag, files, buildargs, architecture, base_image, writes), current)

    @staticmethod
    def archive_holds(path, tag, digest):
        """Whether the ``docker save`` archive at ``path`` (a regular file; none: False) holds ``tag`` built as ``digest``."""
        if not path or not os.path.isfile(path) or os.path.islink(path):
            return False
        try:
            return archive_matches(archive_images(path), tag, digest)
        except (OSError, IOError, ValueError) as exc:
            raise Refusal('%s is not a docker save archive (%s): remove it and run again' % (path, exc))

    def execute(self, steps, desired, build, current):
        """Carry out ``steps``; ``changed``, ``steps`` and ``actions`` of a failure say what was done before it."""
        params = self.params
        if self.module.check_mode or not steps:
            self.result.update(steps=steps, actions=[action_line(step, self.facts) for step in steps], changed=bool(steps))
            self.result['after'] = self.predicted(steps, desired, current)
            if not self.module.check_mode:
                self.settle(started=False)
            return self.finish()
        for step in steps:
            if step in ('write_dockerfile', 'write_config'):
                self.write(next((path, content) for planned, path, content in build[5] if planned == step))
            elif step == 'pull':
                try:
                    self.client.pull_image(build[4])
                except DockerError as exc:
                    self.fail('the base image %s is not in the local Docker engine and cannot be pulled '
                              '(%s): load it (docker load -i FILE) or build it locally (debootstrap + '
                              'docker import) and run again' % (build[4], exc))
            elif step == 'build':
                desired, step = self.build(desired, *build[:5])
            elif step == 'load':
                desired = self.load(desired, build[0])
            elif step == 'save':
                self.save(self.result['image'])
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
        self.result['after'] = current_container(self.client.inspect_container(self.name))
        self.settle(started=bool(set(steps) & set(STARTING_STEPS)))
        return self.finish()

    def settle(self, started):
        """After the steps, with the container meant to run: wait_sync's wait for ntpd, then check_running's look
        (3 s after a start of this task when there was no wait). Either fails the task, changed as done."""
        params = self.params
        if params['state'] not in ('started', 'restarted') or not (params['wait_sync'] or params['check_running']):
            return
        if params['wait_sync']:
            self.wait_sync()
        elif started:
            self.sleep(SETTLE_SECONDS)
        if params['check_running']:
            inspect = self.client.inspect_container(self.name)
            problem = running_problem((inspect or {}).get('State')) if inspect else 'no such container'
            if problem:
                self.fail('ntpd in %s does not keep running (%s): see docker logs %s' % (self.name, problem, self.name))
            self.result['after'] = current_container(inspect)

    def wait_sync(self):
        """Poll ntpq in the container until sync_condition holds; fail at wait_timeout, or at once when the
        container stops running."""
        params = self.params
        started = time.time()
        sync = None
        for delay in [0] + poll_delays(params['wait_timeout']):
            self.sleep(delay)
            try:
                rc, out, err = self.client.exec_run(self.name, NTPQ_ARGV, timeout=30)
            except DockerError as exc:
                if exc.status == 409:  # not running, or restarting: ntpd exited
                    inspect = self.client.inspect_container(self.name)
                    self.fail('ntpd in %s does not keep running (%s): see docker logs %s' % (
                        self.name, running_problem((inspect or {}).get('State')) if inspect else 'no such container',
                        self.name), sync=sync, waited=round(time.time() - started, 1))
                raise
            sync = parse_ntpq_sync(out) if rc == 0 else None
            self.result.update(sync=sync, waited=round(time.time() - started, 1))
            if sync_reached(sync, params['sync_condition']):
                return
        self.fail('ntpd in %s is not synchronised (%s) after %d s: %s; see docker logs %s and '
                  'docker exec %s ntpq -p' % (
                      self.name, 'a system peer' if params['sync_condition'] == 'peer' else 'a system peer and leap not 3',
                      params['wait_timeout'], sync_text(sync) if rc == 0 else 'ntpq failed: %s' % (err or out).strip(),
                      self.name, self.name))

    @staticmethod
    def sleep(seconds):
        if seconds > 0:
            time.sleep(seconds)

    def write(self, target):
        """Write a file given as content: its directory created root-only, the file replaced atomically
        (a link or special file at the path is refused, never written through)."""
        path, content = target
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        write_atomically(self.module, path, content, mode=0o644)

    def build(self, desired, tag, files, buildargs, architecture, base_image):
        """(desired with the new image id, 'build'), or 'load' when image_archive holds the image (known
        only now where the base image was pulled first)."""
        params = self.params
        base = self.client.inspect_image(base_image)
        if base is None:
            self.fail('the base image %s is still missing after the pull' % base_image)
        digest = build_hash(files, base['Id'], buildargs)
        tag = image_tag(params['image'], architecture, digest)
        labels = image_labels(digest, base_image, base['Id'])
        self.result.update(image=tag, build_hash=digest)
        self.facts.update(tag=tag, labels=labels)
        if self.archive_holds(params['image_archive'], tag, digest):
            return self.load(desired, tag), 'load'
        try:
            image_id, output = self.client.build_image(
                context_tar(params['build_context']), tag, params['dockerfile'], buildargs, labels,
                timeout=params['build_timeout'])
        except DockerError as exc:
            self.fail('building %s from %s failed: %s' % (tag, params['build_context'], exc))
        self.result.update(image_id=image_id, build_log=output[-30:])
        return (dict(desired, image_id=image_id) if desired else desired), 'build'

    def load(self, desired, tag):
        """docker load of image_archive, then the image checked by its build label like a local build."""
        with open(self.params['image_archive'], 'rb') as archive:
            try:
                self.client.load_image(archive, timeout=self.params['build_timeout'])
            except DockerError as exc:
                self.fail('loading %s from %s failed: %s' % (tag, self.params['image_archive'], exc))
        image = self.client.inspect_image(tag)
        if not image_matches(image, self.result['build_hash']):
            self.fail('%s loaded from %s does not carry the build hash %s: remove the archive and run again '
                      '(the image is then built here)' % (tag, self.params['image_archive'], self.result['build_hash']))
        self.result['image_id'] = image['Id']
        return dict(desired, image_id=image['Id']) if desired else desired

    def save(self, tag):
        """docker save of the image into save_archive: a new file in root's directory, renamed over the old one."""
        path = self.params['save_archive']
        directory, name = os.path.split(os.path.normpath(path))
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        dir_fd = open_directory(directory)
        temporary = None
        try:
            existing_file(dir_fd, name, path)
            fd, temporary = create_temporary(dir_fd, name)
            with os.fdopen(fd, 'wb') as sink:
                self.client.save_image(tag, sink, timeout=self.params['build_timeout'])
                os.fchmod(sink.fileno(), 0o600)
            os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            temporary = None
        except DockerError as exc:
            self.fail('saving %s into %s failed: %s' % (tag, path, exc))
        finally:
            if temporary is not None:
                os.unlink(temporary, dir_fd=dir_fd)
            os.close(dir_fd)

    def start(self, desired):
        """Start the container; one that cannot start and was created by this run is removed again."""
        try:
            self.client.start_container(self.name)
        except DockerError as exc:
            message = translate_start_error(str(exc), desired['capabilities'], self.bounding)
            if message is None:
                raise
            if self.result['steps'][-1:] == ['create']:
                self.client.remove_container(self.name)
                self.undo_create()
            self.fail(message)

    def predicted(self, steps, desired, current):
        """The container view after ``steps`` (check mode and no-op runs)."""
        if desired is None:
            return None if 'remove' in steps else current
        if current is None or 'create' in steps:
            after = dict(desired, capabilities_dropped=['ALL'], running=False, status='created')
        else:
            after = dict(current)
        if set(steps) & set(['start', 'restart']):
            after.update(running=True, status='running')
        elif 'stop' in steps and 'create' not in steps:
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
            state=dict(type='str', default='started', choices=['started', 'stopped', 'absent', 'restarted', 'present', 'built']),
            image=dict(type='str', default='fleet-linux/ntpd'),
            build_context=dict(type='path'),
            dockerfile=dict(type='str', default='Dockerfile'),
            dockerfile_content=dict(type='str'),
            config_content=dict(type='str'),
            base_image=dict(type='str'),
            base_images=dict(type='dict'),
            architecture=dict(type='str', choices=['armel', 'armhf', 'arm64', 'amd64']),
            image_archive=dict(type='path'),
            save_archive=dict(type='path'),
            host_time_services=dict(type='list', elements='str', default=[]),
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
            wait_sync=dict(type='bool', default=False),
            sync_condition=dict(type='str', default='serving', choices=['serving', 'peer']),
            wait_timeout=dict(type='int', default=300),
            check_running=dict(type='bool', default=False),
        ),
        required_if=[
            ('state', 'started', ['build_context', 'config_file']),
            ('state', 'stopped', ['build_context', 'config_file']),
            ('state', 'restarted', ['build_context', 'config_file']),
            ('state', 'present', ['build_context', 'config_file']),
            ('state', 'built', ['build_context']),
            ('state', 'started', ['base_image', 'base_images'], True),
            ('state', 'stopped', ['base_image', 'base_images'], True),
            ('state', 'restarted', ['base_image', 'base_images'], True),
            ('state', 'present', ['base_image', 'base_images'], True),
            ('state', 'built', ['base_image', 'base_images'], True),
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
