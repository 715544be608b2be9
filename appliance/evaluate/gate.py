"""The promotion gate: a candidate replaces the champion only if it is better where it must be.

Three checks, each configurable in ``[retrain.gate]``:
1. old data: candidate perplexity on the champion's held-out records may be at most
   ``max_old_ppl_regression`` (relative) worse — forgetting is bounded;
2. new data: candidate perplexity on the new held-out records must improve by at least
   ``min_new_ppl_improvement`` (relative) — the retrain must have learned something;
3. PHI probe: detections per 1,000 sampled tokens may rise by at most ``max_phi_rate_increase`` beyond
   ``phi_noise_sigmas`` standard errors of the two Poisson counts.
Any non-finite perplexity fails.  The result lists every reason, passed or not.
"""

from __future__ import annotations

import math

from appliance.config import GateSection


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def decide(champion: dict, candidate: dict, settings: GateSection) -> dict:
    """Compare ``{"old_ppl", "new_ppl", "phi"}`` of champion and candidate; returns the decision and reasons."""
    checks = []
    reasons = []

    co, no = champion.get("old_ppl"), candidate.get("old_ppl")
    if co is None:
        checks.append({"check": "old_ppl", "passed": True, "note": "no old held-out records to compare on"})
    elif not _finite(no):
        checks.append({"check": "old_ppl", "passed": False, "champion": co, "candidate": no})
        reasons.append(f"old-data perplexity is not finite ({no})")
    else:
        reg = no / co - 1.0
        ok = reg <= settings.max_old_ppl_regression
        checks.append({"check": "old_ppl", "passed": ok, "champion": co, "candidate": no,
                       "regression": round(reg, 4), "max": settings.max_old_ppl_regression})
        if not ok:
            reasons.append(f"old-data perplexity regressed {reg:+.1%} ({co:.3f} → {no:.3f}; "
                           f"max {settings.max_old_ppl_regression:.1%})")

    cn, nn = champion.get("new_ppl"), candidate.get("new_ppl")
    if cn is None:
        checks.append({"check": "new_ppl", "passed": True, "note": "no new records to compare on"})
    elif not _finite(nn):
        checks.append({"check": "new_ppl", "passed": False, "champion": cn, "candidate": nn})
        reasons.append(f"new-data perplexity is not finite ({nn})")
    else:
        imp = 1.0 - nn / cn
        ok = imp >= settings.min_new_ppl_improvement
        checks.append({"check": "new_ppl", "passed": ok, "champion": cn, "candidate": nn,
                       "improvement": round(imp, 4), "min": settings.min_new_ppl_improvement})
        if not ok:
            reasons.append(f"new-data perplexity improved {imp:+.1%} ({cn:.3f} → {nn:.3f}; "
                           f"min {settings.min_new_ppl_improvement:.1%})")

    cp, np_ = champion.get("phi"), candidate.get("phi")
    if cp and np_:
        diff = np_["per_1k_tokens"] - cp["per_1k_tokens"]
        # standard error of the difference of two Poisson rates, per 1k tokens
        se = 1000 * math.sqrt(np_["detections"] / np_["tokens"] ** 2 + cp["detections"] / cp["tokens"] ** 2)
        allowed = settings.max_phi_rate_increase + settings.phi_noise_sigmas * se
        ok = diff <= allowed
        checks.append({"check": "phi_rate", "passed": ok, "champion": cp["per_1k_tokens"],
                       "candidate": np_["per_1k_tokens"], "increase": round(diff, 3), "allowed": round(allowed, 3)})
        if not ok:
            reasons.append(f"PHI detections rose {cp['per_1k_tokens']:.2f} → {np_['per_1k_tokens']:.2f} per 1k tokens "
                           f"(allowed +{allowed:.2f})")
    else:
        checks.append({"check": "phi_rate", "passed": True, "note": "PHI probe not run"})

    passed = not reasons
    return {"decision": "promote" if passed else "reject", "passed": passed, "reasons": reasons, "checks": checks}
