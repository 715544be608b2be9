"""Model registry: signed model versions, the champion pointer, lineage to vault records.

Public API:

- :func:`register_run` (called by the trainer when a run finishes), :func:`import_model` (a local HF snapshot)
- :func:`resolve` (``champion`` is an alias), :func:`get`, :func:`list_versions`, :func:`data_manifest`,
  :func:`verify_version`
- :func:`promote`, :func:`rollback`, :func:`set_status`, :func:`store_evaluation`
- :func:`lineage`, :func:`trained_on`, :func:`flag_shredded`, :func:`refresh_shred_flags`

Importing this package hooks :func:`flag_shredded` into the vault's ``on_shred`` callbacks; ``models ls``
also reconciles flags with the catalog, so a shred made while the hook was not loaded is still caught.
"""

from __future__ import annotations

from appliance.registry.lineage import (
    flag_shredded,
    lineage,
    refresh_shred_flags,
    tainted_versions,
    trained_on,
    training_records,
)
from appliance.registry.versions import (
    CHAMPION,
    champion,
    champion_history,
    data_manifest,
    find_by_run,
    get,
    import_model,
    list_versions,
    on_final,
    promote,
    register_existing_run,
    register_run,
    resolve,
    resolve_name,
    rollback,
    set_status,
    signing,
    store_evaluation,
    verify_version,
)

__all__ = [
    "CHAMPION",
    "champion",
    "champion_history",
    "data_manifest",
    "find_by_run",
    "flag_shredded",
    "get",
    "import_model",
    "lineage",
    "list_versions",
    "on_final",
    "promote",
    "refresh_shred_flags",
    "register_existing_run",
    "register_run",
    "resolve",
    "resolve_name",
    "rollback",
    "set_status",
    "signing",
    "store_evaluation",
    "tainted_versions",
    "trained_on",
    "training_records",
    "verify_version",
]


def _on_shred(record_ids, home=None) -> None:
    if home is not None:
        flag_shredded(home, record_ids)


def _install_hook() -> None:
    try:
        from appliance.vault import store
    except ImportError:  # a build without the vault: nothing to hook
        return
    if _on_shred not in store.on_shred:
        store.on_shred.append(_on_shred)


_install_hook()
