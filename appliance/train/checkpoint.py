"""Checkpoints that survive a kill at any instant.

Layout under ``runs/<name>/checkpoints/``::

    .staging-step_00000020/   being written (never chosen; swept at the next start)
    step_00000010/            committed: ds/ (DeepSpeed model+optimizer+scheduler), rng_rank<r>.pt,
                              trainer_state.json, manifest.json (written last)
    LATEST                    "step_00000010" (a hint for humans; resume trusts manifests, not this file)

Commit protocol (rank 0, after every rank has written its part into the staging dir): fsync every file →
hash every file → write ``manifest.json`` (files + sha256, world size, recipe hash, data-manifest hash,
appliance version) and fsync → rename the staging dir to ``step_N`` → fsync the parent → atomically
replace ``LATEST`` → only then delete checkpoints beyond ``keep_last`` → sweep abandoned staging dirs.
A directory without a manifest that verifies is never resumed from.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

from appliance import __version__
from appliance._internal.atomic import atomic_write, fsync_dir, fsync_tree
from appliance._internal.hashing import canonical_json, sha256_file

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
LATEST = "LATEST"
FORMAT = 1
_STEP_RE = re.compile(r"^step_(\d{8})$")
# Tests set this to "STEP:SECONDS" (or "SECONDS" for every save) to hold a save open between the shards
# and the manifest, so a kill lands mid-save.
ENV_PAUSE_IN_SAVE = "APPLIANCE_TRAIN_TEST_PAUSE_IN_SAVE"


def _test_pause(step: int) -> float:
    raw = os.environ.get(ENV_PAUSE_IN_SAVE) or ""
    if not raw:
        return 0.0
    if ":" in raw:
        at, secs = raw.split(":", 1)
        return float(secs) if int(at) == step else 0.0
    return float(raw)


def step_name(step: int) -> str:
    return f"step_{step:08d}"


def staging_path(root: Path, step: int) -> Path:
    return root / f".staging-{step_name(step)}"


def committed(root: Path) -> list[tuple[int, Path]]:
    """Committed-looking checkpoint dirs, newest first (not yet verified)."""
    if not root.is_dir():
        return []
    out = []
    for p in root.iterdir():
        m = _STEP_RE.match(p.name)
        if m and p.is_dir():
            out.append((int(m.group(1)), p))
    return sorted(out, reverse=True)


def verify(path: Path) -> dict | None:
    """The manifest of checkpoint ``path`` if every listed file exists with its sha256, else None."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        return None
    for rel, digest in manifest["files"].items():
        f = path / rel
        if ".." in Path(rel).parts or not f.is_file() or sha256_file(f) != digest:
            log.warning("checkpoint %s: %s does not verify; skipping it", path.name, rel)
            return None
    return manifest


def find_resumable(root: Path) -> tuple[Path, dict] | None:
    """The newest checkpoint whose manifest verifies (a half-written or damaged one is skipped)."""
    for _step, path in committed(root):
        manifest = verify(path)
        if manifest is not None:
            return path, manifest
    return None


def commit(root: Path, step: int, meta: dict, keep_last: int) -> Path:
    """Seal the staging dir for ``step`` (already filled by every rank) and make it the newest checkpoint."""
    staging = staging_path(root, step)
    pause = _test_pause(step)
    if pause:
        time.sleep(pause)
    fsync_tree(staging)
    files = {p.relative_to(staging).as_posix(): sha256_file(p)
             for p in sorted(staging.rglob("*")) if p.is_file() and p.name != MANIFEST}
    manifest = {"format": FORMAT, "step": step, "files": files, "appliance_version": __version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **meta}
    atomic_write(staging / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    final = root / step_name(step)
    if final.exists():  # an older, unverifiable copy of this step (we resumed from before it)
        trash = root / f".trash-{step_name(step)}-{os.getpid()}"
        os.replace(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(staging, final)
    fsync_dir(root)
    atomic_write(root / LATEST, final.name + "\n")
    prune(root, keep_last)
    sweep(root)
    return final


def prune(root: Path, keep_last: int) -> list[str]:
    """Delete committed checkpoints beyond the newest ``keep_last`` that verify-by-manifest-presence."""
    removed = []
    kept = 0
    for _step, path in committed(root):
        if (path / MANIFEST).is_file() and kept < keep_last:
            kept += 1
            continue
        if kept < keep_last:
            continue  # never delete anything while we still lack keep_last sealed checkpoints
        trash = root / f".trash-{path.name}-{os.getpid()}"
        os.replace(path, trash)
        shutil.rmtree(trash, ignore_errors=True)
        removed.append(path.name)
    if removed:
        fsync_dir(root)
    return removed


def sweep(root: Path) -> list[str]:
    """Remove abandoned staging and trash dirs (a killed save leaves one behind)."""
    removed = []
    if not root.is_dir():
        return removed
    for p in root.iterdir():
        if p.name.startswith((".staging-", ".trash-")):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    return removed


def manifest_digest(manifest: dict) -> str:
    """A short identity of a checkpoint for the audit log."""
    from appliance._internal.hashing import sha256_bytes

    return sha256_bytes(canonical_json(manifest["files"]))
