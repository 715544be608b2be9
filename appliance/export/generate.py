"""Local inference from a signed GGUF artifact: verify first, then stream tokens from llama-cpp-python.

Verification runs before the model is loaded, on the same directory; nothing is loaded from an artifact
that fails it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from appliance.errors import UsageError
from appliance.home import Home


def generate(artifact: Path, prompt: str, public_keys: Mapping[str, Any], *, max_tokens: int = 64,
             temperature: float = 0.8, top_p: float = 0.95, seed: int = 0,
             home: Home | None = None) -> tuple[dict, Iterator[str]]:
    """Verify ``artifact`` and return ``(verify report, iterator of text pieces)``."""
    from appliance.export.verify import verify_artifact

    report = verify_artifact(Path(artifact), public_keys, home=home)
    if report["kind"] != "gguf":
        raise UsageError(f"generate runs GGUF artifacts; {artifact} is {report['kind']}",
                         hint="export a GGUF: appliance export gguf --model VERSION")
    if max_tokens < 1:
        raise UsageError("--max-tokens must be at least 1")
    return report, _stream(Path(artifact) / "model.gguf", prompt, max_tokens, temperature, top_p, seed)


def _stream(path: Path, prompt: str, max_tokens: int, temperature: float, top_p: float,
            seed: int) -> Iterator[str]:
    from appliance._internal.quiet import third_party_verbose
    from appliance.export.llama_runtime import context_length, llama_threads, prepare_text, require_llama_cpp

    llama_cpp = require_llama_cpp()
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=context_length(path), n_threads=llama_threads(),
                          verbose=third_party_verbose(), seed=seed)
    try:
        for chunk in llm.create_completion(prepare_text(llm, prompt), max_tokens=max_tokens,
                                           temperature=temperature, top_p=top_p,
                                           stream=True, seed=seed):
            text = chunk["choices"][0]["text"]
            if text:
                yield text
    finally:
        llm.close()

