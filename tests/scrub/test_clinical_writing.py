"""Rules for clinical writing styles: signatures with initials, nicknames, suffixes, in-law relatives, names in
lower-case notes, case detection with codes, numeric date ranges and month/year, address lines, head-first
facilities, highways, OIDs, and the clinical look-alikes each rule must leave alone.  Each positive case checks the
exact span and type; each negative case checks that nothing (or nothing of that type) is found."""

from __future__ import annotations

import pytest


def _spans(engine, text):
    (ents,) = engine.detect([text])
    return [(text[e.start : e.end], e.type) for e in ents]


@pytest.mark.parametrize(
    "text,value,type_",
    [
        # signatures: an initial, a surname, then a credential or the end of the line
        ("will call him after 4. - t. oyelaran, rn", "t. oyelaran", "NAME"),
        ("next visit 1/23. d. mcallister rn   508-555-0151", "d. mcallister", "NAME"),
        ("Next remote check in 3 months. R. Bhattacharya, CDRS", "R. Bhattacharya", "NAME"),
        ("CREW: D. HUNTER (PARAMEDIC), K. OYELOWO (EMT-B).", "K. OYELOWO", "NAME"),
        # an initial then a census surname, also one that is an English word or a month
        ('RECEIVED IN FORMALIN LABELED "H. BROWN" AND "RT BREAST"', "H. BROWN", "NAME"),
        ("RESULT CALLED TO DR. FITZGERALD BY DR. A. MAY AT 16:20.", "A. MAY", "NAME"),
        # after a known first name a census surname that is an English word
        ("Neighbor Dwayne White called, can be reached at 009.004.5724.", "Dwayne White", "NAME"),
        # caseless credential signature
        ("-- derrick banks, rn, bsn  10/23/20 07:15", "derrick banks", "NAME"),
        # suffix and nickname after the name, initials that repeat the name
        ('ID: Kevin Price Jr. ("KJ"), 24M, grad student', "KJ", "NAME"),
        ('Patient: Wilhelmina Snow ("Billie")   Age 96', "Billie", "NAME"),
        ("TRIAGE RN: K. BROWN (KB)", "KB", "NAME"),
        # particles and a third name word
        ("Participant: Beatriz Lopes da Silva   Coordinator: Kenji Watanabe", "Beatriz Lopes da Silva", "NAME"),
        ("template PS-00A7 for Marcus Antoine Bellamy, MRN G1190254", "Marcus Antoine Bellamy", "NAME"),
        ("Counselor: Ana Lucía Ferreira   x5-7730", "Ana Lucía Ferreira", "NAME"),
        # in-law and step relatives, dictation initials, LAST, FIRST with a hyphenated first name
        ("Lives with son Mohamed, son-in-law Obi and three grandchildren.", "Obi", "NAME"),
        ("dictated 11/8/22, transcribed 11/9/22  job# JX-4471920\nEM/ls", "EM", "NAME"),
        ("PATIENT: CHOI, MIN-JUNG   MRN: 3380192", "CHOI, MIN-JUNG", "NAME"),
        # lower-case notes: role word + name-shaped words, relatives with ambiguous names, left extension
        ("hd rn note tue 3/21 chair 7 pt hyun-woo kang  mrn 44120983, 66 m, esrd", "hyun-woo kang", "NAME"),
        ("diet reinforced w/ rd hope nguyen. transplant listed since oct 2021.", "hope nguyen", "NAME"),
        ("referred to social worker jenna. medicare # 3xk7-dw2-tn51 on file.", "jenna", "NAME"),
        ("cr 1.8 (baseline 1.1). son dale at bedside, can be reached at (401) 355-8139.", "dale", "NAME"),
        ("requesting: dr. o'malley (hospitalist) reason: facial droop", "o'malley", "NAME"),
        # dates: ranges, month/year, lower-case month + year, admit:9/1, a dose date, a month alone
        ("balance for inpatient stay 12/28/22-1/3/23. coverage lost.", "1/3/23", "DATE"),
        ("Barrett's esophagus, last EGD 07/2019 without dysplasia.", "07/2019", "DATE"),
        ("Pt sober since may 2021, goes to AA meetings.", "may 2021", "DATE"),
        ("DOB:4/4/52   mrn:00417729 admit:9/1   attending: Dr Chen", "9/1", "DATE"),
        ("Adherence: 0 missed doses. Last dose 10/29. Mild site reaction.", "10/29", "DATE"),
        ("says he lost his job at the warehouse in jan. family started a fundraiser.", "jan", "DATE"),
        # places: address lines, street names without a number, highways, unit in any case, head-first facilities
        ("send to 14 Crown Street\n Suite 321\n LONDON\n United Kingdom 75419 please", "LONDON\n United Kingdom", "LOCATION"),
        ("lives w/ partner at 3317 W Belmont Ave , apt 2F , Chicago   60618 .", "Chicago", "LOCATION"),
        ("Address: 410 Long Pond Rd, Unit 12, Plymouth 02360-4418", "410 Long Pond Rd", "LOCATION"),
        ("ran out after his pharmacy (Walgreens on Blue Hill Ave) closed.", "Blue Hill Ave", "LOCATION"),
        ("restrained driver in high-speed MVC on I-93 southbound near the split.", "I-93", "LOCATION"),
        ("I'm in HARSTAD, at the conference", "HARSTAD", "LOCATION"),
        ("Where: Beerze Country Club.", "Beerze", "LOCATION"),
        ("To: Hospital Universitario La Paz, Paseo de la Castellana 261, Madrid", "Hospital Universitario La Paz", "FACILITY"),
        ("Agency: Hospice of the Valley, Scottsdale office", "Hospice of the Valley", "FACILITY"),
        # identifiers
        ("Session IP: 2601:19b:4200:8f30::1a2 Subject: question", "2601:19b:4200:8f30::1a2", "IP_ADDRESS"),
        ("compensation loaded to study card ending 4410-8821.", "4410-8821", "ACCOUNT"),
        ("PT'S VEHICLE (GREY TOYOTA, MA REG 3TRX18) BLOCKING DRIVEWAY", "3TRX18", "VEHICLE"),
        ("Pt drove here; vehicle plate 1R 7S6ZMJ in lot B.", "1R 7S6ZMJ", "VEHICLE"),
        ("IMAGES PUSHED, STUDY UID 1.2.840.113619.2.55.3.604688119.969.1652543210.112. SENDING", "1.2.840.113619.2.55.3.604688119.969.1652543210.112", "ID"),
    ],
)
def test_clinical_writing_positive(engine, text, value, type_):
    spans = _spans(engine, text)
    start = text.index(value)
    (ents,) = engine.detect([text])
    # one detection covers exactly the value's characters (it may extend past them), with the expected type
    hit = [e for e in ents if e.start <= start and e.end >= start + len(value)]
    assert hit, (value, spans)
    if type_ != "LOCATION" or "\n" not in value:
        assert any(e.type == type_ for e in hit), (value, type_, spans)


