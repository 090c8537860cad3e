#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: raid_apply
short_description: Apply a RAID job's plan in one call
version_added: 0.1.0
description:
  - The P(fleet.linux.raid_reshape#role) role's one call. It applies O(plan) - what the C(raid_reshape_plan)
    filter planned from M(fleet.linux.raid_plan)'s survey of O(arrays) - in one module call, or with O(planning)
    reads and plans the job itself first, as those two do, then applies that plan. For each array, in
    order, as the plan lists - remember the boot steps its reshape will owe (files in O(state_dir), so that a run
    stopped half-way finishes them next time), reshape it as M(fleet.linux.md_reshape) does and write its ARRAY
    entry to O(config_file), mount C(/boot) if fstab has it and it is not mounted (after a restart in the middle
    of a reshape), grow its filesystem as M(fleet.linux.fs_grow) does or re-create its swap as
    M(fleet.linux.swap_rebuild) does. Then the host's boot steps - regenerate the initramfs (when the plan says
    so only if an image is older than O(config_file)), regenerate the GRUB configuration, install GRUB on each
    disk listed, forget the owed steps done, want mdadm's last-resort timer of each array listed at boot.
  - Each part reads and checks its array again before it acts and refuses what could lose data, as the module it
    stands for does alone. Deciding what to do is the plan's job; this module runs only what the plan lists.
  - Whatever fails, the failure says whether the host changed and lists every action done before it (RV(actions)).
  - One job at a time per host - it holds a lock (C(job.lock) in O(state_dir), with its process id) while it runs. A
    job started while another runs (a controller run interrupted and started again) waits for it within O(timeout)
    (and is refused after that), then changes nothing and returns RV(waited_for_job) - its plan was made while the other
    job ran, so the host must be read and planned again (the raid_reshape role does that once by itself).
  - Writes what it is doing to C(progress) in O(state_dir), one line a person can C(cat) from another shell - the
    time, then while md works on an array its step, percent, size, speed and time left (at most every 5 s), and at
    the end how the job ended.
author:
  - fleet.linux contributors (@fleet-linux)
extends_documentation_fragment:
  - fleet.linux.raid_job
options:
  plan:
    description:
      - The plan of the job for O(arrays), as the C(raid_reshape_plan) filter returns it. Per array (in the order
        of O(arrays)) C(device), C(remember), C(reshape), C(mount_boot), C(grow_filesystem), C(rebuild_swap); for the
        host C(initramfs), C(initramfs_if_outdated), C(grub_mkconfig), C(grub_install), C(forget), C(start_degraded);
        C(summary) for check mode.
      - Or O(planning) - one of the two is needed.
    type: dict
  planning:
    description:
      - Read and plan the job in this call instead of taking O(plan) - the survey M(fleet.linux.raid_plan) returns
        (RV(survey)) and the plan the C(raid_reshape_plan) filter makes of it (RV(plan)), with these settings and
        the module's own O(config_file), O(swap_force), O(initramfs_command), O(grub_target) and
        O(grub_mkconfig_command). What the survey or the plan refuses fails the module before anything changes; a
        plan with nothing to do starts no job. One module call then does what a call of M(fleet.linux.raid_plan) and
        one of this module did - on a slow node a Python start fewer.
    type: dict
    suboptions:
      backup_min_free_mib:
        description: The room (MiB) the backup file's directory must have free.
        type: int
        default: 64
      update_initramfs:
        description: Regenerate the initramfs when mdadm.conf changes or is newer than an image in C(/boot).
        type: bool
        default: true
      grub_install:
        description: Install GRUB on every disk of an array holding C(/boot) that lacks it or whose array changes.
        type: bool
        default: true
      start_degraded_boot:
        description: Want mdadm's last-resort timer of an array holding C(/boot) at boot (start it degraded).
        type: bool
        default: true
      disk_speed_kib:
        description: The disks' own speed (KiB/s) the estimate of md's steps assumes.
        type: int
        default: 102400
  initramfs_command:
    description: The command regenerating the initramfs, run when the plan says so.
    type: list
    elements: str
    default: [update-initramfs, -u, -k, all]
  grub_mkconfig_command:
    description: The command regenerating the GRUB configuration, run when the plan says so.
    type: list
    elements: str
    default: [grub-mkconfig, -o, /boot/grub/grub.cfg]
  grub_target:
    description: C(grub-install --target).
    type: str
    default: i386-pc
  detach:
    description:
      - Start the job in the background and return at once with RV(job_id) and RV(results_file), for
        M(fleet.linux.raid_wait) to follow - as C(async) with C(poll 0) does, without its cost on a slow node
        (C(async) uploads the module and its wrapper and starts Python again for the job; here the module's own
        process forks, twice and in a new session, and runs the job). A dropped connection does not stop the job;
        its result is written to RV(results_file) in C(async)'s format (C(~/.ansible_async) of the user the module
        runs as, which must be a directory of that user that no one else can write).
      - Not in check mode, which returns the plan's steps at once.
    type: bool
    default: false
