"""Offline-safe engine set-up: no model download, no public-suffix fetch, the worker pool."""

from __future__ import annotations

import pytest

from appliance.errors import MissingComponent


def test_missing_model_names_the_setting(tmp_path):
    from appliance.config import ScrubSection
    from appliance.scrub import Scrubber

    with pytest.raises(MissingComponent) as e:
        Scrubber(ScrubSection(spacy_model="en_core_web_nonexistent_xx"), workers=1)
    assert "scrub.spacy_model" in e.value.message and "appliance.toml" in (e.value.hint or "")
    with pytest.raises(MissingComponent):
        Scrubber(ScrubSection(spacy_model=str(tmp_path / "no-such-dir")), workers=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingComponent):
        Scrubber(ScrubSection(spacy_model=str(tmp_path / "empty")), workers=1)


def test_model_by_directory_path():
    import spacy

    from appliance.scrub.engine import load_spacy, resolve_spacy_model

    path = spacy.util.get_package_path(resolve_spacy_model("en_core_web_sm"))
    model_dir = next(p.parent for p in path.rglob("config.cfg"))
    nlp = load_spacy(str(model_dir))
    assert "ner" in nlp.pipe_names and "parser" not in nlp.pipe_names


def test_tldextract_is_offline():
    # sockets are disabled in the suite: a public-suffix download would raise here
    import tldextract

    from appliance.scrub.engine import make_tldextract_offline

    make_tldextract_offline()
    assert tldextract.extract("mail.example.co.uk").suffix == "co.uk"


def test_presidio_compatible_recognizer(engine):
    """Our recognizers plug into a Presidio AnalyzerEngine registry as well."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    from appliance.scrub.rules import ClinicalDateRecognizer, ClinicalLabeledIdRecognizer

    nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "en_core_web_sm"}])
    nlp_engine.nlp = {"en": engine.nlp}
    reg = RecognizerRegistry(supported_languages=["en"])
    reg.add_recognizer(ClinicalDateRecognizer())
    reg.add_recognizer(ClinicalLabeledIdRecognizer())
    analyzer = AnalyzerEngine(registry=reg, nlp_engine=nlp_engine, supported_languages=["en"])
    res = analyzer.analyze("MRN 4452318 seen 7/22.", language="en")
    assert {r.entity_type for r in res} >= {"MRN", "DATE"}


def test_two_workers_match_one(settings):
    from appliance.scrub import Scrubber
    from appliance.scrub.synthetic import generate_notes

    texts = [n["text"] for n in generate_notes(12, seed=5)]
    with Scrubber(settings, workers=1) as one:
        a = one.detect_batch(texts)
    with Scrubber(settings, workers=2) as two:
        b = two.detect_batch(texts)
        c = two.detect_batch(texts[:3])  # the pool is reused across calls
    assert a == b and c == a[:3]


def test_presidio_default_registry_unaffected_by_our_classes(engine):
    """Presidio finds predefined recognizers by class name among all EntityRecognizer subclasses: ours must
    not shadow any of them (a plain AnalyzerEngine still builds after our module is imported)."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.recognizer_registry.recognizers_loader_utils import RecognizerListLoader

    from appliance.scrub.rules import REGISTRY

    all_names = [c.__name__ for c in RecognizerListLoader.get_all_existing_recognizers()]
    for cls in REGISTRY.values():
        assert all_names.count(cls.__name__) == 1, cls.__name__
    nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "en_core_web_sm"}])
    nlp_engine.nlp = {"en": engine.nlp}
    for _ in range(3):
        AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
