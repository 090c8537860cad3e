# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""partition_copy's planner by decision tables, on sfdisk and wipefs outputs captured on the lab microserver
(Debian 13; tests/fixtures/partition_copy, tests/fixtures/capture-partition-copy): every refusal, the copy and the
no-op, and properties of the copy (hypothesis)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import os

import pytest
from hypothesis import given, strategies as st

from ansible_collections.fleet.linux.plugins.module_utils.common import Refusal
from ansible_collections.fleet.linux.plugins.module_utils.partition_copy import (
    describe, layout, parse_sfdisk_json, parse_wipefs_json, partition_node, partition_number, plan_copy, read_sfdisk,
    required_sectors)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'partition_copy')
DISK_SECTORS = 1048576  # the lab's 512 MiB data disks


def fixture(name):
    path = os.path.join(FIXTURES, name)
    with open(path) as handle:
        text = handle.read()
    return text


def captured(name):
    """(rc, stdout, stderr) of a captured command."""
    rc = int(fixture(name + '.rc')) if os.path.exists(os.path.join(FIXTURES, name + '.rc')) else 0
    err = fixture(name + '.stderr') if os.path.exists(os.path.join(FIXTURES, name + '.stderr')) else ''
    return rc, fixture(name), err


def table(name, device):
    return read_sfdisk(device, *captured(name))


SOURCE_TABLE = table('sfdisk-json-vda', '/dev/vda')


def source(**changes):
    disk = dict(path='/dev/vda', node='/dev/vda', number='254:0', sector_size=512, size=DISK_SECTORS * 512,
                table=copy.deepcopy(SOURCE_TABLE))
    disk.update(changes)
    return disk


def target(**changes):
    disk = dict(path='/dev/vdd', node='/dev/vdd', number='254:48', sector_size=512, size=DISK_SECTORS * 512,
                table=None, signatures=[], users=[])
    disk.update(changes)
    return disk


def copied_table():
    """vdd as partition_copy left it (captured after the lab's copy)."""
    return table('sfdisk-json-vdd-copied', '/dev/vdd')


def test_the_captured_source_is_the_microservers_layout():
    assert describe(layout(SOURCE_TABLE)).splitlines() == [
        'label: gpt',
        '1: start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, name=bios_grub',
        '2: start=4096, size=196608, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name=boot',
        '3: start=200704, size=131072, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name=swap']
    assert SOURCE_TABLE['id'] and all(p['uuid'] for p in SOURCE_TABLE['partitions'])


def test_a_blank_disk_reads_as_no_table():
    rc, out, err = captured('sfdisk-json-vdd-blank')
    assert rc != 0 and read_sfdisk('/dev/vdd', rc, out, err) is None
    assert parse_wipefs_json(fixture('wipefs-json-vdd-blank')) == []


def test_sfdisk_failing_otherwise_is_refused():
    with pytest.raises(Refusal, match='cannot be read'):
        read_sfdisk('/dev/vdd', 1, '', 'sfdisk: cannot open /dev/vdd: Permission denied\n')


def test_the_copy_of_a_blank_disk_is_the_sources_layout_with_new_identifiers():
    plan = plan_copy(source(), target())
    assert plan['changed'] is True
    lines = plan['script'].splitlines()
    assert lines[:3] == ['label: gpt', 'unit: sectors', 'first-lba: 2048']
    assert lines[4:] == [
        '/dev/vdd1 : start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, name="bios_grub"',
        '/dev/vdd2 : start=4096, size=196608, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name="boot"',
        '/dev/vdd3 : start=200704, size=131072, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name="swap"']
    # No identifier of the source goes to the copy, and no last-lba (the copy's GPT spans its own disk).
    assert SOURCE_TABLE['id'] not in plan['script']
    assert not any(p['uuid'] in plan['script'] for p in SOURCE_TABLE['partitions'])
    assert 'label-id' not in plan['script'] and 'uuid' not in plan['script'] and 'last-lba' not in plan['script']


def test_the_lab_copy_has_the_layout_and_identifiers_of_its_own():
    written = copied_table()
    assert layout(written) == layout(SOURCE_TABLE)
    assert written['id'] != SOURCE_TABLE['id']
    assert not set(p['uuid'] for p in written['partitions']) & set(p['uuid'] for p in SOURCE_TABLE['partitions'])


