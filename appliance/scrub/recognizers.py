"""Clinical recognizers for the 18 Safe Harbor identifiers, as Presidio ``EntityRecognizer`` subclasses.

Each recognizer has a fast path, ``find(note, settings) -> list[Entity]``, that the scrubber calls on a
:class:`~appliance.scrub.note.Note` (original text, case-normalised view, spaCy doc), and the Presidio
``analyze`` method so the same objects also work inside a Presidio ``AnalyzerEngine``.  Rules favour recall:
an identifier label ("MRN", "member ID", "fax") makes whatever code follows it PHI, and a bare code with
enough digits is PHI even without a label.  Negative rules (eponyms, dosages, pain scores, murmur grades,
"MS" the condition) are written next to the positive ones they restrain.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from appliance.scrub import patterns as P
from appliance.scrub.lexicon import (
    AMBIGUOUS_NAME_WORDS,
    CLINICAL_SHAPE,
    EPONYM_HEADS,
    EPONYMS,
    STRONG_EPONYMS,
    lexicon,
)
from appliance.scrub.note import LOWER, UPPER, Note
from appliance.scrub.types import Entity

try:  # Presidio is the host framework; the fast path does not need it imported
    from presidio_analyzer import EntityRecognizer as _PresidioBase
    from presidio_analyzer import RecognizerResult as _PresidioResult
except ImportError:  # pragma: no cover - presidio is a hard dependency of the product
    _PresidioBase = object
    _PresidioResult = None


class ClinicalRecognizer(_PresidioBase):
    """Base: subclasses set ``NAME`` and ``ENTITIES`` and implement ``find``."""

    NAME = "clinical"
    ENTITIES: tuple[str, ...] = ()

    def __init__(self, settings=None):
        self.settings = settings
        if _PresidioBase is not object:
            super().__init__(supported_entities=list(self.ENTITIES), name=self.NAME, supported_language="en")

    def load(self) -> None:  # Presidio hook; word lists load lazily
        pass

    def find(self, note: Note) -> list[Entity]:
        raise NotImplementedError

    def context_words(self, type_: str) -> list[str]:
        extra = getattr(self.settings, "context_words", {}) or {}
        return [re.escape(w.lower()) for w in extra.get(type_, [])]

    # Presidio interface
    def analyze(self, text, entities, nlp_artifacts=None):
        doc = getattr(nlp_artifacts, "tokens", None) if nlp_artifacts is not None else None
        note = Note.make(text, doc)
        out = []
        for e in self.find(note):
            if entities and e.type not in entities:
                continue
            out.append(_PresidioResult(entity_type=e.type, start=e.start, end=e.end, score=e.score))
        return out


def _flags(note: Note) -> int:
    return re.IGNORECASE if note.mode in (UPPER, LOWER) else 0


def _span(m: re.Match, group: int | str = 0) -> tuple[int, int]:
    return m.start(group), m.end(group)


def _strip(text: str, s: int, e: int) -> tuple[int, int]:
    """Trim spaces and trailing sentence punctuation off a span."""
    while s < e and text[s] in " \t\r\n,;:(\"'":
        s += 1
    while e > s and text[e - 1] in " \t\r\n,;:.)\"'?!":
        # keep the dot of an initial ("Anna S.") or abbreviation ("Jr.", "Ave.")
        if text[e - 1] == "." and e - 2 >= s and (text[e - 2].isupper() and (e - 3 < s or not text[e - 3].isalpha())):
            break
        if text[e - 1] == "." and text[max(s, e - 4) : e - 1].lower() in ("ave", "jr", "sr", "blvd", "apt", "ste", "st", "dr", "rd", "ln"):
            break
        e -= 1
    return s, e


# ----------------------------------------------------------------------------------------------------------
# Dates and ages
# ----------------------------------------------------------------------------------------------------------

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
                s, e = _strip(v, *_span(m))
                word = v[s:e].split()[0].lower().rstrip(".")
                # "may 2 tabs", "march 2 miles": in a lower-case note 'may'/'march' + a quantity is a verb
                if note.mode == LOWER and word in ("may", "march") and _UNIT_AFTER.match(v, e):
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


class ClinicalAgeRecognizer(ClinicalRecognizer):
    """Ages over 89 ("92-year-old", "92 yo", "aged 95", "ninety-one")."""

    NAME = "clinical_age"
    ENTITIES = ("AGE",)

    def find(self, note: Note) -> list[Entity]:
        out = []
        for m in P.AGE.finditer(note.view):
            s, e = _strip(note.view, *_span(m))
            out.append(Entity(s, e, "AGE", 0.9))
        return out


# ----------------------------------------------------------------------------------------------------------
# Contact and network identifiers
# ----------------------------------------------------------------------------------------------------------


def _digits(s: str) -> int:
    return sum(c.isdigit() for c in s)


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
            s, e = _strip(v, *_span(m))
            if s > 0 and v[s - 1] == "(" and ")" in v[s:e]:
                s -= 1  # keep the area code's bracket
            val = v[s:e]
            nd = _digits(val)
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
            nd = _digits(val)
            if nd < 7 or nd > 15 or re.fullmatch(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{3}-\d{2}-\d{4}|(?:19|20)\d{2}[\s-]\d{1,4}", val):
                continue
            before = v[max(0, s - 30) : s]
            cue = val.startswith("+") or _INTL_CUE_BEFORE.search(before) or _INTL_CUE_AFTER.match(v, e)
            if not cue or _UNIT_AFTER.match(v, e):
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
            s, e = _strip(v, *_span(m))
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


# ----------------------------------------------------------------------------------------------------------
# Numbers and codes: SSN, MRN, plan, account, licence, vehicle, device, biometric, other ids
# ----------------------------------------------------------------------------------------------------------

_UNIT_AFTER = re.compile(
    r"\s*(?:mg|mcg|ug|g|kg|lb|lbs|ml|mL|l|L|units?|u|iu|IU|meq|mEq|mmol|mmhg|mmHg|cc|%|/mm3|/ul|/uL|cells|copies|k|K|"
    r"tabs?|caps?|puffs?|drops?|hrs?|hours?|mins?|minutes?|days?|weeks?|months?|years?|steps?|feet|ft|cal|kcal|mosm|ng|pg)\b",
)


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
                s, e = _strip(v, *_span(m, "v"))
                val = v[s:e]
                if not val or _digits(val) == 0:
                    continue
                # the generic labels ("#", "number", "code") need a real code, not "#2" or "number 3"
                if type_ == "ID" and (_digits(val) < 4 and not re.search(r"[A-Za-z]", val) or len(val) < 4):
                    continue
                if type_ != "ID" and len(re.sub(r"\W", "", val)) < 3:
                    continue
                if _UNIT_AFTER.match(v, e) or re.fullmatch(r"\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?", val):
                    continue
                out.append(Entity(s, e, type_, 0.9 if type_ != "ID" else 0.75))
        for m in P.PLATE.finditer(v):
            s, e = _strip(v, *_span(m, "v"))
            if e > s and _digits(v[s:e]):
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
            if 13 <= len(digits) <= 19 and _luhn(digits):
                out.append(Entity(m.start(), m.end(), "ACCOUNT", 0.9))
        return out


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


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
            nd = _digits(val)
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
            if _UNIT_AFTER.match(v, m.end()):
                continue
            # a 5-digit number right after a state is a ZIP (the address recognizer types it)
            out.append(Entity(m.start(), m.end(), "ID", 0.6 if letters == 0 else 0.55))
        return out


# ----------------------------------------------------------------------------------------------------------
# Geography: streets, cities, counties, ZIP codes, facilities
# ----------------------------------------------------------------------------------------------------------

_CITY_STATE_CI = re.compile(P.CITY_STATE.pattern.replace("(?P<city>[A-Z][a-z'’.-]+(?:[ -](?:[A-Z][a-z'’.-]+|de|la|du|of)){0,3})", r"(?P<city>[A-Za-z][a-z'’.-]+(?:[ -][A-Za-z][a-z'’.-]+){0,2})"), re.IGNORECASE)
_CITY_LEAD_WORDS = frozenset(
    ["lives", "living", "resides", "residing", "in", "from", "at", "to", "near", "and", "moved", "visiting", "the", "of", "seen", "admitted", "born", "home", "patient", "pt", "address", "addr", "city", "located", "located", "based", "currently", "now", "was", "is", "transferred"]
)
_GEO_PREP = re.compile(
    r"(?:\b(?:in|from|to|near|at|of|visiting|lives|living|resides|residing|moved|relocated|born|raised|grew\s+up|"
    r"travel(?:ed|led)?|trip|vacation|home\s+in|located|based)\s+(?:in\s+|to\s+|at\s+)?(?:the\s+)?|@\s*"
    # a list of proper nouns: "Johns Hopkins Hospital, Baltimore", "123 Elm St, Springfield"
    r"|[A-Z][\w'’.]*,\s+)$",
    re.IGNORECASE,
)


_ZIP_LABELED = re.compile(r"(?i)\b(?:zip|zip\s*code|zipcode|postal\s*code|postcode|post\s*code|plz|cap)\s*(?:[:#]|is)?\s*((?-i:[A-Z]{0,2}[- ]?)\d{3,5}(?:[ -]\d{2,4}|[ ]?(?-i:[A-Z]{2}))?)\b")
_UNI_CAP = r"[A-ZÀ-ÖØ-ÞĀ-ſΆ-ΏΑ-ΩЀ-Я]"  # Latin, Greek and Cyrillic capitals
_STREET_TYPE_AFTER = (
    r"(?:u\.|utca|út|útja|tér|tere|rkp\.|körút|köz|sor|sétány|kapu|str\.|gate|gata|gatan|vägen|veien|vegen|vej|"
    r"terrasse|katu|kuja|tie|ulica|ul\.|cesta|trg|straat|laan|weg|gasse|strasse|straße)"
)
_STREET_TYPE_BEFORE = (
    r"(?:ul\.|al\.|C/|Avda\.|Av\.|Rúa|Rua|Rue|Via|Viale|Calle|Avenida|Paseo|Praça|Largo|Corso|Piazza|Strada|Chemin|"
    r"Quai|Trg|trg|Ulica|ulica|rue|via|calle|rua|avenida)"
)
_ADDR_ANCHOR = re.compile(
    r"\b(?:Apt|Apartment|Suite|Ste|Unit)\.?\s*#?\s*\d+[A-Za-z]?\b"
    r"|\b(?:P\.?\s*O\.?\s*Box|PSC|CMR)\s+\d+"
    # "Koskikatu 25", "Præstevænget 15", "ul. Miła 53": a capitalised street word then a house number
    rf"|\b\d{{1,6}}\s+(?:\d{{1,5}}\s+)?(?:ul\.\s+|C/\s*)?{_UNI_CAP}[^\W\d_]+(?:[ -](?:{_UNI_CAP}[^\W\d_]*|de|la|del|da|do|dos|van|von|der|den)){{0,4}}\s+\d{{1,4}}[A-Za-z]?\b"
    # street name then a lower-case street-type word then the number, as in Central and Northern Europe:
    # "Király u. 15.", "Erzsébet tér 19.", "Trenerys gate 232", "Stensås terrasse 38", "Pentelis Str. 35"
    rf"|\b{_UNI_CAP}[^\W\d_]+(?:\s+{_UNI_CAP}[^\W\d_]+){{0,3}}\s+{_STREET_TYPE_AFTER}\s+\d{{1,5}}[A-Za-z]?\b\.?"
    # the street-type word first: "ul. Jesionowa 127", "C/ Señores Curas 88", "Avda. Rio Nalon 58", "trg revolucije 17"
    rf"|(?<![\w.]){_STREET_TYPE_BEFORE}\s*(?:{_UNI_CAP}|[a-zà-ÿ])[^\W\d_]+(?:\s+(?:{_UNI_CAP}[^\W\d_]+|[a-zà-ÿ]{{2,}})){{0,4}}\s+\d{{1,5}}[A-Za-z]?\b"
    # house number first, then the street-type word: "31 Rue Al Imam Al Bakri", "69 Av Sidi Lakhmi"
    rf"|\b\d{{1,5}},?\s+(?:{_STREET_TYPE_BEFORE}|Av)\s+{_UNI_CAP}[^\W\d_]*(?:\s+(?:{_UNI_CAP}[^\W\d_]*|de|la|del|des|du|da|do|dos|di|dei)){{0,5}}"
    # military addresses: "PSC 3294, Box 9168 APO AA 61487", "Unit 1009 Box 0219 DPO AP 51065", "USNV Botolen FPO AE 12382"
    r"|(?i:\b(?:psc|cmr|unit)\s+\d+,?\s+box\s+\d+,?\s+(?:apo|fpo|dpo)\s+a[aep]\s+\d{5}\b)"
    r"|(?i:\b(?:usns|usnv|uss|usc?gc)\s+[^\W\d_]+(?:\s+[^\W\d_]+)?,?\s+fpo\s+a[aep]\s+\d{5}\b)"
    # "the corner of X and Y": two street names, either may lack a number
    rf"|(?i:\bcorner\s+of\s+)(?:[\w.'’/-]+\s+){{1,5}}?and\s+{_UNI_CAP}[^\W\d_]*(?:\s+(?:{_UNI_CAP}[^\W\d_]*|\d{{1,5}}))?(?:\s+(?:{P.STREET_SUFFIX})\b\.?)?"
)
# an address cue, then a capitalised street name and a number: "lives on Via dei Fiorentini 17", "is on Pod Floriánem 1677"
_ADDR_CUED = re.compile(
    r"(?i:\baddress(?:\s+is)?:?|\blives?\s+(?:at|on)|\bliving\s+(?:at|on)|\bstop\s+at|\bis\s+on(?:\s+the)?|\bsent\s+to|\breturn\s+to)\s+"
    rf"(?P<v>{_UNI_CAP}[^\W\d_]+(?:\s+(?:{_UNI_CAP}[^\W\d_]+|de|la|del|dei|da|do|du|des|van|von|der|den|ten)){{0,4}}\s+\d{{1,5}}[A-Za-z]?)\b"
)
_BLOCK_TOKEN = re.compile(rf"\s*(?:,|\n|>)?\s*(?:{_UNI_CAP}[^\W\d_'’.]*(?:['’][^\W\d_]+)?\.?|\d{{1,6}}(?:-\d{{1,4}})?|[A-Z]{{2}}(?=[\s,]|$)|de|la|del|da|do|nad|van|von|nan|\([A-Z][a-z]+\))")
_STOP_LOWER = re.compile(r"\s*[a-z]")
# a line of an address block that holds only place tokens: "GRAND RAPIDS", "Pines Beach", "Smith's Green, NI"
_PLACE_LINE = re.compile(
    rf"(?:{_UNI_CAP}[^\W\d_'’.]*(?:['’][^\W\d_]+)?|\d{{1,6}}|\([A-Z][a-z]+\))(?:[ ,-]+(?:{_UNI_CAP}[^\W\d_'’.]*(?:['’][^\W\d_]+)?|\d{{1,6}}|de|la|del|da|do|nad|u|\([A-Z][a-z]+\)))*[ ,]*(?=\n|\s*>|$)"
)


@functools.lru_cache(maxsize=1)
def _COUNTRY_AFTER() -> re.Pattern:
    """Country names of more than one word ("United Kingdom", "New Zealand"), as the next address token."""
    multi = sorted((c for c in lexicon().countries if " " in c), key=len, reverse=True)
    return re.compile(r"\s*(?:,|\n|>)?\s*(?i:" + "|".join(re.escape(c) for c in multi) + r")\b")


def _address_blocks(note: Note, found: list[Entity], anchors: list[tuple[int, int]] = ()) -> list[Entity]:
    """Grow an address anchor (unit, PO box, street + number) over the capitalised words and numbers around
    it: the city, region, postcode and country lines of addresses in any national format."""
    v = note.view
    L = lexicon()
    out = []
    # anchors: the shapes above, and the streets and PO boxes the caller already found
    zips = [x for x in found if x.type == "ZIP"]
    spans = []
    for m in _ADDR_ANCHOR.finditer(v):
        words = re.findall(r"[^\W\d_]+", m.group(0))
        # "moved to Bay 4 Room 12", "2 Units 3": numbers around everyday or clinical words are no street
        # nor numbers around short abbreviations: vital signs in an ALL-CAPS note ("T 98.1 HR 104 BP 168")
        if m.group(0)[0].isdigit() and words and all(w.lower() in L.clinical or w.lower() in L.english_common or len(w) <= 3 and w.lower() not in _SHORT_STREET_WORDS for w in words):
            continue
        spans.append(m.span())
    spans += [m.span("v") for m in _ADDR_CUED.finditer(v)]
    spans += anchors
    for s, e in spans:
        # rightwards: up to 8 more address tokens, not across a sentence end or a "Label:" line
        n = 0
        line_end = -1  # end of an address line made only of place tokens (its everyday words count too)
        while n < 12:
            t = _BLOCK_TOKEN.match(v, e)
            if not t or t.end() == e:
                break
            if any(z.start < t.end() and z.end > e for z in zips):
                break  # a ZIP the other rules typed stays its own span (merging would retype the address)
            cm = _COUNTRY_AFTER().match(v, e)
            if cm and cm.end() > t.end():
                t = cm
            seg = v[e : t.end()]
            word = seg.strip(" ,>\n").rstrip(".").lower()
            if re.fullmatch(r"[A-Z]{2,3}|\([A-Z][a-z]+\)", seg.strip(" ,>\n")) or " " in word and word in L.countries:
                e = t.end()  # a region code ("ON", "RS") or a country: the postcode after it belongs to the address
                n += 1
                continue
            if "\n" in seg and re.match(r"\s*\S+:", v[t.start() :].lstrip(" ,>\n")):
                break
            if v[e - 1 : e] == "." and not (n == 0 and re.search(r"\d\.$", v[s:e])) and not re.search(r"(?i)(?:apt|ste|st|ave|rd|dr|no|ul|box|\b[a-z])\.$", v[max(s, e - 5) : e]):
                break  # a full stop ends the address unless it closes an abbreviation
            if re.search(r"[\n>]", seg):
                pl = _PLACE_LINE.match(v, t.start() + len(seg) - len(seg.lstrip(" ,>\n")))
                line_end = pl.end() if pl else -1
            on_place_line = t.end() <= line_end
            if word in L.clinical or _looks_like_month(word):
                break
            zip_next = re.match(r"[ \t,]*\d{5}(?:-\d{4})?\b", v[t.end() : t.end() + 16]) is not None  # "Chicago 60618"
            if word in L.english_common and word not in L.countries and word not in ("de", "la") and not on_place_line and not zip_next:
                break
            e = t.end()
            n += 1
        # leftwards: a house number or street words directly before a unit ("24 Clarke Avenue Apt. 805")
        k = 0
        while k < 7:
            lm = re.search(rf"(?:{_UNI_CAP}[^\W\d_'’]*\.?|\d{{1,6}}|de|la|des|du|del|da|do|dos|van|von|der|den)[ ,]*\s*$", v[max(0, s - 40) : s])
            if not lm:
                break
            ns = max(0, s - 40) + lm.start()
            word = v[ns:s].strip(" ,").rstrip(".").lower()
            if word in ("de", "la", "des", "du", "del", "da", "do", "dos", "van", "von", "der", "den") and ns != s:
                s = ns
                k += 1
                continue
            if word in L.clinical or word in L.english_common or ns == s:
                break
            s = ns
            k += 1
        s, e = _strip(v, s, e)
        if e - s > 3:
            out.append(Entity(s, e, "LOCATION", 0.7))
    return out


_PLACE_POSTCODE = re.compile(
    rf"\b(?:in|at|from|to|near)\s+(?P<p>{_UNI_CAP}[^\W\d_'’.-]+(?:[ -](?:{_UNI_CAP}[^\W\d_'’.-]*|de|da|do|del|la|di|am|an|im|sur|nad|pod)){{0,4}})"
    r"\s+(?P<z>\d{4}(?:-\d{3})?|\d{3}\s\d{2}|\d{2}-\d{3})\b"
)
# Canadian "B0J 2H0" and British "SW1A 1AA" postcodes: the letter-digit alternation is distinctive
_MILITARY = re.compile(
    r"(?i)\b(?:(?:psc|cmr|unit)\s+\d+,?\s+box\s+\d+|(?:usns|usnv|uss|usc?gc)\s+[^\W\d_]+(?:\s+[^\W\d_]+)?),?\s+(?:apo|fpo|dpo)\s+a[aep]\s+\d{5}\b"
)
_CA_UK_POSTCODE = re.compile(r"\b(?:[A-Z]\d[A-Z]\s?\d[A-Z]\d|[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2})\b")
_STREET_CI = re.compile(P.STREET.pattern, re.IGNORECASE)
_UNIT_CI = re.compile(P.UNIT.pattern, re.IGNORECASE)
_RESIDENCE = re.compile(
    r"\b(?:resides|residing|lives|living|moved|relocated|born|raised|grew\s+up|travel(?:ed|led)|visiting|home|"
    r"am|based|returned|originally|staying|stayed|flew|trip|vacation(?:ing)?|holiday|visited|located|settled)\s+"
    rf"(?:in|to|from|near|at)\s+(?:the\s+)?(?P<p>{_UNI_CAP}[^\W\d_'’]+(?:['’]s)?(?:[ -]{_UNI_CAP}[^\W\d_'’]+){{0,2}})",
    re.IGNORECASE,
)
_EMPLOYER = re.compile(
    rf"\b(?:works\s+(?:at|for)|working\s+(?:at|for)|employed\s+(?:at|by)|employer\s*:?|job\s+at|retired\s+from)\s+(?:the\s+)?"
    rf"(?P<p>{_UNI_CAP}[\w'’&.-]*(?:(?:,\s+|\s+and\s+|\s+&\s+|\s+|-){_UNI_CAP}[\w'’&.-]*){{0,5}})",
)


_EMPLOYER_LOWER = re.compile(
    r"\b(?:works\s+(?:at|for)|working\s+(?:at|for)|employed\s+(?:at|by)|employer\s*:?|job\s+at|retired\s+from)\s+(?:the\s+)?"
    r"(?P<p>[a-z][\w'’&-]*(?:\s+[a-z][\w'’&-]*){0,3}?)(?=\s+(?:as|since|for|and|where|but)\b|\s*[,.;()]|$)"
)


_RESIDENCE_LOWER = re.compile(
    r"\b(?:resides|residing|lives|living|moved|relocated|born|raised)\s+(?:in|to|from|near)\s+(?P<p>[a-z][a-z'’-]+(?:\s+[a-z][a-z'’-]+){0,3})"
)
_PLACE_WORDS = frozenset(
    ["new", "lake", "port", "east", "west", "north", "south", "mount", "fort", "san", "santa", "saint", "st", "el", "la", "los",
     "las", "del", "de", "county", "city", "beach", "heights", "springs", "falls", "park", "valley", "river", "village"]
)


def _lower_residence(v: str, L) -> list[Entity]:
    """Lower-case notes: the place after "resides in" / "moved from", when a word of it is no English word
    ("resides in new anthonyside", "moved from lake ruben county"), or the gazetteer knows it."""
    out = []
    for m in _RESIDENCE_LOWER.finditer(v):
        words, pos, end, unknown = m.group("p").split(), m.start("p"), m.start("p"), False
        for w in words:
            a = v.index(w, pos)
            pos = a + len(w)
            if w in L.clinical or _looks_like_month(w):
                break
            if _unknown_word(w, L) or w in L.cities or w in L.surnames and w not in L.english_common:
                unknown = True
            elif w not in _PLACE_WORDS:
                break
            end = pos
        if unknown and end > m.start("p"):
            out.append(Entity(m.start("p"), end, "LOCATION", 0.6))
    return out


_PLACE_NAME = rf"{_UNI_CAP}[^\W\d_'’]+(?:[ -](?:{_UNI_CAP}[^\W\d_'’]+|de|del|la|le|du|do|da|u|nad|am|an|sur|sul)){{0,3}}"
# a place name no word list knows, after "in"/"near" and before the end of the clause ("I'm in HARSTAD, at",
# "10th year in Laax,"), or after a place label ("Where: Beerze", "home city Messina:", "Birthplace: Kiel")
_PLACE_IN = re.compile(
    rf"\b(?:in|near)\s+(?P<p>{_PLACE_NAME})(?=\s*[,.;:!?)]|\s*$|\s+(?:for|on|and|at|in|where|which|who|since|until)\b)"
    rf"|(?i:\b(?:where|city|town|village|hometown|birthplace|place\s+of\s+birth|born\s+in)\s*:\s*|\bhome\s+(?:city|town)\s+)(?P<q>{_PLACE_NAME})"
)


# a street named without its number: "(Walgreens on Blue Hill Ave)", "corner of Maple St", "lives off Route 9"
_STREET_NAME_ONLY = re.compile(
    r"\b(?:on|off|at|near|of|along|down|up)\s+(?P<p>(?:[A-Z][a-z'’]+\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|"
    r"Parkway|Pkwy|Highway|Hwy|Terrace|Ter|Turnpike|Tpke|Expressway)\b\.?)"
)
# numbered highways: "on I-93 southbound", "Route 128", "US-1", "Hwy 101" (not the isotopes I-123/I-125/I-131)
_HIGHWAY = re.compile(
    r"(?i:\b(?:on|off|via|take|took|from|onto|near|along|exit\s+\d+\s+(?:on|off))\s+)(?P<h>(?-i:I|US|SR)-?\s?(?!12[35]\b|131\b)\d{1,3}[A-Z]?\b|"
    r"(?:Route|Rte\.?|Hwy|Highway|Interstate)\s+\d{1,3}[A-Z]?\b)"
)


def _unknown_places(v: str, L) -> list[Entity]:
    """Single or short place names the gazetteer lacks (small towns, foreign cities), by their cue and shape:
    every word must be unknown to the English, clinical, month and first-name lists, or a known city, and not
    shaped like a drug or procedure; ALL-CAPS words need six letters (shorter ones are abbreviations)."""
    out = []
    for m in _PLACE_IN.finditer(v):
        g = "p" if m.group("p") else "q"
        if g == "q":
            # after a place label: the leading words that are no everyday or clinical word ("Where: Beerze Country Club")
            a = m.start("q")
            e = a
            for w in re.finditer(r"[^\s-]+", m.group("q")):
                lw = w.group(0).lower()
                if lw in L.clinical or lw in L.english_common or _looks_like_month(lw):
                    break
                e = a + w.end()
            if e > a:
                out.append(Entity(a, e, "LOCATION", 0.6))
            continue
        words = [w for w in re.split(r"[ -]", m.group(g)) if w[:1].isupper()]
        if not words:
            continue
        ok = True
        for w in words:
            lw = w.lower()
            if lw in L.cities and lw not in L.clinical:
                continue
            if w.isupper() and len(w) < 6 and g == "p" or not _unknown_word(lw, L) or g == "p" and lw in L.first_names or CLINICAL_SHAPE.search(lw) and lw not in L.surnames:
                ok = False
                break
        if ok:
            out.append(Entity(*_strip(v, *m.span(g)), "LOCATION", 0.6))
    return out


# postal codes that are also words or clinical abbreviations ("Member ID", "signed by X, MD", "received in")
_SHORT_STREET_WORDS = frozenset(["n", "s", "e", "w", "ne", "nw", "se", "sw", "el", "la", "le", "de", "du", "st", "mt", "ft", "via", "rue"])
_AMBIGUOUS_STATES = frozenset(["MS", "PA", "OR", "IN", "ME", "CO", "OK", "MA", "MD", "DE", "OH", "NP", "DO", "ID", "HI", "LA", "AL"])


class ClinicalAddressRecognizer(ClinicalRecognizer):
    """Street addresses (US and common foreign forms), PO boxes, city + state, counties, ZIP codes, cities."""

    NAME = "clinical_address"
    ENTITIES = ("LOCATION", "ZIP")

    def find(self, note: Note) -> list[Entity]:
        v = note.view
        L = lexicon()
        out = []
        street_rx = _STREET_CI if note.mode == LOWER else P.STREET
        unit_rx = _UNIT_CI if note.mode == LOWER else P.UNIT
        anchors: list[tuple[int, int]] = []  # streets and boxes: the address-block growth starts from these
        for m in street_rx.finditer(v):
            s, e = m.start(), m.end()
            tail = unit_rx.match(v, e)
            if tail:
                e = tail.end()
            words = v[s : m.end()].split()  # the street itself; a unit after it ("Unit 12") is judged apart
            # "2 Dr" / "3 views CT" are not streets: need a word between the number and the suffix
            if len(words) < 3 and not re.search(r"\d(?:st|nd|rd|th)\b", v[s:e]):
                continue
            full_suffix = len(words[-1].strip(".,")) > 4 and words[-1][0].isupper()
            if not full_suffix and any(w.lower().strip(".,") in L.clinical and w.lower() not in ("st", "dr", "rd", "ct") for w in words[1:-1]):
                continue
            out.append(Entity(*_strip(v, s, e), "LOCATION", 0.9))
            anchors.append((out[-1].start, out[-1].end))
        for rx, score in ((P.FOREIGN_STREET, 0.75), (P.PO_BOX, 0.9), (P.UNIT_ALONE, 0.7), (P.COUNTY, 0.8)):
            for m in rx.finditer(v):
                out.append(Entity(*_strip(v, *_span(m)), "LOCATION", score))
                if rx is not P.COUNTY:
                    anchors.append((out[-1].start, out[-1].end))
        city_rx = _CITY_STATE_CI if note.mode == LOWER else P.CITY_STATE_UPPER if note.mode == UPPER else P.CITY_STATE
        for m in city_rx.finditer(v):
            city = m.group("city")
            cw = city.lower().split()
            # "history of HTN, MS" or "pain, CA" : the word before a state code must be a plausible place
            if cw[-1] in L.clinical or cw[0] in ("and", "or", "the", "with", "of", "in", "hx", "pmh"):
                continue
            state = m.group("state")
            if note.mode == LOWER and len(state) == 2 and not m.group("zip"):
                continue  # "or", "in", "me", "hi" are words in a lower-case note
            # (compared upper-cased: the title-cased view of an ALL-CAPS note reads "Md", "Id")
            # ambiguous postal codes (multiple sclerosis, physician assistant, ...) need a gazetteer city
            if len(state) == 2 and state.upper() in _AMBIGUOUS_STATES and not m.group("zip") and city.lower() not in L.cities:
                continue
            cs, _ce = m.span("city")
            # a capitalised sentence word before the city ("Lives in Springfield, IL") is trimmed by the gazetteer
            toks = city.split()
            while len(toks) > 1 and " ".join(toks).lower() not in L.cities and toks[0].lower() in _CITY_LEAD_WORDS:
                cs += len(toks[0]) + 1
                toks = toks[1:]
            # the state itself is not PHI, but a gold "City, ST" span reads as one address unit
            out.append(Entity(cs, m.end("state"), "LOCATION", 0.85))
            if m.group("zip"):
                out.append(Entity(m.start("zip"), m.end("zip"), "ZIP", 0.95))
        for m in P.ZIP.finditer(v):
            before = v[max(0, m.start() - 30) : m.start()]
            if P.ZIP_CONTEXT.search(before):
                out.append(Entity(m.start(), m.end(), "ZIP", 0.9))
        if note.mode == LOWER:
            out += _lower_residence(v, L)
        if note.mode == "normal":
            out += _unknown_places(v, L)
            for m in _STREET_NAME_ONLY.finditer(v):
                words = m.group("p").lower().split()
                if not any(w in L.clinical for w in words[:-1]):
                    out.append(Entity(*_strip(v, *m.span("p")), "LOCATION", 0.65))
        for m in _HIGHWAY.finditer(v):
            out.append(Entity(m.start("h"), m.end("h"), "LOCATION", 0.7))
        if note.mode != LOWER:
            for m in _RESIDENCE.finditer(v):
                if not m.group("p")[0].isupper():
                    continue
                s, e = _strip(v, *m.span("p"))
                words = v[s:e].lower().split()
                if words and words[0] not in L.clinical and words[0] not in L.states and words[0] not in L.countries:
                    out.append(Entity(s, e, "LOCATION", 0.65))
        for m in (_EMPLOYER_LOWER if note.mode == LOWER else _EMPLOYER).finditer(v):
            out.append(Entity(*_strip(v, *m.span("p")), "FACILITY", 0.6))
        for m in _ZIP_LABELED.finditer(v):
            out.append(Entity(m.start(1), m.end(1), "ZIP", 0.85))
        for m in _MILITARY.finditer(v):
            out.append(Entity(m.start(), m.end(), "LOCATION", 0.85))
        # a place then a postcode of another country: "in Bjert 6091", "in Quinta de São Tiago 3610-114"
        for m in _PLACE_POSTCODE.finditer(v):
            z = m.group("z")
            words = m.group("p").lower().split()
            if re.fullmatch(r"(?:19|20)\d\d", z) or words[0] in L.clinical or words[0] in _NOT_PLACE_WORDS or _looks_like_month(words[0]):
                continue
            if _UNIT_AFTER.match(v, m.end("z")):
                continue
            out.append(Entity(*m.span("p"), "LOCATION", 0.6))
            out.append(Entity(*m.span("z"), "ZIP", 0.7))
        for m in _CA_UK_POSTCODE.finditer(v):
            out.append(Entity(m.start(), m.end(), "ZIP", 0.75))
        out += self._gazetteer_places(note)
        if note.mode != LOWER:
            out += _address_blocks(note, out, anchors)
        return out

    def _gazetteer_places(self, note: Note) -> list[Entity]:
        """Known US cities: multi-word names anywhere, single words after a place preposition."""
        L = lexicon()
        v = note.view
        out = []
        for m in re.finditer(r"\b[A-Z][a-z]+(?:[ -](?:[A-Z][a-z]+|de|la|del)){0,3}\b" if note.mode != LOWER else r"\b[a-z]+(?: [a-z]+){0,2}\b", v):
            words = m.group(0).split()
            # try the longest gazetteer match starting at each word
            i = 0
            pos = m.start()
            starts = []
            for w in words:
                idx = v.index(w, pos)
                starts.append(idx)
                pos = idx + len(w)
            while i < len(words):
                found = None
                for j in range(min(len(words), i + 4), i, -1):
                    cand = " ".join(words[i:j]).lower()
                    if cand in L.cities or cand in L.counties:
                        found = j
                        break
                if found is None:
                    i += 1
                    continue
                s = starts[i]
                e = starts[found - 1] + len(words[found - 1])
                multi = found - i > 1
                before = v[max(0, s - 30) : s]
                single_ok = bool(_GEO_PREP.search(before)) and words[i].lower() not in L.first_names
                if note.mode == LOWER:
                    ok = bool(_GEO_PREP.search(before)) and (multi or words[i] not in L.english_vocab and words[i] not in L.first_names)
                else:
                    ok = multi or single_ok
                if ok:
                    out.append(Entity(s, e, "LOCATION", 0.7))
                i = found
        return out


_FACILITY_CI = re.compile(P.FACILITY.pattern, re.IGNORECASE)
# "our Dallas clinic", "UCLA med center", "Cedars-Sinai ER": a proper name before a lower-case facility word
_FACILITY_LOWER_HEAD = re.compile(
    r"\b(?:(?:St\.?|Mt\.?|Saint|Mount)\s+)?(?:[A-Z][\w'’&.-]*\s+){1,3}(?:(?:downtown|main|satellite|outpatient|inpatient|community|county|general|medical|med|health|cancer|heart|dialysis|rehab|urgent\s+care|primary\s+care|family)\s+)?"
    r"(?:clinic|hospital|medical\s+center|med\s+center|health\s+center|office|facility|practice|ER|ED|campus|center|centre|infirmary|hospice|nursing\s+home|rehab|lab|pharmacy)\b"
)
_CAP_PHRASE = re.compile(r"(?:(?:St\.?|Mt\.?|Saint|Mount)\s+)?[A-Z][\w'’&-]*(?:\s+(?:of\s+|the\s+|and\s+|&\s+)?[A-Z][\w'’&-]*){0,4}")
_NOT_PLACE_WORDS = frozenset(
    ["the", "a", "an", "this", "that", "these", "those", "his", "her", "their", "its", "our", "my", "your", "i", "we", "he", "she", "they", "it", "mon", "tue", "wed", "thu", "fri", "sat", "sun", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "am", "pm", "noon", "night", "baseline", "bedside", "rest", "risk", "least", "most", "first", "last", "time", "times", "home", "work", "school"]
)


# the facility word first: "Hospital Universitario La Paz", "Hospice of the Valley", "Clinique des Cèdres"
_FACILITY_HEAD_FIRST = re.compile(
    r"\b(?:Hospital|Hospice|Clinic|Clínica|Clinica|Clinique|Hôpital|Hopital|Ospedale|Klinikum|Centro|Sanatorio|Policlínica|Home)"
    r"(?:\s+(?:of\s+the|of|for\s+the|for|de\s+la|de|del|des|du|di|della)\s+|\s+)"
    r"(?P<n>[A-ZÀ-ÖØ-Þ][\w'’-]+(?:\s+(?:de|del|la|las|los|di|du|des|[A-ZÀ-ÖØ-Þ][\w'’-]+)){0,4})"
)


class ClinicalFacilityRecognizer(ClinicalRecognizer):
    """Hospitals, clinics, nursing homes and other named facilities ("St. Vincent's", "Elm Clinic")."""

    NAME = "clinical_facility"
    ENTITIES = ("FACILITY",)

    def _lower_case(self, note: Note) -> list[Entity]:
        return _lower_facilities(note)

    def find(self, note: Note) -> list[Entity]:
        v = note.view
        L = lexicon()
        out = []
        if note.mode == LOWER:
            return self._lower_case(note)
        for m in P.FACILITY.finditer(v):
            s, e = _strip(v, *_span(m))
            words = [w.strip(".,'’").lower() for w in v[s:e].split()]
            # "The Patient Center"? need at least one word that is not generic
            lead = words[0]
            if len(words) < 2 or all(w in _GENERIC_FACILITY or w in L.clinical for w in words):
                continue
            if all(w in L.clinical or w in L.english_common or w in ("of", "the", "and", "&") for w in words) and not re.search(
                r"\b(?:Hospital|Clinic|Medical Center|Infirmary|Hospice|Nursing Home)\b", v[s:e]
            ):
                continue
            if lead in ("the", "a", "an", "our", "his", "her", "their") and s == m.start():
                s += len(v[s:e].split()[0]) + 1
            out.append(Entity(s, e, "FACILITY", 0.85))
        for m in _FACILITY_LOWER_HEAD.finditer(v):
            s, e = _strip(v, *_span(m))
            lead = v[s:e].split()[0].lower().strip(".,")
            if lead in L.clinical or lead in _NOT_PLACE_WORDS or _looks_like_month(lead):
                continue
            out.append(Entity(s, e, "FACILITY", 0.7))
        for m in _FACILITY_CAPS.finditer(note.text):
            lead = m.group(0).split()[0].lower()
            if lead not in L.clinical and lead not in L.english_common:
                out.append(Entity(m.start(), m.end(), "FACILITY", 0.75))
        for m in P.SAINT.finditer(v):
            s, e = _strip(v, *_span(m))
            out.append(Entity(s, e, "FACILITY", 0.8))
        if note.mode == "normal":
            for m in _FACILITY_HEAD_FIRST.finditer(v):
                words = m.group("n").split()
                # trim everyday/clinical words at the end ("Hospital Universitario La Paz Madrid" stays whole)
                while words and (words[-1].lower() in L.clinical or words[-1].lower() in _GENERIC_FACILITY or words[-1].lower() in _STOP_AFTER_NAME):
                    words.pop()
                if not words or all(w.lower() in L.clinical or w.lower() in _GENERIC_FACILITY or w.lower() in L.english_top for w in words if w[:1].isupper()):
                    continue
                e = m.start("n") + len(" ".join(words)) if " ".join(words) == m.group("n")[: len(" ".join(words))] else m.end("n")
                out.append(Entity(m.start(), e, "FACILITY", 0.7))
        # a capitalised phrase right after "admitted to", "seen at", "transferred from" is a place
        for m in _CAP_PHRASE.finditer(v):
            before = v[max(0, m.start() - 30) : m.start()]
            if not P.FACILITY_CONTEXT.search(before):
                continue
            s, e = _strip(v, *_span(m))
            words = [w.strip(".,'’").lower() for w in v[s:e].split()]
            lead_clinical = words and words[0] in L.clinical and not (len(words) > 1 and words[1] not in L.clinical and words[1] not in L.english_common)
            if not words or words[0] in _NOT_PLACE_WORDS or lead_clinical or all(
                w in L.clinical or w in _NOT_PLACE_WORDS or w in ("of", "the", "and", "&") for w in words
            ):
                continue
            if _looks_like_month(words[0]) or re.fullmatch(r"[A-Z]{1,2}", v[s:e]):
                continue  # "on March", "at A"
            if note.mode == UPPER and len(words) == 1:
                continue
            if all(w in _GENERIC_FACILITY or w in L.clinical for w in words):
                continue
            out.append(Entity(s, e, "FACILITY", 0.6))
        return out


_FACILITY_LOWER = re.compile(
    r"\b((?:(?:st\.?|saint|mt\.?|mount)\s+)?(?:[a-z][\w'’&.-]*\s+){1,3}(?:hospital|medical center|health center|clinic|infirmary|"
    r"hospice|nursing home|rehabilitation center|rehab center|care center|surgery center|urgent care|cancer center|"
    r"pharmacy|medical group|health system|memorial hospital|regional medical center|elementary school|high school|school))\b"
)


_FACILITY_CAPS = re.compile(
    r"\b(?:[A-Z][A-Z'’&.-]{2,}\s+){1,4}(?:GENERAL\s+)?(?:HOSPITAL|MEDICAL\s+CENTER|CLINIC|HEALTH\s+CENTER|EMERGENCY\s+DEP(?:ARTMEN)?T|"
    r"INFIRMARY|NURSING\s+HOME|REHAB(?:ILITATION)?\s+CENTER|HOSPICE|MEMORIAL)\b"
)


def _lower_facilities(note: Note) -> list[Entity]:
    L = lexicon()
    out = []
    v = note.view
    for m in _FACILITY_LOWER.finditer(v):
        s, e = m.span(1)
        words = v[s:e].split()
        # drop leading words that are not part of a name ("seen at", "from the", "new-onset")
        while words and (words[0].lower().strip(".,") in L.english_common or words[0].lower() in L.clinical) and words[0].lower() not in ("st.", "st", "saint", "mt.", "mount"):
            # a place word before a name no list knows starts the name ("south marybury general hospital")
            if words[0].lower() in _PLACE_WORDS and len(words) > 2 and _unknown_word(words[1].lower(), L):
                break
            s += len(words[0]) + 1
            words = words[1:]
        if len(words) >= 2:
            out.append(Entity(s, e, "FACILITY", 0.6))
    return out


def _looks_like_month(w: str) -> bool:
    return bool(re.fullmatch(rf"(?:{P.MONTHS_FULL.lower()}|{P.MONTHS_ABBR.lower()})\.?", w))


# ----------------------------------------------------------------------------------------------------------
# Names
# ----------------------------------------------------------------------------------------------------------

_TITLE_RX = re.compile(rf"\b{P.TITLE}\.?\s+(?P<n>{P.NAME_TOKEN}(?:\s+{P.NAME_TOKEN}){{0,3}})")
_TITLE_RX_CI = re.compile(rf"\b{P.TITLE}\.?\s+(?P<n>{P.NAME_TOKEN_CI}(?:\s+{P.NAME_TOKEN_CI}){{0,2}})", re.IGNORECASE)
_CRED_RX = re.compile(rf"(?P<n>{P.NAME_TOKEN}(?:\s+{P.NAME_TOKEN}){{0,3}}),?\s+(?:{P.CREDENTIAL})\b")
_CRED_RX_CI = re.compile(rf"(?P<n>{P.NAME_TOKEN_CI}(?:\s+{P.NAME_TOKEN_CI}){{0,2}}),\s+(?:{P.CREDENTIAL})\b", re.IGNORECASE)
# a lookahead, so overlapping triggers all fire ("brought in by her grandson Piotr", "accompanied by wife gloria")
_TRIGGER_RX = re.compile(rf"\b(?=(?:{P.NAME_TRIGGERS})\b[\s:,-]*(?:(?:is|was|named|name|called|of|by|to)\s+)?(?P<n>[A-Za-zÀ-ÖØ-öø-ÿ][\wÀ-ÖØ-öø-ÿ'’.-]*(?:\s+[A-Za-zÀ-ÖØ-öø-ÿ][\wÀ-ÖØ-öø-ÿ'’.-]*){{0,3}}))", re.IGNORECASE)
_PAIR_RX = re.compile(r"\b(?P<f>[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’]+(?:-[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?)\s+(?:(?P<mi>[A-Z])\.?\s+)?(?P<l>[A-ZÀ-ÖØ-Þ][a-zA-Zß-öø-ÿ'’]+(?:-[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?|[A-Z]\.(?!\w)|[A-Z](?=\s+[a-z]))(?![\w'’])")
_LAST_FIRST_RX = re.compile(r"\b(?P<l>[A-Z][a-zA-Z'’-]+),\s+(?P<f>[A-Z][a-z]+)(?:\s+(?P<mi>[A-Z])\.?)?\b")
_LAST_FIRST_CAPS = re.compile(r"\b(?P<l>[A-Z]{2,}(?:[-'][A-Z]+)?),\s*(?P<f>[A-Z]{2,}(?:-[A-Z]{2,})?)(?:\s+[A-Z]\b\.?)?")
_LAST_INITIAL_RX = re.compile(r"\b([A-Z][a-z]{2,})\s+[A-Z]\.(?=[\s,;)]|$)")
_INITIALS_RX = re.compile(r"\b(?:pt|patient|mr|mrs|ms|dr|initials)\.?:?\s+(?P<n>[A-Z]\.\s?[A-Z]\.(?:\s?[A-Z]\.)?|[A-Z]{2,3})(?![\w])", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][\wÀ-ÖØ-öø-ÿ'’-]*\.?")
_NAME_SUFFIX = re.compile(r",?\s+(?:Jr|Sr|II|III|IV|jr|sr)\b\.?")
_STOP_AFTER_NAME = frozenset(
    ["and", "or", "but", "with", "was", "is", "has", "had", "have", "who", "which", "that", "the", "a", "an", "in", "on", "at", "to", "for", "of", "from", "by", "as", "this", "he", "she", "they", "his", "her", "their", "pt", "patient", "reports", "states", "said", "denies", "presents", "presented", "admitted", "came", "called", "will", "may", "can", "would", "should", "could", "did", "does", "says", "told", "went", "seen", "saw", "also", "then", "now", "still", "just", "not"]
)


def _is_name_word(w: str, *, strict: bool, continuation: bool = False) -> bool:
    """Could ``w`` be part of a person's name? strict=True demands a gazetteer hit; continuation=True means
    it follows a name word ("Michael Brown", "Jane Doe"), where any known surname is accepted."""
    L = lexicon()
    lw = w.lower().strip(".'’").removesuffix("'s").removesuffix("’s")
    if len(lw) == 1:
        return w[0].isupper()
    if lw in _STOP_AFTER_NAME or lw in _NOT_PLACE_WORDS or _looks_like_month(lw):
        return False
    if continuation and w[:1].isupper() and not w.isupper():
        if lw in EPONYMS:
            return True  # "Dr. Parkinson": the caller still rejects "Parkinson disease"
        if lw in L.clinical and lw not in L.surnames and not (len(lw) <= 4 and w[1:].islower()):
            return False  # "Doe" after "Jane" is a surname even though DOE is dyspnea on exertion
        return (
            lw in L.first_names
            or lw in L.common_surnames
            or (lw in L.surnames and lw not in L.english_top)  # "Michael Brown", "Dr. Ward", "Michael York"
            or lw not in L.english_common
        )
    if lw in L.clinical:
        return False
    if lw in L.first_names or lw in L.common_surnames:
        return True
    # an everyday word ("seen", "aware", "today") ends a name unless the gazetteers know it as a name
    if lw in L.english_vocab:
        return False
    return lw in L.surnames if strict else True


def _relative_name(a: int, first: str, v: str, L) -> Entity:
    """The name right after a relative cue: its first word, plus the next word when that is a surname."""
    b = a + len(first.rstrip(".,;:'’"))
    nxt = re.match(r" ([^\W\d_]{2,})\b", v[b:])
    if nxt and (_unknown_word(nxt.group(1).lower(), L) or nxt.group(1).lower() in L.common_surnames):
        b += nxt.end()
    return Entity(a, b, "NAME", 0.7)



def _eponym_use(v: str, s: int, e: int) -> bool:
    """'Parkinson disease', "Parkinson's", 'Foley catheter', 'Bell's palsy': an eponym, not a person."""
    word = v[s:e].lower().strip(".'’")
    base = word.removesuffix("'s").removesuffix("’s")
    if base not in EPONYMS:
        return False
    after = v[e : e + 30].lower()
    m = re.match(r"(?:['’]s)?\s*(?:[a-z-]+\s+)?([a-z]+)", after)
    if base in STRONG_EPONYMS and (word.endswith(("'s", "’s")) or after.startswith(("'s", "’s"))):
        return True
    return bool(m and (m.group(1) in EPONYM_HEADS or after.lstrip().split(" ")[0].strip(".,") in EPONYM_HEADS))


