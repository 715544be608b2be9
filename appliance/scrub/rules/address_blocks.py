"""Address blocks: grow an anchor (unit, PO box, street + number, a cued street) over the city, region,
postcode and country tokens around it, for addresses in any national format.
"""

from __future__ import annotations

import functools
import re

from appliance.scrub import patterns as P
from appliance.scrub.lexicon import lexicon
from appliance.scrub.note import Note
from appliance.scrub.types import Entity
from appliance.scrub.words import looks_like_month, strip_span

UNI_CAP = r"[A-ZÀ-ÖØ-ÞĀ-ſΆ-ΏΑ-ΩЀ-Я]"  # Latin, Greek and Cyrillic capitals
_STREET_TYPE_AFTER = (
    r"(?:u\.|utca|út|útja|tér|tere|rkp\.|körút|köz|sor|sétány|kapu|str\.|gate|gata|gatan|vägen|veien|vegen|vej|"
    r"terrasse|katu|kuja|tie|ulica|ul\.|cesta|trg|straat|laan|weg|gasse|strasse|straße)"
)
_STREET_TYPE_BEFORE = (
    r"(?:ul\.|al\.|C/|Avda\.|Av\.|Rúa|Rua|Rue|Via|Viale|Calle|Avenida|Paseo|Praça|Largo|Corso|Piazza|Strada|Chemin|"
    r"Quai|Trg|trg|Ulica|ulica|rue|via|calle|rua|avenida)"
)
_ADDR_ANCHOR = re.compile(
    r"\b(?:Apt|Apartment|Suite|Ste|Unit)\.?\s*#?\s*\d+[A-Za-z]?\b"
    r"|\b(?:P\.?\s*O\.?\s*Box|PSC|CMR)\s+\d+"
    # "Koskikatu 25", "Præstevænget 15", "ul. Miła 53": a capitalised street word then a house number
    rf"|\b\d{{1,6}}\s+(?:\d{{1,5}}\s+)?(?:ul\.\s+|C/\s*)?{UNI_CAP}[^\W\d_]+(?:[ -](?:{UNI_CAP}[^\W\d_]*|de|la|del|da|do|dos|van|von|der|den)){{0,4}}\s+\d{{1,4}}[A-Za-z]?\b"
    # street name then a lower-case street-type word then the number, as in Central and Northern Europe:
    # "Király u. 15.", "Erzsébet tér 19.", "Trenerys gate 232", "Stensås terrasse 38", "Pentelis Str. 35"
    rf"|\b{UNI_CAP}[^\W\d_]+(?:\s+{UNI_CAP}[^\W\d_]+){{0,3}}\s+{_STREET_TYPE_AFTER}\s+\d{{1,5}}[A-Za-z]?\b\.?"
    # the street-type word first: "ul. Jesionowa 127", "C/ Señores Curas 88", "Avda. Rio Nalon 58", "trg revolucije 17"
    rf"|(?<![\w.]){_STREET_TYPE_BEFORE}\s*(?:{UNI_CAP}|[a-zà-ÿ])[^\W\d_]+(?:\s+(?:{UNI_CAP}[^\W\d_]+|[a-zà-ÿ]{{2,}})){{0,4}}\s+\d{{1,5}}[A-Za-z]?\b"
    # house number first, then the street-type word: "31 Rue Al Imam Al Bakri", "69 Av Sidi Lakhmi"
    rf"|\b\d{{1,5}},?\s+(?:{_STREET_TYPE_BEFORE}|Av)\s+{UNI_CAP}[^\W\d_]*(?:\s+(?:{UNI_CAP}[^\W\d_]*|de|la|del|des|du|da|do|dos|di|dei)){{0,5}}"
    # military addresses: "PSC 3294, Box 9168 APO AA 61487", "Unit 1009 Box 0219 DPO AP 51065", "USNV Botolen FPO AE 12382"
    r"|(?i:\b(?:psc|cmr|unit)\s+\d+,?\s+box\s+\d+,?\s+(?:apo|fpo|dpo)\s+a[aep]\s+\d{5}\b)"
    r"|(?i:\b(?:usns|usnv|uss|usc?gc)\s+[^\W\d_]+(?:\s+[^\W\d_]+)?,?\s+fpo\s+a[aep]\s+\d{5}\b)"
    # "the corner of X and Y": two street names, either may lack a number
    rf"|(?i:\bcorner\s+of\s+)(?:[\w.'’/-]+\s+){{1,5}}?and\s+{UNI_CAP}[^\W\d_]*(?:\s+(?:{UNI_CAP}[^\W\d_]*|\d{{1,5}}))?(?:\s+(?:{P.STREET_SUFFIX})\b\.?)?"
)

# an address cue, then a capitalised street name and a number: "lives on Via dei Fiorentini 17", "is on Pod Floriánem 1677"
_ADDR_CUED = re.compile(
    r"(?i:\baddress(?:\s+is)?:?|\blives?\s+(?:at|on)|\bliving\s+(?:at|on)|\bstop\s+at|\bis\s+on(?:\s+the)?|\bsent\s+to|\breturn\s+to)\s+"
    rf"(?P<v>{UNI_CAP}[^\W\d_]+(?:\s+(?:{UNI_CAP}[^\W\d_]+|de|la|del|dei|da|do|du|des|van|von|der|den|ten)){{0,4}}\s+\d{{1,5}}[A-Za-z]?)\b"
)
_BLOCK_TOKEN = re.compile(rf"\s*(?:,|\n|>)?\s*(?:{UNI_CAP}[^\W\d_'’.]*(?:['’][^\W\d_]+)?\.?|\d{{1,6}}(?:-\d{{1,4}})?|[A-Z]{{2}}(?=[\s,]|$)|de|la|del|da|do|nad|van|von|nan|\([A-Z][a-z]+\))")

