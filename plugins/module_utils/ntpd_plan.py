# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decisions for docker_ntpd: the declared ntpd container, how it compares with the
running one (``docker inspect`` JSON) and which actions bring one to the other.

Nothing here talks to dockerd; the module feeds these functions what it read.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import ipaddress
import json
import os
import re
import stat
import struct

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal, command_line

CONFIG_TARGET = '/etc/ntp.conf'
DRIFT_TARGET = '/var/lib/ntp'
RESTART_POLICY = 'always'
BUILD_HASH_LABEL = 'fleet.linux.ntpd.build-hash'
BASE_IMAGE_LABEL = 'fleet.linux.ntpd.base-image'
BASE_IMAGE_ID_LABEL = 'fleet.linux.ntpd.base-image-id'
MANAGED_LABEL = 'fleet.linux.ntpd.managed'
STATES = ('started', 'stopped', 'absent', 'restarted', 'present', 'built')

# What ntpd uses: SYS_TIME to set the clock, SYS_RESOURCE to lock its memory, and in the host's
# network NET_BIND_SERVICE for udp/123 (in a bridge network dockerd lets it bind low ports).
NTPD_CAPABILITIES = ('SYS_TIME', 'SYS_RESOURCE')
HOST_NETWORK_CAPABILITY = 'NET_BIND_SERVICE'
# The only host directories that may hold the drift file (anything else: a named volume).
DRIFT_DIRECTORY_ROOT = '/var/lib/fleet-ntpd/drift'
# The root filesystem is read-only; ntpd writes its drift file in the volume and nothing else,
# these keep the usual scratch places writable (never executable) for its libraries.
TMPFS = {'/run': 'rw,nosuid,nodev,noexec,size=1m', '/tmp': 'rw,nosuid,nodev,noexec,size=1m'}
NO_NEW_PRIVILEGES = 'no-new-privileges'
# dockerd's own rules for container and volume names, and image repositories.
DOCKER_NAME = re.compile(r'^[a-zA-Z0-9][a-zA-Z0-9_.-]+$')
IMAGE_REPOSITORY = re.compile(r'^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*'
                              r'(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$')
PORT_RANGE = (1, 65535)

# Linux capability numbers (include/uapi/linux/capability.h), to read CapBnd masks.
CAPABILITIES = (
    'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID',
    'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN',
    'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE',
    'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME',
    'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
    'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
    'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
)
# Image architectures (Debian's port names, also in the image tag): armel (ARMv5TE code, soft float: runs on
# ARMv6 and later), armhf (ARMv7 with VFPv3 and Thumb-2: an ARMv6 CPU stops at its first instruction beyond
# ARMv6), arm64 and amd64. Debian has no ARMv6 hard-float port; Raspbian's is one, but its archive is not
# reachable from the build machines, so an ARMv6 Pi runs Debian armel.
ARCHITECTURES = ('armel', 'armhf', 'arm64', 'amd64')
# What dockerd's Arch (Go's name for the userspace it was built for) or Architecture (its kernel's
# machine) says of the userspace images run in: 'arm' is 32-bit arm of an unknown level.
DOCKER_USERSPACE = {'amd64': 'amd64', 'x86_64': 'amd64', 'arm64': 'arm64', 'aarch64': 'arm64',
                    'arm': 'arm', 'armhf': 'arm', 'armel': 'arm', 'armv6l': 'arm', 'armv7l': 'arm', 'armv8l': 'arm'}
# The architectures a kernel runs (uname -m), the first being that of a 32-bit arm userspace on it.
# armv8l: a 64-bit arm kernel as a 32-bit process sees it under linux32 (PER_LINUX32).
MACHINE_RUNS = {
    'armv5tel': ('armel',), 'armv5tejl': ('armel',),
    'armv6l': ('armel',),
    'armv7l': ('armhf', 'armel'),
    'armv8l': ('armhf', 'armel', 'arm64'),
    'aarch64': ('armhf', 'armel', 'arm64'),
    'arm64': ('armhf', 'armel', 'arm64'),
    'x86_64': ('amd64',),
    'amd64': ('amd64',),
}
# The Pis behind each kernel machine, for the messages.
MACHINE_PIS = {
    'armv6l': 'ARMv6: Raspberry Pi 1, Zero, Zero W',
    'armv7l': 'ARMv7 32-bit kernel: Raspberry Pi 2, or a Zero 2 W, 3, 4 or 5 under a 32-bit kernel',
    'armv8l': '64-bit arm kernel seen from 32-bit userspace',
    'aarch64': '64-bit arm kernel: Raspberry Pi Zero 2 W, 3, 4, 5',
}
# An engine's arm variant (the OCI platform's): v5 and v6 code needs armel, v7 and v8 run armhf.
ARM_VARIANTS = {'v5': 'armel', 'v6': 'armel', 'v7': 'armhf', 'v8': 'armhf'}


def normalize_capability(name):
    """'cap_sys_time' / 'CAP_SYS_TIME' / 'SYS_TIME' -> 'SYS_TIME'; unknown names are refused."""
    cap = name.strip().upper()
    if cap.startswith('CAP_'):
        cap = cap[4:]
    if cap == 'ALL':
        raise Refusal('capabilities: ALL would give ntpd every capability, as --privileged does; '
                      'list the ones it needs (SYS_TIME, SYS_RESOURCE)')
    if cap not in CAPABILITIES:
        raise Refusal('capabilities: %s is not a Linux capability' % name)
    return cap


