"""Contact identifiers: telephone and fax numbers (told apart by the words before them), extensions and
pagers, foreign numbering plans with a phone cue, e-mail addresses, URLs, IP and MAC addresses.
"""

from __future__ import annotations

import re

from appliance.scrub import patterns as P
from appliance.scrub.note import Note
from appliance.scrub.rules.base import ClinicalRecognizer
from appliance.scrub.types import Entity
from appliance.scrub.words import UNIT_AFTER, count_digits, match_span, strip_span

_EXTENSION = re.compile(r"(?i)\b(?:ext|extension|x|pager|beeper|vocera|spectralink)\.?\s*#?\s*(\d(?:-?\d){2,6})\b(?!\s*(?:mg|ml|units?|times|days?)\b)")

_INTL_PHONE = re.compile(r"(?<![\w+/.-])(?:\+\d{1,3}[\s.-]?(?:\(0\)\s?)?)?\(?\d{1,5}\)?(?:[ .-]\d{2,8}){1,4}(?![\w/]|[.-]\d)")
_INTL_CUE_BEFORE = re.compile(
    r"(?i)\b(?:phone|ph|tel|telephone|cell|mobile|mob|desk|office|fax|call|answering\s+at|reach(?:ed)?\s+at|"
    r"registered|landline|whatsapp)\b\W{0,4}$"
)
_INTL_CUE_AFTER = re.compile(r"(?i)\s*-?\s*\(?(?:office|fax|mobile|desk|cell|home|work|tel)\b")


class ClinicalPhoneFaxRecognizer(ClinicalRecognizer):
    """Telephone and fax numbers, told apart by the words just before them."""

    NAME = "clinical_phone_fax"
    ENTITIES = ("PHONE", "FAX")

    def find(self, note: Note) -> list[Entity]:
        v = note.view
        out = []
        extra = self.context_words("PHONE") + self.context_words("FAX")
        for m in P.PHONE.finditer(v):
            s, e = strip_span(v, *match_span(m))
            if s > 0 and v[s - 1] == "(" and ")" in v[s:e]:
                s -= 1  # keep the area code's bracket
            val = v[s:e]
            nd = count_digits(val)
            before = v[max(0, s - 40) : s]
            ctx = bool(P.PHONE_CONTEXT.search(before)) or any(re.search(rf"\b{w}\b\W*$", before, re.IGNORECASE) for w in extra)
            if nd < 7 or nd > 15:
                continue
            # dates, decimals and SSNs look like digit groups too
            if re.fullmatch(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", val) or re.fullmatch(r"\d{3}-\d{2}-\d{4}", val):
                continue
            if re.fullmatch(r"(?:19|20)\d{2}\s\d{1,4}", val):
                continue
            if nd < 10 and not ctx and not re.fullmatch(r"\(?\d{3}\)?[\s.-]\d{3,4}[\s.-]?\d{0,4}|\d{3}[ .-]\d{4}", val):
                continue
            if nd < 9 and not ctx and not re.search(r"[-.]", val):
                continue
            type_ = "FAX" if P.FAX_CONTEXT.search(before[-30:]) else "PHONE"
            out.append(Entity(s, e, type_, 0.9 if ctx or nd >= 10 else 0.6))
        for m in _EXTENSION.finditer(v):
            out.append(Entity(m.start(1), m.end(1), "PHONE", 0.7))
        # numbering plans of other countries: digit groups of any size, with "+" or a phone word beside them
        for m in _INTL_PHONE.finditer(v):
            s, e = m.span()
            val = v[s:e]
            nd = count_digits(val)
            if nd < 7 or nd > 15 or re.fullmatch(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{3}-\d{2}-\d{4}|(?:19|20)\d{2}[\s-]\d{1,4}", val):
                continue
            before = v[max(0, s - 30) : s]
            cue = val.startswith("+") or _INTL_CUE_BEFORE.search(before) or _INTL_CUE_AFTER.match(v, e)
            if not cue or UNIT_AFTER.match(v, e):
                continue
            fax = P.FAX_CONTEXT.search(before[-12:]) or re.match(r"\s*-?\s*fax\b", v[e : e + 8], re.IGNORECASE)
            out.append(Entity(s, e, "FAX" if fax else "PHONE", 0.75))
        return out


class ClinicalEmailUrlIpRecognizer(ClinicalRecognizer):
    """E-mail addresses, URLs and IP addresses, without tldextract (no public-suffix download)."""

    NAME = "clinical_email_url_ip"
    ENTITIES = ("EMAIL", "URL", "IP_ADDRESS", "DEVICE")

    def find(self, note: Note) -> list[Entity]:
        v = note.text
        out = [Entity(m.start(), m.end(), "EMAIL", 1.0) for m in P.EMAIL.finditer(v)]
        for m in P.URL.finditer(v):
            s, e = strip_span(v, *match_span(m))
            val = v[s:e].lower()
            if val in ("e.g", "i.e") or re.fullmatch(r"[a-z]{1,3}\.[a-z]{2}", val) and not val.startswith("www"):
                continue  # "q.d", "p.o" style abbreviations, not hosts
            out.append(Entity(s, e, "URL", 0.9))
        out += [Entity(m.start(), m.end(), "IP_ADDRESS", 0.95) for m in P.IPV4.finditer(v)]
        for m in P.IPV6.finditer(v):
            if m.group(0).count(":") >= 3 and not re.fullmatch(r"[\d:]+", m.group(0)):
                out.append(Entity(m.start(), m.end(), "IP_ADDRESS", 0.9))
        out += [Entity(m.start(), m.end(), "DEVICE", 0.9) for m in P.MAC.finditer(v)]
        return out


_PAGER = re.compile(r"(?i)\b(?:pgr|pager|beeper|bpr|page|pg)\b\.?\s*(?:#|no\.?|number)?\s*[:=]?\s*(?P<n>\d-\d{4}|\d{2}-\d{3}|\d{5}|\d{4}(?=\)))(?![\w-])")


def pagers(v: str) -> list[Entity]:
    out = []
    for m in _PAGER.finditer(v):
        out.append(Entity(m.start("n"), m.end("n"), "PHONE", 0.7))
    return out


_PHONE_EXT = re.compile(r"(?i)(?<!\d)(?P<p>(?:\(?\d{3}\)?[ .-]?)?\d{3}[ .-]\d{4})[ \t]*(?:x|ext\.?|extension)[ \t]*\.?[ \t]*(?P<x>\d{2,6})\b")


def phone_extensions(v: str) -> list[Entity]:
    out = []
    for m in _PHONE_EXT.finditer(v):
        out.append(Entity(m.start("p"), m.end("x"), "PHONE", 0.8))
    return out
