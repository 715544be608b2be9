"""Monthly incremental retraining: plan (new records + replay + held-out sets + LR re-warm), train the
candidate with the ordinary training engine, gate it against the champion, promote or reject.

Public API: :func:`retrain`, :func:`make_plan`, :class:`Plan`, :func:`pending_plan`,
:class:`RetrainRejected` (a :class:`~appliance.errors.PolicyRefused`, exit 4, carrying the result).
"""

from appliance.retrain.plan import Plan, make_plan
from appliance.retrain.run import PlannedSource, RetrainRejected, pending_plan, retrain

__all__ = ["Plan", "PlannedSource", "RetrainRejected", "make_plan", "pending_plan", "retrain"]
