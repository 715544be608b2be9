"""General facility families: pharmacy, grocery and lab chains (and the street or city after them),
facility-type phrases ("adult day health"), letterheads, label-cued facilities ("Agency: …"), named practices.
"""

from __future__ import annotations

import re

from appliance.scrub.note import LOWER, NORMAL
from appliance.scrub.types import Entity
from appliance.scrub.words import (
    AFTER_ROLE_STOP,
    MODALS,
    ROLE_WORDS,
    first_words,
    match_at_words,
    plain,
    unknown_name_word,
)

_CHAINS = (
    r"cvs(?:\s*/\s*pharmacy|\s+pharmacy|\s+health)?|walgreens?|rite[\s-]?aid|stop\s*(?:&|and)\s*shop|walmart(?:\s+pharmacy)?|"
    r"wal-mart|kroger|costco(?:\s+pharmacy)?|safeway|publix|meijer|wegmans|albertsons|hannaford|market\s+basket|"
    r"duane\s+reade|giant\s+eagle|hy-?vee|winn-?dixie|sam'?s\s+club|shoprite|shop\s*rite|big\s+y|price\s+chopper|"
    r"h-?e-?b\s+pharmacy|osco(?:\s+pharmacy)?|jewel-?osco|fred\s+meyer|harris\s+teeter|food\s+lion|giant\s+food|"
    r"star\s+market|shaw'?s|express\s+scripts|optumrx|caremark|target\s+pharmacy|"
    # reference labs and urgent-care chains
    r"lab\s?corp|quest\s+diagnostics|city\s?md|minute\s?clinic|concentra|medexpress|gohealth|carbon\s+health"
)
_CHAIN_RX = re.compile(rf"(?i)(?<![\w'’-])(?:{_CHAINS})(?![\w'’-])")
_STREET_AFTER = re.compile(
    r"(?i)\s*(?:on\s+|at\s+)?(?P<s>(?:[^\W\d_][^\W\d_'’.-]+\s+){1,2}(?:st|street|ave|avenue|rd|road|blvd|boulevard|way|pkwy|parkway|hwy|highway|sq|square|pl|place|dr|drive|ln|lane|ct|court)\b\.?)"
)
_CITY_AFTER = re.compile(r"[ \t]+(?:in[ \t]+|on[ \t]+)?(?P<c>[^\W\d_][^\W\d_'’.-]+(?:[ \t][^\W\d_][^\W\d_'’.-]+){0,2})")
_ON_STREET = re.compile(r"(?i)\bon\s+(?P<s>(?:[a-z][a-z'’-]+\s+){1,2}(?:st|street|ave|avenue|rd|road|blvd|boulevard|pkwy|parkway|hwy|highway)\b)")

# a Title-case street name without a house number ("Superior Ave", "W. Main St") and numbered routes ("Route 9")
_TITLE_STREET = re.compile(
    r"(?<![\w'’-])(?:(?:[NSEW]\.?|North|South|East|West)\s+)?(?P<w>[A-Z][a-z'’]+(?:\s[A-Z][a-z'’]+)?)\s+"
    r"(?:St|Street|Ave|Avenue|Blvd|Boulevard|Rd|Road|Pkwy|Parkway|Hwy|Highway|Ln|Lane|Ter|Terrace)\b\.?(?![\w'’-])"
    r"|(?<![\w'’-])(?P<w2>Route|Rte|Highway|Hwy|Interstate)\s?\d{1,3}(?![\w/.-])"
)
_FAC_TYPES = (
    r"adult\s+day\s+health|adult\s+day\s+(?:care|program|center)|community\s+health\s+(?:services|center|centre)|"
    r"nursing\s+(?:&|and)\s+rehabilitation(?:\s+center)?|nursing\s+(?:&|and)\s+rehab|health\s+(?:&|and)\s+rehabilitation|"
    r"rehabilitation\s+(?:&|and)\s+nursing(?:\s+center)?|senior\s+center|elder\s+services|council\s+on\s+aging"
)
_FAC_TYPE_ONLY = re.compile(rf"(?i)(?:{_FAC_TYPES})\b")
_FAC_TYPE_FIRST = first_words(_FAC_TYPES)
_FAC_TYPE_WORD = re.compile(rf"(?i)(?:{_FAC_TYPES.replace(chr(92) + 's+', '|')})")
_LEAD_WORDS = re.compile(r"(?:[^\W\d_][^\W\d_'’-]+\s+){1,3}$")
_FOREIGN_FAC = re.compile(
    r"\b(?:Centre|Centro|Hôpital|Hopital|Clinique|Hospital|Klinik|Clínica|Clinica|Instituto|Institut)\s+(?:de\s+la|de|du|des|del|da|do|dos|für)\s+"
    r"[A-ZÀ-ÖØ-Þ][^\W\d_'’-]+(?:\s+(?:(?:de\s+la|de|du|des|del|da|do|la|le)\s+)?[A-ZÀ-ÖØ-Þ][^\W\d_'’-]+){0,3}"
)
_SAINT_POSS = re.compile(r"\bst\.?\s+[a-z]+['’]s\b(?:\s+(?:hospital|medical\s+center))?")
_FAC_LEAD_STOP = frozenset(["at", "in", "to", "from", "attends", "attend", "the", "a", "an", "and", "or", "with", "w", "of", "for", "by", "via", "per", "rn", "md", "np"])


