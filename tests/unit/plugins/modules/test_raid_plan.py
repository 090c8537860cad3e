# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""raid_plan's main() against the lab guest's arrays as captured (tests/fixtures/md), and what the
raid_reshape_plan filter makes of its survey: the one look of the raid_reshape role."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.fleet.linux.plugins.filter.raid_reshape_plan import raid_reshape_plan
from ansible_collections.fleet.linux.plugins.module_utils import raid_survey
from ansible_collections.fleet.linux.plugins.modules import raid_plan
from ansible_collections.fleet.linux.tests.unit.plugins.modules.harness import FakeStat, run_module
from ansible_collections.fleet.linux.tests.unit.plugins.modules.test_md_reshape import (
    AMBIVALENT, BLANK_PARTITION, BOOT, SWAP, Lab)

DISKS = ['/dev/vda', '/dev/vdb', '/dev/vdc', '/dev/vdd']


class Host(object):
    """A Lab (one array at a captured step) seen through raid_plan: /dev nodes of the disks with or
    without GRUB in their boot sector, fstab, /boot, the state and systemd directories."""

    def __init__(self, lab, tmp_path, monkeypatch, grub=('vda', 'vdb', 'vdc', 'vdd')):
        self.lab = lab
        self.root = tmp_path
        dev = tmp_path / 'devnodes'
        dev.mkdir()
        for disk in DISKS:
            name = os.path.basename(disk)
            (dev / name).write_bytes(b'\xeb\x63\x90' + (b'GRUB ' if name in grub else b'') + b'\0' * 600)
        (tmp_path / 'boot').mkdir()
        (tmp_path / 'state').mkdir()
        (tmp_path / 'wants').mkdir()
        self.fstab = tmp_path / 'fstab'
        self.fstab.write_text(u'UUID=ed2ab7f7 /boot ext4 defaults 0 2\n')
        self.backup_dir = tmp_path / 'backups'
        self.backup_dir.mkdir(mode=0o700)
        for name, value in (('SYS_ROOT', os.path.join(lab.root, 'sys')), ('PROC_ROOT', os.path.join(lab.root, 'proc')),
                            ('STAT', FakeStat(lab.dev)), ('DEV_ROOT', str(dev))):
            monkeypatch.setattr(raid_plan, name, value)
        for name, value in (('FSTAB', str(self.fstab)), ('INITRAMFS_DIR', str(tmp_path / 'boot')),
                            ('SYSTEMD_WANTS', str(tmp_path / 'wants'))):
            monkeypatch.setattr(raid_survey, name, value)
        self.monkeypatch = monkeypatch

    def run(self, arrays, **args):
        args = dict(dict(arrays=arrays, backup_dir=str(self.backup_dir), config_file=self.lab.config_file,
                         state_dir=str(self.root / 'state')), **args)
        return run_module(raid_plan, args, self.lab.commands, check_mode=False, monkeypatch=self.monkeypatch)


@pytest.fixture
def swap_host(tmp_path, monkeypatch):
    lab = Lab(tmp_path / 'lab', 'md0', '01-raid0-3-clean', monkeypatch)
    lab.blkid('/dev/vdd3', BLANK_PARTITION)
    return Host(lab, tmp_path, monkeypatch)


@pytest.fixture
def boot_host(tmp_path, monkeypatch):
    """md1 grown to a RAID10 of four (step 17), mdadm.conf up to date, GRUB on three disks of four."""
    lab = Lab(tmp_path / 'lab', 'md1', '17-raid10-4-clean', monkeypatch)
    host = Host(lab, tmp_path, monkeypatch, grub=('vda', 'vdb', 'vdc'))
    with open(lab.config_file, 'w') as handle:
        handle.write('ARRAY /dev/md1 metadata=1.2 name=microserver:1 UUID=d7674c1b:0ed54b0d:45d460fe:0955b373\n')
    return host


def test_the_swap_grow_is_surveyed_in_one_call_changing_nothing(swap_host):
    result = swap_host.run([{'device': '/dev/md0', 'level': '0', 'devices': SWAP}])
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is False
    (array,) = result['arrays']
    assert (array['name'], array['kind'], array['content'], array['boot']) == ('md0', 'none', None, None)
    assert array['md']['actions'][0].startswith('mdadm --grow /dev/md0 --backup-file=%s/md0-reshape.backup '
                                                % swap_host.backup_dir)
    assert array['md']['after']['members'] == SWAP
    assert array['md']['config_changes'] is True  # no mdadm.conf yet
    assert array['backup']['file'] == '%s/md0-reshape.backup' % swap_host.backup_dir
    assert array['backup']['free'] > 0
    assert swap_host.lab.writes() == []


def test_every_refusal_is_listed_and_nothing_runs(swap_host):
    swap_host.lab.blkid('/dev/vdd3', AMBIVALENT)
    result = swap_host.run([{'device': '/dev/md0', 'level': '0', 'devices': SWAP},
                            {'device': '/root/md1', 'level': '1', 'devices': BOOT}])
    assert result['failed'] and result['changed'] is False
    assert len(result['refusals']) == 2
    assert [a.get('refusal') for a in result['arrays']] == result['refusals']
    assert result['refusals'][0].startswith('/dev/md0: /dev/vdd3 holds')
    assert result['refusals'][1].startswith('/root/md1: /root/md1 is not an md array on this host: /root/md1 does not exist')
    assert swap_host.lab.writes() == []


