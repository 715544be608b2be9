"""Training the learned detector, the reproducible default build, and its patient-grouped cross-validation.

Design: training data is gold records (``{id, patient?, text, spans}``) plus, for stacking, the rules'
output on each note (:meth:`DetectionEngine.rule_pass`, computed once: the rules learn nothing, so one pass
serves every fold).  Gold types map onto the model's labels (:func:`label_of`): clinicians (``~HCPName``) are
names and bare years (``~DateYear``) dates for learning, though scoring keeps both neutral.  Training is
L-BFGS with elastic net, deterministic: the same records in the same order give the same bytes (the card
records the hashes of the inputs).  It uses one core; the CV runs its folds in sequence.

:func:`cross_validate` trains, per fold of :func:`~appliance.scrub.physionet.patient_folds`, on the other
folds' patients plus extra (synthetic) records and predicts the held-out patients, so no score comes from a
patient the model saw.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from appliance.scrub.learned.features import FEATURE_VERSION, gold_labels, note_features

# model labels: the contextual types plus the structured ones folded into PHONE / ID
_LABEL = {
    "NAME": "NAME", "~HCPName": "NAME", "DATE": "DATE", "~DateYear": "DATE", "LOCATION": "LOCATION",
    "FACILITY": "LOCATION", "ZIP": "LOCATION", "AGE": "AGE", "PHONE": "PHONE", "FAX": "PHONE",
}
PARAMS = {"c1": 0.05, "c2": 0.01, "max_iterations": 60, "feature.minfreq": 2, "feature.possible_transitions": True}


def label_of(gold_type: str) -> str:
    """The model label for a gold span type (``O`` for neutral labels other than clinicians and years)."""
    if gold_type in _LABEL:
        return _LABEL[gold_type]
    return "O" if gold_type.startswith("~") else "ID"


def rule_runs(records: list[dict], engine) -> list[tuple]:
    """The rules' (mode, raw, final) per record, in order: the stacking input, computed once."""
    return [(note.mode, raw, final) for note, raw, final in engine.rule_pass([r["text"] for r in records])]


def sequences(records: list[dict], runs: list[tuple]) -> list[tuple[list[list[str]], list[str]]]:
    out = []
    for r, (mode, raw, final) in zip(records, runs):
        toks, feats = note_features(r["text"], mode, raw, final)
        out.append((feats, gold_labels(toks, r["spans"], label_of)))
    return out


def train_crf(seqs: list[tuple[list[list[str]], list[str]]], params: dict | None = None) -> bytes:
    """Model bytes for these sequences (deterministic)."""
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    for feats, labels in seqs:
        if labels:
            trainer.append(feats, labels)
    trainer.set_params({**PARAMS, **(params or {})})
    fd, path = tempfile.mkstemp(suffix=".crfsuite")
    os.close(fd)
    try:
        trainer.train(path)
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


def records_hash(records: list[dict]) -> str:
    """sha256 over the records' texts and spans (what the card records: never the text itself)."""
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps([r["text"], [(s["start"], s["end"], s["type"]) for s in r["spans"]]], ensure_ascii=False).encode())
    return h.hexdigest()


def crfsuite_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("python-crfsuite")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def train_model(records: list[dict], runs: list[tuple], *, name: str, sources: dict[str, list[dict]] | None = None,
                params: dict | None = None, threshold: float | None = None) -> tuple[bytes, dict]:
    """(model bytes, card) trained on ``records`` (with their rule runs).  ``sources`` names the parts of
    ``records`` for the card (e.g. {"physionet-dev": [...], "synthetic": [...]}): counts and hashes only."""
    from appliance.scrub.learned.model import DEFAULT_THRESHOLD, DEFAULT_VETO_FLOOR

    t0 = time.perf_counter()
    seqs = sequences(records, runs)
    model = train_crf(seqs, params)
    card = {
        "name": name,
        "feature_version": FEATURE_VERSION,
        "crfsuite_version": crfsuite_version(),
        "params": {**PARAMS, **(params or {})},
        "threshold": DEFAULT_THRESHOLD if threshold is None else threshold,
        "veto_floor": DEFAULT_VETO_FLOOR,
        "labels": sorted({lab for _, labels in seqs for lab in labels}),
        "training": {k: {"notes": len(v), "spans": sum(len(r["spans"]) for r in v), "sha256": records_hash(v)}
                     for k, v in (sources or {"records": records}).items()},
        "tokens": sum(len(labels) for _, labels in seqs),
        "model_sha256": hashlib.sha256(model).hexdigest(),
    }
    card["_seconds"] = round(time.perf_counter() - t0, 1)  # dropped before writing the shipped card
    return model, card


