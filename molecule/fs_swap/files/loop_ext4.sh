#!/usr/bin/env bash
# Mounts an ext4 on a loop device, then grows its backing file: an online grow to do.
set -euo pipefail
img=/root/fs_swap/ext4.img
truncate -s 64M "$img"
dev=$(losetup --show -f "$img")
mkfs.ext4 -q -L loopext4 "$dev"
mkdir -p /mnt/fs_swap_loop
mount "$dev" /mnt/fs_swap_loop
truncate -s 96M "$img"
losetup -c "$dev"
echo "$dev"
