"""`appliance train`: plan a run in the parent, train through DeepSpeed's launcher, seal the final model.

The parent process owns everything that needs keys or decides policy: it lists the records, builds the
data manifest, decides fresh start vs resume (and refuses unsafe resumes), trains or loads the tokenizer,
tokenizes in memory and publishes the token arrays through a memory-only channel, writes ``plan.json``
(no text, no token ids), records audit events, then waits for the ranks.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from appliance import __version__
from appliance._internal.atomic import atomic_write
from appliance._internal.hashing import canonical_json, sha256_bytes
from appliance._internal.tokenizer_files import copy_tokenizer_files
from appliance.errors import ApplianceError, InputError, IntegrityError, PolicyRefused, UsageError
from appliance.home import Home
from appliance.train import chat as chatmod
from appliance.train import checkpoint as ckpt
from appliance.train import tokenizer as tokmod
from appliance.train.data import DataChannel, RecordSource, build_manifest, tokenize_split
from appliance.train.distill import resolve_teacher, teacher_vocab_rows
from appliance.train.multinode import NodeSpec, node_dir
from appliance.train.presets import build_config, default_vocab_size
from appliance.train.recipe import NEVER_CHANGEABLE, Recipe, critical_view, diff_critical, recipe_to_dict

log = logging.getLogger(__name__)


def _lock_run(run_dir: Path):
    fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UsageError(f"run {run_dir.name} is already training in another process",
                         hint="wait for it to finish, or choose another run.name") from None
    return fd


def _audit(home: Home, audit: bool, action: str, obj: dict, signer=None, outcome: str = "ok") -> None:
    if not audit:
        return
    try:
        from appliance.audit import record
    except ImportError:
        log.warning("audit log unavailable; %s not recorded", action)
        return
    record(home, action, obj, outcome=outcome, signer=signer)


def _check_model_dir(path: Path) -> Path:
    if not path.is_dir():
        raise InputError(f"model directory {path} does not exist", hint="set model.path to a local HF directory")
    if not list(path.glob("*.safetensors")):
        raise InputError(f"{path} has no .safetensors weights (pickled weights are never loaded)",
                         hint="convert the model to safetensors on a trusted machine first")
    if not (path / "config.json").is_file():
        raise InputError(f"{path} has no config.json", hint="point model.path at a Hugging Face model directory")
    return path


def _resume_checks(recipe_dict: dict, world_size: int, manifest_sha: str, found: dict,
                   allow_change: Iterable[str]) -> list[dict]:
    """Compare the checkpoint's recorded settings with this run; refuse unsafe differences (exit 4)."""
    old = dict(found.get("recipe_critical") or {})
    new = critical_view(recipe_dict)
    old["world_size"], new["world_size"] = found.get("world_size"), world_size
    old["data_manifest"], new["data_manifest"] = found.get("data_manifest_sha256"), manifest_sha
    diffs = diff_critical(old, new)
    allowed = set(allow_change)
    refused = [d for d in diffs if d[0] not in allowed or d[0] in NEVER_CHANGEABLE]
    if refused:
        details = [f"{k}: checkpoint {json.dumps(a)} → now {json.dumps(b)}" for k, a, b in refused]
        never = [k for k, _, _ in refused if k in NEVER_CHANGEABLE]
        hint = ("restore the checkpoint's settings" + (f" (cannot change: {', '.join(never)})" if never else "")
                + ", or pass --allow-change KEY for each setting you mean to change")
        raise PolicyRefused(f"resume refused: {len(refused)} resume-critical setting"
                            f"{'s' if len(refused) != 1 else ''} changed", hint=hint, details=details)
    return [{"key": k, "from": a, "to": b} for k, a, b in diffs]


def _on_final(run_dir: Path, final_dir: Path, manifest: dict, recipe: Recipe) -> str | None:
    """Hook after the final model is sealed: register it in the model registry with its data manifest.

    ``final_dir`` already holds ``model.safetensors``, the tokenizer and ``data_manifest.json``.  The
    registry signs the version only inside ``registry.signing(keys)`` (see :func:`train_from_vault`);
    otherwise it is a no-op and ``appliance models register RUN`` can do it later.  Returns the version.
    """
    try:
        from appliance import registry
    except ImportError:  # registry not part of this build
        return None
    return registry.on_final(run_dir, final_dir, manifest, recipe)


