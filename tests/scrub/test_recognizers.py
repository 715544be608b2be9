"""Per-recognizer positive and negative cases, on the real spaCy model."""

from __future__ import annotations

import pytest

from tests.scrub.conftest import covered


@pytest.mark.parametrize(
    "text, value",
    [
        ("Pt John Smith admitted for CHF.", "John Smith"),
        ("Seen by Dr. Patel this am.", "Patel"),
        ("Wife Mary at bedside, updated.", "Mary"),
        ("Discussed with daughter Susan Hernandez by phone.", "Susan Hernandez"),
        ("Plan reviewed with Anna S. and her husband.", "Anna S"),
        ("-- Karen Whitfield, RN", "Karen Whitfield"),
        ("Patient: Okafor, Chidi   MRN: 4455667", "Okafor, Chidi"),
        ("PT JOHN SMITH SEEN BY DR JONES TODAY.", "JONES"),
        ("pt john smith c/o sob, wife mary smith at bedside.", "mary smith"),
        ("Mr. Brown tolerated diet. Michael Brown ambulated 50 ft.", "Michael Brown"),
    ],
)
def test_names_found(found, text, value):
    assert covered(found(text), value), found(text)


@pytest.mark.parametrize(
    "text, word",
    [
        ("Hx Parkinson disease on carbidopa-levodopa.", "Parkinson"),
        ("Longstanding Parkinson's, tremor worse today.", "Parkinson"),
        ("PMH: MS, HTN, DM2.", "MS"),
        ("Foley catheter draining clear urine.", "Foley"),
        ("Started lasix and metoprolol.", "lasix"),
        ("HX OF MS AND HTN, NO ACUTE DISTRESS.", "MS"),
    ],
)
def test_names_negative(found, text, word):
    assert not any(word.lower() in v.lower() and t == "NAME" for v, t in found(text)), found(text)


def test_surname_after_parkinson_still_a_name(found):
    assert covered(found("Seen by Dr. Parkinson for tremor."), "Parkinson")


@pytest.mark.parametrize(
    "text, value",
    [
        ("Admitted 03/14/2023 for CHP.", "03/14/2023"),
        ("Seen 7/22 in clinic.", "7/22"),
        ("Surgery on March 3, 2021 uneventful.", "March 3, 2021"),
        ("Follow-up on the 3rd with PCP.", "3rd"),
        ("Echo from 2021-03-14 reviewed.", "2021-03-14"),
        ("Last seen the third of June.", "third of June"),
        ("Symptoms began in March.", "March"),
        ("Visited ED last Friday.", "last Friday"),
        ("Admitted Christmas Eve.", "Christmas Eve"),
        ("DOB 4-Jan-1950.", "4-Jan-1950"),
    ],
)
def test_dates_found(found, text, value):
    assert covered(found(text), value), found(text)


@pytest.mark.parametrize(
    "text, frag",
    [
        ("Norco 5/325 1 tab q6h PRN.", "5/325"),
        ("Pain 8/10, improved to 3/10.", "8/10"),
        ("BP 120/80, HR 72.", "120/80"),
        ("Strength 4/5 in RLE, 2/6 murmur.", "4/5"),
        ("Give 1/2 tab of metoprolol.", "1/2"),
        ("Pt may need help with ADLs.", "may"),
        ("Diagnosed in 2019.", "2019"),
    ],
)
def test_dates_negative(found, text, frag):
    assert not any(frag in v for v, t in found(text)), found(text)


def test_ages_over_89(found):
    assert covered(found("92 y/o F with CHF."), "92")
    assert covered(found("A 101-year-old man."), "101")
    assert covered(found("Pt is ninety-three years old."), "ninety-three")
    assert not any(t == "AGE" for _, t in found("A 45 y/o M with CHF, on 90 mg of drug."))


