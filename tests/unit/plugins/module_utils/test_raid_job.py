# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The RAID job's plan (module_utils/raid_job.py) by decision tables: survey in, what the role runs out."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

import pytest

from ansible_collections.fleet.linux.plugins.module_utils.raid_job import plan_job

MIB = 1048576
GROW_MD0 = ('mdadm --grow /dev/md0 --raid-devices=4 --add /dev/vdd3', 'mdadm --grow /dev/md0 --level=0')
RAID1_TO_RAID10 = ('mdadm --grow /dev/md1 --level=0', 'mdadm --grow /dev/md1 --level=10 --add /dev/vdc2 /dev/vdd2',
                   'mdadm --grow /dev/md1 --raid-devices=4')
LINE = 'ARRAY /dev/md/1 metadata=1.2 name=microserver:1 UUID=d7674c1b:0ed54b0d:45d460fe:0955b373'


def md(actions=(), before_level=0, after_level=0, changed=None, interrupted=False, config_changes=False):
    return dict(actions=list(actions), changed=bool(actions) if changed is None else changed,
                reshape_interrupted=interrupted, config_line=LINE, config_changes=config_changes,
                before=dict(level=before_level), after=dict(level=after_level))


def swap_array(actions=GROW_MD0, used=0, changed=False, interrupted=False, backup_device='vda1', free=10 * 1024 * MIB):
    return dict(device='/dev/md0', name='md0', kind='swap', md=md(actions, interrupted=interrupted),
                content=None if interrupted else dict(changed=changed, before=dict(
                    active=True, used=used, uuid='6c1f7ac5', label='swap one')),
                backup=dict(file='/root/md0-reshape.backup', directory='/root', device=backup_device, free=free)
                if actions else None,
                boot=None)


def boot_array(actions=RAID1_TO_RAID10, before_level=1, after_level=10, grub=(True, True, True, True), owed=(),
               mounted=True, start_degraded=True):
    disks = [dict(disk='/dev/vd%s' % letter, grub=has) for letter, has in zip('abcd', grub)]
    return dict(device='/dev/md1', name='md1', kind='filesystem', md=md(actions, before_level, after_level),
                content=dict(changed=False, before={}),
                backup=dict(file='/root/md1-reshape.backup', directory='/root', device='vda1', free=10 * 1024 * MIB)
                if actions else None,
                boot=dict(disks=disks, owed=list(owed), in_fstab=True, mounted=mounted, start_degraded=start_degraded))


def survey(*arrays, **host):
    return dict(arrays=list(arrays),
                memory=dict(available=host.get('available', 512 * MIB),
                            swaps=host.get('swaps', [dict(name='md0', size=186 * MIB, used=0)])),
                initramfs=dict(config_mtime=host.get('config_mtime', 100.0),
                               images=[dict(path='/boot/initrd.img-6.1.0-28-amd64', mtime=host.get('initrd_mtime', 200.0))]))


def test_nothing_to_do():
    plan = plan_job(survey(swap_array(actions=()), boot_array(actions=())))
    assert plan['changes'] is False
    assert plan['summary'] == [{'/dev/md0': ['nothing to do']}, {'/dev/md1': ['nothing to do']}]
    assert plan['arrays'][0] == dict(device='/dev/md0', steps=['nothing to do'], reshape=False, grow_filesystem=False,
                                     rebuild_swap=False, remember={}, mount_boot=False)
    assert (plan['initramfs'], plan['grub_mkconfig'], plan['grub_install'], plan['forget'], plan['start_degraded'],
            plan['refusals'], plan['boot_steps']) == (False, False, [], [], [], [], False)