def train(
    home: Home,
    recipe: Recipe,
    *,
    source: RecordSource,
    resume: bool = False,
    allow_change: Iterable[str] = (),
    signer=None,
    audit: bool = True,
    progress: bool = True,
    source_kind: str = "vault",
    extra_env: dict[str, str] | None = None,
    node: NodeSpec | None = None,
) -> dict[str, Any]:
    """Train ``recipe`` on ``source``; with ``resume`` continue from the newest verified checkpoint.

    ``node``: this process is node K of N started node by node (``--nnodes``); node 0 alone writes the
    run's shared files (data manifest, recipe, audit events, registry), node K>0 only its node dir.

    Returns ``{"run_dir", "final_model", "steps", "final_loss", "eval_ppl", "resumed_from_step", ...}``.
    Raises PolicyRefused (exit 4) for an unsafe resume or an existing run started without ``--resume``.
    """
    import torch

    t0 = time.time()
    allow_change = list(allow_change)
    rdict = recipe_to_dict(recipe)
    name = recipe.run.name
    home.runs_dir.mkdir(parents=True, exist_ok=True)
    run_dir = home.run_dir(name)
    run_dir.mkdir(mode=0o700, exist_ok=True)
    node = (node or NodeSpec()).check(recipe.run.hostfile)
    lead = node.node_rank == 0
    audit = audit and lead
    own = node_dir(run_dir, node)
    lock_fd = _lock_run(own)
    try:
        ckpt_root = run_dir / "checkpoints"
        ckpt_root.mkdir(exist_ok=True)
        swept = ckpt.sweep(ckpt_root) if lead else []  # we hold the run lock: any staging dir is abandoned
        if swept:
            log.info("removed abandoned checkpoint staging dirs: %s", ", ".join(swept))
        on_gpu = torch.cuda.is_available()
        if recipe.train.precision == "fp16" and not on_gpu and not _cpu_fp16_ok():
            raise UsageError("train.precision fp16 needs a GPU (this CPU has no fp16 kernels)",
                             hint="use --set train.precision=bf16 (or fp32) on a CPU host")
        if recipe.train.lora and recipe.train.lora.quantize and not on_gpu:
            raise UsageError("train.lora.quantize: 4bit (QLoRA) needs a CUDA GPU; bitsandbytes' 4-bit kernels "
                             "do not train on this CPU host",
                             hint="drop the setting (--set train.lora.quantize=null) for plain LoRA, "
                                  "or run on a GPU host")
        world_size = recipe.run.nproc * (node.nnodes if node.multi else
                                         _hostfile_hosts(recipe.run.hostfile) if recipe.run.hostfile else 1)

        if not resume and ckpt.committed(ckpt_root):
            raise PolicyRefused(f"run {name} already has checkpoints in {ckpt_root}",
                                hint="continue it with --resume, or set run.name to a new name (--set run.name=…)")
        found = ckpt.find_resumable(ckpt_root) if resume else None
        if resume and found is None and ckpt.committed(ckpt_root):
            # Checkpoints exist but none verifies: starting over silently would hide damage.
            raise IntegrityError(f"no checkpoint of run {name} verifies against its manifest",
                                 hint=f"inspect {ckpt_root}; to start over, move it away and run without --resume")

        teacher = resolve_teacher(home, recipe.distill) if recipe.distill else None
        records = list(source.list_records())
        if not records:
            raise InputError("no active records to train on", hint="appliance vault ingest FILE")
        patients = source.patients() if hasattr(source, "patients") else None
        manifest = build_manifest(records, recipe.data.heldout_fraction, patients)
        changes: list[dict] = []
        resume_from = None
        if resume and found is not None:
            path, found_manifest = found
            changes = _resume_checks(rdict, world_size, manifest["sha256"], found_manifest, allow_change)
            resume_from = path

        # Tokenizer: trained once per run (fresh start; node K>0 into its node dir, the ranks check that every
        # node's is the same), reused on resume.
        tok_dir = (run_dir if resume_from is not None else own) / "tokenizer"
        model_path = None
        model_cfg_dir = own / "model_init"
        if recipe.model.init is not None:
            if resume_from is None:
                shutil.rmtree(tok_dir, ignore_errors=True)
                vocab = recipe.model.init.vocab_size or default_vocab_size(recipe.model.init.preset)
                train_ids = [r["id"] for r in manifest["records"] if r["split"] == "train"]
                # Decrypted in this thread (the vault's SQLite handle is thread-bound; the BPE trainer pulls
                # from its iterator on another thread), held in memory only.
                chat_run = recipe.data.format == "chat"
                texts = ([] if teacher else chatmod.tokenizer_texts(source, train_ids) if chat_run
                         else [source.read_text(i) for i in train_ids])
                tok = (teacher.adopt_tokenizer(tok_dir) if teacher else
                       tokmod.train_bpe(texts, vocab, tok_dir, min_records=recipe.tokenizer.min_records,
                                        extra_special_tokens=chatmod.ROLE_TOKENS if chat_run else ()))
                del texts
            else:
                tok = tokmod.load(tok_dir)
            bos, eos, pad = tokmod.special_ids(tok)
            cfg = build_config(recipe.model.init.arch, recipe.model.init.preset, vocab_size=len(tok),
                               max_positions=recipe.data.seq_len, bos_id=bos, eos_id=eos, pad_id=pad)
            cfg.save_pretrained(str(model_cfg_dir))
        else:
            model_path = _check_model_dir(Path(recipe.model.path) if recipe.model.path
                                          else _registry_dir(home, recipe.model.registry or ""))
            tok = tokmod.load(model_path)
            if resume_from is None:  # the user's tokenizer, byte for byte (never a re-save of a loaded one)
                shutil.rmtree(tok_dir, ignore_errors=True)
                copy_tokenizer_files(model_path, tok_dir, overwrite=True)
            _, eos, _ = tokmod.special_ids(tok)
        if teacher:  # before anything trains: the teacher's logits index the student's vocabulary
            teacher.check_tokenizer(tok, str(model_path or f"model.init ({tok_dir})"),
                                    teacher_vocab_rows(model_path) if model_path else len(tok))

        from appliance.train.launcher import check_loopback

        check_loopback()  # after the cheap refusals, before tokenizing the corpus, which takes long
        chat_stats: dict[str, int] = {}
        if recipe.data.format == "chat":
            arrays, chat_stats = chatmod.prepare(tok, rdict["data"], source, manifest,
                                                save_to=tok_dir if resume_from is None else None)
        else:
            arrays = tokenize_split(source, manifest, tokmod.encoder(tok), eos, recipe.data.seq_len)
        if lead:
            atomic_write(run_dir / "data_manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
            atomic_write(run_dir / "recipe.json", json.dumps(rdict, indent=1, sort_keys=True))
        plan = {
            "run_dir": str(run_dir),
            "recipe": rdict,
            "recipe_sha256": sha256_bytes(canonical_json(rdict)),
            "recipe_critical": critical_view(rdict),
            "world_size": world_size,
            "data_manifest_sha256": manifest["sha256"],
            "data_source": source_kind,
            "tokenizer_dir": str(tok_dir),
            "model_config_dir": str(model_cfg_dir) if model_path is None else None,
            "model_path": str(model_path) if model_path else None,
            "resume_from": str(resume_from) if resume_from else None,
            "home": str(home.root),
            "audit_home": str(home.root) if audit else None,
            # a bar on a terminal, else one log line per progress.every steps (systemd, nohup, timers)
            "progress": (("bar" if sys.stderr.isatty() else "lines") if progress is True else progress),
            "t0": t0,
            "appliance_version": __version__,
            "distill": teacher.plan_entry() if teacher else None,
        }
        plan["t_plan_ready"] = time.time()
        plan_path = own / "plan.json"
        atomic_write(plan_path, json.dumps(plan, indent=1, sort_keys=True))
        counts = {"train_records": manifest["counts"]["train"], "heldout_records": manifest["counts"]["heldout"],
                  "train_samples": len(arrays["train"]), "heldout_samples": len(arrays["heldout"]), **chat_stats}
        event = {"run": name, "recipe_sha256": plan["recipe_sha256"], "data_manifest_sha256": manifest["sha256"],
                 "world_size": world_size, **counts}
        if teacher:
            event["distill"] = teacher.audit_entry()
        if resume_from is not None:
            _audit(home, audit, "train.resume", {**event, "checkpoint": resume_from.name,
                                                 "allowed_changes": [c["key"] for c in changes]}, signer)
        else:
            _audit(home, audit, "train.start", event, signer)
        for c in changes:
            log.warning("resume with changed %s: %s → %s (allowed by --allow-change)", c["key"], c["from"], c["to"])

        from appliance.train.launcher import launch

        log.info("plan ready after %.1fs", time.time() - t0)
        channel = DataChannel(arrays)
        del arrays
        try:
            launch(plan_path, run_dir, nproc=recipe.run.nproc, hostfile=recipe.run.hostfile,
                   master_port=recipe.run.master_port, channel_path=channel.path, on_gpu=on_gpu,
                   extra_env=extra_env, node=node)
        except ApplianceError as e:
            _audit(home, audit, "train.end", {"run": name, "error": type(e).__name__}, signer, outcome="error")
            raise
        finally:
            channel.close()

        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        final_dir = run_dir / "final"
        if teacher and lead:
            teacher.write_manifest(final_dir)
        version = _on_final(run_dir, final_dir, manifest, recipe) if lead else None
        latest = ckpt.find_resumable(ckpt_root)
        _audit(home, audit, "train.end", {"run": name, "steps": summary["steps"], "tokens_seen": summary["tokens_seen"],
                                          "data_manifest_sha256": manifest["sha256"],
                                          "final_sha256": _final_digest(final_dir)}, signer)
        return {
            "run_dir": str(run_dir),
            "final_model": str(final_dir),
            **{k: summary.get(k) for k in ("steps", "final_loss", "eval_loss", "eval_ppl", "tokens_seen",
                                           "tokens_per_s", "seconds_to_first_step", "resumed_from_step",
                                           "stopped_early", "world_size", "lora_merge_max_abs_diff", "startup",
                                           "best_step", "best_eval_loss", "final_selected", "final_step",
                                           "model_state_bytes_rank0")},
            "checkpoint": latest[0].name if latest else None,
            "model_version": version,
            "distill": summary.get("distill"),
            "node_rank": node.node_rank,
            "data_manifest_sha256": manifest["sha256"],
            **counts,
            "allowed_changes": changes,
            "seconds": round(time.time() - t0, 2),
        }
    finally:
        os.close(lock_fd)


def _registry_dir(home: Home, version: str) -> Path:
    """A registered version's directory, its hashes and signature verified first."""
    try:
        from appliance import registry
    except ImportError:
        return home.model_dir(version)
    return registry.resolve(home, version, verify=True)


def _cpu_fp16_ok() -> bool:
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_fp16_supported())
    except Exception:  # noqa: BLE001 -- a probe: any failure means no fp16 on this CPU
        return False


