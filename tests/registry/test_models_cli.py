"""`appliance models …` through the real CLI: import, ls, show, verify (exit 3 on tamper), promote, rollback."""

from __future__ import annotations

import json


def test_models_cli_flow(home, passphrase_file, cli, tiny_snapshot):
    env = {"APPLIANCE_PASSPHRASE_FILE": str(passphrase_file)}
    proc = cli("models", "import", str(tiny_snapshot), "--name", "tiny-llama", "--json", home=home, env=env)
    assert proc.returncode == 0, proc.stderr
    v = json.loads(proc.stdout)["version"]
    rows = json.loads(cli("models", "ls", "--json", home=home).stdout)
    assert [(r["version"], r["kind"], r["base_model"], r["champion"]) for r in rows] == [
        (v, "imported", "import:tiny-llama", False)]
    # rollback with no history is refused by policy (exit 4); a missing version is a usage error (exit 2)
    assert cli("models", "rollback", home=home, env=env).returncode == 4
    assert cli("models", "promote", "v9999", home=home, env=env).returncode == 2
    assert cli("models", "trained-on", home=home).returncode == 2
    proc = cli("models", "promote", v, "--json", home=home, env=env)
    assert proc.returncode == 0 and json.loads(proc.stdout) == {"champion": v, "previous": None}
    show = json.loads(cli("models", "show", "champion", "--json", home=home).stdout)
    assert show["version"] == v and show["champion"] and show["status"] == "accepted"
    assert cli("models", "verify", "champion", home=home).returncode == 0
    w = home.model_dir(v) / "model.safetensors"
    w.write_bytes(w.read_bytes()[:-1] + b"\0")
    bad = cli("models", "verify", v, home=home)
    assert bad.returncode == 3 and "model.safetensors: sha256 mismatch" in bad.stderr
    from appliance.audit import read_entries

    actions = [e["action"] for e in read_entries(home, action="models") if e["action"] != "models.state"]
    assert actions[:2] == ["models.register", "models.promote"]