class ClinicalNameRecognizer(ClinicalRecognizer):
    """Person names: titles, credentials, trigger words, first-name + surname pairs, initials, all-caps and
    lower-case notes.  spaCy PERSON entities are added by :class:`ClinicalSpacyNerRecognizer`."""

    NAME = "clinical_names"
    ENTITIES = ("NAME",)

    def find(self, note: Note) -> list[Entity]:
        v = note.view
        L = lexicon()
        out: list[Entity] = []
        lower = note.mode == LOWER

        def add_tokens(s: int, text: str, score: float, strict_first: bool = False, after_title: bool = False):
            """Add the longest run of name-like words from the start of ``text``."""
            end = s
            n = 0
            prev = ""
            for m in _WORD.finditer(text):
                if m.start() > 0 and text[end - s : m.start()].strip(" ") not in ("",):
                    break  # something other than spaces between the words
                w = m.group(0)
                cont = (n > 0 or after_title) and not lower
                if not _is_name_word(w, strict=(strict_first or lower) and not (after_title and n == 0), continuation=cont) and not (
                    cont and n > 0 and _surname_after_first(prev, w, L)
                ):
                    break
                prev = w
                if lower and n == 0 and not after_title and w.lower() in AMBIGUOUS_NAME_WORDS:
                    break
                if not lower and not w[0].isupper():
                    break
                end = s + m.end()
                n += 1
                if n >= 4:
                    break
            if n:
                suf = _NAME_SUFFIX.match(v, end)
                if suf:
                    end = suf.end()
                a, b = _strip(v, s, end)
                if b > a and not _eponym_use(v, a, b):
                    out.append(Entity(a, b, "NAME", score))

        for m in (_TITLE_RX_CI if note.mode != "normal" else _TITLE_RX).finditer(v):
            # "Ms" the condition in a caps note: "MS AND HTN" has no name after it
            before = len(out)
            add_tokens(m.start("n"), m.group("n"), 0.9, after_title=True)
            if len(out) == before:
                # after "Dr."/"Mrs." a surname that is also an English word is still a surname ("Dr. Short",
                # "Mrs. House", "mr. welch"); without case cues the surname list must know it
                fw = re.match(r"[^\W\d_](?:[^\W\d_]|['’](?=[^\W\d_]{2}))+", m.group("n"))
                title = v[m.start() : m.start("n")].strip(" .").lower()
                lw = fw.group(0).lower() if fw else ""
                if (
                    fw
                    and title in ("dr", "mr", "mrs", "ms", "miss", "mx", "prof")
                    and lw not in _STOP_AFTER_NAME
                    and lw not in _NOT_PLACE_WORDS
                    and not _looks_like_month(lw)
                    and (lw.replace("'", "").replace("’", "") in L.surnames or "'" in lw if note.mode != "normal" else fw.group(0)[1:].islower() and lw not in L.clinical)
                ):
                    out.append(Entity(m.start("n"), m.start("n") + fw.end(), "NAME", 0.8))
            if len(out) > before and out[-1].start == m.start("n"):
                # the title goes with the name ("Dr. Patel" is one mention); surrogates keep the title word
                out[-1] = Entity(m.start(), out[-1].end, "NAME", out[-1].score)
        for m in (_CRED_RX_CI if note.mode != "normal" else _CRED_RX).finditer(v):
            txt = m.group("n")
            # keep only the trailing name words ("Seen by John Smith, RN" -> "John Smith")
            words = txt.split()
            keep = []
            if note.mode == "normal":
                for w in reversed(words):
                    if _is_name_word(w, strict=False, continuation=True) and w[0].isupper():
                        keep.insert(0, w)
                    else:
                        break
            else:
                # no case cues: a known first name, then known surnames / name-like words
                for i, w in enumerate(words):
                    lw = w.lower().strip(".")
                    if lw in L.first_names and lw not in L.clinical and lw not in _STOP_AFTER_NAME:
                        rest = words[i + 1 :]
                        if all(x.lower().strip(".") in L.surnames or len(x.strip(".")) == 1 for x in rest):
                            keep = words[i:]
                            break
            if keep:
                s = m.start("n") + txt.rfind(" ".join(keep))
                if note.mode == "normal":
                    add_tokens(s, " ".join(keep), 0.85)
                else:
                    # "derrick banks, rn": a known first name, then surnames, then a credential is a signature,
                    # even when a surname is also an everyday word ("banks", "white")
                    out.append(Entity(*_strip(v, s, s + len(" ".join(keep))), "NAME", 0.85))
        for m in _TRIGGER_RX.finditer(v):
            trig = v[m.start() : m.start("n")].lower()
            if not m.group("n"):
                continue
            txt = m.group("n")
            first = txt.split()[0]
            weak = bool(re.match(r"(?:per|by|to|cc|call|called|contact|pt|patient|name(?!\s+(?:is|was))|np|rn|md|provider|physician|nurse|doctor|consult|hi|hello|dear|thanks|thank you|this is|with)\b", trig))
            cap = first[0].isupper()
            if not weak and cap and not lower and note.mode != UPPER and first.lower() in AMBIGUOUS_NAME_WORDS:
                add_tokens(m.start("n"), txt, 0.75, after_title=True)  # "Mother April", "wife Grace"
            elif lower or note.mode == UPPER or weak or not cap:
                # lower-case names, weak triggers and caps notes need the gazetteer, except that a word no
                # English list knows, right after a relative ("DAUGHTER OLUWASEUN", "wife jolanta"), is a name
                fw = first.lower().strip(".,;:'’")
                if not weak and (lower or note.mode == UPPER) and _RELATIVE_TRIGGER.match(trig) and _unknown_word(fw, L):
                    out.append(_relative_name(m.start("n"), first, v, L))
                    continue
                if first.lower().strip(".") not in L.first_names and first.lower().strip(".") not in L.surnames:
                    continue
                if not cap and not lower:
                    continue
                if first.lower() in AMBIGUOUS_NAME_WORDS:
                    # "son dale", "wife gale": right after a relative, a first name that is no frequent English
                    # word is the relative's name ("wife will call", "daughter may visit" stay verbs)
                    fw = first.lower().strip(".,;:'’")
                    if lower and not weak and _RELATIVE_TRIGGER.match(trig) and fw in L.first_names and fw not in L.english_top:
                        out.append(_relative_name(m.start("n"), first, v, L))
                    continue
                add_tokens(m.start("n"), txt, 0.75, strict_first=True)
            else:
                before = len(out)
                add_tokens(m.start("n"), txt, 0.8)
                fw = first.rstrip(".,;:'’")
                lw = fw.lower()
                if len(out) == before and _RELATIVE_TRIGGER.match(trig) and fw[1:].islower() and len(fw) > 2 and (
                    lw not in L.english_common and lw not in L.clinical and not _looks_like_month(lw)
                ):
                    out.append(Entity(m.start("n"), m.start("n") + len(fw), "NAME", 0.7))  # "my kid Lukas"
        pair_rx = re.compile(r"\b(?=(?P<all>(?P<f>[a-z]+)\s+(?:(?P<mi>[a-z])\.?\s+)?(?P<l>[a-z]+(?:['’][a-z]{2,})?)\b))") if lower else _PAIR_RX
        for m in pair_rx.finditer(v):
            f, l_ = m.group("f"), m.group("l")
            fl, ll = f.lower(), l_.lower().strip(".").replace("'", "").replace("’", "")
            if fl not in L.first_names and not ("-" in fl and all(x in L.first_names for x in fl.split("-"))):
                continue
            if fl in L.clinical:
                continue
            if lower or note.mode == UPPER:
                # without case cues both halves must be known names and the first not a common word
                if ll not in L.surnames or fl in AMBIGUOUS_NAME_WORDS or fl in L.english_common and fl not in L.common_first:
                    continue
                if ll in L.english_common and ll not in L.first_names:
                    continue
            else:
                if fl in AMBIGUOUS_NAME_WORDS and ll not in L.surnames:
                    continue
                # after a known first name any known surname counts ("Sarah White", "Thomas Green")
                if not (ll in L.surnames and ll not in _STOP_AFTER_NAME and l_[1:2].islower()) and not _is_name_word(
                    l_, strict=False, continuation=True
                ):
                    continue
            s, e = _strip(v, m.start("f"), m.end("l") if not lower else m.end("all"))
            if not _eponym_use(v, m.start("l"), m.end("l")):
                out.append(Entity(s, e, "NAME", 0.8))
        if lower:
            for m in re.finditer(r"\b(?:patient|pt|name|re)\s*:\s*(?P<l>[a-z][a-z'’-]+),\s*(?P<f>[a-z]+)\b", v):
                out.append(Entity(m.start("l"), m.end("f"), "NAME", 0.8))
        if not lower:
            for m in _LAST_FIRST_CAPS.finditer(note.text):
                ll, fl = m.group("l").lower(), m.group("f").lower()
                if (fl in L.first_names or ll in L.surnames) and fl not in L.clinical and ll not in L.clinical:
                    out.append(Entity(*_strip(v, m.start(), m.end()), "NAME", 0.8))
            for m in _LAST_INITIAL_RX.finditer(v):
                if m.group(1).lower() in L.common_surnames and m.group(1).lower() not in L.clinical:
                    out.append(Entity(m.start(), m.end(), "NAME", 0.65))  # "Smith J."
            for m in _LAST_FIRST_RX.finditer(v):
                fl, ll = m.group("f").lower(), m.group("l").lower()
                if fl in L.clinical or ll in L.clinical or ll in L.english_common and ll not in L.surnames:
                    continue
                labelled = bool(re.search(r"(?i)\b(?:patient|pt|name|re|attn)\s*:?\s*$", v[max(0, m.start() - 12) : m.start()]))
                if labelled or (fl in L.first_names and ll in L.surnames):
                    out.append(Entity(*_strip(v, m.start(), m.end()), "NAME", 0.8))
            for m in _INITIALS_RX.finditer(v):
                n = m.group("n")
                if n.isupper() and n.lower() not in L.clinical and n not in ("MS", "HTN", "CHF", "DM", "ED", "OR"):
                    out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.6))
            # a first name on its own: a frequent one capitalised mid-sentence ("told Jennifer"), or anywhere
            # one that is no English word ("Deshawn c/o pain", "(Patrice, ext 4421)")
            if note.mode != UPPER:
                for m in re.finditer(r"\b[A-Z][a-z]{2,}\b", v):
                    w = m.group(0).lower()
                    if w not in L.first_names or w in L.clinical or w in AMBIGUOUS_NAME_WORDS:
                        continue
                    mid = m.start() >= 2 and re.match(r"[a-z,;] ", v[m.start() - 2 : m.start()])
                    if ((mid and w in L.common_first) or w not in L.english_vocab) and not _eponym_use(v, m.start(), m.end()):
                        out.append(Entity(m.start(), m.end(), "NAME", 0.6))
        if note.mode == "normal":
            out += _name_shapes(v, L)
        out += _name_cues(v, note.mode, L)
        out += _bare_lists(v, note.mode, L)
        if note.mode == "normal":
            out += _name_lists(v, out, L)
        if lower:
            out += _lower_role_names(v, L)
        out += _initial_surnames(v, note.mode, L)
        out += _dictation_initials(note.text)
        return out


