"""End to end: the real emulator server on loopback and the converter as a separate process.

Counts what FX (the emulator) actually stored, by journo_read: every document exactly once.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, SAMPLES, make_mappings, sale, to_csv
from fault_helpers import MAPPINGS as UPLOAD_MAPPINGS
from ledger_helpers import new_ledger

from converter.ledger.ledger import Ledger

ENV = {**os.environ, "FX_API_TOKEN": "emulator-token", "PYTHONPATH": str(ROOT)}


class Server:
    def __init__(self, tmp: Path, *options: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "converter", "emulator", "--port", "0", "--store", str(tmp / "fx.jsonl"), *options],
            stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
        assert self.proc.stderr is not None
        banner = self.proc.stderr.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        self.url = match.group(1)

    def stored(self) -> Counter[str]:
        slips = httpx.get(self.url + "/_emulator/slips").json()
        records = slips["slips"] if isinstance(slips, dict) else slips
        return Counter(str(r["journo_read"]) for r in records)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[type[Server]]:
    started: list[Server] = []

    class Started(Server):
        def __init__(self, *options: str) -> None:
            super().__init__(tmp_path, *options)
            started.append(self)

    yield Started
    for s in started:
        s.stop()


def converter(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "converter", *map(str, args)], capture_output=True, text=True,
                          env=ENV, cwd=ROOT, timeout=timeout)


def ledger_status(path: Path) -> Counter[str]:
    with Ledger.open(path, ocode="tc09999001", readonly=True) as book:
        return Counter(r.status for r in book.documents())


def test_sample_uploads_completely_then_nothing(server_factory: type[Server], tmp_path: Path) -> None:
    server = server_factory()
    ledger = new_ledger(tmp_path / "l.sqlite", "tc09999001")
    # The sample's 随時の取引先 mapped to その他: FX requires cd_cstm on 売掛金/買掛金 (no master cache here)
    args = ("upload", SAMPLES / "jobcan-2026-10.csv", "-m", UPLOAD_MAPPINGS, "--base-url", server.url,
            "--ledger", ledger)
    first = converter(*args)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "連携完了 359 件" in first.stdout
    assert sum(server.stored().values()) == 360  # 359 documents, one split in two slips
    second = converter(*args)
    assert second.returncode == 0 and "送信対象 0 件" in second.stdout
    assert sum(server.stored().values()) == 360
    assert ledger_status(ledger) == Counter({"done": 359})


def test_503s_are_retried_to_completion(server_factory: type[Server], tmp_path: Path) -> None:
    server = server_factory("--fail-503-rate", "0.5", "--retry-after", "0")
    rows = [sale(f"D{d:03d}", 1000 + i, 0, cr_tax="対象外") for d in range(100) for i in range(30)]
    path = tmp_path / "in.csv"
    path.write_bytes(to_csv(rows).encode("cp932"))
    mappings = make_mappings(tmp_path / "m")
    result = converter("upload", path, "-m", mappings, "--base-url", server.url, "--ledger",
                       new_ledger(tmp_path / "l.sqlite", "tc09999001"))
    assert result.returncode == 0, result.stdout + result.stderr
    stats = httpx.get(server.url + "/_emulator/stats").json()
    assert stats["import_by_status"].get("503", 0) > 0
    assert sorted(server.stored().values()) == [1] * 100


def test_drop_after_store_gives_unknown_and_no_duplicates(server_factory: type[Server], tmp_path: Path) -> None:
    server = server_factory("--drop-rate", "1")
    path = tmp_path / "in.csv"
    path.write_bytes(to_csv([sale(f"D{i}") for i in range(5)]).encode("cp932"))
    mappings = make_mappings(tmp_path / "m")
    args = ("upload", path, "-m", mappings, "--base-url", server.url, "--ledger",
                       new_ledger(tmp_path / "l.sqlite", "tc09999001"))
    first = converter(*args)
    assert first.returncode == 1 and "要確認 5 件" in first.stdout
    second = converter(*args)
    assert second.returncode == 1 and "送信対象 0 件" in second.stdout
    assert sorted(server.stored().values()) == [1] * 5


def test_400_on_one_slip_leaves_the_rest_stored(server_factory: type[Server], tmp_path: Path) -> None:
    server = server_factory()
    rows = [sale(f"D{i}") for i in range(4)]
    rows.append(sale("RCV-X", kind="入金", dr="普通預金", dr_sub="楽天銀行", cr="売掛金", cr_tax="対象外", cr_dep="",
                     cr_taxamt=""))
    path = tmp_path / "in.csv"
    path.write_bytes(to_csv(rows).encode("cp932"))
    mappings = make_mappings(tmp_path / "m")
    result = converter("upload", path, "-m", mappings, "--base-url", server.url, "--ledger",
                       new_ledger(tmp_path / "l.sqlite", "tc09999001"))
    assert result.returncode == 1
    assert "FX エラー: RCV-X" in result.stdout and "in.csv:6行" in result.stdout
    assert sorted(server.stored().values()) == [1] * 4


def test_kill_9_during_upload_then_rerun_gives_no_duplicates(server_factory: type[Server], tmp_path: Path) -> None:
    """SIGKILL the uploader at random points; resolve 要確認 from what FX holds; finish. Never twice."""
    server = server_factory("--slow-seconds", "0.15")
    docs = 128  # 60 rows → 120 lines each: 16 per request, 8 requests
    rows = [sale(f"D{d:03d}", 1000 + i, 0, cr_tax="対象外") for d in range(docs) for i in range(60)]
    path = tmp_path / "in.csv"
    path.write_bytes(to_csv(rows).encode("cp932"))
    mappings = make_mappings(tmp_path / "m")
    ledger = new_ledger(tmp_path / "l.sqlite", "tc09999001")
    args = [sys.executable, "-m", "converter", "upload", str(path), "-m", str(mappings), "--base-url", server.url,
            "--ledger", str(ledger)]
    rng = random.Random(7)
    kills = 0
    for _ in range(12):
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, cwd=ROOT)
        time.sleep(rng.uniform(0.8, 2.0))  # start-up (imports, conversion) takes most of a second
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        _resolve_from_fx(ledger, mappings, server)
        if ledger.exists() and ledger_status(ledger) == Counter({"done": docs}):
            break
    final = converter(*args[3:])
    _resolve_from_fx(ledger, mappings, server)
    final = converter(*args[3:])
    assert final.returncode == 0, final.stdout + final.stderr
    stored = server.stored()
    print(f"kill -9 points: {kills}, documents: {docs}, stored slips: {sum(stored.values())}, "
          f"duplicates: {sum(v - 1 for v in stored.values())}")
    assert kills >= 1
    assert max(stored.values()) == 1, "a slip was posted twice"
    assert len(stored) == docs
    assert ledger_status(ledger) == Counter({"done": docs})


def _resolve_from_fx(ledger: Path, mappings: Path, server: Server) -> None:
    """What the accountant does for 要確認: look in FX (here: the emulator) and answer."""
    if not ledger.exists():
        return
    history = converter("history", "--ledger", ledger, "-m", mappings, "--status", "unknown", "--format", "json")
    unknown = json.loads(history.stdout) if history.returncode == 0 and history.stdout.strip() else []
    if not unknown:
        return
    stored = server.stored()
    sent = [d["key"] for d in unknown if str(d["journo_read"]) in stored]
    missing = [d["key"] for d in unknown if str(d["journo_read"]) not in stored]
    for keys, flag in ((sent, "--sent"), (missing, "--not-sent")):
        if keys:
            done = converter("resolve", *keys, flag, "--ledger", ledger, "-m", mappings)
            assert done.returncode == 0, done.stderr
