"""The compliance report over real homes: sections, integrity evidence, no PHI, CLI, period filters."""

from __future__ import annotations

import html as htmlmod
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from appliance.audit import read_entries, record
from appliance.errors import UsageError
from appliance.report import Period, build_report

DATA_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


def _text(path: Path) -> str:
    """The report's content as a reader sees it: entities unescaped; the embedded PNG bytes and the constant
    CSS/JS templates (which cannot carry data) left out."""
    page = DATA_URI.sub("", path.read_text(encoding="utf-8"))
    page = re.sub(r"<style>.*?</style>|<script>.*?</script>", "", page, flags=re.DOTALL)
    return htmlmod.unescape(page)


def _pre(page: str, ident: str) -> str:
    m = re.search(rf'<pre id="{ident}">(.*?)</pre>', page, re.DOTALL)
    assert m, ident
    return htmlmod.unescape(m.group(1))


def test_period_parsing():
    p = Period.parse("2026-11-01", "2026-11-30")
    assert p.contains("2026-11-01T00:00:00.000000Z") and p.contains("2026-11-30T23:59:59.999999Z")
    assert not p.contains("2026-12-01T00:00:00Z") and not p.contains("2026-10-31T23:59:59Z")
    assert Period.parse("2026-11-01T08:00+02:00", None).contains("2026-11-01T06:00:00Z")
    for bad in (("2026-13-01", None), ("yesterday", None), ("2026-11-02", "2026-11-01")):
        with pytest.raises(UsageError):
            Period.parse(*bad)


