"""FHIR R4 AuditEvent and RFC 5424 syslog exports: structure, parsing, and verify-export round trips."""

from __future__ import annotations

import json
import re

import pytest

from appliance.audit import export, record, verify_export
from appliance.audit.formats_interop import SYSLOG_RE, audit_event, parse_syslog, syslog_line
from appliance.errors import IntegrityError

# -- a structural validator written from the FHIR R4 AuditEvent definition (hl7.org/fhir/R4/auditevent.html) --

INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


# element -> (min, max or None for *, check)
def _is_coding(x):
    return (
        isinstance(x, dict)
        and set(x) <= {"system", "version", "code", "display", "userSelected"}
        and all(isinstance(x.get(k), str) for k in ("system", "code") if k in x)
        and ("code" in x or "display" in x)
    )


def _is_cc(x):
    return (
        isinstance(x, dict)
        and set(x) <= {"coding", "text"}
        and all(_is_coding(c) for c in x.get("coding", []))
    )


def _is_reference(x):
    return (
        isinstance(x, dict)
        and set(x) <= {"reference", "type", "identifier", "display"}
        and bool(x)
        and ("identifier" not in x or (isinstance(x["identifier"], dict) and "value" in x["identifier"]))
    )


TOP = {
    "resourceType": (1, 1, lambda x: x == "AuditEvent"),
    "id": (0, 1, lambda x: isinstance(x, str) and FHIR_ID.match(x)),
    "meta": (0, 1, lambda x: isinstance(x, dict)),
    "type": (1, 1, _is_coding),
    "subtype": (0, None, _is_coding),
    "action": (0, 1, lambda x: x in ("C", "R", "U", "D", "E")),
    "period": (0, 1, lambda x: isinstance(x, dict)),
    "recorded": (1, 1, lambda x: isinstance(x, str) and INSTANT.match(x)),
    "outcome": (0, 1, lambda x: x in ("0", "4", "8", "12")),
    "outcomeDesc": (0, 1, lambda x: isinstance(x, str)),
    "purposeOfEvent": (0, None, _is_cc),
    "agent": (1, None, lambda x: isinstance(x, dict)),
    "source": (1, 1, lambda x: isinstance(x, dict)),
    "entity": (0, None, lambda x: isinstance(x, dict)),
}
AGENT = {
    "type": (0, 1, _is_cc),
    "role": (0, None, _is_cc),
    "who": (0, 1, _is_reference),
    "altId": (0, 1, lambda x: isinstance(x, str)),
    "name": (0, 1, lambda x: isinstance(x, str)),
    "requestor": (1, 1, lambda x: isinstance(x, bool)),
    "location": (0, 1, _is_reference),
    "policy": (0, None, lambda x: isinstance(x, str)),
    "media": (0, 1, _is_coding),
    "network": (
        0,
        1,
        lambda x: (
            isinstance(x, dict)
            and set(x) <= {"address", "type"}
            and x.get("type", "1") in ("1", "2", "3", "4", "5")
        ),
    ),
    "purposeOfUse": (0, None, _is_cc),
}
SOURCE = {
    "site": (0, 1, lambda x: isinstance(x, str)),
    "observer": (1, 1, _is_reference),
    "type": (0, None, _is_coding),
}
ENTITY = {
    "what": (0, 1, _is_reference),
    "type": (0, 1, _is_coding),
    "role": (0, 1, _is_coding),
    "lifecycle": (0, 1, _is_coding),
    "securityLabel": (0, None, _is_coding),
    "name": (0, 1, lambda x: isinstance(x, str)),
    "description": (0, 1, lambda x: isinstance(x, str)),
    "query": (0, 1, lambda x: isinstance(x, str)),
    "detail": (
        0,
        None,
        lambda d: (
            isinstance(d, dict)
            and isinstance(d.get("type"), str)
            and len([k for k in d if k.startswith("value")]) == 1
            and ("valueString" in d or "valueBase64Binary" in d)
        ),
    ),
    "agent": (0, None, lambda x: isinstance(x, dict)),
}


