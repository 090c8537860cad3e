"""ntpd_container on the lab Pi nodes: image, container, host time services, sync, refusals."""

import json
import os
import subprocess

import pytest

CAP_SYS_TIME = 25
UPSTREAM = "10.123.0.1"
CONTAINER = "ntpd"
BUILD = "/var/lib/fleet-ntpd/build"
CONFIG = "/etc/fleet-ntpd/ntp.conf"


def docker_json(host, *args):
    out = host.check_output("docker " + " ".join(args))
    return json.loads(out)


@pytest.fixture
def inspect(host):
    return docker_json(host, "container", "inspect", CONTAINER)[0]


@pytest.fixture
def node_ip(host):
    return host.check_output("ip -4 -o route get 1.1.1.1 | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p'")


def declared_ports(inspect):
    return ["%s:123:123/udp" % inspect["HostConfig"]["PortBindings"]["123/udp"][0]["HostIp"]]


def module(host, ports=None, **args):
    """Runs fleet.linux.docker_ntpd on the node with the ansible CLI; returns (failed, result).

    (testinfra's host.ansible cannot tell a failed module from a successful one with
    ansible-core 2.19: its tree output has no "failed" key.)
    """
    base = {"build_context": BUILD, "config_file": CONFIG, "base_image": "fleet-lab/debian:bookworm",
            "pull_base": False, "capabilities": ["SYS_TIME"], "published_ports": ports or []}
    base.update(args)
    check = ["--check"] if base.pop("_check", False) else []
    cmd = ["ansible", host.backend.host, "-i", host.backend.ansible_inventory, "--become", "-o",
           "-m", "fleet.linux.docker_ntpd", "-a", json.dumps(base)] + check
    run = subprocess.run(cmd, capture_output=True, text=True, check=False,
                         env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    line = next(line for line in run.stdout.splitlines() if line.startswith(host.backend.host + " | "))
    status, _sep, payload = line.split(" | ", 1)[1].partition(" => ")
    return status.startswith("FAILED"), json.loads(payload)


def test_image_built_locally_from_the_lab_base(host, inspect):
    image = docker_json(host, "image", "inspect", inspect["Image"])[0]
    labels = image["Config"]["Labels"]
    assert labels["fleet.linux.ntpd.base-image"] == "fleet-lab/debian:bookworm"
    base_id = host.check_output("docker image inspect --format '{{.Id}}' fleet-lab/debian:bookworm")
    assert labels["fleet.linux.ntpd.base-image-id"] == base_id
    assert image["RepoDigests"] == []  # built here, never pulled
    assert [t for t in image["RepoTags"] if t.startswith("fleet-linux/ntpd:amd64-")]
    assert image["Config"]["Entrypoint"] == ["/usr/sbin/ntpd"]
    assert host.run("docker exec %s test -x /usr/sbin/ntpd" % CONTAINER).rc == 0
    assert host.check_output("docker exec %s sh -c 'ls /var/lib/apt/lists | wc -l'" % CONTAINER) == "0"


def test_container_runs_ntpd_g_n_with_restart_always(inspect):
    assert inspect["State"]["Running"] is True
    assert inspect["HostConfig"]["RestartPolicy"]["Name"] == "always"
    assert inspect["Path"] == "/usr/sbin/ntpd"
    assert inspect["Args"] == ["-g", "-n"]


def test_exactly_the_declared_capabilities_never_privileged(host, inspect):
    assert inspect["HostConfig"]["Privileged"] is False
    assert inspect["HostConfig"]["CapAdd"] == ["CAP_SYS_TIME"]
    assert inspect["HostConfig"]["CapDrop"] == ["ALL"]
    status = host.file("/proc/%d/status" % inspect["State"]["Pid"]).content_string
    masks = dict(line.split(":\t") for line in status.splitlines() if line.startswith("Cap"))
    assert int(masks["CapEff"], 16) == 1 << CAP_SYS_TIME
    assert int(masks["CapBnd"], 16) == 1 << CAP_SYS_TIME


def test_config_mounted_read_only_and_drift_on_a_volume(inspect):
    mounts = {m["Destination"]: m for m in inspect["Mounts"]}
    assert mounts["/etc/ntp.conf"]["Type"] == "bind"
    assert mounts["/etc/ntp.conf"]["Source"] == CONFIG
    assert mounts["/etc/ntp.conf"]["RW"] is False
    assert mounts["/var/lib/ntp"]["Type"] == "volume"
    assert mounts["/var/lib/ntp"]["Name"] == "ntpd-drift"
    assert mounts["/var/lib/ntp"]["RW"] is True


def test_ntpd_reads_the_templated_config(host):
    config = host.file(CONFIG).content_string
    assert "server %s iburst minpoll 4 maxpoll 4" % UPSTREAM in config
    assert "restrict default ignore" in config
    assert "nomodify" in config and "noquery" in config
    assert host.check_output("docker exec %s cat /etc/ntp.conf" % CONTAINER) == config.rstrip("\n")


def test_host_time_services_off(host):
    assert host.check_output("timedatectl show --property=NTP --value") == "no"
    service = host.ansible.get_variables()["lab_time_service"]
    state = host.run("systemctl is-enabled %s.service" % service).stdout.strip()
    assert state == ("masked" if service == "systemd-timesyncd" else "disabled")
    assert host.run("systemctl is-active %s.service" % service).stdout.strip() == "inactive"
    if host.run("systemctl cat systemd-timesyncd.service").rc == 0:
        assert host.run("systemctl is-enabled systemd-timesyncd.service").stdout.strip() == "masked"


def test_ntpd_follows_the_local_upstream(host):
    peers = host.check_output("docker exec %s ntpq -pn" % CONTAINER).splitlines()
    selected = [line for line in peers if line.startswith("*")]
    assert selected and selected[0][1:].split()[0] == UPSTREAM, peers


def test_clock_cannot_be_set_from_the_container(host, inspect):
    """Guard 3: ntpsec's start-up ntp_adjtime was refused by the node's seccomp profile."""
    security = host.check_output("docker info --format '{{json .SecurityOptions}}'")
    assert "fleet-lab-no-clock.json" in security or "profile=" in security
    logs = host.run("docker logs %s" % CONTAINER)
    assert "ntp_adjtime: Operation not permitted" in logs.stdout + logs.stderr


def test_serves_time_to_the_lan(host, node_ip):
    """An SNTP client on the LAN address gets stratum 2 time from the local upstream.

    The scenario's ntpd is serve-only ("disable ntp": it never disciplines the clock), so it
    never declares itself synchronised and flags its answers leap=3 (alarm); an ntpd that
    disciplines the clock answers leap=0.
    """
    for _attempt in range(5):
        answer = host.run("python3 /usr/local/bin/sntp_query.py %s 5" % node_ip)
        if answer.rc == 0:
            break
    assert answer.rc == 0, answer.stdout
    fields = dict(item.split("=") for item in answer.stdout.split())
    assert fields["stratum"] == "2"
    assert fields["refid"] == UPSTREAM
    assert fields["leap"] == "3"


def test_refuses_remote_status_queries(host, node_ip, inspect):
    """noquery: ntpq from the LAN gets nothing back (only localhost in the container may ask)."""
    cmd = "docker run --rm --network host --entrypoint ntpq %s -c rv %s" % (inspect["Image"], node_ip)
    out = host.run(cmd)
    assert "timed out" in (out.stdout + out.stderr).lower()


def test_refusal_sys_resource_cannot_be_granted(host, inspect):
    failed, result = module(host, ports=declared_ports(inspect), capabilities=["SYS_TIME", "SYS_RESOURCE"])
    assert failed
    assert "capability CAP_SYS_RESOURCE cannot be granted" in result["msg"]
    assert 'capabilities: ["SYS_TIME"]' in result["msg"]
    assert docker_json(host, "container", "inspect", CONTAINER)[0]["Id"] == inspect["Id"]


def test_refusal_port_123_taken(host, node_ip):
    failed, result = module(host, name="ntpd-porttest", ports=["%s:123:123/udp" % node_ip])
    assert failed
    assert "udp port 123 on %s is already taken" % node_ip in result["msg"]
    assert host.run("docker container inspect ntpd-porttest").rc != 0


def test_refusal_base_image_missing_and_not_pullable(host, inspect):
    images = host.check_output("docker images -q | sort")
    failed, result = module(host, ports=declared_ports(inspect), base_image="fleet-lab/missing:none",
                            pull_base=True)
    assert failed
    assert "fleet-lab/missing:none is not in the local Docker engine and cannot be pulled" in result["msg"]
    assert host.check_output("docker images -q | sort") == images
    assert docker_json(host, "container", "inspect", CONTAINER)[0]["Id"] == inspect["Id"]


def test_refusal_docker_socket_missing(host):
    failed, result = module(host, docker_socket="/run/fleet-missing/docker.sock")
    assert failed
    assert "does not exist: the Docker engine is not installed or dockerd is not running" in result["msg"]


def test_refusal_dockerd_not_running(host):
    host.check_output("python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); "
                      "s.bind('/run/fleet-stale.sock'); s.close()\" || true")
    failed, result = module(host, docker_socket="/run/fleet-stale.sock")
    host.run("rm -f /run/fleet-stale.sock")
    assert failed
    assert "dockerd is not running: nothing listens on /run/fleet-stale.sock" in result["msg"]


def test_check_mode_reports_a_recreate_and_changes_nothing(host, inspect):
    failed, result = module(host, ports=declared_ports(inspect), ntpd_args=["-g", "-n", "-d"], _check=True)
    assert not failed, result
    assert result["changed"] is True
    assert result["actions"] == ["recreate", "start"]
    assert result["differences"] == ["command"]
    assert docker_json(host, "container", "inspect", CONTAINER)[0]["Id"] == inspect["Id"]


def test_declared_state_is_a_no_op(host, inspect):
    failed, result = module(host, ports=declared_ports(inspect))
    assert not failed, result
    assert result["changed"] is False
    assert result["actions"] == []
