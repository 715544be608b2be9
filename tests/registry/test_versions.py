"""Registry versions: signed copies, tamper detection (also with openssl), champion moves, rollback."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess

import pytest

from appliance import registry
from appliance.errors import InputError, IntegrityError, PolicyRefused, UsageError
from appliance.registry import files


def _manifest(ids_train, ids_heldout):
    rows = [{"id": i, "sha256": "h" + i, "split": "train"} for i in ids_train]
    rows += [{"id": i, "sha256": "h" + i, "split": "heldout"} for i in ids_heldout]
    rows.sort(key=lambda r: r["id"])
    return {"version": 1, "heldout_fraction": 0.1, "records": rows,
            "counts": {"train": len(ids_train), "heldout": len(ids_heldout)}, "sha256": "m" + str(len(rows))}


def _fake_run(home, name, snapshot, manifest, registry_parent=None):
    run_dir = home.run_dir(name)
    shutil.copytree(snapshot, run_dir / "final")
    model = {"registry": registry_parent} if registry_parent else {"init": {"arch": "llama", "preset": "tiny"}}
    recipe = {"run": {"name": name}, "model": model, "train": {"lr": 3e-4}}
    return run_dir, recipe


def test_import_signs_and_openssl_verifies(home, keys, tiny_snapshot):
    v = registry.import_model(home, keys, tiny_snapshot)
    assert v == "v0001"
    d = home.model_dir(v)
    assert (d / "model.safetensors").is_file() and (d / files.MANIFEST).is_file()
    assert registry.verify_version(home, v)["ok"]
    # the signature is plain ECDSA P-256 over MANIFEST.json: openssl checks it without the appliance
    ok = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(d / files.PUBKEY), "-signature",
                         str(d / files.SIGNATURE), str(d / files.MANIFEST)], check=False, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    # idempotent: the same snapshot again is the same version
    assert registry.import_model(home, keys, tiny_snapshot) == v
    assert [r["version"] for r in registry.list_versions(home)] == [v]


def test_tamper_weights_and_manifest_detected(home, keys, tiny_snapshot):
    v = registry.import_model(home, keys, tiny_snapshot)
    d = home.model_dir(v)
    w = d / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 0x01
    w.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as e:
        registry.verify_version(home, v)
    assert any("model.safetensors: sha256 mismatch" in x for x in e.value.details)
    data[-1] ^= 0x01
    w.write_bytes(bytes(data))
    registry.verify_version(home, v)
    # edit the manifest to match a swapped file: the signature breaks (and openssl agrees)
    m = json.loads((d / files.MANIFEST).read_bytes())
    m["base_model"] = "import:something-else"
    (d / files.MANIFEST).write_bytes(json.dumps(m, sort_keys=True, separators=(",", ":")).encode())
    with pytest.raises(IntegrityError) as e:
        registry.verify_version(home, v)
    assert any("bad signature" in x for x in e.value.details)
    bad = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(d / files.PUBKEY), "-signature",
                          str(d / files.SIGNATURE), str(d / files.MANIFEST)], check=False, capture_output=True)
    assert bad.returncode != 0
    # an extra unsigned file is reported too
    (d / files.MANIFEST).unlink()
    with pytest.raises(IntegrityError):
        registry.verify_version(home, v)


def test_pickle_snapshot_refused(home, keys, tmp_path, tiny_snapshot):
    snap = tmp_path / "pickled"
    snap.mkdir()
    shutil.copy(tiny_snapshot / "config.json", snap / "config.json")
    (snap / "pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(InputError, match="no \\*.safetensors"):
        registry.import_model(home, keys, snap)


def test_register_run_lineage_trained_on_and_shred_flags(home, keys, tiny_snapshot):
    base = registry.import_model(home, keys, tiny_snapshot)
    m1 = _manifest(["a1", "a2", "a3"], ["a9"])
    run_dir, recipe = _fake_run(home, "r1", tiny_snapshot, m1)
    v1 = registry.register_run(home, keys, run_dir, run_dir / "final", m1, recipe)
    assert registry.register_run(home, keys, run_dir, run_dir / "final", m1, recipe) == v1  # resumed run ends twice
    m2 = _manifest(["b1", "b2", "a2"], ["b9"])
    run2, recipe2 = _fake_run(home, "r2", tiny_snapshot, m2, registry_parent=v1)
    v2 = registry.register_run(home, keys, run2, run2 / "final", m2, recipe2)
    info = registry.get(home, v2)
    assert info["parent"] == v1 and info["base_model"] == "init:llama/tiny" and base != v1
    lin = registry.lineage(home, v2)
    assert lin["train_record_ids"] == ["a2", "b1", "b2"]
    assert lin["heldout_record_ids"] == ["b9"]
    assert lin["ancestors"] == [{"version": v1, "train_records": 3}]
    assert any(e["action"] == "models.register" for e in lin["audit"])
    assert registry.data_manifest(home, v2) == m2
    t = registry.trained_on(home, record="a1")
    assert [r["version"] for r in t["direct"]] == [v1] and [r["version"] for r in t["inherited"]] == [v2]
    assert registry.trained_on(home, record="a9")["direct"] == []  # held-out is not trained on
    # shredding a1 flags v1 directly and v2 by inheritance; a version registered later inherits too
    res = registry.flag_shredded(home, ["a1", "zz"])
    assert res == {"direct": [v1], "inherited": [v2]}
    flags = {r["version"]: r["flags"] for r in registry.list_versions(home)}
    assert flags[v1]["trained_on_shredded"]["records"] == ["a1"]
    assert flags[v2]["inherits_shredded"]["ancestors"] == [v1]
    assert flags[base] == {}
    m3 = _manifest(["c1"], [])
    run3, recipe3 = _fake_run(home, "r3", tiny_snapshot, m3, registry_parent=v2)
    v3 = registry.register_run(home, keys, run3, run3 / "final", m3, recipe3)
    assert registry.get(home, v3)["flags"]["inherits_shredded"]["ancestors"] == [v1, v2]
    assert registry.tainted_versions(home) == {v1, v2, v3}


def test_promote_rollback_history(home, keys, tiny_snapshot):
    with pytest.raises(UsageError):
        registry.resolve(home, "champion")
    m = _manifest(["a"], [])
    versions = []
    for i in range(3):
        run_dir, recipe = _fake_run(home, f"run{i}", tiny_snapshot, m)
        # distinct contents per run (a run's identity is its files)
        (run_dir / "final" / "extra.json").write_text(json.dumps({"i": i}))
        versions.append(registry.register_run(home, keys, run_dir, run_dir / "final", m, recipe))
    v1, v2, v3 = versions
    with pytest.raises(PolicyRefused):
        registry.rollback(home, keys)  # nothing to roll back yet
    registry.promote(home, v1, keys)
    with pytest.raises(PolicyRefused):
        registry.rollback(home, keys)  # v1 replaced nothing
    assert registry.promote(home, v2, keys) == {"champion": v2, "previous": v1}
    registry.set_status(home, v3, "rejected", ["old-data perplexity regressed 40% (max 5%)"], keys)
    with pytest.raises(PolicyRefused) as e:
        registry.promote(home, v3, keys)
    assert "regressed" in e.value.details[0]
    assert registry.champion(home) == v2
    assert registry.resolve(home, "champion") == home.model_dir(v2)
    assert registry.rollback(home, keys) == {"champion": v1, "previous": v2}
    with pytest.raises(PolicyRefused):
        registry.rollback(home, keys)
    registry.promote(home, v3, keys, force=True)
    assert registry.rollback(home, keys)["champion"] == v1
    hist = registry.champion_history(home)
    assert [(h["action"], h["version"]) for h in hist] == [
        ("promote", v1), ("promote", v2), ("rollback", v1), ("promote", v3), ("rollback", v1)]
    # the pointer is one row; history and pointer agree
    conn = sqlite3.connect(home.registry_path)
    assert conn.execute("SELECT COUNT(*) FROM champion").fetchone()[0] == 1
    # tampered files cannot become the champion
    (home.model_dir(v2) / "config.json").write_text("{}")
    with pytest.raises(IntegrityError):
        registry.promote(home, v2, keys)
    assert registry.champion(home) == v1


def test_crash_leftovers_swept(home, keys, tiny_snapshot):
    home.models_dir.mkdir(exist_ok=True)
    (home.models_dir / ".staging-abc").mkdir()
    (home.models_dir / "v0001").mkdir()  # a rename that was never committed
    (home.models_dir / "v0001" / "junk").write_text("x")
    v = registry.import_model(home, keys, tiny_snapshot)
    assert v == "v0001" and not (home.model_dir(v) / "junk").exists()
    assert not (home.models_dir / ".staging-abc").exists()
    registry.verify_version(home, v)
