#!/usr/bin/env bash
# Builds the start state of the fs_swap scenario on the lab microserver (four 1 GiB disks), with
# plain mdadm/sfdisk/mkfs commands, then grows the devices under the filesystems and the swap:
#   md0   RAID0 of vda1 vdb1 vdc1 (64 MiB each), swap labelled 'swap one' (a space: blkid prints
#         LABEL=swap\ one), in fstab by UUID (pri=5),
#         then grown to 4 members with vdd1 (RAID4 during the reshape, back to RAID0)
#   md1   RAID0 of vda2 vdb2, ext4 LABEL=boot on /srv/boot, then grown to 3 members with vdc2
#   vdc3  XFS LABEL=xfs on /srv/xfs, partition grown 320 -> 448 MiB while mounted
#   vda3+vdb3  btrfs LABEL=btr on /srv/btrfs, both partitions grown 320 -> 448 MiB while mounted
#   vdd4  XFS LABEL=cold, unmounted, partition grown 320 -> 384 MiB
#   vdd2  ext4 LABEL=small whose partition was then shrunk 64 -> 48 MiB (device < filesystem)
#   vdd3  an empty partition
# Records for verify: /root/fs_swap/{fstab.sha256,data.sha256,ids.before}.
set -euo pipefail
trap 'echo "prepare.sh: line $LINENO failed (exit $?): $BASH_COMMAND"' ERR
state=/root/fs_swap
mkdir -p "$state"

# One table per disk, each written once: a second sfdisk on a disk whose new partitions udev is still
# probing cannot make the kernel re-read it (busy), and the kernel would keep the old table.
udevadm settle
for disk in vda vdb vdc vdd; do
  table='label: gpt
start=1MiB, size=64MiB, name=swap
size=64MiB, name=boot
size=320MiB, name=data'
  [ "$disk" != vdd ] || table+=$'\nsize=320MiB'
  sfdisk -q "/dev/$disk" <<<"$table"
  udevadm settle
  partx -u "/dev/$disk"  # a re-read that found the disk busy is made good here
done
udevadm settle
for part in vda1 vda2 vda3 vdb1 vdb2 vdb3 vdc1 vdc2 vdc3 vdd1 vdd2 vdd3 vdd4; do
  [ -b "/dev/$part" ] || { echo "prepare.sh: the kernel has no /dev/$part after partitioning"; exit 1; }
done

mdadm --create /dev/md0 --run --level=0 --raid-devices=3 /dev/vda1 /dev/vdb1 /dev/vdc1
mdadm --create /dev/md1 --run --level=0 --raid-devices=2 /dev/vda2 /dev/vdb2
udevadm settle
mkswap -L 'swap one' /dev/md0
mkfs.ext4 -q -L boot /dev/md1
mkfs.xfs -q -L xfs /dev/vdc3
mkfs.btrfs -q -L btr /dev/vda3 /dev/vdb3 >/dev/null
mkfs.xfs -q -L cold /dev/vdd4
mkfs.ext4 -q -L small /dev/vdd2
wipefs -q -a /dev/vdd3
udevadm settle

cat >>/etc/fstab <<FSTAB
UUID=$(blkid -s UUID -o value /dev/md0) none swap sw,pri=5 0 0
UUID=$(blkid -s UUID -o value /dev/md1) /srv/boot ext4 defaults,nofail 0 2
LABEL=xfs /srv/xfs xfs defaults,nofail 0 0
UUID=$(blkid -s UUID -o value /dev/vda3) /srv/btrfs btrfs defaults,nofail 0 0
FSTAB
mkdir -p /srv/boot /srv/xfs /srv/btrfs
systemctl daemon-reload
swapon -a
mount /srv/boot
mount /srv/xfs
mount /srv/btrfs

for fs in boot xfs btrfs; do
  head -c 8M /dev/urandom >"/srv/$fs/data.bin"
  cp -a /etc/fstab "/srv/$fs/fstab.copy"
done
sync
sha256sum /srv/{boot,xfs,btrfs}/{data.bin,fstab.copy} >"$state/data.sha256"
sha256sum /etc/fstab >"$state/fstab.sha256"
for dev in md0 md1 vdc3 vda3 vdb3 vdd4 vdd2; do
  # tab-separated: blkid's values hold escaped spaces (LABEL=swap\ one)
  echo "$dev	$(blkid -p -s TYPE -s UUID -s LABEL -o export "/dev/$dev" | sort | tr '\n' '\t')"
done >"$state/ids.before"

# Grow every device under a filesystem or the swap.
mdadm --grow /dev/md0 --raid-devices=4 --add /dev/vdd1
mdadm --grow /dev/md1 --raid-devices=3 --add /dev/vdc2
grow_partition() {  # DISK NUMBER SIZE
  echo ", $3" | sfdisk -q --no-reread --no-tell-kernel -N "$2" "/dev/$1"
  partx -u -n "$2" "/dev/$1"
}
for disk in vda vdb vdc; do grow_partition "$disk" 3 448MiB; done
grow_partition vdd 4 384MiB
grow_partition vdd 2 48MiB
# mdadm's grow-continue takes a grown RAID0 back to raid0 when its reshape ends; it is done here only if
# that has not happened yet (both at once: one of them fails; the level reached is what counts).
for md in md0 md1; do
  mdadm --wait "/dev/$md" || true
  while grep -q reshape /proc/mdstat; do sleep 1; done
  level=/sys/block/$md/md/level
  [ "$(cat "$level")" = raid0 ] || mdadm --grow "/dev/$md" --level=0 || true
  for _ in $(seq 30); do [ "$(cat "$level")" != raid0 ] || break; sleep 1; done
  [ "$(cat "$level")" = raid0 ] || { echo "prepare.sh: /dev/$md is $(cat "$level") after its reshape, not raid0"; exit 1; }
done
udevadm settle
cat /proc/mdstat
