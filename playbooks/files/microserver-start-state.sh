#!/usr/bin/env bash
# Lab only (molecule raid, make demo): builds the documented start state of the microserver on
# the lab guest's four data disks
# (vda..vdd, partitioned alike: bios_grub, boot, swap), with a bootable /boot:
#   md1 = RAID1 of vdb2+vdc2, ext4 on /boot (fstab by UUID) holding the guest's kernel and
#         initrd, a GRUB configuration and known files; GRUB installed on vdb and vdc;
#   md0 = RAID0 of vda3+vdb3+vdc3, swap (LABEL=swap) in fstab by UUID;
#   mdadm.conf lists both arrays, and so does the initramfs on /boot.
# Records under /root/start-state/: checksums of every file on /boot, fstab, swap UUID/LABEL.
# --blank-vdd: vdd is left blank, a new fourth disk for the job to partition (raid_reshape_new_disks).
set -euo pipefail
[ ! -e /root/start-state ] || { echo "start state already built"; exit 0; }
disks="vda vdb vdc vdd"
if [ "${1:-}" = --blank-vdd ]; then
  disks="vda vdb vdc"
  wipefs --all --quiet /dev/vdd
fi
for d in $disks; do
  sfdisk --quiet --wipe always "/dev/$d" <<'TABLE'
label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name=bios_grub
size=96MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name=boot
size=64MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name=swap
TABLE
done
udevadm settle
mdadm --create /dev/md1 --metadata=1.2 --level=1 --raid-devices=2 --run --quiet /dev/vdb2 /dev/vdc2
mdadm --create /dev/md0 --metadata=1.2 --level=0 --raid-devices=3 --chunk=512 --run --quiet \
  /dev/vda3 /dev/vdb3 /dev/vdc3
mdadm --wait /dev/md1 || true

mkswap -L swap /dev/md0 >/dev/null
mkfs.ext4 -q -L boot /dev/md1
swap_uuid=$(blkid -s UUID -o value /dev/md0)
boot_uuid=$(blkid -s UUID -o value /dev/md1)

# /boot: the guest's kernel and initrd, a minimal GRUB configuration and known files.
mount /dev/md1 /mnt
cp -a /boot/. /mnt/
kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sort -V | tail -n 1)
mkdir -p /mnt/grub /mnt/data
cat >/mnt/grub/grub.cfg <<CFG
set timeout=0
insmod part_gpt
insmod diskfilter
insmod mdraid1x
insmod ext2
search --no-floppy --fs-uuid --set=root $boot_uuid
linux /$kernel root=LABEL=root rw console=ttyS0 net.ifnames=0 mitigations=off
initrd /initrd.img-${kernel#vmlinuz-}
boot
CFG
for i in 1 2 3; do head -c $((6 * 1024 * 1024)) /dev/urandom >"/mnt/data/file$i"; done
umount /mnt

cat >>/etc/fstab <<FSTAB
UUID=$boot_uuid /boot ext4 defaults,nofail 0 2
UUID=$swap_uuid none swap sw 0 0
FSTAB
systemctl daemon-reload
mount /boot
swapon -a
{
  grep -v '^ARRAY' /etc/mdadm/mdadm.conf
  mdadm --detail --brief /dev/md0 /dev/md1
} >/etc/mdadm/mdadm.conf.new
mv /etc/mdadm/mdadm.conf.new /etc/mdadm/mdadm.conf
# Like any server whose arrays predate the job, the initramfs knows them (by UUID, which no
# reshape changes): append mdadm.conf to the initrd on /boot as an extra cpio archive rather
# than spend minutes in update-initramfs under TCG.
initrd=/boot/initrd.img-${kernel#vmlinuz-}
extra=$(mktemp -d)
mkdir -p "$extra/etc/mdadm"
cp /etc/mdadm/mdadm.conf "$extra/etc/mdadm/"
# The kernel looks for the next archive at a 4-byte boundary after the compressed one.
padding=$(( (4 - $(stat -c %s "$initrd") % 4) % 4 ))
head -c "$padding" /dev/zero >>"$initrd"
(cd "$extra" && find etc | cpio -o -H newc --quiet) >>"$initrd"
rm -rf "$extra"
grub-install --target=i386-pc /dev/vdb 2>&1
grub-install --target=i386-pc /dev/vdc 2>&1

mkdir -p /root/start-state
(cd /boot && find . -type f ! -path './grub/*' ! -path './lost+found/*' -print0 | sort -z | xargs -0 sha256sum) \
  >/root/start-state/boot.sha256
cp /etc/fstab /root/start-state/fstab
blkid -o export /dev/md0 | grep -E '^(UUID|LABEL)=' >/root/start-state/swap
sync
