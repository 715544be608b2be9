#!/bin/sh
# Mount the USB disk read-only, as IT would, and run the installer from it (no network, --yes).
set -eu
BUNDLE_NAME=${BUNDLE_NAME:-appliance-cpu}
modprobe usb-storage 2>/dev/null || true
udevadm settle || true
DEV=$(blkid -L APPLIANCE) || { echo "no disk labelled APPLIANCE (the USB image) attached" >&2; exit 1; }
mkdir -p /media/usb
mountpoint -q /media/usb || mount -o ro,nodev,nosuid "$DEV" /media/usb
sh "/media/usb/$BUNDLE_NAME/installer/install.sh" --yes
test "$(readlink /opt/appliance/current)" = "versions/$(cat /opt/appliance/installed-version)"
/opt/appliance/current/bin/appliance --version
# anti-rollback is recorded: the same bundle again is a no-op, an older one would exit 4
sh "/media/usb/$BUNDLE_NAME/installer/install.sh" --yes | grep -q "already installed"
umount /media/usb
