"""The six report sections as HTML: integrity, activity, data, models, artifacts, host (plus the doctor).

Each function takes its section's collected dict (see the collector modules) and the plots, and returns
HTML built from :mod:`appliance.report.widgets`; a section without data says so instead of failing.
"""

from __future__ import annotations

from typing import Any

from appliance.report.scrubbing import describe
from appliance.report.widgets import Raw, badge, card, e, flatten, fmt, img, kv, nodata, table


def integrity(d: dict) -> str:
    v = d.get("verify") or {}
    parts = []
    if v.get("ok") is True and v.get("anchored"):
        parts.append(
            f'<div class="banner ok">Audit log intact: {e(v.get("entries"))} entries; hash chain, Merkle tree '
            f"and {e(v.get('checkpoints_checked'))} signed checkpoint(s) verified now against the anchor "
            f'{e((v.get("anchor") or {}).get("path"))} (size {e((v.get("anchor") or {}).get("size"))}).</div>'
        )
    elif v.get("ok") is True:
        parts.append(
            f'<div class="banner none">Audit log consistent but NOT anchored: {e(v.get("entries"))} entries; no '
            f'anchor found in {e(", ".join(v.get("anchor_dirs") or []))}, so a deleted tail or a wiped log cannot '
            "be ruled out. Check it against a saved checkpoint: appliance audit verify --checkpoint FILE.</div>"
        )
    elif v.get("ok") is False:
        seq = v.get("first_bad_seq")
        parts.append(
            f'<div class="banner bad">AUDIT LOG VERIFICATION FAILED'
            f"{' at entry seq ' + e(seq) if seq is not None else ''}: {e(v.get('error'))}</div>"
        )
        if v.get("hint"):
            parts.append(f'<p>Next step: <span class="mono">{e(v["hint"])}</span></p>')
    else:
        parts.append(
            f'<div class="banner none">{e(v.get("error") or "audit verification not available")}</div>'
        )
    if v.get("ok"):
        parts.append(
            kv(
                [
                    ("entries", v.get("entries")),
                    ("last entry", f"seq {fmt(v.get('last_seq'))} at {fmt(v.get('last_ts'))}"),
                    ("Merkle root now (hex)", v.get("root")),
                ],
                mono_keys=("Merkle root now (hex)",),
            )
        )
    cp = d.get("checkpoint")
    parts.append("<h3>Latest signed checkpoint</h3>")
    if not cp:
        parts.append(
            nodata("No signed checkpoint yet (checkpoints are written on export and every N entries).")
        )
    else:
        sig = cp.get("signatures") or [{}]
        pairs = [
            ("file", cp.get("file")),
            ("signature", badge(cp.get("verified"), "verified", "DOES NOT VERIFY")),
            ("tree size", cp.get("size")),
            ("entries added since", cp.get("entries_since")),
            ("origin", cp.get("origin")),
            ("root (base64)", cp.get("root_b64")),
            ("signed by", sig[0].get("key_name")),
            ("key fingerprint (SHA-256 of DER public key)", cp.get("fingerprint")),
            ("signed-note key id", sig[0].get("note_key_id")),
            ("checkpoints on file", cp.get("count")),
        ]
        if cp.get("error"):
            pairs.insert(2, ("error", cp["error"]))
        parts.append(
            kv(
                pairs,
                mono_keys=(
                    "root (base64)",
                    "key fingerprint (SHA-256 of DER public key)",
                    "signed-note key id",
                ),
            )
        )
        parts.append(
            '<p class="note">The checkpoint (save as <span class="mono">checkpoint.note</span>):</p>'
        )
        parts.append(f'<pre id="checkpoint-note">{e(cp.get("text"))}</pre>')
    key = d.get("public_key") or {}
    if key:
        parts.append("<h3>Site signing key</h3>")
        parts.append(
            kv(
                [
                    ("fingerprint", key.get("fingerprint")),
                    ("signed-note key id", key.get("note_key_id")),
                    ("retired keys kept for verification", key.get("retired") or "none"),
                ],
                mono_keys=("fingerprint", "signed-note key id"),
            )
        )
        parts.append('<p class="note">Public key (save as <span class="mono">signing.pub.pem</span>):</p>')
        parts.append(f'<pre id="public-key">{e(key.get("pem"))}</pre>')
    parts.append("<h3>How to verify this elsewhere</h3>")
    for step in d.get("how_to_verify") or []:
        parts.append(f"<p><b>{e(step['title'])}</b></p><pre>{e(step['commands'])}</pre>")
    return "".join(parts)


