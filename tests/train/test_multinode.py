"""Multi-node, really run: 2 nodes x 1 rank on one box over loopback, one shared home, DeepSpeed's own
``--no_ssh`` launcher.  kill -9 both nodes, resume both, and the final weights are bitwise those of the
2-rank single-node reference; nodes that would resume from different checkpoints refuse; a rendezvous
that cannot complete stops with a message naming the master, within ``run.rendezvous_timeout_s``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from train_helpers import PY, base_recipe, finish, kill_group, start, step_losses, wait_for

from appliance.errors import ConfigError, UsageError
from appliance.train.checkpoint import ENV_PAUSE_IN_SAVE, find_resumable
from appliance.train.multinode import NodeSpec, disagreements


def _free_port() -> int:
    # picked in a child: the test process itself runs with sockets disabled
    out = subprocess.run([PY, "-c", "from appliance.train.launcher import free_port; print(free_port())"],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    return int(out.stdout.strip())


def _node_env(extra: dict | None = None) -> dict:
    # The same intra-op thread count as a rank of the 2-rank reference (cpu_count // 2), so the float
    # reductions inside each matmul are the same ones.
    return {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 1) // 2)),
            **(extra or {})}


def _start_nodes(homes, recipe, port, *args, env=None):
    return [start(h, recipe, *args, "--nnodes", "2", "--node-rank", str(k), "--master-addr", "127.0.0.1",
                  "--master-port", str(port), env=_node_env(env)) for k, h in enumerate(homes)]


def _audit_actions(home):
    return [json.loads(x)["action"] for x in (home / "audit" / "log.jsonl").read_text().splitlines()]


def test_two_nodes_killed_and_resumed_equal_single_node_bitwise(reference, train_tmp):
    import torch
    from safetensors.torch import load_file

    ref_home, _ = reference
    home = train_tmp / "two-nodes"
    recipe = base_recipe("exact", run={"name": "exact", "nproc": 1})  # 1 rank per node x 2 nodes
    run_dir = home / "runs" / "exact"
    ckroot = run_dir / "checkpoints"

    procs = _start_nodes([home, home], recipe, _free_port(), env={ENV_PAUSE_IN_SAVE: "6:120"})
    wait_for(lambda: (ckroot / ".staging-step_00000006" / "trainer_state.json").exists(), proc=procs[0])
    for p in procs:
        kill_group(p)
    found = find_resumable(ckroot)
    assert found is not None and found[0].name == "step_00000003"
    # one checkpoint dir on the shared home: rank 0 sealed it, each rank wrote its own shard and RNG state
    files = set(found[1]["files"])
    assert {"rng_rank0.json", "rng_rank1.json", "trainer_state.json"} <= files
    assert {f.rsplit("/", 1)[-1] for f in files if "optim_states" in f} == {
        "zero_pp_rank_0_mp_rank_00_optim_states.pt", "zero_pp_rank_1_mp_rank_00_optim_states.pt"}
    assert found[1]["world_size"] == 2
    node1 = run_dir / "nodes" / "node1"
    assert not (node1 / "checkpoints").exists() and not (node1 / "data_manifest.json").exists()
    assert _audit_actions(home).count("train.start") == 1  # node 1 never writes the shared audit log

    # Node 1 sees a home without that checkpoint (a stale mount): both nodes refuse, nothing trains.
    other = train_tmp / "two-nodes-stale-mount"
    shutil.copytree(home, other)
    shutil.rmtree(other / "runs" / "exact" / "checkpoints" / "step_00000003")
    refused = [finish(p, timeout=600) for p in _start_nodes([home, other], recipe, _free_port(), "--resume")]
    for rc, res, err in refused:
        assert rc == 4, err[-4000:]
        assert "would resume from different checkpoints" in res["message"], res
        assert any("node 0 step_00000003" in d and "node 1 none (fresh start)" in d for d in res["details"]), res
        assert "shared filesystem" in res["hint"]
    assert find_resumable(ckroot)[0].name == "step_00000003"  # nothing lost

    done = [finish(p, timeout=600) for p in _start_nodes([home, home], recipe, _free_port(), "--resume")]
    for rc, _, err in done:
        assert rc == 0, err[-4000:]
    (_, res0, _), (_, res1, _) = done
    assert res0["resumed_from_step"] == 3 and res0["steps"] == 8 and res0["world_size"] == 2
    assert res1["node_rank"] == 1 and res1["model_version"] is None
    ref_run = ref_home / "runs" / "exact"
    assert step_losses(run_dir) == step_losses(ref_run)  # every per-step loss, bit for bit
    a, b = load_file(str(ref_run / "final" / "model.safetensors")), load_file(str(run_dir / "final" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k
    actions = _audit_actions(home)
    assert actions.count("train.resume") == 2 and actions.count("train.end") == 2  # node 0 only: refused, done


def test_rendezvous_that_cannot_complete_stops_with_the_master_named(train_tmp):
    home = train_tmp / "lonely-node"
    port = _free_port()
    recipe = base_recipe("lonely", run={"name": "lonely", "nproc": 1, "rendezvous_timeout_s": 5})
    t0 = time.monotonic()
    proc = start(home, recipe, "--nnodes", "2", "--node-rank", "0", "--master-addr", "127.0.0.1",
                 "--master-port", str(port))
    rc, res, err = finish(proc, timeout=300)  # bounded: without the watchdog this waits 30 minutes
    elapsed = time.monotonic() - t0
    assert rc == 1, err[-4000:]
    assert res["error"] == "RendezvousTimeout", res
    assert f"127.0.0.1:{port}" in res["message"] and "within 5 s" in res["message"]
    assert "--node-rank K" in res["hint"] and "rendezvous_timeout_s" in res["hint"]
    assert "error: rendezvous did not complete" in err  # also in the log, for journald
    print(f"lonely node 0 stopped after {elapsed:.1f} s")


def test_loopback_down_fails_before_planning(train_tmp):
    """The demo's case: in a network namespace whose loopback is down, a single-node run stops at once."""
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False).returncode != 0:
        pytest.skip("unprivileged network namespaces are not available on this host")
    home = train_tmp / "no-loopback"
    home.mkdir()
    rp = home / "recipe.json"
    rp.write_text(json.dumps(base_recipe("noloop")))
    from train_helpers import HARNESS

    p = subprocess.run(["unshare", "-rn", PY, str(HARNESS), str(home), str(rp)], capture_output=True, text=True,
                       timeout=120, check=False)
    assert p.returncode == 1, p.stderr[-3000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert "loopback" in res["message"] and "ip link set lo up" in res["hint"]
    assert not (home / "runs" / "noloop" / "plan.json").exists()


def test_node_options_and_rendezvous_timeout_are_validated():
    from appliance.train.recipe import recipe_from_dict

    with pytest.raises(UsageError, match="--master-addr"):
        NodeSpec(nnodes=2, node_rank=1).check()
    with pytest.raises(UsageError, match="--node-rank 2"):
        NodeSpec(nnodes=2, node_rank=2, master_addr="10.0.0.1").check()
    with pytest.raises(UsageError, match="not both"):
        NodeSpec(nnodes=2, master_addr="10.0.0.1").check(hostfile="/etc/hosts.ds")
    with pytest.raises(UsageError, match="not a host name"):
        NodeSpec(nnodes=2, master_addr="10.0.0.1; rm -rf /").check()
    assert NodeSpec(nnodes=2, node_rank=1, master_addr="10.0.0.1").check().port(None) == 29500
    with pytest.raises(ConfigError) as e:
        recipe_from_dict(base_recipe("x", run={"name": "x", "rendezvous_timeout_s": 0}))
    assert any("rendezvous_timeout_s" in d for d in e.value.details)
    assert recipe_from_dict(base_recipe("x")).run.rendezvous_timeout_s == 300


def test_disagreements_name_each_node():
    same = {"node": 0, "resume_from": "step_00000003", "world_size": 2}
    assert disagreements([same, {**same}]) == []
    lines = disagreements([same, {**same, "node": 1, "resume_from": "step_00000006"}])
    assert lines == ["resume_from: node 0 step_00000003, node 1 step_00000006"]


def test_multi_node_command_is_deepspeeds_no_ssh_launch(tmp_path):
    from appliance.train.launcher import command

    cmd = command(tmp_path / "plan.json", nproc=2, hostfile=str(tmp_path / "hostfile"), master_port=29555,
                  node=NodeSpec(nnodes=3, node_rank=2, master_addr="10.0.0.1"))
    assert cmd[1:4] == ["-u", "-m", "deepspeed.launcher.runner"]
    flags = " ".join(cmd)
    for part in ("--no_ssh", "--node_rank 2", "--master_addr 10.0.0.1", "--num_nodes 3", "--num_gpus 2",
                 "--master_port 29555", f"--hostfile {tmp_path / 'hostfile'}"):
        assert part in flags, part


def test_stale_extension_lock_is_removed_with_a_warning(tmp_path, caplog):
    from appliance.train.launcher import sweep_extension_locks

    lock = tmp_path / "torch_extensions" / "py311_cpu" / "deepspeed_shm_comm" / "lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")
    with caplog.at_level("WARNING"):
        assert sweep_extension_locks(tmp_path / "torch_extensions") == [str(lock)]
    assert not lock.exists() and "stale torch extension build lock" in caplog.text


