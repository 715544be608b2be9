"""Signed USB bundles: spec → lock → build (staging host) → verify → install / upgrade (air-gapped host).

Public API:

- :func:`load_spec` (``bundles/*.toml``), :func:`lock` (hash-pinned lock for the target), :func:`build`
  (wheels, models, installer, hardening, SBOM, MANIFEST.json + vendor signature),
- :func:`verify` (signature against the pinned vendor key, every hash, nothing unlisted; a bundle signed by a
  new vendor key verifies only through a key-transition statement signed by the pinned key),
- :func:`transition` (the old vendor key signs the switch to a new one; ``bundle build --key-transition``),
- :func:`upgrade` (the installed, pinned ``install.sh`` installs a newer bundle; rollback refused).

Each action is audited when a home exists.  The trust anchor is ``installer/vendor.pub.pem``: the copy the
running appliance was installed with, else the source checkout's (development), never the bundle's own.
"""

from __future__ import annotations

import sys
from pathlib import Path

from appliance.bundle.build import build_bundle, lock_spec
from appliance.bundle.install import audit, upgrade
from appliance.bundle.manifest import signature_ok, verify_bundle
from appliance.bundle.sources import probe_indexes, resolve_sources
from appliance.bundle.spec import BundleSpec, load_spec
from appliance.bundle.transition import STATEMENT, check_transition, make_transition
from appliance.errors import ApplianceError, UsageError
from appliance.home import Home

__all__ = ["BundleSpec", "build", "load_spec", "lock", "pinned_public_key", "transition", "upgrade", "verify"]


def pinned_public_key(explicit: Path | None = None) -> tuple[bytes, Path]:
    """The vendor public key to trust: ``explicit``, else the installed copy, else the source checkout's."""
    candidates = (
        [Path(explicit)]
        if explicit
        else [
            Path(sys.prefix) / "share" / "appliance" / "installer" / "vendor.pub.pem",
            Path(__file__).resolve().parents[2] / "installer" / "vendor.pub.pem",
        ]
    )
    for c in candidates:
        if c.is_file():
            return c.read_bytes(), c
    raise UsageError("no pinned vendor public key found", hint="pass --pubkey installer/vendor.pub.pem")


def _sources(spec: BundleSpec, sources: dict, progress) -> BundleSpec:
    """The spec with this staging host's sources (options, spec, pip config), each index probed once."""
    spec = resolve_sources(spec, **sources)
    if spec.requirements or any(s.requirement for s in spec.sdists):
        probe_indexes(spec, progress=progress)
    return spec


def lock(
    spec_path: Path,
    *,
    index_url: str | None = None,
    extra_index_urls: list[str] | None = None,
    no_extra_index: bool = False,
    find_links: list[Path] | None = None,
    progress=lambda m: None,
) -> dict:
    """Write the spec's hash-pinned lock for its target (staging host, needs the package index)."""
    sources = {"index_url": index_url, "extra_index_urls": extra_index_urls, "no_extra_index": no_extra_index,
               "find_links": find_links}
    return lock_spec(_sources(load_spec(spec_path), sources, progress), progress=progress)


def build(
    spec_path: Path,
    out: Path,
    vendor_key: Path,
    *,
    version: str | None = None,
    installer_dir: Path | None = None,
    home: Home | None = None,
    index_url: str | None = None,
    extra_index_urls: list[str] | None = None,
    no_extra_index: bool = False,
    find_links: list[Path] | None = None,
    key_transition: Path | None = None,
    progress=lambda m: None,
) -> dict:
    """Build and sign the bundle described by ``spec_path`` into ``out``.

    Sources: see :mod:`appliance.bundle.sources`; an index that does not answer fails the build in seconds
    (IndexUnreachable, naming it), before anything is downloaded.
    """
    sources = {"index_url": index_url, "extra_index_urls": extra_index_urls, "no_extra_index": no_extra_index,
               "find_links": find_links}
    spec = load_spec(spec_path, version=version)
    try:
        spec = _sources(spec, sources, progress)
        result = build_bundle(spec, out, vendor_key, installer_dir=installer_dir, key_transition=key_transition,
                              progress=progress)
    except ApplianceError as e:
        audit(
            home,
            "bundle.build",
            {"bundle": spec.name, "version": spec.version},
            outcome=f"error:{type(e).__name__}",
        )
        raise
    audit(
        home,
        "bundle.build",
        {
            "bundle": spec.name,
            "version": spec.version,
            "files": result["files"],
            "key": result["key_fingerprint"][:16],
        },
    )
    return result


def verify(bundle_dir: Path, *, pubkey: Path | None = None, home: Home | None = None) -> dict:
    """Verify a bundle against the pinned vendor key; raises IntegrityError (exit 3) on any problem."""
    pem, key_path = pinned_public_key(pubkey)
    moved = None
    try:
        if not signature_ok(Path(bundle_dir), pem) and (Path(bundle_dir) / "installer" / STATEMENT).is_file():
            pem, moved = check_transition(Path(bundle_dir), pem)
        report = verify_bundle(Path(bundle_dir), pem)
    except ApplianceError as e:
        audit(
            home,
            "bundle.verify",
            {"bundle": Path(bundle_dir).name, "problems": len(e.details) or 1},
            outcome="failed",
        )
        raise
    report["pubkey"] = str(key_path)
    if moved is not None:
        report["key_transition"] = {k: moved[k] for k in ("old_key_sha256", "new_key_sha256", "reason",
                                                          "not_before", "not_after")}
    audit(
        home,
        "bundle.verify",
        {"bundle": report["name"], "version": report["version"], "files": report["files"]},
    )
    return report


def transition(old_key: Path, new_pub: Path, out: Path, *, reason: str, valid_days: int = 365,
               home: Home | None = None) -> dict:
    """Write a key-transition statement (``out`` + ``out``.sig) signed by the old vendor key."""
    st = make_transition(old_key, new_pub, out, reason=reason, valid_days=valid_days)
    audit(home, "bundle.transition", {"old": st["old_key_sha256"][:16], "new": st["new_key_sha256"][:16],
                                      "not_after": st["not_after"]})
    return st