def test_the_whole_job_of_the_notes():
    plan = plan_job(survey(swap_array(), boot_array()))
    assert plan['summary'][0]['/dev/md0'] == list(GROW_MD0) + [
        're-create the swap on /dev/md0 across it, same UUID 6c1f7ac5 and LABEL swap one (swap_rebuild)']
    assert plan['summary'][1]['/dev/md1'] == list(RAID1_TO_RAID10) + [
        'grow the filesystem on /dev/md1 (fs_grow) to fill it',
        'grub-install --target=i386-pc on /dev/vda, /dev/vdb, /dev/vdc, /dev/vdd']
    assert plan['summary'][2] == {'initramfs': [
        'update-initramfs -u -k all (if mdadm.conf is then newer than an initramfs in /boot)']}
    assert (plan['initramfs'], plan['initramfs_if_outdated']) == (True, True)
    md0, md1 = plan['arrays']
    assert (md0['reshape'], md0['rebuild_swap'], md0['grow_filesystem']) == (True, True, False)
    assert (md1['reshape'], md1['grow_filesystem'], md1['remember']) == (True, True, {'md1.grub-install': '{"level": 1}\n'})
    assert plan['grub_install'] == ['/dev/vda', '/dev/vdb', '/dev/vdc', '/dev/vdd']
    assert plan['grub_mkconfig'] is False  # from RAID1: GRUB's configuration already finds the array
    assert plan['forget'] == ['md1.grub-install']
    assert plan['refusals'] == [] and plan['boot_steps'] is True


@pytest.mark.parametrize('before_level, after_level, mkconfig', [
    (1, 10, False), (0, 10, True), (5, 6, True), (10, 10, False), (1, 1, False)])
def test_the_grub_configuration_follows_a_level_change_from_other_than_raid1(before_level, after_level, mkconfig):
    plan = plan_job(survey(boot_array(before_level=before_level, after_level=after_level)))
    assert plan['grub_mkconfig'] is mkconfig
    assert sorted(plan['arrays'][0]['remember']) == ['md1.grub-install'] + (['md1.grub-mkconfig'] if mkconfig else [])


def test_grub_goes_on_the_disks_without_it_only_when_nothing_is_reshaped():
    plan = plan_job(survey(boot_array(actions=(), grub=(True, False, True, False))))
    assert plan['grub_install'] == ['/dev/vdb', '/dev/vdd']
    assert plan['summary'] == [{'/dev/md1': ['grub-install --target=i386-pc on /dev/vdb, /dev/vdd']}]


def test_grub_install_off_installs_nothing_and_remembers_nothing_of_it():
    plan = plan_job(survey(boot_array(grub=(False,) * 4)), {'grub_install': False})
    assert plan['grub_install'] == [] and plan['arrays'][0]['remember'] == {}


def test_steps_an_interrupted_run_owes_are_done_then_forgotten():
    plan = plan_job(survey(boot_array(actions=(), owed=('grub-install', 'grub-mkconfig'))))
    assert plan['grub_install'] == ['/dev/vda', '/dev/vdb', '/dev/vdc', '/dev/vdd']
    assert plan['grub_mkconfig'] is True
    assert plan['forget'] == ['md1.grub-install', 'md1.grub-mkconfig']


def test_an_interrupted_reshape_rebuilds_the_swap_if_needed_and_remounts_boot():
    swap = swap_array(interrupted=True)
    boot = boot_array(mounted=False)
    plan = plan_job(survey(swap, boot))
    assert plan['arrays'][0]['rebuild_swap'] is True
    assert 'across it if needed' in plan['summary'][0]['/dev/md0'][-1]
    assert plan['arrays'][1]['mount_boot'] is True


def test_a_changed_mdadm_conf_alone_is_written_and_the_initramfs_follows():
    plan = plan_job(survey(dict(boot_array(actions=()), md=md(changed=True, config_changes=True))))
    assert plan['summary'][0]['/dev/md1'] == ['write %s to /etc/mdadm/mdadm.conf' % LINE]
    assert plan['arrays'][0]['reshape'] is True and plan['initramfs'] is True
    assert plan['summary'][1] == {'initramfs': [
        'update-initramfs -u -k all (mdadm.conf changes or is newer than an initramfs in /boot)']}
    assert plan['initramfs_if_outdated'] is False


