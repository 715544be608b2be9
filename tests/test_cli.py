"""The CLI skeleton: version, fast help, exit codes, no traceback without APPLIANCE_DEBUG."""

from __future__ import annotations

import subprocess
import sys
import time

from appliance import __version__


def test_version(cli):
    p = cli("--version", check=True)
    assert p.stdout.strip() == f"appliance {__version__}"


def test_help_lists_subsystems_and_imports_nothing_heavy():
    code = (
        "import sys; from appliance.cli.main import app; "
        "heavy = [m for m in ('torch','deepspeed','transformers','presidio_analyzer','spacy','llama_cpp','onnx') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"heavy modules imported at CLI import time: {out}"


def test_help_is_fast(cli):
    cli("--help", check=True)  # warm the bytecode cache
    t0 = time.perf_counter()
    p = cli("--help", check=True)
    elapsed = time.perf_counter() - t0
    assert "init" in p.stdout
    # Not a performance assertion on the product's work, just the "under a second" start-up bound
    # with generous slack for a loaded 2-core CI box.
    assert elapsed < 3.0, elapsed


def test_usage_error_exit_2(cli):
    p = cli("no-such-command")
    assert p.returncode == 2


def test_config_errors_listed_at_once(home, cli):
    home.config_path.write_text('[audit]\ncheckpoint_every = 0\nbogus = 1\n[scrub]\nscore_threshold = "high"\n')
    p = cli("config", "check", home=home)
    assert p.returncode == 2
    assert p.stderr.count("  - ") == 3 and "3 problems found" in p.stderr, p.stderr
    import pytest

    from appliance.config import load_site_config
    from appliance.errors import ConfigError

    with pytest.raises(ConfigError) as ei:
        load_site_config(home.config_path)
    assert len(ei.value.problems) == 3, ei.value.problems
    joined = "\n".join(ei.value.problems)
    assert "audit.checkpoint_every" in joined and "audit.bogus" in joined and "scrub.score_threshold" in joined


def test_network_refused_inside_cli_process():
    code = (
        "from appliance._internal import netguard; netguard.install(); import socket\n"
        "try:\n    socket.create_connection(('192.0.2.1', 80), timeout=1)\nexcept ConnectionRefusedError as e:\n    print('refused', e)\n"
        "try:\n    socket.getaddrinfo('example.org', 443)\nexcept ConnectionRefusedError as e:\n    print('refused', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.count("refused appliance:") == 2, out
