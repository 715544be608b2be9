"""The ``rule_families`` recognizer: the general families of every identifier module, run in one fixed order.

Each family is a shape plus a gazetteer test, never a list of strings from a note.
"""

from __future__ import annotations

from appliance.scrub.lexicon import lexicon
from appliance.scrub.note import UPPER, Note
from appliance.scrub.rules.ages import age_years, table_ages
from appliance.scrub.rules.base import ClinicalRecognizer
from appliance.scrub.rules.contact import pagers, phone_extensions
from appliance.scrub.rules.dates import date_ranges, month_words, the_nth
from appliance.scrub.rules.facility_cues import facilities, facility_cues
from appliance.scrub.rules.ids import labelled_numbers, loose_cards
from appliance.scrub.rules.name_roles import cell_names, label_names, quoted, role_next, role_paren
from appliance.scrub.rules.places import floor_after_street, place_cues, places
from appliance.scrub.rules.signatures import messages_and_signatures, name_cred
from appliance.scrub.rules.transfers import transfer_sites
from appliance.scrub.types import Entity
from appliance.scrub.vocabulary import clinical_vocab


class ClinicalRuleFamilyRecognizer(ClinicalRecognizer):
    """General rule families (roles beside names, quoted nicknames, table cells, countries, chains, ranges):
    composed by :func:`find_families`."""

    NAME = "rule_families"
    ENTITIES = ("NAME", "LOCATION", "FACILITY", "DATE", "PHONE", "ACCOUNT", "AGE")

    def find(self, note: Note) -> list[Entity]:
        return find_families(note)


def find_families(note: Note) -> list[Entity]:
    """Every general rule family on one note, in a fixed order (names, ages, places, facilities, dates, numbers)."""
    L = lexicon()
    v, mode = note.view, note.mode
    out: list[Entity] = []
    out += quoted(v, L)
    out += role_paren(v, mode, L)
    out += role_next(note.text if mode == UPPER else v, mode, L)
    out += name_cred(v, mode, L)
    out += cell_names(v, L)
    out += table_ages(note.text)
    out += label_names(v, mode, L)
    out += places(v, mode, L)
    out += facilities(v, mode, L)
    out += date_ranges(note.text, v, mode)
    out += pagers(v)
    out += loose_cards(v)
    out += messages_and_signatures(note.text, v, mode, L)
    out += facility_cues(note.text, v, mode, L)
    out += place_cues(note.text, v, mode, L)
    out += phone_extensions(v)
    out += labelled_numbers(note.text, v, L)
    out += month_words(note.text, v, mode)
    out += age_years(v)
    out += floor_after_street(v)
    out += the_nth(v)
    out += transfer_sites(note.text, v, mode, L, clinical_vocab())
    return out
