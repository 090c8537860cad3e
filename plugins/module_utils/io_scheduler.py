# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""blk-mq I/O schedulers: sysfs parsing, device selection and the udev rules file io_scheduler owns.

Everything here is a pure function of text or data except ``read_block_queues`` and
``is_partition``, which take a ``sys_root`` so tests can point them at a captured tree.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fnmatch
import os
import re

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal, read_text

GLOB_CHARS = '*?['
# Kernel names a pattern only selects when it names them itself (``loop*``, ``md0``): virtual
# devices that either have no scheduler or whose I/O the disks below them schedule.
VIRTUAL_PREFIXES = ('loop', 'ram', 'zram', 'dm-', 'md', 'nbd')
PATTERN_RE = re.compile(r'^[A-Za-z0-9_.:+!\[\]*?-]+$')
SCHEDULER_RE = re.compile(r'^[a-z0-9][a-z0-9_-]*$')

RULES_HEADER = (
    '# Managed by fleet.linux.io_scheduler: changes made here are lost on its next run.\n'
    '# One rule per selection of devices; where selections overlap, the later rule wins.\n')
SELECTION_PREFIX = '# selection: '
RULE_SCHEDULER_RE = re.compile(r'ATTR\{queue/scheduler\}="([^"]*)"\s*$')
MODULES_LOAD_HEADER = ('# Managed by fleet.linux.io_scheduler: the I/O scheduler modules its udev rules\n'
                       '# set, loaded early at boot.\n')


def parse_scheduler(text):
    """``queue/scheduler`` as (offered schedulers, current one).

    blk-mq devices list every registered scheduler with the current one in brackets
    (``[none] mq-deadline``); bio-based devices (md, most dm) show a bare ``none``: they
    offer nothing to choose, so the list is empty.
    """
    names = (text or '').split()
    current = None
    offered = []
    for name in names:
        if name.startswith('[') and name.endswith(']'):
            name = name[1:-1]
            current = name
        offered.append(name)
    if current is None:
        return [], 'none' if offered == ['none'] else None
    return offered, current


def read_block_queues(sys_root='/sys'):
    """Every /sys/block entry: {name: {'offered', 'current', 'rotational'}}."""
    block = os.path.join(sys_root, 'block')
    devices = {}
    for name in sorted(os.listdir(block)):
        queue = os.path.join(block, name, 'queue')
        offered, current = parse_scheduler(read_text(os.path.join(queue, 'scheduler'), ''))
        rotational = read_text(os.path.join(queue, 'rotational'))
        devices[name] = {
            'offered': offered,
            'current': current,
            'rotational': None if rotational is None else rotational.strip() == '1',
        }
    return devices


def is_partition(name, sys_root='/sys'):
    return os.path.exists(os.path.join(sys_root, 'class', 'block', name, 'partition'))


def parse_modprobe_show_depends(text):
    """``modprobe --show-depends NAME`` as ('builtin', None), ('module', module name) or (None, None).

    The module to load is on the last ``insmod`` line (its dependencies come first); a file
    name may be compressed (``bfq.ko.xz``).
    """
    kind, module = None, None
    for line in (text or '').splitlines():
        fields = line.split()
        if fields[:1] == ['builtin'] and kind is None:
            kind = 'builtin'
        elif fields[:1] == ['insmod'] and len(fields) > 1:
            kind, module = 'module', os.path.basename(fields[1]).split('.ko')[0]
    return kind, module


def normalize_pattern(pattern):
    """A device name or glob, with an optional /dev/ prefix removed; Refusal if udev cannot hold it."""
    name = pattern.strip()
    if name.startswith('/dev/'):
        name = name[len('/dev/'):]
    if not name or not PATTERN_RE.match(name):
        raise Refusal('device %r is not a kernel device name or glob (like sdb, vd[b-c] or mmcblk*) matched against '
                      '/sys/block, nor the path of a block device (like /dev/sdb or /dev/disk/by-id/...).' % pattern)
    return name


def device_pattern(given, identify):
    """The kernel name or glob a ``devices`` entry selects.

    An absolute path without glob characters (/dev/sdb, /dev/disk/by-id/...) is the device it
    leads to, found by its major:minor with ``identify`` (BlockDevices.identify, which refuses a
    regular file named like a disk); a name or glob, also written /dev/NAME, is kept as it is.
    """
    if given.startswith('/') and not is_glob(given):
        return identify(given)
    return normalize_pattern(given)


def is_glob(pattern):
    return any(c in pattern for c in GLOB_CHARS)


def literal_prefix(pattern):
    for index, char in enumerate(pattern):
        if char in GLOB_CHARS:
            return pattern[:index]
    return pattern


def _claims(patterns, prefix):
    """Whether a pattern names devices of a virtual prefix itself (``loop*``, ``md0``)."""
    return any(literal_prefix(p).startswith(prefix) for p in patterns)


def select_devices(devices, patterns, rotational=None):
    """The names of ``devices`` (as read by read_block_queues) the patterns select.

    Virtual devices (loop, ram, zram, dm-, md, nbd) are selected only by a pattern starting
    with their prefix; ``rotational`` (True/False) keeps only that class.
    """
    selected = []
    for name in sorted(devices):
        if not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            continue
        if any(name.startswith(v) and not _claims(patterns, v) for v in VIRTUAL_PREFIXES):
            continue
        if rotational is not None and devices[name]['rotational'] is not rotational:
            continue
        selected.append(name)
    return selected


def missing_names(devices, patterns):
    """Literal names among the patterns that are not /sys/block entries."""
    return [p for p in patterns if not is_glob(p) and p not in devices]


def unsupported(devices, names, scheduler):
    """{name: offered} of the selected devices that neither use nor offer the scheduler."""
    return dict((n, devices[n]['offered']) for n in names
                if devices[n]['current'] != scheduler and scheduler not in devices[n]['offered'])