def test_phone_vs_fax(found):
    f = found("Call (217) 555-0142 or fax 217-555-0199 with results.")
    assert ("(217) 555-0142", "PHONE") in f
    assert ("217-555-0199", "FAX") in f
    assert not any(t in ("PHONE", "FAX") for _, t in found("K 4.1, Na 138, glucose 112, HR 88."))


def test_contact_and_network_ids(found):
    f = found("Email jsmith@gmail.com, portal https://mychart.example.org/x, from 192.168.10.4; see www.clinic.com.")
    types = {t for _, t in f}
    assert {"EMAIL", "URL", "IP_ADDRESS"} <= types
    assert not any(t == "URL" for _, t in found("Take 1 tab p.o. q.d. e.g. with food."))


@pytest.mark.parametrize(
    "text, value, type_",
    [
        ("SSN 123-45-6789 on file.", "123-45-6789", "SSN"),
        ("MRN: 4452318.", "4452318", "MRN"),
        ("Medicare ID 1EG4-TE5-MK73.", "1EG4-TE5-MK73", "HEALTH_PLAN"),
        ("Member ID: XJH884422901.", "XJH884422901", "HEALTH_PLAN"),
        ("Acct # 998877665.", "998877665", "ACCOUNT"),
        ("DEA number AB1234563.", "AB1234563", "LICENSE"),
        ("License plate 7ABC123 noted.", "7ABC123", "VEHICLE"),
        ("VIN 1HGCM82633A004352.", "1HGCM82633A004352", "VEHICLE"),
        ("Pacemaker serial no. PJN123456 checked.", "PJN123456", "DEVICE"),
        ("Fingerprint ID FP-20931177 verified.", "FP-20931177", "BIOMETRIC"),
        ("Reference case #JH-998877.", "JH-998877", None),
        ("Specimen S44-26942 sent.", "S44-26942", None),
    ],
)
def test_identifiers(found, text, value, type_):
    f = found(text)
    assert covered(f, value), f
    if type_:
        assert any(value in v and t == type_ for v, t in f), f


def test_identifier_negatives(found):
    f = found("Given 10000 units heparin, Hgb 8.2, EF 35%, COVID-19 negative, T2DM, B12 level, L4-L5 disc.")
    assert not f, f


@pytest.mark.parametrize(
    "text, value, type_",
    [
        ("Lives at 123 Oak Street, Springfield, IL 62704.", "123 Oak Street", "LOCATION"),
        ("Lives at 123 Oak Street, Springfield, IL 62704.", "Springfield", "LOCATION"),
        ("Lives at 123 Oak Street, Springfield, IL 62704.", "62704", "ZIP"),
        ("Moved from Cook County last year.", "Cook County", "LOCATION"),
        ("Resides in Chicago with son.", "Chicago", "LOCATION"),
        ("Transferred from Methodist Hospital.", "Methodist Hospital", "FACILITY"),
        ("Seen at St. Vincent's for CP.", "St. Vincent's", "FACILITY"),
        ("Followed at our Dallas clinic.", "Dallas clinic", "FACILITY"),
        ("Admitted to Cedar Crest on 2/3/21.", "Cedar Crest", "FACILITY"),
    ],
)
def test_geography(found, text, value, type_):
    f = found(text)
    assert any(value in v and (t == type_ or type_ in ("LOCATION", "FACILITY") and t in ("LOCATION", "FACILITY")) for v, t in f), f


def test_geography_negatives(found):
    f = found("Transferred to ICU. Pain in the left lower quadrant. Lives in Texas.")
    assert not f, f


def test_allow_and_deny_lists(settings):
    from appliance.scrub.engine import DetectionEngine

    s = settings.model_copy(update={"allow_list": ["Mary"], "deny_by_type": {"FACILITY": ["the Annex"]}})
    eng = DetectionEngine(s, nlp=_shared_nlp())
    text = "Wife Mary visited; pt moved to the Annex."
    (ents,) = eng.detect([text])
    vals = {text[e.start : e.end]: e.type for e in ents}
    assert "Mary" not in vals
    assert vals.get("the Annex") == "FACILITY"


