"""Names in sign-offs and messages: a name before a credential ("Rose Tan, RN"), slash-separated names,
transcription initials, salutations and closings, children lists, initial + surname after a signing cue.
"""

from __future__ import annotations

import re

from appliance.scrub import patterns as P
from appliance.scrub.note import LOWER, NORMAL, UPPER
from appliance.scrub.types import Entity
from appliance.scrub.words import (
    AFTER_ROLE_STOP,
    CREDENTIAL_WORDS,
    NAME_TOKEN,
    RELATIVES,
    ROLE_WORDS,
    STAFF_ROLES,
    cased_ok,
    first_words,
    is_initials,
    match_at_words,
    name_word,
    plain,
    unknown_name_word,
)

_SIGN_CRED = rf"(?:{P.CREDENTIAL}|pct|pca|cm|rt|sw)"
_NAME_CRED = re.compile(
    rf"(?i)(?P<lead>^|(?<=[a-z0-9][.!?])(?=[ \t]+(?-i:[A-Z]))|--+|[—–~]|\n|\bby|\bw/|\bper|\bwith|[-•*]\s|(?<=[a-z]):)[ \t]*(?P<n>(?:[a-z]\.\s?)?[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)?(?:\s(?:[a-z]\.\s)?[^\W\d_][^\W\d_'’-]+(?:['’-][^\W\d_]+)?)?)"
    rf"(?:[ \t]+|,[ \t]*)(?-i:{_SIGN_CRED}|(?i:rn|pct|pca|md|np|lpn|cna))\b(?=\s*(?:[:,.;)]|$|\n|and\b|\s*/))",
    re.MULTILINE,
)
_CAP_CRED = re.compile(rf"(?<![\w'’-])(?P<n>{NAME_TOKEN})\s+(?:PCT|PCA|RN|LPN|CNA|NP|RT|CM|SW)\b(?!-)")
_ANY_CRED = re.compile(_CAP_CRED.pattern, re.IGNORECASE)
_SLASH_NAME = re.compile(
    rf"(?i)\b(?:{P.TITLE}|{P.CREDENTIAL})\.?\s+(?:[^\W\d_]\.?\s+)?[^\W\d_][^\W\d_'’-]+\s*,?\s*(?:(?:{P.CREDENTIAL})\s*)?/\s*"
    rf"(?:(?:{STAFF_ROLES}|{P.TITLE})\.?\s+)?(?P<n>[^\W\d_][^\W\d_'’-]+)"
)
_SLASH_FIRST = first_words(f"{P.TITLE.strip('(?:)')}|{P.CREDENTIAL}")
_CRED_SLASH = re.compile(rf"(?i),\s*(?:{P.CREDENTIAL})\s*/\s*(?P<n>[^\W\d_][^\W\d_'’-]+)(?=\s*,\s*(?:pgy|{P.CREDENTIAL})\b)")
_SIGNOFF_INITIAL = re.compile(r"(?m)(?:^|--+|[—–])[ \t]*(?P<n>[A-Z]\.[ \t]?[A-Z][a-z'’]+(?:-[A-Z][a-z'’]+)?),[ \t]*[A-Z]")
_TRANSCRIBED = re.compile(r"(?im)\b(?:transcribed|dictated|typed|tx|dt|td)\b[^\n]{0,40}?[ \t](?P<n>(?-i:[a-z]{2,4}))[ \t]*$")


def name_cred(v: str, mode: str, L) -> list[Entity]:
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
        sur = titled and plain(words[1]) in L.surnames and plain(words[1]) not in L.clinical
        ok = []
        for i, w in enumerate(words):
            lw = plain(w.rstrip("."))
            short = signoff and len(lw) <= 3 and lw.isalpha() and lw not in AFTER_ROLE_STOP - {"her"}  # "-- n. her rn"
            given = sur and i == 0 and lw not in L.english_common and lw not in L.clinical and lw not in AFTER_ROLE_STOP
            ok.append(is_initials(w) or short or given or name_word(w, L, loose=True) or (signoff or sur) and i > 0 and lw in L.surnames)
        if not all(ok) or not cased_ok(words[0], mode if not signoff else LOWER):
            continue
        if any(plain(w.rstrip(".")) in ROLE_WORDS or plain(w.rstrip(".")) in CREDENTIAL_WORDS for w in words):
            continue
        out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    if mode == NORMAL:
        for m in _CAP_CRED.finditer(v):
            w = m.group("n")
            if name_word(w, L) and (plain(w) in L.first_names or unknown_name_word(w, L)):
                out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    elif mode == UPPER:
        # "REPORT GIVEN TO JOANNE RN": no case to go by, so only a first name that is no everyday word
        for m in _ANY_CRED.finditer(v):
            lw = plain(m.group("n"))
            if lw in L.first_names and lw not in L.english_common and name_word(lw, L):
                out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.65))
    for m in _CRED_SLASH.finditer(v):
        if name_word(m.group("n"), L, loose=True):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for m in _SIGNOFF_INITIAL.finditer(v):
        out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for m in match_at_words(v, _SLASH_NAME, _SLASH_FIRST):
        w = m.group("n")
        if cased_ok(w, mode) and name_word(w, L, loose=True):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for m in _TRANSCRIBED.finditer(v):
        if m.group("n") not in L.english_top and m.group("n") not in CREDENTIAL_WORDS:
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.6))
    return out