def capabilities_from_mask(mask):
    """Capability names set in a /proc/PID/status mask such as CapBnd."""
    return set(name for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1)


def parse_status_mask(status_text, field='CapBnd'):
    """The integer mask of ``field`` in /proc/PID/status text, or None."""
    for line in status_text.splitlines():
        if line.startswith(field + ':'):
            return int(line.split(':', 1)[1].strip(), 16)
    return None


def refuse_ungrantable(capabilities, bounding):
    """Refuse capabilities missing from the daemon's bounding set (Docker cannot grant them)."""
    missing = [cap for cap in capabilities if cap not in bounding]
    if not missing:
        return
    keep = [cap for cap in capabilities if cap in bounding]
    raise Refusal(
        'capability %s cannot be granted: it is not in the capability bounding set of dockerd '
        'on this host (the kernel or a parent container withholds it), so the container would '
        'fail with "unable to apply caps: operation not permitted". Drop it: capabilities: %s%s'
        % (', '.join('CAP_' + c for c in missing), json.dumps(keep),
           ' (without SYS_RESOURCE ntpd only logs "Cannot set RLIMIT_MEMLOCK" and runs with '
           'pageable memory)' if 'SYS_RESOURCE' in missing else ''))


def split_port(spec):
    """'[host_ip:]host_port:container_port[/proto]' -> (host_ip, host_port, container_port, proto).

    The protocol defaults to udp (NTP). A host IP of 0.0.0.0 is written as '' as dockerd does.
    Only the syntax is checked (see parse_port).
    """
    text, _sep, proto = spec.partition('/')
    proto = (proto or 'udp').lower()
    parts = text.rsplit(':', 2)
    if len(parts) == 2:
        parts.insert(0, '')
    if len(parts) != 3 or proto not in ('udp', 'tcp') or not (parts[1].isdigit() and parts[2].isdigit()):
        raise Refusal('published_ports: %r is not [HOST_IP:]HOST_PORT:CONTAINER_PORT[/udp|tcp]' % spec)
    host_ip = parts[0]
    if ':' in host_ip:
        if not (host_ip.startswith('[') and host_ip.endswith(']')):
            raise Refusal('published_ports: %r: write an IPv6 address in brackets, [::1]:123:123/udp' % spec)
        host_ip = host_ip[1:-1]
    return ('' if host_ip == '0.0.0.0' else host_ip, int(parts[1]), int(parts[2]), proto)


def parse_port(spec):
    """split_port, refusing a port outside 1-65535 and a host IP that is not an IP address."""
    host_ip, host_port, container_port, proto = split_port(spec)
    for role, number in (('host', host_port), ('container', container_port)):
        if not PORT_RANGE[0] <= number <= PORT_RANGE[1]:
            raise Refusal('published_ports: %r: %s port %d is not a port number (%d-%d); ntpd serves '
                          'udp/123, e.g. 123:123/udp' % ((spec, role, number) + PORT_RANGE))
    if host_ip:
        try:
            host_ip = str(ipaddress.ip_address(host_ip))
        except ValueError:
            raise Refusal('published_ports: %r: %s is not an IP address (write an address of this '
                          'host, or leave it out to publish on every address)' % (spec, host_ip))
    return ('' if host_ip == '0.0.0.0' else host_ip, host_port, container_port, proto)


def parse_ports(specs):
    """The parsed published_ports, sorted; the same host port twice (on overlapping addresses) is refused."""
    ports = sorted(parse_port(spec) for spec in specs)
    for index, port in enumerate(ports):
        for other in ports[index + 1:]:
            if port[1:2] + port[3:] == other[1:2] + other[3:] and addresses_overlap(port[0], other[0]):
                raise Refusal('published_ports: %s and %s publish the same host port twice: list it once'
                              % (port_text(port), port_text(other)))
    return ports


def addresses_overlap(first, second):
    """Whether sockets bound to these addresses ('' or a wildcard: every address) conflict."""
    wildcards = ('', '0.0.0.0', '::')
    if first in wildcards or second in wildcards:
        if '::' in (first, second) or '' in (first, second):
            return True
        return ':' not in first + second
    return ipaddress.ip_address(first) == ipaddress.ip_address(second)


def validate(params):
    """Every parameter of docker_ntpd checked before anything is read or changed.

    Returns the normalized capabilities and ports; raises Refusal naming every problem found.
    """
    problems = []
    if not DOCKER_NAME.match(params['name']):
        problems.append('name: %r is not a container name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)' % params['name'])
    if not IMAGE_REPOSITORY.match(params['image']):
        problems.append('image: %r is not an image repository (lower case, no tag: the module tags '
                        'each build ARCH-HASH), e.g. fleet-linux/ntpd' % params['image'])
    dockerfile = params['dockerfile']
    if os.path.isabs(dockerfile) or '..' in dockerfile.split('/'):
        problems.append('dockerfile: %r must be a path inside build_context (relative, without ..)' % dockerfile)
    for option, lowest in (('stop_timeout', 0), ('build_timeout', 1), ('wait_timeout', 1)):
        if params.get(option, lowest) < lowest:
            problems.append('%s: %d seconds is below %d' % (option, params[option], lowest))
    capabilities = checked(problems, validate_capabilities, params)
    ports = checked(problems, validate_ports, params)
    checked(problems, validate_drift_volume, params)
    if problems:
        raise Refusal('; '.join(problems))
    return capabilities, ports


