# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""detach's parts: the result a module printed, a job's failure kept as its result, the job file written at once,
AnsiballZ's payload found (and only it). The fork itself is run by raid_apply's module tests."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys
import zipfile

import pytest

from ansible_collections.fleet.linux.plugins.module_utils import detach


def test_the_result_is_the_last_json_line_the_module_printed():
    assert detach.result_of('a warning\n\n{"changed": true, "actions": ["x"]}\n') == dict(changed=True, actions=['x'])


@pytest.mark.parametrize('printed', ['', 'Traceback (most recent call last):\n  ...\nKeyError: 1\n', '{"torn": '])
def test_no_result_printed_is_a_failure_saying_what_was(printed):
    result = detach.result_of(printed)
    assert result['failed'] is True and result['msg'].startswith('the job in the background ended without a result')
    assert printed.strip()[-20:] in result['msg']


def test_what_exit_json_printed_before_exiting_is_the_result():
    def body():
        print('\n' + json.dumps(dict(changed=True, rc=0)))
        sys.exit(0)
    stdout = sys.stdout
    assert detach.run_captured(body) == dict(changed=True, rc=0)
    assert sys.stdout is stdout


def test_an_error_of_the_job_itself_is_its_failure_with_the_traceback():
    def body():
        raise KeyError('md9')
    result = detach.run_captured(body)
    assert result['failed'] is True and "KeyError: 'md9'" in result['msg']


def test_the_job_file_is_replaced_at_once_and_leaves_nothing_else(tmp_path):
    path = str(tmp_path / 'j1.2')
    detach.write_job_file(path, dict(started=1, finished=0))
    detach.write_job_file(path, dict(changed=True))
    assert json.load(open(path)) == dict(changed=True) and os.listdir(str(tmp_path)) == ['j1.2']


def test_ansiballz_payload_directory_is_found_from_a_module_in_its_zip(tmp_path):
    payload = tmp_path / 'ansible_raid_apply_payload_abc123'
    payload.mkdir()
    archive = payload / 'ansible_raid_apply_payload.zip'
    zipfile.ZipFile(str(archive), 'w').close()
    inside = os.path.join(str(archive), 'ansible_collections', 'fleet', 'linux', 'plugins', 'module_utils', 'detach.py')
    assert detach.payload_directory(inside) == str(payload)


def test_code_not_run_from_ansiballz_has_no_payload_to_remove(tmp_path):
    other = tmp_path / 'home' / 'src.zip'
    other.parent.mkdir()
    zipfile.ZipFile(str(other), 'w').close()
    assert detach.payload_directory(detach.__file__) is None
    assert detach.payload_directory(os.path.join(str(other), 'detach.py')) is None
    assert detach.payload_directory('/tmp/ansible_x_payload_1/gone.zip/detach.py') is None


def test_the_async_directory_is_made_for_the_caller_alone(tmp_path):
    path = detach.job_directory(str(tmp_path / 'async'))
    assert oct(os.lstat(path).st_mode & 0o777) == oct(0o700)
    assert detach.job_directory(path) == path