def _final_digest(final_dir: Path) -> str | None:
    from appliance._internal.hashing import sha256_file

    f = final_dir / "model.safetensors"
    return sha256_file(f) if f.is_file() else None


def _hostfile_hosts(hostfile: str) -> int:
    """Number of hosts in a DeepSpeed hostfile (``host slots=N`` lines)."""
    try:
        lines = Path(hostfile).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise InputError(f"cannot read hostfile {hostfile}: {e.strerror or e}", hint="fix run.hostfile") from None
    return max(1, sum(1 for ln in lines if ln.strip() and not ln.strip().startswith("#")))


def dry_run_from_vault(home: Home, keys, config: Path, *, overrides: list[str] | None = None,
                       nodes: int = 1) -> dict[str, Any]:
    """What ``appliance train --dry-run`` does: resolve model, tokenizer and data; count; estimate memory."""
    from appliance.train.data import VaultSource
    from appliance.train.dryrun import dry_run
    from appliance.train.recipe import load_recipe
    from appliance.vault import Vault

    recipe = load_recipe(config, overrides)

    def model_dir(r: Recipe) -> Path:
        return _check_model_dir(Path(r.model.path) if r.model.path else _registry_dir(home, r.model.registry or ""))

    with Vault.open(home, keys) as vault:
        source = VaultSource(vault, recipe.data.sources)
        if not source.list_records():
            raise InputError("no active records to train on", hint="appliance vault ingest FILE")
        return dry_run(home, recipe, source=source, resolve_model_dir=model_dir, nodes=nodes)


def train_from_vault(home: Home, keys, config: Path, *, overrides: list[str] | None = None, resume: bool = False,
                     allow_change: Iterable[str] = (), progress: bool = True,
                     node: NodeSpec | None = None) -> dict[str, Any]:
    """What ``appliance train`` does: load the recipe, open the vault with the unlocked keys, :func:`train`."""
    from appliance.train.data import VaultSource
    from appliance.train.recipe import load_recipe
    from appliance.vault import Vault

    recipe = load_recipe(config, overrides)
    try:
        from appliance.registry import signing
    except ImportError:
        from contextlib import nullcontext as signing  # type: ignore[assignment]
    with Vault.open(home, keys) as vault, signing(keys):
        return train(home, recipe, source=VaultSource(vault, recipe.data.sources), resume=resume,
                     allow_change=allow_change, signer=getattr(keys, "signer", None), progress=progress,
                     node=node)
