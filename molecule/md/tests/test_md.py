"""Verify md_reshape on the lab microserver: targets reached, data intact, refusals change nothing."""

import json
import re

import pytest

DISKS = ['vda', 'vdb', 'vdc', 'vdd']
MIB = 1024 * 1024


def sysfs(host, array, name):
    return host.file('/sys/block/%s/md/%s' % (array, name)).content_string.strip()


def mdstat_block(mdstat, array):
    """The lines of /proc/mdstat about one array (its header and the indented lines after it)."""
    match = re.search(r'^%s : .*?(?=^\S|\Z)' % array, mdstat, re.M | re.S)
    return match.group(0) if match else ''


def size(host, array):
    return int(host.file('/sys/block/%s/size' % array).content_string) * 512


@pytest.mark.parametrize('array, level, raid_disks, min_size', [
    ('md0', 'raid0', '4', 4 * 60 * MIB),    # four 64 MiB partitions striped
    ('md1', 'raid10', '4', 180 * MIB),      # was a 96 MiB RAID1: now twice as large
    ('md2', 'raid6', '4', 2 * 44 * MIB),
    ('md3', 'raid10', '4', 2 * 44 * MIB),
])
def test_target_reached(host, array, level, raid_disks, min_size):
    assert sysfs(host, array, 'level') == level
    assert sysfs(host, array, 'raid_disks') == raid_disks
    if level != 'raid0':  # RAID0 has neither redundancy to degrade nor a sync_action file
        assert sysfs(host, array, 'degraded') == '0'
        assert sysfs(host, array, 'sync_action') == 'idle'
    block = mdstat_block(host.file('/proc/mdstat').content_string, array)
    assert block.startswith(array + ' : active')
    assert 'reshape' not in block and 'resync' not in block and 'recovery' not in block
    assert size(host, array) >= min_size


@pytest.mark.parametrize('array, partition', [('md0', 3), ('md1', 2), ('md2', 4), ('md3', 5)])
def test_every_partition_is_a_member(host, array, partition):
    detail = host.check_output('mdadm --detail /dev/%s' % array)
    for disk in DISKS:
        assert '/dev/%s%d' % (disk, partition) in detail
    assert 'spare' not in detail


@pytest.mark.parametrize('array, mountpoint', [('md1', '/srv/boot'), ('md2', '/srv/md2'), ('md3', '/srv/md3')])
def test_data_survived(host, array, mountpoint):
    assert host.mount_point(mountpoint).exists
    result = host.run('cd %s && sha256sum -c /root/checksums-%s' % (mountpoint, array))
    assert result.rc == 0, result.stdout + result.stderr


def test_swap_still_on(host):
    assert '/dev/md0' in host.file('/proc/swaps').content_string


def test_mdadm_conf_names_every_array(host):
    conf = host.file('/etc/mdadm/mdadm.conf').content_string
    for array in ('md0', 'md1', 'md2', 'md3'):
        uuid = host.check_output("mdadm --detail --export /dev/%s | sed -n 's/^MD_UUID=//p'" % array)
        assert conf.count('UUID=%s' % uuid) == 1


def test_second_run_is_a_no_op(host):
    result = host.ansible('fleet.linux.md_reshape',
                          'device=/dev/md1 level=10 devices=/dev/vda2,/dev/vdb2,/dev/vdc2,/dev/vdd2',
                          check=False, become=True)
    assert result['changed'] is False
    assert result['actions'] == []


def test_check_mode_plans_and_changes_nothing(host):
    before = host.check_output('mdadm --detail /dev/md5')
    result = host.ansible('fleet.linux.md_reshape', 'device=/dev/md5 level=5 devices=/dev/vdc6,/dev/vdd6',
                          check=True, become=True)
    assert result['changed'] is True
    assert result['actions'] == ['%s --grow /dev/md5 --level=5' % result['steps'][0]['argv'][0]]
    assert result['after']['level'] == 5
    assert host.check_output('mdadm --detail /dev/md5') == before


REFUSALS = [
    ('degraded', 'degraded'),
    ('no-array', 'is not an md array'),
    ('missing-device', 'does not exist'),
    ('mounted-device', 'mounted on /srv/busy'),
    ('device-in-another-array', 'used by /dev/md2'),
    ('device-too-small', 'too small'),
    ('device-holds-data', 'linux_raid_member signature'),
    ('backup-on-array', 'backup_file /srv/md5/reshape.backup is on /dev/md5'),
    ('nonsense-target', 'at least 4'),
    ('impossible-transition', 'cannot take'),
    ('member-removal', 'never removes'),
    ('member-regular-file', 'in devices, /root/vdd6 is not a block device but a regular file'),
    ('device-regular-file', '/root/md2 is not an md array on this host: /root/md2 is not a block device but a regular file'),
    ('member-twice', 'devices lists /dev/vdd6 twice'),
    ('member-by-name-and-link', 'devices lists /dev/vdd6 twice: /dev/vdd6 and /root/links/vdd6 are the same device'),
    ('poll-interval-negative', 'poll_interval is -1'),
    ('timeout-zero', 'timeout is 0'),
    ('raid-devices-zero', 'raid_devices is 0'),
    ('devices-one-string', 'devices holds "/dev/vdc6 /dev/vdd6", which is not one device path'),
    ('backup-on-tmpfs', 'backup_file /dev/shm/md5.backup is on tmpfs, which a power loss empties'),
]


@pytest.fixture(scope='module')
def attempts(host):
    """What side_effect.yml recorded when it asked md_reshape for each refusal case."""
    return json.loads(host.file('/root/refusals.json').content_string)


@pytest.mark.parametrize('case, message', REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusal_changes_nothing(attempts, case, message):
    attempt = attempts[case]
    assert attempt['failed'] is True
    assert attempt['changed'] is False
    assert message in attempt['msg']
    assert attempt['after'] == attempt['before']


def test_planted_files_are_untouched(host):
    """The regular files given as devices are neither written nor taken for /dev/vdd6 and /dev/md2."""
    assert host.run('sha256sum -c /root/checksums-planted').rc == 0
    assert not host.file('/dev/shm/md5.backup').exists


@pytest.mark.parametrize('disk', DISKS)
def test_grub_on_every_disk_of_the_boot_array(host, disk):
    boot_sector = host.check_output('head -c 512 /dev/%s | od -An -c | tr -d " \\n"' % disk)
    assert 'GRUB' in boot_sector


def test_grub_config_regenerated_after_the_level_change(host):
    grub_cfg = host.file('/boot/grub/grub.cfg')
    assert grub_cfg.exists
    assert '### BEGIN /etc/grub.d/10_linux ###' in grub_cfg.content_string


def test_last_resort_timer_named_after_the_kernel_name(host):
    link = '/etc/systemd/system/sysinit.target.wants/mdadm-last-resort@md3.timer'
    assert host.check_output('readlink %s' % link) == '/lib/systemd/system/mdadm-last-resort@.timer'


def test_no_boot_step_left_owed(host):
    """Only the job lock and the progress file stay in the state directory, and the last job says it finished."""
    assert host.run('ls -A /var/lib/fleet-raid-reshape').stdout.split() == ['job.lock', 'progress']
    assert ' finished: ' in host.check_output('cat /var/lib/fleet-raid-reshape/progress')
