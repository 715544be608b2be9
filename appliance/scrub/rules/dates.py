"""Dates: every date element but the year, numeric, spelled and partial; date ranges, holidays, month words.

Negative rules sit beside the positive ones: pain scores, fractions, doses, culture counts and "may"/"march"
as verbs in lower-case notes are not dates.
"""

from __future__ import annotations

import re

from appliance.scrub import patterns as P
from appliance.scrub.note import LOWER, NORMAL, UPPER, Note
from appliance.scrub.rules.base import ClinicalRecognizer
from appliance.scrub.types import Entity
from appliance.scrub.words import UNIT_AFTER, match_span, strip_span

_DATE_TEXT_CS = [re.compile(p) for p in P.DATE_TEXT]
_DATE_TEXT_CI = [re.compile(p, re.IGNORECASE) for p in P.DATE_TEXT]

_WEEKDAY_ALONE = re.compile(r"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b")


class ClinicalDateRecognizer(ClinicalRecognizer):
    """Every date element but the year: numeric, spelled, partial ("7/22", "on the 3rd"), holidays."""

    NAME = "clinical_date"
    ENTITIES = ("DATE",)

    def find(self, note: Note) -> list[Entity]:
        v = note.view
        out: list[Entity] = []
        for rx in _DATE_TEXT_CI if note.mode != "normal" else _DATE_TEXT_CS:
            for m in rx.finditer(v):
                s, e = strip_span(v, *match_span(m))
                word = v[s:e].split()[0].lower().rstrip(".")
                # "may 2 tabs", "march 2 miles": in a lower-case note 'may'/'march' + a quantity is a verb
                if note.mode == LOWER and word in ("may", "march") and UNIT_AFTER.match(v, e):
                    continue
                out.append(Entity(s, e, "DATE", 0.95))
        for m in P.DATE_NUMERIC.finditer(v):
            g = m.groupdict()
            if g["m2"] is not None:
                a, b = int(g["m2"]), int(g["d2"])
                # US m/d or European d/m: either order must be a valid calendar pair
                if not ((1 <= a <= 12 and 1 <= b <= 31) or (1 <= b <= 12 and 1 <= a <= 31)):
                    continue
                if g["sep"] == "." and len(g["y2"]) == 2 and a > 12:
                    continue
            out.append(Entity(m.start(), m.end(), "DATE", 0.95))
        for m in P.MONTH_YEAR.finditer(v):
            if not P.NOT_DATE_BEFORE.search(v[max(0, m.start() - 40) : m.start()]):
                out.append(Entity(m.start(), m.end(), "DATE", 0.8))
        # "CABG 1/78", "fx4/97", "labs on10/14/82", "11/21.93": month/two-digit year, glued and mixed forms
        for rx in (P.MONTH_YY, P.GLUED_DATE, P.DATE_MIXED, P.YEAR_APOS):
            for m in rx.finditer(v):
                if P.NOT_DATE_BEFORE.search(v[max(0, m.start() - 40) : m.start()]) or UNIT_AFTER.match(v, m.end()):
                    continue
                out.append(Entity(m.start(), m.end(), "DATE", 0.75))
        for m in P.MONTH_YEAR_TEXT.finditer(v):
            out.append(Entity(m.start(), m.end(), "DATE", 0.85))
        for m in P.DATE_MD.finditer(v):
            a, b = int(m["m"]), int(m["d"])
            if not (1 <= a <= 12 and 1 <= b <= 31):
                continue
            before = v[max(0, m.start() - 40) : m.start()]
            nd = P.NOT_DATE_BEFORE.search(before)
            # "last dose 10/29", "last dose 9/4": a dose fraction is at most 1 or has a small denominator
            if nd and not (re.search(r"(?i)\bdoses?\s*[:=]?\s*$", before) and (a > b or b > 8)):
                continue
            # a score total ("= 6/9") or a culture bottle count ("BCx 2/2") is a fraction, "BCx 10/2" a date
            if re.search(r"=\s*$", before) or a <= b <= 4 and re.search(r"(?i)[a-z]x\s*$", before):
                continue
            # common fractions (1/2 tab, 3/4 of) are quantities unless a date word precedes them
            if (a, b) == (1, 2) and not P.DATE_MD_CONTEXT.search(before):
                continue
            out.append(Entity(m.start(), m.end(), "DATE", 0.8))
        for m in P.DAY_ONLY.finditer(v):
            out.append(Entity(m.start(1), m.end(1), "DATE", 0.7))
        for m in P.MONTH_ALONE_ANY_CASE.finditer(v):
            out.append(Entity(m.start(1), m.end(1), "DATE", 0.65))
        for m in P.MONTH_ALONE.finditer(v):
            if note.mode == LOWER:
                continue
            g = 1 if m.group(1) else 2
            out.append(Entity(m.start(g), m.end(g), "DATE", 0.7))
        if note.mode != LOWER:
            for m in _WEEKDAY_ALONE.finditer(v):
                out.append(Entity(m.start(), m.end(), "DATE", 0.5))
        for m in P.WEEKDAY.finditer(v):
            # a weekday tied to the note's date ("last Friday") pins the calendar date
            g = 1 if m.group(1) else 2
            out.append(Entity(m.start(g), m.end(g), "DATE", 0.6))
        for m in (re.compile(P.HOLIDAY.pattern, re.IGNORECASE) if note.mode == UPPER else P.HOLIDAY).finditer(v):
            out.append(Entity(m.start(), m.end(), "DATE", 0.8))
        return out