def test_a_dump_piped_back_would_have_kept_the_identifiers():
    """Why the script is not sfdisk --dump: piped into sfdisk, the dump gives the copy the source's GUIDs."""
    dump = fixture('sfdisk-dump-vda')
    piped = fixture('sfdisk-dump-vdd-piped')
    assert 'label-id: %s' % SOURCE_TABLE['id'] in dump
    assert 'label-id: %s' % SOURCE_TABLE['id'] in piped
    assert all('uuid=%s' % p['uuid'] in piped for p in SOURCE_TABLE['partitions'])


def test_the_second_run_is_a_no_op_whatever_the_partitions_hold():
    in_use = target(table=copied_table(), users=['/dev/vdd2 is used by /dev/md1'],
                    signatures=[{'device': '/dev/vdd2', 'offset': '0x1000', 'type': 'linux_raid_member', 'uuid': 'x'}])
    assert plan_copy(source(), in_use) == {'changed': False}


def sig(name, device='/dev/vdd'):
    """The signatures as the module gives them to the planner (wipefs names the device vdd; the module, /dev/vdd)."""
    return [dict(s, device=device) for s in parse_wipefs_json(fixture(name))]


def stale_region():
    tags = dict(line.split('=', 1) for line in fixture('blkid-region-vdd-stale-2').splitlines())
    return [{'device': '/dev/vdd where its partition 2 would be (byte 2097152 on)', 'offset': 0, 'type': tags['TYPE'],
             'uuid': tags.get('UUID'), 'label': tags.get('LABEL')}]


def other_table():
    other = copy.deepcopy(SOURCE_TABLE)
    other['partitions'][2]['size'] -= 2048
    return other


# Every refusal: (what the disks are, what the message must say). Nothing is planned for any of them.
REFUSALS = [
    ('the target is the source', dict(target=dict(number='254:0', path='/dev/disk/by-id/virtio-fleet-vda')),
     'are the same disk'),
    ('the source has no partition table', dict(source=dict(table=None)), 'has no partition table'),
    ('the source has a table without partitions', dict(source=dict(table=dict(SOURCE_TABLE, partitions=[]))),
     'without any partition'),
    ('the target has another partition table', dict(target=dict(table=other_table())),
     'a gpt partition table with 3 partitions, not laid out as /dev/vda'),
    ('the target holds a filesystem', dict(target=dict(signatures=sig('wipefs-json-vdd-ext4'))), 'the signature ext4'),
    ('the target holds a swap', dict(target=dict(signatures=sig('wipefs-json-vdd-swap'))), 'the signature swap'),
    ('the target is an md member', dict(target=dict(signatures=sig('wipefs-json-vdd-md'), users=['/dev/vdd is used by /dev/md9'])),
     'linux_raid_member.*/dev/vdd is used by /dev/md9'),
    ('a partition of the target holds a filesystem', dict(target=dict(signatures=sig('wipefs-json-vdd2-ext4', '/dev/vdd2'))),
     'signature ext4 .* of /dev/vdd2'),
    ('an old filesystem where a partition would start', dict(target=dict(signatures=stale_region())),
     'signature ext4 .*where its partition 2 would be'),
    ('the target is mounted', dict(target=dict(users=['/dev/vdd is mounted on /srv'])), 'mounted on /srv'),
    ('the target is an active swap', dict(target=dict(users=['/dev/vdd is an active swap'])), 'an active swap'),
    ('the target has a holder', dict(target=dict(users=['/dev/vdd is used by /dev/dm-0'])), 'used by /dev/dm-0'),
    ('the target is too small', dict(target=dict(size=(required_sectors(SOURCE_TABLE) - 1) * 512)), 'is smaller than'),
    ('the sector sizes differ', dict(target=dict(sector_size=4096, size=DISK_SECTORS * 4096)), '4096-byte logical sectors'),
    ('a name an sfdisk script cannot carry', dict(source=dict(table=dict(SOURCE_TABLE, partitions=[
        dict(SOURCE_TABLE['partitions'][0], name='a"b')]))), 'double quote'),
]


