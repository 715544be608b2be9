"""Training data: records → held-out split → data manifest → tokens → packed samples → global-index sampler.

* A :class:`RecordSource` lists record metadata and decrypts one record's text in memory (the vault, or an
  in-memory source in tests).  Text never touches the disk here.
* The held-out split is a function of the record's group alone (a hash), so a record stays on its side of
  the split when new months arrive.  The group is the patient (keyed hash) when the vault knows it, else the
  record id: all of one patient's notes land on one side, so held-out perplexity is not flattered by a
  patient seen in training.  The manifest records which (``grouped_by``).
* The data manifest is the sorted list of ``(id, sha256, split)`` plus its hash: what a model was trained on,
  with ids and hashes only.
* Token ids are derived text, so they leave the parent process only through a memory-only file
  (``memfd``) that the local ranks read through ``/proc/<pid>/fd/<n>``; nothing is written to disk.
* :class:`GlobalSampler` maps one global sample index to a sample: epoch ``e`` is a permutation seeded by
  ``(seed, e)``.  Resuming is constant-time and does not depend on how many ranks read the stream.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from appliance._internal.hashing import canonical_json, sha256_bytes
from appliance.errors import InputError

ENV_DATA_CHANNEL = "APPLIANCE_TRAIN_DATA"


class RecordMetaLike(Protocol):
    id: str
    source: str
    sha256: str


class RecordSource(Protocol):
    """What the trainer needs from the vault."""

    def list_records(self) -> Sequence[RecordMetaLike]: ...

    def read_text(self, record_id: str) -> str: ...


@dataclass(frozen=True)
class MemoryRecord:
    id: str
    source: str
    sha256: str


class InMemorySource:
    """A record source over ``{id: text}`` (tests, benchmarks); sha256 is of the text, as in the vault.
    ``patients`` maps record id → patient key (already hashed), for grouped splits."""

    def __init__(self, texts: dict[str, str], source: str = "memory", patients: dict[str, str] | None = None):
        self._texts = dict(texts)
        self._patients = dict(patients or {})
        self._meta = [MemoryRecord(i, source, hashlib.sha256(t.encode("utf-8")).hexdigest())
                      for i, t in sorted(self._texts.items())]

    def list_records(self) -> list[MemoryRecord]:
        return list(self._meta)

    def read_text(self, record_id: str) -> str:
        return self._texts[record_id]

    def patients(self) -> dict[str, str]:
        return dict(self._patients)


class VaultSource:
    """The vault's active records from the named sources (``["*"]`` = all); decrypts in memory."""

    def __init__(self, vault, sources: list[str]):
        self._vault = vault
        self._sources = None if (not sources or "*" in sources) else list(sources)

    def list_records(self):
        return self._vault.list_records(sources=self._sources, state="active")

    def read_text(self, record_id: str) -> str:
        return self._vault.read_text(record_id)

    def patients(self) -> dict[str, str]:
        """Record id → patient key, for the records ingested with a patient column."""
        return {rid: x.patient_key for rid, x in self._vault.record_extras().items() if x.patient_key}


# -- split and manifest ---------------------------------------------------------------------------------