notes:
  - In check mode it returns the plan's steps and changes nothing; with O(plan) it reads nothing (M(fleet.linux.raid_plan)
    and the C(raid_reshape_plan) filter are then the job's dry run), with O(planning) it reads and plans as a real run does.
  - A reshape of a real array takes hours; run the task with O(detach=true) (or under C(async) with C(poll 0)) so that
    a dropped connection does not matter (the reshape goes on in the kernel, and the next run waits for it), and
    M(fleet.linux.raid_wait) after it to see md's progress and be told at once when md is stuck.
seealso:
  - module: fleet.linux.raid_wait
  - module: fleet.linux.raid_plan
  - module: fleet.linux.md_reshape
  - module: fleet.linux.fs_grow
  - module: fleet.linux.swap_rebuild
'''

EXAMPLES = r'''
- name: Read, plan and start the job in one call, and follow it
  block:
    - name: Read, plan and start
      fleet.linux.raid_apply:
        arrays:
          - {device: /dev/md0, level: 0, devices: [/dev/sda3, /dev/sdb3, /dev/sdc3, /dev/sdd3], content: swap}
        planning: {update_initramfs: true}
        detach: true
      register: started

    - name: Show the plan
      ansible.builtin.debug:
        msg: "{{ started.plan.summary }}"

    - name: Wait for the job, printing md's progress
      fleet.linux.raid_wait:
        jid: "{{ started.job_id }}"
        results_file: "{{ started.results_file }}"
        pid: "{{ started.pid | default(omit, true) }}"
        timeout: 86400
      when: started.job_id is defined

- name: Survey the arrays
  fleet.linux.raid_plan:
    arrays: &arrays
      - {device: /dev/md0, level: 0, devices: [/dev/sda3, /dev/sdb3, /dev/sdc3, /dev/sdd3], content: swap}
      - {device: /dev/md1, level: 10, devices: [/dev/sda2, /dev/sdb2, /dev/sdc2, /dev/sdd2], content: filesystem,
         boot: true}
  register: survey

- name: Plan the job on the controller
  ansible.builtin.set_fact:
    job: "{{ survey | fleet.linux.raid_reshape_plan }}"

- name: Apply it in the background, if there is anything to do
  fleet.linux.raid_apply:
    arrays: *arrays
    plan: "{{ job }}"
    detach: true
  when: job.changes and not job.refusals
  changed_when: false
  register: started

- name: Wait for it, printing md's progress
  fleet.linux.raid_wait:
    jid: "{{ started.job_id }}"
    results_file: "{{ started.results_file }}"
    pid: "{{ started.pid | default(omit, true) }}"
    timeout: 86400
  when: job.changes and not job.refusals
'''

RETURN = r'''
job_id:
  description: The id of the job started in the background (O(detach)), as C(async) names its jobs.
  returned: when O(detach) started the job
  type: str
  sample: j482917303458.2811
results_file:
  description:
    - The job's file - C({"started" 1, "finished" 0, ...}) while it runs, then this module's result - which
      M(fleet.linux.raid_wait) follows.
  returned: when O(detach) started the job
  type: str
  sample: /root/.ansible_async/j482917303458.2811
pid:
  description:
    - The process id of the job started in the background (O(detach)); M(fleet.linux.raid_wait) tells a job killed
      before it wrote its result (the OOM killer) from one still running by it. Null if the job could not start.
  returned: when O(detach) started the job
  type: int
  sample: 2811
waited_for_job:
  description:
    - The other job this one waited for (C(process), its process id, and C(last), the last line of its progress file);
      nothing else was done. Read and plan the host again.
  returned: when another job held the lock at the start
  type: dict
  sample: {process: "2820", last: "2026-12-03T23:10:02Z raid_apply (process 2820) finished: 9 actions"}
actions:
  description:
    - What was done (in check mode, the plan's steps, each after its array's device and a colon), in order, each as one command line,
      as every fleet.linux module reports its actions; writing and removing files read C(write PATH),
      C(remove PATH), C(link PATH TARGET).
    - On failure, everything done before it, the failing part's own steps last.
  returned: always
  type: list
  elements: str
  sample: [write /var/lib/fleet-raid-reshape/md1.grub-install, mdadm --grow /dev/md1 --level=0, write /etc/mdadm/mdadm.conf,
           /usr/sbin/resize2fs /dev/md1, /usr/sbin/grub-install --target=i386-pc /dev/sda]
arrays:
  description:
    - Per array of O(arrays), in order - C(device), and the result of each part that ran - C(md) (as
      M(fleet.linux.md_reshape) returns it, with C(config_changes), whether the ARRAY entry changed the
      configuration), C(filesystem) (as M(fleet.linux.fs_grow)), C(swap) (as M(fleet.linux.swap_rebuild)).
  returned: success, not in check mode
  type: list
  elements: dict
