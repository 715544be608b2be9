"""Text normalisation applied to every record before filtering, scrubbing and hashing.

Unicode NFC; CRLF/CR → LF; control and format characters removed (tab becomes a space); runs of spaces
collapsed; trailing spaces stripped per line; three or more newlines collapsed to a paragraph break.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[ \u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_TRAIL = re.compile(r" +\n")
_LEAD = re.compile(r"\n +")
_BLANKS = re.compile(r"\n{3,}")
# C0/C1 controls except \n, plus zero-width and bidi formatting characters (invisible, and a known way to
# hide text from filters)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def normalize(text: str) -> str:
    """The canonical form of ``text`` stored in the vault."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _TRAIL.sub("\n", text)
    text = _LEAD.sub("\n", text)
    text = _BLANKS.sub("\n\n", text)
    return text.strip()
