#!/bin/sh
# make-usb-image.sh BUNDLE_DIR [IMAGE] - put a built bundle on an ext4 disk image, as on a USB stick.
# Needs only e2fsprogs (mke2fs -d copies a directory into the new filesystem; no root, no loop mount).
set -eu
[ $# -ge 1 ] || { echo "usage: $0 BUNDLE_DIR [IMAGE]" >&2; exit 2; }
BUNDLE=$1
IMAGE=${2:-$(dirname -- "$0")/appliance-usb.img}
[ -f "$BUNDLE/MANIFEST.json" ] || { echo "$BUNDLE is not a bundle (no MANIFEST.json)" >&2; exit 2; }
NAME=$(basename -- "$BUNDLE")
STAGE=$(mktemp -d)
trap 'rm -rf -- "$STAGE"' EXIT
mkdir "$STAGE/$NAME"
cp -RP -- "$BUNDLE/." "$STAGE/$NAME/"
KB=$(du -sk "$STAGE" | awk '{print $1}')
SIZE_MB=$((KB * 12 / 10240 + 64))
rm -f -- "$IMAGE"
mke2fs -q -t ext4 -L APPLIANCE -d "$STAGE" "$IMAGE" "${SIZE_MB}M"
echo "wrote $IMAGE (${SIZE_MB} MiB, label APPLIANCE) holding $NAME/"
