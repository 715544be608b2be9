"""The learned PHI detector: a linear-chain CRF (python-crfsuite) stacked on the rules' detections.

Public API::

    det = load_detector(settings)            # the shipped default (package data), or None when scrub.learned = "off"
    det = Detector.from_bytes(model_bytes)   # a site model, decrypted by appliance.scrub.learned.store
    ents = det.combine(note, raw, rule_ents) # the final detections for one note (engine hook)

    model_bytes, card = train_model(records, rule_runs)   # appliance.scrub.learned.train

Modules: ``features`` (token features, stacking the rules), ``model`` (the Detector and the combination),
``train`` (training, the reproducible default build, patient-grouped CV), ``store`` (site models, encrypted
in the home, the active pointer, audited).
"""

from __future__ import annotations

from appliance.scrub.learned.model import Detector, load_detector

__all__ = ["Detector", "load_detector"]
