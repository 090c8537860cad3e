#!/usr/bin/env bash
# hostile-fingerprint FILE: writes into FILE what no refused request may change. Left out, as
# they move on their own: mdadm's Update Time and Events (a clean/active flip of a mounted
# array bumps them), the Used column of /proc/swaps, the tmpfs of a login session (/run/user).
set -uo pipefail
export LC_ALL=C
exec >"$1" 2>&1
section() { printf '\n== %s\n' "$*"; }

section /boot and GRUB on every disk
sha256sum /boot/grub/grub.cfg /boot/initrd.img-* /boot/vmlinuz-*
stat -c '%n %s %Y' /boot/grub/grub.cfg /boot/initrd.img-*
for disk in vda vdb vdc vdd; do
  printf '%s boot code ' "$disk"; dd if=/dev/$disk bs=440 count=1 status=none | sha256sum
  printf '%s1 bios_grub ' "$disk"; sha256sum </dev/${disk}1
done
sync
sleep 2   # md marks an array clean 200 ms after its last write

section mdadm --detail
for md in /dev/md[0-9]*; do mdadm --detail "$md" | grep -vE '^ *(Update Time|Events) :'; done
section /proc/mdstat
cat /proc/mdstat
section blkid
blkid -c /dev/null | sort
section /proc/swaps
awk '{print $1, $2, $3, $5}' /proc/swaps
section mounts
findmnt -rn -o TARGET,SOURCE,FSTYPE,OPTIONS | grep -v '^/run/user/' | sort
section /etc/fstab
cat /etc/fstab
section /etc/mdadm/mdadm.conf
cat /etc/mdadm/mdadm.conf
section udev rules, modules-load.d, raid_reshape state, systemd wants
for dir in /etc/udev/rules.d /etc/modules-load.d /var/lib/fleet-raid-reshape /etc/systemd/system; do
  find "$dir" -printf '%p %y %m %u %g %s %T@ %l\n' | sort
done
sha256sum /etc/udev/rules.d/* /etc/modules-load.d/*
section I/O schedulers
grep -H . /sys/block/*/queue/scheduler
lsmod | awk '$1 ~ /^(bfq|kyber_iosched)$/ {print $1}' | sort
section what was planted in /root
find /root -maxdepth 1 ! -name '.*' ! -name hostile -printf '%p %y %m %u %s %l\n' | sort
sha256sum /root/vdd2 /root/md0 /root/md1
