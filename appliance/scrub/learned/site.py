"""Site adaptation: train a site model, review detections for labelling, compare a candidate before activating.

Design: the three steps an ML engineer runs on a new hospital's notes.

- :func:`train_site`: labelled notes (the ``[[TYPE:value]]`` markup of ``scrub convert-devset markup``, or
  gold JSONL) plus the public data the default was built from (seeded synthetic notes, and the PhysioNet
  dev notes when given) → a model sealed in the home (:mod:`.store`), not yet active.
- :func:`review_items` / :func:`write_markup`: a seeded sample of notes from a source, each with the
  scrubber's detections and its near-misses (tokens the CRF nearly flagged, rule hits it vetoed), for a
  person to confirm or correct; the decisions become markup that ``train_site`` reads.
- :func:`compare_models`: the active model, a candidate and the rules alone on the same labelled notes
  (rules run once), with recall, character precision and the clinical damage figure.  Audited.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from appliance.errors import InputError


def load_labelled(path: Path) -> list[dict]:
    """Labelled notes from markup (``=== note: ID ===`` + ``[[TYPE:value]]``) or gold JSONL."""
    from appliance.scrub.devsets import convert_markup
    from appliance.scrub.evaluate import load_gold

    path = Path(path)
    head = path.read_text(encoding="utf-8")[:4096].lstrip()
    return load_gold(path) if head.startswith("{") else convert_markup(path)


def train_site(keys, labelled: Path, settings=None, *, devset: Path | None = None, synthetic: int | None = None) -> dict:
    """Train on the site's labelled notes (+ synthetic, + dev notes when given), seal it; returns its id."""
    from appliance.scrub.learned.store import save_site_model
    from appliance.scrub.learned.train import DEFAULT_SYNTHETIC, rule_runs, rules_engine, train_model
    from appliance.scrub.synthetic import generate_notes

    site = load_labelled(labelled)
    if not site:
        raise InputError(f"{labelled}: no labelled notes", hint="label notes as [[TYPE:value]] (appliance scrub review writes them)")
    n_syn = DEFAULT_SYNTHETIC["n"] if synthetic is None else synthetic
    sources = {"site": site, "synthetic": generate_notes(n_syn, seed=DEFAULT_SYNTHETIC["seed"])} if n_syn else {"site": site}
    if devset is not None:
        from appliance.scrub.physionet import convert_physionet

        sources["physionet-deid-dev"] = convert_physionet(devset)
    records = [r for part in sources.values() for r in part]
    model, card = train_model(records, rule_runs(records, rules_engine(settings)), name="site", sources=sources)
    model_id = save_site_model(keys, model, card)
    return {"model": model_id, "training": card["training"], "train_seconds": card["_seconds"], "active": False}


def _read_source(path: Path) -> list[dict]:
    path = Path(path)
    if path.suffix == ".jsonl":
        out = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    r = json.loads(line)
                    out.append({"id": str(r.get("id", n)), "text": str(r["text"])})
                except (ValueError, KeyError):
                    raise InputError(f"{path}:{n}: expected {{\"id\",\"text\"}}", hint="one JSON note per line") from None
        return out
    return [{"id": path.stem, "text": path.read_text(encoding="utf-8")}]


def review_items(source: Path, engine, *, sample: int = 20, seed: int = 0, near: float = 0.1) -> list[dict]:
    """Detections and near-misses in a seeded sample of the source's notes, for a person to judge.

    Each item: ``{note, start, end, value, type, kind}``; ``kind`` is ``detection`` (the scrubber replaces
    it; ``type`` is what it would say) or ``near-miss`` (kept as text: a token the CRF gave P >= ``near``,
    or a rule hit the CRF vetoed; ``type`` is the best guess).
    """
    notes = _read_source(source)
    if not notes:
        raise InputError(f"{source}: no notes", hint='a .txt note or .jsonl of {"id","text"}')
    pick = sorted(random.Random(seed).sample(range(len(notes)), min(sample, len(notes))))
    chosen = [notes[i] for i in pick]
    items = []
    for r, (note, raw, rule_ents) in zip(chosen, engine.rule_pass([r["text"] for r in chosen])):
        det = engine.learned
        final = det.combine(note, raw, rule_ents) if det is not None else rule_ents
        covered = [(e.start, e.end) for e in final]
        for e in final:
            items.append({"note": r["id"], "start": e.start, "end": e.end, "value": r["text"][e.start:e.end], "type": e.type, "kind": "detection"})
        cands = [(e.start, e.end, e.type) for e in rule_ents]
        if det is not None:
            toks, probs = det.token_probs(note.text, note.mode, raw, rule_ents)
            cands += [(a, b, lab) for (a, b), (lab, p) in zip(toks, probs) if near <= p < det.threshold]
        for a, b, t in sorted(set(cands)):
            if not any(s <= a and b <= e for s, e in covered) and not any(i["note"] == r["id"] and i["start"] == a for i in items):
                items.append({"note": r["id"], "start": a, "end": b, "value": r["text"][a:b], "type": t, "kind": "near-miss"})
    return items, {r["id"]: r["text"] for r in chosen}


