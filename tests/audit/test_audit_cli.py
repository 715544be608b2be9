"""`appliance audit note/show/tail` through the real CLI; periodic checkpoints."""

from __future__ import annotations

import json

from appliance.audit import checkpoint, read_entries, record, verify
from appliance.audit.checkpoint import list_checkpoints
from appliance.keys import public_keys


def test_note_show_tail(cli, home, passphrase_file):
    p = cli("audit", "note", "quarterly review done", "--json", home=home)
    assert p.returncode == 0, p.stderr
    note = json.loads(p.stdout)
    assert note["action"] == "audit.note" and note["object"] == {"text": "quarterly review done"}
    assert cli("audit", "note", "with key", "--passphrase-file", str(passphrase_file), home=home).returncode == 0
    p = cli("audit", "show", "--action", "audit", "--json", home=home)
    shown = json.loads(p.stdout)
    assert [e["object"]["text"] for e in shown] == ["quarterly review done", "with key"]
    p = cli("audit", "tail", "-n", "2", home=home, env={"COLUMNS": "200"})  # the Rich table
    assert p.returncode == 0 and "audit.note" in p.stdout and "with key" in p.stdout and "2 entries" in p.stdout
    assert [e["action"] for e in read_entries(home, actor=note["actor"])][-2:] == ["keys.unlock", "audit.note"]


def test_periodic_checkpoints_follow_config(home, keys):
    home.config_path.write_text("[audit]\ncheckpoint_every = 5\n")
    for i in range(12):
        record(home, "test.tick", {"i": i}, signer=keys.signer)
    sizes = [s for s, _ in list_checkpoints(home.checkpoints_dir)]
    n = len(list(read_entries(home)))
    assert sizes == [5, 10] and n == 13  # keys.unlock + 12 ticks
    for i in range(3):
        record(home, "test.tick", {"i": i})  # no signer: no checkpoint
    assert [s for s, _ in list_checkpoints(home.checkpoints_dir)] == [5, 10]
    path = checkpoint(home, keys.signer)
    assert path.name == "16.note"
    assert len(verify(home, public_keys=public_keys(home)).checkpoints) == 3


def test_origin_from_config(home, keys):
    home.config_path.write_text('[site]\nname = "st-elsewhere"\n')
    text = checkpoint(home, keys.signer).read_text()
    assert text.startswith("appliance/st-elsewhere\n")
    home.config_path.write_text('[audit]\norigin = "hospital.example/audit"\n')
    assert checkpoint(home, keys.signer).read_text().startswith("hospital.example/audit\n")


def test_record_never_creates_a_home(tmp_path):
    import pytest

    from appliance.errors import NotInitialized
    from appliance.home import Home

    with pytest.raises(NotInitialized):
        record(Home(tmp_path / "missing"), "test.x")
    assert not (tmp_path / "missing").exists()
