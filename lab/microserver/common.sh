# shellcheck shell=bash disable=SC2034
# Shared by the lab/microserver scripts, and by lab/arm64-node's through its common.sh (sourced, not run).
# LAB_KIND names the kind of guest a state directory holds (its marker file is .fleet-LAB_KIND).
LAB_KIND=${LAB_KIND:-microserver}
FLEET_CACHE=${FLEET_CACHE:-$HOME/.cache/fleet-linux}
LAB_KEY="$FLEET_CACHE/lab_ssh_key"
LAB_DATA_DISKS=(vda vdb vdc vdd)
LAB_SSH_OPTS=(
  -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
  -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=10
  -o ServerAliveInterval=15 -o ServerAliveCountMax=8
)

lab_die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# lab_state_dir DIR: absolute path of an existing state directory of a LAB_KIND guest.
lab_state_dir() {
  [ -f "$1/.fleet-$LAB_KIND" ] || lab_die "$1 is not a $LAB_KIND state directory (no .fleet-$LAB_KIND)"
  (cd "$1" && pwd)
}

# lab_qemu_pid DIR: the pid of the QEMU running DIR's guest, or nothing.
lab_qemu_pid() {
  local pid
  pid=$(cat "$1/qemu.pid" 2>/dev/null) || return 0
  # The pid file outlives QEMU: make sure the pid is still this guest's QEMU.
  if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$1/root.qcow2"; then
    echo "$pid"
  fi
}

# lab_ssh DIR ARGS...: ssh to DIR's guest as root; ARGS as for ssh after the host.
lab_ssh() {
  local dir=$1 port
  shift
  port=$(cat "$dir/port") || lab_die "$dir/port missing: is the guest up?"
  ssh "${LAB_SSH_OPTS[@]}" -i "$LAB_KEY" -p "$port" root@127.0.0.1 "$@"
}
