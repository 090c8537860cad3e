#!/usr/bin/env bash
# Builds the documented start state on the lab microserver's four data disks (vda..vdd):
#   md1 = RAID1 of vdb2+vdc2 (like sdb2+sdc2), ext4 mounted on /srv/boot with known files;
#   md0 = RAID0 of vda3+vdb3+vdc3, swap by UUID in fstab;
# plus arrays for other transitions and for the refusal cases:
#   md2 = RAID1 of vda4+vdb4 (-> RAID6 of four), md3 = RAID0 of vda5+vdb5 (-> RAID10 of four),
#   md4 = RAID1 of vda6+vdb6 made degraded, md5 = RAID1 of vdc6+vdd6 with ext4 on /srv/md5,
#   vda7..vdd7 too small to join anything, vdd7 mounted on /srv/busy.
set -euo pipefail
for d in vda vdb vdc vdd; do
  sfdisk --quiet --wipe always "/dev/$d" <<'TABLE'
label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name=bios_grub
size=96MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name=boot
size=64MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name=swap
size=48MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name=data4
size=48MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name=data5
size=32MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name=data6
size=16MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name=small
TABLE
done
udevadm settle
create() { mdadm --create "$@" --metadata=1.2 --run --quiet; }
create /dev/md1 --level=1 --raid-devices=2 /dev/vdb2 /dev/vdc2
create /dev/md0 --level=0 --raid-devices=3 --chunk=512 /dev/vda3 /dev/vdb3 /dev/vdc3
create /dev/md2 --level=1 --raid-devices=2 /dev/vda4 /dev/vdb4
create /dev/md3 --level=0 --raid-devices=2 /dev/vda5 /dev/vdb5
create /dev/md4 --level=1 --raid-devices=2 /dev/vda6 /dev/vdb6
create /dev/md5 --level=1 --raid-devices=2 /dev/vdc6 /dev/vdd6
mdadm --wait /dev/md1 /dev/md2 /dev/md4 /dev/md5 || true
mdadm /dev/md4 --fail /dev/vdb6 --remove /dev/vdb6

mkswap -L swap /dev/md0 >/dev/null
swapon /dev/md0
echo "UUID=$(blkid -s UUID -o value /dev/md0) none swap sw 0 0" >> /etc/fstab

fill() {  # fill DEVICE MOUNTPOINT: ext4 with known files, checksums in /root/checksums-NAME
  mkfs.ext4 -q -F "$1"
  mkdir -p "$2" && mount "$1" "$2"
  for i in 1 2 3; do head -c $((3 * 1024 * 1024)) /dev/urandom > "$2/file$i"; done
  (cd "$2" && sha256sum file*) > "/root/checksums-$(basename "$1")"
}
fill /dev/md1 /srv/boot
fill /dev/md2 /srv/md2
fill /dev/md3 /srv/md3
fill /dev/md5 /srv/md5
mkfs.ext4 -q -F /dev/vdd7 && mkdir -p /srv/busy && mount /dev/vdd7 /srv/busy
sync
