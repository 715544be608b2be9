"""Compiled regular expressions shared by the clinical recognizers (dates, numbers, addresses, labels).

Kept apart from the recognizer logic so the rules read as data; every pattern is compiled once per process.
"""

from __future__ import annotations

import re

MONTHS_FULL = "January|February|March|April|May|June|July|August|September|October|November|December"
MONTHS_ABBR = "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
MONTH = rf"(?:{MONTHS_FULL}|(?:{MONTHS_ABBR})\.?)"
ORD_WORDS = (
    "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|"
    "fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty-first|twenty-second|"
    "twenty-third|twenty-fourth|twenty-fifth|twenty-sixth|twenty-seventh|twenty-eighth|twenty-ninth|"
    "thirtieth|thirty-first"
)
DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
YEAR = r"(?:(?:18|19|20)\d{2}|'\d{2})"  # 18xx: a confused patient's "march 21, 1899" is still a date
TIME = r"(?:\s*(?:at\s+)?(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:\s*[AaPp]\.?[Mm]\.?)?)"

# month-name dates; flags are IGNORECASE only for the upper/lower-case views, so "may" stays a verb in normal text
DATE_TEXT = [
    # March 3, 2021 / Mar. 3rd 2021 / March 3 / March 3rd at 14:00
    rf"\b{MONTH}\s+{DAY}\b(?:,?\s*{YEAR}\b)?{TIME}?",
    # 3 March 2021 / 3rd of March / 03-Mar-2021
    rf"\b{DAY}\s+(?:of\s+)?{MONTH}(?:,?\s*{YEAR}\b)?",
    rf"\b\d{{1,2}}[-/ ](?:{MONTHS_ABBR}|May)[-/ ](?:\d{{4}}|\d{{2}})\b",
    # March 2021 / March of 2021
    rf"\b{MONTH},?\s+(?:of\s+)?{YEAR}\b",
    # spelled days: March third / the third of March
    rf"\b{MONTH}\s+(?:the\s+)?(?:{ORD_WORDS})\b",
    rf"\b(?:the\s+)?(?:{ORD_WORDS})\s+of\s+{MONTH}",
]
# "on the 3rd", "since the twenty-first" (a day of the month without the month)
DAY_ONLY = re.compile(
    rf"\b(?:on|since|by|until|till|before|after|from|through|thru)\s+the\s+((?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)|{ORD_WORDS})\b"
    r"(?!\s+(?:dose|doses|time|times|day|days|floor|trimester|degree|generation|line|cycle|cycles|week|weeks|attempt|round|toe|finger|rib|ics|intercostal|cranial|grade|percentile|visit|session|treatment|fraction|postoperative|post-op|hospital))",
    re.IGNORECASE,
)
# a bare month with a temporal preposition: "in March", "since early June"
MONTH_ALONE = re.compile(
    rf"\b(?:in|since|during|until|till|through|of|early|late|mid-?|by|from|before|after|around)\s+((?:(?:early|late|mid-?|last|next|this)\s+)?(?:{MONTHS_FULL}|Sept|Dec|Nov|Oct|Aug|Feb))\b(?!\s*\d)"
    rf"|\b((?:last|next|this|past)\s+(?:{MONTHS_FULL}|Sept|Dec|Nov|Oct|Aug|Feb))\b(?!\s*\d)"
)
# a month in lower case after a temporal preposition ("lost his job in jan.", "since october"): only month
# words that are no other English word (not may/march/june/august/dec)
MONTH_ALONE_ANY_CASE = re.compile(
    r"(?i)\b(?:in|since|during|until|till|through|by|from|before|after|early|late|mid-?|last|next|this|past)\s+"
    r"(january|february|april|july|september|october|november|december|jan|feb|sept|oct|nov)\b\.?(?!\s*\d)"
)
WEEKDAY = re.compile(
    r"\b((?:last|next|this|past|previous|following)\s+(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day)\b"
    r"|\b(?:on|since|by|until|before|after|from)\s+((?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day)\b",
    re.IGNORECASE,
)
HOLIDAY = re.compile(
    r"\b(?:Christmas(?:\s+(?:Eve|Day))?|Thanksgiving(?:\s+Day)?|New\s+Year'?s(?:\s+(?:Eve|Day))?|Easter(?:\s+Sunday)?|"
    r"Halloween|Independence\s+Day|Memorial\s+Day|Labor\s+Day|Valentine'?s\s+Day|Mother'?s\s+Day|Father'?s\s+Day|"
    r"Veterans\s+Day|Martin\s+Luther\s+King(?:\s+Jr\.?)?\s+Day|MLK\s+Day|Presidents'?\s+Day|Juneteenth|Hanukkah|"
    r"Passover|Ramadan|Rosh\s+Hashanah|Yom\s+Kippur|Diwali|Kwanzaa)\b"
)
DATE_NUMERIC = re.compile(
    r"(?<![\w/.])(?<![A-Za-z]-)(?<!\d\.\d-)(?:"
    r"(?P<y1>(?:19|20)\d{2})[-/.](?P<m1>0?[1-9]|1[0-2])[-/.](?P<d1>0?[1-9]|[12]\d|3[01])"  # 2021-03-14
    r"|(?P<m2>\d{1,2})(?P<sep>[-/.])(?P<d2>\d{1,2})(?P=sep)(?P<y2>\d{4}|\d{2})"  # 3/14/2021, 14.03.21
    r"|(?P<y3>(?:19|20)\d{2})(?P<m3>0[1-9]|1[0-2])(?P<d3>0[1-9]|[12]\d|3[01])"  # 20210314
    r")"
    rf"(?:T?{TIME})?(?![\w/]|-(?!\d{{1,2}}/\d)|\.\d)"
)
# month and year: "07/2019", "8/2022" (the month is a date element)
MONTH_YEAR = re.compile(r"(?<![\w/.-])(?:0?[1-9]|1[0-2])/(?:19|20)\d{2}(?![\w/]|\.\d)")
# month and two-digit year where the year cannot be a day ("CABG 1/78", "s/p UTI 6/85"); a percentage after it
# ("PS 5/40%") is a vent setting
MONTH_YY = re.compile(r"(?<![\w/.,+-])(?P<m>0?[1-9]|1[0-2])/(?P<y>3[2-9]|[4-9]\d)(?![\w/%]|\.\d|\s*%)")
# a full date or a month/year glued to a word or a sentence's full stop ("labs on10/14/82", "fx4/97",
# "transferred to Q7.8/31"): the letter before it is checked by the recognizer
GLUED_DATE = re.compile(
    r"(?<=[A-Za-z])(?:(?P<m>0?[1-9]|1[0-2])/(?P<d>0?[1-9]|[12]\d|3[01])/(?:\d{2}|(?:19|20)\d{2})"
    r"|(?:0?[1-9]|1[0-2])/(?:3[2-9]|[4-9]\d))(?![\w/%]|\.\d|\s*%)"
    r"|(?<=[A-Za-z]\.)(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])(?:/(?:\d{2}|(?:19|20)\d{2}))?(?![\w/%]|\.\d|\s*%)"
)
# a two-digit year with a trailing apostrophe after a history item ("CVA 74'", "CHOLECYSTECTOMY 77'")
YEAR_APOS = re.compile(r"(?<=[A-Za-z] )\d{2}'(?![\w'])")
# m/d.yy ("11/21.93"): a mixed separator typed in a hurry
DATE_MIXED = re.compile(r"(?<![\w/.,+-])(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])\.\d{2}(?![\w/.%]|\s*%)")
# a month name in any case with a four-digit year: "sober since may 2021", "listed since oct 2021"
MONTH_YEAR_TEXT = re.compile(rf"(?i)\b(?:{MONTHS_FULL}|{MONTHS_ABBR})\.?,?\s+(?:19|20)\d{{2}}\b")
DATE_MD = re.compile(r"(?<![\w/.,+-])(?<!\d:)(?P<m>\d{1,2})/(?P<d>\d{1,2})(?![\w/]|\.\d|\s*(?:mg|mcg|ml|g|units?|tabs?|tablets?|caps?|mmhg|strength|murmur|pain|score|scale|dose|doses|cup|of|ns|normal|hrs?|hours?|days?|weeks?|time(?!\s+(?:in|out)\b)|times)\b)", re.IGNORECASE)
DATE_MD_CONTEXT = re.compile(
    r"\b(?:on|since|from|to|until|till|by|dated?|dos|seen|admitted|admit|discharged?|d/c|visit|f/u|follow-?up|appt|appointment|surgery|last|next|due|started|stopped|ended|began|returned|scheduled|through|thru|onset|as of|effective|week of|w/e)\b[\s:]*$",
    re.IGNORECASE,
)
NOT_DATE_BEFORE = re.compile(r"(?:\bbp|\bb/p|blood pressure|\bpain|strength|murmur|grade|score|scale|rated|ratio|dose|\bsig|\btake|(?<![a-z])x|apgars?|gcs|nyha|fio2|peep|vent|\bps|motor|reflexes|dtrs?|pupils?|visual acuity|\bva|\b20)\s*[:=]?\s*$", re.IGNORECASE)