def test_dry_run_counts_every_node(tmp_path):
    """--nnodes in a dry run: the world and global batch span the nodes; ZeRO-2 partitions over all ranks."""
    from harness import corpus

    from appliance.home import Home
    from appliance.train import InMemorySource
    from appliance.train.dryrun import dry_run
    from appliance.train.recipe import recipe_from_dict

    recipe = recipe_from_dict(base_recipe("dry2", run={"name": "dry2", "nproc": 1}))
    res = dry_run(Home(tmp_path / "home"), recipe, source=InMemorySource(corpus(160)), nodes=2)
    assert res["world_size"] == 2 and res["global_batch"] == 2 * 1 * 2
    p = res["memory"]["params_total"]
    assert res["memory"]["gpu_bytes_per_device"] == 2 * p + int(18 * p / 2)  # the 2-rank reference's figure


def test_cli_node_options_refused_before_the_passphrase(cli, tmp_path):
    from pathlib import Path

    recipe = Path(__file__).resolve().parents[2] / "appliance" / "recipes" / "tiny_llama_full.yaml"
    p = cli("train", "--config", str(recipe), "--nnodes", "2", "--node-rank", "1", "--json",
            env={"APPLIANCE_HOME": str(tmp_path / "no-home")})
    assert p.returncode == 2, p.stderr[-2000:]
    assert "--master-addr" in p.stdout + p.stderr
    h = cli("train", "--help")
    assert all(opt in h.stdout for opt in ("--nnodes", "--node-rank", "--master-addr", "--master-port"))
