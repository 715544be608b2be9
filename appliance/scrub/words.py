"""Shared word predicates of the scrubber's rules: one public module, so no rule reaches into another's privates.

What every identifier family asks of a word lives here once: span helpers (:func:`strip_span`), the unit and
month tests, the gazetteer and vocabulary tests (:func:`unknown_word` for "no English, clinical or month list
knows it", :func:`unknown_name_word` its accent- and language-aware form used beside role nouns,
:func:`name_word`), eponym use ("Parkinson disease"), the Luhn check, and the role, relative, credential and
stop-word lexicons that both the name rules and the general families read.  Nothing here imports a rule module.
"""

from __future__ import annotations

import functools
import re

from appliance.scrub import patterns as P
from appliance.scrub.lexicon import EPONYM_HEADS, EPONYMS, STRONG_EPONYMS
from appliance.scrub.note import NORMAL


def match_span(m: re.Match, group: int | str = 0) -> tuple[int, int]:
    return m.start(group), m.end(group)


def strip_span(text: str, s: int, e: int) -> tuple[int, int]:
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


def count_digits(s: str) -> int:
    return sum(c.isdigit() for c in s)


UNIT_AFTER = re.compile(
    r"\s*(?:mg|mcg|ug|g|kg|lb|lbs|ml|mL|l|L|units?|u|iu|IU|meq|mEq|mmol|mmhg|mmHg|cc|%|/mm3|/ul|/uL|cells|copies|k|K|"
    r"tabs?|caps?|puffs?|drops?|hrs?|hours?|mins?|minutes?|days?|weeks?|months?|years?|steps?|feet|ft|cal|kcal|mosm|ng|pg)\b",
)


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


PLACE_LEAD_WORDS = frozenset(
    ["new", "lake", "port", "east", "west", "north", "south", "mount", "fort", "san", "santa", "saint", "st", "el", "la", "los",
     "las", "del", "de", "county", "city", "beach", "heights", "springs", "falls", "park", "valley", "river", "village"]
)

NOT_PLACE_WORDS = frozenset(
    ["the", "a", "an", "this", "that", "these", "those", "his", "her", "their", "its", "our", "my", "your", "i", "we", "he", "she", "they", "it", "mon", "tue", "wed", "thu", "fri", "sat", "sun", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "am", "pm", "noon", "night", "baseline", "bedside", "rest", "risk", "least", "most", "first", "last", "time", "times", "home", "work", "school"]
)


# identifier labels: the word before a record number or a date of birth, never part of a name ("MRN:", "DOB")
LABEL_WORDS = frozenset(["mrn", "dob", "dos", "ssn", "acct", "csn", "fin", "har", "npi", "hicn", "upin", "mrno", "medrec"])


MONTH_WORDS = frozenset(m.lower() for m in f"{P.MONTHS_FULL}|{P.MONTHS_ABBR}".split("|"))


def looks_like_month(w: str) -> bool:
    """A lower-case month name or abbreviation, with or without its dot ("march", "sept.")."""
    return w.removesuffix(".") in MONTH_WORDS


STOP_AFTER_NAME = frozenset(
    ["and", "or", "but", "with", "was", "is", "has", "had", "have", "who", "which", "that", "the", "a", "an", "in", "on", "at", "to", "for", "of", "from", "by", "as", "this", "he", "she", "they", "his", "her", "their", "pt", "patient", "reports", "states", "said", "denies", "presents", "presented", "admitted", "came", "called", "will", "may", "can", "would", "should", "could", "did", "does", "says", "told", "went", "seen", "saw", "also", "then", "now", "still", "just", "not"]
)


def eponym_use(v: str, s: int, e: int) -> bool:
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


def unknown_word(w: str, L) -> bool:
    """A word of three or more letters that no English, clinical or month list knows (a name's shape)."""
    p = plain(w)
    return (
        len(w) >= 3
        and w.replace("-", "").replace("'", "").isalpha()
        and w not in L.english_vocab
        and p not in L.english_vocab
        and w not in L.clinical
        and p not in EPONYMS
        and w not in L.states
        and p not in LABEL_WORDS
        and not looks_like_month(w)
    )