def activity(d: dict, figs: dict) -> str:
    if d.get("status") != "ok":
        return nodata("No audit entries in this period.")
    parts = [
        '<div class="cards">',
        card(d["total"], "audit entries in period"),
        card(len(d["by_actor"]), "distinct users"),
        card(
            sum(p["count"] for p in d["phi_access"]),
            "actions that read clinical text",
            "warn" if d["phi_access"] else "",
        ),
        card(
            sum(v for k, v in d["by_outcome"].items() if k != "ok"),
            "not-ok outcomes",
            "bad" if any(k != "ok" for k in d["by_outcome"]) else "ok",
        ),
        "</div>",
    ]
    parts.append(
        '<div class="plots">'
        + img(figs.get("activity_action"), "audit entries per action over time")
        + img(figs.get("activity_actor"), "audit entries per user over time")
        + "</div>"
    )
    parts.append("<h3>Who touched clinical text</h3>")
    parts.append(
        '<p class="note">Actions that decrypt, read, export or bring in vault records (ingest, show, '
        "export, verify, training, evaluation, scrubbing).</p>"
    )
    parts.append(
        table(
            ["user", "actions", "by action", "first", "last"],
            [[p["actor"], p["count"], p["actions"], p["first"], p["last"]] for p in d["phi_access"]],
            numeric=(1,),
            empty="Nobody read clinical text in this period.",
        )
    )
    parts.append("<h3>Counts</h3>")
    parts.append(table(["action", "entries"], list(d["by_action"].items()), numeric=(1,)))
    parts.append(table(["user", "entries"], list(d["by_actor"].items()), numeric=(1,), filterable=False))
    parts.append("<h3>Refused, failed or partial</h3>")
    parts.append(
        table(
            ["seq", "time (UTC)", "user", "action", "outcome", "details (ids, counts)"],
            [[r["seq"], r["ts"], r["actor"], r["action"], r["outcome"], r["object"]] for r in d["not_ok"]],
            numeric=(0,),
            empty="Every action in this period succeeded.",
        )
    )
    parts.append("<h3>All entries</h3>")
    if d["shown"] < d["total"]:
        parts.append(
            f'<p class="note">Showing the latest {e(d["shown"])} of {e(d["total"])} entries; '
            f'<span class="mono">appliance audit show --since … --until …</span> lists them all.</p>'
        )
    rows = d["rows"]
    parts.append(
        table(
            [
                "seq",
                "time (UTC)",
                "user",
                "host",
                "action",
                "outcome",
                "clinical text",
                "details (ids, counts)",
            ],
            [
                [r["seq"], r["ts"], r["actor"], r["host"], r["action"], r["outcome"], r["phi"], r["object"]]
                for r in rows
            ],
            row_class=[
                ("phi " if r["phi"] else "") + ("notok" if r["outcome"] != "ok" else "") for r in rows
            ],
            numeric=(0,),
            scroll=True,
        )
    )
    return "".join(parts)


