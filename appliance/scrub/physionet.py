"""The PhysioNet deid gold standard as a development set, a re-surrogated copy of it, and patient-grouped folds.

Design: the corpus (``id.text`` records + ``id-phi.phrase`` offsets) becomes gold lines ``{id, patient,
text, spans}``; its labels map onto the appliance's Safe Harbor types, and the two that are not required
(``HCPName`` clinicians, ``DateYear`` a bare year) keep a ``~`` prefix so scoring treats them as neutral.
Its PHI values are already surrogates, drawn from lists built on this corpus, so a scrubber could score well by
learning them; :func:`resurrogate` replaces every gold value by a fresh value of the same kind and shape
(case, length, digit layout) from lists that never saw the corpus, remapping offsets.  Anything learned or
tuned is scored with :func:`patient_folds` (k-fold, grouped by patient, as in scikit-learn's ``GroupKFold``),
so no score comes from a patient the scrubber learned from.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from appliance.errors import InputError

# deid label -> appliance type ("~" = neutral: neither required nor a false positive)
PHYSIONET_MAP = {
    "PTName": "NAME",
    "PTNameInitial": "NAME",
    "RelativeProxyName": "NAME",
    "HCPName": "~HCPName",
    "Date": "DATE",
    "DateYear": "~DateYear",
    "Location": "LOCATION",
    "Phone": "PHONE",
    "Age": "AGE",
    "Other": "ID",
}
_RECORD = re.compile(r"START_OF_RECORD=([^|\n]+)\|\|\|\|([^|\n]+)\|\|\|\|\n(.*?)\|\|\|\|END_OF_RECORD", re.DOTALL)


def convert_physionet(src: Path) -> list[dict]:
    """``DIR`` holding ``id.text`` and ``id-phi.phrase`` → gold records (``id`` is ``patient-note``)."""
    src = Path(src)
    text_path, phrase_path = src / "id.text", src / "id-phi.phrase"
    for p in (text_path, phrase_path):
        if not p.is_file():
            raise InputError(f"{p} not found", hint="pass the folder holding id.text and id-phi.phrase")
    raw = text_path.read_text(encoding="utf-8", errors="replace")
    notes: dict[tuple[str, str], dict] = {}
    for m in _RECORD.finditer(raw):
        key = (m.group(1).strip(), m.group(2).strip())
        notes[key] = {"id": f"{key[0]}-{key[1]}", "patient": key[0], "text": m.group(3), "spans": []}
    if not notes:
        raise InputError(f"{text_path}: no START_OF_RECORD=P||||N|||| … ||||END_OF_RECORD record found",
                         hint="is this the deid id.text file?")
    for n, line in enumerate(phrase_path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split(None, 5)
        if not parts:
            continue
        try:
            pat, note, start, end, label = parts[0], parts[1], int(parts[2]), int(parts[3]), parts[4]
        except (IndexError, ValueError):
            raise InputError(f"{phrase_path}:{n}: expected 'PATIENT NOTE START END TYPE VALUE'", hint="fix or drop the line") from None
        rec = notes.get((pat, note))
        if rec is None:
            raise InputError(f"{phrase_path}:{n}: record {pat}/{note} is not in {text_path.name}", hint="use the matching id.text")
        if label not in PHYSIONET_MAP:
            raise InputError(f"{phrase_path}:{n}: unknown type {label!r}", hint="types: " + ", ".join(PHYSIONET_MAP))
        if not 0 <= start < end <= len(rec["text"]):
            raise InputError(f"{phrase_path}:{n}: offsets {start}-{end} outside the record", hint="offsets count characters of the record text")
        rec["spans"].append({"start": start, "end": end, "type": PHYSIONET_MAP[label], "label": label})
    out = list(notes.values())
    for r in out:
        r["spans"].sort(key=lambda s: s["start"])
    return out


def patient_folds(records: list[dict], k: int = 5, seed: int = 0) -> list[tuple[list[int], list[int]]]:
    """(train indices, test indices) per fold; every patient's notes fall in exactly one test fold."""
    patients = sorted({str(r.get("patient", r["id"])) for r in records})
    if len(patients) < k:
        raise InputError(f"{len(patients)} patients cannot make {k} folds", hint="use fewer folds")
    random.Random(seed).shuffle(patients)
    fold_of = {p: i % k for i, p in enumerate(patients)}
    folds = []
    for f in range(k):
        test = [i for i, r in enumerate(records) if fold_of[str(r.get("patient", r["id"]))] == f]
        train = [i for i, r in enumerate(records) if fold_of[str(r.get("patient", r["id"]))] != f]
        folds.append((train, test))
    return folds


# -- re-surrogation ---------------------------------------------------------------------------------------
_KEEP_WORDS = frozenset(
    ["hospital", "medical", "center", "clinic", "health", "care", "rehab", "rehabilitation", "nursing", "home", "house", "of", "the", "and", "st", "saint", "general", "memorial", "county", "university", "unit", "ward", "floor", "icu", "ccu", "micu", "sicu", "csru", "street", "st.", "ave", "road", "rd"]
)
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]


