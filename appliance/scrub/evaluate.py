"""Token-level evaluation of PHI detection against gold spans, optionally beside plain Presidio.

Tokens are runs of word characters (``\\w+``).  A gold token of a Safe Harbor type is *recalled* when any
detected span overlaps it, whatever type the detector gave (a scrubber must hide PHI; its label is
secondary).  A detected token is *correct* when it lies in any Safe Harbor gold span; tokens inside gold spans
of non-Safe-Harbor labels (``~ORGANIZATION`` …) and courtesy titles ("Dr", "Mrs") are neutral in both
directions.  Recall is reported per gold
type, precision per detected type, plus value coverage (share of gold spans whose every token is recalled)
character precision (non-space characters flagged that lie in Safe Harbor gold), the clinical damage (the share
of non-PHI tokens replaced, and the share of clinical-vocabulary tokens kept: :mod:`appliance.scrub.damage`),
and a list of misses for review.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from appliance.errors import InputError
from appliance.scrub.damage import kept_share, vocabulary_counts

_TOK = re.compile(r"\w+")
# label words inside a gold value ("Patient ID: ABCD1234") that are not themselves identifying
_LABEL_WORDS = frozenset(
    ["patient", "pt", "id", "site", "mrn", "no", "number", "num", "member", "policy", "account", "acct", "dr", "mr", "mrs", "ms", "medicare", "medicaid", "insurance", "case", "email", "health", "record", "records", "the", "our", "in", "at"]
)

# courtesy titles are neutral tokens: never PHI, yet asq-phi puts them inside NAME values and our labelled
# notes leave them outside; scoring them either way would reward one convention's span edges
_TITLES = frozenset(["dr", "mr", "mrs", "ms", "miss", "mx", "prof", "rev"])

# Presidio's entity names -> Safe Harbor types, for the baseline
PRESIDIO_TO_SH = {
    "PERSON": "NAME", "LOCATION": "LOCATION", "DATE_TIME": "DATE", "PHONE_NUMBER": "PHONE", "EMAIL_ADDRESS": "EMAIL",
    "US_SSN": "SSN", "IP_ADDRESS": "IP_ADDRESS", "URL": "URL", "CREDIT_CARD": "ACCOUNT", "IBAN_CODE": "ACCOUNT",
    "US_BANK_NUMBER": "ACCOUNT", "US_DRIVER_LICENSE": "LICENSE", "MEDICAL_LICENSE": "LICENSE", "US_PASSPORT": "ID",
    "US_ITIN": "ID", "CRYPTO": "ID", "UK_NHS": "ID", "NRP": "NRP", "ORGANIZATION": "FACILITY",
}


def load_gold(path: Path) -> list[dict]:
    recs = []
    try:
        with Path(path).open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                r = json.loads(line)
                if "text" not in r or "spans" not in r:
                    raise ValueError("needs text and spans")
                r.setdefault("id", str(n))
                recs.append(r)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read gold file {path}: {e}", hint="gold lines are {\"id\",\"text\",\"spans\"}") from None
    return recs


def score(gold: list[dict], predictions: list[list[tuple[int, int, str]]], *, max_misses: int = 500) -> dict:
    """Token-level recall/precision per type and overall; ``predictions`` are (start, end, type) per record."""
    g_tot: dict[str, int] = defaultdict(int)
    g_hit: dict[str, int] = defaultdict(int)
    p_tot: dict[str, int] = defaultdict(int)
    p_ok: dict[str, int] = defaultdict(int)
    v_tot: dict[str, int] = defaultdict(int)
    v_hit: dict[str, int] = defaultdict(int)
    misses = []
    plain_tok = plain_hit = c_tot = c_ok = vocab_tot = vocab_kept = 0
    for rec, preds in zip(gold, predictions):
        text = rec["text"]
        vt, vk = vocabulary_counts(text, [(a, b) for a, b, _t in preds], [(s["start"], s["end"]) for s in rec["spans"]])
        vocab_tot += vt
        vocab_kept += vk
        c_gold = bytearray(len(text))  # 1 Safe Harbor, 2 neutral
        for s in rec["spans"]:
            c_gold[s["start"] : s["end"]] = (b"\2" if s["type"].startswith("~") else b"\1") * (s["end"] - s["start"])
        c_pred = bytearray(len(text))
        for a0, b0, _t in preds:
            c_pred[a0:b0] = b"\1" * (b0 - a0)
        for i, ch in enumerate(text):
            if c_pred[i] and not ch.isspace() and c_gold[i] != 2:
                c_tot += 1
                c_ok += c_gold[i] == 1
        toks = [(m.start(), m.end()) for m in _TOK.finditer(text)]
        gold_type = [None] * len(toks)
        neutral = [False] * len(toks)
        pred_type = [None] * len(toks)
        for s in rec["spans"]:
            for i, (a, b) in enumerate(toks):
                if a < s["end"] and b > s["start"]:
                    if s["type"].startswith("~"):
                        neutral[i] = True
                    else:
                        gold_type[i] = s["type"]
        for a0, b0, t in preds:
            for i, (a, b) in enumerate(toks):
                if a < b0 and b > a0:
                    pred_type[i] = t
        for i, (a, b) in enumerate(toks):
            if text[a:b].lower() in _TITLES:
                continue  # "Dr", "Mrs": not PHI, inside the gold span in one dataset's convention, outside in another's
            if gold_type[i]:
                g_tot[gold_type[i]] += 1
                if pred_type[i]:
                    g_hit[gold_type[i]] += 1
            if not gold_type[i] and not neutral[i]:
                plain_tok += 1
                plain_hit += bool(pred_type[i])
            if pred_type[i] and not (neutral[i] and not gold_type[i]):
                p_tot[pred_type[i]] += 1
                if gold_type[i]:
                    p_ok[pred_type[i]] += 1
        for s in rec["spans"]:
            if s["type"].startswith("~"):
                continue
            idx = [i for i, (a, b) in enumerate(toks) if a < s["end"] and b > s["start"]]
            ident = [i for i in idx if text[toks[i][0] : toks[i][1]].lower() not in _LABEL_WORDS] or idx
            v_tot[s["type"]] += 1
            if all(pred_type[i] for i in ident):
                v_hit[s["type"]] += 1
            elif len(misses) < max_misses:
                missed = " ".join(text[toks[i][0] : toks[i][1]] for i in ident if not pred_type[i])
                misses.append(
                    {
                        "id": rec["id"],
                        "type": s["type"],
                        "value": text[s["start"] : s["end"]],
                        "missed_tokens": missed,
                        "context": text[max(0, s["start"] - 50) : s["end"] + 50].replace("\n", " "),
                    }
                )
    per_type = {}
    for t in sorted(set(g_tot) | set(p_tot)):
        per_type[t] = {
            "gold_tokens": g_tot.get(t, 0),
            "recall": round(g_hit[t] / g_tot[t], 4) if g_tot.get(t) else None,
            "pred_tokens": p_tot.get(t, 0),
            "precision": round(p_ok[t] / p_tot[t], 4) if p_tot.get(t) else None,
            "values": v_tot.get(t, 0),
            "values_covered": round(v_hit[t] / v_tot[t], 4) if v_tot.get(t) else None,
        }
    G, H, PT, PO = sum(g_tot.values()), sum(g_hit.values()), sum(p_tot.values()), sum(p_ok.values())
    VT, VH = sum(v_tot.values()), sum(v_hit.values())
    overall = {
        "gold_tokens": G,
        "recall": round(H / G, 4) if G else None,
        "pred_tokens": PT,
        "precision": round(PO / PT, 4) if PT else None,
        "values": VT,
        "values_covered": round(VH / VT, 4) if VT else None,
        "char_precision": round(c_ok / c_tot, 4) if c_tot else None,
        "non_phi_tokens": plain_tok,
        "non_phi_replaced": round(plain_hit / plain_tok, 4) if plain_tok else None,
        "clinical_vocab_tokens": vocab_tot,
        "clinical_vocab_kept": kept_share(vocab_tot, vocab_kept),
    }
    return {"records": len(gold), "overall": overall, "per_type": per_type, "misses": misses}


def presidio_baseline(spacy_model: str) -> Callable[[list[str]], list[list[tuple[int, int, str]]]]:
    """Plain Presidio: ``AnalyzerEngine`` with default recognizers and the same spaCy model (full pipeline).

    Built offline: the model is loaded by :func:`~appliance.scrub.engine.load_spacy` (no download) and
    tldextract pinned to its snapshot.  Returns a function texts → (start, end, SH type) per text.
    """
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    from appliance.scrub.engine import load_spacy, make_tldextract_offline, resolve_spacy_model

    make_tldextract_offline()
    nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": resolve_spacy_model(spacy_model)}])
    nlp_engine.nlp = {"en": load_spacy(spacy_model, full=True)}  # instead of .load(), which may download
    analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
    batch = BatchAnalyzerEngine(analyzer_engine=analyzer)

    def run(texts: list[str]) -> list[list[tuple[int, int, str]]]:
        out = []
        for results in batch.analyze_iterator(texts, language="en", batch_size=32):
            out.append([(r.start, r.end, PRESIDIO_TO_SH.get(r.entity_type, r.entity_type)) for r in results])
        return out

    return run


def evaluate_file(gold_path: Path, settings, *, baseline: str | None = None, workers: int | None = None, limit: int | None = None) -> dict:
    """Run the appliance scrubber (and optionally the Presidio baseline) over a gold file and score both."""
    from appliance.scrub import Scrubber

    gold = load_gold(gold_path)
    if limit:
        gold = gold[:limit]
    texts = [r["text"] for r in gold]
    t0 = time.perf_counter()
    with Scrubber(settings, workers=workers) as s:
        t1 = time.perf_counter()
        ents = s.detect_batch(texts)
        t2 = time.perf_counter()
    report = {"gold": str(gold_path), "appliance": score(gold, [[(e.start, e.end, e.type) for e in es] for es in ents])}
    report["appliance"]["seconds"] = round(t2 - t1, 2)
    report["appliance"]["startup_seconds"] = round(t1 - t0, 2)
    if baseline == "presidio":
        run = presidio_baseline(settings.spacy_model)
        t3 = time.perf_counter()
        preds = run(texts)
        report["presidio"] = score(gold, preds, max_misses=0)
        report["presidio"]["seconds"] = round(time.perf_counter() - t3, 2)
    elif baseline:
        raise InputError(f"unknown baseline {baseline!r}", hint="use --baseline presidio")
    return report
