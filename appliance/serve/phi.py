"""The optional output filter of `appliance serve`: the appliance's own PHI scrubber run on generations.

``flag`` leaves the text as generated and counts what the scrubber detects; ``redact`` replaces each
detection with a surrogate (the scrubber's own replacement).  Either way the counts by type, never the
values, go into the request's audit entry.  One in-process scrubber is shared by the request threads
behind a lock (spaCy pipelines are not meant to be run from several threads at once).
"""

from __future__ import annotations

import threading
from collections import Counter

MODES = ("off", "flag", "redact")


class PhiFilter:
    def __init__(self, mode: str, scrub_settings=None):
        from appliance.scrub import Scrubber

        if mode not in ("flag", "redact"):
            raise ValueError(f"PhiFilter mode must be flag or redact, not {mode!r}")
        self.mode = mode
        self._scrubber = Scrubber(scrub_settings, workers=1)
        self._lock = threading.Lock()

    def apply(self, text: str) -> tuple[str, dict[str, int]]:
        """``(text to send, {type: count})``; the text is unchanged in ``flag`` mode."""
        if not text:
            return text, {}
        with self._lock:
            if self.mode == "flag":
                ents = self._scrubber.detect_batch([text])[0]
                return text, dict(Counter(e.type for e in ents))
            res = self._scrubber.scrub_batch([text])[0]
        return res.text, {k: int(v) for k, v in res.counts.items() if v}

    def close(self) -> None:
        self._scrubber.close()


def merge_counts(into: dict, counts: dict[str, int], mode: str) -> None:
    """Fold ``counts`` into a request's ``phi`` audit field."""
    into["mode"] = mode
    by = into.setdefault("by_type", {})
    for k, v in counts.items():
        by[k] = by.get(k, 0) + v
    into["entities"] = sum(by.values())
