"""Person-name recognizer cases (rules/names.py, rules/name_shapes.py), on the real spaCy model."""

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
