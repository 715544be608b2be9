"""General rule families for names, places, facilities and dates that the cue-specific rules miss.

Each family is a shape plus a gazetteer test, never a list of strings from a note: a role noun ("rt", "case
mgmt", "sister") followed by a name-shaped word or a parenthesised name, a name before a credential in a
sign-off, a quoted nickname beside a name or after a naming cue, ``Last, First`` table cells, ``X, <country>``,
``in <gazetteer place>``, pharmacy chains, the second half of a date range, pager numbers and card numbers
that pass the Luhn check.  ``find_families(note)`` returns their entities; ``ClinicalRuleFamilyRecognizer``
(in :mod:`appliance.scrub.recognizers`) wraps it.
"""

from __future__ import annotations

import functools
import re

from appliance.scrub import patterns as P
from appliance.scrub.lexicon import EPONYMS, lexicon
from appliance.scrub.note import LOWER, NORMAL, UPPER, Note
from appliance.scrub.recognizers import _luhn, _plain
from appliance.scrub.types import Entity

# ----------------------------------------------------------------------------------------------------------
# Word classes
# ----------------------------------------------------------------------------------------------------------

_WORD_START = re.compile(r"(?<![^\W\d_])[^\W\d_]+")


@functools.lru_cache(maxsize=8)
def _words(v: str) -> tuple[tuple[int, str], ...]:
    """(offset, lower-case word) for every word of a text: big alternations are tried only where their first
    word stands, not at every position."""
    return tuple((m.start(), m.group(0).lower()) for m in _WORD_START.finditer(v))


def _first_words(alternation: str) -> frozenset[str]:
    return frozenset(re.split(r"\\s|\\b|\s|[^\w\s]", a.replace("\\.", ""))[0].lower() for a in alternation.split("|") if a)


def _at_words(v: str, rx: re.Pattern, firsts: frozenset[str]):
    """``rx.match`` at each word that can start it."""
    for pos, w in _words(v):
        if w in firsts:
            m = rx.match(v, pos)
            if m:
                yield m


RELATIVES = (
    "son|sons|daughter|daughters|dtr|wife|husband|mother|mom|father|dad|brother|sister|spouse|partner|friend|"
    "neighbor|neighbour|caregiver|guardian|grandson|granddaughter|grandmother|grandfather|grandma|grandpa|niece|"
    "nephew|aunt|uncle|cousin|fiance|fiancee|fiancé|boyfriend|girlfriend|roommate|kids|children|child|sibling|"
    "stepson|stepdaughter|stepmother|stepfather|hcp|proxy|poa|hcpoa|visitor|sponsor|fob|baby\\s+boy|baby\\s+girl"
)
STAFF_ROLES = (
    "rn|np|pa|md|rt|sw|cm|pct|pca|lpn|cna|crna|cnm|rd|slp|emt|"
    "case\\s+mgmt|case\\s+manager|case\\s+management|charge\\s+rn|charge\\s+nurse|wound\\s+rn|wound\\s+nurse|"
    "primary\\s+rn|primary\\s+nurse|triage\\s+rn|resource\\s+rn|nurse|nursing\\s+assistant|sitter|doula|midwife|"
    "interpreter|translator|chaplain|rabbi|imam|priest|pastor|security|security\\s+officer|officer|fellow|resident|"
    "intern|attending|hospitalist|diet\\s+office|dietitian|dietician|pharmacist|therapist|social\\s+worker|"
    "coordinator|liaison|navigator|counselor|counsellor|aide|tech|technician|transporter|scribe|student|"
    "secretary|unit\\s+secretary|clerk|registrar|surgeon|anesthesiologist|paramedic|advocate|volunteer|phlebotomist|phleb|"
    "technologist|sonographer|ultrasonographer|recovery\\s+coach|peer\\s+coach|peer\\s+specialist|cde|educator|"
    "diabetes\\s+educator|probation\\s+officer|parole\\s+officer|caller|iv\\s+team|picc\\s+team|witnessed\\s+by"
)
STAFF_ROLES = "|".join(sorted(STAFF_ROLES.split("|"), key=len, reverse=True))
RELATIVES = "|".join(sorted(RELATIVES.split("|"), key=len, reverse=True))
ROLE = rf"(?:{STAFF_ROLES}|{RELATIVES})"
_ROLE_FIRST = _first_words(f"{STAFF_ROLES}|{RELATIVES}")
_RELATIVE_WORDS = frozenset(RELATIVES.split("|"))
_ROLE_WORDS = frozenset(w for w in re.split(r"\||\\s\+", f"{STAFF_ROLES}|{RELATIVES}") if w)
_CRED_WORDS = frozenset(w.lower().replace(".", "") for w in P.CREDENTIAL.split("|")) | {"pct", "pca", "cm", "sw", "rt", "pgy", "lcsw"}
_MODALS = frozenset(["will", "may", "can", "shall", "must", "might", "would", "could", "should", "did", "does", "do"])
# what follows a role word when no name does: verbs of hand-off, place and time words, function words
_AFTER_ROLE_STOP = frozenset(
    ["aware", "notified", "paged", "called", "updated", "present", "here", "there", "note", "notes", "consulted", "consult",
     "assessment", "assessed", "eval", "evaluation", "at", "to", "on", "in", "is", "was", "were", "are", "be", "and", "or",
     "the", "a", "an", "of", "for", "with", "w", "by", "per", "from", "as", "bedside", "visit", "visited", "team", "service",
     "staff", "station", "report", "reports", "reported", "states", "stated", "says", "said", "who", "that", "this", "his",
     "her", "their", "him", "them", "she", "he", "they", "it", "also", "then", "now", "not", "no", "yes", "ok", "aware.",
     "following", "f/u", "follow", "followup", "re", "regarding", "about", "name", "number", "phone", "pager", "contact",
     "office", "unit", "floor", "shift", "coverage", "covering", "on-call", "night", "day", "days", "nights", "today",
     "tomorrow", "tonight", "yesterday", "am", "pm", "student", "students", "orders", "order", "plan", "informed",
     "spoke", "discussed", "reviewed", "agrees", "agreed", "declined", "requested", "request", "recommends", "recs",
     "ordered", "saw", "seen", "sees", "see", "help", "support", "signed", "sign", "signature", "cosign", "attestation",
     "involved", "needed", "needs", "need", "available", "unavailable", "please", "pls", "if", "when", "prn", "only",
     "again", "first", "second", "new", "old", "same", "other", "another", "all", "both", "each", "care", "meeting"]
)
# anatomy and laterality: what follows "rt" (right), "pa" (postero-anterior) and "lt" in a note
_ANATOMY = frozenset(
    ["arm", "arms", "leg", "legs", "knee", "knees", "foot", "feet", "hand", "hands", "eye", "eyes", "ear", "ears", "lung", "lungs",
     "hip", "hips", "shoulder", "side", "chest", "back", "ankle", "wrist", "elbow", "heel", "toe", "toes", "finger", "fingers",
     "thumb", "neck", "flank", "groin", "thigh", "calf", "shin", "breast", "kidney", "heart", "head", "face", "lower", "upper",
     "lateral", "lat", "ap", "view", "views", "base", "bases", "lobe", "radial", "femoral", "ij", "subclavian", "jugular", "axilla",
     "buttock", "forearm", "palm", "sole", "temple", "jaw", "lip", "cheek", "nare", "naris", "ventricle", "atrium", "pleural",
     "upper", "mid", "distal", "proximal", "anterior", "posterior", "medial", "and", "film", "films", "xray", "cxr", "neb", "nebs",
     "guard", "drew", "gave", "took", "held", "sent", "spoke", "came", "went", "left", "brought", "told", "found", "kept", "ran"]
)
_AMBIGUOUS_ROLES = frozenset(["rt", "pa", "cm", "md", "rd", "sw", "pt", "ot", "ma"])
_LANGUAGES = frozenset(
    ["spanish", "portuguese", "haitian", "creole", "hmong", "somali", "vietnamese", "cantonese", "mandarin", "chinese",
     "arabic", "russian", "french", "korean", "japanese", "polish", "italian", "greek", "hindi", "urdu", "punjabi",
     "bengali", "tagalog", "amharic", "tigrinya", "swahili", "farsi", "dari", "pashto", "nepali", "khmer", "lao",
     "karen", "burmese", "ukrainian", "albanian", "armenian", "turkish", "german", "hebrew", "yiddish", "asl", "cape",
     "verdean", "english", "oromo", "kinyarwanda", "twi", "yoruba", "igbo", "hausa", "wolof", "thai", "tamil", "telugu"]
)
_WEEKDAYS = frozenset(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mon", "tue", "tues", "wed", "thu", "thur",
     "thurs", "fri", "sat", "sun"]
)
_SPECIALTY = re.compile(r"(?i)(?:ology|ologist|iatry|iatrics|ics|surgery|medicine|icu|unit|service|team|floor|dept|department)$")
_MONTH_WORDS = frozenset(m.lower() for m in f"{P.MONTHS_FULL}|{P.MONTHS_ABBR}".split("|"))


