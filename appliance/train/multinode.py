"""Several nodes on one run: the node spec, a bounded rendezvous, and the nodes' agreement on what they resume.

Parent side: :class:`NodeSpec` is what ``appliance train --nnodes N --node-rank K --master-addr A
[--master-port P]`` asks for; :func:`node_dir` is where node K keeps what is its own (lock, plan, a
fresh tokenizer, the ``--no_ssh`` hostfile, rank error reports) so nodes sharing one home on a shared
filesystem never write the same file.  Node 0 keeps the run dir itself, so a single-node run looks as before.

Rank side: :class:`RendezvousWatchdog` bounds the wait for the other ranks by ``run.rendezvous_timeout_s``
(torch's own store timeout is 30 minutes and says nothing meanwhile); :func:`agree` all-gathers each
rank's fingerprint (checkpoint it resumes from, data manifest, recipe, tokenizer, world size) and refuses,
on every rank, when the nodes disagree.  A rank reports a deliberate failure through :func:`report`
(a JSON file in its node dir) and the parent re-raises it with :func:`raise_reported`.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import ApplianceError, PolicyRefused, UsageError

ENV_ERROR_DIR = "APPLIANCE_TRAIN_ERROR_DIR"
DEFAULT_MULTI_NODE_PORT = 29500  # torch.distributed's and DeepSpeed's default
EXIT_RENDEZVOUS = 75
_HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:_-]{0,252}$")


class RendezvousTimeout(ApplianceError):
    """The ranks did not all meet within ``run.rendezvous_timeout_s``."""


@dataclass(frozen=True)
class NodeSpec:
    """This process's node in a run started node by node (DeepSpeed's ``--no_ssh`` mode)."""

    nnodes: int = 1
    node_rank: int = 0
    master_addr: str | None = None
    master_port: int | None = None

    @property
    def multi(self) -> bool:
        return self.nnodes > 1

    def check(self, hostfile: str | None = None) -> NodeSpec:
        """Raise UsageError (exit 2) naming the option for an impossible combination; return self."""
        if self.nnodes < 1:
            raise UsageError(f"--nnodes {self.nnodes}: needs at least 1 node", hint="--nnodes 2 for two nodes")
        if not 0 <= self.node_rank < self.nnodes:
            raise UsageError(f"--node-rank {self.node_rank} is outside 0..{self.nnodes - 1} for --nnodes {self.nnodes}",
                             hint="number the nodes 0, 1, … N-1; node 0 hosts the rendezvous")
        if self.master_port is not None and not 1024 <= self.master_port <= 65535:
            raise UsageError(f"--master-port {self.master_port}: must lie in 1024..65535",
                             hint=f"e.g. --master-port {DEFAULT_MULTI_NODE_PORT}, the same on every node")
        if not self.multi:
            if self.master_addr:
                raise UsageError("--master-addr needs --nnodes 2 or more",
                                 hint="a single-node run rendezvous over loopback; drop --master-addr")
            return self
        if not self.master_addr:
            raise UsageError(f"--nnodes {self.nnodes} needs --master-addr (node 0's address, the same on every node)",
                             hint="appliance train --config R.yaml --nnodes 2 --node-rank K --master-addr 10.0.0.1")
        if not _HOST_RE.match(self.master_addr):
            raise UsageError(f"--master-addr {self.master_addr!r} is not a host name or IP address",
                             hint="give node 0's IP address as every node reaches it, e.g. 10.0.0.1")
        if hostfile:
            raise UsageError("give either run.hostfile (DeepSpeed starts every node over ssh) or --nnodes "
                             "(you start `appliance train` on each node), not both",
                             hint="drop run.hostfile (--set run.hostfile=null) or the --nnodes options")
        return self

    def port(self, recipe_port: int | None) -> int:
        return self.master_port or recipe_port or DEFAULT_MULTI_NODE_PORT


def node_dir(run_dir: Path, node: NodeSpec | None) -> Path:
    """Where this node keeps its own files: the run dir for node 0, ``nodes/node<K>/`` for the others."""
    if node is None or node.node_rank == 0:
        return run_dir
    d = run_dir / "nodes" / f"node{node.node_rank}"
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def write_hostfile(path: Path, nnodes: int, slots: int) -> Path:
    """The hostfile DeepSpeed's runner needs to size the world under ``--no_ssh`` (names are never dialled)."""
    from appliance._internal.atomic import atomic_write

    atomic_write(path, "".join(f"node{i} slots={slots}\n" for i in range(nnodes)))
    return path


# -- rank side --------------------------------------------------------------------------------------------


def _where() -> dict[str, str]:
    e = os.environ
    return {"rank": e.get("RANK", "?"), "world": e.get("WORLD_SIZE", "?"), "node": e.get("CROSS_RANK", "0"),
            "nnodes": e.get("CROSS_SIZE", "1"), "addr": e.get("MASTER_ADDR", "?"), "port": e.get("MASTER_PORT", "?")}


