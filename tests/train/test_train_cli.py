"""`appliance train` through the real CLI on a real vault (ingest → train → audit), no plaintext on disk."""

from __future__ import annotations

import json
from pathlib import Path

from train_helpers import notes as _notes

RECIPE = Path(__file__).resolve().parents[2] / "appliance" / "recipes" / "tiny_llama_full.yaml"
# What DeepSpeed, transformers, tqdm and Python warnings print on their own: shown only with -v.
THIRD_PARTY = ("Unable to find hostfile", "Setting accelerator to CPU", "[WARNING]", "FutureWarning", "UserWarning",
               "Loading weights", "it/s]")


def _noise(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(m in line for m in THIRD_PARTY)]


def test_train_from_vault_via_cli(home, keys, passphrase_file, cli, tmp_path):
    from appliance.vault import Vault

    notes = _notes(60)
    src = tmp_path / "notes.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in notes))
    with Vault.open(home, keys) as v:
        report = v.ingest([src], "clinic-2026-11")
        n_records = len(v.list_records())
    assert n_records >= 30, report.summary()
    src.unlink()

    args = ["train", "--config", str(RECIPE), "--passphrase-file", str(passphrase_file), "--json",
            "--set", "run.name=cli", "--set", "train.max_steps=4", "--set", "train.warmup_steps=1", "--set", "checkpoint.every=2",
            "--set", "eval.every=4", "--set", "data.seq_len=32", "--set", "data.sources=['clinic-*']"]
    # --dry-run: the plan, with DeepSpeed's memory estimate; nothing trained, no run dir
    p = cli(*args, "--dry-run", home=home)
    assert p.returncode == 0, p.stderr[-4000:]
    plan = json.loads(p.stdout)
    assert plan["trained"] is False and not home.run_dir("cli").exists()
    assert plan["records"]["train"] + plan["records"]["heldout"] == n_records and plan["steps_per_epoch"] >= 1
    assert plan["memory"]["gpu_bytes_per_device"] > 0 and plan["max_steps"] == 4
    assert _noise(p.stdout + p.stderr) == []
    import torch

    if not torch.cuda.is_available():  # DeepSpeed's accelerator notice (a CPU host) is shown with -v
        loud = cli("-v", *args, "--dry-run", home=home)
        assert loud.returncode == 0 and "Setting accelerator to CPU" in loud.stderr, loud.stderr[-2000:]

    p = cli(*args, home=home)
    assert p.returncode == 0, p.stderr[-4000:]
    assert _noise(p.stdout + p.stderr) == [], _noise(p.stdout + p.stderr)[:10]  # quiet without -v
    out = json.loads(p.stdout)
    assert out["run_dir"] == str(home.run_dir("cli")) and out["steps"] == 4
    assert Path(out["final_model"], "model.safetensors").is_file()
    assert out["train_records"] + out["heldout_records"] == n_records
    manifest = json.loads(Path(out["final_model"], "data_manifest.json").read_text())
    assert len(manifest["records"]) == n_records and manifest["sha256"] == out["data_manifest_sha256"]

    # audit: start, every checkpoint, end — ids and counts only
    entries = [json.loads(x) for x in home.audit_log_path.read_text().splitlines()]
    train_entries = [e for e in entries if e["action"].startswith("train.")]
    assert [e["action"] for e in train_entries] == ["train.start", "train.checkpoint", "train.checkpoint", "train.end"]
    assert cli("audit", "verify", home=home).returncode == 0

    # no record text anywhere under the home: not in the run dir, not in tmp
    probes = [n[:40].encode() for n in notes[:10]]
    for f in home.root.rglob("*"):
        if f.is_file() and f.stat().st_size < 50_000_000:
            data = f.read_bytes()
            assert not any(pr in data for pr in probes), f

    # --resume of a finished run with a changed critical setting: refused, exit 4, difference listed
    p = cli(*args, "--resume", "--set", "train.lr=0.1", home=home)
    assert p.returncode == 4 and "train.lr" in p.stderr
