"""Evaluation of model versions: held-out perplexity (overall, per source, per ingest month), the
train-vs-held-out gap, a memorization probe and a PHI probe; and the promotion gate.

Public API:

- :func:`evaluate_version` — ``appliance eval``: everything above for one registered version, on the records
  of its own data manifest (decrypted in memory), stored with the version in the registry.
- :func:`evaluate_model` — the same on any model dir and any record set (used by tests and by retrain).
- :func:`compare` — champion vs candidate on old and new held-out sets, with the PHI probe; :func:`decide`.

Records are sampled stably (by a hash of the record id) up to ``max_eval_records`` per set, so two models
evaluated on "the same set" see exactly the same records.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from appliance.config import GateSection
from appliance.evaluate.gate import decide
from appliance.evaluate.perplexity import LoadedModel, grouped_ppl, load_model, ppl, record_nll
from appliance.evaluate.probes import memorization, phi_rate
from appliance.home import Home

__all__ = [
    "EvalRecord",
    "compare",
    "decide",
    "evaluate_model",
    "evaluate_version",
    "load_detector",
    "load_model",
    "sample_ids",
]


@dataclass(frozen=True)
class EvalRecord:
    id: str
    source: str = "(unknown)"
    month: str = "(unknown)"  # note month (date column) or ingest month, YYYY-MM


def sample_ids(ids: Sequence[str], limit: int, salt: str = "eval") -> list[str]:
    """A stable subset of at most ``limit`` ids: the lowest sha256(salt:id) values, in id order."""
    if len(ids) <= limit:
        return sorted(ids)
    ranked = sorted(ids, key=lambda i: hashlib.sha256(f"{salt}:{i}".encode()).digest())
    return sorted(ranked[:limit])


def load_detector(home: Home | None = None, keys=None):
    """The site scrubber (settings from ``appliance.toml``), in-process: the probe's few samples do not
    repay starting worker processes.  Use it as a context manager; pass ``.detect_batch`` to the probes."""
    from appliance.config import ScrubSection, load_site_config
    from appliance.errors import MissingComponent

    try:
        from appliance.scrub import Scrubber
    except ImportError as e:
        raise MissingComponent(f"the PHI scrubber is not available ({e})",
                               hint="install the appliance with its scrub dependencies") from None
    settings = load_site_config(home.config_path).scrub if home is not None else ScrubSection()
    # detection does not use the surrogate secret; a derived one keeps the scrubber's contract
    secret = keys.derive("scrub") if keys is not None and hasattr(keys, "derive") else b"\0" * 32
    return Scrubber(settings, workers=1, secret=secret)


def _month(ts: str | None) -> str:
    return ts[:7] if ts else "(unknown)"


def evaluate_model(
    model_dir: Path | LoadedModel,
    read_text: Callable[[str], str],
    heldout: Sequence[EvalRecord],
    train: Sequence[EvalRecord] = (),
    *,
    settings: GateSection | None = None,
    detector: Callable[[list[str]], list[list]] | None = None,
    seq_len: int = 128,
) -> dict:
    """Perplexity of ``heldout`` (overall / by source / by month), of ``train`` (the gap), memorization and PHI."""
    settings = settings or GateSection()
    t0 = time.perf_counter()
    lm = model_dir if isinstance(model_dir, LoadedModel) else load_model(Path(model_dir))
    held = [heldout[i] for i in _stable_idx(heldout, settings.max_eval_records, "heldout")]
    trn = [train[i] for i in _stable_idx(train, settings.max_eval_records, "train")]
    h_texts = [read_text(r.id) for r in held]
    h_scores = record_nll(lm, h_texts, seq_len=seq_len)
    out: dict = {
        "perplexity": {
            "overall": ppl(h_scores),
            "records": len(held),
            "tokens": sum(n for _, n in h_scores),
            "by_source": grouped_ppl(h_scores, [r.source for r in held]),
            "by_month": grouped_ppl(h_scores, [r.month for r in held]),
        }
    }
    t_texts: list[str] = []
    if trn:
        t_texts = [read_text(r.id) for r in trn]
        t_scores = record_nll(lm, t_texts, seq_len=seq_len)
        tp, hp = ppl(t_scores), out["perplexity"]["overall"]
        out["train_perplexity"] = tp
        out["gap"] = {"heldout_over_train": round(hp / tp - 1, 4) if tp and hp else None,
                      "nats": round(math.log(hp) - math.log(tp), 4) if tp and hp else None}
    if settings.memorization_records:
        m = settings.memorization_records
        out["memorization"] = {
            "train": memorization(lm, t_texts[:m], settings.memorization_prefix_tokens, settings.memorization_k),
            "heldout": memorization(lm, h_texts[:m], settings.memorization_prefix_tokens, settings.memorization_k),
        }
    del h_texts, t_texts
    if detector is not None:
        out["phi"] = phi_rate(lm, detector, settings.phi_samples, settings.phi_tokens, settings.seed)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def _stable_idx(recs: Sequence[EvalRecord], limit: int, salt: str) -> list[int]:
    keep = set(sample_ids([r.id for r in recs], limit, salt))
    return [i for i, r in enumerate(recs) if r.id in keep]


def _vault_records(home: Home, keys, ids: set[str]):
    from appliance.vault import Vault

    vault = Vault.open(home, keys)
    metas = {m.id: m for m in vault.list_records(None, "active") if m.id in ids}
    return vault, metas


def evaluate_version(home: Home, keys, version: str, *, settings: GateSection | None = None,
                     phi: bool = True, store: bool = True) -> dict:
    """``appliance eval``: evaluate a registered version on its own data manifest's records (still active)."""
    from appliance import registry
    from appliance.audit import record
    from appliance.config import load_site_config

    settings = settings or load_site_config(home.config_path).retrain.gate
    v = registry.resolve_name(home, version)
    model_dir = registry.resolve(home, v, verify=True)
    manifest = registry.data_manifest(home, v) or {}
    recipe = registry.get(home, v).get("recipe") or {}
    seq_len = int((recipe.get("data") or {}).get("seq_len") or 128)
    rows = manifest.get("records", [])
    ids = {r["id"] for r in rows}
    vault, metas = _vault_records(home, keys, ids) if rows else _vault_records(home, keys, set())
    if not rows:  # an imported base model: a stable sample of everything active in the vault
        metas = {m.id: m for m in vault.list_records(None, "active")}
        rows = [{"id": i, "split": "heldout"} for i in metas]

    # The note's own month (ingested with --date-column) when known, else the ingest month.
    note_months = {rid: x.note_month for rid, x in vault.record_extras(set(metas)).items() if x.note_month}

    def rec(r):
        m = metas[r["id"]]
        return EvalRecord(m.id, m.source, note_months.get(m.id) or _month(m.ingested_at))

    heldout = [rec(r) for r in rows if r["split"] == "heldout" and r["id"] in metas]
    train = [rec(r) for r in rows if r["split"] == "train" and r["id"] in metas]
    missing = sum(1 for r in rows if r["id"] not in metas)
    scrubber = load_detector(home, keys) if phi else None
    try:
        res = evaluate_model(model_dir, vault.read_text, heldout, train, settings=settings,
                             detector=scrubber.detect_batch if scrubber else None, seq_len=seq_len)
    finally:
        if scrubber is not None:
            scrubber.close()
    res = {"version": v, **res, "records_no_longer_active": missing}
    if store:
        registry.store_evaluation(home, v, "eval", res)
    record(home, "models.evaluate", {"version": v, "heldout_records": res["perplexity"]["records"],
                                     "heldout_ppl": res["perplexity"]["overall"],
                                     "phi_per_1k": (res.get("phi") or {}).get("per_1k_tokens")},
           signer=keys.signer)
    return res


