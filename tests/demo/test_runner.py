"""The stage table and the runner: every row resolves, the report comes last and lands in the workdir,
unknown stages are refused by name, and the stages use the subsystems' public names only."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from appliance import demo
from appliance.demo.table import STAGES

# Stages cheap enough for the unit suite; the full demo (training, export) runs in `make demo` / tests/e2e.
CHEAP = ["init", "audit", "report"]


def test_table_rows_resolve():
    names = [s.name for s in STAGES]
    assert len(set(names)) == len(names) and names == demo.stage_names()
    assert names[0] == "init" and names[-1] == "report", "init opens the demo, the report closes it"
    for stage in STAGES:
        assert callable(stage.load()), stage
        assert stage.shows


def test_stages_import_no_private_names():
    """No stage reaches into a subsystem's private names (``from x import _y`` or ``x._y``)."""
    def private(name: str) -> bool:
        return name.startswith("_") and not name.startswith("__")

    offenders = []
    for stage in STAGES:
        path = Path(importlib.import_module(stage.module).__file__)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                offenders += [f"{path.name}: from {node.module} import {a.name}" for a in node.names
                              if private(a.name)]
                if any(private(part) for part in (node.module or "").split(".")):
                    offenders.append(f"{path.name}: from {node.module}")
            elif isinstance(node, ast.Import):
                offenders += [f"{path.name}: import {a.name}" for a in node.names
                              if any(private(p) for p in a.name.split("."))]
            elif (isinstance(node, ast.Attribute) and private(node.attr)
                  and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "ctx"))):
                offenders.append(f"{path.name}: .{node.attr}")
    assert not offenders, offenders


def test_unknown_stage_is_refused_by_name(tmp_path):
    from appliance.errors import UsageError

    with pytest.raises(UsageError, match="unknown demo stage.*nope") as e:
        demo.run_demo(tmp_path / "demo", stages=["init", "nope"])
    assert "report" in e.value.hint  # the valid names are listed
    assert not (tmp_path / "demo").exists()  # refused before anything is created


def test_demo_ends_with_report(tmp_path):
    seen = []
    summary = demo.run_demo(tmp_path / "demo", stages=CHEAP, on_stage=lambda n, ev, _r: seen.append((n, ev)))
    assert list(summary["stages"]) == CHEAP
    assert seen == [(n, ev) for n in CHEAP for ev in ("start", "done")]
    res = summary["stages"]["report"]
    path = Path(summary["report"])
    assert path == Path(res["path"]) and path.is_file() and path.suffix == ".html"
    assert path.parent == tmp_path / "demo" / "out"  # the workdir, outside the home
    assert res["audit_verified"] is True and res["sections"]["integrity"] == "ok"
    assert res["entries"] > 0
    page = path.read_text()
    assert "Audit log intact" in page and "Latest signed checkpoint" in page
