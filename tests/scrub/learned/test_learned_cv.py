"""The learned detector under patient-grouped CV on real notes, and the shipped default's provenance."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import pytest

from tests.scrub.conftest import dev_file


@pytest.fixture(scope="module")
def subset():
    """A fifth of the PhysioNet dev patients (2-fold CV on it keeps the test short) with the rules' pass."""
    from appliance.scrub.learned.train import rule_runs, rules_engine
    from appliance.scrub.physionet import convert_physionet

    recs = convert_physionet(dev_file("physionet-deid-dev"))
    patients = sorted({r["patient"] for r in recs})[::5]
    sub = [r for r in recs if r["patient"] in set(patients)]
    return sub, rule_runs(sub, rules_engine())


def test_stacking_beats_rules_under_patient_cv(subset):
    """Trained on other patients only, the CRF over the rules flags far less non-PHI at about the rules' recall."""
    from appliance.scrub.evaluate import score
    from appliance.scrub.learned.train import cross_validate

    recs, runs = subset
    cv = cross_validate(recs, runs, k=2, params={"max_iterations": 40})
    rules = score(recs, cv["rules"])["overall"]
    crf = score(recs, cv["predictions"])["overall"]
    # measured on the whole dev set (5-fold, 2026-12-05): rules 0.942 recall / 0.167 char precision / 2.1% non-PHI
    # replaced, rules + CRF 0.965 / 0.550 / 0.37%; this fifth with 2 folds and fewer iterations sits lower
    assert crf["char_precision"] >= 2 * rules["char_precision"] and crf["char_precision"] >= 0.25, (rules, crf)
    assert crf["non_phi_replaced"] <= min(0.015, rules["non_phi_replaced"] / 2), (rules, crf)
    assert crf["recall"] >= rules["recall"] - 0.1, (rules, crf)


def test_training_is_deterministic(subset):
    from appliance.scrub.learned.train import sequences, train_crf

    recs, runs = subset
    seqs = sequences(recs[:40], runs[:40])
    a = train_crf(seqs, {"max_iterations": 15})
    b = train_crf(seqs, {"max_iterations": 15})
    assert a == b and len(a) > 1000


def test_default_model_card_names_its_public_inputs():
    """The shipped model's card hashes the dev notes and the seeded synthetic notes it was built from."""
    from appliance.scrub.learned.features import FEATURE_VERSION
    from appliance.scrub.learned.model import DEFAULT_CARD, DEFAULT_MODEL, default_model
    from appliance.scrub.learned.train import default_training_records, records_hash

    base = resources.files("appliance.data")
    card = json.loads(base.joinpath(DEFAULT_CARD).read_text())
    assert hashlib.sha256(base.joinpath(DEFAULT_MODEL).read_bytes()).hexdigest() == card["model_sha256"]
    assert card["feature_version"] == FEATURE_VERSION and default_model()[1] == card
    sources = default_training_records(dev_file("physionet-deid-dev"))
    assert {k: v["sha256"] for k, v in card["training"].items()} == {k: records_hash(v) for k, v in sources.items()}
