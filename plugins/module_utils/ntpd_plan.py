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
import json

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal

CONFIG_TARGET = '/etc/ntp.conf'
DRIFT_TARGET = '/var/lib/ntp'
RESTART_POLICY = 'always'
BUILD_HASH_LABEL = 'fleet.linux.ntpd.build-hash'
MANAGED_LABEL = 'fleet.linux.ntpd.managed'
STATES = ('started', 'stopped', 'absent', 'restarted')

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
DOCKER_ARCHITECTURES = {'amd64': 'amd64', 'arm64': 'arm64', 'aarch64': 'arm64',
                        'arm': 'armhf', 'armhf': 'armhf', 'x86_64': 'amd64'}


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


def parse_port(spec):
    """'[host_ip:]host_port:container_port[/proto]' -> (host_ip, host_port, container_port, proto).

    The protocol defaults to udp (NTP). A host IP of 0.0.0.0 is written as '' as dockerd does.
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
    capabilities = sorted(set(normalize_capability(c) for c in params['capabilities']))
    network_mode = params['network_mode']
    if network_mode == 'host' and 'NET_BIND_SERVICE' not in capabilities:
        raise Refusal('network_mode: host makes ntpd bind udp/123 in the host network, which '
                      'needs NET_BIND_SERVICE: add it to capabilities (or use network_mode: bridge '
                      'with published_ports)')
    ports = [] if network_mode == 'host' else sorted(parse_port(p) for p in params['published_ports'])
    mounts = [
        {'source': params['config_file'], 'target': CONFIG_TARGET, 'read_only': True},
        {'source': params['drift_volume'], 'target': DRIFT_TARGET, 'read_only': False},
    ]
    return {
        'image_id': image_id,
        'command': list(params['ntpd_args']),
        'capabilities': capabilities,
        'privileged': False,
        'restart_policy': RESTART_POLICY,
        'network_mode': network_mode,
        'mounts': sorted(bind_text(m) for m in mounts),
        'ports': [port_text(p) for p in ports],
    }


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
        'restart_policy': (host.get('RestartPolicy') or {}).get('Name') or 'no',
        'network_mode': host.get('NetworkMode') or 'default',
        'mounts': sorted(bind_text(parse_bind(b)) for b in host.get('Binds') or []),
        'ports': [port_text(p) for p in sorted(ports)],
        'running': bool(state.get('Running')),
        'status': state.get('Status'),
    }


COMPARED = ('image_id', 'command', 'capabilities', 'privileged', 'restart_policy',
            'network_mode', 'mounts', 'ports')


def differences(current, desired):
    """Names of the compared fields where the running container differs from the declared one.

    Every capability but the declared ones is dropped, so a container that does not drop ALL
    differs too. A declared image_id of None (image still to build) differs from any image.
    """
    found = [field for field in COMPARED if current.get(field) != desired.get(field)]
    if current.get('capabilities_dropped') != ['ALL']:
        found.append('capabilities_dropped')
    return found


def plan(state, image_ready, base_present, current, desired):
    """Ordered actions that bring the container from ``current`` to ``desired`` in ``state``.

    image_ready: an image built from this exact context and base exists (tag and label match).
    base_present: the base image is in the local engine (otherwise it must be pulled first).
    Actions: pull, build, create, recreate (stop + remove + create), start, stop, restart, remove.
    """
    if state not in STATES:
        raise ValueError('unknown state %r' % state)
    if state == 'absent':
        return ['remove'] if current else []
    actions = []
    if not image_ready:
        if not base_present:
            actions.append('pull')
        actions.append('build')
    run = state in ('started', 'restarted')
    if current is None:
        return actions + ['create'] + (['start'] if run else [])
    if differences(current, desired):
        return actions + ['recreate'] + (['start'] if run else [])
    if state == 'restarted':
        return actions + ['restart' if current['running'] else 'start']
    if state == 'started' and not current['running']:
        return actions + ['start']
    if state == 'stopped' and current['running']:
        return actions + ['stop']
    return actions


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
