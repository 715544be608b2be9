"""`appliance retrain`: plan, train the candidate through the ordinary training engine, gate, decide.

The candidate run is an ordinary `appliance train` run with a deterministic name, so a crash mid-retrain
is continued by ``appliance retrain --resume`` exactly like ``appliance train --resume`` (the plan with its
record ids is kept in ``runs/<name>/retrain_plan.json`` and reused, even if records arrived meanwhile).
The candidate is registered (parent = the version it warm-started from), compared with the champion on
the old and new held-out records and the PHI probe, then promoted or kept as ``rejected`` with reasons.
Idempotent: no new records, or a plan already decided, trains nothing.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from appliance._internal.atomic import atomic_write
from appliance.config import RetrainSection, load_site_config
from appliance.errors import PolicyRefused, UsageError
from appliance.home import Home
from appliance.retrain.plan import Plan, make_plan

log = logging.getLogger(__name__)
PLAN_FILE = "retrain_plan.json"


class RetrainRejected(PolicyRefused):
    """The gate rejected the candidate; ``result`` holds the full retrain result."""

    def __init__(self, result: dict):
        super().__init__(f"candidate {result['candidate']} rejected by the evaluation gate; "
                         f"champion {result['champion']} unchanged",
                         hint=f"appliance models show {result['candidate']}   "
                              f"(promote anyway: appliance models promote {result['candidate']} --force)",
                         details=result["gate"]["reasons"])
        self.result = result


class PlannedSource:
    """The trainer's record source restricted to the plan's records (decrypts in memory, like VaultSource).

    The tokenizer trainer may pull texts from a worker thread; an SQLite connection belongs to the thread
    that opened it, so other threads read through their own vault handle."""

    def __init__(self, vault, ids: Iterable[str]):
        self._vault = vault
        self._ids = set(ids)
        self._owner = threading.get_ident()
        self._local = threading.local()

    def list_records(self):
        return [m for m in self._vault.list_records(None, "active") if m.id in self._ids]

    def read_text(self, record_id: str) -> str:
        if threading.get_ident() == self._owner:
            return self._vault.read_text(record_id)
        v = getattr(self._local, "vault", None)
        if v is None:
            from appliance.vault import Vault

            v = self._local.vault = Vault.open(self._vault.home, self._vault.keys)
        return v.read_text(record_id)


def _audit(home: Home, keys, action: str, obj: dict, outcome: str = "ok") -> None:
    from appliance.audit import record

    record(home, action, obj, outcome=outcome, signer=keys.signer)


def _lock(home: Home) -> int:
    home.runs_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(home.runs_dir / ".retrain.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UsageError("another retrain is running on this home", hint="wait for it (systemctl status appliance-retrain)") from None
    return fd


def pending_plan(home: Home) -> Plan | None:
    """The newest retrain plan whose run has not produced a registered version (for ``--resume``)."""
    from appliance import registry

    champ = registry.champion(home)
    found = sorted(home.runs_dir.glob(f"retrain-*/{PLAN_FILE}"), key=lambda p: p.stat().st_mtime, reverse=True)
    for p in found:
        plan = Plan.from_dict(json.loads(p.read_text(encoding="utf-8")))
        if plan.champion == champ and registry.find_by_run(home, plan.run_name) is None:
            return plan
    return None


def _summary(plan: Plan) -> dict:
    d = plan.to_dict()
    for k in ("new_train", "new_heldout", "replay", "old_heldout", "recipe"):
        d.pop(k, None)
    return d


def retrain(home: Home, keys, *, dry_run: bool = False, exclude_shredded: bool = False, resume: bool = False,
            settings: RetrainSection | None = None, overrides: list[str] | None = None, progress: bool = True,
            phi: bool = True) -> dict[str, Any]:
    """Run one retrain cycle; returns ``{"status", "plan", ...}``.  Raises :class:`RetrainRejected` (exit 4)
    when the gate rejects the candidate."""
    from appliance import registry
    from appliance.vault import Vault

    settings = settings or load_site_config(home.config_path).retrain
    fd = _lock(home)
    try:
        registry.refresh_shred_flags(home, keys)
        with Vault.open(home, keys) as vault:
            plan = pending_plan(home) if resume else None
            resumed_plan = plan is not None
            if plan is None:
                plan = make_plan(home, vault, settings, exclude_shredded=exclude_shredded, overrides=overrides)
            out: dict[str, Any] = {"plan": _summary(plan), "champion": plan.champion, "dry_run": dry_run}
            if plan.nothing_new:
                _audit(home, keys, "retrain.noop", {"champion": plan.champion, "base": plan.base, "reason": "no new records"})
                return {**out, "status": "nothing-to-do", "reason": "no new records since the champion's data manifest"}
            done = registry.find_by_run(home, plan.run_name)
            if done is not None and registry.get(home, done)["status"] != "candidate":
                info = registry.get(home, done)
                _audit(home, keys, "retrain.noop", {"champion": plan.champion, "candidate": done,
                                                    "reason": "plan already decided"})
                return {**out, "status": "already-decided", "candidate": done, "candidate_status": info["status"],
                        "reason": f"this plan was already trained as {done} ({info['status']})"}
            if dry_run:
                _audit(home, keys, "retrain.plan", {**_audit_counts(plan), "dry_run": True})
                return {**out, "status": "dry-run"}
            return _execute(home, keys, vault, plan, settings, out, resume=resume or resumed_plan,
                            progress=progress, phi=phi)
    finally:
        os.close(fd)


def _audit_counts(plan: Plan) -> dict:
    return {"champion": plan.champion, "base": plan.base, "run": plan.run_name, "plan_sha256": plan.plan_sha256,
            "new_train": len(plan.new_train), "new_heldout": len(plan.new_heldout), "replay": len(plan.replay),
            "old_heldout": len(plan.old_heldout), "peak_lr": plan.lr.get("peak_lr"),
            "exclude_shredded": plan.exclude_shredded}


def _execute(home: Home, keys, vault, plan: Plan, settings: RetrainSection, out: dict, *, resume: bool,
             progress: bool, phi: bool) -> dict:
    from appliance import registry
    from appliance.evaluate import compare, load_detector
    from appliance.train import train
    from appliance.train.recipe import recipe_from_dict

    recipe = recipe_from_dict(plan.recipe, f"retrain plan {plan.run_name}")
    run_dir = home.run_dir(plan.run_name)
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    plan_path = run_dir / PLAN_FILE
    if not plan_path.exists():
        atomic_write(plan_path, json.dumps(plan.to_dict(), indent=1, sort_keys=True))
    candidate = registry.find_by_run(home, plan.run_name)
    trained: dict = {}
    if candidate is None:  # else: trained and registered before a crash; only the decision is missing
        _audit(home, keys, "retrain.start", {**_audit_counts(plan), "resume": resume})
        source = PlannedSource(vault, plan.record_ids)
        with registry.signing(keys):
            trained = train(home, recipe, source=source, resume=resume and _has_checkpoints(run_dir),
                            signer=keys.signer, progress=progress)
        manifest = json.loads((run_dir / "data_manifest.json").read_text(encoding="utf-8"))
        candidate = registry.register_run(home, keys, run_dir, Path(trained["final_model"]), manifest, recipe,
                                          parent=plan.base)
    champion_dir = registry.resolve(home, plan.champion, verify=True)
    new_ids = plan.new_heldout or plan.new_train
    scrubber = load_detector(home, keys) if phi else None
    try:
        gate = compare(champion_dir, home.model_dir(candidate), vault.read_text, plan.old_heldout, new_ids,
                       settings=settings.gate, detector=scrubber.detect_batch if scrubber else None,
                       seq_len=int(plan.recipe.get("data", {}).get("seq_len", 128)))
    finally:
        if scrubber is not None:
            scrubber.close()
    if not plan.new_heldout:
        gate["note"] = "no new held-out records: the new-data check used the new training records"
    registry.store_evaluation(home, candidate, "gate", {**gate, "against": plan.champion, "plan_sha256": plan.plan_sha256})
    result = {**out, "candidate": candidate, "gate": gate,
              "train": {k: trained.get(k) for k in ("steps", "final_loss", "eval_ppl", "seconds", "resumed_from_step")}}
    decision = {"candidate": candidate, "champion": plan.champion, "decision": gate["decision"],
                "reasons": len(gate["reasons"]), "plan_sha256": plan.plan_sha256}
    if gate["passed"]:
        registry.promote(home, candidate, keys, reason=f"retrain gate passed against {plan.champion}")
        _audit(home, keys, "retrain.decision", decision)
        return {**result, "status": "promoted", "champion": candidate, "previous_champion": plan.champion}
    registry.set_status(home, candidate, "rejected", gate["reasons"], keys)
    _audit(home, keys, "retrain.decision", decision, outcome="refused")
    raise RetrainRejected({**result, "status": "rejected"})


def _has_checkpoints(run_dir: Path) -> bool:
    from appliance.train.checkpoint import committed

    return bool(committed(run_dir / "checkpoints")) if (run_dir / "checkpoints").exists() else False
