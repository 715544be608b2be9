"""Artifacts section: exported models (GGUF, ONNX, TensorRT), their signatures, verification results,
and the evidence exports that left the host (audit exports).

Each artifact directory's OpenSSF model-signing signature is re-verified now against the site's pinned
public keys (a hashing pass over its files; skipped above ``VERIFY_MAX_BYTES`` so a report never stalls on
a multi-gigabyte engine — the last recorded verification is shown instead).
"""

from __future__ import annotations

import json
from typing import Any

from appliance.errors import ApplianceError
from appliance.home import Home
from appliance.report.auditlog import by_action, obj
from appliance.report.period import Period

VERIFY_MAX_BYTES = 4 << 30


def _one(home: Home, d, keys: dict) -> dict[str, Any]:
    info: dict[str, Any] = {"artifact_id": d.name}
    mf = d / "manifest.json"
    if mf.is_file():
        try:
            m = json.loads(mf.read_text(encoding="utf-8"))
        except ValueError:
            m = {}
        parity = m.get("parity") or {}
        info.update(
            kind=m.get("kind"),
            format=m.get("format"),
            created_at=m.get("created_at"),
            model_version=(m.get("registry") or {}).get("version"),
            data_manifest_sha256=(m.get("registry") or {}).get("data_manifest_sha256"),
            files=len(m.get("files") or {}),
            bytes=sum(int(f.get("bytes") or 0) for f in (m.get("files") or {}).values()),
            parity={k: v for k, v in parity.items() if isinstance(v, (int, float, str, bool))}
            if isinstance(parity, dict)
            else parity,
        )
    sig = d / "model.sig"
    info["signed"] = sig.is_file()
    total = sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
    if not sig.is_file():
        info["verification"] = {"ok": False, "error": "no signature (model.sig missing)"}
    elif total > VERIFY_MAX_BYTES:
        info["verification"] = {
            "ok": None,
            "error": f"not re-verified here ({total >> 20} MiB); run appliance verify {d}",
        }
    else:
        try:
            from appliance.sign import verify_directory

            r = verify_directory(d, keys)
            info["verification"] = {"ok": True, "key_id": r.get("key_id"), "files": len(r.get("files") or [])}
        except ImportError:
            info["verification"] = {"ok": None, "error": "model-signing verifier not available"}
        except ApplianceError as e:
            info["verification"] = {"ok": False, "error": e.message, "details": e.details[:5]}
    return info


def collect(home: Home, entries: list[dict], period: Period) -> dict[str, Any]:
    inside = [e for e in entries if period.contains(e.get("ts"))]
    artifacts = []
    root = home.artifacts_dir
    if root.is_dir():
        try:
            from appliance.keys import public_keys

            keys = public_keys(home)
        except Exception:  # noqa: BLE001 -- no keys: artifacts are listed as unverifiable, the report still renders
            keys = {}
        for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            artifacts.append(_one(home, d, keys))
    exports = [
        {
            "ts": e["ts"],
            "actor": e.get("actor"),
            "action": e["action"],
            "outcome": e.get("outcome"),
            "object": obj(e),
        }
        for e in by_action(inside, "export", "sign", "verify", "bundle")
    ]
    audit_exports = [
        {"ts": e["ts"], "actor": e.get("actor"), "outcome": e.get("outcome"), **obj(e)}
        for e in by_action(inside, "audit.export")
    ]
    has = bool(artifacts or exports or audit_exports)
    return {
        "status": "ok" if has else "no data",
        "artifacts": artifacts,
        "events": exports,
        "audit_exports": audit_exports,
        "failed": [a["artifact_id"] for a in artifacts if (a.get("verification") or {}).get("ok") is False],
    }
