"""The retrain service and timer: monthly, persistent, randomized, run as the appliance user; verified by
`systemd-analyze verify` where systemd is installed."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "installer" / "systemd"


def _parse(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    cp.optionxform = str
    cp.read(path)
    return cp


def test_timer_and_service_settings():
    timer = _parse(UNITS / "appliance-retrain.timer")
    assert timer["Timer"]["OnCalendar"] == "monthly"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["RandomizedDelaySec"]
    assert timer["Timer"]["Unit"] == "appliance-retrain.service"
    svc = _parse(UNITS / "appliance-retrain.service")["Service"]
    assert svc["User"] == "appliance" and svc["Type"] == "oneshot"
    assert svc["ExecStart"].split()[1:] == ["retrain", "--resume", "--json"]
    assert svc["SuccessExitStatus"] == "4"  # a rejected candidate is a decision, not a failed unit
    assert svc["PrivateNetwork"] == "yes"


def test_systemd_analyze_verify(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    for unit in UNITS.iterdir():
        text = unit.read_text()
        # verify checks that ExecStart is executable: point it at this checkout's CLI entry point
        exe = Path(sys.executable).with_name("appliance")
        text = text.replace("/opt/appliance/current/bin/appliance", str(exe if exe.exists() else "/bin/true"))
        (tmp_path / unit.name).write_text(text)
    proc = subprocess.run([tool, "verify", str(tmp_path / "appliance-retrain.timer"),
                           str(tmp_path / "appliance-retrain.service")], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "appliance-retrain" not in proc.stderr, proc.stderr  # no warnings about our units
    # and verify does catch a broken unit
    bad = (tmp_path / "appliance-retrain.service").read_text().replace("Type=oneshot", "Type=oneshott")
    (tmp_path / "appliance-retrain.service").write_text(bad)
    proc = subprocess.run([tool, "verify", str(tmp_path / "appliance-retrain.service")], check=False, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0 or "oneshott" in proc.stderr
