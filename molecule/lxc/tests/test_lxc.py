"""Two unprivileged containers, each bound to its own user and id range, on the lab Pi node.

Tests connect as the admin account (fleetadmin) and use sudo, as the playbook did. Module calls
go through testinfra's ansible runner, as a play with become would.
"""

import ipaddress
import json
import os

import pytest
from testinfra.modules.ansible import AnsibleException

CONTAINERS = {"web": "lxc-web", "db": "lxc-db"}
IMAGE = "/var/cache/fleet-lxc-image"
BRIDGE = ipaddress.ip_network("10.0.3.0/24")
GATEWAY = "10.0.3.1"


def as_owner(host, name, command):
    """Run an lxc tool as the container's owner, the way the module does (sudo -u OWNER -H)."""
    with host.sudo():
        return host.run("sudo -u %s -H %s" % (CONTAINERS[name], command))


def attach(host, name, command):
    """lxc-attach inside the owner's systemd user scope: on a unified cgroup hierarchy a process
    can only be moved into the container's cgroup from within the owner's delegated subtree."""
    uid = host.user(CONTAINERS[name]).uid
    return as_owner(host, name, "env XDG_RUNTIME_DIR=/run/user/%d systemd-run --user --scope --quiet "
                                "-- lxc-attach -n %s -- %s" % (uid, name, command))


def subid_range(host, user):
    with host.sudo():
        lines = host.file("/etc/subuid").content_string.splitlines()
    starts = [line.split(":") for line in lines if line.startswith(user + ":")]
    assert len(starts) == 1, lines
    return int(starts[0][1]), int(starts[0][2])


def module(host, check=False, **args):
    """The module with become (for real unless check=True), its arguments as JSON (ad-hoc -a '{...}');
    returns the result, with failed=True when it failed (ansible --tree, which testinfra reads,
    drops that key; a success has state)."""
    try:
        result = host.ansible("fleet.linux.lxc_unpriv_container", json.dumps(args), check=check, become=True)
    except AnsibleException as failure:
        result = failure.result
    return dict(result, failed=bool(result.get("failed")) or "state" not in result)


def lxc_state(host, name):
    return as_owner(host, name, "lxc-info -n %s -s -H" % name).stdout.strip()


@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_container_running(host, name):
    assert lxc_state(host, name) == "RUNNING"


@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_attach_is_root_inside(host, name):
    run = attach(host, name, "id -u")
    assert run.rc == 0, run.stderr
    assert run.stdout.strip() == "0"


def test_ranges_disjoint_and_unprivileged(host):
    ranges = [subid_range(host, user) for user in sorted(CONTAINERS.values())]
    for start, count in ranges:
        assert start >= 100000 and count == 65536
    (a, a_count), (b, b_count) = ranges
    assert a + a_count <= b or b + b_count <= a, ranges


@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_processes_run_as_uids_of_own_range(host, name):
    start, count = subid_range(host, CONTAINERS[name])
    pid = int(as_owner(host, name, "lxc-info -n %s -p -H" % name).stdout)
    with host.sudo():
        pidns = host.check_output("readlink /proc/%d/ns/pid" % pid)
        table = host.check_output("ps -e -o pidns=,uid=,comm=")
    inode = pidns.split("[")[1].rstrip("]")
    uids = [int(fields.split()[1]) for fields in table.splitlines() if fields.split()[0] == inode]
    assert len(uids) >= 2, table  # init and its services
    assert all(start <= uid < start + count for uid in uids), (uids, start)


@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_file_of_container_root_belongs_to_mapped_uid(host, name):
    start, _count = subid_range(host, CONTAINERS[name])
    run = attach(host, name, "sh -c 'echo probe > /root/fleet-probe'")
    assert run.rc == 0, run.stderr
    path = "/home/%s/.local/share/lxc/%s/rootfs/root/fleet-probe" % (CONTAINERS[name], name)
    with host.sudo():
        probe = host.file(path)
        assert probe.uid == start
        assert probe.gid == start


@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_address_on_bridge_and_gateway_reachable(host, name):
    addresses = as_owner(host, name, "lxc-info -n %s -i -H" % name).stdout.split()
    assert any(ipaddress.ip_address(a) in BRIDGE for a in addresses), addresses
    ping = attach(host, name, "ping -c 1 -W 5 %s" % GATEWAY)
    assert ping.rc == 0, ping.stdout + ping.stderr


def test_bridge_is_ipv4_only(host):
    """The role's bridge has no IPv6 address, although the node has IPv6 (LXC 6 would add a ULA)."""
    assert host.file("/proc/net/if_inet6").content_string  # the node has IPv6
    assert host.run("systemctl is-active lxc-net").stdout.strip() == "active"
    bridge = json.loads(host.check_output("ip -j addr show dev lxcbr0"))[0]
    assert [a["local"] for a in bridge["addr_info"] if a["family"] == "inet"] == [GATEWAY]
    assert [a["local"] for a in bridge["addr_info"] if a["family"] == "inet6" and a["scope"] == "global"] == []


