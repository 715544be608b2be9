"""Third-party chatter off by default, on with ``-v``: one switch for every library the appliance drives.

The appliance's own progress goes through the ``appliance`` logger and the CLI's Rich output; what this
module silences is everything else that writes to a terminal: llama.cpp's loader and quantizer log (through
llama-cpp-python's ``llama-cpp-python`` logger, which gates its native log callback), DeepSpeed's logger
(the launcher's hostfile warning, the accelerator notice), transformers' logging and FutureWarnings, and
tqdm bars ("Loading weights", "Writing model shards").

It works through environment variables as well as in-process settings, because most of the noise comes
from processes the appliance starts (DeepSpeed's launcher and ranks, the parity reference process): they
inherit the environment.  ``configure`` must run before those libraries are imported (the CLI calls it from
its root callback; heavy imports are lazy everywhere).  A variable the user set explicitly is left alone.
"""

from __future__ import annotations

import logging
import os
import warnings

#: env var → value that silences it (tqdm reads ``TQDM_*`` as defaults; the HF ones are documented switches)
QUIET_ENV = {
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "PYTHONWARNINGS": "ignore::FutureWarning,ignore::DeprecationWarning,ignore::UserWarning",
}
#: loggers of libraries, not ours; quiet keeps ERROR and above
THIRD_PARTY_LOGGERS = ("llama-cpp-python", "DeepSpeed", "transformers", "torch", "accelerate", "peft",
                       "presidio-analyzer", "huggingface_hub", "model_signing")
#: llama-cpp-python 0.3.36 maps ggml's log levels with a stale table (ggml's WARN arrives as ERROR), and its
#: native callback compares the logger's *level*, not its filters: only CRITICAL keeps the quantizer's
#: "falling back to q8_0" lines off the terminal.  llama.cpp's real failures still surface as return codes.
QUIET_LEVELS = {"llama-cpp-python": logging.CRITICAL}
#: marks the environment as configured by us, so a child (rank, reference process) knows the choice
ENV_VERBOSE = "APPLIANCE_THIRD_PARTY_VERBOSE"

_WARNING_CATEGORIES = (FutureWarning, DeprecationWarning, UserWarning)


class _ErrorsOnly(logging.Filter):
    """Drops a library logger's records below ERROR.  A filter, not a level: DeepSpeed (for one) resets its
    logger's level when it is imported, but keeps the filters already attached to it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


_FILTER = _ErrorsOnly()


def configure(verbosity: int) -> None:
    """Silence third-party output when ``verbosity`` is 0; leave the libraries' defaults otherwise."""
    loud = verbosity > 0
    os.environ[ENV_VERBOSE] = "1" if loud else "0"
    for name in THIRD_PARTY_LOGGERS:
        logger = logging.getLogger(name)
        logger.removeFilter(_FILTER)
        if loud:
            logger.setLevel(logging.INFO if verbosity == 1 else logging.DEBUG)
        else:
            logger.addFilter(_FILTER)
            logger.setLevel(QUIET_LEVELS.get(name, logging.ERROR))
    if loud:
        return
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for category in _WARNING_CATEGORIES:
        warnings.filterwarnings("ignore", category=category)


def inherit() -> None:
    """In a process the CLI started (a training rank): apply the choice the CLI made, kept in the environment."""
    configure(1 if third_party_verbose() else 0)


def third_party_verbose() -> bool:
    """Whether library output was asked for (``-v``); library calls with a ``verbose`` flag pass this."""
    return os.environ.get(ENV_VERBOSE) == "1"


def deepspeed_log_level() -> str:
    """``--log_level`` for DeepSpeed's launcher: its warnings (no hostfile, …) only with ``-v``."""
    return "info" if third_party_verbose() else "error"
