"""The hardening checks: each reads a root (``/`` or a fixture tree) and returns pass / fail / skip.

Every check names the CIS Debian Linux 12 Benchmark recommendation, the DISA SRG/STIG requirement (with the
NIST SP 800-53 control it derives from) and the HIPAA Security Rule section it evidences.  The references
are for orientation: a site maps them onto the benchmark versions it is audited against.  A failing
``required`` check makes ``appliance harden check`` exit 4.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from appliance.harden import probes

DEFAULT_HOME = Path("/var/lib/appliance")


@dataclass
class CheckContext:
    root: Path
    home: Path  # as seen on the host (inside ``root``)
    live: bool


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    cis: str
    stig: str
    hipaa: str
    run: Callable[[CheckContext], tuple[str, str]]
    required: bool = True


@dataclass
class Result:
    id: str
    title: str
    status: str  # pass | fail | skip
    detail: str
    required: bool
    refs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "required": self.required,
            **self.refs,
        }


def _ok(cond: bool, good: str, bad: str) -> tuple[str, str]:
    return ("pass", good) if cond else ("fail", bad)


# -- air gap ---------------------------------------------------------------------------------------------
def _interfaces(ctx: CheckContext):
    ifs = probes.interfaces(ctx.root, live=ctx.live)
    up = [i.name for i in ifs if i.up and not i.loopback]
    return _ok(not up, f"{len(ifs)} interface(s), only loopback up", "up: " + ", ".join(up))


def _route(ctx: CheckContext):
    routes = probes.default_routes(ctx.root)
    return _ok(not routes, "no default route", "default route " + "; ".join(routes))


def _dns(ctx: CheckContext):
    if ctx.live:
        return _ok(
            not probes.resolves("example.org"),
            "resolving example.org fails",
            "example.org resolves: this host has working DNS",
        )
    remote = [ns for ns in probes.nameservers(ctx.root) if not ns.startswith("127.") and ns != "::1"]
    return _ok(
        not remote, "no non-loopback nameserver in /etc/resolv.conf", "resolv.conf names " + ", ".join(remote)
    )


def _listeners(ctx: CheckContext):
    socks = probes.listeners(ctx.root)
    return _ok(not socks, "no socket listens beyond loopback", "listening: " + ", ".join(socks[:8]))


# -- firewall, devices ----------------------------------------------------------------------------------
_CHAIN_RE = re.compile(
    r"type\s+filter\s+hook\s+(input|output|forward)\s+priority\s+[^;]+;\s*policy\s+(\w+)\s*;"
)


def _nftables(ctx: CheckContext):
    text = probes.read_text(ctx.root, "etc/nftables.conf")
    if text is None:
        return "fail", "/etc/nftables.conf missing"
    text = "\n".join(ln.split("#", 1)[0] for ln in text.splitlines())
    policies = {}
    for hook, policy in _CHAIN_RE.findall(text):
        policies[hook] = policies.get(hook, "drop") if policy == "drop" else policy
    bad = [
        f"{h}: {policies.get(h, 'no chain')}"
        for h in ("input", "output", "forward")
        if policies.get(h) != "drop"
    ]
    # An accept in an output chain that is not about loopback would open the air gap again.
    out_chain = re.search(r"hook\s+output[^}]*", text)
    leaks = [
        ln.strip()
        for ln in (out_chain.group(0).splitlines() if out_chain else [])
        if re.search(r"\baccept\b", ln) and '"lo"' not in ln and "policy" not in ln
    ]
    if leaks:
        bad.append("output accepts: " + "; ".join(leaks[:3]))
    return _ok(not bad, "policy drop on input, output and forward", "; ".join(bad))


def _usb(ctx: CheckContext):
    lines = [ln for _f, ln in probes.config_lines(ctx.root, "etc/modprobe.d/*.conf")]
    blocked = any(re.fullmatch(r"install\s+usb[-_]storage\s+/bin/(false|true)", ln) for ln in lines)
    listed = any(re.fullmatch(r"blacklist\s+usb[-_]storage", ln) for ln in lines)
    loaded = probes.under(ctx.root, "sys/module/usb_storage").exists()
    problems = []
    if not blocked:
        problems.append("no 'install usb-storage /bin/false' in /etc/modprobe.d")
    if not listed:
        problems.append("no 'blacklist usb-storage'")
    if loaded:
        problems.append("usb_storage module is loaded now")
    return _ok(not problems, "usb-storage blocked and not loaded", "; ".join(problems))


def _audit(ctx: CheckContext):
    rules = probes.config_lines(ctx.root, "etc/audit/rules.d/*.rules")
    if not rules:
        rules = probes.config_lines(ctx.root, "etc/audit/audit.rules")
    if not rules:
        return "fail", "no audit rules in /etc/audit/rules.d"
    keys = str(ctx.home / "keys")
    watches = [ln for _f, ln in rules if re.match(rf"-w\s+{re.escape(keys)}/?\s", ln + " ")]
    enables = [ln.split()[1] for _f, ln in rules if re.match(r"-e\s+\d", ln)]
    problems = []
    if not watches:
        problems.append(f"no watch on {keys}")
    if not enables or enables[-1] != "2":
        problems.append("configuration not immutable (last -e is not '-e 2')")
    return _ok(not problems, f"{len(rules)} rules, keys watched, immutable (-e 2)", "; ".join(problems))


# -- key material: core dumps, swap, permissions, encryption ---------------------------------------------
def _coredumps(ctx: CheckContext):
    limits = [
        ln
        for _f, ln in probes.config_lines(
            ctx.root, "etc/security/limits.conf", "etc/security/limits.d/*.conf"
        )
    ]
    hard0 = any(re.fullmatch(r"\*\s+hard\s+core\s+0", ln) for ln in limits)
    suid = probes.sysctl_value(ctx.root, "fs.suid_dumpable", ctx.live)
    pattern = probes.sysctl_value(ctx.root, "kernel.core_pattern", ctx.live) or ""
    storage = [
        ln
        for _f, ln in probes.config_lines(
            ctx.root, "etc/systemd/coredump.conf", "etc/systemd/coredump.conf.d/*.conf"
        )
        if ln.replace(" ", "").lower().startswith("storage=")
    ]
    nowhere = pattern.startswith("|/bin/false") or (
        bool(storage) and storage[-1].split("=", 1)[1].strip() == "none"
    )
    problems = []
    if not hard0:
        problems.append("no '* hard core 0' limit")
    if suid != "0":
        problems.append(f"fs.suid_dumpable={suid}")
    if not nowhere:
        problems.append(
            f"cores still written (core_pattern {pattern or 'unset'!r}, coredump Storage not none)"
        )
    return _ok(not problems, "core dumps disabled", "; ".join(problems))


def _swap(ctx: CheckContext):
    active = []
    for dev in probes.swaps(ctx.root):
        name = Path(dev).name
        if name.startswith("dm-") and probes.crypt_chain(ctx.root, name):
            continue  # swap on dm-crypt never holds plaintext key material on disk
        active.append(dev)
    fstab = [
        ln
        for _f, ln in probes.config_lines(ctx.root, "etc/fstab")
        if len(ln.split()) >= 3 and ln.split()[2] == "swap"
    ]
    problems = ([f"active swap: {', '.join(active)}"] if active else []) + (
        [f"swap in /etc/fstab: {fstab[0].split()[0]}"] if fstab else []
    )
    return _ok(not problems, "no unencrypted swap", "; ".join(problems))


def _home_perms(ctx: CheckContext):
    home = probes.under(ctx.root, ctx.home)
    if not home.is_dir():
        return "skip", f"{ctx.home} does not exist (not installed yet)"
    problems = []
    st = home.stat()
    if st.st_mode & 0o077:
        problems.append(f"{ctx.home} mode {stat.S_IMODE(st.st_mode):o} (want 700)")
    keys = home / "keys"
    if keys.is_dir():
        if keys.stat().st_mode & 0o077:
            problems.append(f"keys/ mode {stat.S_IMODE(keys.stat().st_mode):o} (want 700)")
        for p in sorted(keys.rglob("*")):
            ps = p.lstat()
            # Public keys may be world-readable; nothing in keys/ may be writable by others, and every
            # other file (wrapped keys, keyring) is owner-only.
            public = p.name.endswith((".pub.pem", ".pub"))
            if p.is_file() and ps.st_mode & (0o022 if public else 0o077):
                want = "644 or less" if public else "600"
                problems.append(f"{p.relative_to(home)} mode {stat.S_IMODE(ps.st_mode):o} (want {want})")
            if ps.st_uid != st.st_uid:
                problems.append(f"{p.relative_to(home)} owned by uid {ps.st_uid}, home by {st.st_uid}")
    return _ok(not problems, "home 700, keys 700, key files 600, one owner", "; ".join(problems[:5]))


def _encryption(ctx: CheckContext):
    probe = ctx.home
    mount = probes.mount_of(ctx.root, probe)
    if mount is None:
        return "fail", f"cannot find the mount holding {probe}"
    mnt, devno, fstype = mount
    name = probes.block_name(ctx.root, devno)
    if name is None:
        return (
            "fail",
            f"{mnt} ({fstype}, dev {devno}) is not on a block device that can be shown to be encrypted",
        )
    chain = probes.crypt_chain(ctx.root, name)
    return _ok(
        bool(chain),
        f"{mnt} on {name}, dm-crypt: {', '.join(chain)}",
        f"{mnt} on {name}: no dm-crypt (LUKS) layer",
    )


def wanted_links(unit_dir: Path, names: tuple[str, ...]) -> list[Path]:
    """``*.wants/<unit>`` links for ``names`` (links into /lib dangle inside a fixture root: use lexists)."""
    if not unit_dir.is_dir():
        return []
    return [d / n for d in sorted(unit_dir.glob("*.wants")) for n in names if os.path.lexists(d / n)]


def _ssh(ctx: CheckContext):
    unit_dir = probes.under(ctx.root, "etc/systemd/system")
    names = ("ssh.service", "sshd.service", "ssh.socket", "sshd.socket")
    enabled = sorted({p.name for p in wanted_links(unit_dir, names)})
    masked = [n for n in names if (unit_dir / n).is_symlink() and os.readlink(unit_dir / n) == "/dev/null"]
    port22 = [s for s in probes.listeners(ctx.root) if s.endswith(":22")]
    problems = ([f"enabled: {', '.join(enabled)}"] if enabled else []) + (
        [f"listening: {', '.join(port22)}"] if port22 else []
    )
    good = "ssh not enabled" + (f" (masked: {', '.join(masked)})" if masked else "")
    return _ok(not problems, good, "; ".join(problems))


CHECKS: tuple[Check, ...] = (
    Check(
        "airgap.interfaces",
        "No non-loopback network interface is up",
        "CIS Debian 12 3.1 (disable unused network interfaces)",
        "SRG-OS-000480-GPOS-00227; NIST SC-7",
        "164.312(e)(1) transmission security",
        _interfaces,
    ),
    Check(
        "airgap.route",
        "No default route (IPv4 or IPv6)",
        "CIS Debian 12 3.3 (network kernel parameters / routing)",
        "NIST SC-7 boundary protection",
        "164.312(e)(1) transmission security",
        _route,
    ),
    Check(
        "airgap.dns",
        "Name resolution fails",
        "CIS Debian 12 3.1",
        "NIST SC-7, SC-20",
        "164.312(e)(1) transmission security",
        _dns,
    ),
    Check(
        "airgap.listeners",
        "No socket listens beyond loopback",
        "CIS Debian 12 2.x (nonessential services removed or masked)",
        "SRG-OS-000096-GPOS-00050; NIST CM-7",
        "164.312(e)(1) transmission security",
        _listeners,
    ),
    Check(
        "firewall.nftables",
        "nftables policy drop on input, output and forward",
        "CIS Debian 12 4.x (nftables default deny firewall policy)",
        "SRG-OS-000480-GPOS-00227; NIST SC-7(5)",
        "164.312(e)(1) transmission security",
        _nftables,
    ),
    Check(
        "usb.storage",
        "USB mass storage blocked (modprobe.d) and not loaded",
        "CIS Debian 12 1.1.1 (usb-storage kernel module not available)",
        "SRG-OS-000114-GPOS-00059; NIST MP-7",
        "164.310(d)(1) device and media controls",
        _usb,
    ),
    Check(
        "audit.rules",
        "auditd rules watch the keys and are immutable (-e 2)",
        "CIS Debian 12 6.3.3 (audit rules; audit configuration immutable)",
        "SRG-OS-000057-GPOS-00027; NIST AU-9",
        "164.312(b) audit controls",
        _audit,
    ),
    Check(
        "coredump.off",
        "Core dumps disabled (limits, fs.suid_dumpable, core_pattern / systemd-coredump)",
        "CIS Debian 12 1.5 (core dumps restricted)",
        "SRG-OS-000480-GPOS-00227; NIST SC-28",
        "164.312(a)(2)(iv) encryption and decryption",
        _coredumps,
    ),
    Check(
        "swap.off",
        "No unencrypted swap (key material never paged to disk)",
        "CIS Debian 12 1.1 (filesystem configuration)",
        "SRG-OS-000405-GPOS-00184; NIST SC-28",
        "164.312(a)(2)(iv) encryption and decryption",
        _swap,
    ),
    Check(
        "home.permissions",
        "Home and key files private to the appliance user",
        "CIS Debian 12 7.2 (user home directories configured)",
        "SRG-OS-000480-GPOS-00227; NIST AC-6",
        "164.312(a)(1) access control",
        _home_perms,
    ),
    Check(
        "disk.encryption",
        "The volume holding the home is dm-crypt (LUKS) encrypted",
        "CIS Debian 12 1.1 (separate, protected partitions)",
        "SRG-OS-000405-GPOS-00184, SRG-OS-000185-GPOS-00079; NIST SC-28(1)",
        "164.312(a)(2)(iv) encryption and decryption",
        _encryption,
    ),
    Check(
        "ssh.off",
        "SSH server not enabled and not listening",
        "CIS Debian 12 2.x / 5.1 (sshd not enabled where not required)",
        "SRG-OS-000096-GPOS-00050; NIST CM-7",
        "164.312(e)(1) transmission security",
        _ssh,
    ),
)


def run_checks(
    root: Path = Path("/"), home: Path | None = None, live: bool | None = None, only: list[str] | None = None
) -> list[Result]:
    """Run every check (or ``only`` those ids) against ``root``; ``live`` defaults to ``root == /``."""
    root = Path(root)
    ctx = CheckContext(
        root, Path(home or DEFAULT_HOME), root.resolve() == Path("/") if live is None else live
    )
    out = []
    for c in CHECKS:
        if only and c.id not in only:
            continue
        try:
            status, detail = c.run(ctx)
        except (OSError, ValueError) as e:  # an unreadable probe fails closed, with the reason
            status, detail = "fail", f"could not check: {type(e).__name__}: {e}"
        out.append(
            Result(
                c.id, c.title, status, detail, c.required, {"cis": c.cis, "stig": c.stig, "hipaa": c.hipaa}
            )
        )
    return out
