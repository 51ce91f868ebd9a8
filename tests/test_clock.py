"""Japan time whatever the machine's zone: stored and shown times carry +09:00."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import MAPPINGS
from ledger_helpers import new_ledger

from converter import clock
from converter.cli import main
from converter.ledger.lock import RunLock, info_path


@pytest.fixture
def utc_machine() -> Iterator[None]:
    """The converter run on a machine set to UTC (CI runners, containers)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield None
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_stamp_is_japan_time_on_a_utc_machine(utc_machine: object) -> None:
    assert clock.stamp(datetime(2026, 10, 31, 15, 30, tzinfo=UTC)) == "2026-11-01T00:30:00+09:00"
    assert clock.stamp().endswith("+09:00")


def test_a_time_stored_in_utc_by_an_earlier_release_is_shown_in_japan_time() -> None:
    assert clock.in_japan("2026-12-07T23:21:57+00:00") == "2026-12-08T08:21:57+09:00"
    assert clock.in_japan("2026-12-08T08:21:57+09:00") == "2026-12-08T08:21:57+09:00"
    assert clock.in_japan("") == ""
    assert clock.in_japan("2026-12-08T08:21:57") == "2026-12-08T08:21:57"  # no zone: not guessed


def test_now_is_nine_hours_ahead_of_utc() -> None:
    assert clock.now().utcoffset() == timedelta(hours=9)


def test_the_ledgers_lock_says_since_when_in_japan_time(utc_machine: object, tmp_path: Path) -> None:
    ledger = new_ledger(tmp_path / "ledger.sqlite")
    lock = RunLock(ledger, operator="経理 太郎")
    lock.acquire()
    try:
        since = json.loads(info_path(ledger).read_text("utf-8"))["since"]
    finally:
        lock.release()
    assert since.endswith("+09:00"), since


def test_history_shows_japan_time_for_a_ledger_written_on_a_utc_machine(utc_machine: object, tmp_path: Path) -> None:
    ledger = new_ledger(tmp_path / "ledger.sqlite", ocode="tc09999001")  # the bundled settings' company
    with sqlite3.connect(ledger) as conn:  # an earlier release on a UTC machine stored +00:00
        conn.execute("INSERT INTO events (at, action, status, operator, key) VALUES (?, ?, ?, ?, ?)",
                     ("2026-12-07T23:21:57+00:00", "送信", "done", "経理", "売上|INV-1"))
    result = CliRunner().invoke(main, ["history", "-m", str(MAPPINGS), "--ledger", str(ledger), "--events"])
    assert "2026-12-08 08:21:57" in result.output, result.output
    assert "+00:00" not in result.output
