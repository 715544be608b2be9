"""One module per demo stage, each with ``demo_stage(ctx) -> dict``; the run order is :mod:`appliance.demo.table`."""