# a line of an address block that holds only place tokens: "GRAND RAPIDS", "Pines Beach", "Smith's Green, NI"
_PLACE_LINE = re.compile(
    rf"(?:{UNI_CAP}[^\W\d_'’.]*(?:['’][^\W\d_]+)?|\d{{1,6}}|\([A-Z][a-z]+\))(?:[ ,-]+(?:{UNI_CAP}[^\W\d_'’.]*(?:['’][^\W\d_]+)?|\d{{1,6}}|de|la|del|da|do|nad|u|\([A-Z][a-z]+\)))*[ ,]*(?=\n|\s*>|$)"
)


@functools.lru_cache(maxsize=1)
def _COUNTRY_AFTER() -> re.Pattern:
    """Country names of more than one word ("United Kingdom", "New Zealand"), as the next address token."""
    multi = sorted((c for c in lexicon().countries if " " in c), key=len, reverse=True)
    return re.compile(r"\s*(?:,|\n|>)?\s*(?i:" + "|".join(re.escape(c) for c in multi) + r")\b")


def address_blocks(note: Note, found: list[Entity], anchors: list[tuple[int, int]] = ()) -> list[Entity]:
    """Grow an address anchor (unit, PO box, street + number) over the capitalised words and numbers around
    it: the city, region, postcode and country lines of addresses in any national format."""
    v = note.view
    L = lexicon()
    out = []
    # anchors: the shapes above, and the streets and PO boxes the caller already found
    zips = [x for x in found if x.type == "ZIP"]
    spans = []
    for m in _ADDR_ANCHOR.finditer(v):
        words = re.findall(r"[^\W\d_]+", m.group(0))
        # "moved to Bay 4 Room 12", "2 Units 3": numbers around everyday or clinical words are no street
        # nor numbers around short abbreviations: vital signs in an ALL-CAPS note ("T 98.1 HR 104 BP 168")
        if m.group(0)[0].isdigit() and words and all(w.lower() in L.clinical or w.lower() in L.english_common or len(w) <= 3 and w.lower() not in _SHORT_STREET_WORDS for w in words):
            continue
        spans.append(m.span())
    spans += [m.span("v") for m in _ADDR_CUED.finditer(v)]
    spans += anchors
    for s, e in spans:
        # rightwards: up to 8 more address tokens, not across a sentence end or a "Label:" line
        n = 0
        line_end = -1  # end of an address line made only of place tokens (its everyday words count too)
        while n < 12:
            t = _BLOCK_TOKEN.match(v, e)
            if not t or t.end() == e:
                break
            if any(z.start < t.end() and z.end > e for z in zips):
                break  # a ZIP the other rules typed stays its own span (merging would retype the address)
            cm = _COUNTRY_AFTER().match(v, e)
            if cm and cm.end() > t.end():
                t = cm
            seg = v[e : t.end()]
            word = seg.strip(" ,>\n").rstrip(".").lower()
            if re.fullmatch(r"[A-Z]{2,3}|\([A-Z][a-z]+\)", seg.strip(" ,>\n")) or " " in word and word in L.countries:
                e = t.end()  # a region code ("ON", "RS") or a country: the postcode after it belongs to the address
                n += 1
                continue
            if "\n" in seg and re.match(r"\s*\S+:", v[t.start() :].lstrip(" ,>\n")):
                break
            if v[e - 1 : e] == "." and not (n == 0 and re.search(r"\d\.$", v[s:e])) and not re.search(r"(?i)(?:apt|ste|st|ave|rd|dr|no|ul|box|\b[a-z])\.$", v[max(s, e - 5) : e]):
                break  # a full stop ends the address unless it closes an abbreviation
            if re.search(r"[\n>]", seg):
                pl = _PLACE_LINE.match(v, t.start() + len(seg) - len(seg.lstrip(" ,>\n")))
                line_end = pl.end() if pl else -1
            on_place_line = t.end() <= line_end
            if word in L.clinical or looks_like_month(word):
                break
            zip_next = re.match(r"[ \t,]*\d{5}(?:-\d{4})?\b", v[t.end() : t.end() + 16]) is not None  # "Chicago 60618"
            if word in L.english_common and word not in L.countries and word not in ("de", "la") and not on_place_line and not zip_next:
                break
            e = t.end()
            n += 1
        # leftwards: a house number or street words directly before a unit ("24 Clarke Avenue Apt. 805")
        k = 0
        while k < 7:
            lm = re.search(rf"(?:{UNI_CAP}[^\W\d_'’]*\.?|\d{{1,6}}|de|la|des|du|del|da|do|dos|van|von|der|den)[ ,]*\s*$", v[max(0, s - 40) : s])
            if not lm:
                break
            ns = max(0, s - 40) + lm.start()
            word = v[ns:s].strip(" ,").rstrip(".").lower()
            if word in ("de", "la", "des", "du", "del", "da", "do", "dos", "van", "von", "der", "den") and ns != s:
                s = ns
                k += 1
                continue
            if word in L.clinical or word in L.english_common or ns == s:
                break
            s = ns
            k += 1
        s, e = strip_span(v, s, e)
        if e - s > 3:
            out.append(Entity(s, e, "LOCATION", 0.7))
    return out


# postal codes that are also words or clinical abbreviations ("Member ID", "signed by X, MD", "received in")
_SHORT_STREET_WORDS = frozenset(["n", "s", "e", "w", "ne", "nw", "se", "sw", "el", "la", "le", "de", "du", "st", "mt", "ft", "via", "rue"])
