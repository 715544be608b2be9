"""Name shapes and cues: unknown capitalised words, names before a reporting verb, "my name is X", speaker
labels, lists of names, role words in lower-case notes, initial + surname sign-offs, dictation initials,
and the tails that finish a found name (suffixes, particles, nicknames).
"""

from __future__ import annotations

import re

from appliance.scrub import patterns as P
from appliance.scrub.lexicon import AMBIGUOUS_NAME_WORDS, CLINICAL_SHAPE, EPONYMS
from appliance.scrub.note import LOWER
from appliance.scrub.types import Entity
from appliance.scrub.words import (
    RELATION_WORDS,
    STOP_AFTER_NAME,
    eponym_use,
    looks_like_month,
    plain,
    unknown_word,
)

NAME_SUFFIX = re.compile(r",?\s+(?:Jr|Sr|II|III|IV|jr|sr)\b\.?")

_SENT_VERB = re.compile(
    r"\s+(?:is|was|has|had|lives|lived|says|said|reports|reported|states|stated|denies|denied|will|would|can|"
    r"could|works|worked|came|comes|went|goes|called|calls|presents|presented|agrees|agreed|prefers|wants|"
    r"feels|felt|notes|noted|tolerated|ambulated|refused|declined|asked|asks|c/o|complains)\b"
)
_UNI_NAME_WORD = re.compile(r"\b[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*\b")

_LOWER_ROLE = re.compile(
    r"\b(?:pt|patient|name|rn|lpn|cna|np|pa|md|rd|dr|ot|pt|slp|sw|worker|aide|nurse|chaplain|interpreter|coordinator|"
    r"counselor|therapist|pharmacist|tech|attending|resident|fellow|hospitalist|man|woman|boy|girl)\b[:,]?\s+"
    r"(?P<n>[a-z][a-z'’]+(?:-[a-z]+)?(?:[ \t]+[a-z][a-z'’]+(?:-[a-z]+)?){0,2})"
)


def _lower_name_shaped(w: str, L) -> bool:
    parts = [x for x in re.split(r"[-'’]", w) if x]
    return bool(parts) and all(
        (x in L.first_names or x in L.surnames) and x not in L.english_common or unknown_word(x, L) and not CLINICAL_SHAPE.search(x)
        for x in parts
        if len(x) > 1
    )


def lower_role_names(v: str, L) -> list[Entity]:
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
            if lw in L.clinical or lw in STOP_AFTER_NAME or looks_like_month(lw):
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


def initial_surnames(v: str, mode: str, L) -> list[Entity]:
    out = []
    for m in _INITIAL_SURNAME.finditer(v):
        sur = m.group("s")
        ls = sur.lower()
        if ls in L.clinical or ls in STOP_AFTER_NAME and mode == "normal" or len(ls) < 2:
            continue
        if looks_like_month(ls) and (mode == "normal" or re.match(r"\s*\d", v[m.end("s") : m.end("s") + 3])):
            continue
        if mode == "normal" and not sur[0].isupper():
            continue
        cred = m.group("c")
        signed = bool(cred and (_CRED_CI.fullmatch(cred.rstrip(".,")) or _CRED_CI.match(cred) and re.match(r"[A-Za-z.]+-", cred)))
        line = m.group("t") is not None and not cred and _SIGNATURE_LEAD.search(v, max(0, m.start() - 4), m.start()) is not None
        census = ls in L.surnames and ls not in L.english_top or ls in L.top_surnames
        if signed and (census or unknown_word(ls, L)) or line and (census or unknown_word(ls, L)) or census and mode != LOWER:
            out.append(Entity(m.start("n"), m.end("s"), "NAME", 0.7))
    return out


# transcription footer initials: "EM/ls", "JD:kw" (the dictating clinician's and the typist's)
_DICTATION = re.compile(r"(?m)(?:^|(?<=\s))(?P<a>[A-Z]{2,3})\s*[/:]\s*(?P<b>[a-z]{2,3})\s*$")


def dictation_initials(text: str) -> list[Entity]:
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