def checked(problems, check, params):
    """``check(params)``, or None with its refusal added to ``problems``."""
    try:
        return check(params)
    except Refusal as exc:
        problems.append(str(exc))
        return None


def validate_capabilities(params):
    """The declared capabilities, refusing any ntpd does not use (unless allowed) and, in the
    host's network, any at all beyond what ntpd uses there."""
    capabilities = sorted(set(normalize_capability(c) for c in params['capabilities']))
    host_network = params['network_mode'] == 'host'
    if host_network and HOST_NETWORK_CAPABILITY not in capabilities:
        raise Refusal('network_mode: host makes ntpd bind udp/123 in the host network, which '
                      'needs NET_BIND_SERVICE: add it to capabilities (or use network_mode: bridge '
                      'with published_ports)')
    used = NTPD_CAPABILITIES + ((HOST_NETWORK_CAPABILITY,) if host_network else ())
    extra = [cap for cap in capabilities if cap not in used]
    if extra and host_network:
        raise Refusal('capabilities: %s in the host network would act on the host itself; ntpd uses '
                      'only %s there: remove %s (allow_extra_capabilities does not apply with '
                      'network_mode: host)' % (', '.join(extra), ', '.join(used), ', '.join(extra)))
    if extra and not params['allow_extra_capabilities']:
        raise Refusal('capabilities: %s %s not used by ntpd, which runs as root in the container: '
                      'declare only %s%s, or set allow_extra_capabilities: true if you really mean it'
                      % (', '.join(extra), 'is' if len(extra) == 1 else 'are', ', '.join(used),
                         ' (in a bridge network dockerd lets ntpd bind udp/123 without NET_BIND_SERVICE)'
                         if HOST_NETWORK_CAPABILITY in extra else ''))
    return capabilities


def validate_ports(params):
    return [] if params['network_mode'] == 'host' else parse_ports(params['published_ports'])


def validate_drift_volume(params):
    """A named volume, or a host directory at or below DRIFT_DIRECTORY_ROOT."""
    volume = params['drift_volume']
    if DOCKER_NAME.match(volume):
        return
    if os.path.isabs(volume) and os.path.normpath(volume) == volume and (
            volume == DRIFT_DIRECTORY_ROOT or volume.startswith(DRIFT_DIRECTORY_ROOT + '/')):
        return
    raise Refusal('drift_volume: %r is neither a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+) nor a directory '
                  'below %s: ntpd runs as root and writes there; use a named volume such as ntpd-drift'
                  % (volume, DRIFT_DIRECTORY_ROOT))


def unsafe_path_reason(path, lstat=os.lstat):
    """Why someone other than root could change what ``path`` leads to, or None.

    Every existing component must be neither a symbolic link nor owned by another user, nor
    writable by group or others (a sticky directory such as /tmp excepted). The components
    that do not exist yet are left to the caller.
    """
    current = '/'
    for name in [''] + [part for part in path.split('/') if part]:
        current = os.path.join(current, name)
        try:
            info = lstat(current)
        except OSError:
            return None
        if stat.S_ISLNK(info.st_mode):
            return '%s is a symbolic link' % current
        if info.st_uid not in (0, os.geteuid()):
            return '%s is owned by uid %d' % (current, info.st_uid)
        if info.st_mode & 0o022 and not (stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX):
            return '%s is writable by group or others (mode %04o)' % (current, stat.S_IMODE(info.st_mode))
    return None


def wanted_ports(desired):
    """The host ports the declared container binds once started (ntpd in the host's network: udp/123)."""
    if desired['network_mode'] == 'host':
        return [('', 123, 123, 'udp')]
    return [parse_port(p) for p in desired['ports']]


def ports_held(view):
    """The host ports a running container holds; '*': ntpd in the host's network binds udp/123 on
    every address of the host."""
    if not view or not view['running']:
        return []
    if view['network_mode'] == 'host':
        return [('*', 123, 123, 'udp')]
    return [split_port(p) for p in view['ports']]


# /proc/net files, the protocol of their sockets; TCP sockets count only when listening (0A).
PROC_NET_FILES = (('udp', 'udp'), ('udp6', 'udp'), ('tcp', 'tcp'), ('tcp6', 'tcp'))
TCP_LISTEN = '0A'


def parse_proc_net(text, proto):
    """(proto, address, port) of the bound sockets in /proc/net/{udp,udp6,tcp,tcp6} text."""
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or (proto == 'tcp' and fields[3] != TCP_LISTEN):
            continue
        address, _sep, port = fields[1].partition(':')
        sockets.append((proto, proc_net_address(address), int(port, 16)))
    return sockets


def proc_net_address(text):
    """The address of /proc/net's hex notation (32-bit words in the host's byte order)."""
    raw = b''.join(struct.pack('=I', int(text[i:i + 8], 16)) for i in range(0, len(text), 8))
    address = ipaddress.ip_address(raw)
    mapped = getattr(address, 'ipv4_mapped', None)
    return str(mapped or address)