def _check(obj: dict, spec: dict, where: str) -> list[str]:
    errs = [f"{where}: unknown element {k!r}" for k in obj if k not in spec]
    for name, (lo, hi, ok) in spec.items():
        v = obj.get(name)
        many = hi is None
        if v is None:
            if lo:
                errs.append(f"{where}.{name}: required ({lo}..{'*' if many else hi})")
            continue
        if many:
            if not isinstance(v, list) or len(v) < max(lo, 1):
                errs.append(f"{where}.{name}: must be a non-empty array")
                continue
            errs += [f"{where}.{name}[{i}]: invalid" for i, x in enumerate(v) if not ok(x)]
        else:
            if isinstance(v, list):
                errs.append(f"{where}.{name}: max 1, got an array")
            elif not ok(v):
                errs.append(f"{where}.{name}: invalid value {v!r}")
    return errs


def validate_audit_event(res: dict) -> list[str]:
    """Problems with ``res`` as a FHIR R4 AuditEvent (required elements, cardinalities, types, sev-1)."""
    errs = _check(res, TOP, "AuditEvent")
    for i, a in enumerate(res.get("agent") or []):
        errs += _check(a, AGENT, f"agent[{i}]")
    if isinstance(res.get("source"), dict):
        errs += _check(res["source"], SOURCE, "source")
    for i, e in enumerate(res.get("entity") or []):
        errs += _check(e, ENTITY, f"entity[{i}]")
        if e.get("name") and e.get("query"):
            errs.append(f"entity[{i}]: sev-1 (name or query, not both)")
    return errs


def test_validator_rejects_broken_events():
    good = audit_event(_entry())
    assert validate_audit_event(good) == []
    for broken in (
        {k: v for k, v in good.items() if k != "recorded"},
        {k: v for k, v in good.items() if k != "source"},
        {**good, "agent": []},
        {**good, "agent": [{k: v for k, v in good["agent"][0].items() if k != "requestor"}]},
        {**good, "source": {"site": "x"}},
        {**good, "type": [good["type"]]},
        {**good, "outcome": "1"},
        {**good, "entity": [{"name": "a", "query": "cQ=="}]},
    ):
        assert validate_audit_event(broken), broken


def _entry(**kw) -> dict:
    e = {
        "seq": 3,
        "ts": "2026-11-23T10:00:00.123456Z",
        "actor": "alice",
        "host": "ward-host",
        "pid": 42,
        "action": "vault.ingest",
        "object": {"batch": "b-1", "records_in": 5, "phi_found": {"PERSON": 2}},
        "outcome": "ok",
        "prev": "a" * 64,
        "hash": "b" * 64,
    }
    e.update(kw)
    return e


@pytest.mark.parametrize(
    "action,typ",
    [
        ("vault.ingest", "110107"),
        ("vault.show", "110110"),
        ("vault.export", "110106"),
        ("keys.unlock", "110114"),
        ("audit.verify", "110101"),
        ("harden.check", "110113"),
        ("train.start", "110100"),
        ("something.new", "110100"),
    ],
)
def test_balp_type_codes(action, typ):
    ev = audit_event(_entry(action=action))
    assert ev["type"] == {
        "system": "http://dicom.nema.org/resources/ontology/DCM",
        "code": typ,
        "display": ev["type"]["display"],
    }
    assert {"system": "urn:appliance:audit-action", "code": action} in ev["subtype"]
    assert validate_audit_event(ev) == []


def test_agent_source_entity_carry_ids_only():
    ev = audit_event(_entry(action="vault.shred", object={"record_ids": ["r1", "r2"], "source": "clinic"}))
    requestors = [a for a in ev["agent"] if a["requestor"]]
    assert len(requestors) == 1 and requestors[0]["who"]["identifier"]["value"] == "alice"
    assert ev["source"]["observer"]["identifier"]["value"] == "ward-host"
    assert ev["action"] == "D" and ev["outcome"] == "0"
    ids = {(x["what"]["identifier"]["system"], x["what"]["identifier"]["value"]) for x in ev["entity"]}
    assert ("urn:appliance:record_id", "r1") in ids and ("urn:appliance:record_id", "r2") in ids
    assert ("urn:appliance:audit-entry", "b" * 64) in ids
    assert audit_event(_entry(outcome="refused"))["outcome"] == "4"
    assert audit_event(_entry(outcome="failed"))["outcome"] == "8"


