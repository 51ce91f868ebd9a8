"""Tests for converter.ledger.ledger against an independent model of its rules: random transition
sequences, on single documents and on groups sent together as one batch (ledger_batches), must
read back as one row per document would; plus how a batch is stored and old ledgers migrated."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_helpers import OCODE, doc, ledger_fixture, new_ledger, path_fixture, statuses  # noqa: F401 (fixtures)

from converter.errors import LedgerError
from converter.ledger.ledger import STATUS_LABELS, Answers, DocumentInfo, Ledger
from converter.ledger.numbering import ID_SPAN

LEGAL = {  # independent statement of the rules: operation → (allowed from, status after)
    "send": ({"pending", "error"}, "sending"),
    "done": ({"sending"}, "done"),
    "error": ({"pending", "sending"}, "error"),
    "unknown": ({"sending"}, "unknown"),
    "unsent": ({"sending"}, "pending"),
    "resolve_yes": ({"unknown"}, "done"),
    "resolve_no": ({"unknown"}, "pending"),
    "forget": ({"pending", "error", "unknown"}, None),
    "forget_force": ({"pending", "error", "unknown", "done"}, None),
}
OPS = [*LEGAL, "assign", "recover", "reopen"]


def apply(led: Ledger, op: str, key: str) -> None:
    calls = {
        "send": lambda: led.mark_sending([key]),
        "done": lambda: led.mark_done([key]),
        "error": lambda: led.mark_error({key: "e"}),
        "unknown": lambda: led.mark_unknown([key], "?"),
        "unsent": lambda: led.mark_unsent([key]),
        "resolve_yes": lambda: led.resolve([key], sent=True),
        "resolve_no": lambda: led.resolve([key], sent=False),
        "forget": lambda: led.forget([key]),
        "forget_force": lambda: led.forget([key], force=True),
    }
    calls[op]()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(OPS), st.sampled_from("abc")), max_size=25))
def test_random_transition_sequences_keep_invariants(steps: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        file = new_ledger(Path(tmp) / "l.sqlite")
        led = Ledger.open(file, ocode=OCODE, lock=True)
        model: dict[str, str] = {}
        attempts: dict[str, int] = {}
        ids_seen: set[int] = set()
        try:
            for op, key in steps:
                if op == "reopen":
                    led.close()
                    led = Ledger.open(file, ocode=OCODE, lock=True)
                    continue
                if op == "recover":
                    led.recover()
                    model = {k: "unknown" if s == "sending" else s for k, s in model.items()}
                    continue
                if op == "assign":
                    got = led.assign_ids([doc(key)])[key]
                    if key not in model:
                        assert got not in ids_seen  # never reused, not even after forget
                        ids_seen.add(got)
                        model[key], attempts[key] = "pending", 0
                    continue
                allowed, after = LEGAL[op]
                was_done = model.get(key) == "done"
                if model.get(key) in allowed:
                    apply(led, op, key)
                    if after is None:
                        del model[key]
                    else:
                        model[key] = after
                    attempts[key] = attempts.get(key, 0) + (op == "send")
                else:
                    with pytest.raises(LedgerError):
                        apply(led, op, key)
                if was_done:  # done is only ever left by forget(force=True)
                    assert model.get(key) == "done" or op == "forget_force"
                records = led.documents()
                assert len({r.key for r in records}) == len(records)
                assert {r.key: r.status for r in records} == model
                assert {r.key: r.attempts for r in records} == {k: attempts[k] for k in model}
                assert sum(led.summary().values()) == len(model)
        finally:
            led.close()


# ------------------------------------------------------------------------------------- batches
# A request's documents are stored as one batch (ledger_batches); a transition on part of a batch,
# 再連携, resolve or forget first folds it into the documents' own rows. What the ledger reports must
# be what one row per document said: the model below is that.
GROUP_OPS = ["send", "done", "error", "unknown", "unsent", "resolve_yes", "resolve_no", "forget", "forget_force",
             "assign", "recover", "reopen"]
EVENTS_OF = {"send": "send", "done": "done", "error": "error", "unknown": "unknown", "unsent": "unsent",
             "resolve_yes": "resolve", "resolve_no": "resolve", "forget": "forget", "forget_force": "forget"}


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_transitions_on_groups_read_as_one_row_per_document(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        file = new_ledger(Path(tmp) / "l.sqlite")
        led = Ledger.open(file, ocode=OCODE, lock=True)
        led.assign_ids([doc(k) for k in "abcdef"])
        model = dict.fromkeys("abcdef", "pending")
        attempts = dict.fromkeys("abcdef", 0)
        history = {k: [("register", "pending")] for k in "abcdef"}
        last: list[str] = []  # the keys of the last send, in order: moving them moves that whole batch
        try:
            for _ in range(data.draw(st.integers(5, 25))):
                op = data.draw(st.sampled_from(GROUP_OPS))
                if op == "reopen":
                    led.close()
                    led = Ledger.open(file, ocode=OCODE, lock=True)
                    continue
                if op == "recover":
                    moved = led.recover()
                    assert set(moved) == {k for k, s in model.items() if s == "sending"}
                    for k in moved:
                        model[k] = "unknown"
                        history[k].append(("recover", "unknown"))
                    continue
                allowed, after = LEGAL.get(op, (set(), None))
                fits = sorted(k for k in "abcdef" if model.get(k) in allowed)
                how = data.draw(st.sampled_from(["last", "fits", "any"]))
                if how == "last" and last:
                    keys = list(last)
                elif how == "fits" and fits:
                    keys = data.draw(st.lists(st.sampled_from(fits), min_size=1, unique=True))
                else:
                    keys = data.draw(st.lists(st.sampled_from("abcdef"), min_size=1, unique=True))
                if op == "assign":
                    led.assign_ids([doc(k) for k in keys])
                    for k in keys:
                        if k not in model:
                            model[k], attempts[k] = "pending", 0
                            history[k].append(("register", "pending"))
                    continue
                if all(model.get(k) in allowed for k in keys):
                    apply_group(led, op, keys)
                    for k in keys:
                        action = "retry" if op == "send" and model[k] == "error" else EVENTS_OF[op]
                        history[k].append((action, after or ""))
                        attempts[k] += op == "send"
                        if after is None:
                            del model[k]
                        else:
                            model[k] = after
                    if op == "send":
                        last = keys
                else:
                    before = (led.documents(), led.events())
                    with pytest.raises(LedgerError):
                        apply_group(led, op, keys)
                    assert (led.documents(), led.events()) == before
                records = led.documents()
                assert {r.key: r.status for r in records} == model
                assert {r.key: r.attempts for r in records} == {k: attempts[k] for k in model}
                assert sum(led.summary().values()) == len(model)
                assert led.check() == []
                for status in STATUS_LABELS:
                    assert [r.key for r in led.documents(status)] == [r.key for r in records if r.status == status]
                everything = led.events()
                for k, lines in history.items():
                    assert [(e.action, e.status) for e in led.events(k)] == lines, k
                    assert [e for e in everything if e.key == k] == led.events(k)
        finally:
            led.close()


def apply_group(led: Ledger, op: str, keys: list[str]) -> None:
    {"send": lambda: led.mark_sending(keys, journos={k: i + 1 for i, k in enumerate(keys)}),
     "done": lambda: led.mark_done(keys, messages={k: f"m-{k}" for k in keys[::2]}),
     "error": lambda: led.mark_error({k: f"e-{k}" for k in keys}),
     "unknown": lambda: led.mark_unknown(keys, "?"),
     "unsent": lambda: led.mark_unsent(keys, "503"),
     "resolve_yes": lambda: led.resolve(keys, sent=True),
     "resolve_no": lambda: led.resolve(keys, sent=False),
     "forget": lambda: led.forget(keys),
     "forget_force": lambda: led.forget(keys, force=True)}[op]()


def test_a_request_is_a_few_rows_whatever_its_size(ledger: Ledger, path: Path) -> None:
    keys = [f"k{i:03d}" for i in range(300)]
    ledger.assign_ids([doc(k) for k in keys])
    slips = [{"ymd_tr": "2024-01-31", "journo": str(i + 1), "journo_read": str(i + 1), "detail": []}
             for i in range(len(keys))]
    body = json.dumps({"slips": slips}, ensure_ascii=False, separators=(",", ":")).encode()
    with ledger.transaction():
        ledger.mark_sending(keys, journos={k: i + 1 for i, k in enumerate(keys)}, body=body, slips=[1] * len(keys))
    answers = Answers(list(range(0, 300, 2)), ["information"] * 150, ["みなし"] * 150, [1] * 150, [None] * 150,
                      ["in.csv"] * 150, list(range(2, 152)))
    ledger.mark_done(keys, answers=answers)
    with sqlite3.connect(path) as raw:  # one batch: the documents' own rows are not written
        assert raw.execute("SELECT DISTINCT status FROM documents").fetchall() == [("pending",)]
        assert raw.execute("SELECT count(*) FROM batches").fetchone() == (1,)
        assert raw.execute("SELECT count(*) FROM events").fetchone() == (300 + 2,)
    records = ledger.get(keys)
    assert {r.status for r in records.values()} == {"done"} and records["k002"].journo == 3
    assert records["k002"].last_message == json.dumps(
        [{"kind": "information", "content": "みなし", "lineno": 1, "is_ocr_dc": None, "source": "in.csv:3"}],
        ensure_ascii=False)
    assert records["k001"].last_message == "" and records["k001"].attempts == 1
    assert ledger.posted(["k007"]) == {"k007": [slips[7]]}
    assert [(e.action, e.status) for e in ledger.events("k007")] == [
        ("register", "pending"), ("send", "sending"), ("done", "done")]


def test_part_of_a_request_moves_alone_and_is_sent_again(ledger: Ledger) -> None:
    """A 400 naming some documents: those become エラー, the rest 連携待ち; both go again later."""
    ledger.assign_ids([doc(k) for k in "abcd"])
    ledger.mark_sending([doc("a", "h-a"), "b", "c", "d"], journos={"a": 1, "b": 2})
    ledger.mark_error({"b": "groupno 2: cd_act"})
    ledger.mark_unsent(["a", "c", "d"], "再送")
    assert statuses(ledger) == {"a": "pending", "b": "error", "c": "pending", "d": "pending"}
    assert ledger.get(["a"])["a"].content_hash == "h-a" and ledger.get(["b"])["b"].journo == 2
    ledger.mark_sending(["b", "a"])
    ledger.mark_done(["b", "a"])
    assert [(e.action, e.status, e.message) for e in ledger.events("b")] == [
        ("register", "pending", ""), ("send", "sending", ""), ("error", "error", "groupno 2: cd_act"),
        ("retry", "sending", ""), ("done", "done", "")]
    assert {k: r.attempts for k, r in ledger.get("abcd").items()} == {"a": 2, "b": 2, "c": 1, "d": 1}


def test_a_forgotten_key_keeps_the_history_of_its_batches(ledger: Ledger) -> None:
    ledger.assign_ids([doc("a"), doc("b")])
    ledger.mark_sending(["a", "b"])
    ledger.mark_done(["a", "b"])
    ledger.forget(["a"], force=True)
    assert {k: v % ID_SPAN for k, v in ledger.assign_ids([doc("a")]).items()} == {"a": 3}
    ledger.mark_sending(["a"])
    assert [(e.action, e.status) for e in ledger.events("a")] == [
        ("register", "pending"), ("send", "sending"), ("done", "done"), ("forget", ""),
        ("register", "pending"), ("send", "sending")]
    assert ledger.get(["a"])["a"].attempts == 1 and statuses(ledger) == {"a": "sending", "b": "done"}


def test_answers_are_stored_as_given() -> None:
    answers = Answers([0, 0, 1, 2], ["information", "information", "error", "x"],
                      ["c1", "c1", 'q"b\\s\n部門\u2028', "z"], [1, 2, None, 1.5], [None, None, True, [1, "a"]],
                      ["f.csv", "f.csv", "", "g"], [3, 4, None, 2**70])
    assert Answers.decode(answers.encode()) == answers
    texts = answers.texts(["A", "B", "C"])
    assert texts["B"] == json.dumps([{"kind": "error", "content": 'q"b\\s\n部門\u2028', "lineno": None,
                                      "is_ocr_dc": True, "source": ""}], ensure_ascii=False)
    assert texts["C"] == json.dumps([{"kind": "x", "content": "z", "lineno": 1.5, "is_ocr_dc": [1, "a"],
                                      "source": f"g:{2**70}"}], ensure_ascii=False)
    empty = Answers([], [], [], [], [], [], [])
    assert Answers.decode(empty.encode()) == empty


VERSION_2 = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    key TEXT PRIMARY KEY, journo_read INTEGER NOT NULL UNIQUE, content_hash TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_message TEXT NOT NULL DEFAULT '',
    journo INTEGER, kind TEXT NOT NULL DEFAULT '', doc_no TEXT NOT NULL DEFAULT '', ymd TEXT NOT NULL DEFAULT '',
    amount INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    operator TEXT NOT NULL DEFAULT '', parent TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT 'original', posted TEXT NOT NULL DEFAULT '');
CREATE INDEX documents_status ON documents (status);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, at TEXT NOT NULL,
    action TEXT NOT NULL, status TEXT NOT NULL, operator TEXT NOT NULL, message TEXT NOT NULL DEFAULT '');
CREATE INDEX events_key ON events (key);
INSERT INTO meta VALUES ('schema_version', '2'), ('ocode', '12345'), ('next_journo_read', '3'),
    ('next_journo', '8');
INSERT INTO documents VALUES
    ('a', 1, 'h1', 'done', 1, '["みなし"]', 7, '売上', 'a', '20240131', 1000, 't0', 't1', 'old', '', 'original',
     '[{"ymd_tr":"2024-01-31"}]'),
    ('b', 2, 'h1', 'error', 1, 'groupno 1', NULL, '売上', 'b', '20240131', 1000, 't0', 't1', 'old', '',
     'original', '');
INSERT INTO events (key, at, action, status, operator, message) VALUES
    ('a', 't0', 'register', 'pending', 'old', ''), ('b', 't0', 'register', 'pending', 'old', ''),
    ('a', 't1', 'send', 'sending', 'old', ''), ('b', 't1', 'send', 'sending', 'old', ''),
    ('a', 't1', 'done', 'done', 'old', '["みなし"]'), ('b', 't1', 'error', 'error', 'old', 'groupno 1');
"""


