"""Fast tests of the pieces: recipe validation, split, sampler, schedules, checkpoint selection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.errors import ConfigError
from appliance.train import checkpoint as ckpt
from appliance.train.data import GlobalSampler, InMemorySource, build_manifest, is_heldout, pack, rank_slice
from appliance.train.recipe import critical_view, diff_critical, load_recipe, recipe_to_dict
from appliance.train.schedule import lr_multiplier

RECIPES = Path(__file__).resolve().parents[2] / "appliance" / "recipes"


@pytest.mark.parametrize("path", sorted(RECIPES.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_recipes_validate(path):
    load_recipe(path)


def test_recipe_reports_every_problem_at_once(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("run: {name: x}\nmodel: {init: {arch: gpt2}}\ntrain: {lr: -1, shedule: cosine}\nevil: 1\n")
    with pytest.raises(ConfigError) as e:
        load_recipe(p, ["data.seq_len=2"])
    text = "\n".join(e.value.details)
    for needle in ("model.init.arch", "train.lr", "train.shedule: unknown key", "evil: unknown key", "data.seq_len"):
        assert needle in text, text
    assert len(e.value.details) == 5


def test_overrides_are_typed(tmp_path):
    r = load_recipe(RECIPES / "tiny_llama_full.yaml", ["train.lr=1e-4", "run.nproc=1", "train.lora={r: 4}"])
    assert r.train.lr == 1e-4 and r.run.nproc == 1 and r.train.lora.r == 4


def test_model_needs_exactly_one_source(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("run: {name: x}\nmodel: {init: {arch: llama}, path: /m}\n")
    with pytest.raises(ConfigError, match="1 problem"):
        load_recipe(p)


def test_critical_diff_lists_changes():
    a = recipe_to_dict(load_recipe(RECIPES / "tiny_llama_full.yaml"))
    b = recipe_to_dict(load_recipe(RECIPES / "tiny_llama_full.yaml", ["train.max_steps=99", "eval.every=3"]))
    assert diff_critical(critical_view(a), critical_view(b)) == [("train.max_steps", 40, 99)]


def test_heldout_split_is_stable_when_records_arrive():
    old = InMemorySource({f"r{i}": f"text {i}" for i in range(500)})
    new = InMemorySource({f"r{i}": f"text {i}" for i in range(800)})
    m_old, m_new = build_manifest(old.list_records(), 0.1), build_manifest(new.list_records(), 0.1)
    split_new = {r["id"]: r["split"] for r in m_new["records"]}
    assert all(split_new[r["id"]] == r["split"] for r in m_old["records"])
    assert 0.05 < m_new["counts"]["heldout"] / 800 < 0.15
    assert m_old["sha256"] != m_new["sha256"]
    assert is_heldout("r1", 0.0) is False


def test_pack_uses_eos_separators():
    out = pack([[1, 2, 3], [4, 5]], eos_id=0, seq_len=3)
    assert out.tolist() == [[1, 2, 3], [0, 4, 5]]  # the tail EOS is dropped


def test_sampler_is_a_pure_function_of_the_global_index():
    s = GlobalSampler(10, seed=5)
    first = [s[g] for g in range(30)]
    assert sorted(first[:10]) == list(range(10)) and sorted(first[10:20]) == list(range(10))
    assert first[:10] != first[10:20]  # a new order each epoch
    assert GlobalSampler(10, seed=5)[27] == first[27]  # constant-time "resume" at any index


def test_samples_per_step_do_not_depend_on_rank_count():
    def step_set(world, micro_batch, accum, step):
        return sorted(g for m in range(accum) for r in range(world)
                      for g in rank_slice(step, m, r, micro_batch=micro_batch, grad_accum=accum, world=world))

    for step in range(4):
        assert step_set(2, 2, 2, step) == step_set(4, 2, 1, step) == step_set(1, 2, 4, step)


@pytest.mark.parametrize("schedule", ["cosine", "linear", "wsd", "constant"])
def test_schedules(schedule):
    kw = {"schedule": schedule, "max_steps": 100, "warmup_steps": 10, "min_lr_ratio": 0.1}
    assert lr_multiplier(0, **kw) == pytest.approx(0.1)
    assert lr_multiplier(9, **kw) == pytest.approx(1.0)
    end = lr_multiplier(100, **kw)
    assert end == pytest.approx(1.0 if schedule == "constant" else 0.1)
    if schedule == "wsd":
        assert lr_multiplier(70, **kw) == 1.0


def _fake_checkpoint(root: Path, step: int) -> Path:
    staging = ckpt.staging_path(root, step)
    (staging / "ds").mkdir(parents=True)
    (staging / "ds" / "shard.pt").write_bytes(b"x" * 100 + bytes([step]))
    (staging / "trainer_state.json").write_text(json.dumps({"step": step}))
    return ckpt.commit(root, step, {"world_size": 2}, keep_last=5)


def test_half_written_or_damaged_checkpoints_are_never_chosen(tmp_path):
    root = tmp_path / "checkpoints"
    root.mkdir()
    for s in (1, 2, 3):
        _fake_checkpoint(root, s)
    assert ckpt.find_resumable(root)[0].name == "step_00000003"
    # step 3: a shard truncated after commit (disk trouble) → skipped
    (root / "step_00000003" / "ds" / "shard.pt").write_bytes(b"x")
    # step 4: renamed into place without a manifest (cannot happen by our protocol, but never trust it)
    (root / "step_00000004" / "ds").mkdir(parents=True)
    # step 5: abandoned staging dir
    (ckpt.staging_path(root, 5) / "ds").mkdir(parents=True)
    (root / "LATEST").write_text("step_00000004\n")
    path, manifest = ckpt.find_resumable(root)
    assert path.name == "step_00000002" and manifest["step"] == 2
    assert ckpt.sweep(root) == [".staging-step_00000005"]


def test_keep_last_deletes_only_after_commit(tmp_path):
    root = tmp_path / "checkpoints"
    root.mkdir()
    _fake_checkpoint(root, 1)
    staging = ckpt.staging_path(root, 2)
    (staging / "ds").mkdir(parents=True)
    (staging / "ds" / "shard.pt").write_bytes(b"y")
    # a save in progress: the old checkpoint is still there and still chosen
    assert [p.name for _, p in ckpt.committed(root)] == ["step_00000001"]
    assert ckpt.find_resumable(root)[0].name == "step_00000001"
    ckpt.commit(root, 2, {}, keep_last=1)
    assert [p.name for _, p in ckpt.committed(root)] == ["step_00000002"]
    assert (root / "LATEST").read_text().strip() == "step_00000002"


def test_resume_refuses_when_no_checkpoint_verifies(tmp_path):
    from appliance.errors import IntegrityError, PolicyRefused
    from appliance.home import Home
    from appliance.train import train
    from appliance.train.recipe import recipe_from_dict

    home = Home(tmp_path / "home")
    root = home.run_dir("r") / "checkpoints"
    root.mkdir(parents=True)
    _fake_checkpoint(root, 3)
    (root / "step_00000003" / "ds" / "shard.pt").write_bytes(b"damaged")
    recipe = recipe_from_dict({"run": {"name": "r"}, "model": {"init": {"arch": "llama"}}})
    src = InMemorySource({"a": "some text"})
    with pytest.raises(IntegrityError, match="verifies"):
        train(home, recipe, source=src, resume=True, audit=False)
    with pytest.raises(PolicyRefused, match="already has checkpoints"):
        train(home, recipe, source=src, resume=False, audit=False)