def data(d: dict, figs: dict) -> str:
    if d.get("status") != "ok":
        return nodata("No ingest, shred or disclosure in this period, and no vault catalog.")
    t = d["totals"]
    cat = d.get("catalog") or {}
    active = sum(s.get("active", 0) for s in (cat.get("sources") or {}).values())
    shredded = sum(s.get("shredded", 0) for s in (cat.get("sources") or {}).values())
    parts = [
        '<div class="cards">',
        card(t["records_in"], "records offered for ingest"),
        card(t["kept"], "records kept"),
        card(t["dropped"], "records dropped"),
        card(sum(d.get("phi_replaced", {}).values()), "PHI items found and replaced"),
        card(sum(d.get("phi_kept", {}).values()), "PHI items found, kept under a waiver",
             "warn" if d.get("phi_kept") else ""),
        card(len(d["shreds"]), "shred operations", "warn" if d["shreds"] else ""),
        card(active, "records in the vault now"),
        card(shredded, "records shredded (all time)"),
        "</div>",
    ]
    parts.append(
        '<div class="plots">'
        + img(figs.get("phi_by_type"), "PHI found by type")
        + img(figs.get("dropped_by_reason"), "records dropped by reason")
        + "</div>"
    )
    parts.append("<h3>PHI found by type (counts only)</h3>")
    parts.append(
        table(
            ["entity type", "found", "replaced", "kept (operator keep/off, waived)"],
            [[t, n, d.get("phi_replaced", {}).get(t, 0), d.get("phi_kept", {}).get(t, 0)]
             for t, n in d["phi_by_type"].items()],
            numeric=(1, 2, 3),
            filterable=False,
            empty="No PHI found in this period's ingests.",
        )
    )
    parts.append("<h3>Records dropped by reason</h3>")
    parts.append(
        table(
            ["reason", "records"],
            list(d["dropped_by_reason"].items()),
            numeric=(1,),
            filterable=False,
            empty="Nothing dropped.",
        )
    )
    parts.append("<h3>Ingest runs</h3>")
    parts.append(
        table(
            [
                "time (UTC)",
                "user",
                "ingest",
                "source",
                "files ok",
                "files failed",
                "records in",
                "kept",
                "dropped",
                "PHI found (all operators)",
                "scrubbing (operator per type, waivers)",
                "outcome",
            ],
            [
                [
                    i["ts"],
                    i["actor"],
                    i["ingest_id"],
                    i["source"],
                    i["files_ok"],
                    i["files_failed"],
                    i["records_in"],
                    i["kept"],
                    i["dropped"],
                    i["phi_found"],
                    describe(i.get("policy") or {}),
                    i["outcome"],
                ]
                for i in d["ingests"]
            ],
            numeric=(4, 5, 6, 7),
            mono=(2,),
            empty="No ingest in this period.",
        )
    )
    parts.append("<h3>Ingest batches (vault catalog)</h3>")
    parts.append(
        table(
            ["batch", "ingest", "source", "committed (UTC)", "records", "dropped", "PHI found (all operators)",
             "scrubbing (operator per type, waivers)"],
            [
                [
                    b["batch"],
                    b["ingest_id"],
                    b["source"],
                    b["created_at"],
                    b["records"],
                    b["dropped"],
                    b["phi_found"],
                    describe(b.get("policy") or {}),
                ]
                for b in cat.get("batches") or []
            ],
            numeric=(4,),
            mono=(0, 1),
            empty="No batch committed in this period.",
        )
    )
    parts.append("<h3>Vault contents by source (now)</h3>")
    parts.append(
        table(
            ["source", "active records", "shredded records"],
            [[s, v.get("active", 0), v.get("shredded", 0)] for s, v in (cat.get("sources") or {}).items()],
            numeric=(1, 2),
            filterable=False,
            empty="No vault catalog.",
        )
    )
    parts.append("<h3>Shred events</h3>")
    parts.append(
        table(
            ["time (UTC)", "user", "outcome", "details (ids, counts)"],
            [[s["ts"], s["actor"], s["outcome"], s["object"]] for s in d["shreds"]],
            empty="No shred in this period.",
        )
    )
    if cat.get("shredded_groups"):
        parts.append(
            table(
                ["source", "batch", "records shredded", "first (UTC)", "last (UTC)"],
                [[g["source"], g["batch_id"], g["n"], g["first"], g["last"]] for g in cat["shredded_groups"]],
                numeric=(2,),
                mono=(1,),
            )
        )
    parts.append("<h3>Clinical text shown or exported</h3>")
    parts.append(
        table(
            ["time (UTC)", "user", "action", "outcome", "details (ids, counts)"],
            [[x["ts"], x["actor"], x["action"], x["outcome"], x["object"]] for x in d["disclosures"]],
            empty="No record was shown or exported in this period.",
        )
    )
    return "".join(parts)