def apply_decisions(items: list[dict], decisions: dict[tuple[str, int, int], str] | None, *, accept: bool) -> list[dict]:
    """The spans a person confirmed: ``decisions[(note, start, end)]`` is a type or "O"; otherwise, with
    ``accept``, detections stand and near-misses are not PHI."""
    out = []
    for it in items:
        key = (it["note"], it["start"], it["end"])
        if decisions and key in decisions:
            t = decisions[key]
        elif accept:
            t = it["type"] if it["kind"] == "detection" else "O"
        else:
            raise InputError(f"note {it['note']}: no decision for {it['kind']} at {it['start']}-{it['end']}",
                             hint="answer every item, pass a --labels file, or --yes to accept the detections")
        if t != "O":
            out.append({**it, "type": t})
    return out


def read_decisions(path: Path) -> dict[tuple[str, int, int], str]:
    """A labels file: JSON lines ``{"note", "start", "end", "type"}`` (type "O" = not PHI)."""
    from appliance.scrub.types import SAFE_HARBOR_TYPES

    out = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            key, t = (str(d["note"]), int(d["start"]), int(d["end"])), str(d["type"])
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{path}:{n}: expected {{\"note\",\"start\",\"end\",\"type\"}}", hint="one decision per line") from None
        if t != "O" and t not in SAFE_HARBOR_TYPES:
            raise InputError(f"{path}:{n}: unknown type {t!r}", hint="a Safe Harbor type or O")
        out[key] = t
    return out


def write_markup(texts: dict[str, str], spans: list[dict], dest: Path) -> dict:
    """Write the reviewed notes as ``[[TYPE:value]]`` markup (the input of ``scrub train``)."""
    from appliance._internal.atomic import atomic_write

    parts = []
    for nid, text in texts.items():
        mine = sorted((s for s in spans if s["note"] == nid), key=lambda s: s["start"])
        out, pos = [], 0
        for s in mine:
            if s["start"] < pos:
                continue  # overlapping decisions: the first stands
            out += [text[pos:s["start"]], f"[[{s['type']}:{text[s['start']:s['end']]}]]"]
            pos = s["end"]
        out.append(text[pos:])
        parts.append(f"=== note: {nid} ===\n" + "".join(out).strip("\n") + "\n")
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(Path(dest), "\n".join(parts))
    return {"notes": len(texts), "spans": len(spans), "out": str(dest)}


def _figures(gold: list[dict], preds) -> dict:
    from appliance.scrub.evaluate import score

    o = score(gold, preds, max_misses=0)["overall"]
    return {k: o[k] for k in ("recall", "precision", "char_precision", "non_phi_replaced")}


def compare_models(keys, gold_path: Path, candidate: str, settings=None) -> dict:
    """Rules alone, the active model and ``candidate`` on the same labelled notes; audited (figures only)."""
    from appliance.scrub.learned.model import Detector, default_model
    from appliance.scrub.learned.store import DEFAULT_ID, active_id, audit_eval, load_site_model
    from appliance.scrub.learned.train import predict, rule_runs, rules_engine

    gold = load_labelled(gold_path)
    runs = rule_runs(gold, rules_engine(settings))
    act = active_id(keys.home, keys)

    def detector(model_id: str):
        return Detector(*(default_model() if model_id == DEFAULT_ID else load_site_model(keys, model_id)))

    res = {
        "gold": str(gold_path), "notes": len(gold), "active_model": act, "candidate_model": candidate,
        "rules": _figures(gold, [[(e.start, e.end, e.type) for e in f] for _, _, f in runs]),
        "active": _figures(gold, predict(detector(act), gold, runs)),
        "candidate": _figures(gold, predict(detector(candidate), gold, runs)),
    }
    better = res["candidate"]["recall"] >= res["active"]["recall"] and res["candidate"]["char_precision"] >= res["active"]["char_precision"]
    res["candidate_better"] = bool(better)
    audit_eval(keys, candidate, act, {"notes": len(gold), "active": res["active"], "candidate": res["candidate"]})
    return res