def _unknown(w: str, L) -> bool:
    p = _plain(w)
    lw = w.lower()
    return (
        len(p) >= 3
        and p.replace("-", "").replace("'", "").replace("’", "").isalpha()
        and lw not in L.english_vocab
        and (p not in L.english_vocab or p != lw)
        and p not in L.clinical
        and p not in EPONYMS
        and p not in L.states
        and p not in _MONTH_WORDS
        and p not in _LANGUAGES
    )


def _name_word(w: str, L, *, loose: bool = False) -> bool:
    """A word that can be a name: in the name gazetteers or unknown to English word lists, and no function
    word, role, credential, clinical or language word.  ``loose`` also takes gazetteer words that are common
    English ("faith", "hunter") — only where a strong cue (a role noun, a quote) stands beside it."""
    parts = [x for x in re.split(r"[-'’]", _plain(w.strip(".,;:"))) if x]
    if not parts:
        return False
    lw = w.strip(".,;:").lower()
    if lw in _WEEKDAYS or lw in _MONTH_WORDS and not loose:
        return False
    if lw in _AFTER_ROLE_STOP or lw in _ANATOMY or lw in _MODALS or lw in _ROLE_WORDS or lw in _CRED_WORDS or lw in _LANGUAGES:
        return False
    if lw in L.clinical or lw in L.states or lw in L.countries:
        return False
    for x in parts:
        if len(x) == 1:
            continue
        if x in L.clinical or x in _LANGUAGES:
            return False
        gaz = x in L.first_names or x in L.surnames
        if _unknown(x, L):
            continue
        if not gaz:
            return False
        if x in L.english_top and x not in L.first_names:
            return False  # "her", "long"
        if not loose and x in L.english_common and x not in L.common_first:
            return False
    return True


def _initials(w: str) -> bool:
    return bool(re.fullmatch(r"(?:[A-Za-z]\.){1,3}|[A-Za-z]\.?", w))


# ----------------------------------------------------------------------------------------------------------
# Family 1: quoted names and nicknames
# ----------------------------------------------------------------------------------------------------------

_Q = "[\"“”]"
_QWORDS = r"[^\W\d_][^\W\d_'’.-]*(?: [^\W\d_][^\W\d_'’.-]*){0,2}"
_QUOTED_CUE = re.compile(
    rf"(?i)\b(?:(?:prefers?|likes?|wants?|asks?)\s+to\s+be\s+called|call(?:s|ed|ing)?\s+(?:out\s+)?for|goes\s+by|go\s+by|"
    rf"known\s+as|nicknamed?|a\.?k\.?a\.?|calls?\s+(?:him|her|them)(?:self)?|named)\s+{_Q}(?P<n>{_QWORDS}){_Q}"
)
_QUOTED_PAREN = re.compile(rf"\(\s*{_Q}(?P<n>{_QWORDS}){_Q}\s*(?=[,)]|\s+per\b)(?P<cue>\s+per\b|,\s*(?:states|says|per|calls|called)\b)?")
_NAME_TOK = r"[A-ZÀ-ÖØ-Þ][^\W\d_'’-]*(?:['’-][A-ZÀ-ÖØ-Þ]?[^\W\d_]+)*"
_FIRST_NICK_LAST = re.compile(rf"(?<![\w'’-])(?P<f>{_NAME_TOK}) {_Q}(?P<q>{_QWORDS}){_Q} (?P<l>{_NAME_TOK})(?![\w'’])")


def _quoted(v: str, L) -> list[Entity]:
    out = []
    for rx in (_QUOTED_CUE, _QUOTED_PAREN):
        for m in rx.finditer(v):
            words = m.group("n").split()
            named = [w for w in words if _name_word(w, L, loose=True) or _initials(w)]
            cue = rx is _QUOTED_CUE or m.group("cue")
            if len(named) == len(words) or cue and not any(_plain(w) in L.clinical or w.lower() in L.english_common for w in words):
                out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.75))
    for m in _FIRST_NICK_LAST.finditer(v):
        if _name_word(m["f"], L, loose=True) and _name_word(m["l"], L, loose=True):
            for g in ("f", "q", "l"):
                out.append(Entity(m.start(g), m.end(g), "NAME", 0.8))
    return out


# ----------------------------------------------------------------------------------------------------------
# Families 2 and 3: names beside a role noun
# ----------------------------------------------------------------------------------------------------------

_ITEM = r"[^\W\d_][^\W\d_'’.-]*(?:\s[^\W\d_][^\W\d_'’.-]*){0,2}"
_ROLE_PAREN = re.compile(rf"(?i)\b{ROLE}(?:['’]s)?(?:\s*\([^()]{{0,20}}\))?\s*\(\s*(?P<body>[^()\n]{{1,60}})\)")
_NAME_ROLE_PAREN = re.compile(rf"\(\s*(?P<n>{_ITEM})\s*,\s*(?:(?i:{STAFF_ROLES}|{P.CREDENTIAL})|#\s*\d+)\s*[,)]")
_ROLE_NEXT = re.compile(
    rf"(?i)(?<![\w/-])(?P<r>{ROLE})\b\s*(?:[:=]\s*|-\s+)?(?:(?:dr|mr|mrs|ms|miss)\b\.?\s+)?"
    rf"(?P<n>[^\W\d_][^\W\d_'’-]+(?:\.[^\W\d_]\.?)?)(?![/\w])(?:[ \t]+(?P<n2>[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*))?"
)
_TITLE_AMBIG = re.compile(r"(?i)\b(?:dr|doctor)\.?\s+(?P<n>may|will|june|march|august|hope|faith|summer|king|hill|rose|bill)\b(?=\s*(?:[.,;:)\n]|$|\s+(?:paged|called|notified|aware|at\b|saw\b|consulted)))")


_NAME_BEFORE_ROLE = re.compile(rf"(?<![\w'’-])(?P<n>[^\W\d_][^\W\d_'’-]+)\s*\(\s*(?i:{ROLE})\b(?!\s*\()")


def _cased_ok(w: str, mode: str) -> bool:
    """In a normally-cased note a name after a role is capitalised; lower and UPPER notes carry no case."""
    return mode != NORMAL or w[:1].isupper()


def _role_paren(v: str, mode: str, L) -> list[Entity]:
    out = []
    for m in _at_words(v, _ROLE_PAREN, _ROLE_FIRST):
        body = m.group("body")
        base = m.start("body")
        for im in re.finditer(r"[^,;]+", body):
            item = im.group(0)
            s = base + im.start() + (len(item) - len(item.lstrip()))
            item = item.strip()
            item_wo_and = re.sub(r"(?i)^(?:and|&)\s+", "", item)
            s += len(item) - len(item_wo_and)
            words = item_wo_and.split()
            if not words or len(words) > 3 or any(c.isdigit() for c in item_wo_and):
                continue
            if any(_SPECIALTY.search(w) for w in words):
                continue
            if all(_initials(w) or _name_word(w, L, loose=True) for w in words) and _cased_ok(words[0], mode if not _initials(words[0]) else LOWER):
                out.append(Entity(s, s + len(item_wo_and), "NAME", 0.7))
    for m in _NAME_ROLE_PAREN.finditer(v):
        words = m.group("n").split()
        if all(_initials(w) or _name_word(w, L, loose=True) for w in words) and _cased_ok(words[0], mode):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    return out


