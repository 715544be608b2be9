"""Token features for the learned detector: what real, terse clinical notes need, plus the rules' own output.

Design: a note is cut into ``\\w+`` tokens (the evaluator's tokens, so labels and scores align).  Each token
gets string attributes (python-crfsuite's cheapest input):

- the word itself, its shape (``Xxxx``, ``dd/dd``), case, length, affixes, and the note's case mode
  (all-caps and all-lower-case notes defeat capitalisation cues, so the model must know which it reads);
- lexicon hits through the public word lists (first names, surnames, cities, states, English frequency,
  the clinical vocabulary and its veto predicate);
- position in the line (first token, index), the punctuation around it, and the section header it sits
  under ("Neuro:", "Social:", "Dispo:");
- stacking: which recognizer found the token (``src=spacy_ner``, ``src=clinical_names`` …) and the type the
  rules finally report after their own veto — so the CRF learns where each rule is wrong (spaCy on
  all-caps text, drug names) and what they miss (short hospital names, towns);
- the same word, shape and rule features for the neighbours at -2..+2.

``FEATURE_VERSION`` changes whenever the features change; a model card records it and a model built for
another version is refused.
"""

from __future__ import annotations

import re
from functools import lru_cache

FEATURE_VERSION = "crf-features-1"

TOKEN = re.compile(r"\w+")
_HEADER = re.compile(r"(?m)^[ \t]*([A-Za-z][A-Za-z/ &.-]{1,24}?)\s*:")
_MONTHS = frozenset(
    "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july august "
    "september october november december".split()
)
_TITLES = frozenset(["dr", "mr", "mrs", "ms", "miss", "mx", "prof", "rn", "md", "np", "pa"])
_RELATIVES = frozenset(
    "wife husband son daughter dtr mother mom father dad sister brother niece nephew friend aunt uncle cousin "
    "spouse partner grandson granddaughter hcp proxy family fiance fiancee".split()
)


@lru_cache(maxsize=1)
def _lists() -> dict[str, frozenset[str]]:
    from appliance.scrub.lexicon import lexicon
    from appliance.scrub.vocabulary import clinical_vocab

    L = lexicon()
    return {
        "fn": L.first_names, "cfn": L.common_first, "sn": L.surnames, "csn": L.common_surnames,
        "city": L.cities, "cnty": L.counties, "state": L.states, "ctry": L.countries,
        "eng": L.english_vocab, "engc": L.english_common, "clin": clinical_vocab() | L.clinical,
    }


def _shape(tok: str) -> str:
    out = []
    for c in tok:
        s = "X" if c.isupper() else "x" if c.isalpha() else "d" if c.isdigit() else c
        if not out or out[-1] != s:
            out.append(s)
    return "".join(out)[:8]


def _case(tok: str) -> str:
    if tok.isdigit():
        return "num"
    if any(c.isdigit() for c in tok):
        return "alnum"
    if tok.isupper():
        return "up"
    if tok.islower():
        return "low"
    if tok[:1].isupper():
        return "title"
    return "mix"


@lru_cache(maxsize=200_000)
def _word_feats(tok: str) -> tuple[str, ...]:
    """Features of the word alone (cached: notes repeat their vocabulary)."""
    from appliance.scrub.vocabulary import is_vocabulary_word

    w = tok.lower()
    f = ["w=" + w[:24], "sh=" + _shape(tok), "case=" + _case(tok), "len=" + str(min(len(tok), 8)), "s3=" + w[-3:], "p3=" + w[:3]]
    if w.isalpha():
        lists = _lists()
        f += [k for k, s in lists.items() if w in s]
        if w in _MONTHS:
            f.append("month")
        if w in _TITLES:
            f.append("title")
        if w in _RELATIVES:
            f.append("rel")
        f.append("voc" if is_vocabulary_word(tok) else "novoc")
    elif tok.isdigit():
        n = int(tok[:6])
        f.append("n>89" if 89 < n < 130 else "n<=31" if n <= 31 else "n=" + str(len(tok)))
    return tuple(f)


