"""Parse a detected date span, shift it by a per-patient offset, and write it back in the same style.

Shifting every date of a patient by the same number of days keeps intervals (length of stay, days since
surgery) intact while hiding the real calendar.  Partial dates keep their shape: "7/22" stays m/d, "March"
stays a month, "the 3rd" stays a day of the month.  ``year_only`` keeps just the year (or a tag when the span
has none).  Spans that cannot be parsed (holidays, odd formats) become ``[DATE]`` rather than leaking.
"""

from __future__ import annotations

import datetime as dt
import re

from appliance.scrub import patterns as P

_MONTHS = {m.lower(): i for i, m in enumerate(P.MONTHS_FULL.split("|"), 1)}
_ABBR = {m.lower()[:3]: i for m, i in ((k, v) for k, v in _MONTHS.items())}
_ORD_WORDS = P.ORD_WORDS.split("|")
_REF_YEAR = 2000  # a leap year, so Feb 29 without a year still parses

_NUM = re.compile(r"^(?P<a>\d{1,4})(?P<s>[-/.])(?P<b>\d{1,2})(?:(?P=s)(?P<c>\d{2,4}))?(?P<rest>.*)$", re.DOTALL)
_COMPACT = re.compile(r"^(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})(?P<rest>.*)$", re.DOTALL)
_MONTH_WORD = re.compile(rf"(?i)\b({P.MONTHS_FULL}|{P.MONTHS_ABBR})\b\.?")
_DAY_NUM = re.compile(r"(?i)\b(\d{1,2})(st|nd|rd|th)?\b")
_DAY_WORD = re.compile(rf"(?i)\b({P.ORD_WORDS})\b")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)|'(\d{2})\b")


def _ordinal(n: int) -> str:
    suf = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suf}"


def _match_case(template: str, word: str) -> str:
    if template.isupper():
        return word.upper()
    if template.islower():
        return word.lower()
    return word[:1].upper() + word[1:]


def _month_name(template: str, m: int) -> str:
    full = P.MONTHS_FULL.split("|")[m - 1]
    t = template.rstrip(".")
    if len(t) <= 4 and t.lower() not in ("june", "july", "may"):
        name = "Sept" if t.lower() == "sept" and m == 9 else full[:3]
        return _match_case(t, name) + ("." if template.endswith(".") else "")
    return _match_case(t, full)


def _safe_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def shift_date_text(text: str, days: int, mode: str = "shift") -> str:
    """Shift the date written in ``text`` by ``days`` (mode 'shift') or keep only its year ('year_only')."""
    s = text.strip()
    if mode == "year_only":
        y = _YEAR.search(s)
        return (y.group(1) or "'" + y.group(2)) if y else "[DATE]"
    m = _COMPACT.match(s)
    if m:
        d = _safe_date(int(m["y"]), int(m["m"]), int(m["d"]))
        if d:
            n = d + dt.timedelta(days=days)
            return f"{n.year:04d}{n.month:02d}{n.day:02d}" + m["rest"]
    m = _NUM.match(s)
    if m:
        return _shift_numeric(m, days) or "[DATE]"
    return _shift_words(s, days) or "[DATE]"


def _shift_numeric(m: re.Match, days: int) -> str | None:
    a, b, c, sep, rest = m["a"], m["b"], m["c"], m["s"], m["rest"]
    if len(a) == 4:  # ISO y-m-d
        d = _safe_date(int(a), int(b), int(c or 1))
        if d is None or c is None:
            return None
        n = d + dt.timedelta(days=days)
        return f"{n.year:04d}{sep}{n.month:02d}{sep}{n.day:02d}" + rest
    year = None
    if c:
        year = int(c) if len(c) == 4 else (2000 + int(c) if int(c) < 50 else 1900 + int(c))
    month_first = int(a) <= 12
    mo, da = (int(a), int(b)) if month_first else (int(b), int(a))
    d = _safe_date(year or _REF_YEAR, mo, da)
    if d is None:
        return None
    n = d + dt.timedelta(days=days)

    def fmt(val: int, tmpl: str) -> str:
        padded = tmpl.startswith("0") or (len(a) == 2 and len(b) == 2 and (a + b).startswith("0"))
        return f"{val:02d}" if padded else str(val)

    first, second = (fmt(n.month, a), fmt(n.day, b)) if month_first else (fmt(n.day, a), fmt(n.month, b))
    out = f"{first}{sep}{second}"
    if c:
        out += sep + (f"{n.year:04d}" if len(c) == 4 else f"{n.year % 100:02d}")
    return out + rest


def _shift_words(s: str, days: int) -> str | None:
    mm = _MONTH_WORD.search(s)
    dn = None
    day_word = None
    for cand in _DAY_NUM.finditer(s):
        if mm and mm.start() <= cand.start() < mm.end():
            continue
        if len(cand.group(1)) <= 2 and 1 <= int(cand.group(1)) <= 31 and not _YEAR.match(s, cand.start()):
            # a two-digit number right after an apostrophe is a year
            if cand.start() > 0 and s[cand.start() - 1] == "'":
                continue
            # skip times ("14:00")
            if cand.end() < len(s) and s[cand.end() : cand.end() + 1] == ":" or cand.start() > 0 and s[cand.start() - 1] == ":":
                continue
            dn = cand
            break
    if dn is None:
        day_word = _DAY_WORD.search(s)
    ym = _YEAR.search(s)
    year = None
    if ym:
        year = int(ym.group(1)) if ym.group(1) else 2000 + int(ym.group(2))
    if mm is None and dn is None and day_word is None:
        return None
    month = None
    if mm:
        key = mm.group(1).lower()
        month = _MONTHS.get(key) or _ABBR.get(key[:3])
    day = int(dn.group(1)) if dn else (_ORD_WORDS.index(day_word.group(1).lower()) + 1 if day_word else None)
    if month is None:  # "the 3rd": a day of some month; shift within a 31-day month
        base = _safe_date(_REF_YEAR, 1, day)
        n = base + dt.timedelta(days=days % 31)
        return s[: dn.start()] + _ordinal(n.day) + s[dn.end() :] if dn else s.replace(day_word.group(1), _ORD_WORDS[n.day - 1])
    d = _safe_date(year or _REF_YEAR, month, day or 15)
    if d is None:
        return None
    n = d + dt.timedelta(days=days)
    out = s
    # rewrite pieces right to left so earlier offsets stay valid
    pieces = []
    pieces.append((mm.start(), mm.end(), _month_name(mm.group(0), n.month)))
    if dn:
        txt = _ordinal(n.day) if dn.group(2) else (f"{n.day:02d}" if dn.group(1).startswith("0") else str(n.day))
        pieces.append((dn.start(), dn.end(), _match_case(dn.group(0), txt)))
    elif day_word:
        pieces.append((day_word.start(), day_word.end(), _match_case(day_word.group(0), _ORD_WORDS[n.day - 1])))
    if ym:
        pieces.append((ym.start(), ym.end(), str(n.year) if ym.group(1) else f"'{n.year % 100:02d}"))
    for a, b, txt in sorted(pieces, reverse=True):
        out = out[:a] + txt + out[b:]
    return out
