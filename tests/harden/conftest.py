"""A fixture root that passes every hardening check, and one mutation per check that makes it fail.

The root is a fake system tree (etc/, proc/, sys/, var/lib/appliance) rendered partly by the real
``harden apply``, so the tests never depend on the CI host's own configuration.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HOME = "/var/lib/appliance"
_NETDEV_HEAD = (
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo "
    "colls carrier compressed\n"
)
_ROUTE_HEAD = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
_TCP_HEAD = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
)


def w(root: Path, rel: str, text: str, mode: int | None = None) -> Path:
    p = root / rel.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    if mode is not None:
        p.chmod(mode)
    return p


def make_good_root(root: Path) -> Path:
    from appliance.harden import apply

    apply(
        root
    )  # default home /var/lib/appliance; nftables, modprobe.d, audit rules, limits, coredump, sysctl, masks
    w(root, "proc/net/dev", _NETDEV_HEAD + "    lo:  100  1  0 0 0 0 0 0  100 1 0 0 0 0 0 0\n")
    w(root, "sys/class/net/lo/flags", "0x9\n")
    w(root, "proc/net/route", _ROUTE_HEAD)
    w(
        root,
        "proc/net/ipv6_route",
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 "
        "ffffffff 00000001 00000000 00200200       lo\n",
    )  # the kernel's 'unreachable' placeholder on lo
    w(root, "etc/resolv.conf", "# no resolver on an air-gapped host\n")
    w(
        root,
        "proc/net/tcp",
        _TCP_HEAD
        + "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 "
        "100 0\n",
    )
    w(root, "proc/net/tcp6", _TCP_HEAD)
    w(root, "proc/net/udp", _TCP_HEAD)
    w(root, "proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
    w(root, "proc/sys/fs/suid_dumpable", "0\n")
    w(root, "proc/sys/kernel/core_pattern", "|/bin/false\n")
    home = root / HOME.lstrip("/")
    (home / "keys").mkdir(parents=True)
    home.chmod(0o700)
    (home / "keys").chmod(0o700)
    w(root, f"{HOME}/keys/keyring.json", "{}", 0o600)
    w(
        root,
        "proc/self/mountinfo",
        "22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw\n"
        f"30 22 254:1 / {HOME} rw,nodev,nosuid shared:2 - ext4 /dev/mapper/vg-home rw\n",
    )
    w(root, "sys/class/block/sda2/dev", "8:2\n")
    w(root, "sys/class/block/dm-1/dev", "254:1\n")
    w(root, "sys/class/block/dm-1/dm/uuid", "LVM-abcdef\n")
    (root / "sys/class/block/dm-1/slaves/dm-0").mkdir(parents=True)
    w(root, "sys/class/block/dm-0/dev", "254:0\n")
    w(root, "sys/class/block/dm-0/dm/uuid", "CRYPT-LUKS2-0123456789abcdef-cryptroot\n")
    w(root, "etc/fstab", "/dev/mapper/vg-root / ext4 defaults 0 1\n")
    return root


def _ssh_enabled(root: Path) -> None:
    (root / "etc/systemd/system/ssh.service").unlink()
    d = root / "etc/systemd/system/multi-user.target.wants"
    d.mkdir(parents=True, exist_ok=True)
    os.symlink("/lib/systemd/system/ssh.service", d / "ssh.service")


def _iface_up(root: Path) -> None:
    p = root / "proc/net/dev"
    p.write_text(p.read_text() + "  eth0: 5000 10 0 0 0 0 0 0 5000 10 0 0 0 0 0 0\n")
    w(root, "sys/class/net/eth0/flags", "0x1003\n")


# check id -> a mutation of the good root that must make exactly that check fail
BREAKERS = {
    "airgap.interfaces": _iface_up,
    "airgap.route": lambda r: w(
        r, "proc/net/route", _ROUTE_HEAD + "eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
    ),
    "airgap.dns": lambda r: w(r, "etc/resolv.conf", "nameserver 192.168.1.1\n"),
    "airgap.listeners": lambda r: w(
        r,
        "proc/net/tcp6",
        _TCP_HEAD + "   0: 00000000000000000000000000000000:20FB 00000000000000000000000000000000:0000 "
        "0A 00000000:00000000 00:00000000 00000000 0 0 2 1 0 100 0\n",
    ),
    "firewall.nftables": lambda r: w(
        r,
        "etc/nftables.conf",
        (r / "etc/nftables.conf")
        .read_text()
        .replace("hook output priority filter; policy drop;", "hook output priority filter; policy accept;"),
    ),
    "usb.storage": lambda r: (r / "etc/modprobe.d/90-appliance.conf").unlink(),
    "audit.rules": lambda r: w(
        r,
        "etc/audit/rules.d/90-appliance.rules",
        (r / "etc/audit/rules.d/90-appliance.rules").read_text().replace("-e 2", "-e 1"),
    ),
    "coredump.off": lambda r: w(r, "proc/sys/fs/suid_dumpable", "2\n"),
    "swap.off": lambda r: w(
        r, "proc/swaps", (r / "proc/swaps").read_text() + "/dev/sda3\tpartition\t1048572\t0\t-2\n"
    ),
    "home.permissions": lambda r: (r / HOME.lstrip("/") / "keys/keyring.json").chmod(0o644),
    "disk.encryption": lambda r: w(r, "sys/class/block/dm-0/dm/uuid", "LVM-plain\n"),
    "ssh.off": _ssh_enabled,
}


@pytest.fixture
def good_root(tmp_path) -> Path:
    return make_good_root(tmp_path / "root")