def name_tails(v: str, mode: str, ents: list[Entity], L) -> list[Entity]:
    """Complete names found elsewhere: a generational suffix ("Kevin Price Jr."), a nickname in brackets or
    quotes right after the name ("Margaret O'Brien ("Peggy")", "Wilhelmina Snow ("Billie")"), and in a
    lower-case note the name words before a surname no list knows ("pt grace wanjiru kimani")."""
    out = list(ents)
    for e in ents:
        if e.type != "NAME" or e.score < 0.5:
            continue
        end = e.end
        suf = NAME_SUFFIX.match(v, end)
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
            if lw not in L.clinical and lw not in STOP_AFTER_NAME and (lw in L.surnames and lw not in L.english_top or unknown_word(lw, L)) and not eponym_use(v, nxt.start(1), nxt.end(1)):
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
            if lw not in L.clinical and (quoted or lw in L.first_names or w[:1].isupper() and unknown_word(lw, L)) and not (not quoted and re.fullmatch(r"[a-z]{1,2}", lw)):
                out.append(Entity(nick.start(g), nick.end(g), "NAME", 0.65))
    return out


def _neighbour_name_word(w: str, L) -> bool:
    lw = w.lower()
    return lw not in L.english_common and lw not in L.clinical and lw not in RELATION_WORDS and lw not in L.countries and lw not in L.states and not looks_like_month(lw)


def name_shapes(v: str, L) -> list[Entity]:
    """Name-shaped words no word list knows: a first name opening a sentence before a verb ("Darren is"),
    words with non-English letters ("Šušulić"), and runs of two or three unknown capitalised words."""
    out = []
    words = [m for m in _UNI_NAME_WORD.finditer(v) if m.group(0)[0].isupper() and not m.group(0).isupper()]
    for i, m in enumerate(words):
        w = m.group(0)
        lw = w.lower()
        pw = plain(w)
        if lw in L.clinical or pw in L.clinical or pw in EPONYMS or lw in AMBIGUOUS_NAME_WORDS:
            continue
        if "-" in pw and any(x in EPONYMS or x in L.clinical for x in pw.split("-")):
            continue
        if lw in L.first_names and _SENT_VERB.match(v, m.end()) and lw not in L.english_common:
            out.append(Entity(m.start(), m.end(), "NAME", 0.6))
            continue
        if len(lw) < 3 or lw in L.english_vocab or pw in L.english_vocab:
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


def name_cues(v: str, mode: str, L) -> list[Entity]:
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
        if lw in L.first_names or (not w.isascii() and lw not in L.english_vocab) or (quote and unknown_word(lw, L)):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.6))
    for m in _SENT_START.finditer(v):
        w = m.group("n")
        lw = w.lower()
        if not _START_VERB.match(v, m.end("n")) or lw in AMBIGUOUS_NAME_WORDS:
            continue
        known = (lw in L.common_first or (lw in L.first_names or lw in L.common_surnames) and lw not in L.english_top) and lw not in L.clinical
        unknown = unknown_word(lw, L) and not (CLINICAL_SHAPE.search(lw) and lw not in L.surnames)
        if known or unknown:
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.55))
    return out


_BARE_LIST = re.compile(
    r"(?P<l>(?:[^\W\d_][^\W\d_'’-]+,\s+){1,8}[^\W\d_][^\W\d_'’-]+,?\s+(?:and|&)\s+[^\W\d_][^\W\d_'’-]+)\b"
    r"|\b(?P<p>[A-ZÀ-ÖØ-Þ][^\W\d_'’-]+\s+(?:and|&)\s+[A-ZÀ-ÖØ-Þ][^\W\d_'’-]+)\b"
)


def bare_lists(v: str, mode: str, L) -> list[Entity]:
    """A list of single words that are mostly known names is a list of people ("Efimiya, Mary, Ariana and Jodi",
    "founders: Monjeau, Graves and Reed", "silvana, adam, christopher and caleb"); its unknown members go too."""
    out = []
    for m in _BARE_LIST.finditer(v):
        items = [x for x in re.split(r",\s*|\s+(?:and|&)\s+", m.group(0)) if x]
        if mode == "normal" and not all(x[0].isupper() for x in items):
            continue
        lows = [x.lower() for x in items]
        if any(x in L.clinical or plain(x) in EPONYMS and x not in L.surnames or looks_like_month(x) or x in L.states for x in lows):
            continue
        named = [x in L.first_names or x in L.common_surnames for x in lows]
        foreign = [unknown_word(x, L) for x in lows]
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


def name_lists(v: str, found: list[Entity], L) -> list[Entity]:
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
