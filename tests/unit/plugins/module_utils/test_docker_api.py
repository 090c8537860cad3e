# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docker_api: the unix-socket HTTP client against a real socket, and its error messages."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io
import json
import os
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler
from socketserver import UnixStreamServer

import pytest

from ansible_collections.fleet.linux.plugins.module_utils import docker_api as d

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'docker')


class FakeEngine(BaseHTTPRequestHandler):
    """Answers like dockerd for a few paths; records what it was sent."""
    protocol_version = 'HTTP/1.1'
    seen = []

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type='application/json'):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.seen.append(('GET', self.path, None))
        if self.path == '/containers/ntpd/json':
            with open(os.path.join(FIXTURES, 'container_declared_running.json'), 'rb') as handle:
                return self.reply(200, handle.read())
        if self.path.startswith('/containers/'):
            with open(os.path.join(FIXTURES, 'error_container_404.json'), 'rb') as handle:
                return self.reply(404, handle.read())
        return self.reply(200, {'ApiVersion': '1.41', 'Arch': 'arm'})

    def do_POST(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length)
        self.seen.append(('POST', self.path, body))
        if self.path.startswith('/images/create'):
            with open(os.path.join(FIXTURES, 'pull_unreachable.jsonl'), 'rb') as handle:
                return self.reply(404, handle.read())
        if self.path.startswith('/build'):
            stream = b'{"stream":"Step 1/2 : FROM base\\n"}\r\n{"aux":{"ID":"sha256:abc"}}\r\n'
            if b'FAIL' in body:
                stream = b'{"stream":"Step 1/2 : RUN false\\n"}\r\n{"errorDetail":{"message":"boom"},"error":"boom"}\r\n'
            return self.reply(200, stream)
        if self.path.endswith('/start'):
            with open(os.path.join(FIXTURES, 'error_start_caps.json'), 'rb') as handle:
                return self.reply(500, handle.read())
        return self.reply(201, {'Id': 'c0ffee'})


@pytest.fixture
def engine(tmp_path):
    path = str(tmp_path / 'docker.sock')
    server = UnixStreamServer(path, FakeEngine)
    thread = threading.Thread(target=server.serve_forever)
    thread.daemon = True
    thread.start()
    FakeEngine.seen = []
    yield d.DockerClient(path, timeout=5)
    server.shutdown()
    server.server_close()


def test_json_round_trip(engine):
    assert engine.version()['Arch'] == 'arm'
    assert engine.inspect_container('ntpd')['HostConfig']['CapDrop'] == ['ALL']
    assert engine.inspect_container('missing') is None
    assert engine.create_container('ntpd', {'Image': 'x'}) == 'c0ffee'
    method, path, body = FakeEngine.seen[-1]
    assert (method, path, json.loads(body.decode())) == ('POST', '/containers/create?name=ntpd', {'Image': 'x'})


def test_errors_carry_dockerd_message_and_status(engine):
    with pytest.raises(d.DockerError) as error:
        engine.start_container('ntpd')
    assert error.value.status == 500
    assert 'unable to apply caps: operation not permitted' in str(error.value)


def test_pull_failure(engine):
    with pytest.raises(d.DockerError, match='registry-1.docker.io'):
        engine.pull_image('debian:bookworm-slim')
    assert FakeEngine.seen[-1][1] == '/images/create?fromImage=debian&tag=bookworm-slim'


def test_build_sends_a_tar_and_returns_the_id(engine, tmp_path):
    context = tmp_path / 'ctx'
    context.mkdir()
    (context / 'Dockerfile').write_text('ARG BASE\nFROM ${BASE}\n')
    image_id, output = engine.build_image(d.context_tar(str(context)), 'img:tag', 'Dockerfile',
                                          {'BASE': 'debian'}, {'l': 'v'})
    assert image_id == 'sha256:abc'
    assert output == ['Step 1/2 : FROM base']
    _method, path, body = FakeEngine.seen[-1]
    assert 't=img%3Atag' in path and 'buildargs=' in path
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.getnames() == ['Dockerfile']
        assert tar.getmember('Dockerfile').uid == 0


def test_build_failure_shows_the_output(engine, tmp_path):
    with pytest.raises(d.DockerError, match='boom'):
        engine.build_image(b'FAIL', 'img:tag', 'Dockerfile', {}, {})


def test_socket_missing(tmp_path):
    client = d.DockerClient(str(tmp_path / 'nothing.sock'))
    with pytest.raises(d.DockerError, match='does not exist: the Docker engine is not installed or dockerd is not running'):
        client.version()


def test_socket_left_behind_by_a_dead_dockerd(tmp_path):
    path = str(tmp_path / 'stale.sock')
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    with pytest.raises(d.DockerError, match='dockerd is not running: nothing listens on'):
        d.DockerClient(path).version()


def test_permission_message():
    exc = OSError(13, 'Permission denied')
    assert 'become: true' in d.socket_error_message('/var/run/docker.sock', exc)


@pytest.mark.parametrize('ref, expected', [
    ('debian', ('debian', 'latest')),
    ('debian:bookworm-slim', ('debian', 'bookworm-slim')),
    ('arm32v7/debian:bookworm-slim', ('arm32v7/debian', 'bookworm-slim')),
    ('registry.lan:5000/debian', ('registry.lan:5000/debian', 'latest')),
    ('registry.lan:5000/debian:12', ('registry.lan:5000/debian', '12')),
])
def test_split_image_ref(ref, expected):
    assert d.split_image_ref(ref) == expected


def test_parse_json_stream_keeps_non_json_lines():
    events = d.parse_json_stream(b'{"stream":"a\\n"}\r\nplain text\r\n')
    assert events == [{'stream': 'a\n'}, {'stream': 'plain text\n'}]
    assert d.stream_error(events) is None
