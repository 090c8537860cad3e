#!/usr/bin/env bash
# Usage: fingerprint.sh [EXTRA_DEVICE...]
# Prints what a refused request must leave unchanged: device sizes, blkid TYPE/UUID/LABEL,
# filesystem sizes (ext block count, XFS data blocks, btrfs device sizes), swap headers and
# the active swaps (name, type, size, priority).
# One blockdev and one blkid for all the devices, the rest filtered by bash itself: a process costs
# a TCG guest about 0.1 s, and the script ran 50 of them.
set -euo pipefail
devices=(/dev/vdd2 /dev/vdd3 /dev/vdd4 /dev/vda2 /dev/md0 /dev/md1 /dev/vdc3 "$@")
mapfile -t sizes < <(blockdev --getsize64 "${devices[@]}")
[ "${#sizes[@]}" -eq "${#devices[@]}" ] || { echo "blockdev gave ${#sizes[@]} sizes for ${#devices[@]} devices" >&2; exit 1; }
# blkid prints DEVNAME= then the tags of each device that has any (exit 2 when it found none on one).
tags=$(blkid -p -s TYPE -s UUID -s LABEL -o export "${devices[@]}") || [ $? -eq 2 ]
declare -A ids types
name=
while IFS= read -r line; do
  case $line in
    DEVNAME=*) name=${line#DEVNAME=}; ids[$name]= ;;  # a device given twice is printed twice
    TYPE=*) types[$name]=${line#TYPE=}; ids[$name]+="$line " ;;
    ?*) ids[$name]+="$line " ;;
  esac
done <<<"$tags"
# The lines of COMMAND's output that match the glob PATTERN.
matching() {  # PATTERN COMMAND...
  local pattern=$1 line; shift
  # shellcheck disable=SC2053  # the pattern is a glob
  while IFS= read -r line; do [[ $line != $pattern ]] || echo "$line"; done < <("$@")
}
for i in "${!devices[@]}"; do
  dev=${devices[$i]}
  echo "$dev ${sizes[$i]} ${ids[$dev]:-}"
  case ${types[$dev]:-} in
    ext*) matching 'Block count*' dumpe2fs -h "$dev" 2>/dev/null ;;
    xfs) matching 'data*' xfs_info "$dev" ;;  # the mounted filesystem's geometry, not a stale superblock
    swap) dd if="$dev" bs=4096 count=1 status=none | sha256sum ;;
  esac
done
matching '*devid*' btrfs filesystem show --raw /dev/vda3
while read -r swap type size _used priority; do echo "$swap $type $size $priority"; done </proc/swaps