AGE = re.compile(
    r"\b(?P<n>9\d|1[01]\d)\s*(?:-|\s)?\s*(?:years?|yrs?|y)\.?\s*(?:-|\s)?\s*(?:old|o\b|/o\b|\.o\.?)"
    r"|\b(?P<n2>9\d|1[01]\d)\s*(?:yo|y/o|y\.o\.?|yr|yrs|years?|YO|Y/O)\b"
    r"|\b(?:age|aged|ages|age:)\s*(?:of\s+)?(?P<n3>9\d|1[01]\d)\b"
    r"|\b(?P<n4>9\d|1[01]\d)\s*(?:-\s*)?(?:[FM]|yoF|yoM|yF|yM|year-old|yo\s*[FM])\b"
    r"|\b(?:ninety|one\s+hundred)(?:[-\s](?:one|two|three|four|five|six|seven|eight|nine))?(?:[-\s]years?[-\s]old|\s+yo)?\b"
    r"|\bcentenarian\b|\bin\s+(?:his|her|their)\s+(?:late\s+)?(?:90s|nineties|100s)\b",
    re.IGNORECASE,
)

PHONE = re.compile(
    r"(?<![\w/+.-])(?:(?:\+|00)\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?|\d{2,4}[\s.-])(?:\(0\)\s?)?\d{2,4}(?:[\s.-]\d{2,5}){0,3}"
    r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?(?![\w/]|[.-]\d)"
    r"|(?<![\w/+.-])\+\d{7,15}\b"
    r"|(?<![\w/+.-])\d{10}(?![\w/])"
)
PHONE_CONTEXT = re.compile(
    r"\b(?:phone|ph|tel|telephone|cell|mobile|mob|home|work|office|call|called|contact|pager|page|beeper|reach|reached|"
    r"number|no|callback|cb|text|voicemail|vm|dial|landline|hotline|line|#|fax|facsimile|f)\b\W{0,4}(?:\w+\W{1,3}){0,3}$",
    re.IGNORECASE,
)
FAX_CONTEXT = re.compile(r"\b(?:fax|facsimile|faxed|fx|f)\b\W{0,6}(?:\w+\W{1,3}){0,3}$|fax\s*(?:#|no\.?|number)?\s*[:=]?\s*$", re.IGNORECASE)

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?<![.-])")
URL = re.compile(
    r"(?i)\b(?:(?:https?|ftp)://|www\.)[^\s<>\"')\]]+"
    r"|\b(?:[A-Za-z0-9-]+\.)+(?:com|org|net|edu|gov|mil|io|info|biz|us|co|health|care|ca|uk|de|fr|nl|be|se|dk|ch|at|au|"
    r"es|it|pt|ie|uy|ee|cy|fi|no|pl|cz|jp|cn|in|br|mx|ru|eu|me|ly|app|ai)\b(?:/[^\s<>\"')\]]*)?",
)
IPV4 = re.compile(r"(?<![\w.])(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(?:/\d{1,2})?(?!\w|\.\d)")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}(?::{1,2}[0-9A-Fa-f]{1,4}){2,7}(?:::)?|(?:[0-9A-Fa-f]{1,4}:){1,7}:)(?![\w:])")
MAC = re.compile(r"\b[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}\b")
SSN = re.compile(r"(?<![\w-])(?:\d{3}-\d{2}-\d{4}|\d{3}\s\d{2}\s\d{4}|\d{3}\.\d{2}\.\d{4}|[Xx*]{3}-[Xx*]{2}-\d{4})(?![\w-])")
SSN_CONTEXT = re.compile(r"\b(?:ssn|ss#|ss\s*no|social\s+security(?:\s+(?:number|no|#))?|soc\s*sec)\b\W*(?:is\s+)?$", re.IGNORECASE)
VIN = re.compile(r"\b(?=[A-HJ-NPR-Z0-9]*\d)(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17}\b")
DEA = re.compile(r"\b[ABCDEFGHJKLMPRSTUX][A-Z]\d{7}\b")
MBI = re.compile(r"\b[1-9][AC-HJKMNP-RT-Yac-hjkmnp-rt-y][AC-HJKMNP-RT-Yac-hjkmnp-rt-y0-9]\d-?[AC-HJKMNP-RT-Yac-hjkmnp-rt-y][AC-HJKMNP-RT-Yac-hjkmnp-rt-y0-9]\d-?[AC-HJKMNP-RT-Yac-hjkmnp-rt-y]{2}\d{2}\b")
CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")

