"""Instruction tuning pieces: the assistant-only loss mask is exact (checked token by token against the template
rendering), other templates work or are refused with a reason, and rows leak no attention into each other."""

from __future__ import annotations

import numpy as np
import pytest

from appliance.errors import ConfigError, InputError
from appliance.train import chat
from appliance.train.data import InMemorySource, build_manifest
from appliance.train.recipe import critical_view, recipe_from_dict, recipe_to_dict
from appliance.vault.chat import dumps

CONV = [{"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Which ward treats asthma?"},
        {"role": "assistant", "content": "Ward north, bed 4."},
        {"role": "user", "content": "And a rash?"},
        {"role": "assistant", "content": "Ward east."}]
# A ChatML-style template (the Qwen family's layout), given as data.chat_template
CHATML = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    from appliance.train.tokenizer import train_bpe

    words = " ".join(m["content"] for m in CONV)
    texts = [f"{words} record {i}" for i in range(6)]
    t = train_bpe(texts, 400, tmp_path_factory.mktemp("tok"), min_records=2,
                  extra_special_tokens=(*chat.ROLE_TOKENS, "<|im_start|>", "<|im_end|>"))
    return t


def _spans(rendered: str, conv: list[dict], eot: str) -> list[tuple[int, int]]:
    """Character spans that must carry labels, found independently of chat.segments: each assistant content
    (searched in order after the previous one) plus the end-of-turn marker that follows it."""
    out, pos = [], 0
    for m in conv:
        at = rendered.index(m["content"], pos)
        pos = at + len(m["content"])
        if m["role"] == "assistant":
            assert rendered[pos: pos + len(eot)] == eot
            out.append((at, pos + len(eot)))
    return out


@pytest.mark.parametrize("template,eot", [(None, "<|eos|>"), (CHATML, "<|im_end|>")], ids=["default", "chatml"])
def test_loss_mask_is_exactly_the_answers_and_their_end_of_turn(tok, template, eot):
    tpl, _ = chat.resolve_template(tok, template)
    rendered = tok.apply_chat_template(CONV, chat_template=tpl, tokenize=False)
    ids, labels = chat.encode(tok, tpl, CONV)
    assert len(ids) == len(labels)
    # token by token: decode each token, walk the rendered text, compare with the independent spans
    spans = _spans(rendered, CONV, eot)
    pos = 0
    for i, (t, lab) in enumerate(zip(ids, labels)):
        piece = tok.decode([t])
        assert rendered.startswith(piece, pos), (i, piece, rendered[pos:pos + 20])
        inside = any(a <= pos and pos + len(piece) <= b for a, b in spans)
        straddles = any(a < pos + len(piece) and pos < b for a, b in spans) and not inside
        assert not straddles, (i, piece)
        assert (lab == t) if inside else (lab == chat.IGNORE), (i, piece, lab)
        pos += len(piece)
    assert pos == len(rendered)  # the ids are the whole rendering, nothing more
    # the supervised text is exactly the two answers, each with one end-of-turn marker, nothing of the headers
    runs, cur = [], []
    for t, lab in zip(ids, labels):
        if lab != chat.IGNORE:
            cur.append(t)
        elif cur:
            runs.append(tok.decode(cur))
            cur = []
    assert runs == ["Ward north, bed 4." + eot, "Ward east." + eot]


def test_templates_that_cannot_be_masked_exactly_are_refused(tok):
    upper = "{% for m in messages %}{{ m['role'] + ': ' + (m['content'] | upper) + eos_token }}{% endfor %}"
    with pytest.raises(ValueError, match="changes assistant contents"):
        chat.segments(tok, upper, CONV)
    no_end = "{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\\n' }}{% endfor %}"
    with pytest.raises(ValueError, match="no end-of-turn marker"):
        chat.segments(tok, no_end, CONV)


def _arrays(tok, convs: dict[str, list[dict]], seq_len: int = 48):
    src = InMemorySource({k: dumps(v) for k, v in convs.items()})
    manifest = build_manifest(src.list_records(), 0.0)
    return chat.prepare(tok, {"seq_len": seq_len, "chat_template": None}, src, manifest)


def test_records_that_are_not_conversations_are_named(tok):
    src = InMemorySource({"r-note": "Patient seen today, stable.", "r-ok": dumps(CONV)})
    with pytest.raises(InputError, match=r"record r-note is not a chat record .*not JSON") as e:
        chat.prepare(tok, {"seq_len": 64, "chat_template": None}, src, build_manifest(src.list_records(), 0.0))
    assert "--format chat" in e.value.hint