def _role_next(v: str, mode: str, L) -> list[Entity]:
    out = []
    for m in _at_words(v, _ROLE_NEXT, _ROLE_FIRST):
        w = m.group("n")
        lw = _plain(w).rstrip(".")
        after = v[m.end("n") : m.end("n") + 12]
        labelled = ":" in v[m.end("r") : m.start("n")]
        if "\n" in v[m.end("r") : m.start("n")] and m.group("r").lower() in _CRED_WORDS:
            continue  # a sign-off credential ends its line: "Rose Tan, RN\n\nHomebound status"
        if not _cased_ok(w, mode) or not labelled and re.search(r"\d\s*$", v[max(0, m.start() - 3) : m.start()]):
            continue
        if mode == NORMAL and re.fullmatch(r"[A-Z]{2}", w) and re.match(r"[.,;]|\s*$", after) and lw not in L.clinical and lw not in _CRED_WORDS:
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.65))  # "charge RN JS."
            continue
        if lw in _MONTH_WORDS and re.match(r"\s*\d", after):
            continue
        # a modal with no verb after it is a name ("sister may from providence", "son Will 617-...")
        w2 = m.group("n2")
        surname_next = bool(w2) and _unknown(w2, L) and _plain(w2) in L.surnames
        if lw in _MODALS and not (mode == NORMAL and w[:1].isupper()) and not surname_next and not re.match(r"\s*(?:[.,;)\n(]|$|\d|(?:from|in|at|is|was|and|who)\b)", after):
            continue
        if w.endswith("."):
            continue
        if lw not in _MODALS and not _name_word(w, L, loose=True) and not _bare_role_name(v, m, mode, L):
            continue
        if lw.endswith(("ed", "ing")) and lw in L.english_vocab and lw not in L.first_names and not (
            mode == NORMAL and lw in L.surnames and w2 and w2[:1].isupper() and _unknown(w2, L)
        ):
            continue
        if mode != NORMAL and lw not in _MODALS:
            # no capital to go by: a first name, a frequent surname that is no everyday word, or (after an
            # unambiguous role) a word no list knows; "rt"/"pa"/"cm" are also right, postero-anterior, centimetre
            strict = m.group("r").lower() in _AMBIGUOUS_ROLES
            # after a relative ("husband raj"), any name-list word that is no everyday English word
            kin = m.group("r").lower() in _RELATIVE_WORDS and (lw in L.surnames or lw in L.first_names) and lw not in L.english_common
            if not (kin or lw in L.first_names or lw in L.top_surnames and lw not in L.english_top or not strict and _unknown(w, L)):
                continue
        if mode == NORMAL and w.isupper() and len(w) <= 4 and lw not in L.first_names and lw not in L.surnames:
            continue  # an abbreviation ("RN ICU")
        e = m.end("n")
        parts2 = [x for x in re.split(r"[-'’]", _plain(w2 or "")) if len(x) > 1]
        if w2 and len(w2) > 1 and _cased_ok(w2, mode) and (lw in L.first_names or mode == NORMAL) and (
            _name_word(w2, L) and (_plain(w2) in L.surnames and (mode == NORMAL or w2.lower() not in L.english_vocab) or _unknown(w2, L))
            or lw in L.first_names and _plain(w2) in L.top_surnames and _plain(w2) not in L.clinical and re.match(r"\s*[(,]", v[m.end("n2") :])
            or len(parts2) > 1 and all(x in L.surnames or _unknown(x, L) for x in parts2)
        ):
            e = m.end("n2")
        out.append(Entity(m.start("n"), e, "NAME", 0.7))
    for m in _NAME_BEFORE_ROLE.finditer(v):
        w = m.group("n")
        if _cased_ok(w, mode) and _name_word(w, L, loose=True):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for m in _TITLE_AMBIG.finditer(v):
        out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.75))
    return out


# ----------------------------------------------------------------------------------------------------------
# Family 4: a name right before a credential; slash-separated names; transcriptionist initials
# ----------------------------------------------------------------------------------------------------------

_SIGN_CRED = rf"(?:{P.CREDENTIAL}|pct|pca|cm|rt|sw)"
_NAME_CRED = re.compile(
    rf"(?i)(?P<lead>^|(?<=[a-z0-9][.!?])(?=[ \t]+(?-i:[A-Z]))|--+|[—–~]|\n|\bby|\bw/|\bper|\bwith|[-•*]\s|(?<=[a-z]):)[ \t]*(?P<n>(?:[a-z]\.\s?)?[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)?(?:\s(?:[a-z]\.\s)?[^\W\d_][^\W\d_'’-]+(?:['’-][^\W\d_]+)?)?)"
    rf"(?:[ \t]+|,[ \t]*)(?-i:{_SIGN_CRED}|(?i:rn|pct|pca|md|np|lpn|cna))\b(?=\s*(?:[:,.;)]|$|\n|and\b|\s*/))",
    re.MULTILINE,
)
_CAP_CRED = re.compile(rf"(?<![\w'’-])(?P<n>{_NAME_TOK})\s+(?:PCT|PCA|RN|LPN|CNA|NP|RT|CM|SW)\b(?!-)")
_ANY_CRED = re.compile(_CAP_CRED.pattern, re.IGNORECASE)
_SLASH_NAME = re.compile(
    rf"(?i)\b(?:{P.TITLE}|{P.CREDENTIAL})\.?\s+(?:[^\W\d_]\.?\s+)?[^\W\d_][^\W\d_'’-]+\s*,?\s*(?:(?:{P.CREDENTIAL})\s*)?/\s*"
    rf"(?:(?:{STAFF_ROLES}|{P.TITLE})\.?\s+)?(?P<n>[^\W\d_][^\W\d_'’-]+)"
)
_SLASH_FIRST = _first_words(f"{P.TITLE.strip('(?:)')}|{P.CREDENTIAL}")
_CRED_SLASH = re.compile(rf"(?i),\s*(?:{P.CREDENTIAL})\s*/\s*(?P<n>[^\W\d_][^\W\d_'’-]+)(?=\s*,\s*(?:pgy|{P.CREDENTIAL})\b)")
_SIGNOFF_INITIAL = re.compile(r"(?m)(?:^|--+|[—–])[ \t]*(?P<n>[A-Z]\.[ \t]?[A-Z][a-z'’]+(?:-[A-Z][a-z'’]+)?),[ \t]*[A-Z]")
_TRANSCRIBED = re.compile(r"(?im)\b(?:transcribed|dictated|typed|tx|dt|td)\b[^\n]{0,40}?[ \t](?P<n>(?-i:[a-z]{2,4}))[ \t]*$")


