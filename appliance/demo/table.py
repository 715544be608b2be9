"""The demo's stages, in run order: one row each (the shape of torchtune's recipe registry).

A row names the module that holds ``demo_stage(ctx) -> dict``; the module is imported only when its stage
runs, so listing the stages (``appliance demo --help``, ``--stage`` validation) stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stage:
    name: str  # what `appliance demo --stage NAME` and the summary call it
    module: str  # dotted module holding ``demo_stage(ctx) -> dict``
    shows: str  # one line: what the stage demonstrates

    def load(self) -> Callable[[Any], dict]:
        return importlib.import_module(self.module).demo_stage


STAGES: list[Stage] = [
    Stage("init", "appliance.demo.stages.init", "home, keys, recovery key, one unlock"),
    Stage("audit", "appliance.demo.stages.audit", "entries, a signed checkpoint, a verified export"),
    Stage("host", "appliance.demo.stages.host", "doctor + harden check of this host (report only)"),
    Stage("scrub", "appliance.demo.stages.scrub", "the scrubber against the corpus answer key (counts only)"),
    Stage("ingest", "appliance.demo.stages.ingest", "month 1: scrub → filter → dedup → encrypt"),
    Stage("train", "appliance.demo.stages.train", "2 ranks, kill -9 after a checkpoint, --resume"),
    Stage("register", "appliance.demo.stages.register", "registry version, signature, eval, champion"),
    Stage("export", "appliance.demo.stages.export", "GGUF → parity → sign → verify → generate"),
    Stage("serve", "appliance.demo.stages.serve", "the verified GGUF behind `appliance serve`: a keyed request, a 401"),
    Stage("retrain", "appliance.demo.stages.retrain", "month 2 + replay, the gate, lineage"),
    Stage("report", "appliance.demo.stages.report", "the compliance officer's HTML report (always last)"),
]


def stage_names() -> list[str]:
    return [s.name for s in STAGES]
