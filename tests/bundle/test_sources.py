"""Bundle sources: indexes from pip config or options (none built in), a fast probe, per-wheel progress.

No real network: the unreachable indexes are a closed loopback port and a file:// path that does not exist;
the reachable one is an empty local directory.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from appliance.bundle.sources import pip_config_indexes, resolve_sources
from appliance.bundle.spec import load_spec
from appliance.errors import UsageError

from .conftest import REPO

CLOSED = "http://127.0.0.1:9/simple"  # the discard port: nothing listens on loopback


@pytest.fixture
def pip_env(monkeypatch):
    """This host's pip configuration replaced by PIP_* variables only (what `pip config list` shows)."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "file:///srv/site-mirror/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "http://127.0.0.1:9/a http://127.0.0.1:9/b")


def test_indexes_come_from_pip_config_or_options(pip_env, monkeypatch):
    assert pip_config_indexes() == ("file:///srv/site-mirror/simple", ("http://127.0.0.1:9/a", "http://127.0.0.1:9/b"))
    cpu = load_spec(REPO / "bundles" / "cpu.toml")
    assert cpu.index_url is None and cpu.extra_index_urls == ()  # the shipped spec names no index
    s = resolve_sources(cpu)
    assert s.index_url == "file:///srv/site-mirror/simple" and len(s.extra_index_urls) == 2
    assert "--extra-index-url" in s.source_args() and "--isolated" in s.source_args()
    assert resolve_sources(cpu, no_extra_index=True).extra_index_urls == ()
    s = resolve_sources(cpu, index_url="file:///mnt/m", extra_index_urls=["file:///mnt/x"])
    assert (s.index_url, s.extra_index_urls) == ("file:///mnt/m", ("file:///mnt/x",))
    # a spec that names its index names all its sources: the host's extras do not leak into the test bundle
    test = resolve_sources(load_spec(REPO / "bundles" / "test.toml"))
    assert test.index_url == "file:///opt/pypi/simple" and test.extra_index_urls == ()
    monkeypatch.delenv("PIP_INDEX_URL")
    with pytest.raises(UsageError, match="no package index") as e:
        resolve_sources(load_spec(REPO / "bundles" / "cuda.toml"))  # no find_links either
    assert "pip config set global.index-url" in e.value.hint


def _spec(tmp_path: Path, extra: str) -> Path:
    mirror = tmp_path / "mirror"
    mirror.mkdir(exist_ok=True)
    (tmp_path / "x.lock").write_text("tinyalpha==0.1.0 --hash=sha256:" + "a" * 64 + "\n")
    spec = tmp_path / "x.toml"
    spec.write_text(f'[bundle]\nname = "x"\nversion = "0.1.0"\n[target]\npython_version = "3.11"\n'
                    f'platforms = ["manylinux_2_36_x86_64"]\n[python]\nindex_url = "{mirror.as_uri()}"\n'
                    f'extra_index_urls = ["{extra}"]\nrequirements = ["tinyalpha"]\nlock = "x.lock"\n')
    return spec


@pytest.mark.parametrize("extra", [CLOSED, "file:///nonexistent/appliance-index/simple"])
def test_unreachable_extra_index_fails_fast_naming_it(tmp_path, cli, vendor, extra):
    spec, out = _spec(tmp_path, extra), tmp_path / "out"
    t0 = time.monotonic()
    r = cli("bundle", "build", "--spec", str(spec), "-o", str(out), "--vendor-key", str(vendor["key"]),
            "--installer-dir", str(vendor["installer"]))
    took = time.monotonic() - t0
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"extra package index {extra} is unreachable" in r.stderr and "--no-extra-index" in r.stderr
    assert not out.exists() and "downloading" not in r.stderr
    assert took < 120  # not pip's retries (15 s x 5 per wheel); generous for a loaded 2-core host

    # --no-extra-index: the probe passes and pip runs (the empty mirror has no such wheel; pip says which)
    r = cli("bundle", "build", "--spec", str(spec), "-o", str(out), "--vendor-key", str(vendor["key"]),
            "--installer-dir", str(vendor["installer"]), "--no-extra-index", "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "after 0 of 1 wheels" in r.stderr and "No matching distribution found for tinyalpha==0.1.0" in r.stderr
    assert extra not in r.stderr and not out.exists()


def test_download_reports_every_wheel(build_test_bundle, tmp_path):
    """A successful download from a local wheel directory: one progress line per locked wheel, in order."""
    import dataclasses

    from appliance.bundle.build import download_locked
    from appliance.bundle.spec import read_lock

    b = build_test_bundle("0.1.0")
    spec = dataclasses.replace(load_spec(REPO / "bundles" / "test.toml"), index_url="", extra_index_urls=(),
                               find_links=(b / "wheels",), lock=b / "requirements.lock")
    total = len(read_lock(spec.lock))
    lines: list[str] = []
    download_locked(spec, tmp_path / "w", sys.executable, total, lines.append)
    counted = [ln for ln in lines if ln.startswith("[") and "]   " not in ln]
    assert [ln.split("]")[0] for ln in counted] == [f"[{i}/{total}" for i in range(1, total + 1)]
    assert len(list((tmp_path / "w").glob("*.whl"))) == total
