"""One text under analysis: the original, a case-normalised view for the models, and its spaCy doc.

ALL-CAPS notes defeat both spaCy's NER and every "capitalised word" rule, so such a note is analysed through a
view with each word title-cased; lower-case notes switch the name rules to gazetteer-and-context mode.  The
view always has the same length as the original, so every offset found in it is an offset in the original.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

NORMAL, UPPER, LOWER = "normal", "upper", "lower"
_WORDS = re.compile(r"\S+")
_TITLED = re.compile(r"\W*[A-Z][a-z]")


def case_mode(text: str) -> str:
    """Classify a note as mostly upper-case, mostly lower-case or normal."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 12:
        return NORMAL
    upper = sum(1 for c in letters if c.isupper()) / len(letters)
    if upper > 0.75:
        return UPPER
    if upper < 0.015:
        return LOWER
    if upper < 0.15:
        # codes ("HH-220931", "1EG4-TE5-MK73") and short abbreviations ("ED", "CT", "MRN") carry capitals even in
        # a note typed in lower case; without them the note's own words decide
        # ...and a writer who capitalises names leaves Title-case words ("seen at Stanford"); one who does not, none
        words = [w for w in _WORDS.findall(text) if not any(c.isdigit() for c in w) and not (w.isupper() and len(w) <= 4)]
        wl = [c for w in words for c in w if c.isalpha()]
        titled = sum(1 for w in words if _TITLED.match(w))
        if len(wl) >= 12 and sum(1 for c in wl if c.isupper()) / len(wl) < 0.015 and titled <= len(words) // 200:
            return LOWER
    return NORMAL


def _titlecase_same_length(text: str) -> str:
    out = []
    prev_alpha = False
    for c in text:
        if c.isalpha():
            t = c.lower() if prev_alpha else c.upper()
            out.append(t if len(t) == 1 else c)
            prev_alpha = True
        else:
            # an apostrophe keeps the word going ("O'NEIL" -> "O'neil", "SMITH'S" -> "Smith's")
            prev_alpha = prev_alpha and c in "'’"
            out.append(c)
    return "".join(out)


def analysis_view(text: str) -> tuple[str, str]:
    """(mode, view): the text the models read, same length as ``text``."""
    mode = case_mode(text)
    if mode == UPPER:
        return mode, _titlecase_same_length(text)
    return mode, text


@dataclass
class Note:
    text: str  # the original
    view: str  # what recognizers match against (same length)
    mode: str
    doc: Any = None  # spaCy Doc of ``view`` (None when analysed without a model)
    extra: dict = field(default_factory=dict)

    @classmethod
    def make(cls, text: str, doc: Any = None) -> Note:
        mode, view = analysis_view(text)
        return cls(text=text, view=view, mode=mode, doc=doc)