@pytest.mark.parametrize('config_changes', [False, True])
def test_after_a_reshape_the_initramfs_follows_mdadm_conf_as_the_reshape_leaves_it(config_changes):
    """Mid-reshape mdadm may give the array's entry otherwise than once it ends: raid_apply regenerates the
    initramfs only if mdadm.conf is then newer than it (an entry naming the array by UUID rarely changes)."""
    reshaped = dict(boot_array(), md=md(RAID1_TO_RAID10, 1, 10, config_changes=config_changes))
    plan = plan_job(survey(reshaped, initrd_mtime=200.0, config_mtime=100.0))
    assert (plan['initramfs'], plan['initramfs_if_outdated'], plan['boot_steps']) == (True, True, True)


@pytest.mark.parametrize('config_mtime, initrd_mtime, update', [(100.0, 200.0, False), (300.0, 200.0, True), (None, 200.0, False)])
def test_the_initramfs_is_regenerated_when_older_than_mdadm_conf(config_mtime, initrd_mtime, update):
    plan = plan_job(survey(swap_array(actions=()), config_mtime=config_mtime, initrd_mtime=initrd_mtime))
    assert (plan['initramfs'], plan['initramfs_if_outdated'], plan['boot_steps']) == (update, False, update)
    assert plan_job(survey(swap_array(actions=()), config_mtime=config_mtime, initrd_mtime=initrd_mtime),
                    {'update_initramfs': False})['initramfs'] is False


def test_initramfs_images_on_an_unmounted_boot_are_compared_once_it_is_mounted():
    """After a restart mid-reshape /boot is not mounted: what lies under the mountpoint is not its initramfs."""
    data = survey(boot_array(actions=(), mounted=False))
    data['initramfs']['images'] = None
    plan = plan_job(data)
    assert (plan['initramfs'], plan['initramfs_if_outdated']) == (True, True)
    assert plan['arrays'][0]['mount_boot'] is True


def test_the_last_resort_timer_is_wanted_once():
    assert plan_job(survey(boot_array(actions=(), start_degraded=False)))['start_degraded'] == ['mdadm-last-resort@md1.timer']
    assert plan_job(survey(boot_array(actions=(), start_degraded=False)), {'start_degraded_boot': False})['start_degraded'] == []


@pytest.mark.parametrize('device, free, refused', [
    ('vda1', 10 * 1024 * MIB, False),
    ('md1', 10 * 1024 * MIB, True),   # the other array of the job: md_reshape only knows its own
    ('vda1', 63 * MIB, True),
    (None, 10 * 1024 * MIB, False),   # a filesystem without a device (say NFS) outside every array
])
def test_the_backup_directory_is_outside_every_array_and_has_room(device, free, refused):
    plan = plan_job(survey(swap_array(backup_device=device, free=free), boot_array(actions=())))
    assert bool(plan['refusals']) is refused
    if refused:
        assert plan['refusals'][0].startswith('The backup file /root/md0-reshape.backup of /dev/md0 needs a directory')
        assert 'Nothing was changed' in plan['refusals'][0]


@pytest.mark.parametrize('used, available, other_free, force, refused', [
    (100 * MIB, 512 * MIB, 0, False, False),
    (600 * MIB, 512 * MIB, 0, False, True),
    (600 * MIB, 512 * MIB, 100 * MIB, False, False),  # the other swap takes the rest
    (600 * MIB, 512 * MIB, 0, True, False),
])
def test_memory_must_take_back_the_swap_to_rebuild(used, available, other_free, force, refused):
    swaps = [dict(name='md0', size=744 * MIB, used=used), dict(name='zram0', size=other_free, used=0)]
    plan = plan_job(survey(swap_array(used=used), available=available, swaps=swaps), {'swap_force': force})
    assert bool(plan['refusals']) is refused
    if refused:
        assert plan['refusals'][0].startswith('swapoff /dev/md0 would have to bring back')


def test_the_survey_is_not_changed_by_planning():
    data = survey(swap_array(), boot_array(owed=('grub-mkconfig',)))
    kept = copy.deepcopy(data)
    plan_job(data)
    assert data == kept


