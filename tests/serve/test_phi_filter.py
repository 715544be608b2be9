"""`--phi-filter redact`: generations go through the scrubber before they leave; the audit entry counts what
was found, by type, and holds no value.  (``echo`` puts the prompt into the generated text, so the test
knows there is PHI in it; a GBNF grammar makes the model itself generate a given note, streamed.)"""

from __future__ import annotations

import json

import pytest

from tests.serve.conftest import LiveServer

pytestmark = [pytest.mark.llamacpp, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]
openai = pytest.importorskip("openai")
pytest.importorskip("llama_cpp")

NOTE = "Patient Margaret Thornbury, phone 617-555-0142, seen today."


def test_redact_scrubs_generations_and_counts_them(serve_site, api_key):
    from appliance.audit import read_entries

    home, _k, art, _pf = serve_site
    srv = LiveServer(home, art, "--phi-filter", "redact", "--max-tokens", "64")
    try:
        c = openai.OpenAI(base_url=srv.url + "/v1", api_key=api_key["key"], max_retries=0, timeout=60)
        r = c.completions.create(model="m", prompt=NOTE, max_tokens=4, echo=True)
        text = r.choices[0].text
        grammar = 'root ::= "' + NOTE + '"'
        forced = c.completions.create(model="m", prompt="Note:", max_tokens=64, extra_body={"grammar": grammar})
        chunks = [ch.choices[0].text for ch in c.completions.create(
            model="m", prompt="Note:", max_tokens=64, stream=True, extra_body={"grammar": grammar})]
        streamed = "".join(chunks)
    finally:
        rc, _o, err = srv.stop()
    assert rc == 0, err
    for out in (text, forced.choices[0].text, streamed):
        assert "Thornbury" not in out and "617-555-0142" not in out, out
    for out in (forced.choices[0].text, streamed):  # surrogates (drawn per request) replace the PHI, the rest stays
        assert out.startswith("Patient ") and out.endswith(", seen today.") and ", phone " in out, out
    entries = [e for e in read_entries(home, action="serve.request") if e["object"].get("phi")][-3:]
    assert len(entries) == 3 and all(e["object"]["phi"]["mode"] == "redact" for e in entries)
    for e in entries:  # echo, forced, forced + streamed: each found the name and the phone number
        phi = e["object"]["phi"]
        assert phi["entities"] >= 2 and {"NAME", "PHONE"} <= set(phi["by_type"]), phi
        assert "Thornbury" not in json.dumps(e)
