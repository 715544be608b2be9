"""`harden apply`: templates render into a root; --dry-run: a diff, nothing written; re-apply: no-op."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from appliance.harden import apply, check
from appliance.home import Home


def _files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): (os.readlink(p) if p.is_symlink() else p.read_text())
        for p in sorted(root.rglob("*"))
        if p.is_file() or p.is_symlink()
    }


def test_dry_run_is_a_diff_and_writes_nothing(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/fstab").write_text(
        "/dev/sda2 / ext4 defaults 0 1\n/dev/sda3 none swap sw 0 0\ntmpfs /tmp tmpfs defaults 0 0\n"
    )
    before = _files(root)
    r = apply(root, Home(tmp_path / "home"), dry_run=True)
    assert _files(root) == before
    d = r["diff"]
    assert "+++ b/etc/nftables.conf" in d and "policy drop" in d
    assert f"-w {tmp_path / 'home'}/keys -p rwa" in d  # ${home} substituted
    assert "-/dev/sda3 none swap sw 0 0" in d and "+# swap disabled" in d
    assert "nodev,nosuid,noexec" in d and "mask /etc/systemd/system/ssh.service -> /dev/null" in d


def test_apply_renders_then_is_idempotent(tmp_path):
    root = tmp_path / "root"
    d = root / "etc/systemd/system/multi-user.target.wants"
    d.mkdir(parents=True)
    os.symlink("/lib/systemd/system/ssh.service", d / "ssh.service")
    (root / "etc/fstab").write_text("tmpfs /tmp tmpfs defaults 0 0\n")
    r = apply(root, None)
    assert r["changes"]
    assert (
        not (d / "ssh.service").exists()
        and os.readlink(root / "etc/systemd/system/ssh.service") == "/dev/null"
    )
    fstab = (root / "etc/fstab").read_text()
    assert "defaults,nodev,nosuid,noexec" in fstab and "/dev/shm" in fstab
    dropin = (root / "etc/systemd/system/appliance-retrain.service.d/90-hardening.conf").read_text()
    assert "PrivateNetwork=yes" in dropin and "ReadWritePaths=/var/lib/appliance" in dropin
    assert apply(root, None, dry_run=True)["changes"] == []
    # the configuration checks now pass on the rendered root
    report = check(
        root,
        None,
        live=False,
        only=["firewall.nftables", "usb.storage", "audit.rules", "ssh.off", "swap.off"],
    )
    assert report["ok"], report["checks"]


def test_cli_dry_run(tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "appliance", "harden", "apply", "--root", str(tmp_path), "--dry-run"],
        capture_output=True,
        text=True, check=False
    )
    assert p.returncode == 0, p.stderr
    assert "+++ b/etc/sysctl.d/90-appliance.conf" in p.stdout and "dry run" in p.stdout
    assert list(tmp_path.iterdir()) == []


def test_apply_and_check_are_audited(tmp_path, home):
    from appliance.audit import read_entries

    apply(tmp_path / "root", home)
    check(tmp_path / "root", home, live=False)
    actions = [e["action"] for e in read_entries(home)]
    assert "harden.apply" in actions and "harden.check" in actions
