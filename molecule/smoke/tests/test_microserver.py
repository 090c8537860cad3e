"""The lab microserver offers what the RAID scenarios need: four blank data disks and md."""

import json

import pytest

DATA_DISKS = ["vda", "vdb", "vdc", "vdd"]


def test_marker_written_by_converge(host):
    marker = host.file("/etc/fleet-lab-marker")
    assert marker.is_file
    assert marker.content_string.startswith("microserver ")


def test_root_is_on_sda(host):
    assert host.mount_point("/").device in ("/dev/sda", "/dev/disk/by-label/root")


def test_exactly_four_data_disks(host):
    lsblk = json.loads(host.check_output("lsblk -J -d -o NAME,TYPE,SERIAL"))
    disks = {dev["name"]: dev["serial"] for dev in lsblk["blockdevices"] if dev["name"].startswith("vd")}
    assert disks == {name: "fleet-" + name for name in DATA_DISKS}


@pytest.mark.parametrize("disk", DATA_DISKS)
def test_data_disk_is_blank(host, disk):
    device = "/dev/" + disk
    assert host.block_device(device).size == 512 * 1024 * 1024
    assert host.check_output("wipefs --noheadings %s", device) == ""
    # blkid -p exits 2 when it finds nothing to report.
    probe = host.run("blkid -p %s", device)
    assert probe.rc == 2, probe.stdout
    assert not host.file(device + "1").exists


def test_md_kernel_support(host):
    host.check_output("modprobe -a raid0 raid1 raid10 raid456")
    mdstat = host.file("/proc/mdstat").content_string
    for personality in ("[raid0]", "[raid1]", "[raid10]", "[raid4]", "[raid5]", "[raid6]"):
        assert personality in mdstat
    assert "md" not in host.check_output("lsblk -d -n -o NAME")


def test_tools_installed(host):
    for package in ("mdadm", "e2fsprogs", "xfsprogs", "btrfs-progs", "grub-pc-bin", "grub2-common", "rsync"):
        assert host.package(package).is_installed, package


@pytest.mark.parametrize(
    "unit",
    ["apt-daily.timer", "e2scrub_all.timer", "fstrim.timer", "mdcheck_start.timer", "mdmonitor-oneshot.timer"],
)
def test_background_jobs_masked(host, unit):
    assert host.check_output("systemctl is-enabled %s || true", unit) == "masked"
