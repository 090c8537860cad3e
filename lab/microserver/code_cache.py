"""A cache of the code Python compiles from zip files, for the lab microserver's test guests only.

Every Ansible module call sends its module with ansible.module_utils in a zip (AnsiballZ), and Python
compiles what it imports from a zip on every start: under TCG that is about 1.7 s of each call. This
keeps each compiled module in CACHE, keyed by the SHA-256 of its source and Python's bytecode magic
number, so the same source compiles once. What runs is unchanged: the code object is the one
compile() returns for that source, its file name set to the importing zip's path as Python does for
cached bytecode.

lab/microserver/code-cache installs it in a guest's site-packages with a .pth file that imports it at
every Python start. The molecule scenarios' guests get it; the benchmarks' guests do not (they measure
what a user's node does).
"""

import _imp
import marshal
import os
import stat
import zipimport

CACHE = '/var/cache/fleet-lab-code'


def _cache_dir():
    """CACHE, made if missing, or None unless it is a directory of this user's that only it can write."""
    try:
        os.mkdir(CACHE, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    st = os.lstat(CACHE)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        return None
    return CACHE


def compile_source(pathname, source, compile_source=zipimport._compile_source):
    """zipimport's _compile_source (the code of SOURCE, bytes, read from PATHNAME), kept in the cache."""
    import hashlib
    import importlib.util
    directory = _cache_dir()
    if directory is None:
        return compile_source(pathname, source)
    entry = os.path.join(directory, hashlib.sha256(importlib.util.MAGIC_NUMBER + source).hexdigest())
    try:
        with open(entry, 'rb') as cached:
            code = marshal.load(cached)
        _imp._fix_co_filename(code, pathname)
        return code
    except (OSError, EOFError, ValueError, TypeError):
        pass
    code = compile_source(pathname, source)
    partial = '%s.%d' % (entry, os.getpid())
    try:
        with open(partial, 'xb') as new:
            marshal.dump(code, new)
        os.replace(partial, entry)
    except OSError:
        pass
    return code


def install():
    """Make zipimport compile through the cache (Python 3.8 and later have _compile_source)."""
    if getattr(zipimport, '_compile_source', None) is not None:
        zipimport._compile_source = compile_source
