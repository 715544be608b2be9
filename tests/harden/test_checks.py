"""`harden check` against fixture roots (one passing, one failing root per check) and inside `unshare -n`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.harden import CHECKS, check
from appliance.harden.probes import _addr, interfaces, listeners
from appliance.home import Home

from .conftest import BREAKERS, HOME

REPO = Path(__file__).resolve().parents[2]


def _run(root: Path) -> dict:
    return check(root, Home(Path(HOME)), live=False)


def test_every_check_has_references_and_a_failing_fixture():
    assert {c.id for c in CHECKS} == set(BREAKERS)
    for c in CHECKS:
        assert c.cis and c.stig and c.hipaa.startswith("164.3")


def test_good_root_passes_everything(good_root):
    report = _run(good_root)
    bad = [(c["id"], c["detail"]) for c in report["checks"] if c["status"] != "pass"]
    assert bad == [] and report["ok"]
    enc = next(c for c in report["checks"] if c["id"] == "disk.encryption")
    assert "dm-0" in enc["detail"] and "LUKS2" in enc["detail"]  # found through LVM (dm-1) on LUKS (dm-0)


@pytest.mark.parametrize("check_id", sorted(BREAKERS))
def test_each_breakage_fails_exactly_its_check(good_root, check_id):
    BREAKERS[check_id](good_root)
    report = _run(good_root)
    assert report["ok"] is False
    assert report["failed"] == [check_id], [
        (c["id"], c["detail"]) for c in report["checks"] if c["status"] == "fail"
    ]


def test_missing_home_is_skipped_not_failed(good_root):
    import shutil

    shutil.rmtree(good_root / HOME.lstrip("/"))
    report = _run(good_root)
    assert report["skipped"] == ["home.permissions"]


def test_cli_exit_codes_and_json(good_root):
    cmd = [
        sys.executable,
        "-m",
        "appliance",
        "--home",
        HOME,
        "harden",
        "check",
        "--root",
        str(good_root),
        "--json",
    ]
    ok = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True
    BREAKERS["usb.storage"](good_root)
    bad = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert bad.returncode == 4
    assert json.loads(bad.stdout)["failed"] == ["usb.storage"] and "usb.storage" in bad.stderr


def test_proc_net_address_parsing():
    assert _addr("0100007F:1F90") == "127.0.0.1:8080"
    assert _addr("00000000000000000000000001000000:0016") == "::1:22"
    assert _addr("0000000000000000FFFF00000100007F:0035") == "::ffff:127.0.0.1:53"


def _unshare_ok() -> bool:
    return subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(not _unshare_ok(), reason="`unshare -n` is not permitted here (needs root)")
def test_live_airgap_checks_pass_in_empty_network_namespace(tmp_path):
    """The live probes (ioctl flags, /proc/net, a real DNS lookup) judge a real network namespace."""
    ids = ["airgap.interfaces", "airgap.route", "airgap.dns", "airgap.listeners"]
    cmd = [
        "unshare",
        "-n",
        sys.executable,
        "-m",
        "appliance",
        "--home",
        str(tmp_path / "h"),
        "harden",
        "check",
        "--json",
    ] + [a for i in ids for a in ("--only", i)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    report = json.loads(p.stdout)
    assert report["live"] is True
    assert {c["id"]: c["status"] for c in report["checks"]} == dict.fromkeys(ids, "pass"), report
    assert p.returncode == 0
    # and a listener on a non-loopback address inside the namespace is caught
    code = (
        "import socket, subprocess, sys, json; s = socket.socket(); s.bind(('0.0.0.0', 0)); s.listen(); "
        "from appliance.harden.probes import listeners; print(json.dumps(listeners('/')))"
    )
    q = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert q.returncode == 0, q.stderr
    assert any(x.startswith("tcp 0.0.0.0:") for x in json.loads(q.stdout))


def test_interfaces_from_fixture(good_root):
    BREAKERS["airgap.interfaces"](good_root)
    ifs = {i.name: (i.up, i.loopback) for i in interfaces(good_root)}
    assert ifs == {"lo": (True, True), "eth0": (True, False)}
    assert listeners(good_root) == []