def compare(champion_dir: Path, candidate_dir: Path, read_text: Callable[[str], str], old: Sequence[str],
            new: Sequence[str], *, settings: GateSection, detector=None, seq_len: int = 128) -> dict:
    """Score champion and candidate on the same old and new held-out records (and the PHI probe); gate them."""
    old_ids = sample_ids(list(old), settings.max_eval_records, "old")
    new_ids = sample_ids(list(new), settings.max_eval_records, "new")
    old_texts = [read_text(i) for i in old_ids]
    new_texts = [read_text(i) for i in new_ids]
    side = {}
    for name, d in (("champion", champion_dir), ("candidate", candidate_dir)):
        lm = load_model(Path(d))
        side[name] = {
            "old_ppl": ppl(record_nll(lm, old_texts, seq_len=seq_len)) if old_ids else None,
            "new_ppl": ppl(record_nll(lm, new_texts, seq_len=seq_len)) if new_ids else None,
        }
        if detector is not None:
            side[name]["phi"] = phi_rate(lm, detector, settings.phi_samples, settings.phi_tokens, settings.seed)
        del lm
    result = decide(side["champion"], side["candidate"], settings)
    result.update({"champion": side["champion"], "candidate": side["candidate"],
                   "old_records": len(old_ids), "new_records": len(new_ids)})
    return result