def _metric_summary(result: Any) -> str:
    pairs = [(k, v) for k, v in flatten(result) if isinstance(v, (int, float, str, bool)) or v is None]
    return ", ".join(f"{k}={fmt(v)}" for k, v in pairs[:24])


def models(d: dict, figs: dict) -> str:
    if d.get("status") == "no data":
        return nodata("No model versions, training runs or model events.")
    parts = []
    if d.get("error"):
        parts.append(f'<div class="banner bad">Registry could not be read: {e(d["error"])}</div>')
    flagged = d.get("flagged") or []
    parts += [
        '<div class="cards">',
        card(d.get("champion") or "none", "champion now"),
        card(len(d.get("versions") or []), "model versions"),
        card(len(flagged), "models trained on shredded records", "bad" if flagged else "ok"),
        "</div>",
    ]
    if flagged:
        parts.append(
            '<div class="banner bad">Models trained (directly or through a parent) on records that were '
            'later shredded — review, then <span class="mono">appliance retrain --exclude-shredded</span>.</div>'
        )
    parts.append(
        table(
            ["version", "champion", "shredded records trained on", "inherits from", "catalog cross-check"],
            [
                [
                    f["version"],
                    f["champion"],
                    f["shredded_records_trained_on"],
                    f["inherits_from"],
                    f["catalog_cross_check"],
                ]
                for f in flagged
            ],
            numeric=(2, 4),
            empty="No model is affected by shredding.",
        )
    )
    parts.append("<h3>Versions</h3>")
    vs = d.get("versions") or []
    parts.append(
        table(
            [
                "version",
                "kind",
                "parent",
                "base model",
                "run",
                "status",
                "champion",
                "records",
                "created (UTC)",
                "final train metrics",
                "gate reasons",
            ],
            [
                [
                    v["version"],
                    v["kind"],
                    v["parent"],
                    v["base_model"],
                    v["run_name"],
                    v["status"],
                    v["champion"],
                    v["records"],
                    v["created_at"],
                    _metric_summary(v.get("train_metrics") or {}),
                    v.get("status_reasons"),
                ]
                for v in vs
            ],
            row_class=["notok" if v["status"] == "rejected" else "" for v in vs],
            empty="No registered model version.",
        )
    )
    parts.append("<h3>Champion history</h3>")
    parts.append(
        table(
            ["#", "time (UTC)", "action", "version", "previous", "user", "reason"],
            [
                [
                    h.get("seq"),
                    h.get("at"),
                    h.get("action"),
                    h.get("version"),
                    h.get("previous"),
                    h.get("actor"),
                    h.get("reason"),
                ]
                for h in d.get("champion_history") or []
            ],
            numeric=(0,),
            empty="No promotion yet.",
        )
    )
    parts.append("<h3>Evaluation and gate results</h3>")
    parts.append(
        table(
            ["version", "kind", "time (UTC)", "results"],
            [
                [x["version"], x["kind"], x["at"], _metric_summary(x.get("result"))]
                for x in d.get("evaluations") or []
            ],
            empty="No evaluation stored.",
        )
    )
    parts.append("<h3>Training loss</h3>")
    parts.append(
        img(figs.get("loss"), "training loss per run")
        if figs.get("loss")
        else nodata("No training run with metrics under runs/.")
    )
    parts.append("<h3>Lineage: what trained each version</h3>")
    parts.append(
        table(
            [
                "version",
                "parent",
                "base model",
                "train records",
                "held-out records",
                "sources (train records)",
                "ingest batches (train records)",
            ],
            [
                [
                    l["version"],
                    l["parent"],
                    l["base_model"],
                    l["train_records"],
                    l["heldout_records"],
                    l["sources"],
                    [f"{b['batch']} ({b['records']})" for b in l["batches"]],
                ]
                for l in d.get("lineage") or []
            ],
            numeric=(3, 4),
            empty="No trained version with a data manifest.",
        )
    )
    parts.append(
        '<p class="note">Record-level lineage: <span class="mono">appliance models lineage VERSION --json</span>; '
        'which versions saw a record: <span class="mono">appliance models trained-on --record ID</span>. '
        "Each version's files are signed: in <span class=\"mono\">models/VERSION/</span>, "
        '<span class="mono">openssl dgst -sha256 -verify signing.pub.pem -signature MANIFEST.sig MANIFEST.json</span> '
        "then compare each file's sha256 with MANIFEST.json.</p>"
    )
    parts.append("<h3>Model events in this period</h3>")
    parts.append(
        table(
            ["time (UTC)", "user", "action", "outcome", "details (ids, counts)"],
            [[x["ts"], x["actor"], x["action"], x["outcome"], x["object"]] for x in d.get("events") or []],
            empty="No training, evaluation or registry event in this period.",
        )
    )
    return "".join(parts)