def plain(w: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", w) if not unicodedata.combining(c)).lower()


GENERIC_FACILITY = frozenset(
    ["skilled", "nursing", "facility", "rehab", "rehabilitation", "assisted", "living", "long-term", "long", "term", "acute", "care", "home", "health", "physical", "therapy", "outpatient", "inpatient", "center", "unit", "hospital", "clinic", "medical", "the", "a", "of", "and", "emergency", "department", "intensive", "cardiac", "surgical", "step-down", "stepdown", "floor", "ward", "hospice", "dialysis", "infusion", "urgent", "primary"]
)

RELATION_WORDS = frozenset(
    ["pt", "patient", "dr", "mr", "mrs", "ms", "miss", "daughter", "son", "wife", "husband", "mother", "father", "mom", "dad", "brother", "sister", "spouse", "partner", "friend", "neighbor", "caregiver", "guardian", "niece", "nephew", "aunt", "uncle", "grandson", "granddaughter", "seen", "by", "per", "attending", "resident", "nurse", "rn", "md", "np", "pa", "called", "spoke", "with", "hx", "of"]
)
_WORD_START = re.compile(r"(?<![^\W\d_])[^\W\d_]+")


@functools.lru_cache(maxsize=8)
def word_offsets(v: str) -> tuple[tuple[int, str], ...]:
    """(offset, lower-case word) for every word of a text: big alternations are tried only where their first
    word stands, not at every position."""
    return tuple((m.start(), m.group(0).lower()) for m in _WORD_START.finditer(v))


def first_words(alternation: str) -> frozenset[str]:
    return frozenset(re.split(r"\\s|\\b|\s|[^\w\s]", a.replace("\\.", ""))[0].lower() for a in alternation.split("|") if a)


def match_at_words(v: str, rx: re.Pattern, firsts: frozenset[str]):
    """``rx.match`` at each word that can start it."""
    for pos, w in word_offsets(v):
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

ROLE_FIRST_WORDS = first_words(f"{STAFF_ROLES}|{RELATIVES}")
RELATIVE_WORDS = frozenset(RELATIVES.split("|"))
ROLE_WORDS = frozenset(w for w in re.split(r"\||\\s\+", f"{STAFF_ROLES}|{RELATIVES}") if w)
CREDENTIAL_WORDS = frozenset(w.lower().replace(".", "") for w in P.CREDENTIAL.split("|")) | {"pct", "pca", "cm", "sw", "rt", "pgy", "lcsw"}
MODALS = frozenset(["will", "may", "can", "shall", "must", "might", "would", "could", "should", "did", "does", "do"])

# what follows a role word when no name does: verbs of hand-off, place and time words, function words
AFTER_ROLE_STOP = frozenset(
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
ANATOMY_WORDS = frozenset(
    ["arm", "arms", "leg", "legs", "knee", "knees", "foot", "feet", "hand", "hands", "eye", "eyes", "ear", "ears", "lung", "lungs",
     "hip", "hips", "shoulder", "side", "chest", "back", "ankle", "wrist", "elbow", "heel", "toe", "toes", "finger", "fingers",
     "thumb", "neck", "flank", "groin", "thigh", "calf", "shin", "breast", "kidney", "heart", "head", "face", "lower", "upper",
     "lateral", "lat", "ap", "view", "views", "base", "bases", "lobe", "radial", "femoral", "ij", "subclavian", "jugular", "axilla",
     "buttock", "forearm", "palm", "sole", "temple", "jaw", "lip", "cheek", "nare", "naris", "ventricle", "atrium", "pleural",
     "upper", "mid", "distal", "proximal", "anterior", "posterior", "medial", "and", "film", "films", "xray", "cxr", "neb", "nebs",
     "guard", "drew", "gave", "took", "held", "sent", "spoke", "came", "went", "left", "brought", "told", "found", "kept", "ran"]
)
AMBIGUOUS_ROLES = frozenset(["rt", "pa", "cm", "md", "rd", "sw", "pt", "ot", "ma"])
LANGUAGES = frozenset(
    ["spanish", "portuguese", "haitian", "creole", "hmong", "somali", "vietnamese", "cantonese", "mandarin", "chinese",
     "arabic", "russian", "french", "korean", "japanese", "polish", "italian", "greek", "hindi", "urdu", "punjabi",
     "bengali", "tagalog", "amharic", "tigrinya", "swahili", "farsi", "dari", "pashto", "nepali", "khmer", "lao",
     "karen", "burmese", "ukrainian", "albanian", "armenian", "turkish", "german", "hebrew", "yiddish", "asl", "cape",
     "verdean", "english", "oromo", "kinyarwanda", "twi", "yoruba", "igbo", "hausa", "wolof", "thai", "tamil", "telugu"]
)
WEEKDAYS = frozenset(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mon", "tue", "tues", "wed", "thu", "thur",
     "thurs", "fri", "sat", "sun"]
)
SPECIALTY = re.compile(r"(?i)(?:ology|ologist|iatry|iatrics|ics|surgery|medicine|icu|unit|service|team|floor|dept|department)$")


def unknown_name_word(w: str, L) -> bool:
    """:func:`unknown_word` for words beside a role noun or label: accents kept apart from their plain form
    ("Šušulić" is unknown even when "susulic" were a word), languages ("Spanish") and labels excluded."""
    p = plain(w)
    lw = w.lower()
    return (
        len(p) >= 3
        and p.replace("-", "").replace("'", "").replace("’", "").isalpha()
        and lw not in L.english_vocab
        and (p not in L.english_vocab or p != lw)
        and p not in L.clinical
        and p not in EPONYMS
        and p not in L.states
        and p not in MONTH_WORDS
        and p not in LANGUAGES
        and p not in LABEL_WORDS
    )


def name_word(w: str, L, *, loose: bool = False) -> bool:
    """A word that can be a name: in the name gazetteers or unknown to English word lists, and no function
    word, role, credential, clinical or language word.  ``loose`` also takes gazetteer words that are common
    English ("faith", "hunter") — only where a strong cue (a role noun, a quote) stands beside it."""
    parts = [x for x in re.split(r"[-'’]", plain(w.strip(".,;:"))) if x]
    if not parts:
        return False
    lw = w.strip(".,;:").lower()
    if lw in WEEKDAYS or lw in MONTH_WORDS and not loose:
        return False
    if lw in AFTER_ROLE_STOP or lw in ANATOMY_WORDS or lw in MODALS or lw in ROLE_WORDS or lw in CREDENTIAL_WORDS or lw in LANGUAGES:
        return False
    if lw in L.clinical or lw in L.states or lw in L.countries or lw in LABEL_WORDS:
        return False
    for x in parts:
        if len(x) == 1:
            continue
        if x in L.clinical or x in LANGUAGES:
            return False
        gaz = x in L.first_names or x in L.surnames
        if unknown_name_word(x, L):
            continue
        if not gaz:
            return False
        if x in L.english_top and x not in L.first_names:
            return False  # "her", "long"
        if not loose and x in L.english_common and x not in L.common_first:
            return False
    return True


def is_initials(w: str) -> bool:
    return bool(re.fullmatch(r"(?:[A-Za-z]\.){1,3}|[A-Za-z]\.?", w))


NAME_TOKEN = r"[A-ZÀ-ÖØ-Þ][^\W\d_'’-]*(?:['’-][A-ZÀ-ÖØ-Þ]?[^\W\d_]+)*"


def cased_ok(w: str, mode: str) -> bool:
    """In a normally-cased note a name after a role is capitalised; lower and UPPER notes carry no case."""
    return mode != NORMAL or w[:1].isupper()
