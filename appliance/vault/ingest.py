"""The ingest pipeline: read → normalise → filter → scrub → dedup → encrypt → commit, one batch at a time.

- Files are streamed; each file is validated in a first pass that keeps nothing, so a bad file (binary,
  invalid UTF-8, empty, unreadable, an over-long line or CSV field) contributes nothing and becomes one
  per-file error in the report, while the other files are ingested.
- Records pass quality filters (:mod:`appliance.curate.quality`) on the normalised raw text; exact duplicates
  (keyed content hash) and near-duplicates (MinHash + LSH) are removed against every active record in the
  vault, earlier batches included, and within the run; the rest are scrubbed in batches of
  ``[vault] batch_records``.
- A batch commits atomically: objects are sealed and fsynced under staging names, renamed, then one catalog
  transaction inserts the batch, its records, signatures and band keys.  A crash before the commit leaves
  only orphan files, which the next writer sweeps; nothing committed earlier is touched.
- Raw and scrubbed text exist only in memory; nothing but sealed objects and metadata reaches the disk.
- Columns next to the text (``--id-column``, ``--patient-column``, ``--date-column``) are kept as
  :mod:`appliance.vault.metadata` rows in the batch's transaction: keyed hashes of the ids, the note month.
  Records of one patient are scrubbed with one surrogate/date-shift scope (the scrubber's patient key).
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from appliance.config import load_site_config
from appliance.curate import LSHIndex, band_keys, jaccard, quality
from appliance.errors import UsageError
from appliance.vault import catalog as _cat
from appliance.vault import metadata as _meta
from appliance.vault import scrub_policy
from appliance.vault.normalize import normalize
from appliance.vault.readers import FileRejected, RowMeta, display_name, expand, read_rows, validate_file
from appliance.vault.store import Vault, audit, utc_now

EXACT_DUP = "exact_duplicate"
NEAR_DUP = "near_duplicate"
EMPTY_AFTER_SCRUB = "empty_after_scrub"
_SOURCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: Fault-injection hook for the crash test: seconds to sleep after each record is staged.
ENV_TEST_DELAY = "APPLIANCE_VAULT_TEST_RECORD_DELAY"

ProgressFn = Callable[[str, dict], None]


@dataclass
class IngestReport:
    ingest_id: str
    source: str
    files_total: int = 0
    files_ok: int = 0
    errors: list[dict] = field(default_factory=list)  # {"path", "error"}: shown to the operator, never audited
    records_in: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    phi_found: dict[str, int] = field(default_factory=dict)
    # clinical-vocabulary tokens in the raw notes and how many survived scrubbing (appliance.scrub.damage)
    clinical_vocab: list[int] = field(default_factory=lambda: [0, 0])
    batches: list[str] = field(default_factory=list)
    scrub_policy: dict = field(default_factory=dict)  # {"operators": type -> operator, "waivers": type -> reason}
    record_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """True when any input file could not be ingested (the CLI exits 1)."""
        return bool(self.errors)

    def summary(self) -> dict:
        """Counts only (what the audit log and the demo keep)."""
        return {
            "ingest_id": self.ingest_id, "source": self.source, "files_total": self.files_total,
            "files_ok": self.files_ok, "files_failed": len(self.errors), "records_in": self.records_in,
            "kept": self.kept, "dropped": dict(self.dropped), "phi_found": dict(self.phi_found),
            **_damage_fields(*self.clinical_vocab), "batches": len(self.batches), **self.scrub_policy,
        }

    def to_dict(self) -> dict:
        d = self.summary()
        d.update(errors=self.errors, batch_ids=self.batches, record_ids=self.record_ids, seconds=self.seconds)
        return d


@dataclass
class _Pending:
    text: str  # normalised raw text (memory only)
    raw_hash: str
    sig: Any
    band_keys: list[int]
    patient_key: str | None = None
    note_month: str | None = None
    source_id_key: str | None = None


class _Batcher:
    """Dedups admitted texts against the vault and the run, then scrubs, seals and commits them in batches.

    Duplicates are judged on the normalised *raw* text, before scrubbing: surrogates are chosen per note, so two
    copies of one note may scrub to texts that differ in every replaced name, which would hide near-copies
    (and scrubbing a duplicate only to drop it wastes the most expensive step).  What the catalog keeps of the
    raw text is keyed hashes only (HMAC content hash, keyed MinHash signature and band keys; see
    :mod:`appliance.curate.minhash`), deleted again when the record is shredded.
    """

    def __init__(self, vault: Vault, report: IngestReport, scrubber_factory, progress: ProgressFn | None):
        self.v = vault
        self.report = report
        self.scrubber_factory = scrubber_factory
        self.scrubber = None
        self._scrubber_cm = None
        self.progress = progress
        self.minhasher = vault.minhasher()
        _np, _sh, self.bands, self.rows = vault.dedup_params()
        self.threshold = vault.settings.dedup_threshold
        self.batch_records = vault.settings.batch_records
        self.delay = float(os.environ.get(ENV_TEST_DELAY, "0") or 0)
        self.dropped: Counter = Counter()  # whole run
        self.batch_dropped: Counter = Counter()  # since the last commit; stored with the next batch row
        self.phi: Counter = Counter()
        self.pending: list[_Pending] = []
        self.local = LSHIndex(self.threshold, params=(self.bands, self.rows))  # pending texts only
        self.seen_raw: set[str] = set()
        self.seen_stored: set[str] = set()

    def close(self) -> None:
        if self._scrubber_cm is not None:
            self._scrubber_cm.__exit__(None, None, None)
            self._scrubber_cm = None

    def drop(self, reason: str) -> None:
        self.batch_dropped[reason] += 1

    def _scrub(self, texts: list[str], patient_keys: list[str | None]):
        if self.scrubber is None:  # load the NLP pipeline only when there is something to scrub
            cm = self.scrubber_factory()
            self.scrubber = cm.__enter__()
            self._scrubber_cm = cm
        if any(k is not None for k in patient_keys):  # one patient: one surrogate and date-shift scope
            return self.scrubber.scrub_batch(texts, patient_keys)
        return self.scrubber.scrub_batch(texts)

    def _stored(self, column: str, h: str) -> bool:
        sql = f"SELECT 1 FROM records WHERE {column} = ? AND state = 'active' LIMIT 1"
        return self.v.conn.execute(sql, (h,)).fetchone() is not None

    def _is_near_dup(self, sig, keys: list[int]) -> bool:
        if self.local.query(sig):
            return True
        cands: set[str] = set()
        for band, key in enumerate(keys):
            cands.update(r[0] for r in self.v.conn.execute(
                "SELECT record_id FROM lsh_bands WHERE band = ? AND key = ?", (band, key)))
        import numpy as np

        for rid in cands:
            row = self.v.conn.execute("SELECT sig FROM signatures WHERE record_id = ?", (rid,)).fetchone()
            if row is not None and jaccard(np.frombuffer(row[0], dtype=np.uint32), sig) >= self.threshold:
                return True
        return False

    def admit(self, text: str, meta: RowMeta | None = None) -> None:
        """Queue a normalised, filtered text unless it duplicates the vault or this run; commit full batches."""
        h = self.v.raw_hash(text)
        if h in self.seen_raw or self._stored("raw_hash", h):
            self.drop(EXACT_DUP)
            return
        sig = self.minhasher.signature(text)
        keys = band_keys(sig, self.bands, self.rows)
        if self._is_near_dup(sig, keys):
            self.drop(NEAR_DUP)
            return
        self.seen_raw.add(h)
        self.local.insert(str(len(self.pending)), sig)
        keys_ = self.v.keys
        m = meta or RowMeta()
        self.pending.append(_Pending(
            text, h, sig, keys,
            patient_key=_meta.patient_key(keys_, m.patient) if m.patient else None,
            note_month=m.date.strftime("%Y-%m") if m.date else None,
            source_id_key=_meta.source_id_key(keys_, m.source_id) if m.source_id else None))
        if len(self.pending) >= self.batch_records:
            self.commit()

    def commit(self) -> None:
        """Scrub, seal and atomically commit the pending texts as one batch (with the drops since the last)."""
        if not self.pending and not self.batch_dropped:
            return
        v, rep = self.v, self.report
        pending, self.pending = self.pending, []
        self.local = LSHIndex(self.threshold, params=(self.bands, self.rows))
        results = self._scrub([p.text for p in pending], [p.patient_key for p in pending]) if pending else []
        batch_id = "b-" + secrets.token_hex(8)
        now = utc_now()
        batch_dropped, self.batch_dropped = self.batch_dropped, Counter()
        batch_phi: Counter = Counter()
        vocab = [0, 0]  # clinical-vocabulary tokens, kept unchanged (unlabelled: the one damage figure we can know)
        rows, sig_rows, band_rows, staged, meta_rows = [], [], [], [], []
        try:
            for p, res in zip(pending, results):
                counts = {str(k): int(n) for k, n in dict(res.counts).items() if n}
                batch_phi.update(counts)
                vt, vk = getattr(res, "clinical_vocab", (0, 0))
                vocab[0] += vt
                vocab[1] += vk
                text = normalize(res.text)
                if not text:
                    batch_dropped[EMPTY_AFTER_SCRUB] += 1
                    continue
                h = v.content_hash(text)
                if h in self.seen_stored or self._stored("sha256", h):  # distinct notes, same scrubbed text
                    batch_dropped[EXACT_DUP] += 1
                    continue
                self.seen_stored.add(h)
                rid = "r-" + secrets.token_hex(12)
                sealed, kek_id, wrapped = v.seal(rid, text)
                v.stage_object(rid, sealed)
                staged.append(rid)
                rows.append((rid, rep.source, batch_id, now, h, p.raw_hash, len(text), len(text.encode("utf-8")),
                             len(sealed), kek_id, wrapped, _cat.dumps(counts)))
                sig_rows.append((rid, p.sig.astype("<u4").tobytes()))
                meta_rows.append((rid, p.patient_key, p.note_month, p.source_id_key))
                band_rows.extend((b, k, rid) for b, k in enumerate(p.band_keys))
                del text, sealed
                if self.delay:
                    time.sleep(self.delay)
            del pending, results
            v.publish_objects(staged)
            with _cat.transaction(v.conn) as c:
                c.execute(
                    "INSERT INTO batches(id, ingest_id, source, created_at, n_records, scrub_counts, dropped) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (batch_id, rep.ingest_id, rep.source, now, len(rows), _cat.dumps(dict(batch_phi)),
                     _cat.dumps(dict(batch_dropped))),
                )
                c.executemany(
                    "INSERT INTO records(id, source, batch_id, ingested_at, sha256, raw_hash, n_chars, n_bytes, "
                    "sealed_bytes, kek_id, wrapped_key, scrub_counts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows)
                c.executemany("INSERT INTO signatures(record_id, sig) VALUES (?, ?)", sig_rows)
                c.executemany("INSERT INTO lsh_bands(band, key, record_id) VALUES (?, ?, ?)", band_rows)
                _meta.insert(c, meta_rows)
        except BaseException:
            for rid in staged:  # nothing of this batch may stay visible
                v.staging_path(rid).unlink(missing_ok=True)
                v.object_path(rid).unlink(missing_ok=True)
            raise
        rep.batches.append(batch_id)
        rep.record_ids.extend(r[0] for r in rows)
        rep.kept += len(rows)
        self.dropped.update(batch_dropped)
        self.phi.update(batch_phi)
        rep.clinical_vocab = [rep.clinical_vocab[0] + vocab[0], rep.clinical_vocab[1] + vocab[1]]
        audit(v.home, "vault.ingest.batch", {
            "ingest_id": rep.ingest_id, "batch": batch_id, "source": rep.source, "records": len(rows),
            "dropped": dict(batch_dropped), "phi_found": dict(batch_phi), **_damage_fields(*vocab), **rep.scrub_policy,
        }, v.keys)
        if self.progress:
            self.progress("batch", {"batch": batch_id, "kept": rep.kept})


def _damage_fields(total: int, kept: int) -> dict:
    """The clinical damage an unlabelled batch can show: the share of clinical-vocabulary tokens kept."""
    from appliance.scrub.damage import kept_share

    return {"clinical_vocab_tokens": total, "clinical_vocab_kept": kept_share(total, kept)}


def _default_scrubber(vault: Vault):
    from appliance.scrub import Scrubber
    from appliance.scrub.learned.store import active_model

    return Scrubber(vault.scrub_settings, secret=vault.keys.derive("scrub-surrogates"), learned_model=active_model(vault.keys))


def ingest(
    vault: Vault,
    paths: Iterable[str | os.PathLike],
    source: str,
    *,
    progress: ProgressFn | None = None,
    scrubber: Callable[[], Any] | None = None,
    follow_symlinks: bool = False,
    columns: dict[str, str | None] | None = None,
    record_format: str = "text",
) -> IngestReport:
    """Ingest ``paths`` (files or directories) into ``source``.

    Per-file problems never raise: they are listed in ``report.errors`` (``report.failed`` is then true).
    ``progress(event, info)`` receives ``start`` (``total_bytes``), ``advance`` (``bytes`` of input
    consumed), ``file`` (``path``, ``error`` or None) and ``batch`` (``kept`` so far) events.
    ``scrubber`` is a factory returning a context manager that yields an object with ``scrub_batch(texts)``;
    the default is :class:`appliance.scrub.Scrubber` keyed by this home (``keys.derive("scrub-surrogates")``).
    Symbolic links are per-file errors unless ``follow_symlinks`` (then only targets inside the named tree);
    special files are refused; every path and reason in ``report.errors`` is escaped for printing.
    A switched-off scrubber without a waiver raises PolicyRefused before anything is read.
    ``columns`` (``{"text_column", "id_column", "patient_column", "date_column"}``; None values ignored)
    override the ``[vault]`` settings of the same names for this run.
    ``record_format="chat"``: each JSONL line is a conversation (:mod:`appliance.vault.chat`), scrubbed
    message by message and stored as canonical JSON, for ``data.format: chat`` training.
    """
    if not _SOURCE_RE.match(source or ""):
        raise UsageError(
            f"invalid source name {source!r}",
            hint="use letters, digits, '.', '_' or '-' (max 64), e.g. --source notes-2026-01",
        )
    if record_format not in ("text", "chat"):
        raise UsageError(f"unknown record format {record_format!r}", hint="use --format text or --format chat")
    chat = record_format == "chat"
    paths = list(paths)
    if not paths:
        raise UsageError("no input paths", hint="appliance vault ingest PATH... --source NAME")
    t0 = time.perf_counter()
    s = vault.settings
    policy = scrub_policy.enforce(vault.scrub_settings, load_site_config(vault.home.config_path).waiver,
                                  str(vault.home.config_path))
    over = {k: v for k, v in (columns or {}).items() if v}
    unknown = set(over) - {"text_column", "id_column", "patient_column", "date_column"}
    if unknown:
        raise UsageError(f"unknown column option(s): {', '.join(sorted(unknown))}")
    if over:
        s = s.model_copy(update=over)
    report = IngestReport(ingest_id="i-" + secrets.token_hex(8), source=source)
    report.scrub_policy = policy.audit_fields()
    files = list(expand(paths, follow_symlinks))
    report.files_total = len(files)
    sizes = []
    for p, problem in files:
        try:
            sizes.append(p.stat().st_size if problem is None else 0)
        except OSError:
            sizes.append(0)
    if progress:
        progress("start", {"total_bytes": sum(sizes), "files": len(files)})
    factory = scrubber or (lambda: _default_scrubber(vault))
    if chat:
        from appliance.vault import chat as chatmod

        factory = chatmod.scrubbing(factory)
    with vault.writing():
        _meta.ensure(vault.conn)
        batcher = _Batcher(vault, report, factory, progress)
        try:
            for (path, problem), size in zip(files, sizes):
                done = 0.0
                if problem is None:
                    try:
                        # known record count: smooth progress in big files
                        step = size / validate_file(path, s, record_format)
                        for raw, meta in read_rows(path, s, record_format):
                            report.records_in += 1
                            if progress:
                                progress("advance", {"bytes": step})
                                done += step
                            text = normalize(raw)
                            reason = quality.check(chatmod.plain_text(text) if chat else text, s)
                            if reason:
                                batcher.drop(reason)
                            else:
                                batcher.admit(text, meta)
                        report.files_ok += 1
                    except FileRejected as e:
                        problem = str(e)
                if problem is not None:
                    report.errors.append({"path": display_name(path), "error": display_name(problem)})
                if progress:
                    progress("advance", {"bytes": max(0.0, size - done)})
                    progress("file", {"path": display_name(path), "error": problem and display_name(problem)})
            batcher.commit()
        finally:
            batcher.close()
    report.dropped = dict(batcher.dropped)
    report.phi_found = dict(batcher.phi)
    report.seconds = round(time.perf_counter() - t0, 3)
    audit(vault.home, "vault.ingest", report.summary(), vault.keys, outcome="partial" if report.failed else "ok")
    return report
