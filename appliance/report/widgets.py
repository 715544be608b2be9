"""HTML building blocks for the report: escaping, value formatting, tables, key/value lists, cards, badges.

Every value passes through :func:`e` (``html.escape``) unless it is :class:`Raw`, which only this package
builds.  Tables marked ``filterable`` get their filter row and search box from ``templates/report.js``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any


class Raw(str):
    """Already-safe HTML (built by this module)."""


def e(value: Any) -> str:
    return value if isinstance(value, Raw) else html.escape(fmt(value), quote=True)


def fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={fmt(x)}" for k, x in v.items()) if v else "—"
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt(x) for x in v) if v else "—"
    return str(v)


def asset(name: str) -> str:
    return resources.files("appliance.report").joinpath("templates", name).read_text(encoding="utf-8")


def badge(ok: bool | None, yes: str = "ok", no: str = "FAILED", none: str = "n/a") -> Raw:
    cls, text = ("ok", yes) if ok is True else ("bad", no) if ok is False else ("none", none)
    return Raw(f'<span class="badge {cls}">{html.escape(text)}</span>')


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    filterable: bool = True,
    empty: str = "no data",
    row_class: Sequence[str] | None = None,
    numeric: Sequence[int] = (),
    mono: Sequence[int] = (),
    scroll: bool = False,
) -> Raw:
    rows = list(rows)
    if not rows:
        return Raw(f'<p class="nodata">{html.escape(empty)}</p>')
    cls = ' class="filterable"' if filterable and len(rows) > 1 else ""
    out = [f"<table{cls}><thead><tr>", "".join(f"<th>{e(c)}</th>" for c in columns), "</tr></thead><tbody>"]
    for i, r in enumerate(rows):
        rc = f' class="{row_class[i]}"' if row_class and row_class[i] else ""
        cells = []
        for j, v in enumerate(r):
            c = (
                "num"
                if (j in numeric and isinstance(v, (int, float)) and not isinstance(v, bool))
                else "mono"
                if j in mono
                else ""
            )
            cells.append(f'<td class="{c}">{e(v)}</td>' if c else f"<td>{e(v)}</td>")
        out.append(f"<tr{rc}>{''.join(cells)}</tr>")
    out.append("</tbody></table>")
    body = "".join(out)
    return Raw(f'<div class="tablewrap">{body}</div>' if scroll or len(rows) > 25 else body)


def kv(pairs: Iterable[tuple[str, Any]], mono_keys: Sequence[str] = ()) -> Raw:
    items = []
    for k, v in pairs:
        cls = ' class="mono"' if k in mono_keys else ""
        items.append(f"<dt>{e(k)}</dt><dd{cls}>{e(v)}</dd>")
    return Raw(f'<dl class="kv">{"".join(items)}</dl>')


def card(value: Any, label: str, state: str = "") -> str:
    return f'<div class="card {state}"><div class="v">{e(value)}</div><div class="k">{e(label)}</div></div>'


def img(uri: str | None, alt: str) -> str:
    return f'<img class="plot" alt="{html.escape(alt)}" src="{uri}">' if uri else ""


def nodata(text: str = "No data for this period.") -> str:
    return f'<p class="nodata">{html.escape(text)}</p>'


def flatten(d: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    """Nested dicts as ``a.b`` keys (two levels), lists kept as values."""
    if not isinstance(d, dict):
        return [(prefix or "value", d)]
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and depth < 2 and v:
            out += flatten(v, key, depth + 1)
        else:
            out.append((key, v))
    return out
