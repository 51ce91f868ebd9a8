"""Tests for converter.ledger.ledger: ids, statuses, durability, the run lock and crash safety.

The transition rules as a model, and the storage of requests as batches: test_ledger_rules.py.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pandas as pd
import pytest
from ledger_helpers import OCODE, doc, ledger_fixture, path_fixture, statuses  # noqa: F401 (fixtures)

from converter.convert.pipeline import Conversion
from converter.errors import LedgerDamaged, LedgerError, LedgerLocked
from converter.ledger.ledger import (
    STATUS_LABELS,
    DocumentInfo,
    Ledger,
    default_ledger_path,
    document_key,
)
from converter.ledger.numbering import ID_SPAN
from converter.ledger.statuses import Role
from converter.sync.plan import plan_documents

ROOT = Path(__file__).resolve().parents[1]
FY = 2023  # the fiscal year of doc()'s date (2024-01-31, 会計期間 from April)


def nums(ids: dict[str, int]) -> dict[str, int]:
    """The 連携番号 (journo_read) FX gets for ledger ids (unique within a fiscal year)."""
    return {k: v % ID_SPAN for k, v in ids.items()}


def run_child(code: str, *args: str, stdout: int | None = subprocess.PIPE) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                            stdout=stdout, stderr=subprocess.PIPE, text=True)


# ------------------------------------------------------------------------------------- ids
def test_ids_sequential_and_stable_across_reopen(path: Path) -> None:
    with Ledger.open(path, ocode=OCODE) as led:
        assert nums(led.assign_ids([doc("a"), doc("b"), doc("c")])) == {"a": 1, "b": 2, "c": 3}
    with Ledger.open(path, ocode=OCODE) as led:
        ids = led.assign_ids([doc("d"), doc("b", "changed"), doc("e")])
        assert nums(ids) == {"d": 4, "b": 2, "e": 5} and {i // ID_SPAN for i in ids.values()} == {FY}
        assert list(ids) == ["d", "b", "e"]  # input order kept
        assert led.get(["b"])["b"].content_hash == "h1"  # hash not updated by assign_ids
        assert led.next_numbers("journo_read", [FY]) == {FY: 6} and led.next_id() == 1
        assert [e.action for e in led.events("a")] == ["register"]
        assert led.summary()["pending"] == 5


def test_duplicate_keys_in_one_call_are_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="重複"):
        ledger.assign_ids([doc("a"), doc("a")])
    assert ledger.documents() == []


def test_reading_does_not_write(path: Path) -> None:
    with Ledger.open(path, ocode=OCODE) as led:
        led.assign_ids([doc("a"), doc("b")])

    def snapshot() -> tuple[bytes, int]:
        return path.read_bytes(), path.stat().st_mtime_ns

    before = snapshot()
    time.sleep(0.02)
    for readonly in (True, False):
        with Ledger.open(path, ocode=OCODE, readonly=readonly) as led:
            assert {k: r.number for k, r in led.get(["b", "x", "a"]).items()} == {"b": 2, "a": 1}
            assert led.next_numbers("journo_read", [FY]) == {FY: 3} and led.next_journo(FY) == 1
            assert led.known(["a", "x"]) == {"a"}
            assert led.summary()["pending"] == 2 and len(led.events()) == 2
        assert snapshot() == before, f"readonly={readonly}"
    with Ledger.open(path, ocode=OCODE, readonly=True) as ro, \
            pytest.raises(LedgerError, match="読み取り専用"):
        ro.assign_ids([doc("x")])
    with Ledger.open(path, ocode=OCODE) as led:
        # new keys are numbered from next_id, in order
        assert nums(led.assign_ids([doc("x"), doc("a"), doc("y")])) == {"x": 3, "a": 1, "y": 4}


def test_readonly_on_missing_file_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "ledgers" / "x.sqlite"
    with Ledger.open(missing, ocode=OCODE, readonly=True) as ro:
        assert ro.next_id() == 1 and ro.get(["a"]) == {} and ro.next_journo() == 1
        with pytest.raises(LedgerError):
            ro.issue_journos(1)
    assert not (tmp_path / "ledgers").exists()


def test_journo_read_exhaustion_is_all_or_nothing(path: Path) -> None:
    with Ledger.open(path, ocode=OCODE) as led:
        led.assign_ids([doc("a")])
    with sqlite3.connect(path) as raw:
        raw.execute(f"UPDATE numbering SET next = 999998 WHERE field = 'journo_read' AND fy = {FY}")
    with Ledger.open(path, ocode=OCODE) as led:
        with pytest.raises(LedgerError, match="上限 999999"):
            led.assign_ids([doc("b"), doc("c"), doc("d")])
        assert led.get(["b", "c"]) == {}
        assert nums(led.assign_ids([doc("b"), doc("c")])) == {"b": 999998, "c": 999999}
        with pytest.raises(LedgerError, match="journo_read"):
            led.assign_ids([doc("e")])
        assert nums(led.assign_ids([doc("a")])) == {"a": 1}  # known keys still work


def test_assign_ids_is_fast_for_100k(ledger: Ledger) -> None:
    docs = [doc(f"k{i}") for i in range(100_000)]
    start = time.perf_counter()
    ids = ledger.assign_ids(docs)
    again = ledger.assign_ids(docs)
    assert time.perf_counter() - start < 8.0  # ~1.5 s here; generous for loaded CI machines
    assert ids == again and ids["k99999"] % ID_SPAN == 100_000 and len(set(ids.values())) == 100_000
    assert ledger.summary()["pending"] == 100_000


# ------------------------------------------------------------------------------------- verdicts
def test_plan_verdict_for_each_ledger_status(ledger: Ledger) -> None:
    """What upload does with a document, by its ledger status (the planner's rule, not a copy of it)."""
    ledger.assign_ids([doc(k) for k in "pesdcu"])
    ledger.mark_sending(["e", "d", "c", "u", "s"])
    ledger.mark_error({"e": "400"})
    ledger.mark_done(["d", "c"])
    ledger.mark_unknown(["u"], "timeout")
    incoming = [doc("n"), doc("p"), doc("e", "fixed"), doc("d"), doc("c", "h2"), doc("u"), doc("s")]
    plan = plan_documents(_conversion(incoming), ledger)
    assert plan.to_send == ("n", "p", "e")
    assert list(plan.sends) == ["n", "p", "e"] and plan.sends["e"].info.content_hash == "fixed"
    assert (plan.done_same, plan.changed, plan.deleted) == (("d",), ("c",), ())
    assert plan.unknown == ("u", "s")  # 連携中 without recover(): never sent again unasked
    retry = plan_documents(_conversion(incoming), ledger, only_errors=True)
    assert retry.to_send == ("e",)


def _conversion(docs: list[DocumentInfo]) -> Conversion:
    """The documents table of a conversion: what the planner reads of one."""
    table = pd.DataFrame({"doc": [d.key for d in docs], "content_hash": [d.content_hash for d in docs],
                          "kind": [d.kind for d in docs], "doc_no": [d.doc_no for d in docs],
                          "date": [d.ymd for d in docs], "debit": [d.amount for d in docs]})
    return cast(Conversion, SimpleNamespace(documents=table))


def test_vanished_lists_done_documents_missing_from_export(ledger: Ledger) -> None:
    ledger.assign_ids([DocumentInfo("a", "h", ymd="20240105"), DocumentInfo("b", "h",
                       ymd="20240110"), DocumentInfo("c", "h", ymd="20240301")])
    ledger.mark_sending(["a", "b", "c"])
    ledger.mark_done(["a", "b", "c"])
    gone = ledger.vanished(["a"], ymd_from="20240101", ymd_to="20240131")
    assert [r.key for r in gone] == ["b"]


# ------------------------------------------------------------------------------------- transitions
def test_legal_transitions_and_history(ledger: Ledger) -> None:
    ledger.assign_ids([doc("a"), doc("b"), doc("c"), doc("d")])
    ledger.mark_sending([doc("a", "h-sent", amount=5)], journos={"a": 7})
    rec = ledger.get(["a"])["a"]
    assert (rec.status, rec.attempts, rec.content_hash, rec.amount, rec.journo) == (
        "sending", 1, "h-sent", 5, 7)
    ledger.mark_done(["a"], messages={"a": '["みなし"]'})
    rec = ledger.get(["a"])["a"]
    assert (rec.status, rec.last_message, rec.journo, rec.operator) == ("done", '["みなし"]', 7,
                                                                       "tester")
    assert rec.status_label == "連携完了"

    ledger.mark_sending(["b"])
    ledger.mark_error({"b": "groupno 1: cd_act"})
    ledger.mark_sending(["b"])  # 再連携
    ledger.mark_done(["b"], journos={"b": 8})
    assert ledger.get(["b"])["b"].attempts == 2 and ledger.get(["b"])["b"].journo == 8
    assert [(e.action, e.status) for e in ledger.events("b")] == [
        ("register", "pending"), ("send", "sending"), ("error", "error"),
        ("retry", "sending"), ("done", "done")]

    ledger.mark_sending(["c", "d"])
    ledger.mark_unsent(["c"], "503")
    ledger.mark_unknown(["d"], "read timeout")
    assert statuses(ledger) == {"a": "done", "b": "done", "c": "pending", "d": "unknown"}
    assert ledger.get(["d"])["d"].last_message == "read timeout"
    ledger.mark_error({"c": "validation"})  # pending → error (refused before sending)
    assert [r.key for r in ledger.documents("error")] == ["c"]
    assert ledger.summary() == {"pending": 0, "sending": 0, "done": 2, "error": 1, "unknown": 1}
    ev = ledger.events()[0]
    assert ev.operator == "tester" and ev.at[:2] == "20" and ev.at[-6] in "+-"


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        (["send", "done"], lambda led: led.mark_sending(["x"])),  # done → sending
        ([], lambda led: led.mark_done(["x"])),  # pending → done without sending
        (["send", "unknown"], lambda led: led.mark_sending(["x"])),  # 要確認 is never resent
        (["send", "error"], lambda led: led.mark_done(["x"])),
        (["send"], lambda led: led.mark_sending(["x"])),  # sending twice
        (["send", "done"], lambda led: led.mark_error({"x": "late"})),
        ([], lambda led: led.resolve(["x"], sent=True)),
        ([], lambda led: led.mark_sending(["nope"])),  # not in the ledger
        (["send"], lambda led: led.forget(["x"], force=True)),
        (["send", "done"], lambda led: led.forget(["x"])),
    ],
)
def test_illegal_transitions_raise_and_change_nothing(ledger: Ledger, setup: list[str],
                                                      action: object) -> None:
    ledger.assign_ids([doc("x"), doc("ok")])
    for step in setup:
        {"send": lambda: ledger.mark_sending(["x"]), "done": lambda: ledger.mark_done(["x"]),
         "error": lambda: ledger.mark_error({"x": "e"}),
         "unknown": lambda: ledger.mark_unknown(["x"], "?")}[step]()
    before, events = ledger.documents(), ledger.events()
    with pytest.raises(LedgerError):
        action(ledger)  # type: ignore[operator]
    assert ledger.documents() == before and ledger.events() == events


