"""installer/systemd/appliance-serve.service: hardened, runs `appliance serve` as the appliance user, does not
restart a refused start; `systemd-analyze verify` accepts it where systemd is installed."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "installer" / "systemd" / "appliance-serve.service"


def _service() -> configparser.SectionProxy:
    cp = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    cp.optionxform = str
    cp.read(UNIT)
    return cp["Service"]


def test_unit_is_hardened_and_runs_serve_as_the_appliance_user():
    svc = _service()
    assert svc["User"] == "appliance" and svc["Group"] == "appliance"
    assert svc["ExecStart"].split()[1:3] == ["serve", "--artifact"]
    assert "--host 127.0.0.1" in svc["ExecStart"] and "--insecure-http" not in svc["ExecStart"]
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
                       "ReadWritePaths": "/var/lib/appliance", "ProtectHome": "yes", "IPAddressDeny": "any",
                       "KillSignal": "SIGTERM"}.items():
        assert svc[key] == value, key
    assert set(svc["RestartPreventExitStatus"].split()) >= {"3", "4"}  # a tampered artifact is not retried
    assert svc["CapabilityBoundingSet"] == ""


def test_systemd_analyze_verify(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    exe = Path(sys.executable).with_name("appliance")
    text = UNIT.read_text().replace("/opt/appliance/current/bin/appliance", str(exe if exe.exists() else "/bin/true"))
    unit = tmp_path / UNIT.name
    unit.write_text(text)
    proc = subprocess.run([tool, "verify", str(unit)], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "appliance-serve" not in proc.stderr, proc.stderr  # no warning about this unit
    unit.write_text(text.replace("ProtectSystem=strict", "ProtectSystem=strictly"))
    proc = subprocess.run([tool, "verify", str(unit)], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 or "strictly" in proc.stderr  # verify does catch a broken unit
