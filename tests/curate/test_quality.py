"""Quality filters: each one drops what it should and keeps ordinary clinical prose."""

from __future__ import annotations

from appliance.config import VaultSection
from appliance.curate import quality

S = VaultSection(min_record_chars=20, max_record_chars=2000)
GOOD = "Patient seen in clinic for follow-up of hypertension.\nBlood pressure 128/82, well controlled on lisinopril."


def test_good_note_passes():
    assert quality.check(GOOD, S) is None


def test_each_filter():
    assert quality.check("too short", S) == quality.TOO_SHORT
    assert quality.check("word " * 500, S) == quality.TOO_LONG
    assert quality.check("<div><<>>{{}}|||***###$$$%%%" * 3 + " ok", S) == quality.SYMBOLS
    assert quality.check("\n".join(["same line repeated here"] * 6 + ["one other line"]), S) == quality.REPEATED
    assert quality.check("Пациент осмотрен в клинике, давление в норме, жалоб нет.", S) == quality.SCRIPT


def test_ratios():
    assert quality.symbol_ratio("") == 1.0
    assert quality.repeated_line_ratio("a\nb\nc") == 0.0
    assert quality.latin_ratio("café naïve") == 1.0