def _name_cred(v: str, mode: str, L) -> list[Entity]:
    out = []
    for m in _NAME_CRED.finditer(v):
        words = m.group("n").split()
        lead = m.group("lead").strip().lower()
        sentence = m.start("lead") == m.end("lead") and m.start() > 0 and v[m.start() - 1] in ".!?"
        signoff = not sentence and (lead in ("", "--", "—", "–", "~", "-", "•", "*") or lead.startswith("--"))
        if sentence and (mode != NORMAL or len(words) != 2 or not all(w[:1].isupper() and w[1:2].islower() for w in words)):
            continue  # after a sentence end only a Title-case "First Last, MD"
        # a Title-case surname right before its credential ("Ye-jin Park, MD") and, before such a surname, a
        # Title-case given name no English word list holds ("Rahul Iyer, MD")
        titled = mode == NORMAL and len(words) == 2 and all(w[:1].isupper() and w[1:2].islower() for w in words)
        sur = titled and _plain(words[1]) in L.surnames and _plain(words[1]) not in L.clinical
        ok = []
        for i, w in enumerate(words):
            lw = _plain(w.rstrip("."))
            short = signoff and len(lw) <= 3 and lw.isalpha() and lw not in _AFTER_ROLE_STOP - {"her"}  # "-- n. her rn"
            given = sur and i == 0 and lw not in L.english_common and lw not in L.clinical and lw not in _AFTER_ROLE_STOP
            ok.append(_initials(w) or short or given or _name_word(w, L, loose=True) or (signoff or sur) and i > 0 and lw in L.surnames)
        if not all(ok) or not _cased_ok(words[0], mode if not signoff else LOWER):
            continue
        if any(_plain(w.rstrip(".")) in _ROLE_WORDS or _plain(w.rstrip(".")) in _CRED_WORDS for w in words):
            continue
        out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    if mode == NORMAL:
        for m in _CAP_CRED.finditer(v):
            w = m.group("n")
            if _name_word(w, L) and (_plain(w) in L.first_names or _unknown(w, L)):
                out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    elif mode == UPPER:
        # "REPORT GIVEN TO JOANNE RN": no case to go by, so only a first name that is no everyday word
        for m in _ANY_CRED.finditer(v):
            lw = _plain(m.group("n"))
            if lw in L.first_names and lw not in L.english_common and _name_word(lw, L):
                out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.65))
    for m in _CRED_SLASH.finditer(v):
        if _name_word(m.group("n"), L, loose=True):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for m in _SIGNOFF_INITIAL.finditer(v):
        out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for m in _at_words(v, _SLASH_NAME, _SLASH_FIRST):
        w = m.group("n")
        if _cased_ok(w, mode) and _name_word(w, L, loose=True):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for m in _TRANSCRIBED.finditer(v):
        if m.group("n") not in L.english_top and m.group("n") not in _CRED_WORDS:
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.6))
    return out


# ----------------------------------------------------------------------------------------------------------
# Family 5: table cells (Last, First) and ages over 89 in an Age column
# ----------------------------------------------------------------------------------------------------------

_CELL_NAME = re.compile(rf"\|\s*(?P<l>{_NAME_TOK}),\s+(?P<f>{_NAME_TOK})\s*(?=\|)")
_TABLE_ROW = re.compile(r"(?m)^[^\n|]*\|.*\|[^\n]*$")


def _tables(text: str, v: str, L) -> list[Entity]:
    out = []
    for m in _CELL_NAME.finditer(v):
        if all(_name_word(m[g], L) or _unknown(m[g], L) for g in ("l", "f")):
            out.append(Entity(m.start("l"), m.end("f"), "NAME", 0.75))
    if "|" not in text or not re.search(r"(?i)\|\s*age\s*\|", text):
        return out
    age_col = None
    for row in _TABLE_ROW.finditer(text):
        cells = [(c.start(), c.group(0)) for c in re.finditer(r"[^|]+", row.group(0))]
        heads = [c.strip().lower() for _, c in cells]
        if "age" in heads:
            age_col = heads.index("age")
            continue
        if age_col is None or age_col >= len(cells):
            continue
        off, cell = cells[age_col]
        cm = re.fullmatch(r"\s*(\d{2,3})\s*(?:y/?o|yo|y)?\s*", cell)
        if cm and int(cm.group(1)) > 89:
            s = row.start() + off + cm.start(1)
            out.append(Entity(s, s + len(cm.group(1)), "AGE", 0.8))
    return out


# ----------------------------------------------------------------------------------------------------------
# Family 6: a label followed by a full name in UPPER or Title case
# ----------------------------------------------------------------------------------------------------------

_LABEL_NAME = re.compile(
    rf"(?i:\b(?:pt|patient|patient\s+name|name|resident|id|client|member|child|infant|subject))\s*:\s*"
    rf"(?P<n>{_NAME_TOK}(?: {_NAME_TOK}){{1,2}})"
)


def _label_names(v: str, mode: str, L) -> list[Entity]:
    out = []
    for m in _LABEL_NAME.finditer(v):
        words = m.group("n").split()
        keep = 0
        for w in words:
            if _name_word(w, L, loose=keep > 0) or all(_unknown(p, L) or p in L.surnames for p in re.split(r"[-'’]", _plain(w)) if len(p) > 1):
                keep += 1
            else:
                break
        if keep >= 2 and (_plain(words[0]) in L.first_names or _unknown(words[0], L)):
            end = m.start("n") + len(" ".join(words[:keep]))  # words are single-spaced
            out.append(Entity(m.start("n"), end, "NAME", 0.75))
        elif keep == 0 and len(words) >= 2 and _double_surname(words[1], L) and _plain(words[0]) not in L.english_top and _plain(words[0]) not in L.clinical:
            out.append(Entity(m.start("n"), m.start("n") + len(words[0]) + 1 + len(words[1]), "NAME", 0.7))  # "Patient: Dove Ames-Okoro"
    for m in _LAST_FIRST.finditer(v):
        if all(_name_word(m[g], L, loose=True) or _double_surname(m[g], L) for g in ("l", "f")) and (m.group("lab") or _double_surname(m["l"], L) or _unknown(m["l"], L)):
            out.append(Entity(m.start("l"), m.end("f"), "NAME", 0.75))
    return out


_LAST_FIRST = re.compile(
    rf"(?m)(?:(?P<lab>(?i:\b(?:pt|patient|patient\s+name|name))\s*:\s*)|^[ \t]*)(?P<l>{_NAME_TOK}),[ \t]*(?P<f>{_NAME_TOK})"
    rf"(?=[ \t]*(?:$|[ \t](?i:mrn|dob|dos|med\s+rec|acct|#)\b)|(?(lab)[ \t]{{2,}}|(?!)))"
)


def _double_surname(w: str, L) -> bool:
    """``Nakamura-Hale``, ``O'Brien-Sato``: two name parts joined by a hyphen, each a surname or unknown word."""
    parts = [x for x in re.split(r"[-'’]", _plain(w)) if len(x) > 1]
    return "-" in w and len(parts) > 1 and all((x in L.surnames or _unknown(x, L)) and x not in L.clinical for x in parts)


# ----------------------------------------------------------------------------------------------------------
# Family 7: places
# ----------------------------------------------------------------------------------------------------------

_PW = r"[^\W\d_][^\W\d_'’.-]+"  # one place word
_PLACE_WORDS = rf"{_PW}(?:\s{_PW}){{0,2}}"


@functools.lru_cache(maxsize=1)
def _country_rx() -> tuple[re.Pattern, re.Pattern, frozenset[str]]:
    """(country name, the place words right before it, first words of country names)."""
    L = lexicon()
    names = sorted((c for c in L.countries if len(c) > 3 and c not in ("america", "united states")), key=len, reverse=True)
    alt = "|".join(re.escape(c).replace(r"\ ", r"\s+") for c in names)
    before = re.compile(rf"(?i)(?<![\w'’-])(?P<p>{_PLACE_WORDS}(?:,\s*{_PLACE_WORDS})?)(?P<sep>,\s*|\s+)$")
    return re.compile(rf"(?i)(?:{alt})\b"), before, frozenset(c.split()[0] for c in names)


_PLACE_STOP = frozenset(["in", "from", "to", "near", "born", "at", "of", "and", "the", "lives", "living", "home", "back", "going", "trip", "travel", "travels", "visit", "visiting", "moved", "flying", "flew", "returned", "return"])