def is_heldout(record_id: str, fraction: float) -> bool:
    """Stable record-level split: the first 8 bytes of sha256("heldout:" + id) against ``fraction``."""
    if fraction <= 0:
        return False
    h = hashlib.sha256(b"heldout:" + record_id.encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < fraction


def split_group(record_id: str, patient_key: str | None) -> str:
    """What the held-out hash is taken of: the patient when known, else the record."""
    return f"patient:{patient_key}" if patient_key else record_id


def build_manifest(records: Iterable[RecordMetaLike], heldout_fraction: float,
                   patients: dict[str, str] | None = None) -> dict:
    """``{"records": [{"id","sha256","split"[,"patient"]}...] (sorted by id), "counts", "grouped_by", "sha256"}``.

    Ids and keyed hashes only.  With ``patients`` (record id → patient key) every record of one patient
    falls on the same side; ``grouped_by`` is ``"patient"`` when every record has a patient,
    ``"patient_where_known"`` when some do, else ``"record"``.
    """
    patients = patients or {}
    rows = []
    for r in records:
        pk = patients.get(r.id)
        row = {"id": r.id, "sha256": r.sha256,
               "split": "heldout" if is_heldout(split_group(r.id, pk), heldout_fraction) else "train"}
        if pk:
            row["patient"] = pk
        rows.append(row)
    rows.sort(key=lambda x: x["id"])
    counts = {"train": sum(r["split"] == "train" for r in rows), "heldout": sum(r["split"] == "heldout" for r in rows)}
    with_patient = sum("patient" in r for r in rows)
    grouped = "record" if not with_patient else "patient" if with_patient == len(rows) else "patient_where_known"
    return {"version": 1, "heldout_fraction": heldout_fraction, "records": rows, "counts": counts,
            "grouped_by": grouped, "records_with_patient": with_patient,
            "sha256": sha256_bytes(canonical_json(rows))}


def manifest_for(source: RecordSource, heldout_fraction: float) -> dict:
    """:func:`build_manifest` over a source's active records, grouped by patient where the source knows it."""
    patients = source.patients() if hasattr(source, "patients") else None
    return build_manifest(source.list_records(), heldout_fraction, patients)


# -- tokenize and pack ----------------------------------------------------------------------------------


def iter_texts(source: RecordSource, ids: Iterable[str]) -> Iterable[str]:
    for rid in ids:
        yield source.read_text(rid)


def pack(token_lists: Iterable[Sequence[int]], eos_id: int, seq_len: int) -> np.ndarray:
    """Concatenate documents with an EOS after each and cut into ``[n, seq_len]`` samples (tail dropped)."""
    parts = []
    for ids in token_lists:
        parts.append(np.asarray(ids, dtype=np.int32))
        parts.append(np.asarray([eos_id], dtype=np.int32))
    stream = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
    n = len(stream) // seq_len
    return stream[: n * seq_len].reshape(n, seq_len).copy()


def tokenize_split(source: RecordSource, manifest: dict, encode, eos_id: int, seq_len: int) -> dict[str, np.ndarray]:
    """Decrypt, tokenize and pack both splits in memory; returns ``{"train": [n,L], "heldout": [m,L]}``."""
    out = {}
    for split in ("train", "heldout"):
        ids = [r["id"] for r in manifest["records"] if r["split"] == split]
        out[split] = pack((encode(t) for t in iter_texts(source, ids)), eos_id, seq_len)
    if len(out["train"]) == 0:
        raise InputError(
            f"not enough training text for one sample of seq_len {seq_len} "
            f"({manifest['counts']['train']} training records)",
            hint="ingest more records (appliance vault ingest) or lower data.seq_len",
        )
    return out


# -- memory-only channel --------------------------------------------------------------------------------


class DataChannel:
    """Token arrays in an anonymous memory file; local ranks open ``path`` while this object is alive."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.fd = os.memfd_create("appliance-train-data", os.MFD_CLOEXEC)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        data = buf.getvalue()
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.path = f"/proc/{os.getpid()}/fd/{self.fd}"

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def read_channel(path: str) -> dict[str, np.ndarray]:
    """Read the arrays a :class:`DataChannel` published (in a rank process)."""
    with open(path, "rb") as f:
        raw = f.read()
    with np.load(io.BytesIO(raw), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# -- sampler --------------------------------------------------------------------------------------------


class GlobalSampler:
    """Sample for global index ``g``: ``perm(seed, g // n)[g % n]``.  Pure function; no state to save."""

    def __init__(self, n: int, seed: int):
        if n <= 0:
            raise ValueError("empty dataset")
        self.n = n
        self.seed = seed
        self._epoch = -1
        self._perm: np.ndarray | None = None

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            rng = np.random.Generator(np.random.PCG64([self.seed & 0xFFFFFFFF, epoch]))
            self._perm = rng.permutation(self.n)
            self._epoch = epoch
        return self._perm  # type: ignore[return-value]

    def __getitem__(self, g: int) -> int:
        epoch, pos = divmod(int(g), self.n)
        return int(self._permutation(epoch)[pos])

    def indices(self, start: int, count: int) -> list[int]:
        return [self[g] for g in range(start, start + count)]


def rank_slice(step: int, micro: int, rank: int, *, micro_batch: int, grad_accum: int, world: int) -> range:
    """Global sample indices that ``rank`` consumes in micro-step ``micro`` of optimizer step ``step``."""
    gb = micro_batch * grad_accum * world
    start = step * gb + micro * micro_batch * world + rank * micro_batch
    return range(start, start + micro_batch)