def test_a_version_2_ledger_is_read_as_it_is_and_migrated_when_written(tmp_path: Path) -> None:
    path = tmp_path / "ledgers" / f"{OCODE}.sqlite"  # written by an earlier release
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as raw:
        raw.executescript(VERSION_2)
    before = path.read_bytes()
    with Ledger.open(path, ocode=OCODE, readonly=True) as ro:  # preview: nothing written
        seen = (ro.documents(), ro.events(), ro.posted(["a", "b"]), ro.summary(), ro.events("a"))
        assert [r.key for r in ro.vanished(["b"], ymd_from="20240101", ymd_to="20241231")] == ["a"]
        assert {k: [r.key for r in c] for k, c in ro.chains(["a", "b", "x"]).items()} == {"a": ["a"], "b": ["b"]}
    assert path.read_bytes() == before
    assert [(r.key, r.status, r.journo, r.last_message) for r in seen[0]] == [
        ("a", "done", 7, '["みなし"]'), ("b", "error", None, "groupno 1")]
    assert seen[2] == {"a": [{"ymd_tr": "2024-01-31"}], "b": []}
    with Ledger.open(path, ocode=OCODE, lock=True) as led:
        assert (led.documents(), led.events(), led.posted(["a", "b"]), led.summary(), led.events("a")) == seen
        led.mark_sending(["b"])  # 再連携, stored as a batch from now on
        led.mark_done(["b"], messages={"b": "ok"})
        assert [(e.action, e.status) for e in led.events("b")][-2:] == [("retry", "sending"), ("done", "done")]
        assert led.get(["b"])["b"].attempts == 2 and led.check() == []
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone() == ("4",)
    with Ledger.open(path, ocode=OCODE, lock=True) as led:
        # numbered per fiscal year now: the year of its dates continues above the old counters (FX
        # holds them), a later year starts at 1; the old ids are kept
        ids = led.assign_ids([DocumentInfo("c", "h", ymd="20240301"), DocumentInfo("d", "h", ymd="20240401")])
        assert ids == {"c": 2023 * ID_SPAN + 3, "d": 2024 * ID_SPAN + 1}
        assert led.reserve_journos({2023: 2, 2024: 1}) == {2023: 8, 2024: 1}
        assert [r.journo_read for r in led.documents()] == [1, 2, 2023 * ID_SPAN + 3, 2024 * ID_SPAN + 1]
        assert led.check() == []


