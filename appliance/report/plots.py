"""Plots rendered locally with matplotlib's Agg canvas and embedded as base64 PNG data URIs.

No pyplot (no global state, no GUI backend), no fonts or assets from outside the matplotlib wheel, so
the report stays a single self-contained file that renders the same from a USB stick.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from collections.abc import Mapping, Sequence

_PALETTE = (
    "#1f6fb2",
    "#e07b00",
    "#2a9d4b",
    "#c23b3b",
    "#7b5ea7",
    "#8c564b",
    "#d16fb4",
    "#6b6b6b",
    "#b5a300",
    "#17a3b8",
)


def _figure(width: float = 8.0, height: float = 3.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.add_subplot(1, 1, 1)


def _to_data_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def stacked_bars(
    series: Mapping[str, Mapping[str, int]], title: str, *, top: int = 8, ylabel: str = "entries"
) -> str:
    """Counts per time bucket, stacked by label (the ``top`` largest labels; the rest as "other")."""
    buckets = sorted(series)
    totals: Counter = Counter()
    for b in buckets:
        totals.update(series[b])
    labels = [k for k, _ in totals.most_common(top)]
    has_other = len(totals) > len(labels)
    fig, ax = _figure()
    xs = list(range(len(buckets)))
    bottom = [0] * len(buckets)
    for i, label in enumerate(labels + (["other"] if has_other else [])):
        if label == "other" and has_other:
            vals = [sum(v for k, v in series[b].items() if k not in labels) for b in buckets]
        else:
            vals = [series[b].get(label, 0) for b in buckets]
        ax.bar(xs, vals, bottom=bottom, label=label, color=_PALETTE[i % len(_PALETTE)], width=0.8)
        bottom = [a + b for a, b in zip(bottom, vals)]
    step = max(1, len(buckets) // 12)
    ax.set_xticks(xs[::step], [buckets[i] for i in xs[::step]], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _to_data_uri(fig)


def hbars(counts: Mapping[str, int], title: str, *, top: int = 20, xlabel: str = "count") -> str:
    """Horizontal bars for a ``{label: count}`` mapping (largest first)."""
    items = Counter(counts).most_common(top)[::-1]
    fig, ax = _figure(7.0, max(1.6, 0.28 * len(items) + 0.8))
    ax.barh([k for k, _ in items], [v for _, v in items], color=_PALETTE[0])
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _to_data_uri(fig)


def curves(
    lines: Mapping[str, Sequence[tuple[float, float]]],
    title: str,
    *,
    xlabel: str = "step",
    ylabel: str = "loss",
) -> str:
    """One line per named series of ``(x, y)`` points (e.g. training loss per run)."""
    fig, ax = _figure()
    for i, (name, pts) in enumerate(lines.items()):
        if not pts:
            continue
        dashed = name.endswith("(held-out)")  # evaluation points are few: draw them as markers
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            label=name,
            color=_PALETTE[i % len(_PALETTE)],
            lw=1.4,
            ls="--" if dashed else "-",
            marker="o" if dashed or len(pts) < 3 else None,
            ms=4,
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if len(lines) > 1:
        ax.legend(fontsize=7, frameon=False)
    return _to_data_uri(fig)