def foreign_port_holders(wanted, sockets, held):
    """(wanted port, socket) pairs where a socket not of the container holding ``held`` takes a
    wanted host port. dockerd's proxy binds exactly the published address, every address as
    0.0.0.0 and ::."""
    def own(sock):
        return any(sock[0] == proto and sock[2] == host_port
                   and (host_ip in ('*', sock[1]) or (host_ip == '' and sock[1] in ('0.0.0.0', '::')))
                   for host_ip, host_port, _container_port, proto in held)
    return [(port, sock) for port in wanted for sock in sockets
            if sock[0] == port[3] and sock[2] == port[1] and addresses_overlap(port[0], sock[1])
            and not own(sock)]


def port_text(port):
    host_ip, host_port, container_port, proto = port
    if ':' in host_ip:
        host_ip = '[%s]' % host_ip
    return '%s%d:%d/%s' % (host_ip + ':' if host_ip else '', host_port, container_port, proto)


def parse_bind(bind):
    """'source:target[:options]' -> {'source', 'target', 'read_only'}."""
    parts = bind.split(':')
    options = parts[2].split(',') if len(parts) > 2 else []
    return {'source': parts[0], 'target': parts[1], 'read_only': 'ro' in options}


def bind_text(mount):
    return '%s:%s%s' % (mount['source'], mount['target'], ':ro' if mount['read_only'] else '')


def desired_container(params, image_id):
    """The declared container as a comparable view (``image_id`` None: not built yet)."""
    capabilities, ports = validate(params)
    mounts = [
        {'source': params['config_file'], 'target': CONFIG_TARGET, 'read_only': True},
        {'source': params['drift_volume'], 'target': DRIFT_TARGET, 'read_only': False},
    ]
    return {
        'image_id': image_id,
        'command': list(params['ntpd_args']),
        'capabilities': capabilities,
        'privileged': False,
        'no_new_privileges': True,
        'read_only_root': True,
        'tmpfs': tmpfs_text(TMPFS),
        'restart_policy': RESTART_POLICY,
        'network_mode': params['network_mode'],
        'mounts': sorted(bind_text(m) for m in mounts),
        'ports': [port_text(p) for p in ports],
    }


def tmpfs_text(tmpfs):
    return ['%s:%s' % (target, options) for target, options in sorted((tmpfs or {}).items())]


def current_container(inspect):
    """The same view read from ``docker container inspect`` JSON (None: no container)."""
    if not inspect:
        return None
    host = inspect.get('HostConfig') or {}
    config = inspect.get('Config') or {}
    ports = []
    for key, bindings in sorted((host.get('PortBindings') or {}).items()):
        container_port, _sep, proto = key.partition('/')
        for binding in bindings or []:
            host_ip = binding.get('HostIp') or ''
            ports.append(('' if host_ip == '0.0.0.0' else host_ip,
                          int(binding.get('HostPort') or 0), int(container_port), proto or 'tcp'))
    state = inspect.get('State') or {}
    return {
        'image_id': inspect.get('Image'),
        'command': list(config.get('Cmd') or []),
        'capabilities': sorted(set(c.upper().replace('CAP_', '', 1) for c in host.get('CapAdd') or [])),
        'capabilities_dropped': sorted(set(c.upper().replace('CAP_', '', 1) for c in host.get('CapDrop') or [])),
        'privileged': bool(host.get('Privileged')),
        'no_new_privileges': any(opt in (NO_NEW_PRIVILEGES, NO_NEW_PRIVILEGES + ':true', NO_NEW_PRIVILEGES + '=true')
                                 for opt in host.get('SecurityOpt') or []),
        'read_only_root': bool(host.get('ReadonlyRootfs')),
        'tmpfs': tmpfs_text(host.get('Tmpfs')),
        'restart_policy': (host.get('RestartPolicy') or {}).get('Name') or 'no',
        'network_mode': host.get('NetworkMode') or 'default',
        'mounts': sorted(bind_text(parse_bind(b)) for b in host.get('Binds') or []),
        'ports': [port_text(p) for p in sorted(ports)],
        'running': bool(state.get('Running')),
        'status': state.get('Status'),
    }


COMPARED = ('image_id', 'command', 'capabilities', 'privileged', 'no_new_privileges', 'read_only_root',
            'tmpfs', 'restart_policy', 'network_mode', 'mounts', 'ports')


def differences(current, desired):
    """Names of the compared fields where the running container differs from the declared one.

    Every capability but the declared ones is dropped, so a container that does not drop ALL
    differs too. A declared image_id of None (image still to build) differs from any image.
    """
    found = [field for field in COMPARED if current.get(field) != desired.get(field)]
    if current.get('capabilities_dropped') != ['ALL']:
        found.append('capabilities_dropped')
    return found


