"""Shared scrubber fixtures: one detection engine (real spaCy model) for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DEV_DIR = Path(os.environ.get("APPLIANCE_PII_DEV", Path(__file__).resolve().parents[3] / "shared" / "data" / "pii-dev"))


@pytest.fixture(scope="session")
def settings():
    from appliance.config import ScrubSection

    return ScrubSection(workers=1)


@pytest.fixture(scope="session")
def engine(settings):
    from appliance.scrub.engine import DetectionEngine

    return DetectionEngine(settings)


@pytest.fixture(scope="session")
def found(engine):
    """found(text) -> list of (value, type) the scrubber detects."""

    def run(text: str) -> list[tuple[str, str]]:
        (ents,) = engine.detect([text])
        return [(text[e.start : e.end], e.type) for e in ents]

    return run


def covered(found_list, value: str) -> bool:
    """Is ``value`` inside one detected span?"""
    return any(value in v for v, _ in found_list)


def dev_file(name: str) -> Path:
    p = DEV_DIR / name
    if not p.exists():
        pytest.skip(f"development set {p} not present (shared/data/pii-dev beside the repo)")
    return p