_SENT_VERB = re.compile(
    r"\s+(?:is|was|has|had|lives|lived|says|said|reports|reported|states|stated|denies|denied|will|would|can|"
    r"could|works|worked|came|comes|went|goes|called|calls|presents|presented|agrees|agreed|prefers|wants|"
    r"feels|felt|notes|noted|tolerated|ambulated|refused|declined|asked|asks|c/o|complains)\b"
)
_UNI_NAME_WORD = re.compile(r"\b[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*\b")


_RELATIVE_TRIGGER = re.compile(
    r"(?:(?:son|daughter|mother|father|brother|sister)-in-law|step(?:son|daughter|mother|father|mom|dad)|dtr|son|sons|daughter|daughters|wife|husband|mother|mom|father|dad|brother|sister|spouse|partner|friend|neighbou?r|"
    r"caregiver|guardian|grandson|granddaughter|grandmother|grandfather|niece|nephew|aunt|uncle|cousin|fianc[eé]e?|"
    r"boyfriend|girlfriend|roommate|named|kid|child)\b"
)


_LOWER_ROLE = re.compile(
    r"\b(?:pt|patient|name|rn|lpn|cna|np|pa|md|rd|dr|ot|pt|slp|sw|worker|aide|nurse|chaplain|interpreter|coordinator|"
    r"counselor|therapist|pharmacist|tech|attending|resident|fellow|hospitalist|man|woman|boy|girl)\b[:,]?\s+"
    r"(?P<n>[a-z][a-z'’]+(?:-[a-z]+)?(?:[ \t]+[a-z][a-z'’]+(?:-[a-z]+)?){0,2})"
)


