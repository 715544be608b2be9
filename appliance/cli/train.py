"""`appliance train --config R.yaml [--resume] [--set key=value ...] [--allow-change key ...] [--json]`.

Multi-node, node by node: ``--nnodes N --node-rank K --master-addr A [--master-port P]`` on each node
(DeepSpeed's ``--no_ssh`` launch; see appliance.train.multinode)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appliance.cli._common import JsonOpt, PassphraseFileOpt, emit, err_console, get_home, kv_table, unlock


def _render(result: dict) -> None:
    rows = {k: result.get(k) for k in ("run_dir", "final_model", "steps", "final_loss", "eval_ppl", "tokens_seen",
                                       "tokens_per_s", "resumed_from_step", "checkpoint", "train_records",
                                       "heldout_records", "seconds")}
    err_console.print(kv_table("training finished", rows))


def _render_plan(plan: dict) -> None:
    mem = plan["memory"]
    rows = {"model": plan["model"], "records train/held-out": f"{plan['records']['train']}/{plan['records']['heldout']}",
            "split grouped by": plan["split_grouped_by"], "train tokens": plan["tokens"]["train"],
            "samples": plan["samples"]["train"], "global batch": plan["global_batch"],
            "steps per epoch": plan["steps_per_epoch"], "max steps": plan["max_steps"], "epochs": plan["epochs"],
            "params (trainable)": f"{mem['params_total']} ({mem['params_trainable']})",
            f"GPU GiB/device (ZeRO-{mem['zero_stage']}, offload {mem['offload']})": mem["gpu_gib_per_device"],
            "CPU GiB/node": mem["cpu_gib_per_node"]}
    if plan.get("distill"):  # included in the GPU figure above
        d = plan["distill"]
        rows["teacher (frozen, per rank)"] = f"{d['params']} params, {d['gib_per_device']} GiB {d['dtype']}"
    err_console.print(kv_table("dry run (nothing trained)", rows))
    err_console.print(f"memory: {mem['note']}")


def register(root: typer.Typer) -> None:
    @root.command("train")
    def train_cmd(
        config: Annotated[Path, typer.Option("--config", "-c", help="Training recipe (YAML).", dir_okay=False)],
        resume: Annotated[bool, typer.Option("--resume", help="Continue from the newest verified checkpoint.")] = False,
        set_: Annotated[list[str] | None, typer.Option("--set", help="Override a recipe key: key.sub=value.")] = None,
        allow_change: Annotated[
            list[str] | None,
            typer.Option("--allow-change", help="Accept a changed resume-critical setting (logged)."),
        ] = None,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="Check model, tokenizer and data resolve; print tokens, steps per epoch, epochs and "
                              "DeepSpeed's memory estimate per GPU; train nothing.")] = False,
        nnodes: Annotated[int, typer.Option(
            "--nnodes", help="Nodes in the run; start `appliance train` on each, with the same options.")] = 1,
        node_rank: Annotated[int, typer.Option(
            "--node-rank", help="This node's number, 0..nnodes-1 (node 0 hosts the rendezvous).")] = 0,
        master_addr: Annotated[str | None, typer.Option(
            "--master-addr", help="Node 0's address as every node reaches it (with --nnodes 2 or more).")] = None,
        master_port: Annotated[int | None, typer.Option(
            "--master-port", help="Rendezvous port on node 0, the same on every node (default run.master_port, "
                                  "else 29500 across nodes, a free port on one node).")] = None,
        passphrase_file: PassphraseFileOpt = None,
        json_: JsonOpt = False,
    ) -> None:
        """Train (or --resume) a model from the vault with DeepSpeed; final HF model in runs/<name>/final/.

        Early stopping: set eval.early_stopping_patience (evals without a lower held-out loss); final/ is
        then the best-by-held-out model, not the last step's (final/selection.json says which step).
        Off a terminal, progress is one log line per progress.every steps.
        Multi-node: run on every node with --nnodes N --node-rank K --master-addr A (a shared home);
        a rendezvous that does not complete in run.rendezvous_timeout_s stops with a message.
        """
        from appliance.train.multinode import NodeSpec
        from appliance.train.recipe import load_recipe
        from appliance.train.run import train_from_vault

        recipe = load_recipe(config, set_ or [])  # report recipe problems before asking for a passphrase
        node = NodeSpec(nnodes=nnodes, node_rank=node_rank, master_addr=master_addr,
                        master_port=master_port).check(recipe.run.hostfile)
        home = get_home().require_initialized()
        keys = unlock(passphrase_file, home)
        if dry_run:
            from appliance.train.run import dry_run_from_vault

            emit(dry_run_from_vault(home, keys, config, overrides=set_ or [], nodes=node.nnodes), json_, _render_plan)
            return
        result = train_from_vault(home, keys, config, overrides=set_ or [], resume=resume,
                                  allow_change=allow_change or [], node=node)
        emit(result, json_, _render)
