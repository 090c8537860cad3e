#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: raid_wait
short_description: Wait for a RAID job started in the background, printing md's progress, and say when md is stuck
version_added: 0.1.0
description:
  - Waits for a job started in the background - by M(fleet.linux.raid_apply) with C(detach=true), as the raid_reshape
    role runs it, or under C(async) with C(poll 0) - and returns that job's own result, C(changed) included.
  - An action that runs on the controller. Each poll is one shell command on the node that reads the job's async
    result file and md's counters in C(/sys/block/mdX/md) (C(sync_action), C(sync_completed), C(sync_speed),
    C(array_state), C(reshape_position)), with no Python start there - unlike M(ansible.builtin.async_status),
    which costs seconds of a Raspberry Pi's or an emulated guest's CPU each time, taken from the job itself.
    Polls come quickly at first (0.5 s, doubling) so that a short job ends in moments, then every O(poll_interval).
  - Between two polls the node itself waits for the job's end (a shell loop that looks at the job file every 0.2 s),
    so the end of the job is seen at once, not at the next poll.
  - Prints (on standard error) a line per array that md is reshaping, resyncing or recovering, when it starts and then
    every O(report_interval) seconds - the step, percent done, size, speed and time left, from md's own counters.
  - B(Stuck is not slow) - when arrays are busy but none has moved for O(stall_timeout) seconds, fails at once with
    what md shows and what to do (an array left read-auto, a speed limit of 0, a frozen sync_action), rather
    than waiting for O(timeout). The job itself goes on in the background and carries on once md moves; a job started
    meanwhile waits for it (M(fleet.linux.raid_apply)).
  - A dropped connection changes nothing - the poll is tried again until O(timeout). A node that rebooted meanwhile
    (its boot id changed) ends the wait with a failure that says to run again - the job is gone, and the next run
    reads the arrays as the reboot left them. A job whose process (O(pid)) ended without writing its result (killed)
    ends the wait at once too, saying so.
  - Removes the job's async result file once the job has ended, as M(ansible.builtin.async_status) does with
    C(mode=cleanup).
author:
  - fleet.linux contributors (@fleet-linux)
options:
  jid:
    description:
      - The job's id - M(fleet.linux.raid_apply)'s C(job_id) with C(detach=true), or C(ansible_job_id) of a task
        started with C(async) and C(poll 0).
    type: str
    required: true
  results_file:
    description:
      - The job's file on the node, as M(fleet.linux.raid_apply) returns it with C(detach=true).
      - Default - O(jid) in the shell's C(async_dir).
    type: str
  pid:
    description:
      - The job's process id, as M(fleet.linux.raid_apply) returns it with C(detach=true). Each poll then also
        looks whether that process still runs, so a job killed before it wrote its result (the OOM killer) ends
        the wait at once, saying so, rather than at O(timeout).
    type: int
  timeout:
    description: Seconds to wait for the job in all; it goes on in the background after that.
    type: int
    default: 10800
  poll_interval:
    description: The longest time in seconds between two polls (the first come after 0.5 s, 1 s, 2 s...).
    type: float
    default: 5
  stall_timeout:
    description: Seconds without any progress of any busy array after which md is declared stuck.
    type: int
    default: 600
  report_interval:
    description: Seconds between two progress lines of the same array.
    type: int
    default: 60
attributes:
  check_mode:
    description: Can run in check mode.
    support: none
    details: In check mode there is no job to wait for; the task is skipped.
  diff_mode:
    description: Returns details of what changed in diff mode.
    support: none
  platform:
    description: The targets it can follow a job on.
    support: full
    platforms: posix
notes:
  - Without O(results_file), the job's file is O(jid) in the shell's C(async_dir) (C(~/.ansible_async) of the become
    user by default), as for M(ansible.builtin.async_status).
seealso:
  - module: fleet.linux.raid_apply
  - module: ansible.builtin.async_status
'''

EXAMPLES = r'''
- name: Apply the RAID job's plan in the background
  fleet.linux.raid_apply:
    arrays: "{{ arrays }}"
    plan: "{{ job }}"
    detach: true
  register: started

- name: Wait for it, printing md's progress
  fleet.linux.raid_wait:
    jid: "{{ started.job_id }}"
    results_file: "{{ started.results_file }}"
    pid: "{{ started.pid | default(omit, true) }}"
    timeout: 10800
    stall_timeout: 900
  register: applied
'''

RETURN = r'''
changed:
  description: Whether the job changed the host (the job's own C(changed)).
  returned: always
  type: bool
ansible_job_id:
  description: The job's async id, when the wait ended before the job (stuck, timeout).
  returned: when md was stuck or the timeout passed
  type: str
  sample: j470493106736.949
msg:
  description: Why the wait or the job failed, and what to do.
  returned: failure
  type: str
'''
