"""A home with real audit entries, a real vault ingest (Presidio scrubbing), a registered model with
lineage, a promotion, a shred that flags it, training metrics and a hardening check — built once per
module, then reported on.  Notes come from the demo corpus's answer key when it is present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.demo.corpus import MONTH1 as CORPUS
from appliance.home import Home

PASSPHRASE = b"report tests passphrase"

# Used only when the demo corpus is absent: notes with planted PHI and their answer key.
_PLANTED = [
    (
        "Patient Johanna Vexley (MRN 88412907) seen on 2026-03-14 at Larkspur General; callback 617-555-0142.",
        ["Johanna Vexley", "88412907", "2026-03-14", "Larkspur General", "617-555-0142"],
    ),
    (
        "Follow-up for Mr. Desmond Quillfeather, 72, lives at 41 Orchard Lane, Brookhaven. Email dq@quill-mail.example.",
        ["Desmond Quillfeather", "41 Orchard Lane", "Brookhaven", "dq@quill-mail.example"],
    ),
    (
        "Discharge summary: Marisol Etxeberria admitted 2026-02-02, SSN 123-45-6789, attending Dr. Aurelio Pemberton.",
        ["Marisol Etxeberria", "2026-02-02", "123-45-6789", "Aurelio Pemberton"],
    ),
]


def load_corpus(limit: int | None = None) -> tuple[list[str], set[str]]:
    """``(texts, phi_values)``: up to ``limit`` notes to ingest, and every PHI value of the answer key.

    The demo corpus shipped in ``appliance/data``; else the same generator it is written by; else (a build
    without the scrubber's generator) a few planted notes."""
    notes: list[dict] = []
    if CORPUS.is_file():
        notes = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        try:
            from appliance.scrub.synthetic import generate_notes

            notes = generate_notes(300, seed=0)
        except ImportError:
            pass
    if not notes:
        notes = [
            {"text": t, "spans": [{"start": t.index(v), "end": t.index(v) + len(v)} for v in vals]}
            for t, vals in _PLANTED
        ]
    phi = {n["text"][s["start"] : s["end"]] for n in notes for s in n.get("spans") or []}
    texts = [n["text"] for n in notes][: limit or None]
    return texts, phi


def _tiny_snapshot(d: Path) -> Path:
    """A minimal HF-style directory (config + one safetensors tensor): what the registry hashes and signs."""
    import numpy as np
    from safetensors.numpy import save_file

    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8}))
    save_file({"w": np.arange(16, dtype=np.float32).reshape(4, 4)}, str(d / "model.safetensors"))
    return d


@pytest.fixture(scope="module")
def rich_home(tmp_path_factory):
    """Build the populated home; returns ``(home, keys, info)``."""
    from appliance.audit import record
    from appliance.keys import init_home, unlock_home

    root = tmp_path_factory.mktemp("report-home")
    home = Home(root / "home")
    init_home(home, PASSPHRASE, kdf_target_ms=1)
    keys = unlock_home(home, PASSPHRASE)
    info: dict = {"phi": set()}
    texts, phi = load_corpus(limit=24)
    info["phi"] = phi
    info["corpus"] = CORPUS.is_file()
    info["notes"] = len(texts)

    # -- vault: real ingest (scrubbing, dedup, encryption) ----------------------------------------------------
    try:
        from appliance.scrub import Scrubber  # noqa: F401  (ingest needs the scrubber)
        from appliance.vault.store import Vault
    except ImportError:  # a build without vault/scrub: the report's other sections are still tested
        Vault = None
    if Vault is not None:
        # one in-process scrubber: a worker pool costs more start-up than a few notes take to scrub
        cfg = home.config_path.read_text()
        home.config_path.write_text(cfg.replace("[scrub]\n", "[scrub]\nworkers = 1\n", 1))
        src = root / "notes.jsonl"
        src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
        with Vault.open(home, keys) as v:
            rep = v.ingest([src], "clinic-a")
            info["ingest"] = rep.to_dict()
            ids = rep.record_ids
    else:
        ids = []

    # -- registry: a trained version whose data manifest names the ingested records ----------------------------
    try:
        from appliance import registry
    except ImportError:
        registry = None
    if registry is not None and ids:
        run = home.run_dir("tiny-run")
        run.mkdir(parents=True)
        (run / "metrics.jsonl").write_text(
            "".join(
                json.dumps({"kind": "step", "step": s, "loss": 4.0 / (1 + s * 0.3)}) + "\n"
                for s in range(1, 21)
            )
            + json.dumps({"kind": "eval", "step": 20, "eval_loss": 1.9})
            + "\n"
        )
        final = _tiny_snapshot(run / "final")
        train, held = ids[:-2] or ids, ids[-2:]
        manifest = {
            "records": [{"id": r, "sha256": "0" * 64, "split": "train"} for r in train]
            + [{"id": r, "sha256": "0" * 64, "split": "heldout"} for r in held],
            "sha256": "1" * 64,
            "counts": {"train": len(train), "heldout": len(held)},
        }
        recipe = {"model": {"init": {"arch": "llama", "preset": "tiny"}}}
        version = registry.register_run(home, keys, run, final, manifest, recipe)
        registry.store_evaluation(
            home, version, "eval", {"perplexity": {"overall": 7.25}, "phi_per_1k_tokens": 0.0}
        )
        registry.store_evaluation(home, version, "gate", {"passed": True, "reasons": []})
        registry.promote(home, version, keys)
        info["version"] = version
        # shredding a training record flags the version (vault → registry hook)
        with Vault.open(home, keys) as v:
            v.shred(record_id=train[0])
        info["shredded"] = train[0]

    # -- artifacts: two signed artifact directories (model-signing), one altered after signing -------------
    try:
        from appliance.sign import sign_directory
    except ImportError:
        sign_directory = None
    if sign_directory is not None:
        for name in ("tiny-gguf-q8_0", "tiny-gguf-altered"):
            d = home.artifact_dir(name)
            d.mkdir(parents=True)
            (d / "model.gguf").write_bytes(b"GGUF" + bytes(range(256)) * 8)
            (d / "manifest.json").write_text(
                json.dumps(
                    {
                        "artifact_id": name,
                        "kind": "gguf",
                        "format": "q8_0",
                        "created_at": "2026-11-23T10:00:00+00:00",
                        "registry": {"version": info.get("version")},
                        "parity": {"max_abs_logit_diff": 0.01, "passed": True},
                        "files": {"model.gguf": {"bytes": 2052}},
                    }
                )
            )
            sign_directory(d, keys.signer)
            record(
                home, "export.gguf", {"artifact": name, "version": info.get("version")}, signer=keys.signer
            )
        (home.artifact_dir("tiny-gguf-altered") / "model.gguf").write_bytes(b"GGUF tampered")
        info["artifacts"] = {"good": "tiny-gguf-q8_0", "bad": "tiny-gguf-altered"}

    # -- host: a recorded hardening check, and a note -------------------------------------------------------
    record(
        home, "harden.check", {"root": "/", "passed": 3, "failed": 2}, outcome="failed", signer=keys.signer
    )
    record(home, "audit.note", {"text": "quarterly review done"}, signer=keys.signer)
    from appliance.audit import checkpoint

    checkpoint(home, keys.signer)
    return home, keys, info