def artifacts(d: dict) -> str:
    if d.get("status") != "ok":
        return nodata("No exported artifacts and no exports in this period.")
    arts = d.get("artifacts") or []
    bad = d.get("failed") or []
    parts = [
        '<div class="cards">',
        card(len(arts), "artifacts on this host"),
        card(
            sum(1 for a in arts if (a.get("verification") or {}).get("ok")),
            "signatures verified now",
            "bad" if bad else "ok",
        ),
        card(len(d.get("audit_exports") or []), "audit exports in period"),
        "</div>",
    ]
    if bad:
        parts.append(f'<div class="banner bad">Signature check FAILED for: {e(", ".join(bad))}</div>')
    parts.append(
        table(
            [
                "artifact",
                "kind",
                "format",
                "model version",
                "created (UTC)",
                "files",
                "bytes",
                "parity",
                "signature",
                "verified now",
            ],
            [
                [
                    a["artifact_id"],
                    a.get("kind"),
                    a.get("format"),
                    a.get("model_version"),
                    a.get("created_at"),
                    a.get("files"),
                    a.get("bytes"),
                    _metric_summary(a.get("parity") or {}),
                    "model.sig" if a.get("signed") else "missing",
                    badge((a.get("verification") or {}).get("ok"), "verified", "FAILED", "not checked")
                    if not (a.get("verification") or {}).get("error")
                    else Raw(
                        badge((a.get("verification") or {}).get("ok"), "verified", "FAILED", "not checked")
                        + " "
                        + e(a["verification"]["error"])
                    ),
                ]
                for a in arts
            ],
            numeric=(5, 6),
            mono=(0,),
            empty="No artifact directory under artifacts/.",
        )
    )
    parts.append(
        '<p class="note">Re-check an artifact anywhere: <span class="mono">appliance verify ARTIFACT_DIR '
        "--public-key signing.pub.pem</span>.</p>"
    )
    parts.append("<h3>Export, signing and verification events</h3>")
    parts.append(
        table(
            ["time (UTC)", "user", "action", "outcome", "details (ids, counts)"],
            [[x["ts"], x["actor"], x["action"], x["outcome"], x["object"]] for x in d.get("events") or []],
            empty="No export, signing or verification in this period.",
        )
    )
    parts.append("<h3>Audit exports (evidence that left the host)</h3>")
    parts.append(
        table(
            ["time (UTC)", "user", "format", "entries", "tree size", "sha256"],
            [
                [x["ts"], x["actor"], x.get("format"), x.get("entries"), x.get("tree_size"), x.get("sha256")]
                for x in d.get("audit_exports") or []
            ],
            numeric=(3, 4),
            mono=(5,),
            empty="No audit export in this period.",
        )
    )
    return "".join(parts)


