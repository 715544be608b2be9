"""`appliance demo`: the whole life of a model, end to end, on the embedded synthetic corpus.

Design: one package, one table.  :data:`appliance.demo.table.STAGES` lists the stages in run order as small
:class:`~appliance.demo.table.Stage` rows (name, module, what it shows), the shape of torchtune's recipe
registry; :func:`run_demo` walks that table in a fresh temporary home (non-interactive: a generated
passphrase file) and returns one summary dict per stage.  Each stage is a module holding
``demo_stage(ctx) -> dict``; it may read earlier stages' results from ``ctx.results`` and calls the
subsystems through their public APIs only.  The embedded corpus paths live in :mod:`appliance.demo.corpus`.

Adding a stage = one module + one table row:

1. write ``appliance/demo/stages/<name>.py`` with ``def demo_stage(ctx: DemoContext) -> dict`` (heavy imports
   inside the function; return counts and paths, never PHI).  A module written elsewhere as
   ``appliance/<sub>/demo_stage.py`` works as it is: the row just names that module;
2. add ``Stage("<name>", "appliance.demo.stages.<name>", "what it shows")`` to ``STAGES`` at the place in
   the story where it belongs (``report`` stays last: it reports on everything before it).

A test for the stage goes in ``tests/demo/test_<name>.py``; ``tests/e2e/test_demo.py`` runs them all.
"""

from appliance.demo.runner import DemoContext, new_context, run_demo
from appliance.demo.table import STAGES, Stage, stage_names

__all__ = ["STAGES", "DemoContext", "Stage", "new_context", "run_demo", "stage_names"]
