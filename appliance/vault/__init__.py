"""The encrypted data vault: per-record chunked AEAD under wrapped data keys, a metadata-only catalog,
the ingest pipeline (read → normalise → filter → scrub → dedup → encrypt → commit), shred, rotate, export.

Public API::

    v = Vault.open(home, keys)                   # keys: appliance.keys.UnlockedKeys
    v.list_records(sources=["demo-*"])           # -> list[RecordMeta]
    v.read_text(record_id)                       # decrypt + authenticate; IntegrityError on tamper
    v.ingest(paths, source) -> IngestReport;  v.verify();  v.shred(record_id=… | source=…)
    v.rotate_key();  v.export(source, out_path);  v.stats()
    on_shred.append(callback)                    # callback(record_ids[, home=Home])
"""

from appliance.vault.store import RecordMeta, Vault, on_shred

__all__ = ["IngestReport", "RecordMeta", "Vault", "VerifyReport", "on_shred"]


def __getattr__(name: str):
    if name == "IngestReport":
        from appliance.vault.ingest import IngestReport

        return IngestReport
    if name == "VerifyReport":
        from appliance.vault.lifecycle import VerifyReport

        return VerifyReport
    raise AttributeError(name)