def plan(state, image_ready, base_present, current, desired, writes=(), image_loadable=False):
    """Ordered steps that bring the container from ``current`` to ``desired`` in ``state``.

    image_ready: an image built from this exact context and base exists (tag and label match).
    base_present: the base image is in the local engine (otherwise it must be pulled first).
    writes: the files to write first ('write_dockerfile', 'write_config'): a new configuration
    restarts a running container that stays (a recreated one reads it anyway).
    image_loadable: the image is in the given ``docker save`` archive: loaded instead of built.
    State present builds and creates without starting or stopping (a running container that must
    be recreated is started again); state built only builds or loads the image.
    Steps: write_dockerfile, write_config, pull, build, load, stop, remove, create, start, restart; a
    container that differs is recreated: stop (when running), remove, create.
    """
    if state not in STATES:
        raise ValueError('unknown state %r' % state)
    if state == 'absent':
        return ['remove'] if current else []
    steps = list(writes)
    if not image_ready:
        if image_loadable:
            steps.append('load')
        else:
            steps.extend((['pull'] if not base_present else []) + ['build'])
    if state == 'built':
        return steps
    run = state in ('started', 'restarted')
    if current is None:
        return steps + ['create'] + (['start'] if run else [])
    if differences(current, desired):
        recreate = (['stop'] if current['running'] else []) + ['remove', 'create']
        return steps + recreate + (['start'] if run or (state == 'present' and current['running']) else [])
    if state == 'restarted' or (state == 'started' and 'write_config' in writes and current['running']):
        return steps + ['restart' if current['running'] else 'start']
    if state == 'started' and not current['running']:
        return steps + ['start']
    if state == 'stopped' and current['running']:
        return steps + ['stop']
    return steps


# Steps after which a container no longer runs with the configuration it read before them.
RELOADING_STEPS = ('stop', 'remove', 'create', 'start', 'restart')


def restart_needed(steps, current):
    """Whether ``steps`` rewrite the configuration of a running container and leave it running with the
    old one (state present): it must be restarted to read it."""
    return bool('write_config' in steps and current and current['running']
                and not set(steps) & set(RELOADING_STEPS))


def image_labels(digest, base_image, base_image_id):
    """The labels of a build: its build hash (checked before an image is used) and its base image."""
    return {BUILD_HASH_LABEL: digest, BASE_IMAGE_LABEL: base_image, BASE_IMAGE_ID_LABEL: base_image_id}


def action_line(step, facts):
    """One step of ``plan`` as the command line a person would run for it (docker CLI for what the module
    does through the Engine API; ``write PATH`` for a file it writes), how every fleet.linux module reports
    its actions.

    ``facts``: name, stop_timeout, the path of each write step (write_dockerfile, write_config), base_image,
    build_context, dockerfile, buildargs, tag, labels (None while the build hash is unknown: base image
    still to pull), image_archive, save_archive and spec (container_spec of the declared container).
    """
    name = facts.get('name')
    if step in ('write_dockerfile', 'write_config'):
        return 'write ' + facts[step]
    if step == 'pull':
        argv = ['docker', 'pull', facts['base_image']]
    elif step == 'build':
        argv = ['docker', 'build', '--tag', facts['tag']]
        if facts['dockerfile'] != 'Dockerfile':
            argv += ['--file', os.path.join(facts['build_context'], facts['dockerfile'])]
        argv += option_values('--build-arg', key_values(facts['buildargs']))
        argv += option_values('--label', key_values(facts['labels'])) + [facts['build_context']]
    elif step == 'load':
        argv = ['docker', 'load', '--input', facts['image_archive']]
    elif step == 'save':
        argv = ['docker', 'save', '--output', facts['save_archive'], facts['tag']]
    elif step == 'create':
        argv = create_argv(name, facts['spec'], facts['tag'])
    elif step == 'start':
        argv = ['docker', 'start', name]
    elif step in ('stop', 'restart'):
        argv = ['docker', step, '--time', facts['stop_timeout'], name]
    elif step == 'remove':
        argv = ['docker', 'rm', '--force', name]
    else:
        raise ValueError('unknown step %r' % step)
    return command_line(argv)


def key_values(mapping):
    return ['%s=%s' % item for item in sorted((mapping or {}).items())]


def option_values(option, values):
    """['--opt', v1, '--opt', v2, ...]."""
    return [word for value in values for word in (option, value)]


def create_argv(name, spec, image):
    """``docker create`` with the options of the Engine API body ``spec`` (container_spec), running ``image``."""
    host = spec['HostConfig']
    publish = [port_text((binding['HostIp'], int(binding['HostPort'])) + container_port(key))
               for key, bindings in sorted(host['PortBindings'].items()) for binding in bindings]
    argv = ['docker', 'create', '--name', name]
    argv += option_values('--cap-drop', host['CapDrop'])
    argv += option_values('--cap-add', [cap[4:] if cap.startswith('CAP_') else cap for cap in host['CapAdd']])
    argv += ['--privileged'] if host['Privileged'] else []
    argv += option_values('--security-opt', host['SecurityOpt'])
    argv += ['--read-only'] if host['ReadonlyRootfs'] else []
    argv += option_values('--tmpfs', tmpfs_text(host['Tmpfs']))
    argv += ['--restart', host['RestartPolicy']['Name']]
    argv += ['--network', host['NetworkMode']]
    argv += option_values('--volume', host['Binds']) + option_values('--publish', publish)
    argv += option_values('--label', key_values(spec['Labels']))
    return argv + [image] + list(spec['Cmd'])


def container_port(key):
    """'123/udp' -> (123, 'udp')."""
    port, _sep, proto = key.partition('/')
    return int(port), proto