def _countries(v: str, mode: str, L) -> list[Entity]:
    out = []
    country, before, firsts = _country_rx()
    for cm in _at_words(v, country, firsts):
        m = before.search(v, max(0, cm.start() - 80), cm.start())
        if not m:
            continue
        c = cm.group(0)
        if mode == NORMAL and not c[:1].isupper():
            continue
        if m.group("sep").strip() == "" and mode != LOWER:
            continue
        # keep the place words nearest the country ("by phone in Galway" -> "Galway")
        pieces = [(x.start(), x.group(0)) for x in re.finditer(r"[^\s,]+", m.group("p"))]
        k = len(pieces)
        while k > 0:
            w = pieces[k - 1][1]
            lw = w.lower()
            if lw in _PLACE_STOP or lw in L.english_common and _plain(w) not in L.cities or mode == NORMAL and not w[:1].isupper():
                break
            k -= 1
        pieces = pieces[k:]
        if not pieces:
            continue
        if any(_plain(w) in L.clinical or _plain(w) in L.countries or (mode == NORMAL and not w[:1].isupper()) for _, w in pieces):
            continue
        if mode == LOWER and not all(_plain(w) in L.cities or _unknown(w, L) for _, w in pieces):
            continue
        s = m.start("p") + pieces[0][0]
        e = m.start("p") + pieces[-1][0] + len(pieces[-1][1])
        # "Ponta Delgada, São Miguel": each comma part is a place
        for part in re.finditer(r"[^,]+", v[s:e]):
            a, b = s + part.start() + (len(part.group(0)) - len(part.group(0).lstrip())), s + part.end()
            out.append(Entity(a, b, "LOCATION", 0.75))
    return out


_FAC_HEADS = r"hospital|medical\s+center|health\s+center|clinic|center|centre|rehab|rehabilitation|nursing\s+home|home|hospice|infirmary|snf|ltac|ltach"
_FAC_PAREN = re.compile(rf"(?i)\b(?:{_FAC_HEADS})\s*\(\s*(?P<p>{_PLACE_WORDS})\s*\)")
_PLACE_PAREN = re.compile(rf"(?i)\b(?:in|from|near)\s+(?P<c>{_PW}(?:\s{_PW})?)\s*\(\s*(?P<p>{_PLACE_WORDS})\s*\)")
_PREP_PLACE = re.compile(r"(?i)\b(?:in|from|near|to|outside(?:\s+of)?|around|of)\s+(?=(?P<w>(?:st\.?\s+)?[a-z][a-z'’.-]+(?:\s+[a-z][a-z'’.-]+){0,2}))")
_COUNTY_RX = re.compile(r"(?i)\b(?P<p>(?:(?:st\.?|saint|san|santa|de|la|le|du|new|east|west|north|south)\s+)?[^\W\d_][^\W\d_'’-]+)\s+county\b")
_AREA_RX = re.compile(r"(?i)(?:\b(?:in|from|near|around)\s+(?:the\s+)?|,\s*)(?P<p>[a-z][a-z'’-]+)\s+area\b")
_CITY_WORD_STOP = frozenset(["home", "house", "bed", "mobile", "reading", "park", "center", "media", "orange", "bath", "chester", "hospital", "clinic", "pain", "bed", "surgery", "rehab", "person", "time", "order"])


def _place_ok(p: str, mode: str, L) -> bool:
    words = p.split()
    if mode == NORMAL and not all(w[:1].isupper() for w in words):
        return False
    if len(words) == 1 and words[0].isupper() and len(words[0]) <= 5 and mode == NORMAL:
        return False  # "(MICU)", "(ED)"
    return not any(_plain(w) in L.clinical or _plain(w) in _LANGUAGES or _plain(w) in _CRED_WORDS for w in words)


def _places(v: str, mode: str, L) -> list[Entity]:
    out = _countries(v, mode, L)
    for m in _FAC_PAREN.finditer(v) if "(" in v else ():
        p = m.group("p")
        if _place_ok(p, mode, L) and (_plain(p) in L.cities or all(_unknown(w, L) or w[:1].isupper() and mode == NORMAL for w in p.split())):
            out.append(Entity(m.start("p"), m.end("p"), "LOCATION", 0.7))
    for m in _PLACE_PAREN.finditer(v):
        c, p = m.group("c"), m.group("p")
        city = _plain(c) in L.cities or (mode == NORMAL and all(w[:1].isupper() for w in c.split()) and not any(_plain(w) in L.clinical for w in c.split()))
        if city and _place_ok(p, mode, L) and not any(_plain(w) in L.english_top and len(p.split()) == 1 for w in p.split()):
            out.append(Entity(m.start("p"), m.end("p"), "LOCATION", 0.7))
    for m in _PREP_PLACE.finditer(v):
        words = m.group("w").split()
        for k in range(len(words), 0, -1):
            cand = " ".join(words[:k])
            key = re.sub(r"^st\.?\s", "saint ", _plain(cand))
            if key not in L.cities or len(key) < 4:
                continue
            if k == 1 and (key in L.english_common or key in _CITY_WORD_STOP or key in L.first_names):
                break
            if mode == NORMAL and not cand[:1].islower():
                break  # a capitalised place is the address recognizer's
            out.append(Entity(m.start("w"), m.start("w") + len(cand), "LOCATION", 0.65))
            break
    for m in _COUNTY_RX.finditer(v) if "county" in v.lower() else ():
        p = m.group("p")
        lp = _plain(p)
        if lp in L.english_vocab and f"{lp} county" not in L.counties:
            continue
        if mode == NORMAL and (not p[:1].isupper() or v[m.end() - 6] == "C"):
            continue  # Title-case counties are the address recognizer's
        out.append(Entity(m.start("p"), m.end(), "LOCATION", 0.7))
    for m in _AREA_RX.finditer(v) if " area" in v.lower() else ():
        if _unknown(m.group("p"), L):
            out.append(Entity(m.start("p"), m.end("p"), "LOCATION", 0.6))
    return out


# ----------------------------------------------------------------------------------------------------------
# Family 8: pharmacy and grocery chains; facility-type phrases in lower case; streets after a chain
# ----------------------------------------------------------------------------------------------------------

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
_FAC_TYPE_FIRST = _first_words(_FAC_TYPES)
_FAC_TYPE_WORD = re.compile(rf"(?i)(?:{_FAC_TYPES.replace(chr(92) + 's+', '|')})")
_LEAD_WORDS = re.compile(r"(?:[^\W\d_][^\W\d_'’-]+\s+){1,3}$")
_FOREIGN_FAC = re.compile(
    r"\b(?:Centre|Centro|Hôpital|Hopital|Clinique|Hospital|Klinik|Clínica|Clinica|Instituto|Institut)\s+(?:de\s+la|de|du|des|del|da|do|dos|für)\s+"
    r"[A-ZÀ-ÖØ-Þ][^\W\d_'’-]+(?:\s+(?:(?:de\s+la|de|du|des|del|da|do|la|le)\s+)?[A-ZÀ-ÖØ-Þ][^\W\d_'’-]+){0,3}"
)
_SAINT_POSS = re.compile(r"\bst\.?\s+[a-z]+['’]s\b(?:\s+(?:hospital|medical\s+center))?")
_FAC_LEAD_STOP = frozenset(["at", "in", "to", "from", "attends", "attend", "the", "a", "an", "and", "or", "with", "w", "of", "for", "by", "via", "per", "rn", "md", "np"])