def test_long_conversations_are_truncated_or_dropped_and_counted(tok):
    long_q = [{"role": "user", "content": "Which ward treats asthma? " * 12}, {"role": "assistant", "content": "Ward east."}]
    arrays, stats = _arrays(tok, {"a": CONV, "b": long_q}, seq_len=24)
    assert stats == {"chat_examples": 1, "chat_truncated": 2, "chat_dropped": 1}
    assert arrays["train"].shape == (1, 24) and arrays["train_lengths"].tolist() == [24]


def test_rows_leak_no_attention_between_examples(tok):
    """No packing: B's logits are the same alone, after A, or after a different A' in the batch."""
    import torch
    from transformers import AutoModelForCausalLM

    from appliance.train.presets import build_config

    a = [{"role": "user", "content": "Which ward treats asthma? And a rash?"},
         {"role": "assistant", "content": "Ward north, bed 4. Ward east."}]
    a2 = [{"role": "user", "content": "And a rash?"}, {"role": "assistant", "content": "Ward east."}]
    b = CONV[1:3]
    arrays, _ = _arrays(tok, {"0a": a, "1b": b, "2a": a2})
    ex = chat.Examples(arrays, max_eval=8)
    bos, eos, pad = tok.bos_token_id, tok.eos_token_id, tok.pad_token_id
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(build_config("llama", "tiny", vocab_size=len(tok), max_positions=48,
                                                          bos_id=bos, eos_id=eos, pad_id=pad)).eval()
    n_b = int(arrays["train_lengths"][1])
    assert arrays["train_lengths"][0] > n_b  # A is longer: B is padded next to it
    with torch.no_grad():
        alone = model(**{k: v for k, v in ex.batch("train", [1], "cpu").items() if k != "labels"}).logits[0, :n_b]
        for other in (0, 2):
            batch = ex.batch("train", [other, 1], "cpu")
            assert batch["attention_mask"][1].sum() == n_b
            both = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[1, :n_b]
            torch.testing.assert_close(both, alone, rtol=0, atol=1e-5)
    # and the loss the trainer takes is over B's answer tokens only
    assert ex.supervised("train", [1]) == sum(x != chat.IGNORE for x in arrays["train_labels"][1][1:])


def test_recipe_chat_settings():
    base = {"run": {"name": "x"}, "model": {"init": {"arch": "llama"}}}
    with pytest.raises(ConfigError) as e:
        recipe_from_dict({**base, "data": {"chat_template": "{{ x }}"}})
    assert "data.chat_template needs data.format: chat" in "\n".join(e.value.details)
    text = critical_view(recipe_to_dict(recipe_from_dict(base)))
    assert "data.format" not in text and "data.chat_template" not in text  # old checkpoints still resume
    chat_view = critical_view(recipe_to_dict(recipe_from_dict({**base, "data": {"format": "chat"}})))
    assert chat_view["data.format"] == "chat"


def test_default_template_is_saved_with_the_run_tokenizer(tok, tmp_path):
    from appliance.train.tokenizer import load

    assert chat.resolve_template(tok, None)[1] == "the appliance's default chat template"
    src = InMemorySource({"a": dumps(CONV)})
    tok.save_pretrained(str(tmp_path))  # the run's tokenizer dir, as training wrote it
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    chat.prepare(tok, {"seq_len": 64, "chat_template": None}, src, build_manifest(src.list_records(), 0.0),
                 save_to=tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name in before} == before  # files kept
    assert (tmp_path / "chat_template.jinja").read_text() == chat.DEFAULT_TEMPLATE
    again = load(tmp_path)
    assert again.chat_template == chat.DEFAULT_TEMPLATE
    assert chat.resolve_template(again, None)[1] == "the base tokenizer's chat template"
    assert np.array_equal(chat.encode(again, again.chat_template, CONV)[1], chat.encode(tok, chat.DEFAULT_TEMPLATE, CONV)[1])


def test_dry_run_counts_conversations_and_their_real_tokens(tmp_path):
    from appliance.home import Home
    from appliance.train.dryrun import dry_run

    convs = {f"c{i}": dumps([{"role": "user", "content": f"Which ward treats case {i % 5}?"},
                             {"role": "assistant", "content": f"Ward {i % 3} treats it."}]) for i in range(30)}
    recipe = recipe_from_dict({"run": {"name": "dry-chat", "nproc": 2}, "model": {"init": {"arch": "llama"}},
                               "data": {"format": "chat", "seq_len": 64, "heldout_fraction": 0.0},
                               "tokenizer": {"min_records": 2}})
    res = dry_run(Home(tmp_path / "home"), recipe, source=InMemorySource(convs))
    assert res["samples"]["train"] == 30 and res["trained"] is False
    assert 30 * 8 < res["tokens"]["train"] < 30 * 64  # the conversations' own tokens, not the padded rows
