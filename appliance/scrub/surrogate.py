"""Replacement of detected PHI: typed, realistic surrogates that stay consistent, keyed by a secret.

Every choice is ``HMAC-SHA256(secret, scope | type | normalised value)``: the same real name maps to the
same fake name within a scope (a patient key, or one document when there is none) without any real→fake
table existing anywhere — the mapping is recomputed, never stored.  Names are replaced word by word so "John
Smith", "Mr. Smith" and "John" stay coherent.  Dates are shifted by one offset per scope (intervals kept) or
reduced to the year.  Operators per type: ``surrogate`` | ``tag`` | ``redact`` | ``keep``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import string

from appliance.scrub.dates import shift_date_text
from appliance.scrub.lexicon import RESTRICTED_ZIP3, lexicon
from appliance.scrub.types import TAGS, Entity

_FACILITY_HEADS = re.compile(
    r"(?i)\b(hospital|medical center|clinic|health center|health system|infirmary|hospice|nursing home|"
    r"rehabilitation center|rehab center|care center|urgent care|cancer center|institute|memorial|pharmacy|"
    r"center|medical group|healthcare|health)\b.*$"
)
_STREET_SUFFIX = re.compile(r"(?i)\b(street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|terrace|circle|parkway|highway|trail)\b\.?")


_TITLES = frozenset(
    ["dr", "doctor", "mr", "mrs", "ms", "miss", "mx", "prof", "professor", "rev", "reverend", "sr", "sister", "nurse", "capt", "sgt", "lt", "col", "judge", "father", "fr", "pastor", "rabbi", "atty", "attorney", "dame", "sir", "madam", "mme", "mlle", "herr", "frau", "sra", "senor", "señor", "senora", "señora"]
)


class Surrogates:
    """Replace entities in one text; ``scope`` ties consistency and the date offset to a patient."""

    def __init__(self, secret: bytes, settings):
        if len(secret) < 16:
            raise ValueError("surrogate secret must be at least 16 bytes")
        self._secret = secret
        self.settings = settings
        self._faker = None
        names = _name_pools()
        self._female, self._male, self._last, self._cities, self._streets = names

    # -- keyed choices ------------------------------------------------------------------------------------
    def _h(self, scope: str, kind: str, value: str) -> int:
        msg = f"{scope}\x1f{kind}\x1f{value}".encode()
        return int.from_bytes(hmac.new(self._secret, msg, hashlib.sha256).digest()[:8], "big")

    def date_offset(self, scope: str) -> int:
        """Days to shift every date of ``scope``: non-zero, within ±date_shift_max_days."""
        span = int(getattr(self.settings, "date_shift_max_days", 365))
        h = self._h(scope, "date-offset", "")
        days = h % span + 1
        return days if (h >> 32) & 1 else -days

    def operator(self, type_: str) -> str:
        ops = getattr(self.settings, "operators", {}) or {}
        return ops.get(type_, getattr(self.settings, "default_operator", "surrogate"))

    # -- replacement ---------------------------------------------------------------------------------------
    def apply(self, text: str, entities: list[Entity], scope: str) -> tuple[str, dict[str, int]]:
        out = []
        counts: dict[str, int] = {}
        pos = 0
        for e in sorted(entities, key=lambda e: e.start):
            if e.start < pos:
                continue
            original = text[e.start : e.end]
            op = self.operator(e.type)
            counts[e.type] = counts.get(e.type, 0) + 1
            if op == "keep":
                rep = original
            elif op == "redact":
                rep = ""
            elif op == "tag":
                rep = TAGS.get(e.type, f"[{e.type}]")
            else:
                rep = self.surrogate(e.type, original, scope)
            out.append(text[pos : e.start])
            out.append(rep)
            pos = e.end
        out.append(text[pos:])
        return "".join(out), counts

    def surrogate(self, type_: str, value: str, scope: str) -> str:
        fn = getattr(self, f"_s_{type_.lower()}", None)
        return fn(value, scope) if fn else self._code(value, scope, type_)

    def _s_name(self, value: str, scope: str) -> str:
        L = lexicon()

        def one(m: re.Match) -> str:
            w = m.group(0)
            core = w.rstrip(".")
            poss = ""
            for suf in ("'s", "’s"):
                if core.lower().endswith(suf):
                    core, poss = core[: -len(suf)], core[-len(suf) :]
            key = core.lower()
            if key in _TITLES:
                return w  # "Dr.", "Mrs." stay: they carry no identity and keep the sentence readable
            if len(core) == 1:  # an initial
                fake = string.ascii_uppercase[self._h(scope, "initial", key) % 26]
            elif key in L.first_names and key not in L.common_surnames:
                pool = self._female if key in L.female_first else self._male
                fake = pool[self._h(scope, "first", key) % len(pool)]
                if fake.lower() == key:
                    fake = pool[(self._h(scope, "first", key) + 1) % len(pool)]
            else:
                fake = self._last[self._h(scope, "last", key) % len(self._last)]
                if fake.lower() == key:
                    fake = self._last[(self._h(scope, "last", key) + 1) % len(self._last)]
            fake = _case_like(core, fake)
            return fake + poss + ("." if w.endswith(".") else "")

        return re.sub(r"[A-Za-z][A-Za-z'’-]*\.?", one, value)

    def _s_date(self, value: str, scope: str) -> str:
        mode = getattr(self.settings, "date_mode", "shift")
        out = shift_date_text(value, self.date_offset(scope), mode)
        # a year more than 89 years back (a DOB) would reveal an age over 89: clamp it to the 90+ category
        cutoff = dt.date.today().year - 90
        return re.sub(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)", lambda m: str(max(int(m.group(1)), cutoff)), out)

    def _s_age(self, value: str, scope: str) -> str:
        # Safe Harbor: ages over 89 collapse into one "90 or older" category
        if re.search(r"\d", value):
            return re.sub(r"\d+", "90+", value, count=1)
        return "90 or older"

    def _s_zip(self, value: str, scope: str) -> str:
        z3 = value[:3]
        return "00000" if z3 in RESTRICTED_ZIP3 else z3 + "00"

    def _s_location(self, value: str, scope: str) -> str:
        h = self._h(scope, "location", value.lower())
        if re.match(r"\s*\d", value):  # a street address: new number, new street name, same suffix
            num = str(h % 9000 + 100)
            suffix = _STREET_SUFFIX.search(value)
            street = self._streets[(h >> 16) % len(self._streets)]
            return f"{num} {street} {suffix.group(0) if suffix else 'Street'}"
        if re.search(r"(?i)\b(?:county|parish|borough|township)\b", value):
            return f"{self._last[h % len(self._last)]} County"
        if re.search(r"(?i)\b(?:apt|suite|ste|unit|room|rm|box)\b", value):
            return re.sub(r"\d+", lambda m: str(h % 900 + 1), value)
        return _case_like(value, self._cities[h % len(self._cities)])

    def _s_facility(self, value: str, scope: str) -> str:
        h = self._h(scope, "facility", value.lower())
        head = _FACILITY_HEADS.search(value)
        name = self._last[h % len(self._last)]
        fake = f"{name} {head.group(0)}" if head and head.start() > 0 else f"{name} Medical Center"
        return _case_like(value, fake) if value.isupper() or value.islower() else fake

    def _s_email(self, value: str, scope: str) -> str:
        h = self._h(scope, "email", value.lower())
        return f"{self._last[h % len(self._last)].lower()}{h % 1000}@example.org"

    def _s_url(self, value: str, scope: str) -> str:
        h = self._h(scope, "url", value.lower())
        return f"https://www.example{h % 10000}.org/"

    def _s_ip_address(self, value: str, scope: str) -> str:
        h = self._h(scope, "ip", value)
        if ":" in value:
            return "fd00::" + ":".join(f"{(h >> (16 * i)) & 0xFFFF:x}" for i in range(3))
        return f"10.{(h >> 8) & 255}.{(h >> 16) & 255}.{(h >> 24) % 254 + 1}"

    def _code(self, value: str, scope: str, type_: str) -> str:
        """Format-preserving: digits → digits, letters → letters, separators kept; never the original."""
        h = hmac.new(self._secret, f"{scope}\x1f{type_}\x1f{value}".encode(), hashlib.sha256).digest()
        stream = (h * ((len(value) // len(h)) + 1))
        out = []
        for i, c in enumerate(value):
            b = stream[i]
            if c.isdigit():
                out.append(str((int(c) + 1 + b % 9) % 10))  # +1..+9 mod 10: every digit changes
            elif c.isalpha() and c.isascii():
                base = "A" if c.isupper() else "a"
                out.append(chr(ord(base) + (ord(c.upper()) - 65 + 1 + b % 25) % 26))
            else:
                out.append(c)
        return "".join(out)

    # identifiers: format-preserving codes (digits stay digits, letters letters, separators kept)
    def _s_phone(self, v: str, s: str) -> str:
        return self._code(v, s, "PHONE")

    def _s_fax(self, v: str, s: str) -> str:
        return self._code(v, s, "FAX")


def _case_like(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template.islower():
        return word.lower()
    return word


_POOLS = None


def _name_pools():
    """Surrogate vocabularies (Faker's en_US lists when present, else the census lists)."""
    global _POOLS
    if _POOLS is None:
        try:
            from faker.providers.address.en_US import Provider as A
            from faker.providers.person.en_US import Provider as Pp

            female = sorted(set(Pp.first_names_female))
            male = sorted(set(Pp.first_names_male))
            last = sorted(set(Pp.last_names))
            prefixes, suffixes = list(A.city_prefixes), list(A.city_suffixes)
            cities = sorted(
                {f"{prefixes[i % len(prefixes)]} {last[i % len(last)]}{suffixes[i % len(suffixes)]}" for i in range(600)}
                | {f"{last[(i * 7) % len(last)]}{suffixes[i % len(suffixes)]}" for i in range(600)}
            )
            streets = last
        except ImportError:
            L = lexicon()
            female = sorted(n.title() for n in L.female_first)[:2000]
            male = sorted(n.title() for n in L.first_names - L.female_first)[:2000]
            last = sorted(n.title() for n in L.common_surnames)
            cities = [f"{n}ville" for n in last[:500]]
            streets = last
        _POOLS = (female, male, last, cities, streets)
    return _POOLS
