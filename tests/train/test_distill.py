"""Distillation: forward KL on the frozen teacher's softened logits mixed with CE, on real DeepSpeed ranks.

The teacher is the session's reference run (tiny llama trained 8 steps).  Two students start from the same
random init (a saved HF dir carrying the teacher's tokenizer) and train on the same data for the same steps,
one distilled and one CE-only, concurrently; a third run distils into a LoRA student under ZeRO-3, built
from ``model.init`` (so it adopts the teacher's tokenizer).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from harness import corpus
from train_helpers import base_recipe, finish, start

from appliance._internal.hashing import sha256_tree
from appliance.errors import ConfigError, UsageError
from appliance.home import Home
from appliance.train import InMemorySource, train
from appliance.train import tokenizer as tokmod
from appliance.train.distill import kd_loss, weights_digest
from appliance.train.dryrun import dry_run
from appliance.train.presets import build_config
from appliance.train.recipe import critical_view, diff_critical, recipe_from_dict, recipe_to_dict

STEPS = 8


def _recipe(name: str, init: Path, teacher: Path | None, **train_over) -> dict:
    r = base_recipe(name, model={"path": str(init)}, train={**base_recipe("x")["train"], "max_steps": STEPS,
                                                            **train_over},
                    checkpoint={"every": STEPS, "keep_last": 1}, eval={"every": None})
    if teacher is not None:
        r["distill"] = {"teacher": str(teacher), "temperature": 2.0, "alpha": 0.9}
    return r


def _random_model_dir(path: Path, tok, seed: int, config=None) -> Path:
    """A randomly initialised tiny llama saved as an HF dir with ``tok``: a student's (or teacher's) start."""
    import torch
    from transformers import AutoModelForCausalLM

    bos, eos, pad = tokmod.special_ids(tok)
    config = config or build_config("llama", "tiny", vocab_size=len(tok), max_positions=32, bos_id=bos,
                                    eos_id=eos, pad_id=pad)
    torch.manual_seed(seed)
    AutoModelForCausalLM.from_config(config).save_pretrained(str(path), safe_serialization=True)
    tok.save_pretrained(str(path))
    return path


@pytest.fixture(scope="module")
def students(train_tmp, reference):
    """(teacher dir, its file hashes before, student init dir, {name: (rc, result, stderr)})."""
    from transformers import AutoConfig

    teacher = Path(reference[1]["final_model"])
    before = sha256_tree(teacher)
    root = train_tmp / "distill"
    root.mkdir()
    init = _random_model_dir(root / "student-init", tokmod.load(teacher), seed=99,
                             config=AutoConfig.from_pretrained(str(teacher)))
    home = root / "home"
    procs = {
        "kd": start(home, _recipe("kd", init, teacher)),
        "ce": start(home, _recipe("ce", init, None)),
        # a student from model.init (adopting the teacher's tokenizer), LoRA, ZeRO-3
        "kd-lora-z3": start(home, {**_recipe("kd-lora-z3", init, teacher, max_steps=3, zero_stage=3, warmup_steps=1,
                                             lora={"r": 4, "alpha": 8, "dropout": 0.0}),
                                   "model": {"init": {"arch": "llama", "preset": "tiny"}}}),
    }
    runs = {name: finish(p) for name, p in procs.items()}
    for name, (rc, _res, err) in runs.items():
        assert rc == 0, f"{name}: {err[-4000:]}"
    return teacher, before, init, home, {k: v[1] for k, v in runs.items()}


def _heldout_kl(teacher: Path, student: Path) -> float:
    """Mean KL(teacher || student) per next-token position on notes no run trained on (T = 1)."""
    import torch
    from transformers import AutoModelForCausalLM

    tok = tokmod.load(teacher)
    ids: list[int] = []
    for text in corpus(40, seed=11).values():
        ids += tokmod.encoder(tok)(text) + [tok.eos_token_id]
    x = torch.tensor(ids[: len(ids) // 32 * 32]).view(-1, 32)
    with torch.no_grad():
        lt = torch.log_softmax(AutoModelForCausalLM.from_pretrained(str(teacher)).eval()(input_ids=x).logits, -1)
        ls = torch.log_softmax(AutoModelForCausalLM.from_pretrained(str(student)).eval()(input_ids=x).logits, -1)
    return float((lt.exp() * (lt - ls)).sum(-1).mean())


def test_distilled_student_is_closer_to_the_teacher(students):
    teacher, _before, init, _home, res = students
    kd, ce = _heldout_kl(teacher, Path(res["kd"]["final_model"])), _heldout_kl(teacher, Path(res["ce"]["final_model"]))
    start_kl = _heldout_kl(teacher, init)
    print(f"held-out KL to the teacher: init {start_kl:.4f}, CE-only {ce:.4f}, distilled {kd:.4f} "
          f"(ratio {kd / ce:.3f})")
    assert kd < 0.9 * ce < 0.9 * start_kl, (kd, ce, start_kl)


def test_teacher_frozen_outside_optimizer_and_checkpoints_and_recorded(students):
    import torch
    from transformers import AutoModelForCausalLM

    from appliance.audit import read_entries

    teacher, before, init, home, res = students
    assert sha256_tree(teacher) == before  # the teacher's files
    fresh = weights_digest(AutoModelForCausalLM.from_pretrained(str(teacher)))
    for name in ("kd", "kd-lora-z3"):
        d = res[name]["distill"]
        # in memory on the rank: bit-identical at the end of training to a fresh load of the teacher
        assert d["teacher_digest_at_load"] == d["teacher_digest_at_end"] == fresh, name
        assert d["teacher_trainable_params"] == 0 and math.isfinite(d["train_kl_mean"]) and d["train_kl_mean"] > 0
        assert math.isfinite(res[name]["final_loss"]) and Path(res[name]["final_model"], "model.safetensors").is_file()
    assert res["ce"]["distill"] is None
    adopted = tokmod.load(Path(res["kd-lora-z3"]["final_model"]))
    assert adopted.get_vocab() == tokmod.load(teacher).get_vocab()
    # the optimizer and the checkpoint hold the student's parameters only (teacher and student have the same
    # shape here, so a teacher inside would double the count)
    student_params = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(str(init)).parameters())
    states = torch.load(Path(res["kd"]["run_dir"]) / "checkpoints" / f"step_{STEPS:08d}" / "ds" /
                        "mp_rank_00_model_states.pt", map_location="cpu", weights_only=False)
    assert sum(math.prod(s) for group in states["param_shapes"] for s in group.values()) == student_params
    assert sum(v.numel() for v in states["module"].values()) == student_params
    # recorded: final/distill.json (registered with the model), the run result and the train.start audit entry
    identity = {"kind": "path", "path": str(teacher.resolve())}
    rec = json.loads(Path(res["kd"]["final_model"], "distill.json").read_text())
    assert rec["temperature"] == 2.0 and rec["alpha"] == 0.9 and identity.items() <= rec["teacher"].items()
    assert len(rec["teacher"]["sha256"]) == 64
    starts = {e["object"]["run"]: e["object"] for e in read_entries(Home(home), action="train.start")}
    assert starts["kd"]["distill"] == rec and "distill" not in starts["ce"]


def test_kd_loss_is_forward_kl_on_unmasked_positions():
    import torch

    torch.manual_seed(0)
    s, t = torch.randn(2, 5, 7), torch.randn(2, 5, 9)  # the teacher's embedding padded past the vocabulary
    labels = torch.randint(0, 7, (2, 5))
    labels[0, 2:] = -100  # masked (a chat prompt): positions predicting these tokens do not count
    ce = torch.tensor(3.0)
    loss, kl = kd_loss(s, t, labels, ce, temperature=2.0, alpha=0.75)
    pt = torch.softmax(t[..., :7] / 2.0, -1)
    per = (pt * (pt.log() - torch.log_softmax(s / 2.0, -1))).sum(-1)[:, :-1]
    keep = labels[:, 1:] != -100
    assert torch.allclose(kl, per[keep].mean()) and keep.sum() == 5
    assert torch.allclose(loss, 0.75 * 4.0 * kl + 0.25 * ce)
    same, kl0 = kd_loss(s, torch.cat([s, torch.zeros(2, 5, 2)], -1), labels, ce, 1.0, 0.0)
    assert torch.allclose(kl0, torch.zeros(())) and torch.allclose(same, ce)


def test_distill_section_reports_every_problem_by_field():
    with pytest.raises(ConfigError) as e:
        recipe_from_dict(base_recipe("x", distill={"teacher": "", "temperature": 0, "alpha": 1.5, "beta": 1}))
    text = "\n".join(e.value.details)
    for needle in ("distill.teacher", "distill.temperature", "distill.alpha", "distill.beta: unknown key"):
        assert needle in text, text
    with pytest.raises(ConfigError, match="1 problem") as e:
        recipe_from_dict(base_recipe("x", distill={"teacher": "/t", "temperature": float("inf")}))
    assert "distill.temperature" in e.value.details[0]
    ok = recipe_from_dict(base_recipe("x", distill={"teacher": "v0003"}))
    assert (ok.distill.temperature, ok.distill.alpha) == (2.0, 0.5)
    # a resume that swaps the teacher or its T/alpha is a resume-critical change (refused unless allowed)
    other = recipe_from_dict(base_recipe("x", distill={"teacher": "v0003", "alpha": 0.7}))
    assert diff_critical(critical_view(recipe_to_dict(ok)), critical_view(recipe_to_dict(other))) == [
        ("distill", recipe_to_dict(ok)["distill"], recipe_to_dict(other)["distill"])]


def test_tokenizer_mismatch_refused_before_training(tmp_path):
    texts = list(corpus(60).values())
    tok_a = tokmod.train_bpe(texts, 300, tmp_path / "tok-a", min_records=2)
    tok_b = tokmod.train_bpe([t.replace("e", "é") for t in texts], 300, tmp_path / "tok-b", min_records=2)
    teacher = _random_model_dir(tmp_path / "teacher", tok_a, seed=1)
    student = _random_model_dir(tmp_path / "student", tok_b, seed=2)
    home = Home(tmp_path / "home")
    source = InMemorySource(corpus(40))
    recipe = recipe_from_dict(_recipe("mismatch", student, teacher))
    def model_dir(r):
        return Path(r.model.path)

    for attempt in (lambda: dry_run(home, recipe, source=source, resolve_model_dir=model_dir),
                    lambda: train(home, recipe, source=source, audit=False, progress=False)):
        with pytest.raises(UsageError) as e:
            attempt()
        msg = e.value.message
        assert e.value.exit_code == 2 and str(teacher) in msg and str(student) in msg and "token '" in msg, msg
    run_dir = home.run_dir("mismatch")
    assert not (run_dir / "plan.json").exists() and not list((run_dir / "checkpoints").iterdir())

    # the same tokenizer saved again (other file bytes) is accepted; the dry run reports the teacher
    tok_a.save_pretrained(str(student))
    rep = dry_run(home, recipe, source=source, resolve_model_dir=model_dir)
    assert rep["distill"]["params"] > 10_000 and rep["distill"]["alpha"] == 0.9
    mem = rep["memory"]
    assert mem["teacher_bytes_per_device"] == 4 * rep["distill"]["params"]
    # a student from model.init adopts the teacher's tokenizer instead of training its own
    init = recipe_from_dict(base_recipe("adopt", distill={"teacher": str(teacher)}))
    assert dry_run(home, init, source=source)["tokenizer_vocab"] == len(tok_a)
    missing = recipe_from_dict(base_recipe("gone", distill={"teacher": str(tmp_path / "nope")}))
    with pytest.raises(Exception, match="distill.teacher: teacher directory .*nope does not exist"):
        dry_run(home, missing, source=source)


def test_registry_version_teacher_is_verified_and_identified(home, keys, tmp_path):
    from appliance import registry
    from appliance.errors import IntegrityError
    from appliance.train.distill import resolve_teacher
    from appliance.train.recipe import DistillSection

    tok = tokmod.train_bpe(list(corpus(60).values()), 300, tmp_path / "tok", min_records=2)
    version = registry.import_model(home, keys, _random_model_dir(tmp_path / "teacher", tok, seed=3), name="t")
    t = resolve_teacher(home, DistillSection(teacher=version, temperature=1.5, alpha=0.25))
    assert t.identity == {"kind": "registry", "version": version,
                          "manifest_sha256": registry.get(home, version)["manifest_sha256"]}
    assert t.path == home.model_dir(version) and t.audit_entry()["alpha"] == 0.25
    with pytest.raises(UsageError, match="distill.teacher: no model version 'v0999'"):
        resolve_teacher(home, DistillSection(teacher="v0999"))
    weights = home.model_dir(version) / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # an insider edits the registered teacher: it is refused, not distilled from
    weights.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        resolve_teacher(home, DistillSection(teacher=version))
