"""Learning-rate schedules as pure functions of the optimizer step (so a resumed run gets the same lr)."""

from __future__ import annotations

import math


def lr_multiplier(step: int, *, schedule: str, max_steps: int, warmup_steps: int, min_lr_ratio: float,
                  decay_fraction: float = 0.2) -> float:
    """Multiplier of the peak lr used by optimizer step ``step`` (0-based): linear warmup, then the schedule."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    span = max(1, max_steps - warmup_steps)
    p = min(1.0, max(0.0, (step - warmup_steps) / span))
    if schedule == "cosine":
        return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * p))
    if schedule == "linear":
        return 1.0 - (1.0 - min_lr_ratio) * p
    if schedule == "wsd":  # warmup-stable-decay: flat, then a linear decay over the last decay_fraction
        decay_start = max_steps - max(1, round(decay_fraction * max_steps))
        if step < decay_start:
            return 1.0
        q = min(1.0, (step - decay_start) / max(1, max_steps - decay_start))
        return 1.0 - (1.0 - min_lr_ratio) * q
    raise ValueError(f"unknown schedule {schedule!r}")