GIB = 1024 * MIB
MEMBER = 931 * GIB  # a 1 TB disk's partition
NOTES_BOOT_STEPS = [  # md_plan's steps for the notes' /boot, RAID1 of two to RAID10 of four
    dict(argv=['mdadm', '--grow', '/dev/md1', '--level=0'],
         expect=dict(level=0, raid_devices=1, members=['/dev/vdc2'], spares=[])),
    dict(argv=['mdadm', '--grow', '/dev/md1', '--level=10', '--raid-devices=4', '--add', '/dev/vda2', '/dev/vdb2', '/dev/vdd2'],
         expect=dict(level=10, raid_devices=2, members=['/dev/vda2', '/dev/vdc2'], spares=['/dev/vdb2', '/dev/vdd2'])),
    dict(argv=['mdadm', '--grow', '/dev/md1', '--raid-devices=4'],
         expect=dict(level=10, raid_devices=4, members=['/dev/vda2', '/dev/vdb2', '/dev/vdc2', '/dev/vdd2'], spares=[])),
]


def estimated_boot_array(speed_max='122880 (local)'):
    """The notes' /boot array as raid_plan reads it now: md's steps and the sizes and speed limits they take."""
    array = boot_array()
    array['md'] = dict(array['md'], actions=[' '.join(s['argv']) for s in NOTES_BOOT_STEPS], steps=NOTES_BOOT_STEPS,
                       before=dict(level=1, raid_devices=2, members=['/dev/vdb2', '/dev/vdc2'], spares=[], size=MEMBER))
    array['sync'] = dict(speed_min=1000, speed_min_local=False, speed_max=int(speed_max.split()[0]),
                         speed_max_local='local' in speed_max, component_size=MEMBER, layout=0, sync_completed=None,
                         reshape_position=None, reshape_direction=None)
    return array


def test_the_plan_says_what_each_md_step_moves_and_how_long_it_takes():
    plan = plan_job(dict(survey(estimated_boot_array()), speed_limits=dict(min=1000, max=200000)), {'disk_speed_kib': 150 * 1024})
    actions = [' '.join(s['argv']) for s in NOTES_BOOT_STEPS]
    lines = plan['summary'][0]['/dev/md1'][len(actions) + 2:]
    assert lines == [
        'md1: convert to raid0 moves no data (a takeover)',
        'md1: convert to raid10 writes 931 GiB to the new member, about 2 h 10 min at 120 MiB/s (up to 11 d 7 h while '
        'other I/O holds md to 1000 KiB/s)',
        'md1: grow to 4 devices rewrites 931 GiB then resyncs the 931 GiB it gains, about 4 h 25 min at 120 MiB/s '
        '(up to 22 d 14 h while other I/O holds md to 1000 KiB/s)',
        'md1: about 6 h 35 min in all (up to 33 d 22 h)']
    (estimate,) = plan['estimates']
    assert [s['kind'] for s in estimate['steps']] == ['takeover', 'recovery', 'reshape']
    assert estimate['seconds'] == pytest.approx(3 * MEMBER / (120 * MIB))
    assert plan['arrays'][0]['steps'] == actions + [  # the steps raid_apply is given are md's commands, as before
        'grow the filesystem on /dev/md1 (fs_grow) to fill it', 'grub-install --target=i386-pc on /dev/vda, /dev/vdb, /dev/vdc, /dev/vdd']


def test_without_an_array_limit_the_system_limit_and_the_assumed_disk_speed_decide():
    array = estimated_boot_array()
    array['sync'] = dict(array['sync'], speed_max=None, speed_min=None)
    plan = plan_job(survey(array))  # no speed_limits read: md's defaults (200000 KiB/s) and disks at 100 MiB/s
    assert plan['summary'][0]['/dev/md1'][-1] == 'md1: about 7 h 55 min in all (up to 33 d 22 h)'
    assert {s['speed'] for s in plan['estimates'][0]['steps']} == {100 * 1024}


def test_a_survey_without_md_steps_or_sizes_plans_as_before_without_estimates():
    plan = plan_job(survey(swap_array(), boot_array()))
    assert plan['estimates'] == []
    assert plan['summary'][1]['/dev/md1'][-1].startswith('grub-install')
