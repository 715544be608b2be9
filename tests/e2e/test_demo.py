"""`appliance demo --json` end to end: every stage runs, and the promises each stage makes hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path):
    env = dict(os.environ)
    env.pop("APPLIANCE_HOME", None)
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "appliance", "demo", "--workdir", str(tmp_path / "demo"), "--json"],
        capture_output=True, text=True, env=env, timeout=1500, check=False
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads(proc.stdout)
    stages = summary["stages"]
    from appliance.demo import corpus, stage_names

    assert list(stages) == stage_names()
    # The report exists, is self-contained HTML, and the audit log behind it verifies.
    report = Path(summary["report"])
    html = report.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    verify = subprocess.run(
        [sys.executable, "-m", "appliance", "--home", summary["home"], "audit", "verify", "--json"],
        capture_output=True, text=True, env=env, check=False
    )
    assert verify.returncode == 0, verify.stderr
    # No PHI value from the corpus's answer key anywhere in the report.
    leaked = []
    for line in corpus.MONTH1.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        for span in rec.get("spans", []):
            value = rec["text"][span["start"]:span["end"]]
            if len(value) >= 6 and value in html:
                leaked.append(value)
    assert not leaked, leaked[:10]