def test_reboot_brings_back_the_autostart_containers_only(host):
    """side_effect.yml restarted the node, with lxc-net 5 s late, after starting idle (lxc-db's, autostart off)."""
    with host.sudo():
        assert not host.file("/run/fleet-lab-before-reboot").exists  # /run is new: the node did restart
        for user in CONTAINERS.values():
            unit = host.run("sudo -u %s -H sh -c 'XDG_RUNTIME_DIR=/run/user/$(id -u) systemctl --user is-active "
                            "lxc-autostart.service'" % user)
            assert unit.stdout.strip() == "active", (user, unit.stdout, unit.stderr)
        idle = host.run("sudo -u lxc-db -H lxc-info -n idle -s -H").stdout.strip()
    assert [lxc_state(host, name) for name in sorted(CONTAINERS)] == ["RUNNING", "RUNNING"]
    assert idle == "STOPPED"


def test_autostart_and_lingering(host):
    for name, user in CONTAINERS.items():
        with host.sudo():
            config = host.file("/home/%s/.local/share/lxc/%s/config" % (user, name)).content_string
            assert host.file("/var/lib/systemd/linger/%s" % user).exists
            assert host.file("/home/%s/.config/systemd/user/default.target.wants/lxc-autostart.service"
                             % user).is_symlink
        assert "lxc.start.auto = 1" in config.splitlines()


@pytest.mark.parametrize("state, lxc", [("stopped", "STOPPED"), ("frozen", "FROZEN"),
                                        ("started", "RUNNING"), ("frozen", "FROZEN"),
                                        ("stopped", "STOPPED"), ("started", "RUNNING")])
def test_transition(host, state, lxc):
    args = dict(name="db", owner="lxc-db", state=state,
                metadata=IMAGE + "/meta.tar.xz", rootfs=IMAGE + "/rootfs.tar.xz")
    first = module(host, **args)
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] and first["state"] == state
    assert lxc_state(host, "db") == lxc
    again = module(host, **args)
    assert not again["changed"] and again["actions"] == []


def lxc_tool(line):
    """The lxc-* command of an action's command line (run through sudo as the owner): the word before -n."""
    words = line.split()
    return os.path.basename(words[words.index("-n") - 1])


def test_check_mode_plans_and_changes_nothing(host):
    args = dict(name="web", owner="lxc-web", metadata=IMAGE + "/meta.tar.xz", rootfs=IMAGE + "/rootfs.tar.xz")
    for state, tools in (("stopped", ["lxc-stop"]), ("frozen", ["lxc-freeze"]), ("absent", ["lxc-stop", "lxc-destroy"])):
        planned = module(host, check=True, state=state, **args)
        assert planned["changed"] and [lxc_tool(line) for line in planned["actions"]] == tools, planned
        assert lxc_state(host, "web") == "RUNNING"
    assert not module(host, check=True, state="started", **args)["changed"]


def test_create_and_absent(host):
    args = dict(name="scratch", owner="lxc-db", metadata=IMAGE + "/meta.tar.xz",
                rootfs=IMAGE + "/rootfs.tar.xz")
    created = module(host, state="started", **args)
    assert created["changed"] and created["state"] == "started", created.get("msg")
    assert created["uid_range"] == module(host, name="db", owner="lxc-db", state="started",
                                          metadata=args["metadata"], rootfs=args["rootfs"])["uid_range"]
    removed = module(host, state="absent", **args)
    assert removed["changed"] and removed["state"] == "absent"
    with host.sudo():
        assert not host.file("/home/lxc-db/.local/share/lxc/scratch").exists
    assert not module(host, state="absent", **args)["changed"]


def refused(host, expected, **args):
    args.setdefault("metadata", IMAGE + "/meta.tar.xz")
    args.setdefault("rootfs", IMAGE + "/rootfs.tar.xz")
    result = module(host, **args)
    assert result.get("failed") and not result.get("changed"), result
    assert expected in result["msg"], result["msg"]
    return result


def test_refuses_unknown_owner(host):
    refused(host, "unknown owner 'nobody-here'", name="ghost", owner="nobody-here")


def test_refuses_owner_without_subids(host):
    result = refused(host, "has no subordinate uids: add", name="ghost", owner="lxc-nosubid")
    assert "usermod --add-subuids" in result["msg"]
    with host.sudo():
        assert not host.file("/home/lxc-nosubid/.local/share/lxc/ghost").exists


