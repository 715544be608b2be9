"""Clinical damage figures (appliance/scrub/damage.py and their place in evaluate.score)."""

from __future__ import annotations

from appliance.scrub.damage import kept_share, setting_notes, vocabulary_counts
from appliance.scrub.evaluate import score

TEXT = "Lumbar puncture done, levo gtt weaning. Wife Maria at bedside."


def _span(word: str) -> tuple[int, int]:
    a = TEXT.index(word)
    return a, a + len(word)


def test_vocabulary_counts_and_share():
    total, kept = vocabulary_counts(TEXT, [])
    assert total >= 3 and kept == total  # lumbar, puncture, levo, gtt … all kept when nothing is detected
    t2, k2 = vocabulary_counts(TEXT, [_span("Lumbar"), _span("Maria")])
    assert t2 == total and k2 == total - 1  # only the vocabulary word a detection touched is lost
    # a vocabulary word inside a gold span is not counted at all (it is PHI there, not damage)
    t3, k3 = vocabulary_counts(TEXT, [_span("Lumbar")], gold=[_span("Lumbar")])
    assert (t3, k3) == (total - 1, total - 1)
    assert kept_share(4, 3) == 0.75 and kept_share(0, 0) is None


def test_score_reports_both_damage_figures():
    gold = [{"id": "1", "text": TEXT, "spans": [{"start": _span("Maria")[0], "end": _span("Maria")[1], "type": "NAME"}]}]
    clean = score(gold, [[(*_span("Maria"), "NAME")]])["overall"]
    damaged = score(gold, [[(*_span("Maria"), "NAME"), (*_span("Lumbar puncture"), "LOCATION")]])["overall"]
    assert clean["non_phi_replaced"] == 0 and clean["clinical_vocab_kept"] == 1.0
    assert damaged["non_phi_replaced"] == round(2 / clean["non_phi_tokens"], 4)
    assert damaged["clinical_vocab_kept"] < 1.0 and damaged["clinical_vocab_tokens"] == clean["clinical_vocab_tokens"]


def test_turning_the_veto_off_is_a_config_check_note():
    from appliance.config import ScrubSection

    assert setting_notes(ScrubSection()) == []
    (note,) = setting_notes(ScrubSection(clinical_veto=False))
    assert "clinical_veto = false" in note


def test_config_check_knows_clinical_veto(home, cli):
    """``[scrub] clinical_veto`` is a checked setting: a non-boolean is a config error naming it, and turning the
    veto off is reported by ``config check`` as a note, not refused (more is scrubbed, nothing is exposed)."""
    import pytest

    from appliance.config import load_site_config
    from appliance.errors import ConfigError

    home.config_path.write_text('[scrub]\nclinical_veto = "sometimes"\n')
    with pytest.raises(ConfigError) as ei:
        load_site_config(home.config_path)
    assert "scrub.clinical_veto" in str(ei.value.details), ei.value.details
    home.config_path.write_text("[scrub]\nclinical_veto = false\n")
    assert load_site_config(home.config_path).scrub.clinical_veto is False
    p = cli("config", "check", home=home)
    assert p.returncode == 0 and "NOTE scrub.clinical_veto = false" in p.stdout, (p.stdout, p.stderr)