survey:
  description: With O(planning), what M(fleet.linux.raid_plan) returns for O(arrays) (its RV(fleet.linux.raid_plan#module:arrays),
    RV(fleet.linux.raid_plan#module:speed_limits), RV(fleet.linux.raid_plan#module:memory) and
    RV(fleet.linux.raid_plan#module:initramfs)); on a refusal of the survey only the arrays.
  returned: with O(planning)
  type: dict
plan:
  description: With O(planning), the plan made in the call, as the C(raid_reshape_plan) filter returns it (C(summary), C(changes),
    C(refusals), per array its steps, the boot steps).
  returned: with O(planning), once the survey passed
  type: dict
'''

import os

from ansible_collections.fleet.linux.plugins.module_utils.blockdev import BlockDevices
from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal, TruthfulModule
from ansible_collections.fleet.linux.plugins.module_utils.detach import ASYNC_DIR, detach
from ansible_collections.fleet.linux.plugins.module_utils.md_estimate import DEFAULT_DISK_SPEED_KIB
from ansible_collections.fleet.linux.plugins.module_utils.raid_apply import JobApply
from ansible_collections.fleet.linux.plugins.module_utils.raid_job import JOB_OPTIONS, plan_job
from ansible_collections.fleet.linux.plugins.module_utils.raid_survey import survey_job

# Where the kernel is read and how a /dev path is identified (tests point them at fixture trees).
SYS_ROOT = '/sys'
PROC_ROOT = '/proc'
DEV_ROOT = '/dev'
STAT = os.stat

# The settings of the plan made in the call (planning); the rest comes from the module's own options.
PLANNING_OPTIONS = dict(
    backup_min_free_mib=dict(type='int', default=64),
    update_initramfs=dict(type='bool', default=True),
    grub_install=dict(type='bool', default=True),
    start_degraded_boot=dict(type='bool', default=True),
    disk_speed_kib=dict(type='int', default=DEFAULT_DISK_SPEED_KIB),
)


def main():
    module = TruthfulModule(
        argument_spec=dict(
            JOB_OPTIONS,
            plan=dict(type='dict'),
            planning=dict(type='dict', options=PLANNING_OPTIONS),
            initramfs_command=dict(type='list', elements='str', default=['update-initramfs', '-u', '-k', 'all']),
            grub_mkconfig_command=dict(type='list', elements='str', default=['grub-mkconfig', '-o', '/boot/grub/grub.cfg']),
            grub_target=dict(type='str', default='i386-pc'),
            detach=dict(type='bool', default=False),
        ),
        mutually_exclusive=[('plan', 'planning')],
        supports_check_mode=True,
    )
    if module.params['plan'] is None and module.params['planning'] is None:
        module.fail_json(msg='give the plan to apply (plan), or planning to read and plan the job in this call')
    blockdevs = BlockDevices(sys_root=SYS_ROOT, proc_root=PROC_ROOT, dev_root=DEV_ROOT, stat_path=STAT)
    planned = plan_here(module, blockdevs) if module.params['planning'] is not None else {}
    job = JobApply(module, blockdevs)
    if module.check_mode:
        module.exit_json(changed=bool(module.params['plan'].get('changes')), actions=job.planned(), **planned)
    if planned and not planned['plan']['changes']:
        module.exit_json(changed=False, actions=[], **planned)
    if module.params['detach']:
        detach(module, lambda: apply(module, job, planned), ASYNC_DIR, planned)
    apply(module, job, planned)


def plan_here(module, blockdevs):
    """The survey raid_plan returns and the plan the raid_reshape_plan filter makes of it, both made in this call;
    what the survey or the plan refuses fails the module before anything changes."""
    survey, refusals = survey_job(module, blockdevs)
    if refusals:
        module.fail_json(msg=' | '.join(refusals), refusals=refusals, survey=survey)
    params = module.params
    plan = plan_job(survey, dict(params['planning'], **dict((name, params[name]) for name in (
        'config_file', 'swap_force', 'initramfs_command', 'grub_target', 'grub_mkconfig_command'))))
    if plan['refusals']:
        module.fail_json(msg=' | '.join(plan['refusals']), refusals=plan['refusals'], survey=survey, plan=plan)
    params['plan'] = plan
    return dict(survey=survey, plan=plan)


def apply(module, job, planned):
    try:
        arrays = job.run()
    except (Refusal, IOError, OSError) as failure:
        module.fail_json(msg='raid_apply: %s' % failure)
    if job.waited_for:
        module.exit_json(changed=False, actions=[], arrays=[], waited_for_job=job.waited_for,
                         msg='waited for another RAID job (process %s) to end; its plan is read again from what it left'
                             % job.waited_for['process'], **planned)
    module.exit_json(changed=module.changed, actions=module.actions, arrays=arrays, **planned)


if __name__ == '__main__':
    main()
