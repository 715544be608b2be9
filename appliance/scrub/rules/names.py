"""Person names: titles, credentials, trigger words, first-name + surname pairs, ``Last, First``, initials, in
cased, ALL-CAPS and lower-case notes.  Shape- and cue-based name rules are in
:mod:`appliance.scrub.rules.name_shapes`; spaCy PERSON entities in :mod:`appliance.scrub.rules.ner`.
"""

from __future__ import annotations

import re

from appliance.scrub import patterns as P
from appliance.scrub.lexicon import AMBIGUOUS_NAME_WORDS, EPONYMS, lexicon
from appliance.scrub.note import LOWER, UPPER, Note
from appliance.scrub.rules.base import ClinicalRecognizer
from appliance.scrub.rules.name_shapes import (
    NAME_SUFFIX,
    bare_lists,
    dictation_initials,
    initial_surnames,
    lower_role_names,
    name_cues,
    name_lists,
    name_shapes,
)
from appliance.scrub.types import Entity
from appliance.scrub.words import (
    LABEL_WORDS,
    NOT_PLACE_WORDS,
    STOP_AFTER_NAME,
    eponym_use,
    looks_like_month,
    strip_span,
    unknown_word,
)

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


def _is_name_word(w: str, *, strict: bool, continuation: bool = False) -> bool:
    """Could ``w`` be part of a person's name? strict=True demands a gazetteer hit; continuation=True means
    it follows a name word ("Michael Brown", "Jane Doe"), where any known surname is accepted."""
    L = lexicon()
    lw = w.lower().strip(".'’").removesuffix("'s").removesuffix("’s")
    if len(lw) == 1:
        return w[0].isupper()
    if lw in LABEL_WORDS:
        return False  # "John Smith MRN: 123": the label ends the name
    if lw in STOP_AFTER_NAME or lw in NOT_PLACE_WORDS or looks_like_month(lw):
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
    if nxt and (unknown_word(nxt.group(1).lower(), L) or nxt.group(1).lower() in L.common_surnames):
        b += nxt.end()
    return Entity(a, b, "NAME", 0.7)


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
                suf = NAME_SUFFIX.match(v, end)
                if suf:
                    end = suf.end()
                a, b = strip_span(v, s, end)
                if b > a and not eponym_use(v, a, b):
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
                    and lw not in STOP_AFTER_NAME
                    and lw not in NOT_PLACE_WORDS
                    and not looks_like_month(lw)
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
                    if lw in L.first_names and lw not in L.clinical and lw not in STOP_AFTER_NAME:
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
                    out.append(Entity(*strip_span(v, s, s + len(" ".join(keep))), "NAME", 0.85))
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
                if not weak and (lower or note.mode == UPPER) and _RELATIVE_TRIGGER.match(trig) and unknown_word(fw, L):
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
                    lw not in L.english_common and lw not in L.clinical and not looks_like_month(lw)
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
                if not (ll in L.surnames and ll not in STOP_AFTER_NAME and l_[1:2].islower()) and not _is_name_word(
                    l_, strict=False, continuation=True
                ):
                    continue
            s, e = strip_span(v, m.start("f"), m.end("l") if not lower else m.end("all"))
            if not eponym_use(v, m.start("l"), m.end("l")):
                out.append(Entity(s, e, "NAME", 0.8))
        if lower:
            for m in re.finditer(r"\b(?:patient|pt|name|re)\s*:\s*(?P<l>[a-z][a-z'’-]+),\s*(?P<f>[a-z]+)\b", v):
                out.append(Entity(m.start("l"), m.end("f"), "NAME", 0.8))
        if not lower:
            for m in _LAST_FIRST_CAPS.finditer(note.text):
                ll, fl = m.group("l").lower(), m.group("f").lower()
                if (fl in L.first_names or ll in L.surnames) and fl not in L.clinical and ll not in L.clinical:
                    out.append(Entity(*strip_span(v, m.start(), m.end()), "NAME", 0.8))
            for m in _LAST_INITIAL_RX.finditer(v):
                if m.group(1).lower() in L.common_surnames and m.group(1).lower() not in L.clinical:
                    out.append(Entity(m.start(), m.end(), "NAME", 0.65))  # "Smith J."
            for m in _LAST_FIRST_RX.finditer(v):
                fl, ll = m.group("f").lower(), m.group("l").lower()
                if fl in L.clinical or ll in L.clinical or ll in L.english_common and ll not in L.surnames:
                    continue
                labelled = bool(re.search(r"(?i)\b(?:patient|pt|name|re|attn)\s*:?\s*$", v[max(0, m.start() - 12) : m.start()]))
                if labelled or (fl in L.first_names and ll in L.surnames):
                    out.append(Entity(*strip_span(v, m.start(), m.end()), "NAME", 0.8))
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
                    if ((mid and w in L.common_first) or w not in L.english_vocab) and not eponym_use(v, m.start(), m.end()):
                        out.append(Entity(m.start(), m.end(), "NAME", 0.6))
        if note.mode == "normal":
            out += name_shapes(v, L)
        out += name_cues(v, note.mode, L)
        out += bare_lists(v, note.mode, L)
        if note.mode == "normal":
            out += name_lists(v, out, L)
        if lower:
            out += lower_role_names(v, L)
        out += initial_surnames(v, note.mode, L)
        out += dictation_initials(note.text)
        return out


_RELATIVE_TRIGGER = re.compile(
    r"(?:(?:son|daughter|mother|father|brother|sister)-in-law|step(?:son|daughter|mother|father|mom|dad)|dtr|son|sons|daughter|daughters|wife|husband|mother|mom|father|dad|brother|sister|spouse|partner|friend|neighbou?r|"
    r"caregiver|guardian|grandson|granddaughter|grandmother|grandfather|niece|nephew|aunt|uncle|cousin|fianc[eé]e?|"
    r"boyfriend|girlfriend|roommate|named|kid|child)\b"
)


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
        and lw not in STOP_AFTER_NAME
        and lw not in NOT_PLACE_WORDS
        and lw not in L.english_top
        # the most frequent census surnames are names after a frequent first name, English words or not
        or pl in L.common_first
        and w[:1].isupper()
        and lw in L.top_surnames
        and lw not in L.clinical
        and lw not in STOP_AFTER_NAME
        and lw not in NOT_PLACE_WORDS
    )