def _facilities(v: str, mode: str, L) -> list[Entity]:
    out = []
    for m in _CHAIN_RX.finditer(v):
        out.append(Entity(m.start(), m.end(), "FACILITY", 0.8))
        s = _STREET_AFTER.match(v, m.end())
        if s and not any(_plain(w) in L.clinical for w in s.group("s").split()):
            out.append(Entity(s.start("s"), s.end("s"), "LOCATION", 0.7))
        c = _CITY_AFTER.match(v, m.end())
        if c:
            words = c.group("c").split()
            for k in range(len(words), 0, -1):
                cand = " ".join(words[:k])
                if _plain(cand) in L.cities and (k > 1 or _plain(cand) not in L.english_common):
                    out.append(Entity(c.start("c"), c.start("c") + len(cand), "LOCATION", 0.7))
                    break
    if mode == NORMAL:
        for m in _TITLE_STREET.finditer(v):
            w = _plain(m.group("w") or "")
            if w not in L.clinical and w not in _AFTER_ROLE_STOP:
                out.append(Entity(m.start(), m.end(), "LOCATION", 0.6))
    for m in _ON_STREET.finditer(v):
        words = m.group("s").split()[:-1]
        if all(_plain(w) not in L.clinical and _plain(w) not in _AFTER_ROLE_STOP for w in words) and (mode != NORMAL or m.group("s").islower()):
            out.append(Entity(m.start("s"), m.end("s"), "LOCATION", 0.65))
    for t in _at_words(v, _FAC_TYPE_ONLY, _FAC_TYPE_FIRST):
        lead = _LEAD_WORDS.search(v, max(0, t.start() - 60), t.start())
        if not lead:
            continue
        f = v[lead.start() : t.end()]
        words = [(x.start(), x.group(0)) for x in re.finditer(r"\S+", f)]
        while words and (_plain(words[0][1]) in _FAC_LEAD_STOP | _ROLE_WORDS | {"--"} or mode == NORMAL and not words[0][1][:1].isupper()):
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


# ----------------------------------------------------------------------------------------------------------
# Family 9: date ranges, holidays, bare months in UPPER notes, pagers, card numbers
# ----------------------------------------------------------------------------------------------------------

_MD_RANGE = re.compile(r"(?<![\w/.-])(?P<a>\d{1,2}/\d{1,2})\s*-\s*(?P<b>\d{1,2}/\d{1,2})(?![\w/]|\.\d)")
_HOLIDAY_CI = re.compile(P.HOLIDAY.pattern + r"|\b(?:4th|fourth)\s+of\s+july\b|\bnew\s+years?\b|\bxmas\b", re.IGNORECASE)
_UPPER_MONTH = re.compile(r"\b(?:JANUARY|FEBRUARY|APRIL|JULY|SEPTEMBER|OCTOBER|NOVEMBER|DECEMBER)\b(?![ \t]*\d)")
_PAGER = re.compile(r"(?i)\b(?:pgr|pager|beeper|bpr|page|pg)\b\.?\s*(?:#|no\.?|number)?\s*[:=]?\s*(?P<n>\d-\d{4}|\d{2}-\d{3}|\d{5}|\d{4}(?=\)))(?![\w-])")
_CARD_LOOSE = re.compile(r"(?<![\d-])\d{4}(?:[ -]\d{4}){2}[ -]\d{1,7}(?![\d-])|(?<![\d-])\d{4}[ -]\d{6}[ -]\d{4,5}(?![\d-])")


def _dates_numbers(text: str, v: str, mode: str) -> list[Entity]:
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
    for m in _PAGER.finditer(v):
        out.append(Entity(m.start("n"), m.end("n"), "PHONE", 0.7))
    for m in _CARD_LOOSE.finditer(v):
        d = re.sub(r"\D", "", m.group(0))
        cue = re.search(r"(?i)card|visa|mastercard|amex|account|acct", v[max(0, m.start() - 30) : m.start()])
        if 13 <= len(d) <= 19 and (_luhn(d) or cue and re.fullmatch(r"\d{4}(?:[ -]\d{4}){3}", m.group(0))):
            out.append(Entity(m.start(), m.end(), "ACCOUNT", 0.85))
    return out



# ----------------------------------------------------------------------------------------------------------
# Family 10: message salutations, initials after a signing cue, children lists, letterheads, label-cued
# facilities, public-service places, ordinal streets, numbers joined to their labels
# ----------------------------------------------------------------------------------------------------------

_SALUTE = re.compile(rf"(?im)(?:^|(?<=[.!?]\s))[ \t]*(?:hi|hello|hey|dear|good\s+(?:morning|afternoon|evening))[ \t]+(?P<n>{_NAME_TOK})[ \t]*[,!]")
_CLOSING = re.compile(
    rf"(?i)\b(?:thanks(?:\s+so\s+much)?|thank\s+you(?:\s+so\s+much)?|sincerely|regards|best\s+wishes|best|love|cheers)[ \t]*[,!.]?\s+"
    rf"(?P<n>{_NAME_TOK}(?:[ \t]{_NAME_TOK})?)(?=[ \t]*(?:\n|$|-{{2,}}|\s{{2,}}))"
)
_SIGN_INITIALS = re.compile(
    r"(?i)\b(?:(?:description|dictated|read|reviewed|performed|verified|signed|initialed)\s+by|signed|sonographer|technologist|tech|phleb)"
    r"\s*:?[ \t]+(?P<n>(?-i:[A-Z]{2,3})|(?:[a-z]\.){2,3})(?=[\s.,;)]|$)"
)
_END_INITIALS = re.compile(r"(?:^|\s)(?:-{1,2}|[—–~])[ \t]*(?P<n>[a-z]{2,3}|[A-Z]{2,3})[ \t]*\Z")
_PT_FULL = re.compile(r"\b(?:pt|patient)\s+(?P<f>[a-z]{2,})\s+(?P<l>[a-z][a-z'’-]+)(?=\s*(?:[-,(]|dob\b|mrn\b|\d))")
_KIDS_LIST = re.compile(rf"\(\s*(?P<body>{_NAME_TOK}\s+\d{{1,2}}(?:\s*,\s*(?:and\s+)?{_NAME_TOK}\s+\d{{1,2}})+)\s*\)")
_ROLE_COMMA_AGE = re.compile(rf"(?i)\b(?:{RELATIVES}|name)\s*,?\s*\(?\s*(?P<n>(?-i:{_NAME_TOK}))\s*(?:\(\s*\d{{1,2}}\s*\)|\))")
_DR_INITIAL = re.compile(r"\b(?:dr|doctor)\.?\s+(?P<n>[a-z]\.\s?[a-z][a-z'’-]+)\b")
_INITIAL_SURNAME_CUE = re.compile(rf"(?i)\b(?:by|{STAFF_ROLES})\b\s*:?\s+(?P<n>(?-i:[A-Z])\.\s?(?-i:{_NAME_TOK}))")

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
_SERVICE_PLACE = re.compile(r"(?i)\b(?P<c>[a-z][a-z'’.-]+(?:\s[a-z][a-z'’.-]+)?)\s+(?:police|fire|sheriff'?s?|ems|county\s+ems)\b")
_ORDINAL_STREET = re.compile(r"(?i)\b(?:[nsew]\.?\s+)?\d{1,3}(?:st|nd|rd|th)\s+(?:st|street|ave|avenue|rd|road|pl|place|blvd|ter|terrace)\b\.?")
_CORNER = re.compile(r"(?i)\b(?:on|at|of)\s+(?P<p>\d{1,3}(?:st|nd|rd|th)\s+(?:and|&)\s+[a-z][a-z'’-]+)")
_CITY_ZIP = re.compile(r",[ \t]*(?P<c>[A-Za-z][a-z'’-]+(?:[ \t][A-Za-z][a-z'’-]+)?)[ \t]+\d{5}(?:-\d{4})?\b")
_ARROW_PLACE = re.compile(r"→\s*(?P<p>[A-Z][a-zà-ÿ'’-]+(?:\s[A-Z][a-zà-ÿ'’-]+)?)")
_STORE_CITY = re.compile(rf"(?i)\b(?:{_CHAINS})(?:\s+pharmacy)?\s*#\s*\d{{2,6}}[ \t]+(?P<c>(?-i:[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?))")
_STORE_NO = re.compile(rf"(?i)\b(?:{_CHAINS})(?:\s+(?:pharmacy|specialty))?(?P<n>\s*#\s*\d{{2,6}}|\s+(?:specialty|\d{{2,3}}-\d{{3,5}}))")

