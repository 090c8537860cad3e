"""The lab Pi node is a working, unprivileged systemd host with its own dockerd and user namespaces."""

import json
import os

CAP_SYS_RESOURCE = 24
# The release the node was built for (lab/pinode/build, molecule.yml's image tag) and its version.
RELEASE = os.environ.get("PINODE_RELEASE") or "trixie"
DEBIAN_VERSION = {"bookworm": "12.", "trixie": "13."}[RELEASE]


def test_systemd_is_running(host):
    state = host.run("systemctl is-system-running")
    failed = host.run("systemctl --failed --no-legend --plain").stdout
    assert state.stdout.strip() == "running", failed


def test_pid1_is_systemd(host):
    assert host.file("/proc/1/comm").content_string.strip() == "systemd"
    assert host.check_output("readlink /proc/1/exe") == "/usr/lib/systemd/systemd"


def test_python3_present(host):
    assert host.run("python3 -c 'import sys; assert sys.version_info >= (3, 9)'").rc == 0


def test_converge_left_its_mark(host):
    mark = host.file("/etc/fleet-smoke-pi")
    assert mark.is_file
    assert mark.mode == 0o644
    assert mark.content_string == "converged by molecule\n"


def test_dockerd_answers_with_overlay2_and_the_configured_cgroup_driver(host):
    """systemd, or cgroupfs where the node's runc needs it on this cgroup v1 host (lab/pinode/Dockerfile)."""
    config = json.loads(host.file("/etc/docker/daemon.json").content_string)
    driver = next(o.split("=", 1)[1] for o in config["exec-opts"] if o.startswith("native.cgroupdriver="))
    assert driver in ("systemd", "cgroupfs")
    info = host.run("docker info --format '{{.Driver}} {{.CgroupDriver}}'")
    assert info.rc == 0, info.stderr
    assert info.stdout.split() == ["overlay2", driver]


def test_inner_dockerd_runs_the_loaded_base_image(host):
    run = host.run("docker run --rm fleet-lab/debian:%s cat /etc/debian_version" % RELEASE)
    assert run.rc == 0, run.stderr
    assert run.stdout.startswith(DEBIAN_VERSION)


def test_not_privileged_bounding_set_lacks_sys_resource(host):
    status = host.file("/proc/1/status").content_string
    cap_bnd = int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapBnd:")), 16)
    assert not cap_bnd & (1 << CAP_SYS_RESOURCE)


def test_not_privileged_no_host_block_devices(host):
    assert host.check_output("find /dev -type b") == ""


def test_proc_has_no_overmounts_left_for_lxc(host):
    mountpoints = host.check_output("awk '{print $5}' /proc/1/mountinfo").split()
    assert [m for m in mountpoints if m.startswith("/proc/")] == []
    assert "/sys/firmware" not in mountpoints


def test_unprivileged_user_gets_a_user_namespace(host):
    assert host.check_output("setpriv --reuid=nobody --regid=nogroup --clear-groups unshare -U -r id -u") == "0"


def test_host_time_services_absent(host):
    for package in ("systemd-timesyncd", "chrony", "ntpsec"):
        assert not host.package(package).is_installed


def test_debian_release(host):
    assert host.file("/etc/debian_version").content_string.startswith(DEBIAN_VERSION)


def test_unprivileged_account_maps_its_subordinate_ids(host):
    """newuidmap/newgidmap work in the node: the base of an unprivileged LXC container."""
    subuid = next(line for line in host.file("/etc/subuid").content_string.splitlines()
                  if line.startswith("lxcowner:"))
    first, count = subuid.split(":")[1:]
    uid_map = host.check_output(
        "sudo -u lxcowner lxc-usernsexec -m b:0:%s:%s -- cat /proc/self/uid_map" % (first, count))
    assert uid_map.split() == ["0", first, count]