def _lower_name_shaped(w: str, L) -> bool:
    parts = [x for x in re.split(r"[-'’]", w) if x]
    return bool(parts) and all(
        (x in L.first_names or x in L.surnames) and x not in L.english_common or _unknown_word(x, L) and not CLINICAL_SHAPE.search(x)
        for x in parts
        if len(x) > 1
    )


def _lower_role_names(v: str, L) -> list[Entity]:
    """Lower-case notes: after a role word ("pt", "cna", "rd", "social worker", "52 yo man,") two or three
    name-shaped words ending in a surname the census knows or a word no list knows ("pt hyun-woo kang",
    "rd hope nguyen", "cna jean-baptiste")."""
    out = []
    for m in _LOWER_ROLE.finditer(v):
        spans = [(x.start(), x.end()) for x in re.finditer(r"\S+", m.group("n"))]
        words = [m.group("n")[a:b] for a, b in spans]
        keep = 0
        for i, w in enumerate(words):
            lw = w.lower()
            if lw in L.clinical or lw in _STOP_AFTER_NAME or _looks_like_month(lw):
                break
            if len(lw) <= 3 and lw not in L.first_names and lw not in L.surnames:
                break  # an abbreviation ("mrn", "dob", "hpi")
            if _lower_name_shaped(lw, L) or i < len(words) - 1 and lw in L.first_names:
                keep = i + 1
            else:
                break
        single = keep >= 1 and words[0].lower() in L.first_names and words[0].lower() not in L.english_common and words[0].lower() not in AMBIGUOUS_NAME_WORDS
        if single and keep == 1:
            out.append(Entity(m.start("n"), m.start("n") + spans[0][1], "NAME", 0.6))  # "social worker jenna"
            continue
        if keep >= 2 or keep == 1 and "-" in words[0] and _lower_name_shaped(words[0], L):
            a = m.start("n")
            b = a + spans[keep - 1][1]
            if _lower_name_shaped(words[keep - 1].lower(), L):
                out.append(Entity(a, b, "NAME", 0.65))
    return out


