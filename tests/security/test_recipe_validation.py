"""Attack (or accident): a recipe YAML with non-finite floats, out-of-range betas, absurd steps and seeds, plus
cross-field mistakes. `appliance train` must refuse it (exit 2) before any rank starts, listing every problem
in one report."""

from __future__ import annotations

import pytest

BASE = "run: {name: sec}\nmodel: {init: {arch: llama, preset: tiny}}\n"


def _train(cli, home, tmp_path, text):
    p = tmp_path / "r.yaml"
    p.write_text(text)
    return cli("train", "--config", str(p), home=home, timeout=120)


@pytest.mark.parametrize(("train", "field", "msg"), [
    ("{grad_clip: .inf}", "train.grad_clip", "finite number"),
    ("{lr: .nan}", "train.lr", "finite number"),
    ("{betas: [5, -3]}", "train.betas.0", "less than 1"),
    ("{betas: [0.9, -3]}", "train.betas.1", "greater than or equal to 0"),
    ("{max_steps: 1.0e+15}", "train.max_steps", "less than or equal to 10000000"),
    ("{max_steps: 1e15}", "train.max_steps", "valid integer"),
    ("{seed: -1}", "train.seed", "greater than or equal to 0"),
    ("{seed: 99999999999999}", "train.seed", "less than or equal to 4294967295"),
    ("{weight_decay: .inf}", "train.weight_decay", "finite number"),
])
def test_bad_field_refused(home, tmp_path, cli, train, field, msg):
    r = _train(cli, home, tmp_path, BASE + f"train: {train}\n")
    assert r.returncode == 2, r.stderr
    assert f"r.yaml: {field}: " in r.stderr and msg in r.stderr
    assert not (home.root / "runs" / "sec").exists()


def test_cross_field_errors_listed_with_field_errors(home, tmp_path, cli):
    text = "run: {name: sec}\nmodel: {}\ntrain: {grad_clip: .inf, betas: [5, -3], warmup_steps: 50, max_steps: 10}\n"
    r = _train(cli, home, tmp_path, text)
    assert r.returncode == 2, r.stderr
    err = r.stderr
    assert "5 problems found" in err
    for needle in ("model: Value error, give exactly one of model.init, model.path, model.registry",
                   "train: Value error, warmup_steps must be smaller than max_steps",
                   "train.grad_clip: Input should be a finite number", "train.betas.0", "train.betas.1"):
        assert needle in err, err


def test_cross_field_error_alone_listed_once(home, tmp_path, cli):
    r = _train(cli, home, tmp_path, BASE + "train: {warmup_steps: 50, max_steps: 10}\n")
    assert r.returncode == 2
    assert r.stderr.count("warmup_steps must be smaller than max_steps") == 1 and "1 problem found" in r.stderr
