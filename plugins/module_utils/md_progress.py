# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Watching a RAID job from the controller (the raid_wait action): one shell command reads the job's
async result file and md's own counters (no Python start on the node), and pure functions turn what
it printed into progress lines and decide when md is stuck rather than slow.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import math

from ansible_collections.fleet.linux.plugins.module_utils.md_estimate import format_duration, format_size, format_speed

try:
    from shlex import quote
except ImportError:  # Python 2 (the controller never is; the sanity import test may be)
    from pipes import quote

SECTOR = 512
# The counters printed per array, in this order; sync_completed last (it holds spaces: "123 / 456").
MD_FIELDS = ('sync_action', 'array_state', 'sync_speed', 'sync_speed_max', 'reshape_position', 'sync_completed')
# While a poll waits on the node for the job's end, it looks at the job file this often (seconds; GNU and busybox
# sleep take fractions).
WAIT_STEP_SECONDS = 0.2


def poll_command(job_file, wait=0, pid=None, sys_root='/sys'):
    """The shell command that prints the job file and, per md array, its counters.

    With ``wait`` (seconds), it first waits on the node, looking every WAIT_STEP_SECONDS, until the job has
    ended (its file no longer says "started") or ``wait`` has passed: the end is seen at once, with no round
    trip per look. With ``pid`` (the job's process), it says whether that process still runs (not a zombie),
    before it reads the job file: a job that had ended by then has its result in the file.

    It reads with the shell's own read, not a process per file: under TCG each process costs tens of
    milliseconds, and a poll that ran cat, cut, grep and sed for each counter took 1.4 s of the guest's time,
    taken from the job it watched. Only two cats remain (the job file; md's speed limits, sysctl files that
    give a byte-by-byte read such as dash's only their first byte), and the waits' sleep."""
    job = quote(job_file)
    looks = int(math.ceil(round(wait / WAIT_STEP_SECONDS, 6)))
    # The job file is one line of JSON (detach.write_job_file, async_wrapper).
    wait_for_end = ('i=0; while [ "$i" -lt %d ]; do j=; read -r j 2>/dev/null <%s; '
                    'case "$j" in *\'"started"\'*) ;; *) break;; esac; sleep %s; i=$((i+1)); done; '
                    % (looks, job, WAIT_STEP_SECONDS)) if looks > 0 else ''
    # /proc/PID/stat: "PID (COMM) STATE ...", COMM may hold ") ": the state follows the last one.
    alive = ('s=; read -r s 2>/dev/null </proc/%d/stat; s=${s##*") "}; s=${s%%%%" "*}; '
             'case "$s" in ""|Z|X|x) echo "@alive no";; *) echo "@alive yes";; esac; ' % int(pid)) if pid else ''
    reads = ''.join('v%d=; read -r v%d 2>/dev/null <"$d/%s"; ' % (i, i, field) for i, field in enumerate(MD_FIELDS))
    counters = ' '.join('"$v%d"' % i for i in range(len(MD_FIELDS)))
    return (wait_for_end + alive + "printf '@job '; cat -- %s 2>/dev/null || printf '{}'; echo; "
            "b=; read -r b 2>/dev/null </proc/sys/kernel/random/boot_id; printf '@boot %%s\\n' \"$b\"; "
            "printf '@limits %%s %%s\\n' $(cat /proc/sys/dev/raid/speed_limit_min /proc/sys/dev/raid/speed_limit_max "
            "2>/dev/null); "
            "for d in %s/block/md*/md; do [ -r \"$d/sync_action\" ] || continue; n=${d%%/md}; %s"
            "printf '@md %%s|%%s|%%s|%%s|%%s|%%s|%%s\\n' \"${n##*/}\" %s; done"
            % (job, quote(sys_root.rstrip('/') or '/'), reads, counters))


def _number(text):
    text = (text or '').strip().split(' ')[0]
    return int(text) if text.isdigit() else None


def parse_md_line(text):
    """One array's counters: name, action (reshape while a reshape position is set), array_state,
    speed (KiB/s), speed_max (KiB/s; speed_max_own when the array has its own, not the system's),
    done and total (sectors; None when md reports none)."""
    fields = text.split('|')
    fields += [''] * (len(MD_FIELDS) + 1 - len(fields))
    name, action, state, speed, speed_max, position, completed = fields[:len(MD_FIELDS) + 1]
    action = action.strip() or 'idle'
    reshaping = position.strip() not in ('', 'none')
    if action == 'idle' and reshaping:
        action = 'reshape'
    done = total = None
    parts = completed.split('/')
    if len(parts) == 2 and _number(parts[0]) is not None and _number(parts[1]):
        done, total = _number(parts[0]), _number(parts[1])
    return dict(name=name.strip(), action=action, array_state=state.strip(), speed=_number(speed),
                speed_max=_number(speed_max), speed_max_own='(system)' not in speed_max, done=done, total=total)


