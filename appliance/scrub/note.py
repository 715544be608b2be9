"""One text under analysis: the original, a case-normalised view for the models, and its spaCy doc.

ALL-CAPS notes defeat both spaCy's NER and every "capitalised word" rule, so such a note is analysed through a
view with each word title-cased; lower-case notes switch the name rules to gazetteer-and-context mode.  The
view always has the same length as the original, so every offset found in it is an offset in the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NORMAL, UPPER, LOWER = "normal", "upper", "lower"


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