def facilities(v: str, mode: str, L) -> list[Entity]:
    out = []
    for m in _CHAIN_RX.finditer(v):
        out.append(Entity(m.start(), m.end(), "FACILITY", 0.8))
        s = _STREET_AFTER.match(v, m.end())
        if s and not any(plain(w) in L.clinical for w in s.group("s").split()):
            out.append(Entity(s.start("s"), s.end("s"), "LOCATION", 0.7))
        c = _CITY_AFTER.match(v, m.end())
        if c:
            words = c.group("c").split()
            for k in range(len(words), 0, -1):
                cand = " ".join(words[:k])
                if plain(cand) in L.cities and (k > 1 or plain(cand) not in L.english_common):
                    out.append(Entity(c.start("c"), c.start("c") + len(cand), "LOCATION", 0.7))
                    break
    if mode == NORMAL:
        for m in _TITLE_STREET.finditer(v):
            w = plain(m.group("w") or "")
            if w not in L.clinical and w not in AFTER_ROLE_STOP:
                out.append(Entity(m.start(), m.end(), "LOCATION", 0.6))
    for m in _ON_STREET.finditer(v):
        words = m.group("s").split()[:-1]
        if all(plain(w) not in L.clinical and plain(w) not in AFTER_ROLE_STOP for w in words) and (mode != NORMAL or m.group("s").islower()):
            out.append(Entity(m.start("s"), m.end("s"), "LOCATION", 0.65))
    for t in match_at_words(v, _FAC_TYPE_ONLY, _FAC_TYPE_FIRST):
        lead = _LEAD_WORDS.search(v, max(0, t.start() - 60), t.start())
        if not lead:
            continue
        f = v[lead.start() : t.end()]
        words = [(x.start(), x.group(0)) for x in re.finditer(r"\S+", f)]
        while words and (plain(words[0][1]) in _FAC_LEAD_STOP | ROLE_WORDS | {"--"} or mode == NORMAL and not words[0][1][:1].isupper()):
            words.pop(0)
        names = [w for _, w in words if not _FAC_TYPE_WORD.fullmatch(w)]
        if not words or not names:
            continue
        out.append(Entity(lead.start() + words[0][0], t.end(), "FACILITY", 0.7))
    for m in _FOREIGN_FAC.finditer(v):
        out.append(Entity(m.start(), m.end(), "FACILITY", 0.75))
    if mode == LOWER:
        for m in _SAINT_POSS.finditer(v):
            out.append(Entity(m.start(), m.end(), "FACILITY", 0.65))
    return out