def counters_from_sysfs(name, sysfs):
    """The counters of parse_md_line from md's sysfs values as the module reads them (read_md_sysfs, with
    sync_speed and sync_speed_max)."""
    return parse_md_line('|'.join([name] + [' '.join((sysfs.get(field) or '').split()[:3]) for field in MD_FIELDS]))


def parse_poll(stdout):
    """What poll_command printed: the job (its async result so far; None if the file is missing or
    torn), whether its process was alive (None when not asked), the boot id, md's system speed limits (KiB/s)
    and the arrays by name."""
    polled = dict(job=None, alive=None, boot_id=None, limits=(None, None), arrays={})
    for line in stdout.splitlines():
        tag, _sep, rest = line.partition(' ')
        if tag == '@job':
            try:
                job = json.loads(rest)
            except ValueError:
                job = None
            polled['job'] = job if isinstance(job, dict) and job else None
        elif tag == '@alive':
            polled['alive'] = rest.strip() == 'yes'
        elif tag == '@boot':
            polled['boot_id'] = rest.strip() or None
        elif tag == '@limits':
            values = rest.split()
            polled['limits'] = tuple(_number(v) for v in (values + ['', ''])[:2])
        elif tag == '@md':
            array = parse_md_line(rest)
            polled['arrays'][array['name']] = array
    return polled


def job_finished(job):
    """As async_status decides: the file holds the module's result (no 'started' key) once it ended."""
    return job is not None and 'started' not in job


def busy(array):
    return array['action'] not in ('idle', 'frozen') or array['done'] is not None


def progress_line(array):
    """'md1: reshape 43.0% (1.1 GiB of 2.5 GiB) at 12 MiB/s, about 2 min left' from one array's counters."""
    line = '%s: %s' % (array['name'], array['action'])
    if array['done'] is not None:
        line += ' %.1f%% (%s of %s)' % (100.0 * array['done'] / array['total'], format_size(array['done'] * SECTOR),
                                        format_size(array['total'] * SECTOR))
    if array['speed']:
        line += ' at %s' % format_speed(array['speed'])
        if array['done'] is not None:
            line += ', %s left' % format_duration((array['total'] - array['done']) * SECTOR / (array['speed'] * 1024.0))
    elif array['done'] is not None:
        line += ', not moving now'
    if array['array_state'] and array['array_state'] not in ('clean', 'active', 'write-pending', 'active-idle'):
        line += ' (array_state %s)' % array['array_state']
    return line


def stuck_advice(arrays, limits):
    """What to do about busy arrays that do not move: the causes md shows in its counters."""
    advice = []
    for array in arrays:
        if array['array_state'] in ('read-auto', 'readonly'):
            advice.append('%s is %s: md waits for a first write before it goes on; `mdadm --readwrite /dev/%s` lets it '
                          'go on' % (array['name'], array['array_state'], array['name']))
        if array['speed_max'] == 0 and array['speed_max_own']:
            advice.append('%s has sync_speed_max 0: raise /sys/block/%s/md/sync_speed_max' % (array['name'], array['name']))
        if array['action'] == 'frozen':
            advice.append('%s is frozen: `echo idle > /sys/block/%s/md/sync_action` lets md go on' % (array['name'], array['name']))
    if limits[1] == 0:
        advice.append('/proc/sys/dev/raid/speed_limit_max is 0: raise it (for example to 200000)')
    return advice or ['look at /proc/mdstat and `mdadm --detail` of the arrays, and the kernel log (dmesg) for I/O errors']


class StallWatch(object):
    """Decides that md is stuck, not slow: while some array is busy, none has moved for ``stall_timeout``
    seconds. A finished or newly started array counts as movement."""

    def __init__(self, stall_timeout):
        self.stall_timeout = stall_timeout
        self.last = None
        self.since = None

    def update(self, arrays, now):
        """The busy arrays that have not moved for stall_timeout seconds (empty while md moves or rests)."""
        working = sorted((name, a['action'], a['done']) for name, a in arrays.items() if busy(a))
        if not working or working != self.last:
            self.last, self.since = working, now
            return []
        if now - self.since >= self.stall_timeout:
            return [arrays[name] for name, _action, _done in working]
        return []
