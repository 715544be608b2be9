#!/bin/sh
# install.sh - install or upgrade the appliance from a signed bundle, with no network.
#
# Runs from the USB mount with the host's own python3 and openssl; trusts nothing on the stick until the
# manifest signature verifies against the pinned vendor key.  Over an existing install that is the key the
# INSTALLED version pins (PREFIX/current/share/appliance/installer/vendor.pub.pem), whichever copy of this
# script runs; only a first install trusts the vendor.pub.pem next to this script.
#   1. copy the bundle to local staging (a USB device cannot change it between check and use)
#   2. openssl: verify MANIFEST.json.sig (a bundle signed by a new vendor key needs installer/
#      key-transition.json signed by the pinned key, naming the new key, within its validity);
#      python3 (stdlib only): verify every file's size and sha256 and that nothing unlisted was added
#   3. refuse a version lower than the installed one (anti-rollback), check python/platform/glibc and disk
#   4. new venv in PREFIX/versions/VERSION; pip install --no-index --require-hashes --only-binary=:all:
#   5. models, installer and hardening copies; as root on the real system: user, home, systemd units
#   6. run `appliance doctor`, then switch PREFIX/current atomically and record the installed version
# Any failure before step 6 removes the new version directory; the previous install is never touched.
# Exit codes: 0 ok, 1 error, 2 usage, 3 integrity (signature/hash), 4 refused (rollback, platform, disk).
set -eu
umask 022

PROG=install.sh
SCRIPT_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
BUNDLE=$(dirname -- "$SCRIPT_DIR")
PUBKEY=$SCRIPT_DIR/vendor.pub.pem
DEFAULT_PREFIX=/opt/appliance
PREFIX=$DEFAULT_PREFIX
HOME_DIR=/var/lib/appliance
YES=0
SYSTEM=auto
PYTHON=${PYTHON:-python3}
APP_USER=appliance

usage() {
    cat <<EOF
usage: $PROG [--bundle DIR] [--prefix DIR] [--home DIR] [--yes] [--no-system]

  --bundle DIR   the bundle to install (default: the bundle this installer is part of: $BUNDLE)
  --prefix DIR   install root (default $DEFAULT_PREFIX); versions/<v>/ + a 'current' symlink
  --home DIR     appliance home (default /var/lib/appliance; created only as root on the real system)
  --yes          do not ask for confirmation
  --no-system    never create the user/home or install systemd units (implied for a non-default prefix)
Environment: PYTHON (default python3), TMPDIR (staging copy of the bundle; default /var/tmp)
EOF
}

say() { printf '%s: %s\n' "$PROG" "$*"; }
die() { code=$1; shift; printf '%s: error: %s\n' "$PROG" "$*" >&2; exit "$code"; }

while [ $# -gt 0 ]; do
    case $1 in
        --bundle) [ $# -ge 2 ] || die 2 "--bundle needs a directory"; BUNDLE=$2; shift 2 ;;
        --prefix) [ $# -ge 2 ] || die 2 "--prefix needs a directory"; PREFIX=$2; shift 2 ;;
        --home) [ $# -ge 2 ] || die 2 "--home needs a directory"; HOME_DIR=$2; shift 2 ;;
        --yes|-y) YES=1; shift ;;
        --no-system) SYSTEM=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die 2 "unknown argument: $1" ;;
    esac
done

