"""The compliance officer's report: one self-contained HTML file (plus an optional PDF) per period.

Public API: :func:`build_report` (collect, render, write, audit) and :func:`collect` (the data only),
:class:`Period`.  Sections: integrity, activity, data, models, artifacts, host — each from its
subsystem's metadata, never from decrypted records, so no unlock is needed and no PHI can appear.
"""

from __future__ import annotations

from appliance.report.build import build_report, collect, default_output
from appliance.report.period import Period

__all__ = ["Period", "build_report", "collect", "default_output"]
