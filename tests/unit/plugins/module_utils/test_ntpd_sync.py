# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docker_ntpd's wait for ntpd: ntpq's output parsed (captured from real ntpd containers, tests/fixtures/ntpq/),
what each sync condition accepts, the polls' schedule, the running check, and the exec stream's frames."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import struct

import pytest
from hypothesis import given, strategies as st

from ansible_collections.fleet.linux.plugins.module_utils import ntpd_plan as p
from ansible_collections.fleet.linux.plugins.module_utils.docker_api import demultiplex

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures')


def polls(name):
    """[(seconds after the start, ntpq output)] of a tests/fixtures/ntpq/*.polls.txt capture."""
    with open(os.path.join(FIXTURES, 'ntpq', name)) as handle:
        text = handle.read()
    parts = re.split(r'^### t=([0-9.]+)\n', text, flags=re.M)
    return [(float(parts[i]), parts[i + 1]) for i in range(1, len(parts), 2)]


def first_reached(name, condition):
    return next((t for t, out in polls(name) if p.sync_reached(p.parse_ntpq_sync(out), condition)), None)


def test_before_the_first_answer_there_is_no_peer_and_ntpd_is_unsynchronised():
    sync = p.parse_ntpq_sync(polls('serve-only.polls.txt')[0][1])
    assert sync == {'peer': None, 'refid': None, 'offset_ms': None, 'delay_ms': None, 'peers': 1,
                    'stratum': 16, 'leap': 3}


def test_the_selected_peer_of_a_serve_only_ntpd():
    selected = [out for _t, out in polls('serve-only.polls.txt') if '\n*' in out][0]
    sync = p.parse_ntpq_sync(selected)
    assert sync == {'peer': '10.231.0.2', 'refid': '.LOCL.', 'delay_ms': 0.2112, 'offset_ms': 0.0404, 'peers': 1,
                    'stratum': 2, 'leap': 3}


def test_a_serve_only_ntpd_selects_its_peer_but_never_serves_synchronised_time():
    assert first_reached('serve-only.polls.txt', 'peer') == 6.9
    assert first_reached('serve-only.polls.txt', 'serving') is None
    assert set(p.parse_ntpq_sync(out)['leap'] for _t, out in polls('serve-only.polls.txt')) == set([3])


@pytest.mark.parametrize('name, seconds', [('discipline-drift.polls.txt', 7.0), ('discipline-nodrift.polls.txt', 10.3)])
def test_a_disciplining_ntpd_serves_with_its_peer_selected(name, seconds):
    assert first_reached(name, 'peer') == first_reached(name, 'serving') == seconds
    sync = p.parse_ntpq_sync(dict(polls(name))[seconds])
    assert (sync['peer'], sync['leap'], sync['stratum']) == ('10.231.0.2', 0, 2)


def test_a_peer_without_leap_cleared_is_not_serving_and_no_peer_is_nothing():
    assert p.sync_reached({'peer': 'x', 'leap': 3}, 'peer')
    assert not p.sync_reached({'peer': 'x', 'leap': 3}, 'serving')
    assert not p.sync_reached({'peer': 'x', 'leap': None}, 'serving')
    assert not p.sync_reached({'peer': None, 'leap': 0}, 'serving')
    assert not p.sync_reached(None, 'peer')
    with pytest.raises(ValueError):
        p.sync_reached({'peer': 'x', 'leap': 0}, 'stratum')


@pytest.mark.parametrize('text, value', [('00', 0), ('01', 1), ('10', 2), ('11', 3), ('3', 3), ('0', 0)])
def test_leap_as_bits_or_decimal(text, value):
    assert p.leap_value(text) == value


def test_ntpq_failing_output_has_no_peer_and_no_leap():
    sync = p.parse_ntpq_sync('ntpq: read: Connection refused\n')
    assert sync['peer'] is None and sync['leap'] is None and sync['peers'] == 0
    assert p.sync_text(sync) == 'no system peer selected (of 0), leap None, stratum None'
    assert p.sync_text(None) == 'no answer from ntpq'


def test_sync_text_names_what_ntpd_follows():
    selected = [out for _t, out in polls('discipline-drift.polls.txt') if '\n*' in out][0]
    assert p.sync_text(p.parse_ntpq_sync(selected)) == 'follows 10.231.0.2: stratum 2, leap 0, offset 0.044 ms, delay 0.1507 ms'


def test_polls_every_second_while_ntpd_selects_then_every_two():
    assert p.poll_delays(10) == [0.5, 0.5] + [1.0] * 9
    assert p.poll_delays(21) == [0.5, 0.5] + [1.0] * 15 + [2.0, 2.0, 1.0]
    assert p.poll_delays(1) == [0.5, 0.5]
    assert p.poll_delays(0) == []


@given(st.integers(min_value=1, max_value=3600))
def test_polls_add_up_to_the_timeout(timeout):
    delays = p.poll_delays(timeout)
    assert abs(sum(delays) - timeout) < 1e-6
    assert all(0 < d <= 2.0 for d in delays)


@pytest.mark.parametrize('state, problem', [
    ({'Running': True, 'Restarting': False, 'Status': 'running'}, None),
    ({'Running': True, 'Restarting': True, 'Status': 'restarting', 'ExitCode': 1}, 'status restarting, exit code 1'),
    ({'Running': False, 'Status': 'exited', 'ExitCode': 255, 'Error': ''}, 'status exited, exit code 255'),
    ({'Running': False, 'Status': 'created', 'ExitCode': 128, 'Error': 'unable to apply caps'},
     'status created, exit code 128, unable to apply caps'),
    (None, 'status None, exit code None'),
])
def test_running_problem(state, problem):
    assert p.running_problem(state) == problem


def test_validate_refuses_a_wait_timeout_below_one_second():
    params = {'name': 'ntpd', 'image': 'fleet-linux/ntpd', 'dockerfile': 'Dockerfile', 'stop_timeout': 10,
              'build_timeout': 1800, 'wait_timeout': 0, 'capabilities': ['SYS_TIME'], 'allow_extra_capabilities': False,
              'network_mode': 'bridge', 'published_ports': [], 'drift_volume': 'ntpd-drift'}
    with pytest.raises(p.Refusal, match='wait_timeout: 0 seconds is below 1'):
        p.validate(params)


def test_demultiplex_a_captured_exec_stream():
    """dockerd 20.10's answer to an exec start (Tty false): ntpq's table on stdout, then an unknown command's
    complaint on stderr."""
    with open(os.path.join(FIXTURES, 'ntpq', 'exec-multiplexed.bin'), 'rb') as handle:
        data = handle.read()
    stdout, stderr = demultiplex(data)
    sync = p.parse_ntpq_sync(stdout.decode('utf-8'))
    assert sync['peer'] == '10.231.0.2' and sync['leap'] == 3 and sync['stratum'] == 2
    assert b'nosuchcommand' in stderr and b'nosuchcommand' not in stdout


@given(st.lists(st.tuples(st.sampled_from([1, 2]), st.binary(max_size=40)), max_size=8))
def test_demultiplex_joins_each_stream(frames):
    data = b''.join(struct.pack('>BxxxL', stream, len(payload)) + payload for stream, payload in frames)
    stdout, stderr = demultiplex(data)
    assert stdout == b''.join(payload for stream, payload in frames if stream == 1)
    assert stderr == b''.join(payload for stream, payload in frames if stream == 2)


def test_a_terminal_stream_is_all_stdout():
    assert demultiplex(b'leap=00, stratum=2\n') == (b'leap=00, stratum=2\n', b'')