def test_disabled_recognizer(settings):
    from appliance.scrub.engine import DetectionEngine

    eng = DetectionEngine(settings.model_copy(update={"disabled_recognizers": ["clinical_date"], "enabled_recognizers": []}), nlp=_shared_nlp())
    text = "Admitted 03/14/2023."
    (ents,) = eng.detect([text])
    assert not any(e.type == "DATE" and text[e.start : e.end] == "03/14/2023" and e.score > 0.9 for e in ents)


def test_unknown_recognizer_is_config_error(settings):
    from appliance.errors import ConfigError
    from appliance.scrub.engine import build_recognizers

    with pytest.raises(ConfigError):
        build_recognizers(settings.model_copy(update={"disabled_recognizers": ["nope"]}))


_NLP = []


def _shared_nlp():
    if not _NLP:
        from appliance.scrub.engine import load_spacy

        _NLP.append(load_spacy("en_core_web_sm"))
    return _NLP[0]


@pytest.mark.parametrize(
    "text, value, type_",
    [
        ("brought in by her grandson Piotr after a fall", "Piotr", "NAME"),  # overlapping triggers
        ("accompanied by wife gloria. reports bg 140s.", "gloria", "NAME"),
        ("WILLIAMSON,RUTH A   593-28-14", "WILLIAMSON,RUTH", "NAME"),
        ("Pt's son Harold Jenkins Jr. reached at home.", "Harold Jenkins Jr", "NAME"),
        ("Case mgmt (Patrice, ext 4421) working on auth.", "4421", "PHONE"),
        ("-- Noor Al-Rashid, MD, FACC  pager 4-2231", "4-2231", "PHONE"),
        ("Pt's brother will visit Saturday.", "Saturday", "DATE"),
        ("Resides in Lake Donald, moved last year.", "Lake Donald", "LOCATION"),
        ("Pt works at Schmidt, Phillips and Brown; supervisor aware.", "Schmidt, Phillips and Brown", "FACILITY"),
        ("The address is 6750 Koskikatu 25 Apt. 864, Artilleros, Uruguay.", "Koskikatu 25 Apt. 864, Artilleros", "LOCATION"),
        ("ZIP: 8592", "8592", "ZIP"),
        ("Telehealth from IP 215.30.45.80.", "215.30.45.80", "IP_ADDRESS"),
        ("Vehicle plate ZIQ 963 in lot B.", "ZIQ 963", "VEHICLE"),
        ("Founders: Jennifer Monjeau, Graves and Reed.", "Reed", "NAME"),
        ("My grandfather was called Djevad Šušulić.", "Šušulić", "NAME"),
        ("Admitted to CAMPBELL EMERGENCY DEPT today.", "CAMPBELL EMERGENCY DEPT", "FACILITY"),
    ],
)
def test_clinical_writing_styles(found, text, value, type_):
    f = found(text)
    assert any(value in v and (t == type_ or type_ in ("LOCATION", "FACILITY") and t in ("LOCATION", "FACILITY")) for v, t in f), f


def test_phi_free_clinical_text_stays_clean(found):
    text = (
        "Assessment and Plan: Acute on chronic systolic heart failure - Continue Lasix 40 mg IV BID. Echo showed EF "
        "25-30%. Atrial fibrillation - rate controlled on metoprolol, continue Eliquis 5 mg BID. A1c 8.2. Discussed "
        "with Cardiology and Physical Therapy. Disposition: likely discharge to Skilled Nursing Facility in 2-3 days. "
        "Apgar 8/9. Holter monitor reviewed. Swan-Ganz catheter placed. Sjögren syndrome, Ménière disease, "
        "Guillain-Barré. Barrett esophagus. Pulmonary Embolism ruled out. Pain 4/10, strength 5/5, 2/6 murmur."
    )
    assert found(text) == [], found(text)