def _headers(text: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group(1).strip().lower()[:16]) for m in _HEADER.finditer(text)]


def token_range(toks: list[tuple[int, int]], starts: list[int], a: int, b: int) -> range:
    """Indices of the tokens overlapping ``[a, b)`` (``starts`` = each token's start, sorted)."""
    import bisect

    i = bisect.bisect_right(starts, a) - 1
    if i < 0 or toks[i][1] <= a:
        i += 1
    j = i
    while j < len(toks) and toks[j][0] < b:
        j += 1
    return range(max(i, 0), j)


def token_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in TOKEN.finditer(text)]


def note_features(text: str, mode: str, raw: list[tuple[str, object]], final: list[object]) -> tuple[list[tuple[int, int]], list[list[str]]]:
    """(token spans, attribute lists) for one note.

    ``raw`` is the engine's (recognizer name, entity) list before veto and merging, ``final`` the rules'
    reported entities; both only need ``start``, ``end``, ``type`` and ``score``.
    """
    toks = token_spans(text)
    n = len(toks)
    src: list[list[str]] = [[] for _ in range(n)]
    rule: list[str] = ["O"] * n
    starts = [a for a, _ in toks]

    def cover(a: int, b: int) -> range:
        return token_range(toks, starts, a, b)

    for name, e in raw:
        for i in cover(e.start, e.end):
            tag = f"src={name}:{e.type}"
            if tag not in src[i]:
                src[i].append(tag)
            if e.score >= 0.85 and "hi" not in src[i]:
                src[i].append("hi")
    for e in final:
        rng = cover(e.start, e.end)
        for k, i in enumerate(rng):
            rule[i] = ("B-" if k == 0 else "I-") + e.type
    heads = _headers(text)
    hi = 0
    header = "none"
    line_idx = 0
    feats: list[list[str]] = []
    words = [text[a:b] for a, b in toks]
    base = [_word_feats(w) for w in words]
    for i, (a, b) in enumerate(toks):
        while hi < len(heads) and heads[hi][0] <= a:
            header = heads[hi][1]
            hi += 1
        prev_end = toks[i - 1][1] if i else 0
        gap = text[prev_end:a]
        if i == 0 or "\n" in gap:
            line_idx = 0
        else:
            line_idx += 1
        nxt = text[b : (toks[i + 1][0] if i + 1 < n else len(text))]
        pre = gap.strip()[-2:] or ("_" if gap else "")
        post = nxt.strip()[:2] or ("_" if nxt else "")
        f = ["b", "mode=" + mode, "hdr=" + header, "lp=" + str(min(line_idx, 4)), "pre=" + pre, "post=" + post, "r=" + rule[i]]
        f += base[i]
        f += src[i]
        if "\n" in nxt or i + 1 == n:
            f.append("eol")
        for d in (-2, -1, 1, 2):
            j = i + d
            if 0 <= j < n:
                bw = base[j]
                f += [f"{d}:{bw[0]}", f"{d}:{bw[1]}", f"{d}:r={rule[j][2:] if rule[j] != 'O' else 'O'}"]
                if abs(d) == 1:
                    f += [f"{d}:{x}" for x in bw[6:] if x in ("fn", "sn", "clin", "title", "rel", "city", "month", "voc")]
            else:
                f.append(f"{d}:pad")
        feats.append(f)
    return toks, feats


def gold_labels(toks: list[tuple[int, int]], spans: list[dict], label_of) -> list[str]:
    """One label per token: the model label of the gold span covering it, else ``O``."""
    labels = ["O"] * len(toks)
    for s in spans:
        lab = label_of(s["type"])
        if lab == "O":
            continue
        for i, (a, b) in enumerate(toks):
            if a < s["end"] and b > s["start"]:
                labels[i] = lab
    return labels
