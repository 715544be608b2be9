"""Training metrics on rank 0: ``metrics.jsonl``, TensorBoard events, a Rich progress bar, ``loss.png``.

On a terminal the progress is a Rich bar; off one (systemd, nohup, the retrain timer) it is one log line
per ``progress.every`` steps on the ``appliance.train.progress`` logger (step, loss, lr, tokens/s, ETA).
Eval results and the resume point go to the same logger as they happen, in both modes.

``metrics.jsonl`` is the record the exactness tests compare: one ``{"kind": "step", ...}`` line per
optimizer step.  On resume the lines after the checkpoint's step are dropped first, so the file of a
killed-and-resumed run reads exactly like the file of a run that was never interrupted.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

progress_log = logging.getLogger("appliance.train.progress")


def format_eta(seconds: float | None) -> str:
    import math

    if seconds is None or math.isnan(seconds) or seconds < 0:
        return "-"
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def truncate_after(path: Path, step: int) -> None:
    """Keep only the lines of ``metrics.jsonl`` whose ``step`` is ≤ ``step`` (resume from that step)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line torn by the kill
        if rec.get("step", 0) <= step:
            keep.append(line)
    from appliance._internal.atomic import atomic_write

    atomic_write(path, "".join(x + "\n" for x in keep), mode=0o600)


def read(path: Path, kind: str | None = "step") -> list[dict]:
    out = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if kind is None or rec.get("kind") == kind:
            out.append(rec)
    return out


class MetricsLog:
    """Append-only metrics for rank 0 (jsonl + TensorBoard) and the progress bar."""

    def __init__(self, run_dir: Path, *, start_step: int, max_steps: int, show_progress: bool | str = True,
                 every: int = 10):
        """``show_progress``: ``"bar"`` (or True), ``"lines"`` (one log line per ``every`` steps) or False."""
        self.path = run_dir / "metrics.jsonl"
        self._mode = "bar" if show_progress is True else (show_progress or "off")
        self._every = every
        self._max_steps = max_steps
        self._start_step = start_step
        self._t_start = time.monotonic()
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 -- held open for the run; closed by close()
        os.chmod(self.path, 0o600)
        self._tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(run_dir / "tensorboard"), purge_step=start_step + 1)
        except Exception:  # tensorboard missing is not a reason to stop a run  # noqa: BLE001
            self._tb = None
        self._progress = None
        if self._mode == "bar":
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                TextColumn("step {task.completed}/{task.total}"),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("{task.fields[tps]} tok/s"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._progress.add_task("train", total=max_steps, completed=start_step, loss="-", tps="-")
            self._progress.start()

    def write(self, rec: dict) -> None:
        self._f.write(json.dumps(rec, sort_keys=True) + "\n")
        self._f.flush()
        if self._tb is not None:
            step = rec.get("step", 0)
            for k, v in rec.items():
                if k not in ("step", "kind") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self._tb.add_scalar(f"{rec.get('kind', 'x')}/{k}", v, step)
        if self._progress is not None and rec.get("kind") == "step":
            self._progress.update(self._task, completed=rec["step"], loss=f"{rec['loss']:.4f}",
                                  tps=f"{rec.get('tokens_per_s', 0):.0f}")
        if self._mode == "lines" and rec.get("kind") == "step":
            step = rec["step"]
            if step % self._every == 0 or step == self._max_steps:
                done = step - self._start_step
                elapsed = time.monotonic() - self._t_start
                eta = elapsed / done * (self._max_steps - step) if done > 0 else None
                progress_log.info("step %d/%d loss %.4f lr %.3g tokens/s %.0f eta %s", step, self._max_steps,
                                  rec["loss"], rec["lr"], rec.get("tokens_per_s") or 0.0, format_eta(eta))
        if self._mode != "off" and rec.get("kind") == "eval":
            progress_log.info("eval step %d: held-out loss %.4f ppl %.2f%s", rec["step"], rec["eval_loss"],
                              rec["eval_ppl"], " (best so far)" if rec.get("best") else "")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()
            self._tb = None
        self._f.close()


def plot_loss(run_dir: Path) -> Path | None:
    """Write ``loss.png`` (train loss per step, held-out loss per eval) from ``metrics.jsonl``."""
    steps = read(run_dir / "metrics.jsonl", "step")
    evals = read(run_dir / "metrics.jsonl", "eval")
    if not steps:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot([r["step"] for r in steps], [r["loss"] for r in steps], label="train loss")
    if evals:
        ax.plot([r["step"] for r in evals], [r["eval_loss"] for r in evals], "o-", label="held-out loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = run_dir / "loss.png"
    fig.savefig(out)
    plt.close(fig)
    return out


class Throughput:
    """Tokens/s over a sliding window of steps (the first step after start-up is excluded)."""

    def __init__(self):
        self._t = None
        self._tokens = 0
        self.rate = 0.0

    def tick(self, tokens: int) -> float:
        now = time.perf_counter()
        if self._t is not None:
            dt = now - self._t
            if dt > 0:
                self.rate = tokens / dt
        self._t = now
        return self.rate