def container_spec(desired, image_ref, labels=None):
    """The Engine API ``POST /containers/create`` body for the declared container."""
    ports = [parse_port(p) for p in desired['ports']]
    bindings = {}
    for host_ip, host_port, container_port, proto in ports:
        bindings.setdefault('%d/%s' % (container_port, proto), []).append(
            {'HostIp': host_ip, 'HostPort': str(host_port)})
    return {
        'Image': image_ref,
        'Cmd': list(desired['command']),
        'Labels': dict(labels or {}, **{MANAGED_LABEL: 'true'}),
        'ExposedPorts': dict((key, {}) for key in bindings),
        'HostConfig': {
            'Binds': list(desired['mounts']),
            'CapDrop': ['ALL'],
            'CapAdd': ['CAP_' + c for c in desired['capabilities']],
            'Privileged': False,
            'SecurityOpt': [NO_NEW_PRIVILEGES],
            'ReadonlyRootfs': True,
            'Tmpfs': dict(TMPFS),
            'RestartPolicy': {'Name': desired['restart_policy'], 'MaximumRetryCount': 0},
            'NetworkMode': desired['network_mode'],
            'PortBindings': bindings,
        },
    }


def build_hash(files, base_image_id, buildargs):
    """Hash of the build inputs: every context file (path and content), base image id, args.

    ``files``: (relative path, content bytes) pairs. The image is labelled with it, and the
    module rebuilds only when it changes (a new Dockerfile, a new base image).
    """
    digest = hashlib.sha256()
    digest.update(b'fleet.linux docker_ntpd 1\0')
    for relpath, content in sorted(files):
        digest.update(relpath.encode('utf-8') + b'\0')
        digest.update(hashlib.sha256(content).hexdigest().encode('ascii') + b'\0')
    digest.update((base_image_id or '').encode('utf-8') + b'\0')
    digest.update(json.dumps(buildargs, sort_keys=True).encode('utf-8'))
    return digest.hexdigest()


def image_tag(image, architecture, digest):
    """'repo:ARCH-HASH12': one tag per build, so each build stays addressable."""
    return '%s:%s-%s' % (image, architecture, digest[:12])


def image_matches(image_inspect, digest):
    """True when the inspected image carries the build hash label ``digest``."""
    if not image_inspect:
        return False
    labels = (image_inspect.get('Config') or {}).get('Labels') or {}
    return labels.get(BUILD_HASH_LABEL) == digest


def translate_start_error(message, capabilities, bounding=None):
    """A clear message for the dockerd errors a start commonly meets, else None."""
    text = message.lower()
    if 'unable to apply caps' in text:
        suspects = [c for c in capabilities if bounding is None or c not in bounding] or capabilities
        return ('dockerd could not grant the capabilities %s (%s): the kernel or a parent '
                'container withholds one of them; drop it from capabilities'
                % (', '.join('CAP_' + c for c in suspects), message.strip()))
    if 'address already in use' in text or 'port is already allocated' in text:
        return ('a published port is already taken (%s): stop what holds it (a host ntpd or '
                'chronyd, another container: ss -ulpn; docker ps) or publish on another address'
                % message.strip())
    return None


def image_architecture(node, requested=None):
    """The image architecture (one of ARCHITECTURES) for a node, from what it reports, or ``requested``.

    ``node``: docker_arch (dockerd's Arch, the userspace it runs: 'arm' under 32-bit Raspberry Pi OS on a
    64-bit kernel), docker_os (its OSType), docker_variant (the arm variant where the engine gives one),
    machine (the kernel's ``uname -m``) and userspace_bits (the width of the node's Python, 32 or 64, where
    known); any may be None. dockerd's word on the userspace comes first, then the width; the level of a
    32-bit arm userspace comes from the kernel (armv6l: armel, anything later: armhf), else the variant.
    ``requested`` (the option ``architecture``) wins, unless the kernel cannot run it (armhf on an armv6l
    Pi). An architecture that cannot be told, or that the kernel cannot run, is refused, naming what to set.
    """
    machine = node.get('machine') or None
    docker_arch = node.get('docker_arch') or None
    docker_os = node.get('docker_os') or None
    runs = MACHINE_RUNS.get(machine)
    if docker_os and docker_os != 'linux':
        raise Refusal('dockerd of this node runs %s containers; the ntpd image is a Linux image' % docker_os)
    if requested:
        if runs is not None and requested not in runs:
            raise Refusal(cannot_run(requested, machine, runs))
        return requested
    userspace = DOCKER_USERSPACE.get(docker_arch) or userspace_of(machine, node.get('userspace_bits'))
    if userspace == 'arm' and runs is None:
        chosen = ARM_VARIANTS.get(node.get('docker_variant'))
    elif userspace == 'arm':
        chosen = runs[0] if runs[0] in ('armel', 'armhf') else userspace
    else:
        chosen = userspace
    if chosen is None:
        raise Refusal(
            'cannot tell the image architecture of this node (dockerd: %s, variant %s; kernel: %s; userspace: %s): '
            'set architecture (role: ntpd_container_architecture) to %s, with its base image in base_images '
            '(armel for an ARMv6 Pi 1 or Zero, armhf for a 32-bit OS on a later Pi, arm64 for a 64-bit OS)'
            % (docker_arch, node.get('docker_variant'), machine,
               '%s-bit' % node['userspace_bits'] if node.get('userspace_bits') else 'unknown', ', '.join(ARCHITECTURES)))
    if runs is not None and chosen not in runs:
        raise Refusal('dockerd of this node runs %s images but its kernel is %s, which runs %s: set architecture '
                      '(role: ntpd_container_architecture) to one of those' % (chosen, machine, ', '.join(runs)))
    return chosen


