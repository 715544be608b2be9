"""The scrubber's rules: one module per identifier family, and the one registry table that lists them.

Each row of :data:`RULES` names a recognizer (the name sites use in ``scrub.enabled_recognizers`` /
``disabled_recognizers``), the identifier family module that holds it, and what it finds.  The engine runs
them in table order (spaCy NER last among equals: it only sees segments the others leave unexplained).
Shared word predicates (case, gazetteer and vocabulary tests) live in :mod:`appliance.scrub.words`; a rule
module imports only public names from it, from :mod:`appliance.scrub.rules.base` and from its own family.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.scrub.rules.addresses import ClinicalAddressRecognizer
from appliance.scrub.rules.ages import ClinicalAgeRecognizer
from appliance.scrub.rules.base import ClinicalRecognizer
from appliance.scrub.rules.contact import ClinicalEmailUrlIpRecognizer, ClinicalPhoneFaxRecognizer
from appliance.scrub.rules.dates import ClinicalDateRecognizer
from appliance.scrub.rules.deny_list import ClinicalDenyListRecognizer
from appliance.scrub.rules.edges import trim_edges
from appliance.scrub.rules.facilities import ClinicalFacilityRecognizer
from appliance.scrub.rules.families import ClinicalRuleFamilyRecognizer, find_families
from appliance.scrub.rules.ids import ClinicalCodeRecognizer, ClinicalLabeledIdRecognizer
from appliance.scrub.rules.names import ClinicalNameRecognizer
from appliance.scrub.rules.ner import ClinicalSpacyNerRecognizer
from appliance.scrub.words import ROLE


@dataclass(frozen=True)
class Rule:
    """One registry row: the config name, the recognizer class, its family module, what it finds."""

    name: str
    recognizer: type[ClinicalRecognizer]
    family: str
    finds: str


RULES: tuple[Rule, ...] = (
    Rule("clinical_date", ClinicalDateRecognizer, "dates", "every date element but the year: numeric, spelled, partial, holidays"),
    Rule("clinical_age", ClinicalAgeRecognizer, "ages", "ages over 89"),
    Rule("clinical_phone_fax", ClinicalPhoneFaxRecognizer, "contact", "telephone and fax numbers, extensions, foreign numbering plans"),
    Rule("clinical_email_url_ip", ClinicalEmailUrlIpRecognizer, "contact", "e-mail addresses, URLs, IP and MAC addresses"),
    Rule("clinical_labeled_ids", ClinicalLabeledIdRecognizer, "ids", "codes after an identifier label (MRN, member id, licence, VIN …)"),
    Rule("clinical_codes", ClinicalCodeRecognizer, "ids", "unlabelled long numbers, letter-digit codes, dotted OIDs"),
    Rule("clinical_address", ClinicalAddressRecognizer, "addresses", "streets, PO boxes, city + state, ZIP codes, address blocks"),
    Rule("clinical_facility", ClinicalFacilityRecognizer, "facilities", "hospitals, clinics, nursing homes and other named facilities"),
    Rule("clinical_names", ClinicalNameRecognizer, "names", "person names by title, credential, trigger word, pairs and shapes"),
    Rule("spacy_ner", ClinicalSpacyNerRecognizer, "ner", "spaCy's statistical NER, filtered for clinical text"),
    Rule("deny_list", ClinicalDenyListRecognizer, "deny_list", "the site's deny list (scrub.deny_list, scrub.deny_by_type)"),
    Rule("rule_families", ClinicalRuleFamilyRecognizer, "families", "general families: roles, quotes, tables, countries, chains, ranges"),
)

# recognizer name -> class, the view engine.build_recognizers and the scrub policy check use
REGISTRY: dict[str, type[ClinicalRecognizer]] = {r.name: r.recognizer for r in RULES}

__all__ = [
    "REGISTRY",
    "ROLE",
    "RULES",
    "ClinicalAddressRecognizer",
    "ClinicalAgeRecognizer",
    "ClinicalCodeRecognizer",
    "ClinicalDateRecognizer",
    "ClinicalDenyListRecognizer",
    "ClinicalEmailUrlIpRecognizer",
    "ClinicalFacilityRecognizer",
    "ClinicalLabeledIdRecognizer",
    "ClinicalNameRecognizer",
    "ClinicalPhoneFaxRecognizer",
    "ClinicalRecognizer",
    "ClinicalRuleFamilyRecognizer",
    "ClinicalSpacyNerRecognizer",
    "Rule",
    "find_families",
    "trim_edges",
]