def test_report_over_populated_home(rich_home, tmp_path):
    home, keys, info = rich_home
    out = tmp_path / "r" / "report.html"
    res = build_report(home, out, signer=keys.signer)
    page = out.read_text(encoding="utf-8")
    assert res["audit_verified"] is True and res["sections"]["integrity"] == "ok"
    assert res["sections"]["activity"] == "ok" and res["sections"]["host"] == "ok"
    # self-contained: nothing loads from outside the file
    assert 'http-equiv="Content-Security-Policy"' in page and "default-src 'none'" in page
    assert not re.search(r'(src|href)="(https?:|//)', page) and "<link" not in page
    assert page.count("data:image/png;base64,") >= 2  # activity plots at least
    for sid in ("integrity", "activity", "data", "models", "artifacts", "host"):
        assert f'<section id="{sid}">' in page
    # the report's own audit entry pins the file's hash
    last = [e for e in read_entries(home, action="report.generate")][-1]
    assert last["object"]["sha256"] == res["sha256"] and last["object"]["audit_verified"] is True
    d = res["data"]
    assert d["host"]["harden"]["outcome"] == "failed" and d["host"]["doctor"].get("available") is not False
    if "ingest" in info:
        ing = info["ingest"]
        assert res["sections"]["data"] == "ok"
        assert (
            d["data"]["totals"]["kept"] == ing["kept"]
            and d["data"]["totals"]["records_in"] == ing["records_in"]
        )
        assert d["data"]["phi_by_type"] == {k: v for k, v in ing["phi_found"].items() if v}
        assert sum(ing["phi_found"].values()) > 0
        assert d["data"]["shreds"] and d["data"]["catalog"]["sources"]["clinic-a"]["shredded"] == 1
        assert "PHI found by type" in page
    if "artifacts" in info:
        arts = {a["artifact_id"]: a for a in d["artifacts"]["artifacts"]}
        good, bad = info["artifacts"]["good"], info["artifacts"]["bad"]
        assert (
            arts[good]["verification"]["ok"] is True
            and arts[good]["verification"]["key_id"] == keys.signer.key_id
        )
        assert arts[bad]["verification"]["ok"] is False
        assert res["artifacts_failed"] == [bad] and "Signature check FAILED" in page
        assert [e["action"] for e in d["artifacts"]["events"]] == ["export.gguf", "export.gguf"]
    if "version" in info:
        v = info["version"]
        assert d["models"]["champion"] == v
        assert [f["version"] for f in d["models"]["flagged"]] == [v]
        lin = d["models"]["lineage"][0]
        assert lin["version"] == v and lin["sources"] == {"clinic-a": lin["train_records"]}
        assert {e["kind"] for e in d["models"]["evaluations"]} == {"eval", "gate"}
        assert 'alt="training loss per run"' in page
        assert res["models_flagged"] == [v]
        # the openssl check the models section prints works on the version's signed manifest
        mdir = home.model_dir(v)
        p = subprocess.run(
            [
                "openssl",
                "dgst",
                "-sha256",
                "-verify",
                str(home.signing_pub_path),
                "-signature",
                str(mdir / "MANIFEST.sig"),
                str(mdir / "MANIFEST.json"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert "Verified OK" in p.stdout, p.stderr


def test_report_contains_no_phi(rich_home, tmp_path):
    """Grep test: no annotated PHI value from the corpus's answer key appears anywhere in the report."""
    home, _keys, info = rich_home
    out = tmp_path / "report.html"
    build_report(home, out)
    text = _text(out)
    checked = 0
    for value in sorted(info["phi"]):
        v = value.strip()
        if len(v) < 4:  # 2-3 character values ("MA", "72") collide with ordinary counts and codes
            continue
        checked += 1
        # token boundaries: a 5-digit ZIP must not "match" inside a 64-hex-digit hash
        assert not re.search(rf"(?<![0-9A-Za-z]){re.escape(v)}(?![0-9A-Za-z])", text), (
            f"PHI value in report: {v!r}"
        )
    assert checked >= 10
    if "ingest" in info:  # the notes really went in, and their PHI was found (so it existed to leak)
        assert info["ingest"]["kept"] >= 1 and sum(info["ingest"]["phi_found"].values()) >= info["notes"]
    # and the JSON summary carries none either
    res = build_report(home, tmp_path / "r2.html")
    blob = json.dumps(res, ensure_ascii=False)
    assert not any(len(v) >= 6 and v in blob for v in info["phi"])


def test_integrity_evidence_verifies_with_openssl(rich_home, tmp_path):
    """The checkpoint and key printed in the report, checked with the exact commands the report gives."""
    home, _keys, _ = rich_home
    out = tmp_path / "report.html"
    res = build_report(home, out)
    page = out.read_text(encoding="utf-8")
    (tmp_path / "checkpoint.note").write_text(_pre(page, "checkpoint-note"))
    (tmp_path / "signing.pub.pem").write_text(_pre(page, "public-key"))
    integ = res["data"]["integrity"]
    step = next(s for s in integ["how_to_verify"] if "openssl" in s["commands"])
    script = "\n".join(line.split("   #")[0] for line in step["commands"].splitlines())
    p = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert p.returncode == 0, p.stderr
    assert "Verified OK" in p.stdout
    assert integ["checkpoint"]["fingerprint"] in p.stdout  # sha256sum of the DER key = the fingerprint shown
    # a forged root no longer verifies
    note = (tmp_path / "checkpoint.note").read_text().split("\n")
    note[2] = "A" * 43 + "="
    (tmp_path / "checkpoint.note").write_text("\n".join(note))
    p = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert p.returncode != 0


def test_export_commands_from_report_work(home, passphrase_file, cli, tmp_path):
    """Steps 1-2 of "how to verify elsewhere", run as printed (export here, verify-export with the pinned key)."""
    record(home, "audit.note", {"text": "for export"})
    out = tmp_path / "report.html"
    res = build_report(home, out)
    steps = res["data"]["integrity"]["how_to_verify"]
    export_cmd = steps[0]["commands"].splitlines()[0].replace("--since SINCE --until UNTIL ", "")
    verify_cmd = steps[1]["commands"]
    env = {"APPLIANCE_PASSPHRASE_FILE": str(passphrase_file)}
    args = export_cmd.split()[1:]
    args[args.index("-o") + 1] = str(tmp_path / "audit-export.jsonl")
    p = cli(*args, home=home, env=env)
    assert p.returncode == 0, p.stderr
    shutil.copy(home.signing_pub_path, tmp_path / "signing.pub.pem")
    vargs = verify_cmd.split()[1:]
    vargs = [str(tmp_path / a) if a in ("audit-export.jsonl", "signing.pub.pem") else a for a in vargs]
    p = cli(*vargs, "--json", home=None)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["verified"] is True
    # step 4: the checkpoint saved from a report still verifies against the grown log
    build_report(home, out)
    (tmp_path / "checkpoint.note").write_text(_pre(out.read_text(), "checkpoint-note"))
    record(home, "audit.note", {"text": "after the report"})
    args = steps[3]["commands"].split()[1:]
    args[args.index("--checkpoint") + 1] = str(tmp_path / "checkpoint.note")
    p = cli(*args, home=home)
    assert p.returncode == 0, p.stderr


def test_tampered_log_is_the_headline(home, keys, tmp_path):
    for i in range(4):
        record(home, "audit.note", {"i": i}, signer=keys.signer)
    lines = home.audit_log_path.read_text().splitlines()
    lines[2] = lines[2].replace('"i":0', '"i":9') if '"i":0' in lines[2] else lines[2].replace('"ok"', '"no"')
    home.audit_log_path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "report.html"
    res = build_report(home, out)
    assert res["audit_verified"] is False and res["sections"]["integrity"] == "failed"
    page = out.read_text()
    assert "AUDIT LOG VERIFICATION FAILED" in page and "at entry seq 2" in page


def test_empty_sections_say_no_data(home, tmp_path):
    """A fresh home (no vault, registry, runs or artifacts) reports "no data" instead of failing."""
    res = build_report(home, tmp_path / "report.html")
    assert res["sections"]["integrity"] == "ok"
    for s in ("data", "models", "artifacts"):
        assert res["sections"][s] == "no data", (s, res["data"][s])
    page = (tmp_path / "report.html").read_text()
    assert "No signed checkpoint yet" in page or "Latest signed checkpoint" in page


def test_period_filters_activity(home, keys, tmp_path):
    record(home, "audit.note", {"n": 1})
    res = build_report(home, tmp_path / "future.html", since="2999-01-01")
    assert res["sections"]["activity"] == "no data" and res["entries_in_period"] == 0
    res = build_report(home, tmp_path / "past.html", until="2000-01-01")
    assert res["entries_in_period"] == 0
    res = build_report(home, tmp_path / "all.html", since="2000-01-01", until="2999-12-31")
    assert res["entries_in_period"] >= 2
    # integrity is about the whole log, whatever the period
    assert res["audit_verified"] is True


def test_cli_report(home, cli, tmp_path, passphrase_file):
    out = tmp_path / "cli-report.html"
    p = cli("report", "--since", "2000-01-01", "-o", str(out), "--json", home=home)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["path"] == str(out) and out.is_file() and d["audit_verified"] is True
    p = cli("report", "--since", "not-a-date", "-o", str(out), home=home)
    assert p.returncode == 2 and "--since" in p.stderr
    harden = tmp_path / "harden.json"
    harden.write_text(
        json.dumps(
            {
                "ok": False,
                "passed": 1,
                "failed": ["ssh.off"],
                "checks": [
                    {"id": "ssh.off", "status": "fail", "required": True, "detail": "sshd enabled"},
                    {"id": "swap.off", "status": "pass", "required": True, "detail": "no swap"},
                ],
            }
        )
    )
    p = cli(
        "report",
        "-o",
        str(out),
        "--harden-json",
        str(harden),
        home=home,
        env={"APPLIANCE_PASSPHRASE_FILE": str(passphrase_file)},
    )
    assert p.returncode == 0, p.stderr
    assert "sshd enabled" in out.read_text()


def test_pdf_without_chromium_is_a_clear_error(home, cli, tmp_path):
    import sys

    out = tmp_path / "r.html"
    p = cli(
        "report",
        "-o",
        str(out),
        "--pdf",
        home=home,
        env={"PATH": str(Path(sys.executable).parent), "APPLIANCE_CHROMIUM": ""},
    )
    assert p.returncode == 1
    assert "Chromium" in p.stderr and "apt-get install -y chromium" in p.stderr


def test_a_broken_subsystem_does_not_stop_the_report(home, tmp_path):
    """A corrupt registry database: the models section says why; every other section is still there."""
    home.registry_path.parent.mkdir(parents=True, exist_ok=True)
    home.registry_path.write_bytes(b"this is not a sqlite database" * 100)
    res = build_report(home, tmp_path / "report.html")
    assert res["sections"]["models"] == "error" and res["sections"]["integrity"] == "ok"
    page = (tmp_path / "report.html").read_text()
    assert "Registry could not be read" in page and '<section id="host">' in page
