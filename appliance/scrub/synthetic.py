"""Synthetic clinical notes with PHI of every Safe Harbor type, and their answer key.

``generate_notes(n, seed)`` returns ``{"id", "patient", "text", "spans"}`` records (spans in the gold format
of :mod:`appliance.scrub.evaluate`); the demo ingests them and the scrubber's tests score against them.
Notes are nursing, progress and discharge notes written the way clinicians write: abbreviations, "pt",
"Dr.", signatures, an occasional ALL-CAPS or lower-case note, and traps that are *not* PHI (eponymous
diseases, "MS", dosages like 5/325, pain 8/10, BP 120/80).  ``topic="month2"`` shifts the vocabulary and
topic mix (oncology, paediatrics, behavioural health, home care) for the retraining demo.  All values are
fake (Faker, seeded).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path


class _Note:
    def __init__(self):
        self.parts: list[str] = []
        self.spans: list[dict] = []
        self.pos = 0

    def t(self, s: str) -> _Note:
        self.parts.append(s)
        self.pos += len(s)
        return self

    def p(self, value: str, type_: str) -> _Note:
        self.spans.append({"start": self.pos, "end": self.pos + len(value), "type": type_})
        return self.t(value)

    def text(self) -> str:
        return "".join(self.parts)


_DATE_FORMATS = [
    lambda d: d.strftime("%m/%d/%Y"),
    lambda d: f"{d.month}/{d.day}/{d.year}",
    lambda d: f"{d.month}/{d.day}/{d.strftime('%y')}",
    lambda d: d.strftime("%Y-%m-%d"),
    lambda d: d.strftime("%B %d, %Y").replace(" 0", " "),
    lambda d: d.strftime("%b %d %Y").replace(" 0", " "),
    lambda d: f"{d.strftime('%B')} {d.day}",
    lambda d: f"{d.month}/{d.day}",
    lambda d: d.strftime("%d-%b-%Y"),
]
_ORD = {1: "st", 2: "nd", 3: "rd"}

BASE_PROBLEMS = [
    "CHF exacerbation", "COPD exacerbation", "community-acquired pneumonia", "sepsis secondary to UTI", "NSTEMI",
    "DKA", "cellulitis of the LLE", "acute kidney injury", "GI bleed", "syncope", "hip fracture s/p ORIF",
    "new-onset afib with RVR", "altered mental status", "CVA with right-sided weakness",
]
MONTH2_PROBLEMS = [
    "febrile neutropenia", "cycle 3 of FOLFOX", "bronchiolitis", "suicidal ideation", "alcohol withdrawal",
    "wound care for stage 3 sacral pressure injury", "failure to thrive", "asthma exacerbation", "RSV",
    "pain crisis in sickle cell disease", "post-op day 2 s/p lap chole", "home infusion of IV antibiotics",
]
TRAPS = [
    "Hx Parkinson's disease, on carbidopa-levodopa 25/100 TID. ",
    "PMH: MS, HTN, DM2. ",
    "Norco 5/325 1 tab PO q6h PRN pain. ",
    "Pain 7/10, improved to 3/10 after dilaudid 0.5 mg IV. ",
    "BP 142/88, HR 96, RR 18, SpO2 94% on 2L NC. ",
    "Strength 4/5 in RLE. 2/6 systolic murmur at LUSB. ",
    "Foley catheter in place, draining clear yellow urine. ",
    "Hx Crohn's disease, Graves disease s/p RAI. ",
    "Alzheimer dementia, baseline oriented x1. ",
    "Given 1/2 tab of metoprolol 25 mg. ",
    "Hgb 8.2, plt 145, WBC 12.4, Cr 1.8 (baseline 1.1). ",
]


def _fake(seed: int):
    from faker import Faker

    f = Faker("en_US")
    f.seed_instance(seed)
    return f


def _date(rng: random.Random, base: dt.date, spread: int = 30) -> dt.date:
    return base + dt.timedelta(days=rng.randint(-spread, spread))


def _fmt_date(rng: random.Random, d: dt.date) -> str:
    return rng.choice(_DATE_FORMATS)(d)


def _note(rng: random.Random, f, pid: int, topic: str) -> tuple[str, list[dict]]:
    n = _Note()
    female = rng.random() < 0.5
    first = f.first_name_female() if female else f.first_name_male()
    last = f.last_name()
    base = dt.date(rng.randint(2019, 2025), rng.randint(1, 12), rng.randint(1, 28))
    age = rng.choice([rng.randint(22, 88), rng.randint(22, 88), rng.randint(90, 103)])
    problems = MONTH2_PROBLEMS if topic == "month2" else BASE_PROBLEMS
    kind = rng.choice(["nursing", "progress", "discharge", "phone"]) if topic != "month2" else rng.choice(
        ["oncology", "peds", "psych", "home"]
    )
    doc_last = f.last_name()
    nurse = f"{f.first_name()} {f.last_name()}"
    mrn = str(rng.randint(1000000, 99999999))

    header = rng.random()
    if header < 0.5:
        n.t("Patient: ").p(f"{last}, {first}", "NAME").t("   MRN: ").p(mrn, "MRN").t("   DOB: ")
        dob = dt.date(base.year - age, rng.randint(1, 12), rng.randint(1, 28))
        n.p(dob.strftime("%m/%d/%Y"), "DATE").t("\n")
    else:
        n.t("Name: ").p(f"{first} {last}", "NAME").t("  Acct #: ").p(str(rng.randint(10**8, 10**10)), "ACCOUNT")
        n.t("  Adm: ").p(_fmt_date(rng, base), "DATE").t("\n")

    age_txt = f"{age}"
    if kind in ("nursing", "home", "psych"):
        n.t(f"{rng.choice(['0700-1900', '1900-0700', 'Day shift', 'Night shift'])} nursing note. Pt ")
        n.p(first if rng.random() < 0.5 else f"{first} {last}", "NAME")
        n.t(" is a ")
        if age > 89:
            n.p(f"{age_txt}yo", "AGE")
        else:
            n.t(f"{age_txt}yo")
        n.t(f" {'F' if female else 'M'} admitted ").p(_fmt_date(rng, base), "DATE").t(f" for {rng.choice(problems)}. ")
    else:
        n.t(f"{'Mrs.' if female else 'Mr.'} ").p(last, "NAME").t(" is a ")
        if age > 89:
            n.p(f"{age_txt}-year-old", "AGE")
        else:
            n.t(f"{age_txt}-year-old")
        n.t(f" {'woman' if female else 'man'} with {rng.choice(problems)}, seen at ")
        hosp = rng.choice(
            [f"{f.last_name()} Memorial Hospital", f"{f.city()} General Hospital", f"St. {f.first_name_male()}'s Medical Center",
             f"{f.last_name()} Clinic", f"{f.city()} Regional Medical Center"]
        )
        n.p(hosp, "FACILITY").t(" on ").p(_fmt_date(rng, base), "DATE").t(". ")
    n.t(rng.choice(TRAPS))
    # relatives, contact, address
    rel = rng.choice(["wife", "husband", "daughter", "son", "sister", "niece", "neighbor"])
    rel_name = f.first_name() if rng.random() < 0.6 else f"{f.first_name()} {f.last_name()}"
    n.t(f"{rel.capitalize()} ").p(rel_name, "NAME").t(" at bedside" if rng.random() < 0.5 else " called").t(
        ", can be reached at "
    )
    n.p(f.numerify(rng.choice(["(###) ###-####", "###-###-####", "###.###.####"])), "PHONE").t(". ")
    if rng.random() < 0.6:
        n.t(f"Lives {rng.choice(['alone', 'with family', 'with spouse'])} at ").p(f.street_address(), "LOCATION").t(", ")
        n.p(f.city(), "LOCATION").t(", ").t(f.state_abbr()).t(" ").p(f.zipcode(), "ZIP").t(". ")
    elif rng.random() < 0.5:
        n.t("Resides in ").p(f.city(), "LOCATION").t(", moved from ").p(f"{f.city()} County", "LOCATION").t(" last year. ")
    # identifiers of many kinds
    extras = [
        lambda: n.t("Insurance: Medicare, member ID ").p(f.bothify("#??#-??#-??##").upper(), "HEALTH_PLAN").t(". "),
        lambda: n.t("BCBS policy # ").p(f.bothify("???#########").upper(), "HEALTH_PLAN").t(". "),
        lambda: n.t("SSN ").p(f.ssn(), "SSN").t(" on file. "),
        lambda: n.t("Email: ").p(f.email(), "EMAIL").t(". "),
        lambda: n.t("Records faxed to ").p(f.numerify("###-###-####"), "FAX").t(" per request. "),
        lambda: n.t("Pacemaker serial no. ").p(f.bothify("??######").upper(), "DEVICE").t(" interrogated. "),
        lambda: n.t("Insulin pump S/N ").p(f.bothify("PMP-#######"), "DEVICE").t(". "),
        lambda: n.t("Pt drove here; vehicle plate ").p(f.license_plate(), "VEHICLE").t(" in lot B. "),
        lambda: n.t("Car VIN ").p(f.bothify("1HG??####?#######").upper().replace("O", "0").replace("I", "1").replace("Q", "9"), "VEHICLE").t(" released to family. "),
        lambda: n.t("Portal: ").p(f"https://{f.domain_name()}/patient/{rng.randint(1000, 9999)}", "URL").t(". "),
        lambda: n.t("Telehealth from IP ").p(f.ipv4(), "IP_ADDRESS").t(". "),
        lambda: n.t("Fingerprint ID ").p(f.bothify("FP-########"), "BIOMETRIC").t(" verified for controlled substances. "),
        lambda: n.t("Driver's license ").p(f.bothify("?#######").upper(), "LICENSE").t(" copied for registration. "),
        lambda: n.t("Claim number ").p(f.bothify("CLM-##########"), "ACCOUNT").t(". "),
        lambda: n.t("Specimen accession ").p(f.bothify("S##-#####"), "ID").t(" sent to lab. "),
        lambda: n.t("Study ID ").p(f.bothify("TRIAL-####-??").upper(), "ID").t(". "),
    ]
    for fn in rng.sample(extras, k=rng.randint(2, 5)):
        fn()
    # course with dates, interval-bearing
    d2 = _date(rng, base, 10)
    n.t(f"\nCourse: {rng.choice(['Started', 'Continued', 'Held'])} {rng.choice(['heparin gtt', 'vanc/zosyn', 'lasix 40 IV BID', 'insulin drip', 'PT/OT'])}. ")
    n.t("Echo ").p(_fmt_date(rng, d2), "DATE").t(" showed EF 35%. ")
    if rng.random() < 0.5:
        n.t("Follow-up on the ").p(f"{d2.day}{_ORD.get(d2.day % 10 if d2.day not in (11, 12, 13) else 0, 'th')}", "DATE").t(" with ")
    else:
        n.t("F/u with ")
    n.t("Dr. ").p(doc_last, "NAME").t(f" ({rng.choice(['cardiology', 'PCP', 'nephrology', 'oncology'])}) at ")
    n.p(f.numerify("(###) ###-####"), "PHONE").t(". ")
    if kind in ("discharge", "oncology", "peds"):
        n.t("Discharged home ").p(_fmt_date(rng, _date(rng, base, 7)), "DATE").t(" in stable condition. ")
    if kind == "phone":
        n.t("Spoke with ").p(f"{f.first_name()} {f.last_name()}", "NAME").t(" from ").p(f"{f.last_name()} Pharmacy", "FACILITY").t(" re: refill. ")
    if kind == "peds":
        n.t("Mother ").p(f.first_name_female(), "NAME").t(" reports school is ").p(f"{f.last_name()} Elementary School", "FACILITY").t(". ")
    if kind == "psych":
        n.t("Pt works at ").p(f.company(), "FACILITY").t("; supervisor ").p(f.name(), "NAME").t(" aware. ")
    # signature
    cred = rng.choice(["RN", "RN, BSN", "LPN", "NP", "MD", "PA-C"])
    n.t("\n-- ").p(nurse, "NAME").t(f", {cred}  ").p(_fmt_date(rng, base), "DATE").t(f" {rng.randint(0, 23):02d}:{rng.choice(['00', '15', '30', '45'])}")
    text = n.text()
    spans = n.spans
    style = rng.random()
    if style < 0.06:
        text = text.upper()
    elif style < 0.10:
        text = text.lower()
    return text, spans


def generate_notes(n: int, seed: int = 0, topic: str = "base") -> list[dict]:
    """``n`` synthetic notes (about 3 per patient) with their PHI spans; deterministic for a seed."""
    rng = random.Random(seed * 7919 + (17 if topic == "month2" else 0))
    f = _fake(seed + (1000 if topic == "month2" else 0))
    out = []
    for i in range(n):
        pid = i // 3
        text, spans = _note(rng, f, pid, topic)
        out.append({"id": f"{topic}-{seed}-{i:05d}", "patient": f"P{seed}-{pid:05d}", "text": text, "spans": spans})
    return out


def write_corpus(dest: Path, *, n: int = 300, seed: int = 0, topic: str = "base") -> dict:
    """Write ``generate_notes`` as JSONL (gold format + ``patient``)."""
    notes = generate_notes(n, seed, topic)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", encoding="utf-8") as fh:
        for r in notes:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return {"notes": len(notes), "patients": len({r["patient"] for r in notes}), "spans": sum(len(r["spans"]) for r in notes), "out": str(dest)}
