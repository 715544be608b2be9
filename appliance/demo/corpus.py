"""The embedded synthetic corpus the demo runs on: the one place its paths and vault sources are named.

Two months of synthetic clinical notes with planted PHI and an answer key (``spans``), shipped as package
data in ``appliance/data/``.  Month 1 feeds the first training run, month 2 the monthly retrain.
"""

from __future__ import annotations

from pathlib import Path

from appliance.errors import MissingComponent

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
MONTH1 = DATA_DIR / "synthetic_notes.jsonl"
MONTH2 = DATA_DIR / "synthetic_notes_month2.jsonl"
MONTH1_SOURCE = "demo-month1"
MONTH2_SOURCE = "demo-month2"
SOURCES_GLOB = "demo-*"  # what the demo's training run reads


def require(path: Path, what: str = "synthetic corpus") -> Path:
    """``path`` if it is a file, else a clear error (the corpus ships with the package)."""
    path = Path(path)
    if not path.is_file():
        raise MissingComponent(f"{what} {path} is missing", hint="reinstall the appliance package")
    return path


def ingest_failed(report, what: str = "synthetic corpus") -> MissingComponent:
    """The error for an ingest of the embedded corpus that could not read it."""
    return MissingComponent(f"{what} could not be read: {report.errors[0]['error']}",
                            hint="reinstall the appliance package")
