"""`appliance export gguf` is quiet by default: llama.cpp's quantizer/loader log, tqdm bars, transformers warnings
appear only with -v; the appliance's own result is printed either way."""

from __future__ import annotations

import json

import pytest

# Lines third-party code writes on its own (llama.cpp's loader and quantizer, tqdm, Python warnings, DeepSpeed).
THIRD_PARTY = ("llama_model_loader", "llama_model_quantize", "load_backend", "Loading weights", "it/s]",
               "FutureWarning", "UserWarning", "[WARNING]", "hostfile")


def _noise(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(m in line for m in THIRD_PARTY)]


@pytest.mark.llamacpp
def test_export_gguf_quiet_unless_verbose(tiny_models, site, site_passphrase_file, tmp_path, cli):
    pytest.importorskip("llama_cpp")
    home, _ = site
    model = tiny_models("llama")
    args = ["export", "gguf", "--model", str(model), "--type", "q4_k_m", "--passphrase-file", str(site_passphrase_file)]

    quiet = cli(*args, "-o", str(tmp_path / "quiet"), "--json", home=home)
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert json.loads(quiet.stdout)["parity"]["passed"] is True
    assert _noise(quiet.stdout + quiet.stderr) == [], _noise(quiet.stdout + quiet.stderr)[:10]

    loud = cli("-v", *args, "-o", str(tmp_path / "loud"), home=home)
    assert loud.returncode == 0, loud.stderr[-3000:]
    assert "llama_model_quantize" in loud.stderr  # llama.cpp's own quantizer log, shown on request
    assert "gguf written" in loud.stderr  # the appliance's own progress log at -v
    assert "parity" in loud.stdout and "passed" in loud.stdout  # the result table, as without -v
