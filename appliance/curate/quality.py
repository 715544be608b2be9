"""Cheap quality filters applied to each normalised record before it is scrubbed and stored.

Each check returns a drop reason (a short stable string used as a report key) or ``None`` to keep the text.
Thresholds come from ``[vault]`` in appliance.toml (:class:`appliance.config.VaultSection`).
"""

from __future__ import annotations

import re
from collections import Counter

from appliance.config import VaultSection

TOO_SHORT = "too_short"
TOO_LONG = "too_long"
SYMBOLS = "symbol_ratio"
REPEATED = "repeated_lines"
SCRIPT = "script"
REASONS = (TOO_SHORT, TOO_LONG, SYMBOLS, REPEATED, SCRIPT)


def _count(pattern: re.Pattern, text: str) -> int:
    return pattern.subn("", text)[1]  # counting in C: these run on every record


_SPACE = re.compile(r"\s")
_SYMBOL = re.compile(r"[^\w\s]|_")
_LETTER = re.compile(r"[^\W\d_]")
_NON_LATIN_LETTER = re.compile(r"[^\W\d_\u0000-\u024f]")


def symbol_ratio(text: str) -> float:
    """Share of non-space characters that are neither letters nor digits (markup, tables of symbols, base64 …)."""
    nonspace = len(text) - _count(_SPACE, text)
    if not nonspace:
        return 1.0
    return _count(_SYMBOL, text) / nonspace


def repeated_line_ratio(text: str) -> float:
    """Share of non-empty lines that repeat an earlier line (boilerplate, copy-paste loops)."""
    lines = [l.strip() for l in text.split("\n") if l.strip()]
    if len(lines) < 3:
        return 0.0
    counts = Counter(lines)
    return sum(c - 1 for c in counts.values()) / len(lines)


def latin_ratio(text: str) -> float:
    """Share of letters that are ASCII/Latin-1/Latin Extended (the corpus language is configured as English)."""
    letters = _count(_LETTER, text)
    if not letters:
        return 0.0
    return 1.0 - _count(_NON_LATIN_LETTER, text) / letters


def check(text: str, s: VaultSection) -> str | None:
    """The first failed filter's reason, or ``None`` when the text passes every filter."""
    n = len(text)
    if n < s.min_record_chars:
        return TOO_SHORT
    if n > s.max_record_chars:
        return TOO_LONG
    if symbol_ratio(text) > s.max_symbol_ratio:
        return SYMBOLS
    if repeated_line_ratio(text) > s.max_repeated_line_ratio:
        return REPEATED
    if latin_ratio(text) < s.min_latin_ratio:
        return SCRIPT
    return None