_CRED_CI = re.compile(rf"(?i:{P.CREDENTIAL})")
# "- t. oyelaran, rn", "R. Bhattacharya, CDRS", "d. mcallister rn": an initial, a surname, then a credential or the
# end of a signature line; or an initial and a census surname anywhere ("H. BROWN", "Dr. Y. Snow")
_INITIAL_SURNAME = re.compile(
    r"(?<![\w.])(?P<n>[A-Za-z]\.\s?(?P<s>[^\W\d_][^\W\d_'’]+(?:-[^\W\d_][^\W\d_'’]+)?))"
    r"(?P<t>,?[ \t]+\(?(?P<c>[A-Za-z][\w./-]{1,9})\b|[ \t]*$)?",
    re.MULTILINE,
)
_SIGNATURE_LEAD = re.compile(r"(?:^|[-–—~/]\s*|\n\s*)$")


def _initial_surnames(v: str, mode: str, L) -> list[Entity]:
    out = []
    for m in _INITIAL_SURNAME.finditer(v):
        sur = m.group("s")
        ls = sur.lower()
        if ls in L.clinical or ls in _STOP_AFTER_NAME and mode == "normal" or len(ls) < 2:
            continue
        if _looks_like_month(ls) and (mode == "normal" or re.match(r"\s*\d", v[m.end("s") : m.end("s") + 3])):
            continue
        if mode == "normal" and not sur[0].isupper():
            continue
        cred = m.group("c")
        signed = bool(cred and (_CRED_CI.fullmatch(cred.rstrip(".,")) or _CRED_CI.match(cred) and re.match(r"[A-Za-z.]+-", cred)))
        line = m.group("t") is not None and not cred and _SIGNATURE_LEAD.search(v, max(0, m.start() - 4), m.start()) is not None
        census = ls in L.surnames and ls not in L.english_top or ls in L.top_surnames
        if signed and (census or _unknown_word(ls, L)) or line and (census or _unknown_word(ls, L)) or census and mode != LOWER:
            out.append(Entity(m.start("n"), m.end("s"), "NAME", 0.7))
    return out