command -v openssl >/dev/null 2>&1 || die 1 "openssl not found on this host"
command -v "$PYTHON" >/dev/null 2>&1 || die 1 "$PYTHON not found on this host"
[ -d "$BUNDLE" ] || die 2 "bundle directory $BUNDLE not found"
case $PREFIX in /*) ;; *) PREFIX=$(pwd)/$PREFIX ;; esac
case $HOME_DIR in /*) ;; *) HOME_DIR=$(pwd)/$HOME_DIR ;; esac
BUNDLE=$(CDPATH='' cd -- "$BUNDLE" && pwd)

if [ "$SYSTEM" = auto ]; then
    if [ "$(id -u)" -eq 0 ] && [ "$PREFIX" = "$DEFAULT_PREFIX" ]; then SYSTEM=1; else SYSTEM=0; fi
fi

WORK=
NEW=
LOCKED=0
COMMITTED=0
cleanup() {
    rc=$?
    if [ "$COMMITTED" -ne 1 ] && [ -n "$NEW" ] && [ -d "$NEW" ]; then
        rm -rf -- "$NEW"
        say "removed the incomplete $NEW; the previous install is unchanged"
    fi
    [ "$LOCKED" -eq 1 ] && rmdir -- "$PREFIX/.install.lock" 2>/dev/null
    [ -n "$WORK" ] && rm -rf -- "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# -- 1. staging copy -----------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/appliance-install.XXXXXX")
say "copying the bundle to $WORK"
mkdir "$WORK/bundle"
cp -RP -- "$BUNDLE/." "$WORK/bundle" || die 1 "cannot copy the bundle from $BUNDLE"
B=$WORK/bundle

# -- 2. signature, then every file ---------------------------------------------------------------------
if [ ! -f "$B/MANIFEST.json" ] || [ ! -f "$B/MANIFEST.json.sig" ]; then
    die 3 "not a signed bundle (MANIFEST.json / .sig missing)"
fi
fpr() {  # sha256 of a PEM public key's DER SubjectPublicKeyInfo (the fingerprint in the delivery note)
    openssl pkey -pubin -in "$1" -noout >/dev/null 2>&1 || die 3 "$1 is not a PEM public key"
    openssl pkey -pubin -in "$1" -outform DER 2>/dev/null \
        | "$PYTHON" -I -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'
}
sig_ok() { openssl dgst -sha256 -verify "$1" -signature "$2.sig" "$2" >/dev/null 2>&1; }
# The judge: over an existing install, the installed version's pinned key, never the stick's.
INSTALLED_KEY=$PREFIX/current/share/appliance/installer/vendor.pub.pem
if [ -e "$PREFIX/installed-version" ] || [ -e "$PREFIX/current" ] || [ -L "$PREFIX/current" ]; then
    [ -f "$INSTALLED_KEY" ] || die 3 "an install exists in $PREFIX but its pinned vendor key $INSTALLED_KEY is missing"
    TRUST=$INSTALLED_KEY
else
    [ -f "$PUBKEY" ] || die 3 "no pinned vendor key at $PUBKEY"
    TRUST=$PUBKEY
fi
TRUST_FPR=$(fpr "$TRUST")
BKEY=$B/installer/vendor.pub.pem
[ -f "$BKEY" ] || die 3 "the bundle pins no vendor key (installer/vendor.pub.pem missing)"
TRANSITION=
if sig_ok "$TRUST" "$B/MANIFEST.json"; then
    SIGNER=$TRUST
else
    T=$B/installer/key-transition.json
    if [ ! -f "$T" ] || [ ! -f "$T.sig" ]; then
        die 3 "bundle signature does not verify against the pinned vendor key $TRUST (sha256:$TRUST_FPR), and the bundle carries no key-transition statement"
    fi
    sig_ok "$TRUST" "$T" \
        || die 3 "the bundle's key-transition statement is not signed by the pinned vendor key $TRUST (sha256:$TRUST_FPR)"
    NEW_FPR=$(fpr "$BKEY")
    # The statement is now trusted (signed by the pinned key): check what it says.
    REASON=$("$PYTHON" -I - "$T" "$TRUST_FPR" "$NEW_FPR" <<'PYEOF'
import json, re, sys, time
path, old, new = sys.argv[1:4]
try:
    st = json.load(open(path, encoding="utf-8"))
except ValueError as e:
    print(f"not valid JSON: {e}", file=sys.stderr); sys.exit(3)
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
bad = []
if st.get("format") != "appliance-key-transition/1":
    bad.append("unknown statement format")
if st.get("old_key_sha256") != old:
    bad.append("it does not name the pinned key as the old key")
if st.get("new_key_sha256") != new:
    bad.append("it does not name the key this bundle pins as the new key")
nb, na = str(st.get("not_before", "")), str(st.get("not_after", ""))
if not (stamp.fullmatch(nb) and stamp.fullmatch(na) and nb <= now <= na):
    bad.append(f"outside its validity ({nb[:20]} .. {na[:20]}; now {now})")
reason = re.sub(r"[^\x20-\x7e]", "?", str(st.get("reason", ""))).strip()[:200]
if not reason:
    bad.append("it gives no reason")
if bad:
    print("; ".join(bad), file=sys.stderr); sys.exit(3)
print(reason)
PYEOF
) || die 3 "key-transition statement refused (see above); the pinned key stays sha256:$TRUST_FPR"
    sig_ok "$BKEY" "$B/MANIFEST.json" \
        || die 3 "bundle signature does not verify against the new vendor key named by the key-transition statement"
    SIGNER=$BKEY
    TRANSITION="sha256:$TRUST_FPR -> sha256:$NEW_FPR"
    say "vendor key transition accepted: $TRANSITION (signed by the pinned key; reason: $REASON)"
fi
FPR=$(fpr "$SIGNER")
# The bundle's installer/vendor.pub.pem becomes the pinned key of the new version: it must be the signer.
[ "$(fpr "$BKEY")" = "$FPR" ] || die 3 "the bundle pins a vendor key other than the one that signed it"
say "signature OK (vendor key sha256:$FPR, judged by $TRUST)"

# The manifest is now trusted; python3 -I (stdlib only, no site packages) checks the files against it
# and prints shell assignments of validated values.
VARS=$("$PYTHON" -I - "$B" <<'PYEOF'
import hashlib, json, os, re, shlex, sys
root = sys.argv[1]
m = json.load(open(os.path.join(root, "MANIFEST.json"), encoding="utf-8"))
if m.get("format") != "appliance-bundle/1":
    print("unknown bundle format", file=sys.stderr); sys.exit(3)
bad, listed = [], set()
for f in m["files"]:
    rel = f["path"]; listed.add(rel)
    p = os.path.join(root, rel)
    if rel.startswith("/") or ".." in rel.split("/"):
        bad.append(rel + ": unsafe path"); continue
    if os.path.islink(p) or not os.path.isfile(p):
        bad.append(rel + ": missing"); continue
    if os.path.getsize(p) != f["size"]:
        bad.append(rel + ": size mismatch"); continue
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != f["sha256"]:
        bad.append(rel + ": sha256 mismatch")
for d, dirs, files in os.walk(root):
    for n in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
        rel = os.path.relpath(os.path.join(d, n), root).replace(os.sep, "/")
        if rel not in listed and rel not in ("MANIFEST.json", "MANIFEST.json.sig"):
            bad.append(rel + ": not listed in the manifest")
if bad:
    for b in bad[:20]:
        print("  " + b, file=sys.stderr)
    sys.exit(3)
t, i = m["target"], m["install"]
vals = {"NAME": m["name"], "VERSION": m["version"], "PYVER": t["python_version"], "MACHINE": t["machine"],
        "GLIBC_MIN": t.get("glibc_min") or "", "COMPLETE": "1" if i["complete"] else "0",
        "MIN_FREE_MB": str(int(i["min_free_mb"])), "TOTAL_KB": str(m["total_bytes"] // 1024 + 1),
        "FILES": str(len(m["files"]))}
for k, v in vals.items():
    if not re.fullmatch(r"[A-Za-z0-9._+-]*", v):
        print(f"bad manifest value for {k}", file=sys.stderr); sys.exit(3)
    print(f"{k}={shlex.quote(v)}")
PYEOF
) || die 3 "bundle files do not match the signed manifest (tampered or damaged)"
NAME='' VERSION='' PYVER='' MACHINE='' GLIBC_MIN='' COMPLETE='' MIN_FREE_MB='' TOTAL_KB='' FILES=
eval "$VARS"
say "all $FILES files match the manifest: $NAME $VERSION"

# -- 3. policy: anti-rollback, platform, disk ----------------------------------------------------------
INSTALLED=
[ -f "$PREFIX/installed-version" ] && INSTALLED=$(cat "$PREFIX/installed-version")
if [ -n "$INSTALLED" ]; then
    CMP=$("$PYTHON" -I -c '
import sys
def key(v): return tuple(int(x) for x in v.split("."))
a, b = key(sys.argv[1]), key(sys.argv[2])
print("lower" if a < b else "same" if a == b else "higher")' "$VERSION" "$INSTALLED") || die 1 "cannot compare versions"
    case $CMP in
        lower) die 4 "refusing to install $VERSION: $INSTALLED is installed (anti-rollback)" ;;
        same) say "$NAME $VERSION is already installed in $PREFIX; nothing to do"; exit 0 ;;
    esac
fi
HOST=$("$PYTHON" -I -c '
import platform, sys
print("%d.%d %s %s" % (sys.version_info[0], sys.version_info[1], platform.machine(), platform.libc_ver()[1] or "0"))')
# shellcheck disable=SC2086  # split "pyver machine glibc" into $1 $2 $3
set -- $HOST
[ "$1" = "$PYVER" ] || die 4 "host python is $1, the bundle targets $PYVER"
[ "$2" = "$MACHINE" ] || die 4 "host machine is $2, the bundle targets $MACHINE"
if [ -n "$GLIBC_MIN" ]; then
    "$PYTHON" -I -c 'import sys; k=lambda v: tuple(int(x) for x in v.split(".")); sys.exit(k(sys.argv[1]) < k(sys.argv[2]))' "$3" "$GLIBC_MIN" \
        || die 4 "host glibc is $3, the bundle needs >= $GLIBC_MIN"
fi
PROBE=$PREFIX
while [ ! -d "$PROBE" ]; do PROBE=$(dirname -- "$PROBE"); done
AVAIL_KB=$(df -Pk "$PROBE" | awk 'NR==2 {print $4}')
NEED_KB=$((MIN_FREE_MB * 1024))
[ $((TOTAL_KB * 3)) -gt "$NEED_KB" ] && NEED_KB=$((TOTAL_KB * 3))
[ "$AVAIL_KB" -ge "$NEED_KB" ] || die 4 "not enough free disk under $PROBE: ${AVAIL_KB} KiB free, ${NEED_KB} KiB needed"

if [ "$YES" -ne 1 ]; then
    [ -r /dev/tty ] || die 2 "no terminal to confirm on; pass --yes"
    printf 'Install %s %s into %s (currently: %s)? [y/N] ' "$NAME" "$VERSION" "$PREFIX" "${INSTALLED:-none}" >/dev/tty
    read -r ANSWER </dev/tty || ANSWER=
    case $ANSWER in y|Y|yes|YES) ;; *) die 4 "not confirmed" ;; esac
fi

# -- 4. new version directory and venv -----------------------------------------------------------------
mkdir -p "$PREFIX/versions"
mkdir "$PREFIX/.install.lock" 2>/dev/null || die 1 "another install is running ($PREFIX/.install.lock exists)"
LOCKED=1
NEW=$PREFIX/versions/$VERSION
if [ -e "$NEW" ]; then
    [ "$(readlink "$PREFIX/current" 2>/dev/null || true)" = "versions/$VERSION" ] && die 4 "$NEW is the current install"
    rm -rf -- "$NEW"  # left over from an interrupted attempt
fi
say "creating $NEW"
# pip runs straight from the bundle's own pip wheel, so the host needs neither python3-venv (ensurepip,
# not installed by default on Debian) nor any pip of its own; the wheel installs pip into the venv too.
PIPWHL=
for w in "$B"/wheels/pip-*.whl; do [ -f "$w" ] && PIPWHL=$w; done
if [ -n "$PIPWHL" ]; then
    "$PYTHON" -m venv --without-pip "$NEW" || die 1 "$PYTHON -m venv --without-pip failed"
    PIPRUN="$NEW/bin/python $PIPWHL/pip"
else
    "$PYTHON" -m venv "$NEW" || die 1 "$PYTHON -m venv failed (is python3-venv installed?)"
    PIPRUN="$NEW/bin/python -m pip"
fi
# Only the bundle's wheels: no index, no host pip configuration, every file's hash pinned.
PIP_CONFIG_FILE=/dev/null
export PIP_CONFIG_FILE
PIP="$PIPRUN --isolated --disable-pip-version-check --no-input"
PIPI="install --no-index --find-links $B/wheels --require-hashes --only-binary=:all: --no-cache-dir --quiet"
say "installing wheels (no index, hashes required)"
# shellcheck disable=SC2086  # PIP/PIPI are word lists on purpose
$PIP $PIPI -r "$B/requirements.lock" || die 1 "pip install of the bundle's wheels failed"
# shellcheck disable=SC2086
$PIP $PIPI --no-deps -r "$B/appliance.lock" || die 1 "pip install of the appliance wheel failed"
if [ "$COMPLETE" = 1 ]; then
    # shellcheck disable=SC2086
    $PIP check || die 1 "installed packages have unmet dependencies"
else
    say "test bundle: the appliance wheel was installed without its dependencies (pip check skipped)"
fi

# -- 5. models, installer, hardening; system integration -----------------------------------------------
SHARE=$NEW/share/appliance
mkdir -p "$SHARE"
for d in installer hardening models; do
    [ -d "$B/$d" ] && cp -R -- "$B/$d" "$SHARE/$d"
done
cp -- "$B/MANIFEST.json" "$B/MANIFEST.json.sig" "$SHARE/"
[ -f "$B/sbom.cdx.json" ] && cp -- "$B/sbom.cdx.json" "$SHARE/"
[ -d "$SHARE/models" ] && say "models installed under $SHARE/models"

if [ "$SYSTEM" = 1 ]; then
    if ! id "$APP_USER" >/dev/null 2>&1; then
        useradd --system --user-group --home-dir "$HOME_DIR" --no-create-home --shell /usr/sbin/nologin "$APP_USER" \
            || die 1 "cannot create user $APP_USER"
    fi
    mkdir -p "$HOME_DIR"
    chown "$APP_USER:$APP_USER" "$HOME_DIR"
    chmod 0700 "$HOME_DIR"
    if [ -d "$B/installer/systemd" ]; then
        for unit in "$B"/installer/systemd/*.service "$B"/installer/systemd/*.timer; do
            [ -f "$unit" ] && install -m 0644 "$unit" /etc/systemd/system/
        done
        if command -v systemctl >/dev/null 2>&1; then systemctl daemon-reload || true; fi
    fi
    say "user $APP_USER, home $HOME_DIR and systemd units installed"
else
    say "not a system install (prefix $PREFIX or not root): skipping user, home and systemd units"
fi

# -- 6. doctor, then commit ------------------------------------------------------------------------------
APPLIANCE_HOME=$HOME_DIR "$NEW/bin/appliance" doctor --json >"$SHARE/doctor-install.json" \
    || die 1 "the new install does not run: $NEW/bin/appliance doctor failed"
say "appliance doctor OK ($SHARE/doctor-install.json)"

rm -f -- "$PREFIX/.current.new"
ln -s "versions/$VERSION" "$PREFIX/.current.new"
"$PYTHON" -I -c 'import os, sys; os.replace(sys.argv[1], sys.argv[2])' "$PREFIX/.current.new" "$PREFIX/current" \
    || die 1 "cannot switch $PREFIX/current"
COMMITTED=1
printf '%s\n' "$VERSION" >"$PREFIX/.installed-version.new"
"$PYTHON" -I -c 'import os, sys; os.replace(sys.argv[1], sys.argv[2])' "$PREFIX/.installed-version.new" "$PREFIX/installed-version"
printf '%s %s %s from %s%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$VERSION" "${INSTALLED:-none}" "$BUNDLE" \
    "${TRANSITION:+ (vendor key $TRANSITION)}" >>"$PREFIX/install-history.log"

if [ -f "$HOME_DIR/keys/keyring.json" ]; then
    "$NEW/bin/python" -c 'import sys; from appliance.bundle.install import audit_installed; audit_installed(*sys.argv[1:5])' \
        "$HOME_DIR" "$SHARE/MANIFEST.json" "${INSTALLED:-}" "$TRANSITION" || say "warning: could not write the audit entry"
fi
say "installed $NAME $VERSION: $PREFIX/current -> versions/$VERSION"
