"""Cheap quality filters applied to each normalised record before it is scrubbed and stored.

Each check returns a drop reason (a short stable string used as a report key) or ``None`` to keep the text.
Thresholds come from ``[vault]`` in appliance.toml (:class:`appliance.config.VaultSection`).
"""

from __future__ import annotations

from collections import Counter

from appliance.config import VaultSection

TOO_SHORT = "too_short"
TOO_LONG = "too_long"
SYMBOLS = "symbol_ratio"
REPEATED = "repeated_lines"
SCRIPT = "script"
REASONS = (TOO_SHORT, TOO_LONG, SYMBOLS, REPEATED, SCRIPT)


def symbol_ratio(text: str) -> float:
    """Share of non-space characters that are neither letters nor digits (markup, tables of symbols, base64 …)."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 1.0
    return sum(1 for c in chars if not c.isalnum()) / len(chars)


def repeated_line_ratio(text: str) -> float:
    """Share of non-empty lines that repeat an earlier line (boilerplate, copy-paste loops)."""
    lines = [l.strip() for l in text.split("\n") if l.strip()]
    if len(lines) < 3:
        return 0.0
    counts = Counter(lines)
    return sum(c - 1 for c in counts.values()) / len(lines)


def latin_ratio(text: str) -> float:
    """Share of letters that are ASCII/Latin-1/Latin Extended (the corpus language is configured as English)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if ord(c) < 0x250) / len(letters)


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
