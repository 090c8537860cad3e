#!/usr/bin/env bash
# Plants, on top of the microserver's start state (playbooks/files/microserver-start-state.sh:
# md1 = RAID1 of vdb2+vdc2 with ext4 on /boot, md0 = RAID0 of vda3+vdb3+vdc3 with swap), what a
# wrong inventory or a hostile user gives the modules:
#   vda2 (96M) ext4 holding a file, not mounted        vdd2 (96M) blank, a fit new member
#   vdd3 (64M) ext4 and btrfs signatures (blkid -p: ambivalent, exit 8; nothing, exit 2, on Debian 13)
#   vdd4 (16M) ext4 mounted on /srv/busy               vdd5 (8M) blank, too small for any array
#   /root/vdd2, /root/md0, /root/md1: regular files named like devices (a dd to a mistyped name)
#   /root/fifo, /root/dir; links: /root/link-vdd2 -> /root/vdd2 (a file),
#   /root/link-dangling -> /dev/vdq, /root/disk-vdd2 -> /dev/vdd2 (the real partition)
#   /srv/ramfs (ramfs; /dev/shm is tmpfs already), a udev rules file and a modules-load.d file
#   of another tool.
set -euo pipefail
printf 'size=16MiB\nsize=8MiB\n' | sfdisk --quiet --append /dev/vdd
udevadm settle

mkfs.ext4 -q -F -L data /dev/vda2
mkdir -p /mnt/vda2 && mount /dev/vda2 /mnt/vda2
echo 'data nobody may lose' >/mnt/vda2/keep && umount /mnt/vda2 && rmdir /mnt/vda2

# ext4, then a btrfs superblock (at 64 KiB) copied from a scratch image: two signatures.
mkfs.ext4 -q -F /dev/vdd3
scratch=$(mktemp /var/tmp/btrfs.XXXXXX)
truncate -s 128M "$scratch" && mkfs.btrfs -q -f "$scratch" >/dev/null
dd if="$scratch" of=/dev/vdd3 bs=4096 skip=16 seek=16 count=1 conv=notrunc status=none
rm -f "$scratch"
# blkid -p: exit 8, ambivalent (util-linux 2.38, Debian 12); exit 2, nothing (2.41, Debian 13). wipefs lists both.
rc=0; blkid -p /dev/vdd3 >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 8 ] || [ "$rc" -eq 2 ] || { echo "vdd3: blkid -p exit $rc, not 8 (ambivalent) nor 2 (nothing)" >&2; exit 1; }
types=$(wipefs --no-act --noheadings --output TYPE /dev/vdd3 | sort | tr '\n' ' ')
[ "$types" = "btrfs ext4 " ] || { echo "vdd3: wipefs lists '$types', not btrfs and ext4" >&2; exit 1; }

mkfs.ext4 -q -F /dev/vdd4 && mkdir -p /srv/busy && mount /dev/vdd4 /srv/busy
wipefs -q -a /dev/vdd5
mkdir -p /srv/ramfs && mount -t ramfs ramfs /srv/ramfs

head -c 1048576 /dev/zero >/root/vdd2
head -c 1048576 /dev/zero >/root/md0
head -c 1048576 /dev/zero >/root/md1
mkfifo /root/fifo
mkdir -p /root/dir
ln -sfn /root/vdd2 /root/link-vdd2
ln -sfn /dev/vdq /root/link-dangling
ln -sfn /dev/vdd2 /root/disk-vdd2
echo 'ACTION=="add", KERNEL=="sdz", ATTR{queue/scheduler}="mq-deadline"' >/etc/udev/rules.d/61-foreign.rules
printf '# the backup job needs it\nbfq\n' >/etc/modules-load.d/61-foreign.conf

mkdir -p /root/hostile
sync
touch /root/hostile/planted