# a code with digits: 5+ digit numbers, or letter/digit/dash codes with 4+ digits (MRNs, member ids, serials)
CODE = re.compile(r"(?<![\w@./:-])(?=[A-Za-z0-9-]*\d)[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){3,24}(?![\w@]|[./:-]\w)")
# after an identifier label: the value (allow short ones, digits required)
LABELED_VALUE = r"[#:=\s]*(?:is\s+|was\s+|of\s+)?(?:#\s*)?(?P<v>(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{1,30}(?:\s[A-Za-z0-9]{2,6}(?=\W|$)(?<=\d)|\s\d{2,6}(?![\w/]))?)"

LABELS: dict[str, list[str]] = {
    "MRN": [r"mrn", r"mr\s*#", r"mr\s*no", r"med(?:ical)?\s*rec(?:ord)?s?(?:\s*(?:number|no|num|#|id))?", r"record\s*(?:number|no|#)",
            r"chart\s*(?:number|no|#)?", r"hospital\s*(?:number|no|#|id)", r"patient\s*(?:id|number|no|#)", r"pt\s*(?:id|#|no)",
            r"unit\s*(?:number|no)", r"emr\s*(?:id|#|number)?", r"ehr\s*(?:id|#|number)?", r"epic\s*(?:id|#)?"],
    "HEALTH_PLAN": [r"member\s*(?:id|number|no|#)?", r"subscriber\s*(?:id|number|no|#)?", r"policy\s*(?:id|number|no|#)?",
                    r"insurance\s*(?:id|number|no|#|policy)?", r"health\s*plan(?:\s*(?:id|number|no|#|beneficiary))?",
                    r"beneficiary\s*(?:id|number|no|#)?", r"medicare(?:\s*(?:id|number|no|#|beneficiary\s*(?:id|number)?))?",
                    r"medicaid(?:\s*(?:id|number|no|#))?", r"group\s*(?:id|number|no|#)", r"group(?=\s+[A-Z]{1,4}\d{3,}\b)", r"plan\s*(?:id|number|no|#)", r"hicn",
                    r"mbi", r"bcbs(?:\s*(?:id|#))?", r"aetna(?:\s*(?:id|#))?", r"cigna(?:\s*(?:id|#))?", r"humana(?:\s*(?:id|#))?",
                    r"united\s*health(?:care)?(?:\s*(?:id|#))?", r"kaiser(?:\s*(?:id|#))?", r"coverage\s*(?:id|#)"],
    "ACCOUNT": [r"card\s+ending(?:\s+in)?", r"account\s+ending(?:\s+in)?", r"account\s*(?:number|no|num|#|id)?", r"acct\.?\s*(?:number|no|#)?", r"billing\s*(?:number|no|#|id|account)?",
                r"invoice\s*(?:number|no|#)?", r"claim\s*(?:number|no|#|id)?", r"fin\s*(?:#|number|no)?", r"financial\s*(?:number|no|#)",
                r"bank\s*(?:account)?", r"routing\s*(?:number|no|#)?", r"card\s*(?:number|no|#)", r"credit\s*card(?:\s*(?:number|no|#))?",
                r"csn", r"guarantor\s*(?:id|#|number)?", r"statement\s*(?:number|no|#)", r"visit\s*(?:number|no|#)"],
    "LICENSE": [r"licen[cs]e\s*(?:number|no|num|#|id)?", r"lic\.?\s*(?:number|no|#)?", r"dea\s*(?:number|no|#)?", r"npi\s*(?:number|no|#)?",
                r"certificate\s*(?:number|no|#|id)?", r"cert\.?\s*(?:number|no|#)?", r"certification\s*(?:number|no|#)?",
                r"driver'?s?\s*licen[cs]e(?:\s*(?:number|no|#))?", r"dl\s*(?:number|no|#)?", r"registration\s*(?:number|no|#)",
                r"board\s*(?:certification|cert)?\s*(?:number|no|#)", r"permit\s*(?:number|no|#)?", r"passport\s*(?:number|no|#)?"],
    "VEHICLE": [r"vin", r"reg", r"rego", r"registration\s+plate", r"vehicle\s*(?:id|identification|number|no|#)?(?:\s*number)?", r"licen[cs]e\s*plate(?:\s*(?:number|no|#))?",
                r"plate\s*(?:number|no|#)?", r"tag\s*(?:number|no|#)", r"car\s*(?:plate|tag)"],
    "DEVICE": [r"serial\s*(?:number|no|num|#)?", r"s/n", r"sn", r"device\s*(?:id|identifier|number|no|#|serial)?", r"model\s*(?:number|no|#)",
               r"lot\s*(?:number|no|#)?", r"udi", r"implant\s*(?:id|serial|number|#)?", r"pacemaker\s*(?:id|serial|#)?",
               r"imei", r"mac\s*address", r"pump\s*(?:id|serial|#)", r"defibrillator\s*(?:id|serial|#)", r"icd\s*serial",
               r"catalog\s*(?:number|no|#)", r"asset\s*(?:tag|id|#)"],
    "BIOMETRIC": [r"fingerprint(?:\s*(?:id|scan|template|record|#))?", r"finger\s*print(?:\s*(?:id|#))?", r"retinal?\s*scan(?:\s*(?:id|#))?",
                  r"iris\s*scan(?:\s*(?:id|#))?", r"voice\s*print(?:\s*(?:id|#))?", r"voiceprint(?:\s*(?:id|#))?", r"biometric(?:\s*(?:id|identifier|#|template))?",
                  r"palm\s*print(?:\s*(?:id|#))?", r"facial\s*(?:recognition|scan)(?:\s*(?:id|#))?", r"dna\s*(?:profile|sample|id)(?:\s*(?:id|#))?",
                  r"gait\s*(?:signature|id)"],
    "ID": [r"id", r"identifier", r"case\s*(?:number|no|#|id)?", r"study\s*(?:id|number|#)", r"subject\s*(?:id|number|#)",
           r"employee\s*(?:id|number|no|#)", r"badge\s*(?:id|number|no|#)?", r"reference\s*(?:number|no|#)?", r"ref\s*(?:#|no)",
           r"ticket\s*(?:number|no|#)?", r"specimen\s*(?:id|number|no|#)?", r"accession\s*(?:number|no|#)?", r"requisition\s*(?:number|no|#)?",
           r"confirmation\s*(?:number|no|#|code)?", r"order\s*(?:number|no|#|id)", r"encounter\s*(?:number|no|#|id)?", r"tracking\s*(?:number|no|#)",
           r"student\s*(?:id|number|#)", r"member", r"barcode", r"wristband", r"armband", r"bracelet\s*(?:id|#)", r"code", r"number", r"no\.", r"#"],
}

