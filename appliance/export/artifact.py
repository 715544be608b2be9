"""An artifact directory: staged, filled, checked for parity, described by ``manifest.json``, signed.

Every exporter (GGUF, ONNX, TensorRT) goes through :class:`ArtifactBuilder`: it picks the directory
(``home.artifact_dir(id)`` or ``-o DIR``), writes into a hidden staging sibling, and only when parity has
passed does it write the manifest (appliance version, registry version, data-manifest hash, file
inventory, format facts, parity summary), move the directory into place and sign it.  model-signing's
in-toto statement cannot carry custom fields, so the manifest is a file inside the signed directory —
covered by the per-file hashes like the model itself.  A failed parity leaves the staging directory
(unsigned) for inspection and raises.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance import __version__
from appliance._internal.hashing import canonical_json, sha256_file
from appliance.errors import UsageError
from appliance.home import Home

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"
PARITY_FILE = "parity.json"
REFERENCE_FILE = "parity_reference.npz"
SCHEMA = "appliance.artifact/1"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "model"


def registry_facts(home: Home | None, version: str | None) -> dict:
    """Registry version name and data-manifest hash for a registry version (empty for a bare directory)."""
    if home is None or version is None:
        return {"version": None, "data_manifest_sha256": None}
    try:
        from appliance.registry import get  # type: ignore[attr-defined]

        row = get(home, version)
        return {"version": row.get("version", version), "data_manifest_sha256": row.get("data_manifest_sha256"),
                "manifest_sha256": row.get("manifest_sha256")}
    except ImportError:
        dm = home.model_dir(version) / "data_manifest.json"
        return {"version": version, "data_manifest_sha256": sha256_file(dm) if dm.is_file() else None}


@dataclass
class ArtifactBuilder:
    kind: str  # gguf | onnx | tensorrt
    fmt: str  # e.g. q8_0, f32, fp16
    source_name: str
    out_dir: Path | None = None
    home: Home | None = None
    artifact_id: str = ""
    staging: Path = field(init=False)
    final: Path = field(init=False)
    started: float = field(default_factory=time.perf_counter)
    _digests: dict[str, tuple[int, int, str]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.artifact_id = self.artifact_id or f"{_slug(self.source_name)}-{self.kind}-{self.fmt}-{stamp}"
        if self.out_dir is None:
            if self.home is None:
                raise UsageError("no output directory and no appliance home", hint="pass -o DIR or --home HOME")
            self.home.artifacts_dir.mkdir(parents=True, exist_ok=True)
            self.final = self.home.artifact_dir(self.artifact_id)
        else:
            self.final = Path(self.out_dir).absolute()
        if self.final.exists() and any(self.final.iterdir()):
            raise UsageError(f"{self.final} exists and is not empty", hint="choose another -o DIR")
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.staging = self.final.parent / f".{self.final.name}.partial"
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(mode=0o755)

    def path(self, name: str) -> Path:
        return self.staging / name

    def prehash(self, name: str) -> None:
        """Hash a finished file now (e.g. while parity runs); :meth:`finish` reuses the digest if the file's size
        and modification time are unchanged, and hashes it again otherwise."""
        st = self.path(name).stat()
        self._digests[name] = (st.st_size, st.st_mtime_ns, sha256_file(self.path(name)))

    def _sha256(self, p: Path) -> str:
        st = p.stat()
        known = self._digests.get(p.relative_to(self.staging).as_posix())
        if known is not None and known[:2] == (st.st_size, st.st_mtime_ns):
            return known[2]
        return sha256_file(p)

    def finish(self, *, signer: Any, source: dict, registry: dict, format_facts: dict, parity: dict | None) -> dict:
        """Write manifest.json, move the staging directory into place, sign it; returns the manifest."""
        from appliance.sign import sign_directory

        files = {p.relative_to(self.staging).as_posix(): {"sha256": self._sha256(p), "bytes": p.stat().st_size}
                 for p in sorted(self.staging.rglob("*")) if p.is_file()}
        manifest = {
            "schema": SCHEMA,
            "artifact_id": self.artifact_id,
            "kind": self.kind,
            "format": self.fmt,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "appliance_version": __version__,
            "source": source,
            "registry": registry,
            "files": files,
            self.kind: format_facts,
            "parity": parity,
        }
        (self.staging / MANIFEST_FILE).write_bytes(json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n")
        if self.final.exists():
            self.final.rmdir()  # empty (checked at start)
        self.staging.rename(self.final)
        signed = sign_directory(self.final, signer)
        manifest["signature"] = {"file": Path(signed["signature"]).name, "key_id": signed["key_id"]}
        manifest["path"] = str(self.final)
        manifest["seconds"] = round(time.perf_counter() - self.started, 3)
        return manifest

    def abandon(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def source_facts(src) -> dict:
    """What the manifest records about the source model (hashes, not paths that reveal anything)."""
    cfg_hash = sha256_file(src.path / "config.json")
    weights = sorted(src.path.glob("*.safetensors"))
    return {
        "requested": src.requested if src.version else Path(src.requested).name,
        "model_type": src.model_type,
        "config_sha256": cfg_hash,
        "weights_sha256": {p.name: sha256_file(p) for p in weights},
        "tokenizer_sha256": sha256_file(src.path / "tokenizer.json"),
        "merged_from_lora": src.merged_from_lora,
        # run, checkpoint, step and the run's registry version, for checkpoints and run directories
        **({"origin": src.origin} if getattr(src, "origin", None) else {}),
    }


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def manifest_digest(manifest: dict) -> str:
    from appliance._internal.hashing import sha256_bytes

    return sha256_bytes(canonical_json({k: v for k, v in manifest.items() if k not in ("path", "seconds")}))
