#!/usr/bin/env bash
# Runs inside a freshly booted lab microserver (molecule/shared/microserver_create.yml pipes it
# through lab/microserver/ssh): checks that the guest offers what the RAID scenarios rely on,
# so that a broken image fails at create with the reason, not in the middle of a scenario.
# Usage: [LAB_RELEASE=trixie] bash -s -- DISK_SIZE DISK...   (DISK_SIZE as given to `up`, e.g. 512M;
# DISK: vda..; LAB_RELEASE, if given, is the Debian codename the guest must run)
set -uo pipefail
size=$(numfmt --from=iec "${1:?disk size}") || exit 2
shift
problems=()
problem() { problems+=("$*"); }

# shellcheck source=/dev/null
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -z "${LAB_RELEASE:-}" ] || [ "$codename" = "$LAB_RELEASE" ] || problem "the guest runs Debian '$codename', not $LAB_RELEASE"

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
  signatures=$(wipefs --noheadings -O TYPE "$device" | sort -u | tr '\n' ' ')
  [ -z "$signatures" ] || problem "$disk is not blank: $signatures"
  blkid -p "$device" >/dev/null 2>&1
  [ $? -eq 2 ] || problem "blkid finds something on $disk"
  [ "$(lsblk -n -o NAME "$device" | wc -l)" = 1 ] || problem "$disk has partitions"
done

modprobe -a raid0 raid1 raid10 raid456 || problem "the md modules do not load"
for personality in raid0 raid1 raid10 raid4 raid5 raid6; do
  grep -q "\[$personality\]" /proc/mdstat || problem "md lacks the $personality personality"
done
! grep -q '^md' /proc/mdstat || problem "an md array exists already: $(grep '^md' /proc/mdstat | cut -d' ' -f1 | tr '\n' ' ')"

# One dpkg-query and one systemctl for all (each process start is slow under TCG).
packages=(mdadm e2fsprogs xfsprogs btrfs-progs grub-pc-bin grub2-common rsync python3)
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null)
for package in "${packages[@]}"; do
  grep -qx "$package install ok installed" <<<"$installed" || problem "package $package is not installed"
done
units=(apt-daily.timer e2scrub_all.timer fstrim.timer mdcheck_start.timer mdmonitor-oneshot.timer)
mapfile -t states < <(systemctl is-enabled "${units[@]}" 2>/dev/null)
for i in "${!units[@]}"; do
  [ "${states[$i]:-}" = masked ] || problem "${units[$i]} is '${states[$i]:-}', not masked (it would disturb the scenarios)"
done
# The image masks units that only slow the boot (lab/microserver/build): none of those the scenarios
# rely on may be among them. (Units that failed are not checked: under TCG on a loaded machine a unit
# can time out without touching what the scenarios test.)
needed=(ssh.service systemd-networkd.service systemd-udevd.service systemd-modules-load.service
  mdadm-grow-continue@md0.service mdmonitor.service)
mapfile -t states < <(systemctl is-enabled "${needed[@]}" 2>/dev/null)
for i in "${!needed[@]}"; do
  [[ "${states[$i]:-}" != masked* ]] || problem "${needed[$i]} is masked (the scenarios rely on it)"
done
[ -e /usr/lib/udev/rules.d/64-md-raid-assembly.rules ] || problem "mdadm's udev incremental assembly rules are missing"

if [ ${#problems[@]} -gt 0 ]; then
  printf 'the lab microserver is not as the scenarios need it:\n' >&2
  printf '  %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "lab microserver ok: Debian $codename, Linux $(uname -r), mdadm $(mdadm --version 2>&1 | cut -d' ' -f3)," \
  "root on $root, blank disks $*, $size bytes each, md personalities, tools, background jobs masked"