def test_syslog_line_parses_as_rfc5424():
    line = syslog_line(_entry(actor='bob "the" ]admin\\', object={"note": 'a]b"c', "n": 3}))
    m = SYSLOG_RE.match(line)
    assert m, line
    msg = parse_syslog(line)
    assert msg["version"] == "1" and msg["facility"] == 13 and msg["severity"] == 6
    assert msg["timestamp"] == "2026-11-23T10:00:00.123456Z"
    assert msg["hostname"] == "ward-host" and msg["appname"] == "appliance" and msg["procid"] == "42"
    assert msg["msgid"] == "vault.ingest"
    sd = msg["sd"]["audit@32473"]
    assert sd["actor"] == 'bob "the" ]admin\\' and json.loads(sd["object"]) == {"note": 'a]b"c', "n": 3}
    assert msg["sd"]["object@32473"]["n"] == "3"
    assert parse_syslog(syslog_line(_entry(outcome="failed")))["severity"] == 3
    long = syslog_line(_entry(action="a" * 40, host="host with space"))
    p = parse_syslog(long)
    assert len(p["msgid"]) == 32 and p["hostname"] == "host_with_space"
    for bad in ("<999>1 - - - - - -", "no pri", "<13>1 2026-11-23 host app 1 id -"):
        with pytest.raises(ValueError):
            parse_syslog(bad)


def _populate(home, keys):
    record(
        home,
        "vault.ingest",
        {"ingest_id": "i-1", "source": "clinic-a", "records_in": 4, "kept": 3, "phi_found": {"PERSON": 7}},
        signer=keys.signer,
    )
    record(home, "vault.shred", {"record_ids": ["r-1"]}, signer=keys.signer)
    record(home, "audit.note", {"text": 'quarterly review "done" [ok] \\ fine'}, signer=keys.signer)
    record(home, "harden.check", {"failed": 2}, outcome="failed", signer=keys.signer)


def test_fhir_export_validates_and_verifies(home, keys, tmp_path):
    _populate(home, keys)
    out = tmp_path / "audit.fhir.json"
    res = export(home, "fhir", out, signer=keys.signer)
    bundle = json.loads(out.read_text())
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    assert len(bundle["entry"]) == res["entries"] >= 5
    for item in bundle["entry"]:
        assert item["fullUrl"].startswith("urn:uuid:")
        assert validate_audit_event(item["resource"]) == [], item["resource"]
        assert item["resource"]["source"]["site"].startswith("appliance/")
    assert verify_export(out, home.signing_pub_path.read_bytes())["verified"] is True
    # an edited row no longer matches its signed entry
    bundle["entry"][1]["resource"]["agent"][0]["who"]["identifier"]["value"] = "mallory"
    out.write_text(json.dumps(bundle))
    with pytest.raises(IntegrityError):
        verify_export(out, home.signing_pub_path.read_bytes())


def test_syslog_export_parses_and_verifies(home, keys, tmp_path):
    _populate(home, keys)
    out = tmp_path / "audit.syslog"
    res = export(home, "syslog", out, signer=keys.signer)
    lines = out.read_text().splitlines()
    assert len(lines) == res["entries"]
    for line in lines:
        assert SYSLOG_RE.match(line), line
    assert verify_export(out, home.signing_pub_path.read_bytes())["verified"] is True
    lines[0] = lines[0].replace('outcome="ok"', 'outcome="failed"', 1)
    out.write_text("\n".join(lines) + "\n")
    with pytest.raises(IntegrityError):
        verify_export(out, home.signing_pub_path.read_bytes())


def test_cli_export_formats(home, passphrase_file, cli, tmp_path):
    env = {"APPLIANCE_PASSPHRASE_FILE": str(passphrase_file)}
    for fmt in ("fhir", "syslog"):
        out = tmp_path / f"x.{fmt}"
        p = cli("audit", "export", "--format", fmt, "-o", str(out), home=home, env=env)
        assert p.returncode == 0, p.stderr
        p = cli(
            "audit",
            "verify-export",
            str(out),
            "--public-key",
            str(home.signing_pub_path),
            "--json",
            home=home,
        )
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["format"] == fmt
