"""No package-registry host name anywhere in the repository (an air-gapped product must not carry one).

Index addresses come from the staging host's pip configuration or a command-line option
(appliance/bundle/sources.py).  The names are assembled from parts here so that this file passes itself.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOSTS = [".".join(parts) for parts in (
    ("pypi", "org"), ("pythonhosted", "org"), ("pytorch", "org"), ("huggingface", "co"), ("hf", "co"),
    ("anaconda", "org"), ("anaconda", "com"), ("npmjs", "org"), ("npmjs", "com"), ("crates", "io"),
    ("rubygems", "org"), ("golang", "org"), ("pkg", "go", "dev"), ("pypi", "nvidia", "com"),
    ("ngc", "nvidia", "com"), ("debian", "org"), ("ubuntu", "com"), ("docker", "io"), ("ghcr", "io"),
)]
PATTERN = re.compile(r"(?<![\w.-])(?:[\w-]+\.)*(?:" + "|".join(map(re.escape, HOSTS)) + r")(?![\w-])", re.I)


def _tracked() -> list[Path]:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True).stdout
        return [REPO / p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):  # an exported tree without .git: walk it
        files = []
        for d, dirs, names in os.walk(REPO):
            dirs[:] = [x for x in dirs if x not in {".git", ".venv", "__pycache__", "node_modules"}]
            files += [Path(d) / n for n in names]
        return files


def test_pattern_finds_registry_hosts():
    assert PATTERN.search("index_url = 'https://" + HOSTS[0] + "/simple'")
    assert PATTERN.search("https://files." + HOSTS[1] + "/packages/x.whl")
    assert PATTERN.search("download." + HOSTS[2] + "/whl/cpu")
    assert not PATTERN.search("file:///opt/pypi/simple and pkg:pypi/torch@2.13.0 and registry.sqlite")


def test_no_registry_host_in_tracked_files():
    files = _tracked()
    assert len(files) > 100  # the walk really saw the repository
    hits = []
    for f in files:
        if not f.is_file():
            continue
        try:
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            m = PATTERN.search(line)
            if m:
                hits.append(f"{f.relative_to(REPO)}:{n}: {m.group(0)}")
    assert not hits, "package-registry host names in the repository:\n" + "\n".join(hits[:30])