@pytest.mark.parametrize(
    "text,forbidden",
    [
        # bacteria written with an initial are no signatures
        ("H. pylori positive, E. coli in urine, S. Aureus bacteremia.", ["pylori", "coli", "Aureus"]),
        # modal verbs after relatives in lower-case notes stay verbs
        ("wife will call tomorrow, daughter may visit on the weekend.", ["will", "may"]),
        # a sentence verb after a first name is no surname
        ("Maria Called back at noon. Sarah Will follow up.", ["Called", "Will"]),
        # abbreviations after a role word are not names
        ("pt has pain. rn took vitals. pt ambulating in hall. patient denies cp.", ["has", "took", "ambulating", "denies"]),
        # isotopes and drugs after a preposition are not places
        ("given I-131 therapy. Started in NSR, in AFIB; switched in Keppra.", ["I-131", "NSR", "AFIB", "Keppra"]),
        # doses, pressures, scores and fractions are no dates
        ("BP 120/80, GCS 14/15, take 1/2 tab, pain 10/10, sig 1/2 dose.", ["120/80", "14/15", "1/2", "10/10"]),
        # units after a unit number and a letter line after an address stay out of the address
        ("123 Main St, Apt 4\nDear Dr. Smith, thanks", ["Dear"]),
        ("Lives at 44 Oak Street Apt 2\nPlan: continue lasix", ["Plan", "lasix"]),
        # "Parkinson disease" after a first name is an eponym
        ("John Parkinson disease follow-up", ["Parkinson"]),
        # a lower-case month that is an English word is not a date
        ("may 2 tabs be given if pain persists.", ["may 2"]),
    ],
)
def test_clinical_writing_negative(engine, text, forbidden):
    spans = _spans(engine, text)
    for word in forbidden:
        a = text.index(word)
        b = a + len(word)
        (ents,) = engine.detect([text])
        assert not any(e.start < b and e.end > a for e in ents), (word, spans)


def test_case_mode_ignores_codes():
    from appliance.scrub.note import LOWER, NORMAL, UPPER, case_mode

    lower = "home health visit 01/19/2024 pt: margaret o'brien hha id HH-220931 medicare # 1EG4-TE5-MK73 lives alone"
    assert case_mode(lower) == LOWER
    assert case_mode("Pt seen today. Daughter Mary at bedside. Plan: continue Lasix.") == NORMAL
    assert case_mode("PT SEEN TODAY. DAUGHTER MARY AT BEDSIDE.") == UPPER


def test_lower_case_note_names_around_a_surname(engine):
    text = (
        "spoke w/ pt's daughter rose kimani (hcp on file). pt grace wanjiru kimani, 91 yo f. "
        "rose states mom more confused. bp rose to 150 overnight. updated - will kimani cell 774.555.0128."
    )
    spans = _spans(engine, text)
    found = {v for v, t in spans if t == "NAME"}
    assert "rose kimani" in found
    assert any("grace wanjiru kimani" in v for v in found), spans
    assert any(v.startswith("will kimani") for v in found), spans
    # "rose" as the subject of "states" is the daughter; "bp rose to" is a verb
    a = text.index("rose states")
    (ents,) = engine.detect([text])
    assert any(e.start <= a and e.end >= a + 4 and e.type == "NAME" for e in ents)
    v = text.index("rose to 150")
    assert not any(e.start < v + 4 and e.end > v for e in ents)