def userspace_of(machine, bits):
    """'amd64', 'arm64' or 'arm' (32-bit) of a node without dockerd's word: its kernel and its userspace width."""
    runs = MACHINE_RUNS.get(machine)
    if runs is None:
        return None
    if runs == ('amd64',):
        return 'amd64' if bits in (None, 64) else None
    if 'arm64' in runs and bits != 32 and machine != 'armv8l':
        return 'arm64'
    return 'arm'


def cannot_run(requested, machine, runs):
    """Why the kernel ``machine`` cannot run images of ``requested``, and what to set instead."""
    pis = ' (%s)' % MACHINE_PIS[machine] if machine in MACHINE_PIS else ''
    if requested == 'armhf' and runs == ('armel',):
        why = ('armhf images are ARMv7 code (Debian armhf), which stops there with an illegal instruction; use armel '
               '(Debian armel, ARMv5TE code, runs on ARMv6)')
    else:
        why = 'it runs %s images only: use %s' % (', '.join(runs), ' or '.join(runs))
    return ('architecture %s cannot run on this node: its kernel is %s%s; %s, or leave architecture unset to '
            'use what the node runs' % (requested, machine, pis, why))


def resolve_base_image(base_image, base_images, architecture):
    """The base image: ``base_image`` when given, else the entry of ``base_images`` for the architecture."""
    if base_image:
        return base_image
    if architecture in (base_images or {}):
        return base_images[architecture]
    raise Refusal('no base image for architecture %s (of this node): add it to base_images (role: '
                  'ntpd_container_base_images) or give base_image' % architecture)


# Host time services: systemctl's view of each unit, in service_facts' words (state, status).
def parse_systemctl_show(text):
    """{unit: {'name', 'state': running|stopped, 'status': enabled|disabled|masked|static|...}} of
    ``systemctl show --property=Id,LoadState,ActiveState,UnitFileState UNIT...`` output; units systemd
    does not know (not installed) are left out, as service_facts does."""
    services = {}
    for block in text.strip().split('\n\n'):
        fields = dict(line.split('=', 1) for line in block.splitlines() if '=' in line)
        if not fields.get('Id') or fields.get('LoadState') == 'not-found':
            continue
        services[fields['Id']] = {
            'name': fields['Id'],
            'state': 'running' if fields.get('ActiveState') in ('active', 'activating', 'reloading') else 'stopped',
            'status': fields.get('UnitFileState') or 'static',
        }
    return services


TIMESYNCD = 'systemd-timesyncd.service'
UNMANAGEABLE = ('alias', 'masked')


def host_time_service_actions(services, ntp_synchronization, units):
    """What turning the host's own time keeping off still takes, as command lines in the role's order:
    'timedatectl set-ntp false', 'systemctl stop UNIT', 'systemctl disable UNIT',
    'systemctl mask systemd-timesyncd.service'; empty when it is off.

    ``services``: parse_systemctl_show of ``units`` and systemd-timesyncd; ``ntp_synchronization``:
    timedatectl's NTP property ('yes', 'no', None when timedatectl does not answer).
    """
    argvs = [['timedatectl', 'set-ntp', 'false']] if ntp_synchronization == 'yes' else []
    for unit in units:
        service = services.get(unit)
        if not service or service['status'] in UNMANAGEABLE:
            continue
        if service['state'] == 'running':
            argvs.append(['systemctl', 'stop', unit])
        if service['status'] == 'enabled':
            argvs.append(['systemctl', 'disable', unit])
    timesyncd = services.get(TIMESYNCD)
    if timesyncd:
        if timesyncd['state'] == 'running':
            argvs.append(['systemctl', 'stop', TIMESYNCD])
        if timesyncd['status'] != 'masked':
            argvs.append(['systemctl', 'mask', TIMESYNCD])
    return [command_line(argv) for argv in argvs]


def archive_matches(archive_images, tag, digest):
    """Whether a ``docker save`` archive holds the image ``tag`` built as ``digest`` (its build-hash label).

    ``archive_images``: (repo tags, labels) of each image in the archive (docker_api.archive_images).
    """
    return any(tag in repo_tags and (labels or {}).get(BUILD_HASH_LABEL) == digest
               for repo_tags, labels in archive_images)


# The plan of a node whose dockerd did not answer (role ntpd_container, tasks/engine.yml, then the rest).
ENGINE_FIRST = ('apt-get install docker.io  # unless a Docker engine package is installed',
                'systemctl enable --now docker',
                '# then the container and the host time services, planned once dockerd answers')


def rollout_plan(check, state='started', disable_host_time_services=True, units=()):
    """What a node still needs, decided on the controller from its one read (docker_ntpd in check mode):
    the container's actions, then what turning the host's time services off takes (command lines); empty:
    a no-op node. A node whose dockerd does not answer needs the engine first (the rest is read once it answers)."""
    if check.get('engine_answers') is False:
        return list(ENGINE_FIRST)
    actions = list(check.get('actions') or [])
    if state != 'absent' and disable_host_time_services:
        actions.extend(host_time_service_actions(check.get('host_time_services') or {},
                                                 check.get('host_ntp_synchronization'), units))
    return actions