US_STATE_ABBR = (
    "AS|GU|MP|VI|FM|MH|PW|AA|AE|AP|AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|"
    "PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC|PR"
)
US_STATE_NAMES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|Illinois|"
    "Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|Mississippi|Missouri|"
    "Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|North Carolina|North Dakota|Ohio|Oklahoma|"
    "Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|"
    "West Virginia|Wisconsin|Wyoming"
)
STREET_SUFFIX = (
    r"Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Circle|Cir|"
    r"Parkway|Pkwy|Highway|Hwy|Trail|Trl|Square|Sq|Loop|Pike|Row|Alley|Aly|Crossing|Xing|Plaza|Plz|Estates|Cove|Bend|"
    r"Ridge|Heights|Hts|Manor|Point|Route|Rte|Turnpike|Expressway|Expy|Freeway|Fwy|Gardens|Grove|Hollow|Knoll|Landing|"
    r"Meadows?|Mews|Orchard|Pass|Path|Run|Station|Summit|Valley|View|Vista|Walk|Crescent|Close|Green|Park|Strasse|straße|"
    r"Gasse|Weg|Platz|Allee|gatan|vägen|gade|vej|katu|tie|Rue|Calle|Via|Viale|Rua|Avenida|Carrera|"
    # the rest of the USPS standard suffixes (Publication 28, C1)
    r"Alley|Anex|Arcade|Bayou|Bayoo|Beach|Bluffs?|Bottom|Branch|Brg|Bridge|Brook|Brooks|Burgs?|Bypass|Camp|Canyon|Cape|"
    r"Causeway|Centers?|Circles|Cliffs?|Club|Common|Commons|Corners?|Course|Courts|Coves|Creek|Crest|Curve|Dale|Dam|"
    r"Divide|Drives|Estate|Extension|Extensions|Falls?|Ferry|Fields?|Flats?|Fords?|Forest|Forges?|Fork|Forks|Fort|"
    r"Freeway|Garden|Gateway|Glens?|Greens|Groves|Harbors?|Haven|Hills?|Inlet|Island|Islands|Isle|Junctions?|Keys?|"
    r"Knolls|Lake|Lakes|Lights?|Loaf|Locks?|Lodge|Mall|Manors|Mill|Mills|Mission|Motorway|Mount|Mountains?|Neck|Orchard|"
    r"Oval|Overpass|Parks|Parkways|Pines?|Plains?|Points|Ports?|Prairie|Radial|Ramp|Ranch|Rapids?|Rest|Ridges|River|"
    r"Roads|Routes|Shoals?|Shores?|Skyway|Springs?|Spurs?|Squares|Stravenue|Stream|Streets|Throughway|Trace|Track|"
    r"Trafficway|Trailer|Tunnel|Underpass|Unions?|Valleys|Viaduct|Views|Villages?|Ville|Vistas|Walks|Wall|Ways|Wells?"
)
STREET = re.compile(
    rf"\b\d{{1,6}}[A-Za-z]?(?:-\d+)?[^\S\n]+(?:(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?[^\S\n]+)?"
    rf"(?:(?:[A-Z][\w'.-]*|\d+(?:st|nd|rd|th)|de|la|del|van|von)[^\S\n]+){{0,4}}(?:{STREET_SUFFIX})\b\.?"
    rf"(?:,?\s+(?:(?:N|S|E|W|NE|NW|SE|SW)\.?\b))?"
)
FOREIGN_STREET = re.compile(
    r"\b(?:[A-ZÄÖÜÅÉ][\wäöüåéèßøæ'-]+(?:strasse|straße|gasse|weg|platz|allee|gatan|vägen|gade|vej|katu|tie|laan|straat|plein|"
    r"gracht|kade|dreef|veien|vegen|gata|utca|ulica|cesta)|(?:Rue|Calle|Via|Viale|Rua|Avenida|Carrera|Avenue|Boulevard|Chemin|Place|Plaza|Paseo)"
    r"(?:\s+(?:de|la|del|des|du|da|do|dos)?\s*[A-ZÁÉÍÓÚ][\w'-]+){1,3})\s+\d{1,5}[A-Za-z]?\b"
)
UNIT = re.compile(r"\s*,?\s*(?:Apt|Apartment|Suite|Ste|Unit|#|Bldg|Building|Fl|Floor|Rm|Room|Lot|Space|Trlr|PMB|(?i:apt|apartment|suite|ste|unit))\.?\s*#?\s*(?=[A-Za-z]?\d)[A-Za-z0-9-]+\b")
UNIT_ALONE = re.compile(r"\b(?:Apt|Apartment|Suite|Ste|Unit|Bldg|Room|Rm)\.?\s*#?\s*\d+[A-Za-z]?\b")
PO_BOX = re.compile(r"\b(?:P\.?\s*O\.?\s*Box|Post\s+Office\s+Box|PSC|CMR|Box)\s+\d+\b(?:,?\s*Box\s+\d+)?(?:\s*(?:APO|FPO|DPO)\s+(?:AA|AE|AP)\b)?")
CITY_STATE = re.compile(
    rf"\b(?P<city>[A-Z][a-z'’.-]+(?:[ -](?:[A-Z][a-z'’.-]+|de|la|du|of)){{0,3}}),?\s+(?P<state>(?:{US_STATE_ABBR})\b|(?:{US_STATE_NAMES})\b)(?:,?\s+(?P<zip>\d{{5}}(?:-\d{{4}})?))?"
)
# the same for a title-cased ALL-CAPS note, where the state code reads "Or", "Il"
CITY_STATE_UPPER = re.compile(
    rf"\b(?P<city>[A-Z][a-z'’.-]+(?:[ -](?:[A-Z][a-z'’.-]+|de|la|du|of)){{0,3}}),?\s+(?P<state>(?i:{US_STATE_ABBR})\b|(?:{US_STATE_NAMES})\b)(?:,?\s+(?P<zip>\d{{5}}(?:-\d{{4}})?))?"
)
PLATE = re.compile(
    r"(?i)\b(?:licen[cs]e\s+plate|plate|tag)\s*(?:number|no\.?|#)?\s*[:#]?\s*(?P<v>(?-i:(?=[A-Z0-9 •·-]*\d)[A-Z0-9]{1,4}(?:[\s•·-]?(?:[A-Z0-9]{1,4}|(?=[A-Z]*\d)[A-Z0-9]{5,7}))?))\b"
)
ZIP = re.compile(r"(?<![\w-])\d{5}(?:-\d{4})?(?![\w-])")
ZIP_CONTEXT = re.compile(rf"(?:\b(?:zip|zipcode|zip\s*code|postal\s*code|postcode)\b\W*|\b(?:{US_STATE_ABBR})\.?,?\s+|\b(?:{US_STATE_NAMES}),?\s+)$", re.IGNORECASE)
COUNTY = re.compile(r"\b(?:[A-Z][a-z]+\s+){1,3}(?:County|Parish|Borough|Township|Precinct|Ward|District)\b|\b(?:County|Parish|Township)\s+of\s+(?:[A-Z][a-z]+\s*){1,3}")

