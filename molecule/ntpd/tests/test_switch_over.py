"""The role's switch-over on pi1 (chrony): the host keeps its time service until the container
runs, and gets it back when the switch-over fails. Runs last: it converges the node again at the end.
"""

import json
import os
import subprocess

from ntpd_helpers import CONTAINER, docker_json

testinfra_hosts = ["ansible://fleet-ntpd-pi1"]

PLAYBOOK = os.path.join(os.path.dirname(__file__), "..", "..", "..", "playbooks", "rpi_ntpd.yml")


def playbook(host, **extra_vars):
    """Runs rpi_ntpd.yml on this node only; returns (rc, output)."""
    cmd = ["ansible-playbook", "-i", host.backend.ansible_inventory, "-l", host.backend.host, PLAYBOOK,
           "-e", json.dumps(extra_vars)]
    run = subprocess.run(cmd, capture_output=True, text=True, check=False,
                         env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"))
    return run.returncode, run.stdout + run.stderr


def chrony_on(host):
    return (host.run("systemctl is-active chrony.service").stdout.strip(),
            host.run("systemctl is-enabled chrony.service").stdout.strip())


def test_the_role_refuses_a_capability_ntpd_does_not_use_before_any_task(host):
    before = docker_json(host, "container", "inspect", CONTAINER)[0]
    config = host.file("/etc/fleet-ntpd/ntp.conf").content_string
    rc, output = playbook(host, ntpd_container_capabilities=["SYS_TIME", "SYS_ADMIN"])
    assert rc != 0, output
    assert "ntpd_container_capabilities" in output and "SYS_ADMIN" in output
    assert "changed=0" in output
    now = docker_json(host, "container", "inspect", CONTAINER)[0]
    assert (now["Id"], now["State"]["StartedAt"]) == (before["Id"], before["State"]["StartedAt"])
    assert host.file("/etc/fleet-ntpd/ntp.conf").content_string == config


def test_a_failing_build_leaves_the_host_time_service_on_then_a_failing_switch_over_puts_it_back(host):
    host.check_output("timedatectl set-ntp true && systemctl enable --now chrony.service")
    assert chrony_on(host) == ("active", "enabled")
    before = docker_json(host, "container", "inspect", CONTAINER)[0]

    # The image cannot be built (base image missing, no pull): refused before the switch-over.
    rc, output = playbook(host, ntpd_container_base_image="fleet-lab/missing:none")
    assert rc != 0, output
    assert "fleet-lab/missing:none is not in the local Docker engine" in output
    assert chrony_on(host) == ("active", "enabled")
    now = docker_json(host, "container", "inspect", CONTAINER)[0]
    assert (now["Id"], now["State"]["StartedAt"]) == (before["Id"], before["State"]["StartedAt"])

    # ntpd starts but never finds a peer (an unreachable server): the switch-over fails, the
    # container stops and chrony comes back, enabled and running.
    rc, output = playbook(host, ntpd_container_servers=["192.0.2.1"], ntpd_container_wait_timeout=5)
    assert rc != 0, output
    assert "did not take over the host's time keeping" in output
    assert chrony_on(host) == ("active", "enabled")
    assert host.check_output("timedatectl show --property=NTP --value") == "yes"
    assert docker_json(host, "container", "inspect", CONTAINER)[0]["State"]["Running"] is False

    # Converged again as declared: chrony off, the container running and synchronised.
    rc, output = playbook(host)
    assert rc == 0, output
    assert chrony_on(host) == ("inactive", "disabled")
    assert docker_json(host, "container", "inspect", CONTAINER)[0]["State"]["Running"] is True
