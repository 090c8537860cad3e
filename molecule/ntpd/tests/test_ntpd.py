"""ntpd_container on the lab Pi nodes: image, container, host time services, sync, LAN service."""

from ntpd_helpers import BASE_IMAGE, CONFIG, CONTAINER, UPSTREAM, docker_json

CAP_SYS_TIME = 25


def test_image_built_locally_from_the_lab_base(host, inspect):
    image = docker_json(host, "image", "inspect", inspect["Image"])[0]
    labels = image["Config"]["Labels"]
    assert labels["fleet.linux.ntpd.base-image"] == BASE_IMAGE
    base_id = host.check_output("docker image inspect --format '{{.Id}}' %s" % BASE_IMAGE)
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


def test_no_new_privileges_and_a_read_only_root(host, inspect):
    assert inspect["HostConfig"]["SecurityOpt"] == ["no-new-privileges"]
    assert inspect["HostConfig"]["ReadonlyRootfs"] is True
    assert sorted(inspect["HostConfig"]["Tmpfs"]) == ["/run", "/tmp"]
    status = host.file("/proc/%d/status" % inspect["State"]["Pid"]).content_string
    assert "NoNewPrivs:\t1" in status
    assert host.run("docker exec %s touch /usr/sbin/ntpd" % CONTAINER).rc != 0
    assert "Read-only file system" in host.run("docker exec %s touch /etc/fleet-probe" % CONTAINER).stderr


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


def test_container_comes_back_after_the_engine_restarts(host, inspect):
    pid_before = inspect["State"]["Pid"]
    host.check_output("systemctl restart docker")
    state = host.check_output(
        "for i in $(seq 60); do s=$(docker inspect --format '{{.State.Running}} {{.State.Pid}}' %s 2>/dev/null)"
        " && [ \"${s%% *}\" = true ] && break; sleep 1; done; echo $s" % CONTAINER)
    running, pid = state.split()
    assert running == "true"
    assert int(pid) != pid_before  # a new ntpd, started by the restart policy
