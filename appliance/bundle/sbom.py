"""A CycloneDX 1.5 SBOM (JSON) written from the wheels and models actually in the bundle.

No network and no SBOM library: each wheel's ``*.dist-info/METADATA`` gives name, version, licence and
``Requires-Dist``; the file's sha256 is the component hash; models become ``machine-learning-model``
components hashed over their file list.
"""

from __future__ import annotations

import re
import uuid
import zipfile
from datetime import UTC, datetime
from email.parser import HeaderParser
from pathlib import Path

from appliance._internal.hashing import canonical_json, sha256_bytes, sha256_file
from appliance.bundle.spec import normalize_name


def wheel_metadata(path: Path) -> dict:
    """Name, version, licence and dependency names from a wheel's METADATA (no install needed)."""
    with zipfile.ZipFile(path) as z:
        meta_name = next(n for n in z.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n))
        msg = HeaderParser().parsestr(z.read(meta_name).decode("utf-8", "replace"))
    deps = []
    for req in msg.get_all("Requires-Dist") or []:
        if "extra ==" in req.replace("extra==", "extra =="):
            continue  # optional extras are not part of the installed closure
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
        if m:
            deps.append(normalize_name(m.group(1)))
    if msg.get("License-Expression"):
        lic = {"expression": msg["License-Expression"].strip()}
    else:  # free-text License fields can be whole licence texts: keep a short first line only
        first = ((msg.get("License") or "").strip().splitlines() or [""])[0][:100]
        lic = {"license": {"name": first}} if first and first.upper() != "UNKNOWN" else None
    return {"name": msg["Name"], "version": msg["Version"], "license": lic, "requires": sorted(set(deps))}


def _purl(name: str, version: str) -> str:
    from urllib.parse import quote

    return f"pkg:pypi/{normalize_name(name)}@{quote(version, safe='')}"  # purl: "+" in versions is encoded


def build_sbom(root: Path, name: str, version: str, tool_version: str, sdist_built: set[str]) -> dict:
    """The SBOM dict for the bundle at ``root`` (wheels under ``wheels/``, models under ``models/``)."""
    components, deps, by_name = [], [], {}
    wheels = sorted((root / "wheels").glob("*.whl"))
    metas = {w: wheel_metadata(w) for w in wheels}
    for w, meta in metas.items():
        by_name[normalize_name(meta["name"])] = _purl(meta["name"], meta["version"])
    for w, meta in metas.items():
        ref = by_name[normalize_name(meta["name"])]
        comp = {
            "type": "library",
            "bom-ref": ref,
            "name": meta["name"],
            "version": meta["version"],
            "purl": ref,
            "hashes": [{"alg": "SHA-256", "content": sha256_file(w)}],
            "properties": [{"name": "appliance:file", "value": f"wheels/{w.name}"}],
        }
        if meta["license"]:
            comp["licenses"] = [meta["license"]]
        if normalize_name(meta["name"]) in sdist_built:
            comp["properties"].append({"name": "appliance:built-from-sdist", "value": "true"})
        components.append(comp)
        deps.append({"ref": ref, "dependsOn": sorted(by_name[d] for d in meta["requires"] if d in by_name)})
    models_dir = root / "models"
    for mdir in sorted(p for p in models_dir.iterdir() if p.is_dir()) if models_dir.is_dir() else []:
        listing = {
            p.relative_to(mdir).as_posix(): sha256_file(p) for p in sorted(mdir.rglob("*")) if p.is_file()
        }
        components.append(
            {
                "type": "machine-learning-model",
                "bom-ref": f"model:{mdir.name}",
                "name": mdir.name,
                "hashes": [{"alg": "SHA-256", "content": sha256_bytes(canonical_json(listing))}],
                "properties": [
                    {"name": "appliance:path", "value": f"models/{mdir.name}"},
                    {"name": "appliance:files", "value": str(len(listing))},
                ],
            }
        )
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "appliance", "version": tool_version}]},
            "component": {
                "type": "application",
                "bom-ref": f"bundle:{name}@{version}",
                "name": name,
                "version": version,
            },
        },
        "components": components,
        "dependencies": deps,
    }
