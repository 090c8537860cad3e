#!/usr/bin/env bash
# Usage: fingerprint.sh [EXTRA_DEVICE...]
# Prints what a refused request must leave unchanged: device sizes, blkid TYPE/UUID/LABEL,
# filesystem sizes (ext block count, XFS data blocks, btrfs device sizes), swap headers and
# the active swaps (name, type, size, priority).
set -euo pipefail
for dev in /dev/vdd2 /dev/vdd3 /dev/vdd4 /dev/vda2 /dev/md0 /dev/md1 /dev/vdc3 "$@"; do
  echo "$dev $(blockdev --getsize64 "$dev") $(blkid -p -s TYPE -s UUID -s LABEL -o export "$dev" | sort | tr '\n' ' ')"
  case $(blkid -p -s TYPE -o value "$dev" || true) in
    ext*) dumpe2fs -h "$dev" 2>/dev/null | grep '^Block count' ;;
    xfs) xfs_info "$dev" | grep '^data' ;;  # the mounted filesystem's geometry, not a stale superblock
    swap) dd if="$dev" bs=4096 count=1 status=none | sha256sum ;;
  esac
done
btrfs filesystem show --raw /dev/vda3 | grep devid
awk '{print $1, $2, $3, $5}' /proc/swaps