_MD_RANGE = re.compile(r"(?<![\w/.-])(?P<a>\d{1,2}/\d{1,2})\s*-\s*(?P<b>\d{1,2}/\d{1,2})(?![\w/]|\.\d)")
_HOLIDAY_CI = re.compile(P.HOLIDAY.pattern + r"|\b(?:4th|fourth)\s+of\s+july\b|\bnew\s+years?\b|\bxmas\b", re.IGNORECASE)
_UPPER_MONTH = re.compile(r"\b(?:JANUARY|FEBRUARY|APRIL|JULY|SEPTEMBER|OCTOBER|NOVEMBER|DECEMBER)\b(?![ \t]*\d)")


def date_ranges(text: str, v: str, mode: str) -> list[Entity]:
    out = []
    for m in _MD_RANGE.finditer(v):
        if P.NOT_DATE_BEFORE.search(v[max(0, m.start() - 40) : m.start()]) or re.match(r"(?i)\s*(?:pain|mmhg|strength)", v[m.end() :]):
            continue  # pain scores, pressures, strength grades
        pairs = [tuple(int(x) for x in m[g].split("/")) for g in ("a", "b")]
        if all(1 <= a <= 12 and 1 <= b <= 31 for a, b in pairs) and pairs[0] <= pairs[1] or all(1 <= a <= 12 and 1 <= b <= 31 for a, b in pairs) and pairs[0][0] == 12:
            out.append(Entity(m.start("a"), m.end("a"), "DATE", 0.8))
            out.append(Entity(m.start("b"), m.end("b"), "DATE", 0.8))
    if mode != NORMAL:
        # a holiday that pins the day ("ran out on labor day", "since christmas", "over thanksgiving")
        for m in _HOLIDAY_CI.finditer(v):
            if mode == UPPER or re.search(r"(?i)\b(?:on|since|over|from|until|till|thru|through)\s+(?:the\s+)?$", v[max(0, m.start() - 15) : m.start()]):
                out.append(Entity(m.start(), m.end(), "DATE", 0.75))
    if mode == UPPER:
        for m in _UPPER_MONTH.finditer(text):
            out.append(Entity(m.start(), m.end(), "DATE", 0.65))
    return out


_MONTHS_NO_MAY = "january|february|march|april|june|july|august|september|october|november|december"
_MONTH_AFTER_IN = re.compile(rf"(?i)\b(?:in|since|until|till|by|early|late|mid|end\s+of|beginning\s+of)\s+(?P<m>{_MONTHS_NO_MAY})\b(?!\s+\d)")
_MID_MONTH = re.compile(rf"(?i)\b(?:mid|early|late)-(?:{P.MONTHS_FULL}|{P.MONTHS_ABBR})\b")
_MON_DAY_LOWER = re.compile(r"\b(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?\s+(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\b(?![/:.]?\d)")
_THE_NTH = re.compile(r"(?i)\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|on|by|until|since|it'?s|it\s+is|today\s+is)\s+(?:the\s+)(?P<d>(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th))\b(?!\s+(?:grade|percentile|day|week|floor|time|dose|cycle|visit))")


def month_words(text: str, v: str, mode: str) -> list[Entity]:
    out = []
    for rx in (_MONTH_AFTER_IN, _MID_MONTH) if mode != UPPER else (_MID_MONTH,):
        for m in rx.finditer(v):
            g = "m" if rx is _MONTH_AFTER_IN else 0
            if rx is _MONTH_AFTER_IN and m.group("m").lower() == "march" and mode == NORMAL and m.group("m")[:1].islower():
                continue  # "march" the verb in a cased note
            out.append(Entity(m.start(g), m.end(g), "DATE", 0.65))
    for m in _MON_DAY_LOWER.finditer(v if mode == LOWER else text):
        out.append(Entity(m.start(), m.end(), "DATE", 0.7))
    return out


def the_nth(v: str) -> list[Entity]:
    out = []
    for m in _THE_NTH.finditer(v):
        out.append(Entity(m.start("d"), m.end("d"), "DATE", 0.65))
    return out