_PHONE_EXT = re.compile(r"(?i)(?<!\d)(?P<p>(?:\(?\d{3}\)?[ .-]?)?\d{3}[ .-]\d{4})[ \t]*(?:x|ext\.?|extension)[ \t]*\.?[ \t]*(?P<x>\d{2,6})\b")
_SSN_LAST4 = re.compile(r"(?i)\b(?:ssn|social(?:\s+security)?(?:\s+(?:no\.?|number|#))?)\s*\(?\s*(?:last\s*(?:4|four)(?:\s+digits)?)\s*\)?\s*[:#-]?\s*(?P<n>\d{4})\b")
_PLATE = re.compile(
    r"(?i)\b(?:(?P<st1>[a-z]{2})\s+)?(?:license\s+)?plates?\s*(?:#|no\.?|number)?\s*:?\s*(?:(?P<st2>[a-z]{2})\s+)?"
    r"(?P<p>[a-z0-9]{1,8}(?:[ -][a-z0-9]{1,5}){0,2})"
)
_ACCOUNT_LABEL = re.compile(r"(?i)\b(?P<l>har|hospital\s+account|acct|account|billing(?:\s+(?:acct|account))?)\s*(?:#|no\.?|number)?\s*[:=]?\s*(?P<n>\d{7,12})\b")
_ISBT = re.compile(r"\b[A-Z]\d{4}[ \t]\d{2}[ \t]\d{6}(?:[ \t][A-Z0-9])?\b")

_AGE_Y = re.compile(r"(?i)\bage\s*:?\s*(?P<a>(?:9\d|1[01]\d)\s?(?:y|yo|yrs?)\b)")
_FLOOR_AFTER_STREET = re.compile(r"(?i)\b(?:st|street|ave|avenue|rd|road|blvd|dr|drive|ln|lane|way|ct|court|pl|place)\.?,[ \t]*(?P<f>(?:\d{1,2}(?:st|nd|rd|th)[ \t]+(?:floor|fl)|(?:apt|unit|suite|ste)\.?[ \t]*#?[ \t]*\w{1,5}))(?=,)")
_MONTHS_NO_MAY = "january|february|march|april|june|july|august|september|october|november|december"
_MONTH_AFTER_IN = re.compile(rf"(?i)\b(?:in|since|until|till|by|early|late|mid|end\s+of|beginning\s+of)\s+(?P<m>{_MONTHS_NO_MAY})\b(?!\s+\d)")
_MID_MONTH = re.compile(rf"(?i)\b(?:mid|early|late)-(?:{P.MONTHS_FULL}|{P.MONTHS_ABBR})\b")
_MON_DAY_LOWER = re.compile(r"\b(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?\s+(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\b(?![/:.]?\d)")
_THE_NTH = re.compile(r"(?i)\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|on|by|until|since)\s+(?:the\s+)(?P<d>(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th))\b(?!\s+(?:grade|percentile|day|week|floor|time|dose|cycle|visit))")


_BARE_ROLE_PREP = re.compile(r"(?i)\b(?:by|per|with|w/|from|to|and)\s*$")
_BARE_ROLE_NEXT = re.compile(r"\s+(?:for|at|who|to|re)\b|[,.;)]")
_INITIAL_CRED = re.compile(rf"(?<![\w.])(?P<n>[A-Z]\.[ \t]?{_NAME_TOK})[ \t]+(?:RN|MD|NP|PA-C|PA|LPN|CNA|PCT|DO)\b")
_HEAD_CITY = re.compile(r"(?i)\b(?:rehab|rehabilitation|hospital|clinic|center|centre|health|medical)[ \t]+(?P<c>[a-z][a-z'’-]{3,}(?:[ \t][a-z][a-z'’-]{3,})?)(?=[ \t]*(?:[.,;)\n]|$))")
_ENGLISH_SUFFIXES = ("er", "ers", "ing", "ed", "tion", "ness", "ly", "ment", "able", "ible", "ity", "ism", "ist", "ous", "ive", "al", "es")
_IN_UNKNOWN = re.compile(r"\b(?:in|from|near|outside)\s+(?P<p>[a-z]{5,})(?=[.,;])")


def _bare_role_name(v: str, m: re.Match, mode: str, L) -> bool:
    """``referred by RN Wren for ...``: a capitalised word after an unambiguous role that a preposition
    introduces and a preposition or a stop follows is a name even when it is an everyday word."""
    w, r = m.group("n"), m.group("r").lower()
    p = _plain(w)
    return (
        mode == NORMAL
        and w[:1].isupper()
        and not w.isupper()
        and r not in _AMBIGUOUS_ROLES
        and p not in L.english_top
        and p not in L.clinical
        and p not in _AFTER_ROLE_STOP
        and bool(_BARE_ROLE_PREP.search(v, max(0, m.start() - 8), m.start()))
        and bool(_BARE_ROLE_NEXT.match(v, m.end("n")))
    )


def _messages_and_signatures(text: str, v: str, mode: str, L) -> list[Entity]:
    out = []
    if mode == NORMAL:
        for m in _INITIAL_CRED.finditer(v):
            if _name_word(m.group("n").split(".")[-1].strip(), L, loose=True):
                out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for rx in (_SALUTE, _CLOSING):
        for m in rx.finditer(v):
            words = m.group("n").split()
            if all(_name_word(w, L, loose=True) for w in words) and (mode != NORMAL or words[0][:1].isupper()):
                out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for m in _SIGN_INITIALS.finditer(text if mode == UPPER else v):
        n = m.group("n").rstrip(".").lower().replace(".", "")
        if n not in L.clinical and n not in _CRED_WORDS and n not in L.states and n not in _AFTER_ROLE_STOP and (n not in L.english_vocab or len(n) == 2):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.6))
    m = _END_INITIALS.search(v[-40:])
    if m:
        n = m.group("n").lower()
        if n not in L.clinical and n not in _CRED_WORDS and n not in L.english_top:
            off = len(v) - len(v[-40:])
            out.append(Entity(off + m.start("n"), off + m.end("n"), "NAME", 0.6))
    if mode == LOWER:
        for m in _PT_FULL.finditer(v):
            f, lname = m.group("f"), m.group("l")
            if f in L.first_names and (_plain(lname) in L.surnames or _unknown(lname, L)) and _plain(lname) not in L.clinical and lname not in _AFTER_ROLE_STOP:
                out.append(Entity(m.start("f"), m.end("l"), "NAME", 0.65))
        for m in _DR_INITIAL.finditer(v):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for m in _KIDS_LIST.finditer(v) if "(" in v else ():
        base = m.start("body")
        for it in re.finditer(rf"(?P<n>{_NAME_TOK})\s+\d", m.group("body")):
            if _name_word(it.group("n"), L, loose=True):
                out.append(Entity(base + it.start("n"), base + it.end("n"), "NAME", 0.7))
    for m in _ROLE_COMMA_AGE.finditer(v) if "(" in v else ():
        if _name_word(m.group("n"), L, loose=True):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for m in _INITIAL_SURNAME_CUE.finditer(v):
        if _name_word(m.group("n").split(".")[-1].strip(), L, loose=True):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    return out


def _fac_words_ok(words: list[str], mode: str, L) -> bool:
    if not words or words[0].lower() in _AFTER_ROLE_STOP or words[0].lower() in _MODALS:
        return False
    if mode == NORMAL and not all(w[:1].isupper() or w.lower() in ("of", "and", "&", "the", "for", "at") for w in words):
        return False
    return not all(_plain(w) in L.clinical for w in words)


