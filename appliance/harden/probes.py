"""Read-only probes of a host's state, relative to a root directory.

Every probe takes ``root``: ``/`` for the live host, or a fixture tree holding fake ``etc/``, ``proc/`` and
``sys/`` files in tests.  Only :func:`resolves` and the ioctl in :func:`interfaces` touch the live kernel,
and only when asked to (``live=True``).  Nothing here imports a heavy library.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
RTF_UP = 0x1
_SIOCGIFFLAGS = 0x8913


def under(root: Path, path: str | os.PathLike) -> Path:
    """``path`` (absolute, as on the host) inside ``root``."""
    return Path(root) / str(path).lstrip("/")


def read_text(root: Path, path: str) -> str | None:
    try:
        return under(root, path).read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError, PermissionError, IsADirectoryError):
        return None


@dataclass(frozen=True)
class Interface:
    name: str
    up: bool
    loopback: bool


def _ioctl_flags(name: str) -> int | None:
    import fcntl

    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except Exception:  # sockets may be blocked (tests) or unavailable: fall back to sysfs  # noqa: BLE001
        return None
    try:
        res = fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, struct.pack("16sH14x", name.encode()[:15], 0))
        return struct.unpack("16sH14x", res)[1]
    except OSError:
        return None
    finally:
        s.close()


def interfaces(root: Path, live: bool = False) -> list[Interface]:
    """Network interfaces and whether each is up.

    Names come from ``proc/net/dev`` (per network namespace, so correct inside ``unshare -n``), else from
    ``sys/class/net``; flags from an ioctl on the live host, else ``sys/class/net/<if>/flags``.
    """
    names: list[str] = []
    dev = read_text(root, "proc/net/dev")
    if dev is not None:
        for line in dev.splitlines()[2:]:
            if ":" in line:
                names.append(line.split(":", 1)[0].strip())
    else:
        d = under(root, "sys/class/net")
        names = sorted(p.name for p in d.iterdir()) if d.is_dir() else []
    # sysfs shows the network namespace that mounted it: trust its flags only when it lists the same
    # interfaces as this process's /proc/net/dev (otherwise, e.g. inside `unshare -n`, ask the kernel).
    sysd = under(root, "sys/class/net")
    sys_names = {p.name for p in sysd.iterdir()} if sysd.is_dir() else set()
    ask_kernel = live and sys_names != set(names)
    out = []
    for n in names:
        flags = _ioctl_flags(n) if ask_kernel else None
        if flags is None:
            raw = read_text(root, f"sys/class/net/{n}/flags")
            if raw is not None:
                flags = int(raw.strip(), 16)
            else:  # no flags known: judge by operstate, and an unknown interface counts as up (fail safe)
                state = (read_text(root, f"sys/class/net/{n}/operstate") or "up").strip()
                flags = IFF_UP if state in ("up", "unknown") else 0
                if n == "lo":
                    flags |= IFF_LOOPBACK
        out.append(Interface(n, bool(flags & IFF_UP), bool(flags & IFF_LOOPBACK) or n == "lo"))
    return out


def default_routes(root: Path) -> list[str]:
    """Default routes (IPv4: ``proc/net/route``, IPv6: ``proc/net/ipv6_route``) as ``ipvN via IF`` strings."""
    found = []
    v4 = read_text(root, "proc/net/route") or ""
    for line in v4.splitlines()[1:]:
        f = line.split()
        if len(f) >= 8 and f[1] == "00000000" and f[7] == "00000000" and int(f[3], 16) & RTF_UP:
            found.append(f"ipv4 via {f[0]}")
    v6 = read_text(root, "proc/net/ipv6_route") or ""
    for line in v6.splitlines():
        f = line.split()
        # dest ::/0, up, not the kernel's "unreachable" placeholder on lo
        if len(f) >= 10 and f[0] == "0" * 32 and f[1] == "00" and int(f[8], 16) & RTF_UP and f[9] != "lo":
            found.append(f"ipv6 via {f[9]}")
    return found


def _addr(hexaddr: str) -> str:
    ip, port = hexaddr.split(":")
    raw = bytes.fromhex(ip)
    if len(raw) == 4:
        addr = socket.inet_ntop(socket.AF_INET, raw[::-1])
    else:  # /proc prints IPv6 as four host-endian 32-bit words
        addr = socket.inet_ntop(socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
    return f"{addr}:{int(port, 16)}"


def _is_loopback(addr: str) -> bool:
    host = addr.rsplit(":", 1)[0]
    return host.startswith(("127.", "::ffff:127.")) or host == "::1"


def listeners(root: Path) -> list[str]:
    """Sockets listening (TCP) or bound (UDP) on a non-loopback address, e.g. ``tcp 0.0.0.0:22``."""
    out = []
    for proto, state in (("tcp", "0A"), ("tcp6", "0A"), ("udp", "07"), ("udp6", "07")):
        text = read_text(root, f"proc/net/{proto}") or ""
        for line in text.splitlines()[1:]:
            f = line.split()
            if len(f) > 3 and f[3] == state:
                local = _addr(f[1])
                if not _is_loopback(local):
                    out.append(f"{proto} {local}")
    return out


def nameservers(root: Path) -> list[str]:
    text = read_text(root, "etc/resolv.conf") or ""
    return [
        ln.split()[1]
        for ln in text.splitlines()
        if ln.strip().startswith("nameserver") and len(ln.split()) > 1
    ]


def resolves(name: str = "example.org", timeout: float = 5.0) -> bool:
    """Whether the live host can resolve ``name`` (a separate ``getent`` process: no in-process netguard)."""
    try:
        proc = subprocess.run(["getent", "ahosts", name], capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        import sys

        code = f"import socket; socket.getaddrinfo({name!r}, 443)"
        try:
            proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return False
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())


def mount_of(root: Path, path: Path) -> tuple[str, str, str] | None:
    """``(mount point, major:minor, fstype)`` of the mount holding ``path`` (from ``proc/self/mountinfo``)."""
    text = read_text(root, "proc/self/mountinfo") or ""
    best = None
    target = str(path).rstrip("/") or "/"
    for line in text.splitlines():
        f = line.split()
        if len(f) < 10 or "-" not in f:
            continue
        mnt, devno = f[4], f[2]
        fstype = f[f.index("-") + 1]
        covers = target == mnt or target.startswith(mnt.rstrip("/") + "/") or mnt == "/"
        if covers and (best is None or len(mnt) >= len(best[0])):
            best = (mnt, devno, fstype)
    return best


def block_name(root: Path, devno: str) -> str | None:
    """The block device name (``dm-0``, ``sda2``) whose ``dev`` file holds ``major:minor``."""
    d = under(root, "sys/class/block")
    if not d.is_dir():
        return None
    for p in d.iterdir():
        if (read_text(root, f"sys/class/block/{p.name}/dev") or "").strip() == devno:
            return p.name
    return None


def crypt_chain(root: Path, name: str, _depth: int = 0) -> list[str]:
    """dm-crypt (LUKS) devices at or below block device ``name`` (LVM on LUKS is followed through slaves)."""
    if _depth > 8:
        return []
    uuid = (read_text(root, f"sys/class/block/{name}/dm/uuid") or "").strip()
    if uuid.startswith("CRYPT-"):
        return [f"{name} ({uuid.split('-', 2)[1] if uuid.count('-') >= 2 else 'CRYPT'})"]
    slaves = under(root, f"sys/class/block/{name}/slaves")
    if not slaves.is_dir():
        return []
    found = []
    for s in sorted(slaves.iterdir()):
        found += crypt_chain(root, s.name, _depth + 1)
    return found


def swaps(root: Path) -> list[str]:
    text = read_text(root, "proc/swaps") or ""
    return [ln.split()[0] for ln in text.splitlines()[1:] if ln.strip()]


def config_lines(root: Path, *patterns: str) -> list[tuple[str, str]]:
    """``(file, line)`` for every non-comment line of the files matching glob ``patterns`` under ``root``."""
    out = []
    for pat in patterns:
        base = under(root, os.path.dirname(pat))
        for p in sorted(base.glob(os.path.basename(pat))) if base.is_dir() else []:
            if p.is_file():
                for ln in p.read_text(encoding="utf-8", errors="replace").splitlines():
                    ln = ln.strip()
                    if ln and not ln.startswith("#"):
                        out.append(("/" + p.relative_to(root).as_posix(), ln))
    return out


def sysctl_value(root: Path, key: str, live: bool) -> str | None:
    """A sysctl from ``proc/sys`` when present there, else the last value set in ``etc/sysctl*.conf``."""
    raw = read_text(root, "proc/sys/" + key.replace(".", "/"))
    if raw is not None:
        return raw.strip()
    value = None
    for _f, ln in config_lines(root, "etc/sysctl.conf", "etc/sysctl.d/*.conf"):
        m = re.match(rf"^{re.escape(key)}\s*=\s*(.*)$", ln)
        if m:
            value = m.group(1).strip()
    return value