def predict(detector, records: list[dict], runs: list[tuple]) -> list[list[tuple[int, int, str]]]:
    """The combined detections (start, end, type) per record, from precomputed rule runs."""
    from appliance.scrub.note import Note

    out = []
    for r, (mode, raw, final) in zip(records, runs):
        note = Note.make(r["text"])
        out.append([(e.start, e.end, e.type) for e in detector.combine(note, raw, final)])
    return out


def cross_validate(records: list[dict], runs: list[tuple], *, k: int = 5, extra: list[dict] = (), extra_runs: list[tuple] = (),
                   seed: int = 0, params: dict | None = None, threshold: float | None = None) -> dict:
    """Patient-grouped k-fold CV: per fold, train on the other folds' patients + ``extra``, predict the fold.

    Returns ``{"predictions": [...] in record order, "rules": [...], "folds": k, "train_seconds": [...]}``.
    """
    from appliance.scrub.learned.model import Detector
    from appliance.scrub.physionet import patient_folds

    preds: list = [None] * len(records)
    secs, models = [], []
    seq_all = sequences(records, runs)  # features do not depend on the fold
    seq_extra = sequences(list(extra), list(extra_runs))
    for train_idx, test_idx in patient_folds(records, k=k, seed=seed):
        t0 = time.perf_counter()
        model = train_crf([seq_all[i] for i in train_idx] + seq_extra, params)
        secs.append(round(time.perf_counter() - t0, 1))
        models.append((model, test_idx))
        from appliance.scrub.learned.model import DEFAULT_THRESHOLD

        det = Detector(model, {"feature_version": FEATURE_VERSION, "threshold": DEFAULT_THRESHOLD if threshold is None else threshold})
        for i, p in zip(test_idx, predict(det, [records[i] for i in test_idx], [runs[i] for i in test_idx])):
            preds[i] = p
    rules = [[(e.start, e.end, e.type) for e in final] for _, _, final in runs]
    return {"predictions": preds, "rules": rules, "folds": k, "train_seconds": secs, "models": models}


# -- the shipped default ------------------------------------------------------------------------------------
DEFAULT_SYNTHETIC = {"n": 200, "seed": 7}


def default_training_records(devset: Path) -> dict[str, list[dict]]:
    """The public training data of the default model: the PhysioNet dev notes and seeded synthetic notes."""
    from appliance.scrub.physionet import convert_physionet
    from appliance.scrub.synthetic import generate_notes

    return {"physionet-deid-dev": convert_physionet(Path(devset)), "synthetic": generate_notes(DEFAULT_SYNTHETIC["n"], seed=DEFAULT_SYNTHETIC["seed"])}


def rules_engine(settings=None):
    """The rules alone (no learned detector): the stacking input, and the baseline a model must beat."""
    from appliance.config import ScrubSection
    from appliance.scrub.engine import DetectionEngine

    return DetectionEngine(settings if settings is not None else ScrubSection(workers=1), learned=False)


def build_default(devset: Path, out_dir: Path) -> dict:
    """Rebuild ``crf-default.crfsuite`` + ``crf-default.json`` in ``out_dir`` from public data (deterministic)."""
    from appliance._internal.atomic import atomic_write

    sources = default_training_records(devset)
    records = [r for part in sources.values() for r in part]
    model, card = train_model(records, rule_runs(records, rules_engine()), name="default", sources=sources)
    card["synthetic"] = DEFAULT_SYNTHETIC
    seconds = card.pop("_seconds")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "crf-default.crfsuite", model, mode=0o644)
    atomic_write(out_dir / "crf-default.json", json.dumps(card, indent=2, sort_keys=True) + "\n", mode=0o644)
    return {"model": str(out_dir / "crf-default.crfsuite"), "model_sha256": card["model_sha256"], "train_seconds": seconds,
            "training": card["training"]}
