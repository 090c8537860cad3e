# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tiny Docker Engine API client over the daemon's unix socket (standard library only).

Managed nodes such as Raspberry Pis get no Docker SDK and no ``requests``: http.client speaks
HTTP/1.1 over an AF_UNIX socket and JSON goes in and out. Every failure becomes a
``DockerError`` whose message says what is wrong and what to do.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import io
import json
import os
import socket
import shutil
import struct
import tarfile

try:
    from http.client import HTTPConnection
    from urllib.parse import quote, urlencode
except ImportError:  # pragma: no cover - Python 2 controllers never run this module
    from httplib import HTTPConnection
    from urllib import quote, urlencode

DEFAULT_SOCKET = '/var/run/docker.sock'
STREAM_BLOCK = 1 << 20


class DockerError(Exception):
    """An Engine API call failed; ``status`` is the HTTP status (None: no answer at all)."""

    def __init__(self, message, status=None):
        super(DockerError, self).__init__(message)
        self.status = status


class UnixHTTPConnection(HTTPConnection):
    """HTTPConnection to a unix socket (the host name only fills the Host header)."""

    def __init__(self, socket_path, timeout):
        HTTPConnection.__init__(self, 'localhost', timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except Exception:
            sock.close()
            raise
        self.sock = sock


def socket_error_message(socket_path, exc):
    """Why the daemon's socket cannot be used, and what to do about it."""
    code = getattr(exc, 'errno', None)
    if code == errno.ENOENT:
        return ('Docker socket %s does not exist: the Docker engine is not installed or dockerd '
                'is not running (install docker.io and start it: systemctl start docker)' % socket_path)
    if code in (errno.EACCES, errno.EPERM):
        return ('permission denied on Docker socket %s: run the task as root (become: true) or as '
                'a member of the docker group' % socket_path)
    if code == errno.ECONNREFUSED:
        return ('dockerd is not running: nothing listens on %s (start it: systemctl start docker)'
                % socket_path)
    return 'cannot talk to dockerd on %s: %s' % (socket_path, exc)


class DockerClient(object):
    """The Engine API calls docker_ntpd needs (unversioned paths: the daemon's own API version)."""

    def __init__(self, socket_path=DEFAULT_SOCKET, timeout=60):
        self.socket_path = socket_path
        self.timeout = timeout

    def _request(self, method, path, query=None, body=None, content_type='application/json',
                 timeout=None, sink=None):
        """(status, answer bytes); a file ``body`` is streamed (sent in blocks), and a successful
        answer streamed into the file ``sink`` (then the answer is empty)."""
        url = path + ('?' + urlencode(query) if query else '')
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode('utf-8')
        headers = {'Content-Type': content_type} if body is not None else {}
        if hasattr(body, 'fileno'):
            headers['Content-Length'] = str(os.fstat(body.fileno()).st_size)
        conn = UnixHTTPConnection(self.socket_path, timeout or self.timeout)
        try:
            conn.request(method, url, body=body, headers=headers)
            response = conn.getresponse()
            if sink is not None and response.status == 200:
                shutil.copyfileobj(response, sink, STREAM_BLOCK)
                data = b''
            else:
                data = response.read()
        except (OSError, IOError) as exc:
            if isinstance(exc, socket.timeout):
                raise DockerError('dockerd did not answer %s %s within %s s'
                                  % (method, path, timeout or self.timeout))
            raise DockerError(socket_error_message(self.socket_path, exc))
        finally:
            conn.close()
        return response.status, data

    def call(self, method, path, query=None, body=None, ok=(200, 201, 204, 304), **kwargs):
        """JSON answer of a call; a status outside ``ok`` raises DockerError with dockerd's message."""
        status, data = self._request(method, path, query=query, body=body, **kwargs)
        if status not in ok:
            raise DockerError(error_message(data) or 'HTTP %d' % status, status)
        if not data:
            return None
        try:
            return json.loads(data.decode('utf-8'))
        except ValueError:
            return data.decode('utf-8', 'replace')

    def version(self):
        return self.call('GET', '/version')

    def inspect_image(self, name):
        """``docker image inspect`` as a dict, or None when there is no such image."""
        try:
            return self.call('GET', '/images/%s/json' % quote(name, safe=''))
        except DockerError as exc:
            if exc.status == 404:
                return None
            raise

    def inspect_container(self, name):
        """``docker container inspect`` as a dict, or None when there is no such container."""
        try:
            return self.call('GET', '/containers/%s/json' % quote(name, safe=''))
        except DockerError as exc:
            if exc.status == 404:
                return None
            raise

    def pull_image(self, name):
        """Pulls ``name`` (``repo:tag``); the stream's error, if any, raises DockerError."""
        repo, tag = split_image_ref(name)
        status, data = self._request('POST', '/images/create',
                                     query={'fromImage': repo, 'tag': tag}, timeout=600)
        events = parse_json_stream(data)
        failure = error_message(data) if status != 200 else stream_error(events)
        if failure:
            raise DockerError(failure, status)
        return events

    def build_image(self, context_tar, tag, dockerfile, buildargs, labels, timeout=1800):
        """Builds from an in-memory tar context; returns (image id, build output lines)."""
        query = {
            't': tag, 'dockerfile': dockerfile, 'rm': '1', 'forcerm': '1', 'pull': '0',
            'buildargs': json.dumps(buildargs), 'labels': json.dumps(labels),
        }
        status, data = self._request('POST', '/build', query=query, body=context_tar,
                                     content_type='application/x-tar', timeout=timeout)
        if status != 200:
            raise DockerError(error_message(data) or 'HTTP %d' % status, status)
        events = parse_json_stream(data)
        output = [line for line in ''.join(e.get('stream', '') for e in events).splitlines()
                  if line.strip() and not line.startswith((' ---> ', 'Removing intermediate container'))]
        failure = stream_error(events)
        if failure:
            raise DockerError('%s\n%s' % (failure, '\n'.join(output[-20:])))
        image_id = next((e['aux']['ID'] for e in events if 'ID' in (e.get('aux') or {})), None)
        if image_id is None:
            image_id = (self.inspect_image(tag) or {}).get('Id')
        return image_id, output

    def save_image(self, name, sink, timeout=1800):
        """``docker save NAME`` streamed into the open file ``sink``."""
        status, data = self._request('GET', '/images/%s/get' % quote(name, safe=''), timeout=timeout, sink=sink)
        if status != 200:
            raise DockerError(error_message(data) or 'HTTP %d' % status, status)

    def load_image(self, source, timeout=1800):
        """``docker load`` of the open ``docker save`` archive ``source``; the stream's error raises."""
        status, data = self._request('POST', '/images/load', query={'quiet': '1'}, body=source,
                                     content_type='application/x-tar', timeout=timeout)
        failure = error_message(data) if status != 200 else stream_error(parse_json_stream(data))
        if failure:
            raise DockerError(failure, status)

    def create_container(self, name, spec):
        return self.call('POST', '/containers/create', query={'name': name}, body=spec)['Id']

    def start_container(self, name):
        self.call('POST', '/containers/%s/start' % quote(name, safe=''))

    def stop_container(self, name, timeout):
        self.call('POST', '/containers/%s/stop' % quote(name, safe=''), query={'t': timeout},
                  timeout=self.timeout + timeout)

    def restart_container(self, name, timeout):
        self.call('POST', '/containers/%s/restart' % quote(name, safe=''), query={'t': timeout},
                  timeout=self.timeout + timeout)

    def exec_run(self, name, argv, timeout=30):
        """``docker exec NAME ARGV...`` without a terminal: (exit code, stdout text, stderr text). A container
        that is not running (or restarting) raises DockerError with status 409."""
        created = self.call('POST', '/containers/%s/exec' % quote(name, safe=''),
                            body={'AttachStdout': True, 'AttachStderr': True, 'Tty': False, 'Cmd': list(argv)})
        exec_id = quote(created['Id'], safe='')
        # dockerd answers the start with the process's multiplexed output and closes the connection when it ends.
        status, data = self._request('POST', '/exec/%s/start' % exec_id, body={'Detach': False, 'Tty': False},
                                     timeout=timeout)
        if status != 200:
            raise DockerError(error_message(data) or 'HTTP %d' % status, status)
        stdout, stderr = demultiplex(data)
        info = self.call('GET', '/exec/%s/json' % exec_id) or {}
        return info.get('ExitCode'), stdout.decode('utf-8', 'replace'), stderr.decode('utf-8', 'replace')

    def remove_container(self, name):
        """Removes the container (its named volumes stay: the drift file survives)."""
        self.call('DELETE', '/containers/%s' % quote(name, safe=''), query={'force': '1'})


def demultiplex(data):
    """(stdout bytes, stderr bytes) of an attached stream without a terminal: frames of an 8-byte header
    (stream 1 stdout or 2 stderr, three zero bytes, the payload's length, big-endian) and the payload.
    A stream that does not start with such a header (a terminal's raw stream) is all stdout."""
    out = {1: [], 2: []}
    offset = 0
    if data[:1] not in (b'\x00', b'\x01', b'\x02') or data[1:4] != b'\x00\x00\x00':
        return bytes(data), b''
    while offset + 8 <= len(data):
        stream, size = struct.unpack('>BxxxL', data[offset:offset + 8])
        offset += 8
        out.setdefault(stream, []).append(data[offset:offset + size])
        offset += size
    return b''.join(out[1]), b''.join(out[2])


def error_message(data):
    """dockerd's ``{"message": ...}`` error body as text."""
    if not data:
        return ''
    try:
        return json.loads(data.decode('utf-8')).get('message', '').strip()
    except (ValueError, AttributeError):
        return data.decode('utf-8', 'replace').strip()


def parse_json_stream(data):
    """The JSON objects of a streamed answer (build, pull), one per line."""
    events = []
    for line in data.decode('utf-8', 'replace').splitlines():
        line = line.strip()
        if line:
            try:
                events.append(json.loads(line))
            except ValueError:
                events.append({'stream': line + '\n'})
    return events


def stream_error(events):
    for event in events:
        if event.get('error') or event.get('errorDetail'):
            return (event.get('error') or event['errorDetail'].get('message', '')).strip()
    return None


def split_image_ref(name):
    """('repo', 'tag') of an image reference; the tag defaults to ``latest``."""
    if '@' in name:
        repo, digest = name.split('@', 1)
        return repo, digest
    slash = name.rfind('/')
    colon = name.rfind(':')
    if colon > slash:
        return name[:colon], name[colon + 1:]
    return name, 'latest'


def context_files(directory):
    """Sorted (relative path, absolute path) of every regular file under ``directory``."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.isfile(path):
                found.append((os.path.relpath(path, directory), path))
    return sorted(found)


def context_tar(directory):
    """The build context as an uncompressed tar in memory (names relative, owners root)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tar:
        for relpath, path in context_files(directory):
            info = tar.gettarinfo(path, arcname=relpath)
            info.uid = info.gid = 0
            info.uname = info.gname = 'root'
            with open(path, 'rb') as handle:
                tar.addfile(info, handle)
    return buf.getvalue()


def archive_images(path):
    """(repo tags, labels) of each image in the ``docker save`` archive at ``path`` (its manifest.json
    and each image's config, read without extracting anything); ValueError when it is not one."""
    try:
        with tarfile.open(path, mode='r:') as tar:
            manifest = json.loads(tar.extractfile('manifest.json').read().decode('utf-8'))
            images = []
            for entry in manifest:
                config = json.loads(tar.extractfile(entry['Config']).read().decode('utf-8'))
                images.append((entry.get('RepoTags') or [], (config.get('config') or {}).get('Labels') or {}))
    except (tarfile.TarError, KeyError, TypeError, AttributeError, EOFError) as exc:
        raise ValueError('%s: %s' % (type(exc).__name__, exc))
    return images