def test_check_finds_a_document_recorded_in_two_open_batches(ledger: Ledger, path: Path) -> None:
    ledger.assign_ids([doc("a"), doc("b")])
    ledger.mark_sending(["a", "b"])
    assert ledger.check() == []
    with sqlite3.connect(path) as raw:  # what no transition may leave: a second batch over "a"
        raw.execute("INSERT INTO members (journo_read, batch, pos) VALUES (?, 99, 0)",
                    (ledger.get(["a"])["a"].journo_read,))
    assert ledger.check() == ["複数の送信バッチに重ねて記録された帳票があります: a"]


def test_vanished_reads_only_its_period_and_finds_what_reading_everything_finds(ledger: Ledger) -> None:
    """vanished() reads candidates only (a ledger keeps every month); the answer must be what filtering
    every done record gives, also where a batch refreshed a document's date into or out of the period."""
    dates = {"a": "20261001", "b": "20261003", "c": "20261002", "d": "20261104", "e": "20261002",
             "f": "20261002", "g": "20261001", "h": "20260930"}
    infos = {k: DocumentInfo(key=k, content_hash="h", kind="売上" if k in "aceg" else "仕入", doc_no=k, ymd=ymd)
             for k, ymd in dates.items()}
    ledger.assign_ids(list(infos.values()))
    ledger.mark_sending(["a", "b", "h"])  # keys only: the rows' dates stand
    ledger.mark_done(["a", "b", "h"])
    ledger.mark_sending([replace(infos["c"], ymd="20260920"), replace(infos["d"], ymd="20261002")])
    ledger.mark_done(["c", "d"])  # c moved out of October's first days, d into them
    ledger.mark_sending(["e", "f"])
    ledger.mark_error({"f": "400"})  # f alone: the batch is folded into the rows, then e moves alone
    ledger.mark_done(["e"])
    ledger.mark_sending(["g"])  # g is 連携中, not done
    periods: list[tuple[str, str, set[str], set[str] | None]] = [
        ("20261001", "20261003", set(), None), ("20261001", "20261003", {"a"}, None),
        ("20260901", "20261231", set(), {"売上"}), ("20261002", "20261002", set(), None),
        ("20260920", "20260930", set(), None)]
    for first, last, present, kinds in periods:
        expected = [r for r in ledger.documents("done") if r.role == "original" and first <= r.ymd <= last
                    and r.key not in present and (kinds is None or r.kind in kinds)]
        assert ledger.vanished(present, ymd_from=first, ymd_to=last, kinds=kinds) == expected
    assert [r.key for r in ledger.vanished((), ymd_from="20261001", ymd_to="20261003")] == ["a", "b", "d", "e"]


def _steps_of_chains(path: Path, others: int) -> int:
    """SQLite VM steps (in thousands) for chains() of 2000 new keys, in a ledger of ``others`` documents."""
    with Ledger.open(new_ledger(path), ocode=OCODE, lock=True) as led:
        led.assign_ids([doc(f"old{i}") for i in range(others)])
        steps = [0]

        def count() -> int:
            steps[0] += 1
            return 0

        led._conn.set_progress_handler(count, 1000)
        assert led.chains(f"new{i}" for i in range(2000)) == {}
        return steps[0]


def test_chains_do_not_read_the_whole_ledger_for_every_500_keys(tmp_path: Path) -> None:
    """A month planned against a ledger of earlier months: the work must not grow with the ledger
    for each chunk of keys (it did: 27.6 s for 10⁵ rows against 750k earlier documents)."""
    small, big = _steps_of_chains(tmp_path / "small.sqlite", 2_000), _steps_of_chains(tmp_path / "big.sqlite", 20_000)
    assert big < 2 * small + 50, (small, big)
