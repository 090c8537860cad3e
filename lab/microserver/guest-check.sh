#!/usr/bin/env bash
# Runs inside a freshly booted lab microserver (molecule/shared/microserver_create.yml pipes it
# through lab/microserver/ssh): checks that the guest offers what the RAID scenarios rely on,
# so that a broken image fails at create with the reason, not in the middle of a scenario.
# Usage: bash -s -- DISK_SIZE DISK...   (DISK_SIZE as given to `up`, e.g. 512M; DISK: vda..)
set -uo pipefail
size=$(numfmt --from=iec "${1:?disk size}") || exit 2
shift
problems=()
problem() { problems+=("$*"); }

root=$(findmnt -n -o SOURCE /)
[ "$root" = /dev/sda ] || problem "/ is on $root, not /dev/sda"

# A disk left out with `up --omit-disk` shifts the names of the others: match disks by serial.
expected=$(printf 'fleet-%s\n' "$@" | sort | tr '\n' ' ')
present=$(lsblk -d -n -o SERIAL /dev/vd? 2>/dev/null | sort | tr '\n' ' ')
[ "$present" = "$expected" ] || problem "data disks have serials '$present', expected '$expected'"
for disk in "$@"; do
  device=/dev/disk/by-id/virtio-fleet-$disk
  [ -b "$device" ] || continue
  actual=$(blockdev --getsize64 "$device")
  [ "$actual" = "$size" ] || problem "$disk has $actual bytes, expected $size"
  [ -z "$(wipefs --noheadings "$device")" ] || problem "$disk is not blank: $(wipefs --noheadings "$device")"
  blkid -p "$device" >/dev/null 2>&1
  [ $? -eq 2 ] || problem "blkid finds something on $disk"
  [ "$(lsblk -n -o NAME "$device" | wc -l)" = 1 ] || problem "$disk has partitions"
done

modprobe -a raid0 raid1 raid10 raid456 || problem "the md modules do not load"
for personality in raid0 raid1 raid10 raid4 raid5 raid6; do
  grep -q "\[$personality\]" /proc/mdstat || problem "md lacks the $personality personality"
done
! lsblk -d -n -o NAME | grep -q '^md' || problem "an md array exists already"

for package in mdadm e2fsprogs xfsprogs btrfs-progs grub-pc-bin grub2-common rsync python3; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
    || problem "package $package is not installed"
done
for unit in apt-daily.timer e2scrub_all.timer fstrim.timer mdcheck_start.timer mdmonitor-oneshot.timer; do
  state=$(systemctl is-enabled "$unit" 2>/dev/null)
  [ "$state" = masked ] || problem "$unit is '$state', not masked (it would disturb the scenarios)"
done

if [ ${#problems[@]} -gt 0 ]; then
  printf 'the lab microserver is not as the scenarios need it:\n' >&2
  printf '  %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "lab microserver ok: root on $root, blank disks $*, $size bytes each, md personalities, tools, background jobs masked"
