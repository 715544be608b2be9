"""Build the compliance report: collect every section, render one HTML file, optionally a PDF, audit it.

The report needs read access to metadata only (audit log, checkpoints, public keys, vault catalog,
registry, run metrics, artifact manifests); it never unlocks the keyring or decrypts a record.  A
section whose subsystem has nothing (or is not installed) says "no data"; one that fails says why,
without stopping the others — except that a failed audit verification is the report's headline.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance._internal.atomic import atomic_write
from appliance._internal.hashing import sha256_bytes
from appliance.home import Home
from appliance.report.period import Period

log = logging.getLogger(__name__)


def _guard(name: str, fn: Callable[[], dict]) -> dict:
    try:
        return fn()
    except Exception as e:  # one broken subsystem must not hide the rest of the evidence
        log.warning("report section %s failed: %s", name, e, exc_info=log.isEnabledFor(logging.DEBUG))
        return {"status": "error", "error": f"{type(e).__name__}: {e}"}


def _site(home: Home) -> str | None:
    try:
        from appliance.config import load_site_config

        return load_site_config(home.config_path).site.name
    except Exception:  # noqa: BLE001 -- the site name is cosmetic in the report
        return None


def collect(home: Home, period: Period, harden_doc: dict | None = None) -> dict[str, Any]:
    """Every section's data (ids, counts, metrics; no PHI) as one dict.

    ``harden_doc``: a saved `appliance harden check --json` result, shown with the last recorded check."""
    from appliance.report import activity, artifacts, auditlog, data, host, integrity, models

    home.require_initialized()
    entries, unreadable = auditlog.all_entries(home)
    sections = {
        "integrity": _guard("integrity", lambda: integrity.collect(home)),
        "activity": _guard("activity", lambda: activity.collect(entries, period)),
        "data": _guard("data", lambda: data.collect(home, entries, period)),
        "models": _guard("models", lambda: models.collect(home, entries, period)),
        "artifacts": _guard("artifacts", lambda: artifacts.collect(home, entries, period)),
        "host": _guard("host", lambda: host.collect(home, entries, period, harden_doc)),
    }
    if unreadable:
        sections["integrity"]["unreadable_lines"] = unreadable
    return {
        "site": _site(home),
        "home": str(home.root),
        "host": socket.gethostname(),
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "period": period.to_dict(),
        "period_label": period.label(),
        "sections": sections,
    }


def build_report(
    home: Home,
    output: Path,
    since: str | None = None,
    until: str | None = None,
    *,
    pdf: bool = False,
    signer: Any = None,
    harden_json: Path | None = None,
) -> dict[str, Any]:
    """Write the HTML report to ``output`` (and ``output`` with ``.pdf`` when ``pdf``); returns a summary.

    ``signer`` (optional): sign a checkpoint of the log first, so the report shows a current one;
    ``harden_json`` adds the per-check rows of a saved `appliance harden check --json`.
    """
    from appliance.audit import record
    from appliance.report import render
    from appliance.report.host import load_harden_json

    period = Period.parse(since, until)
    output = Path(output).expanduser().absolute()
    harden_doc = load_harden_json(harden_json)
    if signer is not None:
        # With the key at hand, sign a tree head of the log as it is now: the report's evidence is then current.
        from appliance.audit import checkpoint

        checkpoint(home.require_initialized(), signer)
    data = collect(home, period, harden_doc)
    figs = render.figures(data)
    page = render.render(data, figs).encode("utf-8")
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(output, page, mode=0o640)
    digest = sha256_bytes(page)
    pdf_path = None
    if pdf:
        from appliance.report.pdf import print_pdf

        pdf_path = print_pdf(output, output.with_suffix(".pdf"))
    s = data["sections"]
    verify = s["integrity"].get("verify") or {}
    statuses = {k: v.get("status") for k, v in s.items()}
    record(
        home,
        "report.generate",
        {
            "since": period.to_dict()["since"],
            "until": period.to_dict()["until"],
            "sha256": digest,
            "bytes": len(page),
            "audit_verified": verify.get("ok"),
            "sections": statuses,
            "pdf": pdf_path is not None,
        },
        signer=signer,
    )
    act = s["activity"]
    return {
        "path": str(output),
        "pdf": str(pdf_path) if pdf_path else None,
        "sha256": digest,
        "bytes": len(page),
        "period": period.to_dict(),
        "sections": statuses,
        "audit_verified": verify.get("ok"),
        "audit_error": verify.get("error"),
        "entries_in_period": act.get("total", 0),
        "champion": s["models"].get("champion"),
        "models_flagged": [f["version"] for f in s["models"].get("flagged") or []],
        "artifacts_failed": s["artifacts"].get("failed") or [],
        "data": {k: _compact(k, v) for k, v in s.items()},
    }


def _compact(name: str, section: dict) -> dict:
    """Section data for ``--json`` without the bulky parts (entry rows, plot series, loss points)."""
    drop = {"activity": ("rows", "series_action", "series_actor"), "models": ("loss_curves",)}.get(name, ())
    out = {k: v for k, v in section.items() if k not in drop}
    if name == "models" and section.get("loss_curves"):
        out["runs_with_metrics"] = sorted(section["loss_curves"])
    return out


def default_output(home: Home) -> Path:
    """``./appliance-report-<UTC date>.html`` in the working directory."""
    return Path(os.getcwd()) / f"appliance-report-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.html"