def test_a_batch_with_one_illegal_key_changes_nothing(ledger: Ledger) -> None:
    ledger.assign_ids([doc("a"), doc("b")])
    ledger.mark_sending(["b"])
    ledger.mark_done(["b"])
    with pytest.raises(LedgerError, match="b"):
        ledger.mark_sending(["a", "b"])
    assert statuses(ledger) == {"a": "pending", "b": "done"}
    assert ledger.get(["a"])["a"].attempts == 0


def test_mark_sending_and_recover_require_the_lock(path: Path) -> None:
    with Ledger.open(path, ocode=OCODE) as led:
        led.assign_ids([doc("a")])
        with pytest.raises(LedgerError, match="ロック"):
            led.mark_sending(["a"])
        with pytest.raises(LedgerError, match="ロック"):
            led.recover()
        with led.lock():
            led.mark_sending(["a"])
        assert not led.locked


def test_invalid_journo_is_refused(ledger: Ledger) -> None:
    ledger.assign_ids([doc("a")])
    with pytest.raises(LedgerError, match="伝票番号"):
        ledger.mark_sending(["a"], journos={"a": 100_000})
    assert statuses(ledger) == {"a": "pending"}


def test_recover_turns_sending_into_unknown(path: Path) -> None:
    with Ledger.open(path, ocode=OCODE, lock=True) as led:
        led.assign_ids([doc("a"), doc("b"), doc("c")])
        led.mark_sending(["a", "b"])
        led.mark_done(["a"])
    with Ledger.open(path, ocode=OCODE, lock=True) as led:
        assert led.recover() == ["b"]
        assert statuses(led) == {"a": "done", "b": "unknown", "c": "pending"}
        assert led.events("b")[-1].action == "recover"
        assert led.recover() == []


