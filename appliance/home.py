"""The appliance home: the one place that knows where things live on disk.

Nothing else in the package builds paths under the home by hand; it asks a :class:`Home`.
``APPLIANCE_HOME`` selects the home; otherwise ``/var/lib/appliance`` for root, else the user data dir.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import NotInitialized

ENV_HOME = "APPLIANCE_HOME"
SUBDIRS = (
    "keys",
    "keys/retired",
    "vault",
    "vault/objects",
    "audit",
    "audit/checkpoints",
    "models",
    "runs",
    "artifacts",
    "tmp",
)


def default_home() -> Path:
    """Where the home is when neither ``--home`` nor ``APPLIANCE_HOME`` says otherwise."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/appliance")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "appliance"


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, explicit: str | os.PathLike | None = None) -> Home:
        """The home named by ``explicit``, else ``APPLIANCE_HOME``, else the default."""
        raw = explicit or os.environ.get(ENV_HOME)
        return cls(Path(raw).expanduser().absolute() if raw else default_home())

    # -- top level ---------------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / "appliance.toml"

    @property
    def tmp_dir(self) -> Path:
        """Scratch space inside the home (same filesystem, so renames are atomic). Never plaintext PHI."""
        return self.root / "tmp"

    # -- keys ----------------------------------------------------------------------------------------------
    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def keyring_path(self) -> Path:
        return self.keys_dir / "keyring.json"

    @property
    def signing_key_path(self) -> Path:
        return self.keys_dir / "signing.key.enc"

    @property
    def signing_pub_path(self) -> Path:
        return self.keys_dir / "signing.pub.pem"

    @property
    def retired_keys_dir(self) -> Path:
        return self.keys_dir / "retired"

    # -- vault ---------------------------------------------------------------------------------------------
    @property
    def vault_dir(self) -> Path:
        return self.root / "vault"

    @property
    def catalog_path(self) -> Path:
        return self.vault_dir / "catalog.sqlite"

    @property
    def catalog_state_path(self) -> Path:
        """The catalog's sealed row digests; its hash is signed into the audit log (``vault.state``)."""
        return self.vault_dir / "catalog.state.json"

    @property
    def objects_dir(self) -> Path:
        return self.vault_dir / "objects"

    @property
    def scrub_models_dir(self) -> Path:
        """Site-trained scrub models (they hold PHI: sealed like vault records, never exported)."""
        return self.vault_dir / "scrub-models"

    # -- audit ---------------------------------------------------------------------------------------------
    @property
    def audit_dir(self) -> Path:
        return self.root / "audit"

    @property
    def audit_log_path(self) -> Path:
        return self.audit_dir / "log.jsonl"

    @property
    def audit_lock_path(self) -> Path:
        return self.audit_dir / ".lock"

    @property
    def checkpoints_dir(self) -> Path:
        return self.audit_dir / "checkpoints"

    # -- models, runs, artifacts ---------------------------------------------------------------------------
    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def registry_path(self) -> Path:
        return self.models_dir / "registry.sqlite"

    @property
    def registry_state_path(self) -> Path:
        """The registry's sealed row digests; its hash is signed into the audit log (``models.state``)."""
        return self.models_dir / "registry.state.json"

    def model_dir(self, version: str) -> Path:
        return self.models_dir / version

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    def run_dir(self, name: str) -> Path:
        return self.runs_dir / name

    @property
    def artifacts_dir(self) -> Path:
        return self.root / "artifacts"

    def artifact_dir(self, artifact_id: str) -> Path:
        return self.artifacts_dir / artifact_id

    # -- serving -------------------------------------------------------------------------------------------
    @property
    def serve_dir(self) -> Path:
        """``serve/``: the signed API-key file and the running listener's state (created on first use)."""
        return self.root / "serve"

    @property
    def api_keys_path(self) -> Path:
        return self.serve_dir / "api-keys.json"

    @property
    def listener_path(self) -> Path:
        return self.serve_dir / "listener.json"

    # -- state ---------------------------------------------------------------------------------------------
    @property
    def initialized(self) -> bool:
        return self.keyring_path.is_file()

    def require_initialized(self) -> Home:
        """Raise :class:`NotInitialized` unless ``appliance init`` has run here."""
        if not self.initialized:
            raise NotInitialized(
                f"no appliance home at {self.root} (no {self.keyring_path.name})",
                hint=f"appliance init --home {self.root}   (or set {ENV_HOME})",
            )
        return self

    def create_layout(self) -> None:
        """Create every directory of the layout with 0700 permissions (idempotent)."""
        old = os.umask(0o077)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
            for sub in SUBDIRS:
                p = self.root / sub
                p.mkdir(parents=True, exist_ok=True)
                os.chmod(p, 0o700)
        finally:
            os.umask(old)