def test_parameters_the_job_acts_with_are_checked_before_anything(swap_host):
    result = swap_host.run([{'device': '/dev/md0', 'level': '0', 'devices': SWAP}], poll_interval=-1)
    assert result['failed'] and 'poll_interval is -1' in result['msg']


def test_boot_array_reads_the_boot_sectors_and_owed_steps(boot_host):
    (boot_host.root / 'state' / 'md1.grub-mkconfig').write_text(u'{}\n')
    result = boot_host.run([{'device': '/dev/md1', 'level': '10', 'devices': BOOT, 'boot': True, 'boot_disks': DISKS}])
    assert not result.get('failed'), result.get('msg')
    (array,) = result['arrays']
    assert array['md']['changed'] is False and array['backup'] is None
    assert array['md']['config_changes'] is False
    assert array['boot'] == {
        'disks': [{'disk': '/dev/vda', 'grub': True}, {'disk': '/dev/vdb', 'grub': True},
                  {'disk': '/dev/vdc', 'grub': True}, {'disk': '/dev/vdd', 'grub': False}],
        'owed': ['grub-mkconfig'], 'in_fstab': True, 'mounted': False, 'start_degraded': False}
    assert result['initramfs']['images'] is None  # /boot is in fstab but not mounted
    plan = raid_reshape_plan(result, {'update_initramfs': False})
    assert plan['grub_install'] == ['/dev/vdd']
    assert plan['grub_mkconfig'] is True
    assert plan['forget'] == ['md1.grub-mkconfig']
    assert plan['start_degraded'] == ['mdadm-last-resort@md1.timer']
    assert plan['arrays'][0]['mount_boot'] is True


def test_a_job_with_nothing_to_do_plans_nothing(boot_host):
    (boot_host.root / 'wants' / 'mdadm-last-resort@md1.timer').write_text(u'')
    boot_host.lab.mount('9:1', '/boot', 'ext4', '/dev/md1')
    result = boot_host.run([{'device': '/dev/md1', 'level': '10', 'devices': BOOT, 'boot': True, 'boot_disks': DISKS[:3]}])
    assert not result.get('failed'), result.get('msg')
    assert result['initramfs']['images'] == []
    plan = raid_reshape_plan(result)
    assert plan['changes'] is False
    assert plan['summary'] == [{'/dev/md1': ['nothing to do']}]
    assert (plan['grub_install'], plan['grub_mkconfig'], plan['initramfs'], plan['forget'], plan['start_degraded']) == (
        [], False, False, [], [])


SPEED = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'md-speed', '01-raid1-grow-3-recovery')


def test_the_survey_reads_md_speed_limits_and_sizes_and_the_plan_estimates_each_step(tmp_path, monkeypatch):
    """md1 as a RAID10 of two plus two spares (md step 15), with the speed files of the md-speed capture (the md
    fixtures predate them): the system's limits in /proc/sys/dev/raid, the array's own following them."""
    lab = Lab(tmp_path / 'lab', 'md1', '15-raid10-2-plus-2-spares', monkeypatch)
    raid = os.path.join(lab.root, 'proc', 'sys', 'dev', 'raid')
    os.makedirs(raid)
    for name, source in (('proc/sys/dev/raid/speed_limit_min', 'proc/sys/dev/raid/speed_limit_min'),
                         ('proc/sys/dev/raid/speed_limit_max', 'proc/sys/dev/raid/speed_limit_max'),
                         ('sys/block/md1/md/sync_speed_min', 'sys/block/md1/md/sync_speed_min'),
                         ('sys/block/md1/md/sync_speed_max', 'sys/block/md1/md/sync_speed_max')):
        with open(os.path.join(SPEED, source)) as captured, open(os.path.join(lab.root, name), 'w') as handle:
            handle.write(captured.read())
    host = Host(lab, tmp_path, monkeypatch)
    result = host.run([{'device': '/dev/md1', 'level': '10', 'devices': BOOT}])
    assert not result.get('failed'), result.get('msg')
    assert result['speed_limits'] == {'min': 1000, 'max': 4096}
    (array,) = result['arrays']
    assert array['sync'] == dict(speed_min=1000, speed_min_local=False, speed_max=4096, speed_max_local=False,
                                 component_size=64512 * 1024, layout=258, sync_completed=None, reshape_position=None,
                                 reshape_direction='forwards')
    plan = raid_reshape_plan(result)
    (estimate,) = plan['estimates']
    assert [(s['kind'], s['walk'], s['speed']) for s in estimate['steps']] == [('reshape', 2 * 64512 * 1024, 4096)]
    assert plan['summary'][0]['/dev/md1'][-1].startswith('md1: grow to 4 devices rewrites ')
    assert ', under a minute at 4.0 MiB/s (up to 2 min while other I/O holds md to 1000 KiB/s)' in plan['summary'][0]['/dev/md1'][-1]
    assert lab.writes() == []