_SALUTE = re.compile(rf"(?im)(?:^|(?<=[.!?]\s))[ \t]*(?:hi|hello|hey|dear|good\s+(?:morning|afternoon|evening))[ \t]+(?P<n>{NAME_TOKEN})[ \t]*[,!]")
_CLOSING = re.compile(
    rf"(?i)\b(?:thanks(?:\s+so\s+much)?|thank\s+you(?:\s+so\s+much)?|sincerely|regards|best\s+wishes|best|love|cheers)[ \t]*[,!.]?\s+"
    rf"(?P<n>{NAME_TOKEN}(?:[ \t]{NAME_TOKEN})?)(?=[ \t]*(?:\n|$|-{{2,}}|\s{{2,}}))"
)
_SIGN_INITIALS = re.compile(
    r"(?i)\b(?:(?:description|dictated|read|reviewed|performed|verified|signed|initialed)\s+by|signed|sonographer|technologist|tech|phleb)"
    r"\s*:?[ \t]+(?P<n>(?-i:[A-Z]{2,3})|(?:[a-z]\.){2,3})(?=[\s.,;)]|$)"
)
_END_INITIALS = re.compile(r"(?:^|\s)(?:-{1,2}|[—–~])[ \t]*(?P<n>[a-z]{2,3}|[A-Z]{2,3})[ \t]*\Z")
_PT_FULL = re.compile(r"\b(?:pt|patient)\s+(?P<f>[a-z]{2,})\s+(?P<l>[a-z][a-z'’-]+)(?=\s*(?:[-,(]|dob\b|mrn\b|\d))")
_KIDS_LIST = re.compile(rf"\(\s*(?P<body>{NAME_TOKEN}\s+\d{{1,2}}(?:\s*,\s*(?:and\s+)?{NAME_TOKEN}\s+\d{{1,2}})+)\s*\)")
_ROLE_COMMA_AGE = re.compile(rf"(?i)\b(?:{RELATIVES}|name)\s*,?\s*\(?\s*(?P<n>(?-i:{NAME_TOKEN}))\s*(?:\(\s*\d{{1,2}}\s*\)|\))")
_DR_INITIAL = re.compile(r"\b(?:dr|doctor)\.?\s+(?P<n>[a-z]\.\s?[a-z][a-z'’-]+)\b")
_INITIAL_SURNAME_CUE = re.compile(rf"(?i)\b(?:by|{STAFF_ROLES})\b\s*:?\s+(?P<n>(?-i:[A-Z])\.\s?(?-i:{NAME_TOKEN}))")

_INITIAL_CRED = re.compile(rf"(?<![\w.])(?P<n>[A-Z]\.[ \t]?{NAME_TOKEN})[ \t]+(?:RN|MD|NP|PA-C|PA|LPN|CNA|PCT|DO)\b")


def messages_and_signatures(text: str, v: str, mode: str, L) -> list[Entity]:
    out = []
    if mode == NORMAL:
        for m in _INITIAL_CRED.finditer(v):
            if name_word(m.group("n").split(".")[-1].strip(), L, loose=True):
                out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for rx in (_SALUTE, _CLOSING):
        for m in rx.finditer(v):
            words = m.group("n").split()
            if all(name_word(w, L, loose=True) for w in words) and (mode != NORMAL or words[0][:1].isupper()):
                out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for m in _SIGN_INITIALS.finditer(text if mode == UPPER else v):
        n = m.group("n").rstrip(".").lower().replace(".", "")
        if n not in L.clinical and n not in CREDENTIAL_WORDS and n not in L.states and n not in AFTER_ROLE_STOP and (n not in L.english_vocab or len(n) == 2):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.6))
    m = _END_INITIALS.search(v[-40:])
    if m:
        n = m.group("n").lower()
        if n not in L.clinical and n not in CREDENTIAL_WORDS and n not in L.english_top:
            off = len(v) - len(v[-40:])
            out.append(Entity(off + m.start("n"), off + m.end("n"), "NAME", 0.6))
    if mode == LOWER:
        for m in _PT_FULL.finditer(v):
            f, lname = m.group("f"), m.group("l")
            if f in L.first_names and (plain(lname) in L.surnames or unknown_name_word(lname, L)) and plain(lname) not in L.clinical and lname not in AFTER_ROLE_STOP:
                out.append(Entity(m.start("f"), m.end("l"), "NAME", 0.65))
        for m in _DR_INITIAL.finditer(v):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for m in _KIDS_LIST.finditer(v) if "(" in v else ():
        base = m.start("body")
        for it in re.finditer(rf"(?P<n>{NAME_TOKEN})\s+\d", m.group("body")):
            if name_word(it.group("n"), L, loose=True):
                out.append(Entity(base + it.start("n"), base + it.end("n"), "NAME", 0.7))
    for m in _ROLE_COMMA_AGE.finditer(v) if "(" in v else ():
        if name_word(m.group("n"), L, loose=True):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    for m in _INITIAL_SURNAME_CUE.finditer(v):
        if name_word(m.group("n").split(".")[-1].strip(), L, loose=True):
            out.append(Entity(m.start("n"), m.end("n"), "NAME", 0.7))
    return out