def _pools():
    from appliance.scrub.lexicon import lexicon

    L = lexicon()
    first = sorted(n for n in L.common_first if n.isalpha() and len(n) > 2)
    last = sorted(n for n in L.top_surnames if n.isalpha() and len(n) > 2)
    cities = sorted(c for c in L.cities if c.replace(" ", "").isalpha() and len(c) > 3)
    return first, last, cities


def _shape_like(new: str, old: str) -> str:
    if old.isupper():
        return new.upper()
    if old.islower():
        return new.lower()
    return new[:1].upper() + new[1:].lower() if old[:1].isupper() else new


def _fresh_digits(value: str, rng: random.Random) -> str:
    return re.sub(r"\d", lambda _m: str(rng.randint(0, 9)), value)


def _fresh_date(value: str, rng: random.Random) -> str:
    m = re.fullmatch(r"(\d{1,2})([/-])(\d{1,2})(.*)", value)
    if m:
        mo, day = rng.randint(1, 12), rng.randint(1, 28)
        pad = len(m.group(1)) == 2
        return (f"{mo:02d}" if pad else str(mo)) + m.group(2) + (f"{day:02d}" if len(m.group(3)) == 2 else str(day)) + _fresh_digits(m.group(4), rng)

    def month(mm: re.Match) -> str:
        w = mm.group(0)
        full = _MONTHS[rng.randrange(12)]
        new = full[: len(w)] if len(w) <= 4 else full
        return _shape_like(new, w)

    out = re.sub(r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*", month, value)
    return re.sub(r"\d{1,2}", lambda mm: str(rng.randint(1, 28)).zfill(len(mm.group(0))), out)


def _fresh_word(word: str, kind: str, rng: random.Random, pools) -> str:
    first, last, cities = pools
    if not word.isalpha():
        return _fresh_digits(word, rng) if any(c.isdigit() for c in word) else word
    if word.lower() in _KEEP_WORDS and kind == "LOCATION":
        return word
    if len(word) <= 2 or (kind == "LOCATION" and word.isupper() and len(word) <= 5):
        return "".join(rng.choice("ABCDEFGHJKLMNPRSTVW") for _ in word) if word.isupper() else _shape_like(
            "".join(rng.choice("abcdefghjklmnprstvw") for _ in word), word)
    if kind == "LOCATION":
        new = rng.choice(cities).split()[0]
    elif kind == "NAME":
        new = rng.choice(first if rng.random() < 0.4 else last)
    else:
        new = "".join(rng.choice("abcdefghjklmnprstvw") for _ in word)
    return _shape_like(new, word)


def fresh_value(value: str, label: str, rng: random.Random, pools=None) -> str:
    """A new value of the same kind and shape as ``value`` (a deid label or an appliance type)."""
    kind = PHYSIONET_MAP.get(label, label).lstrip("~")
    if kind in ("DATE", "DateYear"):
        return _fresh_date(value, rng)
    if kind in ("PHONE", "ID"):
        return _fresh_digits(value, rng) if any(c.isdigit() for c in value) else value
    if kind == "AGE":
        return str(rng.randint(90, 104)) if value.strip().isdigit() else value
    pools = pools or _pools()
    if kind == "HCPName":
        kind = "NAME"
    parts = re.split(r"(\W+)", value)
    return "".join(p if (not p or not p[0].isalnum()) else _fresh_word(p, kind, rng, pools) for p in parts)


def resurrogate(records: list[dict], seed: int = 0) -> list[dict]:
    """A copy of ``records`` where every gold value is replaced by a fresh one, offsets remapped."""
    rng = random.Random(seed)
    pools = _pools()
    out = []
    seen: dict[tuple[str, str, str], str] = {}  # one patient's repeated value gets one fresh value
    for r in records:
        text, spans, pieces, pos, shift = r["text"], [], [], 0, 0
        for s in sorted(r["spans"], key=lambda x: x["start"]):
            if s["start"] < pos:  # overlapping gold spans: keep the first
                continue
            old = text[s["start"] : s["end"]]
            key = (str(r.get("patient", r["id"])), s["type"], old.lower())
            if key not in seen:
                seen[key] = fresh_value(old, s.get("label", s["type"]), rng, pools)
            new = _shape_like(seen[key], old) if old.isalpha() else seen[key]
            pieces.append(text[pos : s["start"]])
            start = s["start"] + shift
            spans.append({**s, "start": start, "end": start + len(new)})
            pieces.append(new)
            shift += len(new) - len(old)
            pos = s["end"]
        pieces.append(text[pos:])
        out.append({**r, "id": f"{r['id']}~rs", "text": "".join(pieces), "spans": spans})
    return out