_LETTERHEAD = re.compile(r"\A\s*(?P<f>[A-Za-z][A-Za-z&'’.,\- ]{3,70}?)[ \t]*\n[ \t]*\d{1,6}[ \t]+(?:[NSEW]\.?[ \t]+)?[A-Z][a-z]")
_LABEL_FAC = re.compile(
    r"(?im)\b(?:agency|pharmacy|prenatal\s+care|pediatrics|pediatrician|home\s+health|hospice|snf|facility|from|to)[ \t]*:[ \t]*"
    r"(?P<f>[^\W\d_][^\n,;(|<]{2,60}?)(?=[ \t]*(?:[,;(|<\n]|[ \t]{2,}|[ \t]-[ \t]|$|\.(?:\s|$)))"
)
_FAC_TYPE_TAIL = re.compile(
    r"(?i)\b(?:home\s+health|visiting\s+nurses?|hospice|chiropractic|internal\s+medicine|family\s+medicine|family\s+practice|"
    r"pediatrics|neurology|cardiology|oncology|orthopa?edics|dermatology|urology|gastroenterology|associates|partners|"
    r"health|care|clinic|medical|hospital|center|centre|pharmacy|specialty|group|practice|physicians|rehab|imaging|labs?)\b"
)
_FAC_ABBR = re.compile(r"\b(?P<f>[A-Z][a-z]{3,}(?:\s[A-Z][a-z]{3,})?\s(?:CMC|MC|GH|UH|VAMC|SNF|LTACH|RMC|CH))\b")
_NAMED_FAC = re.compile(
    r"(?P<f>(?:[A-Z][\w'’.-]*[ \t]){1,3}(?:Home\s+Health|Visiting\s+Nurses?|Hospice|Chiropractic|Internal\s+Medicine|Family\s+Medicine|"
    r"(?:Health|Cardiology|Neurology|Oncology|Urology|Medical|Care)\s+(?:Associates|Partners)(?:,\s*P\.?C\.?)?|Associates,\s*P\.?C\.?))"
    r"(?:\s+of\s+(?P<p>[A-Z][a-z]+(?:\s[A-Z][a-z]+)?))?"
)

_STORE_CITY = re.compile(rf"(?i)\b(?:{_CHAINS})(?:\s+pharmacy)?\s*#\s*\d{{2,6}}[ \t]+(?P<c>(?-i:[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?))")
_STORE_NO = re.compile(rf"(?i)\b(?:{_CHAINS})(?:\s+(?:pharmacy|specialty))?(?P<n>\s*#\s*\d{{2,6}}|\s+(?:specialty|\d{{2,3}}-\d{{3,5}}))")


def _fac_words_ok(words: list[str], mode: str, L) -> bool:
    if not words or words[0].lower() in AFTER_ROLE_STOP or words[0].lower() in MODALS:
        return False
    if mode == NORMAL and not all(w[:1].isupper() or w.lower() in ("of", "and", "&", "the", "for", "at") for w in words):
        return False
    return not all(plain(w) in L.clinical for w in words)


def facility_cues(text: str, v: str, mode: str, L) -> list[Entity]:
    out = []
    m = _LETTERHEAD.match(text)
    if m and not re.search(r"(?i)\b(?:note|report|summary|letter|visit|consult(?:ation)?|record|form|request)\b", m.group("f")):
        f = m.group("f").rstrip(" ,")
        out.append(Entity(m.start("f"), m.start("f") + len(f), "FACILITY", 0.7))
    for m in _LABEL_FAC.finditer(v):
        f = m.group("f").strip()
        words = f.split()
        label = v[m.start() : m.start("f")].lower()
        if len(words) > 6 or not _fac_words_ok(words, mode, L):
            continue
        if label.startswith(("from", "to")) and not (
            _FAC_TYPE_TAIL.search(f) and any(not _FAC_TYPE_TAIL.fullmatch(w) and (plain(w) not in L.english_common or plain(w) in L.cities) for w in words)
        ):
            continue  # "From: <a person>", "To: <a date>", "To: Gastroenterology"
        if mode != NORMAL and not (_FAC_TYPE_TAIL.search(f) or _CHAIN_RX.search(f) or any(unknown_name_word(w, L) for w in words)):
            continue
        out.append(Entity(m.start("f"), m.start("f") + len(f), "FACILITY", 0.7))
    if mode == NORMAL:
        for m in _NAMED_FAC.finditer(v):
            words = [(x.start(), x.group(0)) for x in re.finditer(r"\S+", m.group("f"))]
            while words and words[0][1].lower() in _FAC_LEAD_STOP | {"our", "his", "her", "their", "from", "see", "called"}:
                words.pop(0)
            if words:
                out.append(Entity(m.start("f") + words[0][0], m.end(), "FACILITY", 0.7))
        for m in _FAC_ABBR.finditer(v):
            w = m.group("f").split()[0]
            if plain(w) not in L.english_top and plain(w) not in L.clinical:
                out.append(Entity(m.start("f"), m.end("f"), "FACILITY", 0.65))
    for m in _STORE_NO.finditer(v):
        out.append(Entity(m.start(), m.end(), "FACILITY", 0.75))
    for m in _STORE_CITY.finditer(v):
        c = m.group("c")
        if plain(c) in L.cities:
            out.append(Entity(m.start("c"), m.end("c"), "LOCATION", 0.7))
    return out