# transcription footer initials: "EM/ls", "JD:kw" (the dictating clinician's and the typist's)
_DICTATION = re.compile(r"(?m)(?:^|(?<=\s))(?P<a>[A-Z]{2,3})\s*[/:]\s*(?P<b>[a-z]{2,3})\s*$")


def _dictation_initials(text: str) -> list[Entity]:
    out = []
    for m in _DICTATION.finditer(text):
        if m.group("b") in ("hr", "min", "ml", "dl", "kg", "mg", "day", "wk", "mo", "yr", "sec", "cm", "mm", "l"):
            continue  # a unit ("IU/ml", "ML/hr")
        out.append(Entity(m.start("a"), m.end("a"), "NAME", 0.6))
        out.append(Entity(m.start("b"), m.end("b"), "NAME", 0.6))
    return out


_PARTICLE_NAME = re.compile(r"\s+(?:da|de|del|della|di|do|dos|du|van|von|der|den|ten|ter|le|la|Ní|Nic|Mac|bin|binti|ibn|al|el)(?:\s+(?:der|den|la|los|las))?\s+[A-ZÀ-ÖØ-Þ][^\W\d_'’-]+(?:-[A-ZÀ-ÖØ-Þ][^\W\d_'’]+)?")
_NEXT_CAP = re.compile(r"[ \t]([A-ZÀ-ÖØ-Þ][a-zà-ÿ'’]+(?:-[A-ZÀ-ÖØ-Þ][a-zà-ÿ'’]+)?)\b(?![:])")
_NICKNAME = re.compile(r"\s*,?\s*(?:\(\s*[\"“'‘]?(?P<p>[^\W\d_][^\W\d_'’.-]*(?:\s[^\W\d_][^\W\d_'’.-]*)?)[\"”'’]?\s*\)|[\"“](?P<q>[^\W\d_][^\W\d_'’.-]*)[\"”])")
_LOWER_NAME_LEFT = re.compile(r"([^\W\d_][^\W\d_'’-]+)\s+$")


def _name_tails(v: str, mode: str, ents: list[Entity], L) -> list[Entity]:
    """Complete names found elsewhere: a generational suffix ("Kevin Price Jr."), a nickname in brackets or
    quotes right after the name ("Margaret O'Brien ("Peggy")", "Wilhelmina Snow ("Billie")"), and in a
    lower-case note the name words before a surname no list knows ("pt grace wanjiru kimani")."""
    out = list(ents)
    for e in ents:
        if e.type != "NAME" or e.score < 0.5:
            continue
        end = e.end
        suf = _NAME_SUFFIX.match(v, end)
        if suf and not re.match(r"\s*(?:fluids?|access|line|push|drip|antibiotics?|abx)\b", v[suf.end() : suf.end() + 12], re.IGNORECASE):
            end = suf.end()
            out.append(Entity(e.start, end, "NAME", e.score))
        part = _PARTICLE_NAME.match(v, end)
        if part and mode != LOWER:
            end = part.end()
            out.append(Entity(e.start, end, "NAME", e.score))  # "Beatriz Lopes da Silva", "Siobhán Ní Bhriain"
        nxt = _NEXT_CAP.match(v, end) if mode == "normal" and " " in v[e.start : end].strip() else None
        if nxt:
            lw = nxt.group(1).lower()
            if lw not in L.clinical and lw not in _STOP_AFTER_NAME and (lw in L.surnames and lw not in L.english_top or _unknown_word(lw, L)) and not _eponym_use(v, nxt.start(1), nxt.end(1)):
                end = nxt.end(1)
                out.append(Entity(e.start, end, "NAME", min(e.score, 0.7)))  # "Marcus Antoine Bellamy"
        ini = re.match(r"\s*\(([A-Za-z]{2,4})\)", v[end : end + 10])
        if ini:
            initials = "".join(w[0] for w in re.findall(r"[^\W\d_]+", v[e.start : end]) if len(w) > 1 or True).lower()
            if ini.group(1).lower() in (initials, initials[:1] + initials[-1:]):
                out.append(Entity(end + ini.start(1), end + ini.end(1), "NAME", 0.65))  # "K. Brown (KB)"
        nick = _NICKNAME.match(v, end)
        if nick:
            g = "p" if nick.group("p") else "q"
            w = nick.group(g)
            lw = w.lower()
            quoted = nick.group(0).strip(" ,(")[:1] in "\"“'‘"
            if lw not in L.clinical and (quoted or lw in L.first_names or w[:1].isupper() and _unknown_word(lw, L)) and not (not quoted and re.fullmatch(r"[a-z]{1,2}", lw)):
                out.append(Entity(nick.start(g), nick.end(g), "NAME", 0.65))
    return out