def test_resolve_both_ways(ledger: Ledger) -> None:
    ledger.assign_ids([doc("a"), doc("b")])
    ledger.mark_sending(["a", "b"])
    ledger.mark_unknown(["a", "b"], "connection lost")
    ledger.resolve(["a"], sent=True)
    ledger.resolve(["b"], sent=False, message="FX に伝票なし")
    assert statuses(ledger) == {"a": "done", "b": "pending"}
    assert ledger.events("b")[-1].message == "FX に伝票なし"
    assert plan_documents(_conversion([doc("a"), doc("b")]), ledger).to_send == ("b",)


def test_forget_rules(ledger: Ledger) -> None:
    ledger.assign_ids([doc(k) for k in "pedu"])
    ledger.mark_sending(["e", "d", "u"])
    ledger.mark_error({"e": "x"})
    ledger.mark_done(["d"])
    ledger.mark_unknown(["u"], "?")
    ledger.forget(["p", "e", "u"])
    with pytest.raises(LedgerError, match="削除"):
        ledger.forget(["d"])
    ledger.forget(["d"], force=True, message="FX で伝票を削除済み")
    assert ledger.documents() == []
    last = ledger.events("d")[-1]
    assert last.action == "forget" and last.status == ""
    assert json.loads(last.message)["status"] == "done"
    # a forgotten document comes back with a new id: journo_read is never reused
    assert nums(ledger.assign_ids([doc("d")])) == {"d": 5}


