"""General name families beside role nouns and labels: quoted nicknames, a role noun followed by a name
("rt Dana", "sister (Maria)"), ``Last, First`` table cells and labelled full names.
"""

from __future__ import annotations

import re

from appliance.scrub import patterns as P
from appliance.scrub.note import LOWER, NORMAL
from appliance.scrub.types import Entity
from appliance.scrub.words import (
    AFTER_ROLE_STOP,
    AMBIGUOUS_ROLES,
    CREDENTIAL_WORDS,
    MODALS,
    MONTH_WORDS,
    NAME_TOKEN,
    RELATIVE_WORDS,
    ROLE,
    ROLE_FIRST_WORDS,
    SPECIALTY,
    STAFF_ROLES,
    cased_ok,
    is_initials,
    match_at_words,
    name_word,
    plain,
    unknown_name_word,
)

_Q = "[\"“”]"
_QWORDS = r"[^\W\d_][^\W\d_'’.-]*(?: [^\W\d_][^\W\d_'’.-]*){0,2}"
_QUOTED_CUE = re.compile(
    rf"(?i)\b(?:(?:prefers?|likes?|wants?|asks?)\s+to\s+be\s+called|call(?:s|ed|ing)?\s+(?:out\s+)?for|goes\s+by|go\s+by|"
    rf"known\s+as|nicknamed?|a\.?k\.?a\.?|calls?\s+(?:him|her|them)(?:self)?|named)\s+{_Q}(?P<n>{_QWORDS}){_Q}"
)
_QUOTED_PAREN = re.compile(rf"\(\s*{_Q}(?P<n>{_QWORDS}){_Q}\s*(?=[,)]|\s+per\b)(?P<cue>\s+per\b|,\s*(?:states|says|per|calls|called)\b)?")

_FIRST_NICK_LAST = re.compile(rf"(?<![\w'’-])(?P<f>{NAME_TOKEN}) {_Q}(?P<q>{_QWORDS}){_Q} (?P<l>{NAME_TOKEN})(?![\w'’])")


def quoted(v: str, L) -> list[Entity]:
    out = []
    for rx in (_QUOTED_CUE, _QUOTED_PAREN):
        for m in rx.finditer(v):
            words = m.group("n").split()
            named = [w for w in words if name_word(w, L, loose=True) or is_initials(w)]
            cue = rx is _QUOTED_CUE or m.group("cue")
            if len(named) == len(words) or cue and not any(plain(w) in L.clinical or w.lower() in L.english_common for w in words):
                out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.75))
    for m in _FIRST_NICK_LAST.finditer(v):
        if name_word(m["f"], L, loose=True) and name_word(m["l"], L, loose=True):
            for g in ("f", "q", "l"):
                out.append(Entity(m.start(g), m.end(g), "NAME", 0.8))
    return out


_ITEM = r"[^\W\d_][^\W\d_'’.-]*(?:\s[^\W\d_][^\W\d_'’.-]*){0,2}"
_ROLE_PAREN = re.compile(rf"(?i)\b{ROLE}(?:['’]s)?(?:\s*\([^()]{{0,20}}\))?\s*\(\s*(?P<body>[^()\n]{{1,60}})\)")
_NAME_ROLE_PAREN = re.compile(rf"\(\s*(?P<n>{_ITEM})\s*,\s*(?:(?i:{STAFF_ROLES}|{P.CREDENTIAL})|#\s*\d+)\s*[,)]")
_ROLE_NEXT = re.compile(
    rf"(?i)(?<![\w/-])(?P<r>{ROLE})\b\s*(?:[:=]\s*|-\s+)?(?:(?:dr|mr|mrs|ms|miss)\b\.?\s+)?"
    rf"(?P<n>[^\W\d_][^\W\d_'’-]+(?:\.[^\W\d_]\.?)?)(?![/\w])(?:[ \t]+(?P<n2>[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*))?"
)
_TITLE_AMBIG = re.compile(r"(?i)\b(?:dr|doctor)\.?\s+(?P<n>may|will|june|march|august|hope|faith|summer|king|hill|rose|bill)\b(?=\s*(?:[.,;:)\n]|$|\s+(?:paged|called|notified|aware|at\b|saw\b|consulted)))")

_NAME_BEFORE_ROLE = re.compile(rf"(?<![\w'’-])(?P<n>[^\W\d_][^\W\d_'’-]+)\s*\(\s*(?i:{ROLE})\b(?!\s*\()")