@pytest.mark.parametrize('case, disks, message', REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals(case, disks, message):
    with pytest.raises(Refusal, match=message) as refused:
        plan_copy(source(**disks.get('source', {})), target(**disks.get('target', {})))
    if case not in ('the target is the source', 'the source has no partition table',
                    'the source has a table without partitions', 'the target is too small',
                    'the sector sizes differ', 'a name an sfdisk script cannot carry'):
        assert 'Nothing was changed' in str(refused.value) and 'wipefs --all' in str(refused.value)


def test_a_disk_just_large_enough_is_partitioned():
    assert plan_copy(source(), target(size=required_sectors(SOURCE_TABLE) * 512))['changed'] is True


def test_the_captured_signatures_are_what_the_disks_held():
    assert [s['type'] for s in sig('wipefs-json-vdd-ext4')] == ['ext4']
    assert [s['type'] for s in sig('wipefs-json-vdd-swap')] == ['swap']
    assert [s['type'] for s in sig('wipefs-json-vdd-md')] == ['linux_raid_member']
    assert fixture('vdd-md-holders').split() == ['md9']
    assert fixture('vdd-blank-holders').split() == []
    assert sorted(s['type'] for s in sig('wipefs-json-vdd-partitioned')) == ['PMBR', 'gpt', 'gpt']
    assert table('sfdisk-json-vdd-stale', '/dev/vdd') is None and sig('wipefs-json-vdd-stale') == []


def test_a_disk_partitioned_like_the_source_but_named_otherwise_is_not_the_copy():
    renamed = copy.deepcopy(SOURCE_TABLE)
    renamed['partitions'][1]['name'] = 'data'
    with pytest.raises(Refusal, match='not laid out as'):
        plan_copy(source(), target(table=renamed))


@pytest.mark.parametrize('disk, number, node', [('/dev/sdd', 2, '/dev/sdd2'), ('/dev/nvme1n1', 2, '/dev/nvme1n1p2'),
                                                ('/dev/mmcblk0', 3, '/dev/mmcblk0p3')])
def test_partition_nodes(disk, number, node):
    assert partition_node(disk, number) == node and partition_number(node) == number


def test_a_dos_table_keeps_its_boot_flag():
    dos = parse_sfdisk_json('{"partitiontable": {"label": "dos", "id": "0x1234abcd", "device": "/dev/sda", "unit": "sectors",'
                            ' "sectorsize": 512, "partitions": [{"node": "/dev/sda1", "start": 2048, "size": 204800,'
                            ' "type": "fd", "bootable": true}, {"node": "/dev/sda3", "start": 206848, "size": 4096,'
                            ' "type": "82"}]}}')
    plan = plan_copy(source(table=dos), target())
    assert plan['script'].splitlines()[3:] == ['/dev/vdd1 : start=2048, size=204800, type=FD, bootable',
                                               '/dev/vdd3 : start=206848, size=4096, type=82']
    assert '0x1234abcd' not in plan['script']
    assert required_sectors(dos) == 210944


# Properties: any GPT layout that fits, copied to a blank disk, carries no identifier and every partition;
# the copy read back (the same layout, new identifiers) is a no-op; any other layout is refused.
partitions = st.lists(st.tuples(st.integers(1, 4096), st.integers(1, 4096), st.sampled_from(
    ['0FC63DAF-8483-4772-8E79-3D69D8477DE4', 'A19D880F-05FC-4D3B-A006-743F0F84911E', '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F']),
    st.text('abcdefghij_-', max_size=10)), min_size=1, max_size=8)


def gpt(parts, uuid_base):
    start, entries = 2048, []
    for number, (gap, size, ptype, name) in enumerate(parts, 1):
        start += gap
        entries.append({'node': '/dev/vdz%d' % number, 'start': start, 'size': size, 'type': ptype, 'name': name,
                        'uuid': '%s-%04d' % (uuid_base, number), 'attrs': '', 'bootable': False})
        start += size
    return {'label': 'gpt', 'id': uuid_base + '-DISK', 'device': '/dev/vdz', 'sector_size': 512, 'first_lba': 34,
            'last_lba': start + 100, 'partitions': entries}


@given(partitions, st.integers(0, 10000))
def test_copy_properties(parts, spare):
    model = gpt(parts, 'SOURCE')
    size = (required_sectors(model) + spare) * 512
    plan = plan_copy(source(table=model), target(size=size))
    assert plan['changed'] and 'SOURCE' not in plan['script']
    assert len(plan['script'].splitlines()) == 4 + len(parts)
    copy_read_back = gpt(parts, 'COPY')
    assert plan_copy(source(table=model), target(size=size, table=copy_read_back)) == {'changed': False}
    moved = copy.deepcopy(copy_read_back)
    moved['partitions'][-1]['size'] += 1
    with pytest.raises(Refusal):
        plan_copy(source(table=model), target(size=size, table=moved))
    with pytest.raises(Refusal, match='is smaller than'):
        plan_copy(source(table=model), target(size=size - (spare + 1) * 512))
