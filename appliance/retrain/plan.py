"""The monthly retrain plan: what to train on, from which model, with which learning rate.

Given the champion (or, with ``exclude_shredded``, its newest ancestor untouched by shredding):

* new records   = active vault records (the recipe's sources) in no data manifest of the base version or
                  its ancestors;
* replay        = a stable sample of the lineage's training records, sized so replay is ``replay_fraction`` of
                  the training mix (``n_replay = f / (1 - f) * n_new_train``), chosen by a hash of
                  (base version, record id) so the same plan always picks the same records;
* held-out sets = the lineage's held-out records (old) and the new records the trainer's split puts aside
                  (new) — the split is a hash of the record id with the base's ``heldout_fraction``, so a
                  record never crosses sides between months;
* learning rate = ``lr_rewarm_fraction`` × the original peak (the first trained ancestor's ``train.lr``),
                  re-warmed over ``warmup_fraction`` of the steps, then decayed (cosine or WSD).

The plan holds ids and counts only.  Its hash names the run (``retrain-<base>-<hash>``), so the same plan
resumes the same run and a plan already decided is not trained twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from appliance._internal.hashing import canonical_json, sha256_bytes
from appliance.config import RetrainSection
from appliance.errors import UsageError
from appliance.home import Home


@dataclass
class Plan:
    champion: str
    base: str | None  # version warm-started from; None = the root recipe's own starting point
    base_reason: str
    run_name: str
    heldout_fraction: float
    new_train: list[str]
    new_heldout: list[str]
    replay: list[str]
    old_heldout: list[str]
    old_train_available: int
    replay_fraction: float
    lr: dict[str, Any]
    recipe: dict
    sources: list[str]
    exclude_shredded: bool
    shredded_excluded: int = 0
    warnings: list[str] = field(default_factory=list)
    plan_sha256: str = ""

    @property
    def record_ids(self) -> list[str]:
        """Every record the training run reads (both splits)."""
        return sorted(set(self.new_train) | set(self.new_heldout) | set(self.replay) | set(self.old_heldout))

    @property
    def nothing_new(self) -> bool:
        return not self.new_train and not self.new_heldout

    def to_dict(self) -> dict:
        d = asdict(self)
        d["counts"] = {"new_train": len(self.new_train), "new_heldout": len(self.new_heldout),
                       "replay": len(self.replay), "old_heldout": len(self.old_heldout),
                       "old_train_available": self.old_train_available,
                       "training_records": len(self.new_train) + len(self.replay)}
        mix = len(self.new_train) + len(self.replay)
        d["replay_share"] = round(len(self.replay) / mix, 4) if mix else 0.0
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Plan:
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in names})


def _replay_order(base: str, ids: list[str]) -> list[str]:
    return sorted(ids, key=lambda i: hashlib.sha256(f"replay:{base}:{i}".encode()).digest())


def _first_trained_lr(home: Home, version: str) -> float | None:
    """``train.lr`` of the oldest trained ancestor (the original peak learning rate)."""
    from appliance import registry

    lr, v = None, version
    while v is not None:
        info = registry.get(home, v)
        rec = info.get("recipe") or {}
        if info["kind"] == "trained" and (rec.get("train") or {}).get("lr") is not None:
            lr = float(rec["train"]["lr"])
        v = info["parent"]
    return lr


def _root_trained(home: Home, version: str) -> dict:
    from appliance import registry

    v, info = version, registry.get(home, version)
    while info["parent"] is not None and registry.get(home, info["parent"])["kind"] == "trained":
        v = info["parent"]
        info = registry.get(home, v)
    return info


def _seen_by_lineage(home: Home, version: str | None) -> dict[str, str]:
    """``{record id: split}`` over the data manifests of ``version`` and all its ancestors: what the model's
    lineage has seen.  (A retrain's own manifest holds only its new records and the replay sample.)"""
    from appliance import registry

    seen: dict[str, str] = {}
    v = version
    while v is not None:
        for r in (registry.data_manifest(home, v) or {}).get("records", []):
            if seen.get(r["id"]) != "heldout":  # a record held out anywhere stays held out
                seen[r["id"]] = r["split"]
        v = registry.get(home, v)["parent"]
    return seen


def _base_recipe(home: Home, settings: RetrainSection, champion_info: dict) -> dict:
    if settings.recipe:
        from appliance.train.recipe import load_recipe

        return load_recipe(settings.recipe).model_dump(mode="json")
    rec = champion_info.get("recipe")
    if not rec:
        raise UsageError(f"champion {champion_info['version']} has no recipe (an imported base model)",
                         hint="set retrain.recipe in appliance.toml to the recipe for fine-tuning it")
    return json.loads(json.dumps(rec))


def _lr_plan(recipe: dict, settings: RetrainSection, original_lr: float) -> dict:
    t = recipe.setdefault("train", {})
    steps = settings.max_steps or int(t.get("max_steps") or 40)
    warmup = min(steps - 1, max(1, round(settings.warmup_fraction * steps))) if steps > 1 else 0
    return {"original_peak_lr": original_lr, "rewarm_fraction": settings.lr_rewarm_fraction,
            "peak_lr": original_lr * settings.lr_rewarm_fraction, "warmup_steps": warmup, "max_steps": steps,
            "schedule": settings.schedule, "min_lr_ratio": t.get("min_lr_ratio", 0.1)}


def make_plan(home: Home, vault, settings: RetrainSection, *, exclude_shredded: bool = False,
              overrides: list[str] | None = None) -> Plan:
    """Plan the next retrain from the registry and the vault catalog (ids only; nothing is decrypted)."""
    from appliance import registry
    from appliance.train.data import is_heldout, split_group

    champ = registry.champion(home)
    if champ is None:
        raise UsageError("no champion model to retrain from",
                         hint="appliance train --config R.yaml, then appliance models promote VERSION")
    champ_info = registry.get(home, champ)
    warnings: list[str] = []
    tainted = registry.tainted_versions(home)
    base: str | None = champ
    reason = "champion"
    if exclude_shredded and champ in tainted:
        base = champ_info["parent"]
        while base is not None and base in tainted:  # descendants of a tainted version are tainted too
            base = registry.get(home, base)["parent"]
        reason = (f"newest ancestor of {champ} not trained on shredded records" if base else
                  f"every trained ancestor of {champ} saw shredded records: train again from the root recipe")
    elif champ in tainted:
        warnings.append(f"champion {champ} was trained on since-shredded records; "
                        "`appliance retrain --exclude-shredded` retrains without them")

    recipe = _base_recipe(home, settings, champ_info)
    base_info = registry.get(home, base) if base else None
    data = recipe.setdefault("data", {})
    if base_info and base_info.get("recipe"):
        heldout_fraction = float((base_info["recipe"].get("data") or {}).get("heldout_fraction", 0.05))
    else:
        heldout_fraction = float(data.get("heldout_fraction", 0.05))
    data["heldout_fraction"] = heldout_fraction  # the split must not move between months
    sources = list(data.get("sources") or ["*"])

    active = vault.list_records(None if "*" in sources else sources, "active")
    active_ids = {m.id for m in active}
    seen = _seen_by_lineage(home, base)
    new = sorted(i for i in active_ids if i not in seen)
    # the same patient-grouped split the training manifest uses (train.data.build_manifest)
    patients = {rid: x.patient_key for rid, x in vault.record_extras().items() if x.patient_key} \
        if hasattr(vault, "record_extras") else {}
    new_train = [i for i in new if not is_heldout(split_group(i, patients.get(i)), heldout_fraction)]
    new_heldout = [i for i in new if is_heldout(split_group(i, patients.get(i)), heldout_fraction)]
    old_train = sorted(i for i, s in seen.items() if s == "train" and i in active_ids)
    old_heldout = sorted(i for i, s in seen.items() if s == "heldout" and i in active_ids)
    shredded_excluded = sum(1 for i in seen if i not in active_ids)
    f = settings.replay_fraction
    n_replay = min(len(old_train), round(f / (1.0 - f) * len(new_train))) if base else 0
    replay = sorted(_replay_order(base or "", old_train)[:n_replay])

    if base is None:  # from the root recipe's own start (random init or a model path): a full training run
        root = _root_trained(home, champ)
        recipe = json.loads(json.dumps(root.get("recipe") or recipe))
        recipe.setdefault("data", {})["heldout_fraction"] = heldout_fraction
        t = recipe.setdefault("train", {})
        lr = {"original_peak_lr": t.get("lr"), "rewarm_fraction": 1.0, "peak_lr": t.get("lr"),
              "warmup_steps": t.get("warmup_steps"), "max_steps": t.get("max_steps"),
              "schedule": t.get("schedule"), "min_lr_ratio": t.get("min_lr_ratio"), "from_scratch": True}
    else:
        lr = _lr_plan(recipe, settings, _first_trained_lr(home, base) or float(recipe["train"].get("lr", 3e-4)))
        recipe["model"] = {"registry": base}
        t = recipe["train"]
        t.update(lr=lr["peak_lr"], warmup_steps=lr["warmup_steps"], max_steps=lr["max_steps"], schedule=lr["schedule"])

    if overrides:  # `--set key=value` on the candidate's recipe (part of the plan's identity)
        from appliance.train.recipe import apply_overrides

        recipe = apply_overrides(recipe, list(overrides), "retrain --set")
        t = recipe.get("train") or {}
        # the plan reports the schedule the candidate really trains with
        lr.update({k: t[src] for k, src in (("peak_lr", "lr"), ("warmup_steps", "warmup_steps"),
                                            ("max_steps", "max_steps"), ("schedule", "schedule"),
                                            ("min_lr_ratio", "min_lr_ratio")) if src in t})
    ident = {"champion": champ, "base": base, "records": sorted(set(new) | set(replay) | set(old_heldout)),
             "recipe": {k: v for k, v in recipe.items() if k != "run"}}
    digest = sha256_bytes(canonical_json(ident))
    run_name = f"retrain-{base or 'root'}-{digest[:10]}"
    recipe.setdefault("run", {})["name"] = run_name
    return Plan(champion=champ, base=base, base_reason=reason, run_name=run_name, heldout_fraction=heldout_fraction,
                new_train=new_train, new_heldout=new_heldout, replay=replay, old_heldout=old_heldout,
                old_train_available=len(old_train), replay_fraction=f, lr=lr, recipe=recipe, sources=sources,
                exclude_shredded=exclude_shredded, shredded_excluded=shredded_excluded, warnings=warnings,
                plan_sha256=digest)