# ------------------------------------------------------------------------------------- journo, meta
def test_issue_journos_sequential_durable_and_limited(path: Path) -> None:
    with Ledger.open(path, ocode=OCODE) as led:
        assert led.issue_journos(3) == [1, 2, 3]
        assert led.issue_journos(0) == []
    with Ledger.open(path, ocode=OCODE) as led:
        assert led.next_journo() == 4
        assert led.issue_journos(2) == [4, 5]
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE meta SET value = '99998' WHERE name = 'next_journo'")
    with Ledger.open(path, ocode=OCODE) as led:
        with pytest.raises(LedgerError, match=r"99999 .*システム自動付番"):
            led.issue_journos(3)
        assert led.issue_journos(2) == [99998, 99999]
        with pytest.raises(LedgerError):
            led.issue_journos(1)


def test_ocode_mismatch_and_foreign_files(path: Path, tmp_path: Path) -> None:
    Ledger.open(path, ocode=OCODE).close()
    with pytest.raises(LedgerError, match="12345"):
        Ledger.open(path, ocode="99999")
    with pytest.raises(LedgerError, match="12345"):
        Ledger.open(path, ocode="99999", readonly=True)
    with pytest.raises(LedgerError):
        Ledger.open(path, ocode="")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(LedgerError):
        Ledger.open(junk, ocode=OCODE)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as raw:
        raw.execute("CREATE TABLE t (x)")
    with pytest.raises(LedgerDamaged, match=r"台帳が壊れています \(台帳の形式ではありません: 変換ツールの台帳の表"):
        Ledger.open(other, ocode=OCODE)


def test_default_path_and_labels(tmp_path: Path) -> None:
    assert default_ledger_path(tmp_path / "mappings", "777") == tmp_path / "ledgers/777.sqlite"
    assert STATUS_LABELS["unknown"] == "要確認" and STATUS_LABELS["pending"] == "連携待ち"
    assert document_key("売上", "INV-1", "20240131") == "売上|INV-1"
    assert document_key("弥生", "1", "20240131", identity="kind_no_date") == "弥生|1|20240131"


def test_files_are_user_only(path: Path) -> None:
    old = os.umask(0o022)
    try:
        with Ledger.open(path, ocode=OCODE, lock=True) as led:
            led.assign_ids([doc("a")])
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm"), led.lock_path]
            for f in files:
                assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    finally:
        os.umask(old)
    assert os.umask(0o022) == 0o022  # the ledger restored the caller's umask


