"""docker_ntpd's refusals on a lab Pi node: each with its message, and nothing changed.

They exercise the module, not the node, so they run on one node only.
"""

import pytest

from ntpd_helpers import CONFIG, CONTAINER, declared_ports, docker_json, module

testinfra_hosts = ["ansible://fleet-ntpd-pi1"]


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
    assert result["changed"] is False
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


def assert_recreate_lines(actions, inspect, ntpd_args=("-g", "-n"), ports=None):
    """The docker CLI lines of a recreate of the running container: stop, rm, a create with the scenario's
    options (only SYS_TIME, hardened, its config and drift volume, ``ports`` or the container's own), start."""
    assert actions[0] == "docker stop --time 10 %s" % CONTAINER
    assert actions[1] == "docker rm --force %s" % CONTAINER
    publish = " ".join("--publish %s" % port for port in (ports or declared_ports(inspect)))
    assert actions[2].startswith(
        "docker create --name %s --cap-drop ALL --cap-add SYS_TIME --security-opt no-new-privileges --read-only "
        "--tmpfs /run:rw,nosuid,nodev,noexec,size=1m --tmpfs /tmp:rw,nosuid,nodev,noexec,size=1m --restart always "
        "--network bridge --volume %s:/etc/ntp.conf:ro --volume ntpd-drift:/var/lib/ntp %s "
        "--label fleet.linux.ntpd.managed=true fleet-linux/ntpd:" % (CONTAINER, CONFIG, publish))
    assert actions[2].endswith(" " + " ".join(ntpd_args))
    assert actions[3] == "docker start %s" % CONTAINER


def test_check_mode_reports_a_recreate_and_changes_nothing(host, inspect):
    failed, result = module(host, ports=declared_ports(inspect), ntpd_args=["-g", "-n", "-d"], _check=True)
    assert not failed, result
    assert result["changed"] is True
    assert result["steps"] == ["stop", "remove", "create", "start"]
    assert_recreate_lines(result["actions"], inspect, ntpd_args=["-g", "-n", "-d"])
    assert result["differences"] == ["command"]
    assert docker_json(host, "container", "inspect", CONTAINER)[0]["Id"] == inspect["Id"]


def test_declared_state_is_a_no_op(host, inspect):
    failed, result = module(host, ports=declared_ports(inspect))
    assert not failed, result
    assert result["changed"] is False
    assert result["actions"] == [] and result["steps"] == []


@pytest.mark.parametrize("args, message", [
    ({"capabilities": ["SYS_TIME", "SYS_ADMIN"]}, "SYS_ADMIN is not used by ntpd"),
    ({"capabilities": ["SYS_TIME", "SYS_MODULE"]}, "SYS_MODULE is not used by ntpd"),
    ({"capabilities": ["SYS_TIME", "NET_BIND_SERVICE"]}, "without NET_BIND_SERVICE"),
    ({"network_mode": "host", "capabilities": ["SYS_TIME", "NET_BIND_SERVICE", "SYS_ADMIN"],
      "allow_extra_capabilities": True}, "would act on the host itself"),
    ({"drift_volume": "/"}, "drift_volume: '/' is neither a volume name"),
    ({"drift_volume": "/etc"}, "nor a directory below /var/lib/fleet-ntpd/drift"),
    ({"ports": ["70000:123/udp"]}, "host port 70000 is not a port number (1-65535)"),
    ({"ports": ["123:99999/udp"]}, "container port 99999 is not a port number (1-65535)"),
    ({"ports": ["123:123/udp", "127.0.0.1:123:123/udp"]}, "publish the same host port twice"),
    ({"ports": ["localhost:123:123/udp"]}, "localhost is not an IP address"),
    ({"config_file": "/proc/self/root/etc/fleet-ntpd/ntp.conf"}, "is a symbolic link"),
])
def test_refusal_of_what_would_widen_privileges(host, inspect, args, message):
    """Each refused before dockerd is asked anything: nothing changes."""
    images = host.check_output("docker images -q | sort")
    failed, result = module(host, **args) if "ports" in args else module(host, ports=declared_ports(inspect), **args)
    assert failed
    assert message in result["msg"]
    assert result["changed"] is False
    now = docker_json(host, "container", "inspect", CONTAINER)[0]
    assert (now["Id"], now["State"]["StartedAt"]) == (inspect["Id"], inspect["State"]["StartedAt"])
    assert host.check_output("docker images -q | sort") == images


def test_moving_the_published_port_of_the_running_container_is_no_port_taken(host, inspect):
    """Its own proxy holds NODE_IP:123 and does not count (check mode: nothing changes). On every
    address, the only holder named is the local upstream on 10.123.0.1, never the node's address."""
    failed, result = module(host, ports=["127.0.0.1:123:123/udp"], _check=True)
    assert not failed, result
    assert result["steps"] == ["stop", "remove", "create", "start"]
    assert_recreate_lines(result["actions"], inspect, ports=["127.0.0.1:123:123/udp"])
    assert result["differences"] == ["ports"]
    failed, result = module(host, ports=["123:123/udp"], _check=True)
    assert failed
    assert "udp port 123 on every address is already taken by another process or container (bound on 10.123.0.1)" in result["msg"]
    assert result["changed"] is False
    now = docker_json(host, "container", "inspect", CONTAINER)[0]
    assert (now["Id"], now["State"]["StartedAt"]) == (inspect["Id"], inspect["State"]["StartedAt"])