def _facility_cues(text: str, v: str, mode: str, L) -> list[Entity]:
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
            _FAC_TYPE_TAIL.search(f) and any(not _FAC_TYPE_TAIL.fullmatch(w) and (_plain(w) not in L.english_common or _plain(w) in L.cities) for w in words)
        ):
            continue  # "From: <a person>", "To: <a date>", "To: Gastroenterology"
        if mode != NORMAL and not (_FAC_TYPE_TAIL.search(f) or _CHAIN_RX.search(f) or any(_unknown(w, L) for w in words)):
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
            if _plain(w) not in L.english_top and _plain(w) not in L.clinical:
                out.append(Entity(m.start("f"), m.end("f"), "FACILITY", 0.65))
    for m in _STORE_NO.finditer(v):
        out.append(Entity(m.start(), m.end(), "FACILITY", 0.75))
    for m in _STORE_CITY.finditer(v):
        c = m.group("c")
        if _plain(c) in L.cities:
            out.append(Entity(m.start("c"), m.end("c"), "LOCATION", 0.7))
    return out


def _place_cues(text: str, v: str, mode: str, L) -> list[Entity]:
    out = []
    for m in _SERVICE_PLACE.finditer(v):
        c = m.group("c")
        words = c.split()
        for k in (2, 1):
            if len(words) < k:
                continue
            cand = " ".join(words[-k:])
            if _plain(cand) in L.cities and (mode != NORMAL or cand[:1].isupper()) and _plain(cand) not in _CITY_WORD_STOP:
                s = m.start("c") + len(c) - len(cand)
                out.append(Entity(s, m.start("c") + len(c), "LOCATION", 0.7))
                break
    for m in _ORDINAL_STREET.finditer(v):
        out.append(Entity(m.start(), m.end(), "LOCATION", 0.7))
    for m in _CORNER.finditer(v):
        last = m.group("p").split()[-1]
        if _plain(last) not in L.clinical and last not in _AFTER_ROLE_STOP:
            out.append(Entity(m.start("p"), m.end("p"), "LOCATION", 0.65))
    for m in _CITY_ZIP.finditer(v):
        c = m.group("c")
        if _plain(c) in L.cities or _plain(c.split()[-1]) in L.cities:
            out.append(Entity(m.start("c"), m.end("c"), "LOCATION", 0.7))
    for m in _HEAD_CITY.finditer(v):
        c = m.group("c")
        if (mode != NORMAL or c[:1].isupper()) and _plain(c) in L.cities and _plain(c) not in L.english_common and _plain(c) not in _CITY_WORD_STOP:
            out.append(Entity(m.start("c"), m.end("c"), "LOCATION", 0.65))
    if mode == LOWER:
        for m in _IN_UNKNOWN.finditer(v):
            p = m.group("p")
            if _unknown(p, L) and p not in L.first_names and p not in L.surnames and p not in L.english_vocab and not p.endswith(_ENGLISH_SUFFIXES):
                out.append(Entity(m.start("p"), m.end("p"), "LOCATION", 0.55))
    for m in _ARROW_PLACE.finditer(v) if "→" in v else ():
        p = m.group("p")
        if not any(_plain(w) in L.clinical for w in p.split()):
            out.append(Entity(m.start("p"), m.end("p"), "LOCATION", 0.65))
    return out


def _labelled_numbers(text: str, v: str, mode: str, L) -> list[Entity]:
    out = []
    for m in _PHONE_EXT.finditer(v):
        out.append(Entity(m.start("p"), m.end("x"), "PHONE", 0.8))
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
    for rx in (_MONTH_AFTER_IN, _MID_MONTH) if mode != UPPER else (_MID_MONTH,):
        for m in rx.finditer(v):
            g = "m" if rx is _MONTH_AFTER_IN else 0
            if rx is _MONTH_AFTER_IN and m.group("m").lower() == "march" and mode == NORMAL and m.group("m")[:1].islower():
                continue  # "march" the verb in a cased note
            out.append(Entity(m.start(g), m.end(g), "DATE", 0.65))
    for m in _MON_DAY_LOWER.finditer(v if mode == LOWER else text):
        out.append(Entity(m.start(), m.end(), "DATE", 0.7))
    for m in _AGE_Y.finditer(v):
        out.append(Entity(m.start("a"), m.end("a"), "AGE", 0.8))
    for m in _FLOOR_AFTER_STREET.finditer(v):
        out.append(Entity(m.start("f"), m.end("f"), "LOCATION", 0.65))
    for m in _THE_NTH.finditer(v):
        out.append(Entity(m.start("d"), m.end("d"), "DATE", 0.65))
    return out


# ----------------------------------------------------------------------------------------------------------


def find_families(note: Note) -> list[Entity]:
    L = lexicon()
    v, mode = note.view, note.mode
    out: list[Entity] = []
    out += _quoted(v, L)
    out += _role_paren(v, mode, L)
    out += _role_next(note.text if mode == UPPER else v, mode, L)
    out += _name_cred(v, mode, L)
    out += _tables(note.text, v, L)
    out += _label_names(v, mode, L)
    out += _places(v, mode, L)
    out += _facilities(v, mode, L)
    out += _dates_numbers(note.text, v, mode)
    out += _messages_and_signatures(note.text, v, mode, L)
    out += _facility_cues(note.text, v, mode, L)
    out += _place_cues(note.text, v, mode, L)
    out += _labelled_numbers(note.text, v, mode, L)
    return out


__all__ = ["ROLE", "find_families"]


# ----------------------------------------------------------------------------------------------------------
# Family 11: span edges.  After merging, words at either end of a span that are never identifying on their
# own: a title before a name ("Dr." Haddad), a preposition before a facility or place ("at" Jordan Hospital),
# an age label or unit ("Age:" 92, 91 "yo").  Trimming them keeps every PHI token covered and stops the
# merged span from counting (and surrogating) the label.
# ----------------------------------------------------------------------------------------------------------

_EDGE_TITLES = frozenset(["dr", "doctor", "mr", "mrs", "ms", "miss", "mx", "prof", "professor", "rev", "reverend"])
_EDGE_PREPS = frozenset(["at", "in", "to", "from", "by", "with", "on", "per", "w", "and"])  # not "via": Via dei …
_EDGE_LEAD = {
    "NAME": _EDGE_TITLES,
    "FACILITY": _EDGE_TITLES | _EDGE_PREPS,
    "LOCATION": _EDGE_TITLES | _EDGE_PREPS,
    "AGE": frozenset(["age", "aged"]),
}
# only the clinical shorthand: "96-year-old" stays whole (gold conventions count it as the age)
_EDGE_TAIL = {"AGE": frozenset(["yo", "y.o", "yo.f", "yof", "yom"])}
_EDGE_WORD = re.compile(r"[^\W\d_]+(?:\.[^\W\d_]+)*")


def trim_edges(text: str, ents: list[Entity]) -> list[Entity]:
    """Drop non-identifying label words (titles, prepositions, age labels) from the ends of merged spans."""
    out = []
    for e in ents:
        s, t = e.start, e.end
        lead, tail = _EDGE_LEAD.get(e.type), _EDGE_TAIL.get(e.type)
        while lead:
            m = _EDGE_WORD.match(text, s, t)
            if not m or m.group().lower() not in lead:
                break
            if e.type == "LOCATION" and m.group() in ("N", "S", "E", "W") and text[m.end() : m.end() + 1] == ".":
                break  # a compass point ("W. Main St"), not "w" for with
            rest = re.match(r"\.?:?[ \t]+|\.?:" if e.type == "AGE" else r"\.?[ \t\n]+", text[m.end() : t])
            if not rest or m.end() + rest.end() >= t:
                break
            s = m.end() + rest.end()
        while tail:
            m = re.search(r"(?:(?<=\d)|\s|-)(?P<w>[^\W\d_]+(?:[./][^\W\d_]+)*)\.?$", text[s:t])
            if not m or m.group("w").lower().replace("/", ".") not in tail and m.group("w").lower().replace("/", "") not in tail:
                break
            nt = s + m.start()
            nt = s + len(text[s:nt].rstrip(" \t-"))
            if nt <= s or not re.search(r"\d", text[s:nt]):
                break
            t = nt
        out.append(Entity(s, t, e.type, e.score) if (s, t) != (e.start, e.end) else e)
    return out