def role_paren(v: str, mode: str, L) -> list[Entity]:
    out = []
    for m in match_at_words(v, _ROLE_PAREN, ROLE_FIRST_WORDS):
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
            if any(SPECIALTY.search(w) for w in words):
                continue
            if all(is_initials(w) or name_word(w, L, loose=True) for w in words) and cased_ok(words[0], mode if not is_initials(words[0]) else LOWER):
                out.append(Entity(s, s + len(item_wo_and), "NAME", 0.7))
    for m in _NAME_ROLE_PAREN.finditer(v):
        words = m.group("n").split()
        if all(is_initials(w) or name_word(w, L, loose=True) for w in words) and cased_ok(words[0], mode):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    return out


def role_next(v: str, mode: str, L) -> list[Entity]:
    out = []
    for m in match_at_words(v, _ROLE_NEXT, ROLE_FIRST_WORDS):
        w = m.group("n")
        lw = plain(w).rstrip(".")
        after = v[m.end("n") : m.end("n") + 12]
        labelled = ":" in v[m.end("r") : m.start("n")]
        if "\n" in v[m.end("r") : m.start("n")] and m.group("r").lower() in CREDENTIAL_WORDS:
            continue  # a sign-off credential ends its line: "Rose Tan, RN\n\nHomebound status"
        if not cased_ok(w, mode) or not labelled and re.search(r"\d\s*$", v[max(0, m.start() - 3) : m.start()]):
            continue
        if mode == NORMAL and re.fullmatch(r"[A-Z]{2}", w) and re.match(r"[.,;]|\s*$", after) and lw not in L.clinical and lw not in CREDENTIAL_WORDS:
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.65))  # "charge RN JS."
            continue
        if lw in MONTH_WORDS and re.match(r"\s*\d", after):
            continue
        # a modal with no verb after it is a name ("sister may from providence", "son Will 617-...")
        w2 = m.group("n2")
        surname_next = bool(w2) and unknown_name_word(w2, L) and plain(w2) in L.surnames
        if lw in MODALS and not (mode == NORMAL and w[:1].isupper()) and not surname_next and not re.match(r"\s*(?:[.,;)\n(]|$|\d|(?:from|in|at|is|was|and|who)\b)", after):
            continue
        if w.endswith("."):
            continue
        if lw not in MODALS and not name_word(w, L, loose=True) and not _bare_role_name(v, m, mode, L):
            continue
        if lw.endswith(("ed", "ing")) and lw in L.english_vocab and lw not in L.first_names and not (
            mode == NORMAL and lw in L.surnames and w2 and w2[:1].isupper() and unknown_name_word(w2, L)
        ):
            continue
        if mode != NORMAL and lw not in MODALS:
            # no capital to go by: a first name, a frequent surname that is no everyday word, or (after an
            # unambiguous role) a word no list knows; "rt"/"pa"/"cm" are also right, postero-anterior, centimetre
            strict = m.group("r").lower() in AMBIGUOUS_ROLES
            # after a relative ("husband raj"), any name-list word that is no everyday English word
            kin = m.group("r").lower() in RELATIVE_WORDS and (lw in L.surnames or lw in L.first_names) and lw not in L.english_common
            if not (kin or lw in L.first_names or lw in L.top_surnames and lw not in L.english_top or not strict and unknown_name_word(w, L)):
                continue
        if mode == NORMAL and w.isupper() and len(w) <= 4 and lw not in L.first_names and lw not in L.surnames:
            continue  # an abbreviation ("RN ICU")
        e = m.end("n")
        parts2 = [x for x in re.split(r"[-'’]", plain(w2 or "")) if len(x) > 1]
        if w2 and len(w2) > 1 and cased_ok(w2, mode) and (lw in L.first_names or mode == NORMAL) and (
            name_word(w2, L) and (plain(w2) in L.surnames and (mode == NORMAL or w2.lower() not in L.english_vocab) or unknown_name_word(w2, L))
            or lw in L.first_names and plain(w2) in L.top_surnames and plain(w2) not in L.clinical and re.match(r"\s*[(,]", v[m.end("n2") :])
            or len(parts2) > 1 and all(x in L.surnames or unknown_name_word(x, L) for x in parts2)
        ):
            e = m.end("n2")
        out.append(Entity(m.start("n"), e, "NAME", 0.7))
    for m in _NAME_BEFORE_ROLE.finditer(v):
        w = m.group("n")
        if cased_ok(w, mode) and name_word(w, L, loose=True):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for m in _TITLE_AMBIG.finditer(v):
        out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.75))
    return out


