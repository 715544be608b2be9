"""HTML rendering of the collected report: one self-contained file (inline CSS/JS, plots as data URIs).

Every value goes through :func:`html.escape`; a Content-Security-Policy meta tag forbids loading anything
from outside the file, so the report renders identically from a USB stick on a machine with no network.
The page frame (header, summary cards, navigation) lives here; each section's HTML comes from
:mod:`appliance.report.sections`, built with :mod:`appliance.report.widgets`.  Plots come from
:mod:`appliance.report.plots` (matplotlib Agg) and are made here, from the collected data only.
"""

from __future__ import annotations

from appliance import __version__
from appliance.report import sections as sec
from appliance.report.widgets import asset, card, e

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


SECTIONS = (
    ("integrity", "Integrity"),
    ("activity", "Activity"),
    ("data", "Data"),
    ("models", "Models"),
    ("artifacts", "Artifacts"),
    ("host", "Host"),
)


def _summary_cards(data: dict) -> str:
    integ = data["sections"]["integrity"]
    act = data["sections"]["activity"]
    dat = data["sections"]["data"]
    mod = data["sections"]["models"]
    art = data["sections"]["artifacts"]
    host = data["sections"]["host"]
    ok = (integ.get("verify") or {}).get("ok")
    anchored = (integ.get("verify") or {}).get("anchored")
    h = host.get("harden") or {}
    cards = [
        card(
            ("intact" if anchored else "not anchored") if ok else "FAILED" if ok is False else "n/a",
            "audit log",
            ("ok" if anchored else "") if ok else "bad" if ok is False else "",
        ),
        card(act.get("total", 0), "audit entries in period"),
        card(sum(p["count"] for p in act.get("phi_access") or []), "clinical-text accesses"),
        card((dat.get("totals") or {}).get("kept", 0), "records ingested"),
        card(len(dat.get("shreds") or []), "shred operations"),
        card(mod.get("champion") or "none", "champion model"),
        card(
            len(mod.get("flagged") or []),
            "models flagged by shredding",
            "bad" if mod.get("flagged") else "ok",
        ),
        card(
            f"{sum(1 for a in art.get('artifacts') or [] if (a.get('verification') or {}).get('ok'))}/"
            f"{len(art.get('artifacts') or [])}",
            "artifacts verified",
            "bad" if art.get("failed") else "",
        ),
        card(
            h.get("outcome", "never run"),
            "last hardening check",
            "ok" if h.get("outcome") == "ok" else "bad" if h else "warn",
        ),
    ]
    return '<div class="cards">' + "".join(cards) + "</div>"


_RENDERERS = {
    "integrity": lambda d, figs: sec.integrity(d),
    "activity": sec.activity,
    "data": sec.data,
    "models": sec.models,
    "artifacts": lambda d, figs: sec.artifacts(d),
    "host": lambda d, figs: sec.host(d),
}


def _section(key: str, label: str, d: dict, figs: dict[str, str]) -> str:
    """One ``<section>``; a collector that failed shows its error instead of its content."""
    if d.get("status") == "error" and key != "models":  # models shows what it could read beside the error
        inner = f'<div class="banner bad">This section could not be collected: {e(d.get("error"))}</div>'
    else:
        inner = _RENDERERS[key](d, figs)
    return f'<section id="{key}"><h2>{e(label)}</h2>{inner}</section>'


def render(data: dict, figs: dict[str, str]) -> str:
    """The whole report as one HTML string."""
    s = data["sections"]
    title = f"Compliance report — {data.get('site') or 'appliance'} — {data['period_label']}"
    body = [
        '<header class="top">',
        f"<h1>{e(title)}</h1>",
        (f'<div class="meta">Generated {e(data["generated_at"])} by appliance {e(__version__)} on {e(data.get("host"))} '
         f"· home {e(data.get('home'))} · identifiers, counts and metrics only — no patient data</div>"),
        "</header>",
        "<nav>" + "".join(f'<a href="#{k}">{e(v)}</a>' for k, v in SECTIONS) + "</nav>",
        "<main>",
        _summary_cards(data),
        *(_section(key, label, s[key], figs) for key, label in SECTIONS),
        "</main>",
        (f'<footer>Report of {e(data["period_label"])}. Recorded in the audit log as <span class="mono">report.generate</span>; '
         f"this file's SHA-256 is in that entry.</footer>"),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{asset('report.css')}</style></head>"
        f"<body>{''.join(body)}<script>{asset('report.js')}</script></body></html>\n"
    )


def figures(data: dict) -> dict[str, str]:
    """Every plot the sections show, as data URIs (only those with data)."""
    from appliance.report import plots

    s = data["sections"]
    out: dict[str, str] = {}
    act = s["activity"]
    if act.get("status") == "ok":
        unit = act["bucket"]
        out["activity_action"] = plots.stacked_bars(
            act["series_action"], f"audit entries per action (per {unit})"
        )
        out["activity_actor"] = plots.stacked_bars(
            act["series_actor"], f"audit entries per user (per {unit})"
        )
    dat = s["data"]
    if dat.get("phi_by_type"):
        out["phi_by_type"] = plots.hbars(
            dat["phi_by_type"], "PHI found by type (counts)", xlabel="items found"
        )
    if dat.get("dropped_by_reason"):
        out["dropped_by_reason"] = plots.hbars(
            dat["dropped_by_reason"], "records dropped by reason", xlabel="records"
        )
    curves = s["models"].get("loss_curves") or {}
    if curves:
        lines = {}
        for run, c in curves.items():
            if c.get("train"):
                lines[f"{run} (train)"] = c["train"]
            if c.get("heldout"):
                lines[f"{run} (held-out)"] = c["heldout"]
        out["loss"] = plots.curves(lines, "training loss per run")
    return out
