#!/usr/bin/env bash
# Usage: swap_pressure.sh start | stop
# start: turns md0's swap off (so no other swap has room), makes a 128 MiB swap on the empty
# 320 MiB partition vdd3 (so it needs a rebuild; a swap on a loop file is too slow to reclaim
# into under TCG and the cgroup OOM-kills), pushes about 100 MiB of a process's memory into it
# (a cgroup with memory.max=24M), then reserves huge pages until MemAvailable is about 56 MiB:
# too little to take that swap back. Prints the swap device.
# stop: undoes all of it (vdd3 empty again) and turns md0's swap on again with its priority.
set -euo pipefail
state=/root/fs_swap
cgroup=/sys/fs/cgroup/fs_swap_hog
case $1 in
start)
  swapoff /dev/md0
  dev=/dev/vdd3
  echo "$dev" >"$state/swap.pressure"
  mkswap -q -L pressure "$dev" 131072 >/dev/null
  swapon "$dev"
  mkdir -p "$cgroup"
  echo 24M >"$cgroup/memory.max"
  rm -f /run/fs_swap_hog.ready
  # setsid: out of the SSH session's process group, or its hangup would kill the hog.
  (echo "$BASHPID" >"$cgroup/cgroup.procs"; exec setsid python3 -c "
import time
hog = bytearray(128 * 2**20)
for i in range(0, len(hog), 4096):
    hog[i] = 1
open('/run/fs_swap_hog.ready', 'w').close()
time.sleep(3600)") </dev/null >/dev/null 2>&1 &
  for _ in $(seq 300); do [ -e /run/fs_swap_hog.ready ] && break; sleep 1; done
  [ -e /run/fs_swap_hog.ready ] || { echo "the memory hog did not start" >&2; exit 1; }
  used=$(awk -v dev="$dev" '$1 == dev {print $4}' /proc/swaps)
  [ "$used" -ge $((64 * 1024)) ] || { echo "only ${used} KiB went to $dev: no memory pressure" >&2; exit 1; }
  available=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
  echo $(( (available - 56 * 1024) / 2048 )) >/proc/sys/vm/nr_hugepages
  echo "$dev"
  ;;
stop)
  echo 0 >/proc/sys/vm/nr_hugepages
  if [ -d "$cgroup" ]; then
    xargs -r kill <"$cgroup/cgroup.procs" 2>/dev/null || true
    while [ -s "$cgroup/cgroup.procs" ]; do sleep 1; done
    # the cgroup stays busy for a moment while the hog's swapped pages are freed
    for _ in $(seq 60); do rmdir "$cgroup" 2>/dev/null && break; sleep 1; done
    [ ! -d "$cgroup" ] || { echo "cannot remove $cgroup" >&2; exit 1; }
  fi
  if [ -f "$state/swap.pressure" ]; then
    dev=$(cat "$state/swap.pressure")
    swapoff "$dev" 2>/dev/null || true
    wipefs -q -a "$dev"
    rm -f "$state/swap.pressure"
  fi
  grep -q '^/dev/md0 ' /proc/swaps || swapon -p 5 /dev/md0
  ;;
esac