def rendezvous_error(timeout_s: float) -> RendezvousTimeout:
    w = _where()
    msg = (f"rendezvous did not complete within {timeout_s:g} s: rank {w['rank']} of {w['world']} "
           f"(node {w['node']} of {w['nnodes']}) waited for the other ranks at master {w['addr']}:{w['port']}")
    if int(w["nnodes"] or 1) > 1:
        hint = (f"start `appliance train --config R.yaml --nnodes {w['nnodes']} --node-rank K --master-addr "
                f"{w['addr']} --master-port {w['port']}` once on each node K = 0..{int(w['nnodes']) - 1} (this is "
                f"node {w['node']}), check that {w['addr']}:{w['port']} is reachable from every node (firewall; "
                "gloo and NCCL also open ports of their own), or raise run.rendezvous_timeout_s")
    else:
        hint = (f"the ranks of one node meet over loopback ({w['addr']}:{w['port']}): check that the loopback "
                "interface is up (ip link set lo up) and not firewalled, or raise run.rendezvous_timeout_s")
    return RendezvousTimeout(msg, hint=hint)


def report(err: ApplianceError) -> None:
    """Tell the parent (and the log) why this rank stops: ``rank<R>.json`` in the node's error dir."""
    print(f"error: {err.message}" + (f"\nhint: {err.hint}" if err.hint else ""), file=sys.stderr, flush=True)
    d = os.environ.get(ENV_ERROR_DIR)
    if not d:
        return
    from appliance._internal.atomic import atomic_write

    try:
        atomic_write(Path(d) / f"rank{os.environ.get('RANK', '0')}.json", json.dumps(err.to_dict()))
    except OSError:
        pass


class RendezvousWatchdog:
    """Ends this rank with a clear message if the ranks have not all met ``timeout_s`` after :meth:`arm`."""

    def __init__(self, timeout_s: float):
        self.timeout_s = float(timeout_s)
        self._met = threading.Event()

    def arm(self) -> RendezvousWatchdog:
        def wait() -> None:
            if not self._met.wait(self.timeout_s):
                report(rendezvous_error(self.timeout_s))
                os._exit(EXIT_RENDEZVOUS)

        threading.Thread(target=wait, daemon=True, name="rendezvous-watchdog").start()
        return self

    def disarm(self) -> None:
        self._met.set()


def fingerprint(plan: dict) -> dict:
    """What every rank of one run must agree on before the first step."""
    from appliance._internal.hashing import sha256_file

    tok = Path(plan["tokenizer_dir"]) / "tokenizer.json"
    return {
        "node": int(os.environ.get("CROSS_RANK", "0")),
        "resume_from": Path(plan["resume_from"]).name if plan.get("resume_from") else "none (fresh start)",
        "world_size": plan["world_size"],
        "data_manifest_sha256": plan["data_manifest_sha256"],
        "recipe_sha256": plan["recipe_sha256"],
        "tokenizer_sha256": sha256_file(tok) if tok.is_file() else None,
        "appliance_version": plan.get("appliance_version"),
    }


def disagreements(prints: list[dict]) -> list[str]:
    """One line per field the ranks disagree on, naming each node's value."""
    out = []
    for key in prints[0]:
        if key == "node":
            continue
        by_node: dict[int, object] = {}
        for p in prints:
            by_node.setdefault(p["node"], p.get(key))
        if len({json.dumps(p.get(key)) for p in prints}) > 1:
            out.append(f"{key}: " + ", ".join(f"node {n} {v}" for n, v in sorted(by_node.items())))
    return out


def _all_gather_json(obj: dict) -> list[dict]:
    """All-gather a JSON object from every rank (bytes in a tensor; nothing unpickled)."""
    import torch
    import torch.distributed as dist

    # NCCL carries only CUDA tensors; gloo CPU ones
    dev = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    data = json.dumps(obj, sort_keys=True).encode("utf-8")
    n = torch.tensor([len(data)], dtype=torch.int64, device=dev)
    dist.all_reduce(n, op=dist.ReduceOp.MAX)
    buf = torch.full((int(n.item()),), ord(" "), dtype=torch.uint8)
    buf[: len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    buf = buf.to(dev)
    out = [torch.empty_like(buf) for _ in range(dist.get_world_size())]
    dist.all_gather(out, buf)
    return [json.loads(bytes(t.cpu().tolist()).decode("utf-8")) for t in out]


def agree(plan: dict) -> None:
    """Refuse (PolicyRefused, on every rank) unless every rank starts from the same state."""
    problems = disagreements(_all_gather_json(fingerprint(plan)))
    if not problems:
        return
    resume = any(p.startswith("resume_from") for p in problems)
    what = "would resume from different checkpoints" if resume else "do not see the same run"
    raise PolicyRefused(
        f"the nodes {what}; no node trains",
        hint="every node must see the same appliance home at the same path (a shared filesystem, mounted on each "
             "node) and the same recipe; fix the mount, then start every node again with the same options "
             "(and --resume on every node, or on none)",
        details=problems)


# -- parent side ------------------------------------------------------------------------------------------


def clear_reports(err_dir: Path) -> None:
    err_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for f in err_dir.glob("rank*.json"):
        f.unlink(missing_ok=True)


def raise_reported(err_dir: Path) -> None:
    """Re-raise the first deliberate failure a local rank reported (if any)."""
    classes = {"RendezvousTimeout": RendezvousTimeout, "PolicyRefused": PolicyRefused}
    for f in sorted(err_dir.glob("rank*.json")):
        try:
            d = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        cls = classes.get(d.get("error"), ApplianceError)
        err = cls(str(d.get("message")), hint=d.get("hint"), details=[str(x) for x in d.get("details") or []])
        if cls is ApplianceError and isinstance(d.get("exit_code"), int):
            err.exit_code = d["exit_code"]
        raise err
