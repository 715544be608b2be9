"""Attack: an insider switches scrubbing off in appliance.toml. Vault ingest must refuse (exit 4) unless a
waiver names the types with a reason; `config check` lists waivers; the ingest audit entry records operators."""

from __future__ import annotations

import json

import pytest

NOTE = "Patient Jonathan Quimbley seen today for chest pain, follow up in two weeks, stable on discharge.\n"


def _edit_config(home, extra: str, *, operator: str | None = None) -> None:
    p = home.config_path
    text = p.read_text()
    if operator:
        text = text.replace('default_operator = "surrogate"', f'default_operator = "{operator}"')
    p.write_text(text + "\n" + extra)


def _ingest(cli, home, pf, path):
    return cli("vault", "ingest", str(path), "--source", "s1", "--passphrase-file", str(pf), "--json", home=home)


@pytest.mark.parametrize("attack", [
    ("default_keep", ""),
    ("name_keep", None),
    ("ner_and_names_disabled", None),
    ("threshold_one", None),
])
def test_switched_off_scrubbing_is_refused_without_waiver(home, passphrase_file, tmp_path, cli, attack):
    name, _ = attack
    p = home.config_path
    text = p.read_text()
    if name == "default_keep":
        text = text.replace('default_operator = "surrogate"', 'default_operator = "keep"')
        expect = "NAME"
    elif name == "name_keep":
        text = text.replace("[scrub]\n", '[scrub]\noperators = { PHONE = "keep" }\n')
        expect = "PHONE"
    elif name == "ner_and_names_disabled":
        text = text.replace("[scrub]\n", '[scrub]\nenabled_recognizers = ["clinical_date"]\n')
        expect = "NAME"
    else:
        text = text.replace("[scrub]\n", "[scrub]\nthresholds = { MRN = 1.0 }\n")
        expect = "MRN"
    assert text != p.read_text()
    p.write_text(text)
    (tmp_path / "a.txt").write_text(NOTE)
    r = _ingest(cli, home, passphrase_file, tmp_path / "a.txt")
    assert r.returncode == 4, r.stderr
    assert "vault ingest refused" in r.stderr and expect in r.stderr
    c = cli("config", "check", home=home)
    assert c.returncode == 4 and expect in c.stderr
    log = "".join(f.read_text() for f in home.root.joinpath("audit").glob("*.jsonl"))
    assert "vault.ingest" not in log


def test_waiver_allows_ingest_and_is_listed_and_audited(home, passphrase_file, tmp_path, cli):
    reason = "IRB-2026-14 phone follow-up study, approved by the privacy officer"
    p = home.config_path
    p.write_text(p.read_text().replace("[scrub]\n", '[scrub]\noperators = { PHONE = "keep" }\n')
                 + f'\n[[waiver.scrub]]\ntypes = ["PHONE"]\nreason = "{reason}"\napproved_by = "privacy office"\n')
    c = cli("config", "check", home=home)
    assert c.returncode == 0, c.stderr
    assert "WAIVER scrub PHONE" in c.stdout and reason in c.stdout
    j = json.loads(cli("config", "check", "--json", home=home, check=True).stdout)
    assert j["waivers"][0]["types"] == ["PHONE"] and j["unscrubbed"] == ["PHONE"] and j["unwaived"] == []

    (tmp_path / "a.txt").write_text("Patient seen today for chest pain, stable, call back at (617) 555-0142, "
                                    "follow up in two weeks with Dr. Jonathan Quimbley.\n")
    r = _ingest(cli, home, passphrase_file, tmp_path / "a.txt")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["phi_found"].get("PHONE", 0) >= 1
    entries = [json.loads(line) for f in sorted(home.root.joinpath("audit").glob("*.jsonl"))
               for line in f.read_text().splitlines() if line.strip()]
    ingests = [e for e in entries if json.dumps(e).find('"vault.ingest') >= 0]
    assert ingests
    for e in ingests:
        body = json.dumps(e)
        assert '"PHONE": "keep"' in body and '"NAME": "surrogate"' in body and reason in body

    # the compliance report shows the operator per type and the waiver for the run and for its batch, and
    # counts the kept phone number as kept, not as replaced
    import html
    import re

    from appliance.report import build_report

    out = tmp_path / "report.html"
    res = build_report(home, out)
    page = html.unescape(re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", out.read_text()))
    d = res["data"]["data"]
    assert d["phi_kept"].get("PHONE", 0) >= 1 and "PHONE" not in d["phi_replaced"]
    assert d["catalog"]["batches"][0]["policy"]["waivers"] == {"PHONE": reason}
    cell = "keep: PHONE · surrogate: "
    assert page.count(cell) >= 2 and page.count(f"waived: PHONE ({reason})") >= 2  # run row and batch row
    assert "PHI items found, kept under a waiver" in page and "found and scrubbed" not in page


def test_waiver_for_an_unknown_type_is_a_config_error(home, cli):
    _edit_config(home, '[[waiver.scrub]]\ntypes = ["PHONES"]\nreason = "typo in the type name here"\n')
    c = cli("config", "check", home=home)
    assert c.returncode == 2 and "waiver.scrub.0.types" in c.stderr and "PHONES" in c.stderr


def test_waiver_without_reason_is_a_config_error(home, cli):
    _edit_config(home, '[[waiver.scrub]]\ntypes = ["NAME"]\n', operator="keep")
    c = cli("config", "check", home=home)
    assert c.returncode == 2 and "waiver.scrub.0.reason" in c.stderr
