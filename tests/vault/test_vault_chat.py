"""Chat records (`vault ingest --format chat`): conversations scrubbed message by message with one surrogate
scope per conversation, roles kept, stored as canonical JSON; bad lines named by file, line and field."""

from __future__ import annotations

import json

from appliance.vault.chat import loads


def _lines(path, objs) -> None:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs))


def test_conversations_are_scrubbed_per_message_with_one_scope(vault, scrubber, tmp_path):
    f = tmp_path / "chats.jsonl"
    _lines(f, [
        {"messages": [{"role": "system", "content": "You are a  ward assistant."},
                      {"role": "user", "content": "Patient John Carter reports chest pain since Monday. Next step?"},
                      {"role": "assistant", "content": "Patient John Carter should have an ECG and troponin now."}]},
        {"prompt": "Summarise: Mary Johnson was admitted with pneumonia and started on antibiotics.",
         "response": "Mary Johnson: pneumonia, on antibiotics, stable overnight."},
    ])
    rep = vault.ingest([f], "qa", scrubber=scrubber, record_format="chat")
    assert not rep.failed and rep.kept == 2, rep.to_dict()
    assert rep.phi_found.get("NAME", 0) >= 4, rep.phi_found
    convs = sorted((loads(vault.read_text(r)) for r in rep.record_ids), key=len)
    assert [m["role"] for m in convs[0]] == ["user", "assistant"]
    assert [m["role"] for m in convs[1]] == ["system", "user", "assistant"]
    assert convs[1][0]["content"] == "You are a ward assistant."  # normalised like a note
    stored = json.dumps(convs)
    for name in ("John Carter", "Mary Johnson", "Carter", "Johnson"):
        assert name not in stored, stored
    # one conversation, one scope: the question's and the answer's surrogate are the same name
    user, answer = convs[1][1]["content"], convs[1][2]["content"]
    asked = user.removeprefix("Patient ").split(" reports")[0]
    told = answer.removeprefix("Patient ").split(" should")[0]
    assert asked == told and asked, (user, answer)
    first, second = convs[0][0]["content"], convs[0][1]["content"]
    named = second.split(":")[0]
    assert f"{named} was admitted" in first, (first, second)


def test_bad_chat_lines_name_file_line_and_field(vault, scrubber, tmp_path):
    good = {"messages": [{"role": "user", "content": "Which ward treats asthma today?"},
                         {"role": "assistant", "content": "The respiratory ward treats asthma."}]}
    role = tmp_path / "role.jsonl"
    _lines(role, [good, {"messages": [{"role": "user", "content": "hi there"}, {"role": "doctor", "content": "x"}]}])
    half = tmp_path / "half.jsonl"
    _lines(half, [{"prompt": "Which ward treats asthma today?"}])
    none = tmp_path / "none.jsonl"
    _lines(none, [{"messages": [{"role": "user", "content": "Only a question, no answer here?"}]}])
    notes = tmp_path / "notes.csv"
    notes.write_text("text\nsome note\n")
    rep = vault.ingest([role, half, none, notes], "bad", scrubber=scrubber, record_format="chat")
    errors = {e["path"].rsplit("/", 1)[-1]: e["error"] for e in rep.errors}
    assert errors["role.jsonl"].startswith("line 2: messages[1].role: 'doctor' is not one of system, user, "
                                           "assistant"), errors
    assert errors["half.jsonl"].startswith("line 1: response: expected a string"), errors
    assert errors["none.jsonl"].startswith("line 1: messages: no 'assistant' message"), errors
    assert ".jsonl files only" in errors["notes.csv"], errors
    assert rep.kept == 0 and rep.records_in == 0  # a file is all or nothing: role.jsonl's good line is not kept