def _surname_after_first(prev: str, w: str, L) -> bool:
    """After a known first name, a capitalised census surname is the surname even when it is also an everyday
    word ("Dwayne White", "Maria Banks"); clinical words and sentence words ("Maria Called") are not."""
    pl = prev.lower().strip(".'’")
    lw = w.lower().strip(".'’").removesuffix("'s").removesuffix("’s")
    if len(pl) == 1 and prev[:1].isupper() and w[:1].isupper() and lw in L.surnames and lw not in L.clinical:
        return True  # "Dr. Y. Snow", "Dr. A. May": after an initial the surname list decides
    return (
        pl in L.first_names
        and pl not in AMBIGUOUS_NAME_WORDS
        and w[:1].isupper()
        and w[1:2].islower()
        and lw in L.surnames
        and lw not in L.clinical
        and lw not in _STOP_AFTER_NAME
        and lw not in _NOT_PLACE_WORDS
        and lw not in L.english_top
        # the most frequent census surnames are names after a frequent first name, English words or not
        or pl in L.common_first
        and w[:1].isupper()
        and lw in L.top_surnames
        and lw not in L.clinical
        and lw not in _STOP_AFTER_NAME
        and lw not in _NOT_PLACE_WORDS
    )


def _unknown_word(w: str, L) -> bool:
    """A word of three or more letters that no English, clinical or month list knows (a name's shape)."""
    p = _plain(w)
    return (
        len(w) >= 3
        and w.replace("-", "").replace("'", "").isalpha()
        and w not in L.english_vocab
        and p not in L.english_vocab
        and w not in L.clinical
        and p not in EPONYMS
        and w not in L.states
        and not _looks_like_month(w)
    )


def _neighbour_name_word(w: str, L) -> bool:
    lw = w.lower()
    return lw not in L.english_common and lw not in L.clinical and lw not in _RELATION_WORDS and lw not in L.countries and lw not in L.states and not _looks_like_month(lw)


def _plain(w: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", w) if not unicodedata.combining(c)).lower()


def _name_shapes(v: str, L) -> list[Entity]:
    """Name-shaped words no word list knows: a first name opening a sentence before a verb ("Darren is"),
    words with non-English letters ("Šušulić"), and runs of two or three unknown capitalised words."""
    out = []
    words = [m for m in _UNI_NAME_WORD.finditer(v) if m.group(0)[0].isupper() and not m.group(0).isupper()]
    for i, m in enumerate(words):
        w = m.group(0)
        lw = w.lower()
        plain = _plain(w)
        if lw in L.clinical or plain in L.clinical or plain in EPONYMS or lw in AMBIGUOUS_NAME_WORDS:
            continue
        if "-" in plain and any(x in EPONYMS or x in L.clinical for x in plain.split("-")):
            continue
        if lw in L.first_names and _SENT_VERB.match(v, m.end()) and lw not in L.english_common:
            out.append(Entity(m.start(), m.end(), "NAME", 0.6))
            continue
        if len(lw) < 3 or lw in L.english_vocab or plain in L.english_vocab:
            continue
        if not w.isascii() and not w.isupper():
            # the capitalised words beside it are the rest of the name ("Miklós Hajdu", "Stefanía K. Oddgeirsdóttir")
            a, b = m.start(), m.end()
            right = re.match(r"(?:\s+[A-Z]\.?)?\s+([A-ZÀ-ÖØ-Þ][^\W\d_'’-]+(?:-[^\W\d_]+)?)", v[b:])
            if right and _neighbour_name_word(right.group(1), L):
                b += right.end()
            left = re.search(r"([A-ZÀ-ÖØ-Þ][^\W\d_'’-]+)(?:\s+[A-Z]\.?)?\s+$", v[max(0, a - 40) : a])
            if left and _neighbour_name_word(left.group(1), L):
                a = max(0, a - 40) + left.start()
            out.append(Entity(a, b, "NAME", 0.5))
            continue
        # two or three adjacent unknown capitalised words ("Tomomi Nishiyama", "Riku Andou")
        if i + 1 < len(words):
            n = words[i + 1]
            gap = v[m.end() : n.start()]
            nl = n.group(0).lower()
            if re.fullmatch(r" (?:[A-Z]\.? )?", gap) and nl not in L.english_vocab and nl not in L.clinical:
                out.append(Entity(m.start(), n.end(), "NAME", 0.5))
    return out


# "my name is X", "last name? X", "goes by X", "call me X": the cue alone makes the next word a name
_NAME_IS = re.compile(
    r"(?i:\b(?:my|his|her|their|your|last|first|maiden|middle|given|full|nick|sur|preferred)\s*name\s*(?:is|was|:|\?|=)"
    r"|\bgoes\s+by|\b(?:call|calls)\s+(?:me|him|her)|\bprefers\s+to\s+be\s+called|\bnamed\s+(?:him|her|it))"
    r"\s*(?P<n>[^\W\d_][^\W\d_'’-]+(?:\s+(?:[^\W\d_]\.?\s+)?[^\W\d_][^\W\d_'’-]+)?)"
)
# a speaker label opening a line or sentence: 'Nicole: Remember me?', 'Vsevolod: "Who are you?"'
_SPEAKER = re.compile(r"(?:^|(?<=[\n.!?\"”])\s*)(?P<n>[A-ZÀ-ÖØ-Þ][^\W\d_]{2,})\s*:\s*(?=[\"“A-Z])", re.MULTILINE)
# a capitalised word opening a sentence, then a verb: "Shovda is very reliable", "Alvir spent a year"
_SENT_START = re.compile(r"(?:^|(?<=[\n.!?\"”:]))\s*(?P<n>[A-ZÀ-ÖØ-Þ][^\W\d_'’-]{2,})(?=\s)", re.MULTILINE)
_START_VERB = re.compile(
    r"\s+(?:is|was|has|had|lives|lived|says|said|reports|reported|states|stated|denies|will|would|can|could|"
    r"works|worked|came|comes|went|spent|began|begins|shouted|gave|left|arrived|died|took|takes|brought|needs|"
    r"wants|wanted|called|presents|presented|agrees|agreed|prefers|feels|felt|notes|noted|refused|declined|"
    r"asked|asks|c/o|complains)\b"
)


# bare initials as the subject of a clinical sentence: "J.S. is a 67 yo M", "K.M., 45F, presents with"
_BARE_INITIALS = re.compile(
    r"(?:^|(?<=[\n:;])|(?<=[.!?]\s))\s*(?P<n>(?!U\.S\.|U\.K\.|A\.M\.|P\.M\.|D\.C\.)[A-Z]\.\s?[A-Z]\.(?:\s?[A-Z]\.)?)(?=(?i:\s+(?:is|was|has|had|presents|presented|"
    r"reports|states|denies|returns|arrived|comes|came|remains|\d{1,3}\s*(?:yo|y/o|y\.o\.|year))\b|,\s*(?:a\s+)?\d{1,3}\s*(?:yo|y/o|[MF]\b|year)))"
)


def _name_cues(v: str, mode: str, L) -> list[Entity]:
    """Single names that only the words around them reveal: a name cue, a speaker label, a sentence subject
    that no word list knows.  Word-list checks keep clinical headers ("Plan:", "Neuro:") and drugs out."""
    out = []
    for m in _NAME_IS.finditer(v):
        words = m.group("n").split()
        if words[0].lower() in L.english_common or words[0].lower() in L.clinical:
            continue
        keep = [words[0]]
        for w in words[1:]:
            lw = w.lower().strip(".")
            if len(lw) == 1 or (lw not in L.english_common and lw not in L.clinical):
                keep.append(w)
            else:
                break
        a = m.start("n")
        out.append(Entity(a, a + len(" ".join(keep)) if len(keep) == len(words) else v.index(keep[-1], a) + len(keep[-1]), "NAME", 0.7))
    for m in _BARE_INITIALS.finditer(v):
        out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.6))
    if mode != "normal":
        return out
    for m in _SPEAKER.finditer(v):
        w = m.group("n")
        lw = w.lower()
        if lw in L.clinical or lw in L.english_common or lw in AMBIGUOUS_NAME_WORDS:
            continue
        quote = v[m.end() : m.end() + 1] in "\"“"
        if lw in L.first_names or (not w.isascii() and lw not in L.english_vocab) or (quote and _unknown_word(lw, L)):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.6))
    for m in _SENT_START.finditer(v):
        w = m.group("n")
        lw = w.lower()
        if not _START_VERB.match(v, m.end("n")) or lw in AMBIGUOUS_NAME_WORDS:
            continue
        known = (lw in L.common_first or (lw in L.first_names or lw in L.common_surnames) and lw not in L.english_top) and lw not in L.clinical
        unknown = _unknown_word(lw, L) and not (CLINICAL_SHAPE.search(lw) and lw not in L.surnames)
        if known or unknown:
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.55))
    return out


_BARE_LIST = re.compile(
    r"(?P<l>(?:[^\W\d_][^\W\d_'’-]+,\s+){1,8}[^\W\d_][^\W\d_'’-]+,?\s+(?:and|&)\s+[^\W\d_][^\W\d_'’-]+)\b"
    r"|\b(?P<p>[A-ZÀ-ÖØ-Þ][^\W\d_'’-]+\s+(?:and|&)\s+[A-ZÀ-ÖØ-Þ][^\W\d_'’-]+)\b"
)


def _bare_lists(v: str, mode: str, L) -> list[Entity]:
    """A list of single words that are mostly known names is a list of people ("Efimiya, Mary, Ariana and Jodi",
    "founders: Monjeau, Graves and Reed", "silvana, adam, christopher and caleb"); its unknown members go too."""
    out = []
    for m in _BARE_LIST.finditer(v):
        items = [x for x in re.split(r",\s*|\s+(?:and|&)\s+", m.group(0)) if x]
        if mode == "normal" and not all(x[0].isupper() for x in items):
            continue
        lows = [x.lower() for x in items]
        if any(x in L.clinical or _plain(x) in EPONYMS and x not in L.surnames or _looks_like_month(x) or x in L.states for x in lows):
            continue
        named = [x in L.first_names or x in L.common_surnames for x in lows]
        foreign = [_unknown_word(x, L) for x in lows]
        everyday = [x in L.english_common and not n for x, n in zip(lows, named)]
        if any(everyday):
            continue
        if m.group("p"):
            # two capitalised words: both names or name-shaped, at least one a known name, neither an English word
            if not (any(named) and all(n or f for n, f in zip(named, foreign))) or any(x in L.english_vocab and x not in L.surnames for x in lows):
                continue
            if mode != "normal":
                continue
        else:
            if sum(named) < 2 or not all(n or f or x in L.surnames for n, f, x in zip(named, foreign, lows)):
                continue
            if mode == LOWER and sum(x in L.first_names for x in lows) < len(lows) - 1:
                continue
        pos = m.start()
        for x in items:
            a = v.index(x, pos)
            pos = a + len(x)
            out.append(Entity(a, pos, "NAME", 0.55))
    return out