def test_refuses_overlapping_subids(host):
    start, _count = subid_range(host, "lxc-web")
    with host.sudo():
        host.check_output("usermod --add-subuids %d-%d --add-subgids %d-%d lxc-nosubid"
                          % (start + 10, start + 20, start + 10, start + 20))
        try:
            refused(host, "overlap another user's in /etc/subuid", name="ghost", owner="lxc-nosubid")
        finally:
            host.check_output("usermod --del-subuids %d-%d --del-subgids %d-%d lxc-nosubid"
                              % (start + 10, start + 20, start + 10, start + 20))


def test_refuses_missing_image(host):
    refused(host, "image not found", name="ghost", owner="lxc-web", metadata="/nonexistent/meta.tar.xz")
    with host.sudo():
        assert not host.file("/home/lxc-web/.local/share/lxc/ghost").exists


def test_refuses_invalid_name(host):
    refused(host, "invalid container name", name="bad_name", owner="lxc-web")


def test_refuses_container_of_another_user(host):
    refused(host, "container web belongs to user lxc-web", name="web", owner="lxc-db")
    assert lxc_state(host, "web") == "RUNNING"


# --- a hostile owner plants links and FIFOs where root reads and writes ---------------------------

def root_file(host, path):
    with host.sudo():
        return host.check_output("stat -c '%%u %%g %%a %%F' %s && sha256sum %s" % (path, path))


def test_role_refuses_a_planted_link_and_changes_nothing(host):
    """side_effect.yml ran the role for lxc-trap, whose ~/.config is a link to /etc."""
    with host.sudo():
        result = host.file("/root/fleet-trap-result").content_string
        before = host.file("/root/fleet-trap-before").content_string
        after = host.file("/root/fleet-trap-after").content_string
        assert host.file("/home/lxc-trap/.config").linked_to == "/etc"
        assert not host.file("/home/lxc-trap/.local").exists
        assert "lxc-trap" not in host.file("/etc/subuid").content_string
    assert "/home/lxc-trap/.config is a symbolic link to /etc" in result, result
    assert before == after


def test_module_refuses_a_container_config_linked_to_shadow(host):
    shadow = root_file(host, "/etc/shadow")
    planted = as_owner(host, "db", "sh -c 'cd ~/.local/share/lxc/db && mv config config.real && ln -s /etc/shadow config'")
    assert planted.rc == 0, planted.stderr
    try:
        result = refused(host, "db/config is a symbolic link, not a regular file", name="db", owner="lxc-db",
                         autostart=False)
        assert "root:" not in result["msg"]
    finally:
        as_owner(host, "db", "sh -c 'cd ~/.local/share/lxc/db && rm config && mv config.real config'")
    assert root_file(host, "/etc/shadow") == shadow
    assert lxc_state(host, "db") == "RUNNING"


def test_module_refuses_default_conf_as_fifo_without_blocking(host):
    planted = as_owner(host, "web", "sh -c 'cd ~/.config/lxc && mv default.conf default.conf.real && mkfifo default.conf'")
    assert planted.rc == 0, planted.stderr
    try:
        refused(host, "default.conf is a FIFO", name="ghost", owner="lxc-web")
    finally:
        as_owner(host, "web", "sh -c 'cd ~/.config/lxc && rm default.conf && mv default.conf.real default.conf'")
    with host.sudo():
        assert not host.file("/home/lxc-web/.local/share/lxc/ghost").exists


def test_module_refuses_a_linked_lxc_directory(host):
    """~/.local/share/lxc of lxc-nosubid made a link to root's /var/lib/lxc: refused, nothing written there."""
    with host.sudo():
        host.check_output("usermod --add-subuids 900000-965535 --add-subgids 900000-965535 lxc-nosubid")
        host.check_output("install -d -o lxc-nosubid -m 0750 /home/lxc-nosubid /home/lxc-nosubid/.local "
                          "/home/lxc-nosubid/.local/share")
        host.check_output("runuser -u lxc-nosubid -- ln -sfn /var/lib/lxc /home/lxc-nosubid/.local/share/lxc")
        listing = host.check_output("ls -la /var/lib/lxc")
    try:
        refused(host, "/home/lxc-nosubid/.local/share/lxc is a symbolic link or not a directory", name="ghost",
                owner="lxc-nosubid")
    finally:
        with host.sudo():
            host.check_output("usermod --del-subuids 900000-965535 --del-subgids 900000-965535 lxc-nosubid")
            host.check_output("rm /home/lxc-nosubid/.local/share/lxc")
    with host.sudo():
        assert host.check_output("ls -la /var/lib/lxc") == listing


@pytest.mark.parametrize("config, message", [
    ({"lxc.cgroup2.memory.max": "512M\nlxc.idmap = u 0 0 65536"}, "has a value with a control character"),
    ({"lxc.idmap": "u 0 0 65536"}, "config must not set lxc.idmap"),
    ({"lxc.net.0.link\nlxc.idmap": "u 0 0 65536"}, "is not an LXC configuration key"),
])
def test_module_refuses_smuggled_config(host, config, message):
    refused(host, message, name="db", owner="lxc-db", config=config)


