"""OpenAI-compatible HTTP serving of a verified GGUF artifact: API keys, network policy, audit, PHI filter.

Public API (FastAPI, uvicorn and llama_cpp are imported inside the functions):

- :func:`serve` — verify, then serve ``/v1/models``, ``/v1/completions``, ``/v1/chat/completions``, ``/health``
- :func:`add_key`, :func:`revoke_key`, :func:`list_keys` — the signed API-key file
- :func:`listener_state` — what a running server listens on (for ``appliance doctor``)
"""

from __future__ import annotations

from appliance.serve.app import Limits
from appliance.serve.engine import EngineSettings
from appliance.serve.keys import add_key, list_keys, revoke_key
from appliance.serve.server import ServeOptions, check_network_policy, listener_state, serve

__all__ = ["EngineSettings", "Limits", "ServeOptions", "add_key", "check_network_policy", "list_keys",
           "listener_state", "revoke_key", "serve"]