_LIST_SEP = re.compile(r"(?:,\s*|\s+and\s+|\s*&\s*|\s+or\s+)")
_LIST_WORD = re.compile(r"[A-ZÀ-ÖØ-Þ][\wÀ-ÖØ-öø-ÿ'’-]+")


def _name_lists(v: str, found: list[Entity], L) -> list[Entity]:
    """Names in a list travel together: "founders: Monjeau, Graves and Reed"."""
    out = []
    for e in [x for x in found if x.type == "NAME" and x.score >= 0.5]:
        pos = e.end
        for _ in range(6):
            sep = _LIST_SEP.match(v, pos)
            if not sep:
                break
            w = _LIST_WORD.match(v, sep.end())
            if not w:
                break
            lw = w.group(0).lower()
            if lw in L.clinical or (lw in L.english_vocab and lw not in L.surnames and lw not in L.first_names):
                break
            out.append(Entity(w.start(), w.end(), "NAME", 0.55))
            pos = w.end()
    return out


_NER_MAP = {"PERSON": "NAME", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "FACILITY", "ORG": "FACILITY", "DATE": "DATE"}
_ORG_HINT = re.compile(r"(?i)\b(?:hospital|clinic|medical|health|healthcare|center|centre|memorial|infirmary|hospice|nursing|rehab|care|pharmacy|university|college|school|institute|st\.?|saint|mt\.?|mount|general|regional|community|county|valley|lake|river)\b")


_PERSON_CUE = re.compile(
    r"(?i)\b(?:son|daughter|wife|husband|mother|father|brother|sister|friend|partner|dr|mr|mrs|ms|nurse|pt|patient|named|"
    r"niece|nephew|grandson|granddaughter|aunt|uncle|neighbor|caregiver|with|by|per|called)\W*$"
)
_DEVICE_EPONYMS = frozenset(
    ["holter", "swan", "ganz", "swan-ganz", "doppler", "tenckhoff", "hickman", "mediport", "quinton", "permcath", "groshong", "jackson-pratt", "penrose", "blakemore", "minnesota", "sengstaken", "yankauer", "ambu", "bovie", "kelly", "cobb", "stryker", "hoyer", "heimlich"]
)
_GENERIC_FACILITY = frozenset(
    ["skilled", "nursing", "facility", "rehab", "rehabilitation", "assisted", "living", "long-term", "long", "term", "acute", "care", "home", "health", "physical", "therapy", "outpatient", "inpatient", "center", "unit", "hospital", "clinic", "medical", "the", "a", "of", "and", "emergency", "department", "intensive", "cardiac", "surgical", "step-down", "stepdown", "floor", "ward", "hospice", "dialysis", "infusion", "urgent", "primary"]
)


def _trim_person(v: str, s: int, e: int) -> tuple[int, int]:
    """Drop leading/trailing words spaCy swept into a PERSON ("Daughter Susan", "John Smith Seen")."""
    words = [(m.start() + s, m.end() + s) for m in re.finditer(r"\S+", v[s:e])]
    L = lexicon()

    def bad(a: int, b: int) -> bool:
        w = v[a:b].strip(".,:;'’").lower().removesuffix("'s")
        if len(w) <= 1:
            return False
        if w in L.first_names or w in L.common_surnames:
            return w in L.clinical or w in _STOP_AFTER_NAME or w in _RELATION_WORDS
        return w in L.clinical or w in L.english_common or w in _RELATION_WORDS or w in _STOP_AFTER_NAME

    while words and bad(*words[0]):
        words.pop(0)
    while words and bad(*words[-1]):
        words.pop()
    if not words:
        return s, s
    return words[0][0], words[-1][1]


_RELATION_WORDS = frozenset(
    ["pt", "patient", "dr", "mr", "mrs", "ms", "miss", "daughter", "son", "wife", "husband", "mother", "father", "mom", "dad", "brother", "sister", "spouse", "partner", "friend", "neighbor", "caregiver", "guardian", "niece", "nephew", "aunt", "uncle", "grandson", "granddaughter", "seen", "by", "per", "attending", "resident", "nurse", "rn", "md", "np", "pa", "called", "spoke", "with", "hx", "of"]
)


def note_ents(note: Note) -> list[tuple[int, int, str]]:
    """spaCy entities of a note as (start, end, label): precomputed by the engine, or from a whole-note doc."""
    if "ents" in note.extra:
        return note.extra["ents"]
    if note.doc is None:
        return []
    return [(e.start_char, e.end_char, e.label_) for e in note.doc.ents]


class ClinicalSpacyNerRecognizer(ClinicalRecognizer):
    """spaCy's statistical NER, filtered for clinical text (drug names, eponyms, abbreviations, states)."""

    NAME = "spacy_ner"
    ENTITIES = ("NAME", "LOCATION", "FACILITY", "DATE")

    def find(self, note: Note) -> list[Entity]:
        ents = note_ents(note)
        if not ents:
            return []
        if note.mode == LOWER:
            return self._lower_case_persons(note, ents)
        L = lexicon()
        v = note.view
        out = []
        for start, end, label in ents:
            type_ = _NER_MAP.get(label)
            if type_ is None:
                continue
            s, e = _strip(v, start, end)
            if e <= s:
                continue
            txt = v[s:e]
            words = [w.lower().strip(".,'’") for w in txt.split()]
            words = [w.removesuffix("'s").removesuffix("’s") for w in words]
            if all(w in L.clinical or w in _STOP_AFTER_NAME or not w for w in words):
                continue
            if re.fullmatch(r"[A-Z0-9/-]{1,5}", txt) and type_ != "DATE":
                continue  # abbreviations: CHF, ICU, MS, T2DM
            if type_ == "NAME":
                if _eponym_use(v, s, e) or any(_eponym_use(v, s + i, s + i + len(w)) for i, w in ((txt.find(x), x) for x in txt.split())):
                    continue
                if any(c.isdigit() for c in txt) or len(txt.strip(". ")) <= 2:
                    continue
                s, e = _trim_person(v, s, e)
                if e > s:
                    words = v[s:e].split()
                    lw0 = words[0].lower().strip(".,'’").removesuffix("'s")
                    plain = [_plain(w.strip(".,'’")) for w in words]
                    if any(x in EPONYMS or all(y in EPONYMS for y in x.split("-")) for x in plain):
                        continue  # "Ménière", "Guillain-Barré"
                    if len(words) > 1 and all(
                        (x in L.english_vocab or CLINICAL_SHAPE.search(x)) and x not in L.first_names and x not in L.common_surnames
                        for x in plain
                    ):
                        continue  # "Pulmonary Embolism"
                    if len(words) == 1 and not _PERSON_CUE.search(v, max(0, s - 25), s) and (
                        lw0 in EPONYMS
                        or lw0 in _DEVICE_EPONYMS
                        or (lw0 in L.english_vocab and lw0 not in L.first_names and lw0 not in L.common_surnames)
                        or (lw0 in AMBIGUOUS_NAME_WORDS and (s == 0 or v[max(0, s - 2) : s].strip() in ("", ".", ":")))
                    ):
                        continue  # "Addendum", "Holter", "Mark on the skin"
                    header_like = not _unknown_word(lw0, L) or len(lw0) <= 5 or bool(CLINICAL_SHAPE.search(lw0))
                    if len(words) == 1 and header_like and re.match(r"\s*:", v[e : e + 3]) and lw0 not in L.first_names and lw0 not in L.common_surnames and (
                        s == 0 or re.search(r"(?:^|[\n.;])\s*$", v[max(0, s - 4) : s])
                    ):
                        continue  # a section header the model read as a person ("Neuro:", "Psych:")
                    out.append(Entity(s, e, "NAME", 0.85))
            elif type_ == "LOCATION":
                low = txt.lower().removeprefix("the ")
                if low in L.states or low in L.countries or low in ("us", "usa"):
                    continue  # a state or country is not a Safe Harbor identifier
                out.append(Entity(s, e, "LOCATION", 0.75))
            elif type_ == "FACILITY":
                if label == "ORG" and not _ORG_HINT.search(txt):
                    continue
                if all(w in _GENERIC_FACILITY or w in L.clinical for w in words):
                    continue
                out.append(Entity(s, e, "FACILITY", 0.7))
            # spaCy DATE includes "today", "3 days", "2019": keep only those with a month or day element
            elif type_ == "DATE" and re.search(rf"(?i)\b(?:{P.MONTHS_FULL}|{P.MONTHS_ABBR})\b", txt) and re.search(r"\d", txt):
                out.append(Entity(s, e, "DATE", 0.7))
        return out


    def _lower_case_persons(self, note: Note, ents) -> list[Entity]:
        """spaCy NER is unreliable without capitals: keep only PERSON spans the name gazetteers confirm."""
        L = lexicon()
        out = []
        for start, end, label in ents:
            if label != "PERSON":
                continue
            words = [w.strip(".,'’") for w in note.view[start:end].split()]
            if words and all(w in L.first_names or w in L.surnames for w in words) and not any(
                w in L.clinical or w in L.english_common and w not in L.first_names for w in words
            ):
                out.append(Entity(start, end, "NAME", 0.7))
        return out


class ClinicalDenyListRecognizer(ClinicalRecognizer):
    """Site deny list: words always treated as PHI (``deny_list``; ``deny_by_type`` types them)."""

    NAME = "deny_list"
    ENTITIES = ("NAME", "FACILITY", "LOCATION", "ID")

    def __init__(self, settings=None):
        super().__init__(settings)
        items: list[tuple[str, str]] = []
        for w in getattr(settings, "deny_list", []) or []:
            items.append(("ID", w))
        for t, ws in (getattr(settings, "deny_by_type", {}) or {}).items():
            items += [(t, w) for w in ws]
        self._rx = [(t, re.compile(rf"(?<!\w){re.escape(w)}(?!\w)", re.IGNORECASE)) for t, w in items if w.strip()]

    def find(self, note: Note) -> list[Entity]:
        out = []
        for t, rx in self._rx:
            out += [Entity(m.start(), m.end(), t, 1.0) for m in rx.finditer(note.text)]
        return out


# The registry: recognizer name -> class.  Sites enable/disable by these names in appliance.toml.
REGISTRY: dict[str, type[ClinicalRecognizer]] = {
    cls.NAME: cls
    for cls in (
        ClinicalDateRecognizer,
        ClinicalAgeRecognizer,
        ClinicalPhoneFaxRecognizer,
        ClinicalEmailUrlIpRecognizer,
        ClinicalLabeledIdRecognizer,
        ClinicalCodeRecognizer,
        ClinicalAddressRecognizer,
        ClinicalFacilityRecognizer,
        ClinicalNameRecognizer,
        ClinicalSpacyNerRecognizer,
        ClinicalDenyListRecognizer,
    )
}


class ClinicalRuleFamilyRecognizer(ClinicalRecognizer):
    """General rule families (roles beside names, quoted nicknames, table cells, countries, chains, ranges):
    see :mod:`appliance.scrub.families`."""

    NAME = "rule_families"
    ENTITIES = ("NAME", "LOCATION", "FACILITY", "DATE", "PHONE", "ACCOUNT", "AGE")

    def find(self, note: Note) -> list[Entity]:
        from appliance.scrub.families import find_families

        return find_families(note)


REGISTRY[ClinicalRuleFamilyRecognizer.NAME] = ClinicalRuleFamilyRecognizer
