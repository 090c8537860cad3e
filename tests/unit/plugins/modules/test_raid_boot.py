# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""raid_boot's main(): the plan's boot steps in one call, in order, and a failure says what was done."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.fleet.linux.plugins.modules import raid_boot
from ansible_collections.fleet.linux.tests.unit.plugins.modules.harness import FakeCommands, run_module

GRUB_OUTPUT = 'Installing for i386-pc platform.\nInstallation finished. No error reported.\n'


@pytest.fixture
def host(tmp_path, monkeypatch):
    wants = tmp_path / 'sysinit.target.wants'
    monkeypatch.setattr(raid_boot, 'WANTS_DIR', str(wants))
    monkeypatch.setattr(raid_boot, 'INITRAMFS_IMAGES', str(tmp_path / 'initrd.img-*'))
    monkeypatch.setattr(raid_boot, 'LAST_RESORT_TIMER', '/lib/systemd/system/mdadm-last-resort@.timer')
    state = tmp_path / 'state'
    state.mkdir()
    return dict(state=state, wants=wants, commands=FakeCommands({
        ('grub-install', '--target=i386-pc', '/dev/vda'): (0, GRUB_OUTPUT, ''),
        ('grub-install', '--target=i386-pc', '/dev/vdb'): (0, GRUB_OUTPUT, ''),
        ('update-initramfs', '-u', '-k', 'all'): (0, '', ''),
    }))


def run(host, monkeypatch, check_mode=False, **args):
    args.setdefault('state_dir', str(host['state']))
    return run_module(raid_boot, args, host['commands'], check_mode=check_mode, monkeypatch=monkeypatch)


def test_the_boot_steps_run_in_order_in_one_call(host, monkeypatch):
    (host['state'] / 'md1.grub-install').write_text(u'{"level": 1}\n')
    result = run(host, monkeypatch, initramfs_command=['update-initramfs', '-u', '-k', 'all'],
                 grub_install=['/dev/vda', '/dev/vdb'], forget=['md1.grub-install', 'md1.grub-mkconfig'],
                 start_degraded=['mdadm-last-resort@md1.timer'])
    assert not result.get('failed'), result
    link = str(host['wants'] / 'mdadm-last-resort@md1.timer')
    assert result['changed'] is True
    assert result['actions'] == ['/usr/sbin/update-initramfs -u -k all',
                                 '/usr/sbin/grub-install --target=i386-pc /dev/vda',
                                 '/usr/sbin/grub-install --target=i386-pc /dev/vdb',
                                 'remove %s' % (host['state'] / 'md1.grub-install'),
                                 'link %s /lib/systemd/system/mdadm-last-resort@.timer' % link]
    assert [c[0] for c in host['commands'].calls] == ['update-initramfs', 'grub-install', 'grub-install']
    assert os.listdir(str(host['state'])) == []
    assert os.readlink(link) == '/lib/systemd/system/mdadm-last-resort@.timer'
    again = run(host, monkeypatch, start_degraded=['mdadm-last-resort@md1.timer'], forget=['md1.grub-install'])
    assert (again['changed'], again['actions']) == (False, [])


def test_owed_steps_are_remembered_as_root_files(host, monkeypatch):
    result = run(host, monkeypatch, remember={'md1.grub-install': '{"level": 1}\n'})
    assert result['actions'] == ['write %s' % (host['state'] / 'md1.grub-install')]
    path = host['state'] / 'md1.grub-install'
    assert path.read_text() == u'{"level": 1}\n'
    assert oct(os.stat(str(path)).st_mode & 0o777) == oct(0o644)


def test_check_mode_lists_the_steps_and_runs_none(host, monkeypatch):
    (host['state'] / 'md1.grub-install').write_text(u'{}\n')
    result = run(host, monkeypatch, check_mode=True, grub_install=['/dev/vda'], forget=['md1.grub-install'],
                 start_degraded=['mdadm-last-resort@md1.timer'], remember={'md0.grub-install': '{}\n'})
    assert result['changed'] is True and len(result['actions']) == 4
    assert host['commands'].calls == []
    assert os.listdir(str(host['state'])) == ['md1.grub-install'] and not host['wants'].exists()


def test_a_failing_step_says_what_was_done_before_it(host, monkeypatch):
    (host['state'] / 'md1.grub-install').write_text(u'{}\n')
    host['commands'].add(['grub-install', '--target=i386-pc', '/dev/vdb'], 1, '', 'grub-install: error: cannot open /dev/vdb')
    result = run(host, monkeypatch, grub_install=['/dev/vda', '/dev/vdb'], forget=['md1.grub-install'])
    assert result['failed'] and result['changed'] is True
    assert result['actions'] == ['/usr/sbin/grub-install --target=i386-pc /dev/vda']
    assert 'cannot open /dev/vdb' in result['msg']
    assert os.listdir(str(host['state'])) == ['md1.grub-install']  # still owed: the next run installs GRUB again


@pytest.mark.parametrize('args', [{'forget': ['../../etc/passwd']}, {'remember': {'/etc/cron.d/x': ''}},
                                  {'start_degraded': ['../x.timer']}])
def test_names_that_are_paths_are_refused(host, monkeypatch, args):
    result = run(host, monkeypatch, **args)
    assert result['failed'] and result['changed'] is False and 'is not a file name of the state directory' in result['msg']


@pytest.mark.parametrize('config_age, runs', [(-100, True), (100, False)])
def test_the_initramfs_follows_mdadm_conf_only_when_newer(host, monkeypatch, tmp_path, config_age, runs):
    """After a reshape: regenerated if mdadm.conf, as the reshapes left it, is newer than an initramfs."""
    image, config = tmp_path / 'initrd.img-6.1.0-28-amd64', tmp_path / 'mdadm.conf'
    image.write_text(u'')
    config.write_text(u'ARRAY /dev/md/1 metadata=1.2 UUID=d7674c1b:0ed54b0d:45d460fe:0955b373\n')
    os.utime(str(image), (1000, 1000))
    os.utime(str(config), (1000 - config_age, 1000 - config_age))
    result = run(host, monkeypatch, initramfs_command=['update-initramfs', '-u', '-k', 'all'],
                 initramfs_if_older_than=str(config))
    assert result['actions'] == (['/usr/sbin/update-initramfs -u -k all'] if runs else [])