def image_sources(checks):
    """{host: the host that builds its image} for every host whose read plans a build: per image (its tag
    names the architecture and the build hash; an ARMv6 Pi's is armel, which every later Pi runs too) the
    first host by name builds, the others load what it saved. ``checks``: host -> its docker_ntpd check result."""
    builders = {}
    sources = {}
    for host in sorted(checks):
        check = checks[host] or {}
        if 'build' in (check.get('steps') or []) and check.get('image'):
            sources[host] = builders.setdefault(check['image'], host)
    return sources


# Waiting for ntpd after a start: one ntpq per poll inside the container (through the Engine API's exec).
# -p: the peers, the selected one marked '*' (or 'o', PPS); rv 0 leap,stratum: ntpd's own leap indicator
# (two bits: 11 while it calls itself unsynchronised, so its answers to the LAN carry leap 3 too) and stratum.
NTPQ_ARGV = ('ntpq', '-n', '-p', '-c', 'rv 0 leap,stratum')
SYSTEM_PEER_TALLIES = ('*', 'o')
LEAP_UNSYNCHRONISED = 3
# What a wait waits for: 'peer' (ntpd has selected a system peer) or 'serving' (that, and ntpd's leap
# indicator is not 3: LAN clients get synchronised answers, not the alarm).
SYNC_CONDITIONS = ('peer', 'serving')
NTPQ_VARIABLE = re.compile(r'([A-Za-z_][\w.]*)=("[^"]*"|[^,\s]*)')


def leap_value(text):
    """ntpq's leap: ntpsec and ntp 4.2.8 print the two bits ('00', '11'); a decimal ('3') is taken as is."""
    text = text.strip()
    if len(text) == 2 and set(text) <= set('01'):
        return int(text, 2)
    return int(text)


def parse_ntpq_sync(text):
    """ntpd's synchronisation from ``ntpq -n -p -c 'rv 0 leap,stratum'`` output (NTPQ_ARGV):
    {'peer', 'refid', 'stratum', 'offset_ms', 'delay_ms', 'leap', 'peers'}; peer (and its refid, delay and
    offset, in ms as ntpq prints them) is None while ntpd has selected no system peer; stratum and leap are
    ntpd's own (None when the rv line is missing); peers counts the associations listed."""
    peer = None
    peers = 0
    variables = {}
    in_table = False
    for line in text.splitlines():
        if line.startswith('====='):
            in_table = True
            continue
        if '=' in line:
            variables.update((key, value.strip('"')) for key, value in NTPQ_VARIABLE.findall(line))
            in_table = False
            continue
        if not in_table or not line.strip():
            continue
        fields = line[1:].split()
        if len(fields) < 10:
            continue
        peers += 1
        if peer is None and line[:1] in SYSTEM_PEER_TALLIES:
            peer = fields
    result = {'peer': None, 'refid': None, 'offset_ms': None, 'delay_ms': None, 'peers': peers,
              'stratum': int(variables['stratum']) if variables.get('stratum', '').isdigit() else None,
              'leap': leap_value(variables['leap']) if variables.get('leap') else None}
    if peer is not None:
        result.update(peer=peer[0], refid=peer[1], delay_ms=float(peer[7]), offset_ms=float(peer[8]))
    return result


def sync_reached(sync, condition):
    """Whether ``sync`` (parse_ntpq_sync) is what a wait for ``condition`` (SYNC_CONDITIONS) waits for."""
    if condition not in SYNC_CONDITIONS:
        raise ValueError('unknown sync condition %r' % condition)
    if sync is None or sync['peer'] is None:
        return False
    return condition == 'peer' or (sync['leap'] is not None and sync['leap'] != LEAP_UNSYNCHRONISED)


def poll_delays(timeout, first=(0.5, 0.5), often=1.0, often_until=16.0, every=2.0):
    """Seconds to sleep before each poll after the first: ``first``, then every ``often`` seconds until
    ``often_until`` seconds have passed (ntpd with iburst selects its peer after about 7 s: a change is seen
    within a second of it), then every ``every``; they add up to ``timeout`` at most (the last one shortened)."""
    delays = []
    total = 0.0
    index = 0
    while total < timeout:
        if index < len(first):
            delay = first[index]
        else:
            delay = often if total < often_until else every
        delay = min(delay, timeout - total)
        delays.append(delay)
        total += delay
        index += 1
    return delays


def sync_text(sync):
    """One line for a message: what ntpd follows, or that it follows nothing yet."""
    if not sync:
        return 'no answer from ntpq'
    if sync['peer'] is None:
        return 'no system peer selected (of %d), leap %s, stratum %s' % (sync['peers'], sync['leap'], sync['stratum'])
    return 'follows %s: stratum %s, leap %s, offset %s ms, delay %s ms' % (
        sync['peer'], sync['stratum'], sync['leap'], sync['offset_ms'], sync['delay_ms'])


def running_problem(state):
    """Why a container's State (docker inspect) does not keep ntpd running, or None."""
    state = state or {}
    if state.get('Running') and not state.get('Restarting'):
        return None
    return 'status %s, exit code %s%s' % (state.get('Status'), state.get('ExitCode'),
                                          ', ' + state['Error'] if state.get('Error') else '')
