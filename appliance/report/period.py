"""The reporting period: ``--since`` / ``--until`` parsed into UTC instants, and membership tests.

A bare date is a whole day: ``--since 2026-11-01 --until 2026-11-30`` covers 1 Nov 00:00 to the end of
30 Nov (UTC).  Audit timestamps are ISO-8601 UTC strings, so membership is a datetime comparison.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from appliance.errors import UsageError

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_ts(text: str) -> datetime | None:
    """An ISO-8601 timestamp (``Z`` or an offset; naive means UTC) as an aware datetime, or None."""
    if not isinstance(text, str) or not text:
        return None
    raw = text.strip()
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _parse_bound(text: str | None, *, end: bool, name: str) -> datetime | None:
    if text is None or text == "":
        return None
    if _DATE_RE.match(text.strip()):
        try:
            day = datetime.fromisoformat(text.strip()).replace(tzinfo=UTC)
        except ValueError:
            day = None
        if day is not None:
            return day + timedelta(days=1) - timedelta(microseconds=1) if end else day
    dt = parse_ts(text) if not _DATE_RE.match(text.strip()) else None
    if dt is None:
        raise UsageError(
            f"{name}: {text!r} is not a date",
            hint=f"use {name} YYYY-MM-DD or an ISO-8601 time like 2026-11-01T08:00Z",
        )
    return dt


@dataclass(frozen=True)
class Period:
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def parse(cls, since: str | None, until: str | None) -> Period:
        """Parse CLI bounds; raises UsageError when a bound is malformed or the period is empty."""
        p = cls(_parse_bound(since, end=False, name="--since"), _parse_bound(until, end=True, name="--until"))
        if p.since and p.until and p.since > p.until:
            raise UsageError("--since is after --until", hint="swap the two dates")
        return p

    def contains(self, ts: str | datetime | None) -> bool:
        dt = ts if isinstance(ts, datetime) else parse_ts(ts or "")
        if dt is None:
            return False
        return (self.since is None or dt >= self.since) and (self.until is None or dt <= self.until)

    def before_end(self, ts: str | None) -> bool:
        """True when ``ts`` is not after the end of the period (for "latest as of the period's end")."""
        dt = parse_ts(ts or "")
        return dt is not None and (self.until is None or dt <= self.until)

    def label(self) -> str:
        a = self.since.strftime("%Y-%m-%d %H:%M") if self.since else "the beginning"
        b = self.until.strftime("%Y-%m-%d %H:%M") if self.until else "now"
        return f"{a} – {b} UTC"

    def to_dict(self) -> dict:
        return {
            "since": self.since.isoformat().replace("+00:00", "Z") if self.since else None,
            "until": self.until.isoformat().replace("+00:00", "Z") if self.until else None,
        }