FACILITY_HEAD = (
    r"Hospital|Hospitals|Medical\s+Center|Med\s+Ctr|Medical\s+Centre|Health\s+Center|Health\s+System|Health\s+Systems|"
    r"Healthcare|Health\s+Care|HealthCare|Clinic|Clinics|Infirmary|Hospice|Nursing\s+Home|Nursing\s+Facility|Nursing\s+Center|"
    r"Rehabilitation\s+(?:Center|Hospital|Institute)|Rehab\s+Center|Rehab|Care\s+Center|Surgery\s+Center|Surgical\s+Center|"
    r"Urgent\s+Care|Cancer\s+Center|Cancer\s+Institute|Heart\s+Institute|Heart\s+Center|Institute|Memorial|Pharmacy|Laboratory|"
    r"Laboratories|Labs|Children'?s|Assisted\s+Living|Senior\s+Living|Living\s+Center|Retirement\s+Home|Home\s+Health|"
    r"Dialysis(?:\s+Center)?|Family\s+(?:Practice|Medicine)|Medical\s+Group|Medical\s+Associates|Associates|Physicians|"
    r"Health|Medical|Center|Centre|Sanatorium|Sanitarium|Asylum|Psychiatric|Behavioral\s+Health|VA\s+Medical\s+Center|VAMC|"
    r"Pediatrics|Cardiology|Orthopedics|Oncology|Women'?s|University|College|School|Academy|Church|Shelter|Prison|Jail|"
    r"Correctional\s+Facility|Office|Offices|Manor|Gardens|Village|Villa|Lodge|House|Home|Residence|Pavilion|Tower|Towers|Campus|Wing"
)
FACILITY = re.compile(
    rf"\b(?:(?:St\.?|Saint|Mt\.?|Mount|Our\s+Lady\s+of|The)\s+)?(?:[A-Z][\w'’&.-]*\s+(?:(?:of|and|&|the|for|at)\s+)?){{1,5}}(?:{FACILITY_HEAD})\b"
    rf"(?:\s+(?:of|at|in|for)\s+(?:the\s+)?(?:[A-Z][\w'’.-]*\s?){{1,4}})?"
)
SAINT = re.compile(r"\b(?:St\.?|Saint|Mt\.?|Mount|Our\s+Lady\s+of)\s+[A-Z][a-z]+(?:[’']s)?(?:\s+[A-Z][a-z]+){0,2}")
FACILITY_CONTEXT = re.compile(
    r"\b(?:at|to|from|transferred\s+to|admitted\s+to|seen\s+at|followed\s+at|treated\s+at|discharged\s+to|presented\s+to|"
    r"transfer\s+from|resides\s+at|lives\s+at|works\s+at|employed\s+(?:at|by)|works\s+for|facility|via)\s+$|@\s*$",
    re.IGNORECASE,
)

