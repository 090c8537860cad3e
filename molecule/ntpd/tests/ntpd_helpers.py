"""Helpers shared by the ntpd scenario's tests."""

import json
import os
import subprocess

UPSTREAM = "10.123.0.1"
CONTAINER = "ntpd"
BUILD = "/var/lib/fleet-ntpd/build"
CONFIG = "/etc/fleet-ntpd/ntp.conf"
# The base image of the Pi nodes' release (molecule.yml: ntpd_container_base_image).
BASE_IMAGE = "fleet-lab/debian:" + (os.environ.get("PINODE_RELEASE") or "trixie")


def docker_json(host, *args):
    out = host.check_output("docker " + " ".join(args))
    return json.loads(out)


def declared_ports(container):
    """The published_ports that created ``container`` (docker inspect)."""
    return ["%s:123:123/udp" % container["HostConfig"]["PortBindings"]["123/udp"][0]["HostIp"]]


def module(host, ports=None, **args):
    """Runs fleet.linux.docker_ntpd on the node with the ansible CLI; returns (failed, result).

    (testinfra's host.ansible cannot tell a failed module from a successful one with
    ansible-core 2.19: its tree output has no "failed" key.)
    """
    base = {"build_context": BUILD, "config_file": CONFIG, "base_image": BASE_IMAGE,
            "pull_base": False, "capabilities": ["SYS_TIME"], "published_ports": ports or []}
    base.update(args)
    check = ["--check"] if base.pop("_check", False) else []
    cmd = ["ansible", host.backend.host, "-i", host.backend.ansible_inventory, "--become", "-o",
           "-m", "fleet.linux.docker_ntpd", "-a", json.dumps(base)] + check
    run = subprocess.run(cmd, capture_output=True, text=True, check=False,
                         env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"))
    line = next(line for line in run.stdout.splitlines() if line.startswith(host.backend.host + " | "))
    status, _sep, payload = line.split(" | ", 1)[1].partition(" => ")
    return status.startswith("FAILED"), json.loads(payload)