def changes(devices, names, scheduler):
    """[(name, current, scheduler)] of the selected devices that use another scheduler."""
    return [(n, devices[n]['current'], scheduler) for n in names if devices[n]['current'] != scheduler]


# --- The rules file -------------------------------------------------------------------------

def selection_key(patterns, rotational):
    return (tuple(sorted(set(patterns))), rotational)


def render_selection(patterns, rotational):
    return 'devices=%s rotational=%s' % (','.join(sorted(set(patterns))),
                                         'any' if rotational is None else str(rotational).lower())


def udev_rule(patterns, rotational, scheduler):
    """The rule that sets the scheduler of the selected whole disks when they appear or change."""
    patterns = sorted(set(patterns))
    keys = ['ACTION=="add|change"', 'SUBSYSTEM=="block"', 'ENV{DEVTYPE}=="disk"', 'KERNEL=="%s"' % '|'.join(patterns)]
    # Glob patterns that could reach virtual devices leave them out, as select_devices does.
    excluded = [v for v in VIRTUAL_PREFIXES if not _claims(patterns, v) and any(
        is_glob(p) and (v.startswith(literal_prefix(p)) or literal_prefix(p).startswith(v)) for p in patterns)]
    if excluded:
        keys.append('KERNEL!="%s"' % '|'.join(v + '*' for v in excluded))
    if rotational is not None:
        keys.append('ATTR{queue/rotational}=="%d"' % int(rotational))
    keys.append('ATTR{queue/scheduler}="%s"' % scheduler)
    return ', '.join(keys)


def parse_rules(text, path):
    """The rules of a file io_scheduler wrote: [{'patterns', 'rotational', 'scheduler'}].

    Refusal for a file it did not write or that was edited beyond recognition.
    """
    if not text:
        return []
    if not text.startswith(RULES_HEADER.splitlines()[0]):
        raise Refusal('%s exists and was not written by io_scheduler: it would be overwritten. '
                      'Choose another rules_file, or move that file away.' % path)
    rules = []
    pending = None
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(SELECTION_PREFIX):
            fields = dict(f.split('=', 1) for f in line[len(SELECTION_PREFIX):].split() if '=' in f)
            rotational = {'any': None, 'true': True, 'false': False}.get(fields.get('rotational'), 'bad')
            if not fields.get('devices') or rotational == 'bad':
                pending = None
            else:
                pending = {'patterns': fields['devices'].split(','), 'rotational': rotational}
            continue
        if not line.strip() or line.startswith('#'):
            continue
        match = RULE_SCHEDULER_RE.search(line)
        if pending is None or match is None:
            raise Refusal('%s line %d is not a rule io_scheduler wrote (%s): remove the line or the file, '
                          'and run again.' % (path, number, line.strip()))
        pending['scheduler'] = match.group(1)
        rules.append(pending)
        pending = None
    return rules


def merge_rule(rules, patterns, rotational, scheduler):
    """The rules with this selection's rule set (in place when it exists, else last); None removes it."""
    key = selection_key(patterns, rotational)
    merged = []
    found = False
    for rule in rules:
        if selection_key(rule['patterns'], rule['rotational']) == key:
            found = True
            if scheduler is not None:
                merged.append(dict(rule, scheduler=scheduler))
        else:
            merged.append(rule)
    if not found and scheduler is not None:
        merged.append({'patterns': sorted(set(patterns)), 'rotational': rotational, 'scheduler': scheduler})
    return merged


def render_rules(rules):
    """The rules file's content ('' when there is no rule left: the file goes)."""
    if not rules:
        return ''
    blocks = [RULES_HEADER]
    for rule in rules:
        selection = render_selection(rule['patterns'], rule['rotational'])
        rule_line = udev_rule(rule['patterns'], rule['rotational'], rule['scheduler'])
        blocks.append('\n%s%s\n%s\n' % (SELECTION_PREFIX, selection, rule_line))
    return ''.join(blocks)


def render_modules_load(modules):
    """modules-load.d content for the scheduler modules the rules need ('' when none)."""
    modules = sorted(set(m for m in modules if m))
    if not modules:
        return ''
    return MODULES_LOAD_HEADER + ''.join('%s\n' % m for m in modules)


def scheduler_module_names(schedulers, kinds):
    """Every name under which a modules-load file io_scheduler wrote can list these schedulers' modules.

    ``kinds`` maps a scheduler to what modprobe resolves it to (('module', name) and the like); the
    scheduler's own name and NAME-iosched are kept too, so an entry survives a kernel that built
    the scheduler in.
    """
    names = set()
    for scheduler in schedulers:
        names.update([scheduler, '%s-iosched' % scheduler, kinds.get(scheduler, (None, None))[1]])
    names.discard(None)
    return names


def parse_modules_load(text, path, rules_path, owned):
    """The modules listed by a modules-load file io_scheduler wrote.

    Refusal for a file it did not write, and for a module that is none of ``owned`` (the modules
    of the schedulers its rules name): another tool's entry it would drop.
    """
    if not text:
        return []
    if not text.startswith(MODULES_LOAD_HEADER.splitlines()[0]):
        raise Refusal('%s exists and was not written by io_scheduler: it would be overwritten or removed. '
                      'Choose another modules_load_file, or move that file away.' % path)
    modules = []
    for number, line in enumerate(text.splitlines(), 1):
        name = line.strip()
        if not name or name.startswith('#'):
            continue
        if name not in owned:
            raise Refusal('%s line %d lists %s, which no rule of %s needs: io_scheduler did not write it and '
                          'would drop it. Move that entry to a file of its own, and run again.'
                          % (path, number, name, rules_path))
        modules.append(name)
    return modules