TITLE = r"(?:Dr|Doctor|Mr|Mrs|Ms|Miss|Mx|Prof|Professor|Rev|Reverend|Sr|Sister|Nurse|Capt|Sgt|Lt|Col|Judge|Father|Fr|Pastor|Rabbi|Atty|Attorney|Dame|Sir|Madam|Mme|Mlle|Herr|Frau|Sra|Sr|Senor|Señor|Senora|Señora)"
# Letters of any Latin script ("Müller", "Ólafsdóttir"); a lone capital must not be the start of a longer word,
# or "Dr. Müller" would stop at "Dr. M" and leave the rest of the surname in the text.
NAME_TOKEN = (
    r"(?:[A-ZÀ-ÖØ-Þ][^\W\d_'’-]*[a-zß-öø-ÿ][^\W\d_'’-]*(?:['’-][^\W\d_]+)*|[A-ZÀ-ÖØ-Þ]{2,}(?=\s|$|[,.;:])|[A-Z]\.?(?![^\W\d_]))"
)
NAME_TOKEN_CI = r"(?:[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*|[^\W\d_]\.)"
CREDENTIAL = (
    r"MD|M\.D\.|DO|D\.O\.|RN|R\.N\.|NP|PA-C|PA|LPN|LVN|CNA|BSN|MSN|APRN|CRNP|FNP|FNP-BC|DNP|PhD|PharmD|RPh|DPT|OTR|OTR/L|"
    r"SLP|CCC-SLP|RRT|RT|LCSW|LICSW|MSW|CNM|CRNA|DDS|DMD|MBBS|FACP|FACS|FACC|CNS|ACNP|AGNP|ANP|PNP|NNP|CPhT|EMT|EMT-P|"
    r"Paramedic|RD|RDN|LD|CDE|CDCES|CWOCN|CCRN|CEN|MA|CMA|SW|PT|OT|Psy\.?D|LMFT|LPC|NP-C|AGACNP-BC"
)
NAME_TRIGGERS = (
    r"(?:son|daughter|mother|father|brother|sister)-in-law|step(?:son|daughter|mother|father|mom|dad)|dtr|"
    r"pt|patient|name|named|called|call|son|sons|daughter|daughters|wife|husband|mother|mom|father|dad|brother|sister|"
    r"spouse|partner|friend|neighbor|neighbour|caregiver|guardian|poa|hcp|hcpoa|proxy|contact|spoke\s+with|spoke\s+to|"
    r"paged|notified|per|signed|signature|attending|resident|cc|seen\s+by|reviewed\s+with|discussed\s+with|dictated\s+by|"
    r"electronically\s+signed\s+by|signed\s+by|grandson|granddaughter|grandmother|grandfather|niece|nephew|aunt|uncle|"
    r"cousin|fiance|fiancee|fiancé|boyfriend|girlfriend|roommate|employer|supervisor|coworker|co-worker|boss|manager|"
    r"landlord|teacher|coach|pastor|priest|kids|kid|children|child|grandchildren|baby|pcp|surgeon|cardiologist|oncologist|"
    r"nephrologist|neurologist|psychiatrist|therapist|physician|provider|np|rn|md|doctor|nurse|aide|cna|pharmacist|"
    r"chaplain|interpreter|translator|visitor|visited\s+by|accompanied\s+by|brought\s+in\s+by|with\s+(?:her|his|their)\s+\w+|"
    r"informant|historian|referred\s+by|referring|covering|on-call|on\s+call|admitted\s+by|consult(?:ed)?|"
    r"mr|mrs|ms|miss|dr|sir|madam|i\s+am|my\s+name\s+is|this\s+is|dear|hi|hello|thanks|thank\s+you|regards|sincerely"
)