_CELL_NAME = re.compile(rf"\|\s*(?P<l>{NAME_TOKEN}),\s+(?P<f>{NAME_TOKEN})\s*(?=\|)")


def cell_names(v: str, L) -> list[Entity]:
    out = []
    for m in _CELL_NAME.finditer(v):
        if all(name_word(m[g], L) or unknown_name_word(m[g], L) for g in ("l", "f")):
            out.append(Entity(m.start("l"), m.end("f"), "NAME", 0.75))
    return out


_LABEL_NAME = re.compile(
    rf"(?i:\b(?:pt|patient|patient\s+name|name|resident|id|client|member|child|infant|subject))\s*:\s*"
    rf"(?P<n>{NAME_TOKEN}(?: {NAME_TOKEN}){{1,2}})"
)


def label_names(v: str, mode: str, L) -> list[Entity]:
    out = []
    for m in _LABEL_NAME.finditer(v):
        words = m.group("n").split()
        keep = 0
        for w in words:
            if name_word(w, L, loose=keep > 0) or all(unknown_name_word(p, L) or p in L.surnames for p in re.split(r"[-'’]", plain(w)) if len(p) > 1):
                keep += 1
            else:
                break
        if keep >= 2 and (plain(words[0]) in L.first_names or unknown_name_word(words[0], L)):
            end = m.start("n") + len(" ".join(words[:keep]))  # words are single-spaced
            out.append(Entity(m.start("n"), end, "NAME", 0.75))
        elif keep == 0 and len(words) >= 2 and _double_surname(words[1], L) and plain(words[0]) not in L.english_top and plain(words[0]) not in L.clinical:
            out.append(Entity(m.start("n"), m.start("n") + len(words[0]) + 1 + len(words[1]), "NAME", 0.7))  # "Patient: Dove Ames-Okoro"
    for m in _LAST_FIRST.finditer(v):
        if all(name_word(m[g], L, loose=True) or _double_surname(m[g], L) for g in ("l", "f")) and (m.group("lab") or _double_surname(m["l"], L) or unknown_name_word(m["l"], L)):
            out.append(Entity(m.start("l"), m.end("f"), "NAME", 0.75))
    return out


_LAST_FIRST = re.compile(
    rf"(?m)(?:(?P<lab>(?i:\b(?:pt|patient|patient\s+name|name))\s*:\s*)|^[ \t]*)(?P<l>{NAME_TOKEN}),[ \t]*(?P<f>{NAME_TOKEN})"
    rf"(?=[ \t]*(?:$|[ \t](?i:mrn|dob|dos|med\s+rec|acct|#)\b)|(?(lab)[ \t]{{2,}}|(?!)))"
)


def _double_surname(w: str, L) -> bool:
    """``Nakamura-Hale``, ``O'Brien-Sato``: two name parts joined by a hyphen, each a surname or unknown word."""
    parts = [x for x in re.split(r"[-'’]", plain(w)) if len(x) > 1]
    return "-" in w and len(parts) > 1 and all((x in L.surnames or unknown_name_word(x, L)) and x not in L.clinical for x in parts)


_BARE_ROLE_PREP = re.compile(r"(?i)\b(?:by|per|with|w/|from|to|and)\s*$")
_BARE_ROLE_NEXT = re.compile(r"\s+(?:for|at|who|to|re)\b|[,.;)]")


def _bare_role_name(v: str, m: re.Match, mode: str, L) -> bool:
    """``referred by RN Wren for ...``: a capitalised word after an unambiguous role that a preposition
    introduces and a preposition or a stop follows is a name even when it is an everyday word."""
    w, r = m.group("n"), m.group("r").lower()
    p = plain(w)
    return (
        mode == NORMAL
        and w[:1].isupper()
        and not w.isupper()
        and r not in AMBIGUOUS_ROLES
        and p not in L.english_top
        and p not in L.clinical
        and p not in AFTER_ROLE_STOP
        and bool(_BARE_ROLE_PREP.search(v, max(0, m.start() - 8), m.start()))
        and bool(_BARE_ROLE_NEXT.match(v, m.end("n")))
    )
