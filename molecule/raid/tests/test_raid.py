"""Verify the microserver RAID playbook on the lab guest: the new fourth disk partitioned like the
others, the documented end state reached, nothing that /etc/fstab or the data depend on changed,
GRUB on every disk."""

import json

import pytest

DISKS = ['vda', 'vdb', 'vdc', 'vdd']
MIB = 1024 * 1024
PARTITION = {'md0': 3, 'md1': 2}
PARTITION_BYTES = {'md0': 64 * MIB, 'md1': 96 * MIB}


def sysfs(host, array, name):
    return host.file('/sys/block/%s/md/%s' % (array, name)).content_string.strip()


def device_bytes(host, name):
    return int(host.file('/sys/class/block/%s/size' % name).content_string) * 512


def partition_table(host, disk):
    return json.loads(host.check_output('sfdisk --json /dev/%s' % disk))['partitiontable']


def layout(table):
    """What partition_copy copies: per partition its number, start, size, type, name and attributes."""
    return [(p['node'][len(table['device']):], p['start'], p['size'], p['type'], p.get('name'), p.get('attrs'))
            for p in table['partitions']]


def test_new_disk_was_blank_before_the_job(host):
    # prepare left vdd blank and recorded what wipefs found on it: nothing.
    record = host.file('/root/start-state/vdd-signatures')
    assert record.exists
    assert record.content_string == ''


def test_new_disk_has_the_members_layout(host):
    vda, vdd = partition_table(host, 'vda'), partition_table(host, 'vdd')
    assert vdd['label'] == vda['label'] == 'gpt'
    assert (vdd['firstlba'], vdd['lastlba'], vdd['sectorsize']) == (vda['firstlba'], vda['lastlba'], vda['sectorsize'])
    assert layout(vdd) == layout(vda)
    assert [p['name'] for p in vdd['partitions']] == ['bios_grub', 'boot', 'swap']


def test_new_disk_has_its_own_identifiers(host):
    tables = dict((disk, partition_table(host, disk)) for disk in DISKS)
    disk_ids = [tables[disk]['id'] for disk in DISKS]
    assert len(set(disk_ids)) == len(DISKS), disk_ids
    partition_ids = [p['uuid'] for disk in DISKS for p in tables[disk]['partitions']]
    assert len(set(partition_ids)) == len(partition_ids) == 3 * len(DISKS), partition_ids


@pytest.mark.parametrize('number', [1, 2, 3])
def test_new_disk_partitions_have_their_links(host, number):
    # udev saw the new partitions: the stable names the job was given (microserver_new_disk) reach them.
    link = host.file('/dev/disk/by-id/virtio-fleet-vdd-part%d' % number)
    assert link.is_symlink
    assert link.linked_to == '/dev/vdd%d' % number


def test_no_superblock_changed_by_the_second_run(host):
    # converge saved the members' superblocks after the first run (without what moves whenever the
    # filesystem writes: Events, Update Time, Checksum, State); the idempotence run came since.
    now = host.check_output("mdadm --examine /dev/vd[a-d][23] | grep -v -E '^ *(Events|Update Time|Checksum|State) :'")
    assert now == host.file('/root/superblocks-after-converge').content_string.strip()


@pytest.mark.parametrize('array, level', [('md0', 'raid0'), ('md1', 'raid10')])
def test_level_and_devices(host, array, level):
    assert sysfs(host, array, 'level') == level
    assert sysfs(host, array, 'raid_disks') == '4'
    if level != 'raid0':   # RAID0 has no sync_action nor degraded
        assert sysfs(host, array, 'sync_action') == 'idle'
        assert sysfs(host, array, 'degraded') == '0'
    detail = host.check_output('mdadm --detail /dev/%s' % array)
    for disk in DISKS:
        assert '/dev/%s%d' % (disk, PARTITION[array]) in detail
    assert 'spare' not in detail


def test_array_sizes(host):
    # RAID0 of four 64 MiB partitions, RAID10 (near=2) of four 96 MiB ones: twice a member.
    assert device_bytes(host, 'md0') >= 4 * (PARTITION_BYTES['md0'] - 2 * MIB)
    assert device_bytes(host, 'md1') >= 2 * (PARTITION_BYTES['md1'] - 2 * MIB)


def test_boot_filesystem_fills_md1(host):
    assert host.mount_point('/boot').exists
    assert host.mount_point('/boot').device == '/dev/md1'
    blocks, block_size = host.check_output("dumpe2fs -h /dev/md1 2>/dev/null | "
                                           "sed -n 's/^Block count: *//p; s/^Block size: *//p'").split()
    assert int(blocks) * int(block_size) > device_bytes(host, 'md1') - 4 * MIB


def test_swap_same_uuid_and_label_full_size(host):
    start = dict(line.split('=', 1) for line in host.file('/root/start-state/swap').content_string.split())
    now = dict(line.split('=', 1) for line in host.check_output(
        "blkid -o export /dev/md0 | grep -E '^(UUID|LABEL)='").split())
    assert now == start
    assert start['LABEL'] == 'swap'
    swaps = [line.split() for line in host.file('/proc/swaps').content_string.splitlines()[1:]]
    md0 = [s for s in swaps if s[0] == '/dev/md0']
    assert md0, swaps
    assert int(md0[0][2]) * 1024 >= device_bytes(host, 'md0') - 8192   # the header page aside


def test_fstab_byte_identical(host):
    assert host.file('/etc/fstab').sha256sum == host.file('/root/start-state/fstab').sha256sum


def test_boot_files_unchanged(host):
    result = host.run('cd /boot && sha256sum -c /root/start-state/boot.sha256')
    assert result.rc == 0, result.stdout + result.stderr
    assert result.stdout.count(': OK') >= 5   # kernel, initrd, config, System.map, data files


def test_mdadm_conf_lists_both_arrays(host):
    conf = host.file('/etc/mdadm/mdadm.conf').content_string
    for array in ('md0', 'md1'):
        uuid = host.check_output("mdadm --detail --export /dev/%s | sed -n 's/^MD_UUID=//p'" % array)
        lines = [line for line in conf.splitlines() if line.startswith('ARRAY') and 'UUID=%s' % uuid in line]
        assert len(lines) == 1, conf
        assert lines[0].split()[1] in ('/dev/%s' % array, '/dev/md/%s' % array[2:])


@pytest.mark.parametrize('disk', DISKS)
def test_grub_on_every_disk(host, disk):
    boot_sector = host.check_output('od -An -c -N512 /dev/%s | tr -d " \\n"' % disk)
    assert 'GRUB' in boot_sector
    # grub-install embeds core.img in the BIOS boot partition (vdX1).
    core = host.check_output('od -An -tx1 -N512 /dev/%s1 | tr -d " \\n"' % disk)
    assert core.strip('0') != ''


def test_boot_array_started_degraded_at_boot(host):
    # The role wants mdadm's last-resort timer for md1 at every boot (side_effect boots without a disk).
    link = '/etc/systemd/system/sysinit.target.wants/mdadm-last-resort@md1.timer'
    assert host.check_output('readlink %s' % link) == '/lib/systemd/system/mdadm-last-resort@.timer'


def test_nothing_left_behind(host):
    assert not host.file('/root/md0-reshape.backup').exists
    assert not host.file('/root/md1-reshape.backup').exists
    assert host.run('ls /var/lib/fleet-raid-reshape/*.grub-* 2>/dev/null').stdout == ''
