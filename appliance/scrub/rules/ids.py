"""Numbers and codes: labelled identifiers (MRN, member id, account, licence, VIN, SSN …), unlabelled long
numbers and letter-digit codes, OIDs, card numbers passing the Luhn check, plates, HAR accounts, ISBT units.

Medical codes ("T2DM", "C5-C6", "HbA1c") and quantities with a unit after them are not identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from appliance.scrub import patterns as P
from appliance.scrub.note import Note
from appliance.scrub.rules.base import ClinicalRecognizer
from appliance.scrub.types import Entity
from appliance.scrub.words import UNIT_AFTER, count_digits, luhn, match_span, strip_span


def _label_regex(labels: Iterable[str]) -> re.Pattern:
    alt = "|".join(sorted(labels, key=len, reverse=True))
    return re.compile(rf"(?<![\w])(?:{alt})\.?(?![a-z]){P.LABELED_VALUE}", re.IGNORECASE)


class ClinicalLabeledIdRecognizer(ClinicalRecognizer):
    """Codes after an identifier label: MRN, member id, account, licence, VIN, serial, fingerprint id …"""

    NAME = "clinical_labeled_ids"
    ENTITIES = ("MRN", "HEALTH_PLAN", "ACCOUNT", "LICENSE", "VEHICLE", "DEVICE", "BIOMETRIC", "ID", "SSN")

    def __init__(self, settings=None):
        super().__init__(settings)
        self._rx = []
        for type_, labels in P.LABELS.items():
            labels = list(labels) + self.context_words(type_)
            self._rx.append((type_, _label_regex(labels)))
        self._rx.append(("SSN", _label_regex([r"ssn", r"ss#", r"social\s+security(?:\s+(?:number|no|#))?", r"soc\s*sec"])))

    def find(self, note: Note) -> list[Entity]:
        v = note.text
        out = []
        for type_, rx in self._rx:
            for m in rx.finditer(v):
                s, e = strip_span(v, *match_span(m, "v"))
                val = v[s:e]
                if not val or count_digits(val) == 0:
                    continue
                # the generic labels ("#", "number", "code") need a real code, not "#2" or "number 3"
                if type_ == "ID" and (count_digits(val) < 4 and not re.search(r"[A-Za-z]", val) or len(val) < 4):
                    continue
                if type_ != "ID" and len(re.sub(r"\W", "", val)) < 3:
                    continue
                if UNIT_AFTER.match(v, e) or re.fullmatch(r"\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?", val):
                    continue
                out.append(Entity(s, e, type_, 0.9 if type_ != "ID" else 0.75))
        for m in P.PLATE.finditer(v):
            s, e = strip_span(v, *match_span(m, "v"))
            if e > s and count_digits(v[s:e]):
                out.append(Entity(s, e, "VEHICLE", 0.85))
        for m in P.SSN.finditer(v):
            out.append(Entity(m.start(), m.end(), "SSN", 0.95))
        for m in P.VIN.finditer(v):
            out.append(Entity(m.start(), m.end(), "VEHICLE", 0.85))
        for m in P.DEA.finditer(v):
            out.append(Entity(m.start(), m.end(), "LICENSE", 0.8))
        for m in P.MBI.finditer(v):
            out.append(Entity(m.start(), m.end(), "HEALTH_PLAN", 0.85))
        for m in P.IBAN.finditer(v):
            out.append(Entity(m.start(), m.end(), "ACCOUNT", 0.85))
        for m in P.CARD.finditer(v):
            digits = re.sub(r"\D", "", m.group(0))
            if 13 <= len(digits) <= 19 and luhn(digits):
                out.append(Entity(m.start(), m.end(), "ACCOUNT", 0.9))
        return out


_MED_CODE = re.compile(
    r"(?i)(?:covid-?19|sars-cov-2|h1n1|h5n1|t2dm|t1dm|dm2|hba1c|a1c|b12|b6|b1|d3|d25|cd4|cd8|cd20|g6pd|her2|brca[12]|"
    r"[ctls]\d{1,2}(?:-[ctls]?\d{1,2})?|h2o|o2|co2|nc\d|hfnc|bipap|cpap|ecg12|12-lead|il-?\d+|tnf|pd-?l?1|egfr|alk|kras|"
    r"braf|v600e|jak2|flt3|idh[12]|p53|ki-?67|apoe4|hla-?b27|[ivx]+|nyha|gcs\d+|ecog|asa\d|mallampati|bmi\d+|\d+(?:st|nd|rd|th))"
)

# dotted object identifiers: DICOM study/series UIDs, HL7 OIDs ("1.2.840.113619.2.55.3.6046")
_OID = re.compile(r"(?<![\w.])\d{1,9}(?:\.\d{1,20}){4,}(?![\w]|\.\d)")


class ClinicalCodeRecognizer(ClinicalRecognizer):
    """Any other unique number or code: long digit strings and letter-digit codes with no label nearby."""

    NAME = "clinical_codes"
    ENTITIES = ("ID",)

    def find(self, note: Note) -> list[Entity]:
        v = note.text
        out = [Entity(m.start(), m.end(), "ID", 0.8) for m in _OID.finditer(v)]
        for m in P.CODE.finditer(v):
            val = m.group(0)
            nd = count_digits(val)
            letters = sum(c.isalpha() for c in val)
            if _MED_CODE.fullmatch(val):
                continue
            if letters == 0:
                if nd < 5 or re.fullmatch(r"(?:19|20)\d{2}", val):
                    continue
            elif nd < 4 or nd + letters < 6:
                continue
            if re.fullmatch(r"\d{1,4}-\d{1,4}", val):
                continue  # ranges ("120-130")
            if UNIT_AFTER.match(v, m.end()):
                continue
            # a 5-digit number right after a state is a ZIP (the address recognizer types it)
            out.append(Entity(m.start(), m.end(), "ID", 0.6 if letters == 0 else 0.55))
        return out


_CARD_LOOSE = re.compile(r"(?<![\d-])\d{4}(?:[ -]\d{4}){2}[ -]\d{1,7}(?![\d-])|(?<![\d-])\d{4}[ -]\d{6}[ -]\d{4,5}(?![\d-])")


def loose_cards(v: str) -> list[Entity]:
    out = []
    for m in _CARD_LOOSE.finditer(v):
        d = re.sub(r"\D", "", m.group(0))
        cue = re.search(r"(?i)card|visa|mastercard|amex|account|acct", v[max(0, m.start() - 30) : m.start()])
        if 13 <= len(d) <= 19 and (luhn(d) or cue and re.fullmatch(r"\d{4}(?:[ -]\d{4}){3}", m.group(0))):
            out.append(Entity(m.start(), m.end(), "ACCOUNT", 0.85))
    return out


_SSN_LAST4 = re.compile(r"(?i)\b(?:ssn|social(?:\s+security)?(?:\s+(?:no\.?|number|#))?)\s*\(?\s*(?:last\s*(?:4|four)(?:\s+digits)?)\s*\)?\s*[:#-]?\s*(?P<n>\d{4})\b")
_PLATE = re.compile(
    r"(?i)\b(?:(?P<st1>[a-z]{2})\s+)?(?:license\s+)?plates?\s*(?:#|no\.?|number)?\s*:?\s*(?:(?P<st2>[a-z]{2})\s+)?"
    r"(?P<p>[a-z0-9]{1,8}(?:[ -][a-z0-9]{1,5}){0,2})"
)
_ACCOUNT_LABEL = re.compile(r"(?i)\b(?P<l>har|hospital\s+account|acct|account|billing(?:\s+(?:acct|account))?)\s*(?:#|no\.?|number)?\s*[:=]?\s*(?P<n>\d{7,12})\b")
_ISBT = re.compile(r"\b[A-Z]\d{4}[ \t]\d{2}[ \t]\d{6}(?:[ \t][A-Z0-9])?\b")


def labelled_numbers(text: str, v: str, L) -> list[Entity]:
    out = []
    for m in _SSN_LAST4.finditer(v):
        out.append(Entity(m.start("n"), m.end("n"), "SSN", 0.8))
    for m in _PLATE.finditer(v) if "plate" in v.lower() else ():
        st = [m.group(g) for g in ("st1", "st2") if m.group(g)]
        if not st or not all(x.lower() in L.states for x in st):
            continue
        groups = [(g.start(), g.group(0)) for g in re.finditer(r"[a-z0-9]+", m.group("p"), re.IGNORECASE)]
        keep = []
        for off, g in groups:
            if not any(c.isdigit() for c in g) and (len(g) > 3 or g.lower() in L.english_top):
                break
            keep.append((off, g))
        if keep and any(any(c.isdigit() for c in g) for _, g in keep):
            s = m.start("p") + keep[0][0]
            out.append(Entity(s, m.start("p") + keep[-1][0] + len(keep[-1][1]), "VEHICLE", 0.75))
    for m in _ACCOUNT_LABEL.finditer(v):
        s = m.start("l") if m.group("l").lower() == "har" else m.start("n")
        out.append(Entity(s, m.end("n"), "ACCOUNT", 0.75))
    for m in _ISBT.finditer(text):
        out.append(Entity(m.start(), m.end(), "ID", 0.7))
    return out
