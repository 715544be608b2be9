"""Vault fixtures: an open vault over the shared initialised home, a scrubber, text generators, CLI helpers."""

from __future__ import annotations

import contextlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSPHRASE = b"correct horse battery staple"  # same as tests/conftest.py

WORDS = ["patient", "presented", "with", "acute", "chest", "pain", "radiating", "to", "left", "arm", "shortness", "of", "breath", "diaphoresis", "nausea", "history", "includes", "hypertension", "type", "two", "diabetes", "hyperlipidemia", "chronic", "kidney", "disease", "stage", "three", "medications", "lisinopril", "metformin", "atorvastatin", "aspirin", "examination", "revealed", "tachycardia", "mild", "edema", "bilateral", "crackles", "troponin", "elevated", "electrocardiogram", "showed", "st", "depression", "lateral", "leads", "admitted", "cardiology", "consulted", "heparin", "started", "echocardiogram", "ejection", "fraction", "reduced", "plan", "catheterization", "follow", "up", "outpatient", "clinic", "weeks", "counselling", "smoking", "cessation", "diet", "exercise", "discharged", "stable", "afebrile", "oxygen", "saturation", "room", "air", "abdomen", "soft", "nontender", "neurological", "intact", "gait", "steady", "wound", "clean", "dry", "intact", "sutures", "removed", "physiotherapy", "mobility", "improving", "pain", "controlled", "oral", "analgesia"]


def note(rng: random.Random, n_words: int = 80) -> str:
    """A synthetic, PHI-free clinical-sounding note (random word order keeps notes mutually dissimilar)."""
    words = [rng.choice(WORDS) for _ in range(n_words)]
    lines = [" ".join(words[i : i + 12]).capitalize() + "." for i in range(0, n_words, 12)]
    return "\n".join(lines)


def write_jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return path


@dataclass
class _Result:
    text: str
    counts: dict


class TinyScrubber:
    """Presidio-free stand-in used only while appliance.scrub is not importable: replaces 'Dr. Name'."""

    _re = re.compile(r"\bDr\. [A-Z][a-z]+")

    def scrub_batch(self, texts, patient_keys=None):
        out = []
        for t in texts:
            n = len(self._re.findall(t))
            out.append(_Result(self._re.sub("Dr. [PERSON]", t), {"PERSON": n} if n else {}))
        return out


def _real_scrubber_available() -> bool:
    try:
        from appliance.scrub import Scrubber  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="session")
def _session_scrubber():
    """One real Scrubber for the whole session (loading spaCy per test would blow the time budget)."""
    if not _real_scrubber_available():
        yield TinyScrubber()
        return
    from appliance.config import ScrubSection
    from appliance.scrub import Scrubber

    with Scrubber(ScrubSection(workers=1), secret=b"t" * 32, workers=1) as s:
        yield s


@pytest.fixture
def scrubber(_session_scrubber):
    """A scrubber factory for ``Vault.ingest(scrubber=…)`` that reuses the session scrubber."""

    @contextlib.contextmanager
    def factory():
        yield _session_scrubber

    return factory


@pytest.fixture
def vault(home, keys):
    from appliance.vault import Vault

    v = Vault.open(home, keys)
    yield v
    v.close()


def set_vault_config(home, **values) -> None:
    """Write ``[vault]`` keys into the home's appliance.toml (replacing the file); one scrub worker, since
    every CLI ingest starts its own NLP pipeline and the test host has two cores."""
    body = "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
    home.config_path.write_text("[scrub]\nworkers = 1\n\n[vault]\n" + body)


@pytest.fixture
def vt():
    """Helpers for the vault tests (a fixture, since test modules cannot import this conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(PASSPHRASE=PASSPHRASE, note=note, write_jsonl=write_jsonl, set_vault_config=set_vault_config,
                           WORDS=WORDS)