def _checks_table(res: Any) -> str:
    """A table for a list of check dicts (name/status/detail…), else key/value pairs."""
    checks = None
    if isinstance(res, dict):
        for k in ("checks", "results", "items"):
            if isinstance(res.get(k), list):
                checks = res[k]
                break
    elif isinstance(res, list):
        checks = res
    if checks and all(isinstance(c, dict) for c in checks):
        cols: list[str] = []
        for c in checks:
            for k in c:
                if k not in cols:
                    cols.append(k)
        cols = cols[:8]
        rows = [[c.get(k) for k in cols] for c in checks]
        status_col = next((i for i, k in enumerate(cols) if k in ("ok", "passed", "status", "result")), None)
        rc = []
        for r in rows:
            v = r[status_col] if status_col is not None else None
            rc.append("notok" if v in (False, "fail", "failed", "FAIL", "error", "warn") else "")
        extra = ""
        if isinstance(res, dict):
            rest = [(k, v) for k, v in flatten({k: v for k, v in res.items() if not isinstance(v, list)})]
            extra = kv(rest) if rest else ""
        return extra + table(cols, rows, row_class=rc)
    return kv(flatten(res) if isinstance(res, dict) else [("result", res)])


def host(d: dict) -> str:
    parts = ["<h3>Last hardening check</h3>"]
    h = d.get("harden")
    if h:
        parts.append(
            kv(
                [
                    ("when (UTC)", h["ts"]),
                    ("by", h["actor"]),
                    ("host", h["host"]),
                    ("outcome", badge(h["outcome"] == "ok", h["outcome"], h["outcome"])),
                    ("audit entry", f"seq {h['seq']}"),
                    ("checks in this period", d.get("harden_checks_in_period")),
                ]
            )
        )
        parts.append(_checks_table(h["object"]))
    elif not d.get("harden_saved"):
        parts.append(nodata("No `appliance harden check` has been recorded."))
    if d.get("harden_saved"):
        parts.append(
            f'<p class="note">Saved result: <span class="mono">{e(d["harden_saved"].get("_file"))}</span></p>'
        )
        parts.append(_checks_table({k: v for k, v in d["harden_saved"].items() if k != "_file"}))
    parts.append("<h3>Host changes in this period</h3>")
    parts.append(
        table(
            ["time (UTC)", "user", "outcome", "details"],
            [[x["ts"], x["actor"], x["outcome"], x["object"]] for x in d.get("changes") or []],
            empty="No hardening apply, install or upgrade in this period.",
        )
    )
    parts.append("<h3>appliance doctor (run while generating this report)</h3>")
    doc = d.get("doctor") or {}
    if doc.get("error"):
        parts.append(f'<div class="banner none">{e(doc["error"])}</div>')
    if "result" in doc:
        parts.append(_doctor(doc["result"]))
    return "".join(parts)


def _doctor(res: Any) -> str:
    """`appliance doctor`'s dict: a summary, one row per check, one row per dependency."""
    if not isinstance(res, dict) or not isinstance(res.get("checks"), dict):
        return _checks_table(res)
    status = res.get("status")
    parts = [
        kv(
            [
                (
                    "overall",
                    badge(status == "ok", str(status), str(status))
                    if status != "warn"
                    else Raw('<span class="badge warn">warn</span>'),
                ),
                ("appliance", res.get("appliance")),
                ("python", res.get("python")),
                ("platform", res.get("platform")),
                ("home", res.get("home")),
            ]
        )
    ]
    checks = res["checks"]
    parts.append(
        table(
            ["check", "status", "detail"],
            [[k, c.get("status"), c.get("detail")] for k, c in checks.items() if isinstance(c, dict)],
            row_class=[
                "notok" if isinstance(c, dict) and c.get("status") != "ok" else "" for c in checks.values()
            ],
            filterable=False,
        )
    )
    vers = res.get("versions") or []
    parts.append(
        table(
            ["dependency", "installed", "pinned", "status", "detail"],
            [
                [v.get("name"), v.get("version"), v.get("pinned"), v.get("status"), v.get("detail")]
                for v in vers
            ],
            row_class=["notok" if v.get("status") != "ok" else "" for v in vers],
        )
    )
    return "".join(parts)