# ------------------------------------------------------------------------------------- lock
HOLDER = """
    import sys, time
    from converter.ledger.ledger import Ledger
    led = Ledger.open(sys.argv[1], ocode="12345", operator="holder", lock=True)
    print("locked", flush=True)
    time.sleep(60)
"""


def test_lock_in_another_process_and_release_on_sigkill(path: Path) -> None:
    Ledger.open(path, ocode=OCODE).close()
    child = run_child(HOLDER, str(path))
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "locked", child.stderr
        with Ledger.open(path, ocode=OCODE) as led:
            with pytest.raises(LedgerLocked, match=f"pid {child.pid}.*holder"), led.lock():
                pass
            assert not led.locked
            led.assign_ids([doc("a")])  # reading and registering do not need the lock
        with pytest.raises(LedgerLocked, match="別の処理がこの台帳を使用中です"):
            Ledger.open(path, ocode=OCODE, lock=True)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    with Ledger.open(path, ocode=OCODE, lock=True) as led:
        assert led.locked


def test_lock_within_one_process_and_nesting(path: Path) -> None:
    with Ledger.open(path, ocode=OCODE) as first, Ledger.open(path, ocode=OCODE) as second:
        with first.lock():
            with first.lock():  # nested in the same object
                pass
            assert first.locked
            with pytest.raises(LedgerLocked), second.lock():
                pass
        with second.lock():
            assert second.locked


# ------------------------------------------------------------------------------------- crashes
CRASH_MID_WRITE = """
    import os, signal, sys
    from converter.ledger.ledger import DocumentInfo, Ledger
    led = Ledger.open(sys.argv[1], ocode="12345")
    led.assign_ids([DocumentInfo("first", "h")])
    conn = led._conn
    def die():
        # killed while SQLite is inside assign_ids' transaction, rows half inserted
        if conn.in_transaction and conn.total_changes > 2000:
            os.kill(os.getpid(), signal.SIGKILL)
        return 0
    conn.set_progress_handler(die, 50)
    led.assign_ids([DocumentInfo(f"k{i}", "h") for i in range(5000)])
    print("not killed", flush=True)
"""


def test_crash_mid_transaction_leaves_ledger_consistent(path: Path) -> None:
    child = run_child(CRASH_MID_WRITE, str(path))
    out, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, (out, err)
    assert Path(f"{path}-wal").exists()  # the killed process left its log behind
    with Ledger.open(path, ocode=OCODE, lock=True) as led:
        assert led.check() == []
        assert statuses(led) == {"first": "pending"}
        assert led.next_id() == 2 and len(led.events()) == 1  # undated: fiscal year 0
        assert led.assign_ids([DocumentInfo("k0", "h")]) == {"k0": 2}


CRASH_AFTER_SENDING = """
    import os, signal, sys
    from converter.ledger.ledger import DocumentInfo, Ledger
    led = Ledger.open(sys.argv[1], ocode="12345", lock=True)
    led.assign_ids([DocumentInfo("a", "h"), DocumentInfo("b", "h")])
    led.mark_sending(["a", "b"])
    led.mark_done(["a"])
    os.kill(os.getpid(), signal.SIGKILL)  # as if killed while waiting for FX's answer on "b"
"""


def test_killed_run_after_sending_is_recovered_as_unknown(path: Path) -> None:
    child = run_child(CRASH_AFTER_SENDING, str(path))
    child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with Ledger.open(path, ocode=OCODE, lock=True) as led:
        assert statuses(led) == {"a": "done", "b": "sending"}
        assert led.recover() == ["b"]
        assert statuses(led) == {"a": "done", "b": "unknown"}
        assert plan_documents(_conversion([doc("a", "h"), doc("b", "h")]), led).to_send == ()


def test_known_keys_are_documents_and_sources_of_corrections(ledger: Ledger) -> None:
    ledger.assign_ids([doc("a"), doc("b"),
                       DocumentInfo(key="c|取消1", content_hash="h", parent="c", role=Role.REVERSAL)])
    assert ledger.known(["a", "c", "x", "a"]) == {"a", "c"}  # c: its original forgotten, its correction kept
    assert ledger.known([]) == set()
