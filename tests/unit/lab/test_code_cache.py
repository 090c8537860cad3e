# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lab/microserver/code_cache.py, the test guests' cache of the code Python compiles from zips: a source
compiles once, what runs is what compile() makes of it (named after the zip that imports it), and a
broken entry or a cache directory others could write is never trusted."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import os
import subprocess
import sys
import textwrap
import zipfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
MODULE = os.path.join(ROOT, 'lab', 'microserver', 'code_cache.py')

SOURCE = textwrap.dedent('''
    def outer():
        def inner():
            return 42
        return inner
    ''').encode()


@pytest.fixture
def code_cache(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location('fleet_lab_code_cache', MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, 'CACHE', str(tmp_path / 'cache'))
    return module


def counting_compile(calls):
    def compile_source(pathname, source):
        calls.append(pathname)
        return compile(source, pathname, 'exec', dont_inherit=True)
    return compile_source


def run(code):
    namespace = {}
    exec(code, namespace)  # pylint: disable=exec-used
    return namespace['outer']


def test_a_source_compiles_once_and_runs_named_after_the_zip_that_imports_it(code_cache):
    calls = []
    first = code_cache.compile_source('/tmp/one/payload.zip/mod.py', SOURCE, counting_compile(calls))
    second = code_cache.compile_source('/tmp/two/payload.zip/mod.py', SOURCE, counting_compile(calls))
    assert calls == ['/tmp/one/payload.zip/mod.py']
    assert len(os.listdir(code_cache.CACHE)) == 1
    assert first.co_filename == '/tmp/one/payload.zip/mod.py'
    outer = run(second)
    assert outer.__code__.co_filename == '/tmp/two/payload.zip/mod.py'
    assert outer().__code__.co_filename == '/tmp/two/payload.zip/mod.py'
    assert outer()() == 42


def test_another_source_is_another_entry(code_cache):
    calls = []
    code_cache.compile_source('/z.zip/a.py', SOURCE, counting_compile(calls))
    code = code_cache.compile_source('/z.zip/a.py', SOURCE.replace(b'42', b'43'), counting_compile(calls))
    assert len(calls) == 2
    assert len(os.listdir(code_cache.CACHE)) == 2
    assert run(code)()() == 43


def test_a_broken_entry_is_compiled_again_and_replaced(code_cache):
    calls = []
    code_cache.compile_source('/z.zip/a.py', SOURCE, counting_compile(calls))
    entry = os.path.join(code_cache.CACHE, os.listdir(code_cache.CACHE)[0])
    with open(entry, 'wb') as broken:
        broken.write(b'\xff\x00')
    code = code_cache.compile_source('/z.zip/a.py', SOURCE, counting_compile(calls))
    assert len(calls) == 2
    assert run(code)()() == 42
    assert run(code_cache.compile_source('/z.zip/a.py', SOURCE, counting_compile(calls)))()() == 42
    assert len(calls) == 2


@pytest.mark.parametrize('make', ['group-writable', 'link'])
def test_a_cache_directory_others_could_write_is_not_used(code_cache, tmp_path, make):
    if make == 'group-writable':
        os.mkdir(code_cache.CACHE, 0o770)
        os.chmod(code_cache.CACHE, 0o770)
    else:
        os.mkdir(str(tmp_path / 'elsewhere'), 0o700)
        os.symlink(str(tmp_path / 'elsewhere'), code_cache.CACHE)
    calls = []
    for _attempt in range(2):
        assert run(code_cache.compile_source('/z.zip/a.py', SOURCE, counting_compile(calls)))()() == 42
    assert len(calls) == 2
    assert os.listdir(code_cache.CACHE) == []


def test_a_python_start_imports_from_a_zip_through_the_cache(tmp_path):
    """As in a guest: installed, then a module imported from a zip in two Python processes; the second
    compiles nothing from the zip."""
    archive = str(tmp_path / 'payload.zip')
    with zipfile.ZipFile(archive, 'w') as payload:
        payload.writestr('zipped_mod.py', SOURCE)
    script = textwrap.dedent('''
        import builtins, importlib.util, sys
        spec = importlib.util.spec_from_file_location('fleet_lab_code_cache', sys.argv[1])
        cache = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cache)
        cache.CACHE = sys.argv[2]
        cache.install()
        compiled = []
        real_compile = builtins.compile
        builtins.compile = lambda source, filename, *args, **kwargs: (
            compiled.append(filename), real_compile(source, filename, *args, **kwargs))[1]
        sys.path.insert(0, sys.argv[3])
        import zipped_mod
        print(zipped_mod.outer()(), zipped_mod.outer.__code__.co_filename, compiled)
        ''')
    cache = str(tmp_path / 'cache')
    runs = [subprocess.check_output([sys.executable, '-c', script, MODULE, cache, archive]).decode().split()
            for _run in range(2)]
    filename = os.path.join(archive, 'zipped_mod.py')
    assert runs[0] == ['42', filename, "['%s']" % filename]
    assert runs[1] == ['42', filename, '[]']
    assert len(os.listdir(cache)) == 1
