"""After converge: filesystems fill their grown devices, the swap spans its grown array with
the same UUID and label, /etc/fstab is byte-identical and every file's checksum is unchanged."""

import pytest

MiB = 1024 * 1024
STATE = "/root/fs_swap"
PAGE = 4096


def size(host, device):
    return int(host.check_output("blockdev --getsize64 %s", device))


def ids_before(host):
    ids = {}
    for line in host.file(STATE + "/ids.before").content_string.splitlines():
        device, _sep, tags = line.partition("\t")
        ids[device] = dict(tag.split("=", 1) for tag in tags.split("\t") if tag)
    return ids


def ids_now(host, device):
    out = host.check_output("blkid -p -s TYPE -s UUID -s LABEL -o export /dev/%s", device)
    return dict(line.split("=", 1) for line in out.splitlines())


def test_arrays_grew_and_are_raid0_again(host):
    for md, members in (("md0", 4), ("md1", 3)):
        assert host.file("/sys/block/%s/md/level" % md).content_string.strip() == "raid0"
        assert host.file("/sys/block/%s/md/raid_disks" % md).content_string.strip() == str(members)


@pytest.mark.parametrize("device", ["md0", "md1", "vdc3", "vda3", "vdb3", "vdd4", "vdd2"])
def test_uuid_and_label_unchanged(host, device):
    assert ids_now(host, device) == ids_before(host)[device]


def test_swap_spans_the_grown_array(host):
    device_size = size(host, "/dev/md0")
    spanning = (device_size // PAGE - 1) * PAGE
    assert device_size == 4 * 62 * MiB
    # swapon --show as converge left it (side_effect later borrows the swap for a while)
    swaps = host.file(STATE + "/swaps.after-converge").content_string.splitlines()[1:]
    assert [line.split()[0] for line in swaps] == ["/dev/md0"]
    fields = swaps[0].split()
    assert int(fields[2]) * 1024 == spanning
    assert fields[4] == "5"  # priority from fstab's pri=5, kept by swapon -p
    # and now
    show = host.check_output("swapon --show=NAME,SIZE,PRIO --bytes --noheadings --raw").split()
    assert show == ["/dev/md0", str(spanning), "5"]


def test_swap_header_spans_the_device(host):
    last_page = int(host.check_output(
        "python3 -c \"import struct; print(struct.unpack_from('<I', open('/dev/md0', 'rb').read(4096), 1028)[0])\""))
    assert last_page == size(host, "/dev/md0") // PAGE - 1


def test_swap_label_with_a_space_kept_byte_for_byte(host):
    """blkid prints LABEL=swap\\ one: the label must not be re-created with that backslash."""
    label = host.check_output(
        "python3 -c \"print(open('/dev/md0', 'rb').read(4096)[1052:1068].split(b'\\\\0')[0])\"")
    assert label == "b'swap one'"
    assert ids_now(host, "md0")["LABEL"] == "swap\\ one"
    # what LABEL= references resolve through
    assert host.check_output("findfs 'LABEL=swap one'") == "/dev/md0"
    assert host.file("/dev/disk/by-label/swap\\x20one").linked_to == "/dev/md0"


def test_ext4_grown_online(host):
    out = host.check_output("dumpe2fs -h /dev/md1 2>/dev/null")
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    blocks = int(fields["Block count"]) * int(fields["Block size"])
    assert size(host, "/dev/md1") == 3 * 62 * MiB
    assert blocks == size(host, "/dev/md1")
    assert host.mount_point("/srv/boot").device == "/dev/md1"


@pytest.mark.parametrize("mountpoint, device, expected", [
    ("/srv/xfs", "/dev/vdc3", 448 * MiB),
    (None, "/dev/vdd4", 384 * MiB),  # grown through a temporary mount; side_effect grew the partition again
])
def test_xfs_grown(host, mountpoint, device, expected):
    out = host.check_output("xfs_info %s", mountpoint or device)
    data = [line for line in out.splitlines() if line.startswith("data")][0]
    fields = dict(word.rstrip(",").split("=") for word in data.split() if "=" in word and word.split("=")[1])
    assert int(fields["bsize"]) * int(fields["blocks"]) == expected
    if mountpoint:
        assert host.mount_point(mountpoint).device == device
    else:
        assert device not in host.check_output("findmnt -rn -o SOURCE")


def test_btrfs_grown_on_both_devices(host):
    out = host.check_output("btrfs filesystem show --raw /srv/btrfs")
    devices = [line.split() for line in out.splitlines() if line.strip().startswith("devid")]
    assert [(d[1], int(d[3]), d[7]) for d in devices] == [
        ("1", 448 * MiB, "/dev/vda3"), ("2", 448 * MiB, "/dev/vdb3")]
    assert all(size(host, d[7]) == 448 * MiB for d in devices)


def test_fstab_byte_identical(host):
    assert host.run("sha256sum -c %s", STATE + "/fstab.sha256").rc == 0


def test_data_checksums_unchanged(host):
    check = host.run("sha256sum -c %s", STATE + "/data.sha256")
    assert check.rc == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 6


def test_refusal_leftovers_cleaned(host):
    assert not host.file("/sys/fs/cgroup/fs_swap_hog").exists
    assert host.file("/proc/sys/vm/nr_hugepages").content_string.strip() == "0"