# --- bind mounts: web writes /srv/data (host /srv/lxc/web/data), reads /srv/shared (host /srv/lxc/shared) ----

DATA = "/srv/lxc/web/data"
SHARED = "/srv/lxc/shared"
MOUNTS = [{"host_path": DATA, "path": "/srv/data"}, {"host_path": SHARED, "path": "/srv/shared", "read_only": True}]
WEB = dict(name="web", owner="lxc-web", metadata=IMAGE + "/meta.tar.xz", rootfs=IMAGE + "/rootfs.tar.xz")


def owner_mode(host, path):
    with host.sudo():
        probe = host.file(path)
        return probe.uid, probe.gid, probe.mode


def mount_lines(host):
    with host.sudo():
        config = host.file("/home/lxc-web/.local/share/lxc/web/config").content_string.splitlines()
    return [line for line in config if line.startswith("lxc.mount.entry")]


def test_mount_entries_in_the_container_config(host):
    assert mount_lines(host) == ["lxc.mount.entry = /srv/lxc/web/data srv/data none bind,create=dir 0 0",
                                 "lxc.mount.entry = /srv/lxc/shared srv/shared none bind,create=dir,ro 0 0"]


def test_root_in_the_container_writes_the_read_write_mount_as_its_mapped_uid(host):
    start, _count = subid_range(host, "lxc-web")
    assert owner_mode(host, DATA) == (start, start, 0o750)
    assert owner_mode(host, "/srv/lxc/web") == (0, 0, 0o755)
    run = attach(host, "web", "sh -c 'echo probe > /srv/data/fleet-probe && stat -c %u:%g /srv/data/fleet-probe'")
    assert run.rc == 0, run.stderr
    assert run.stdout.strip() == "0:0"  # root's, as the container sees it
    assert owner_mode(host, DATA + "/fleet-probe")[:2] == (start, start)


def test_root_in_the_container_cannot_write_the_read_only_mount_even_remounted(host):
    assert owner_mode(host, SHARED) == (0, 0, 0o755)
    with host.sudo():
        host.check_output("echo from the host > %s/fleet-note" % SHARED)
    read = attach(host, "web", "cat /srv/shared/fleet-note")
    assert read.rc == 0 and read.stdout == "from the host\n", read.stderr
    denied = attach(host, "web", "touch /srv/shared/fleet-probe")
    assert denied.rc != 0 and "Read-only file system" in denied.stderr, denied.stderr
    # Its own mount namespace: root in the container may drop the ro flag; the host directory still holds.
    remount = attach(host, "web", "mount -o remount,rw,bind /srv/shared")
    try:
        assert remount.rc == 0, remount.stderr
        again = attach(host, "web", "touch /srv/shared/fleet-probe")
        assert again.rc != 0 and "Permission denied" in again.stderr, again.stderr
    finally:
        attach(host, "web", "mount -o remount,ro,bind /srv/shared")
    with host.sudo():
        assert not host.file(SHARED + "/fleet-probe").exists


def test_a_new_mount_is_planned_in_check_mode(host):
    """(The idempotence step ran the role's mounts again: nothing changed.)"""
    start, _count = subid_range(host, "lxc-web")
    lines = mount_lines(host)
    cache = {"host_path": "/srv/lxc/web/cache", "path": "/var/cache/app"}
    planned = module(host, check=True, mounts=MOUNTS + [cache], **WEB)
    assert planned["changed"] and planned["actions"] == [
        "install -d -o %d -g %d -m 0750 /srv/lxc/web/cache" % (start, start),
        "write /home/lxc-web/.local/share/lxc/web/config lxc.mount.entry"], planned
    with host.sudo():
        assert not host.file("/srv/lxc/web/cache").exists
    assert mount_lines(host) == lines


def test_a_link_the_container_root_plants_in_its_directory_leads_root_nowhere(host):
    """Root in web owns /srv/lxc/web/data: a mount below it is refused, whatever it planted there."""
    start, _count = subid_range(host, "lxc-web")
    planted = attach(host, "web", "ln -s /etc /srv/data/evil")
    assert planted.rc == 0, planted.stderr
    with host.sudo():
        etc = host.check_output("stat -c '%u %g %a' /etc && ls -lan /etc")
    try:
        refused(host, "/srv/lxc/web/data belongs to uid %d, not to root" % start,
                mounts=[{"host_path": DATA + "/evil/fleet", "path": "/srv/evil"}], **WEB)
    finally:
        attach(host, "web", "rm /srv/data/evil")
    with host.sudo():
        assert not host.file("/etc/fleet").exists
        assert host.check_output("stat -c '%u %g %a' /etc && ls -lan /etc") == etc
