"""End to end: the real emulator server on loopback and the converter as a separate process.

Counts what FX (the emulator) actually stored, by journo_read: every document exactly once.
The uploader killed (SIGKILL) at random points is tests/test_faults.py's
``test_sigkill_at_random_points_then_rerun_until_done`` (once: it aims its kills into the send loop).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, SAMPLES, make_mappings, sale, to_csv
from fault_helpers import MAPPINGS as UPLOAD_MAPPINGS
from ledger_helpers import new_ledger

from converter.ledger.ledger import Ledger

pytestmark = pytest.mark.slow  # the emulator server and the converter as separate processes

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


StartServer = Callable[..., Server]  # Server(*options) in this test's folder


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[StartServer]:
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


def test_sample_uploads_completely_then_nothing(server_factory: StartServer, tmp_path: Path) -> None:
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


def test_503s_are_retried_to_completion(server_factory: StartServer, tmp_path: Path) -> None:
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


def test_drop_after_store_gives_unknown_and_no_duplicates(server_factory: StartServer, tmp_path: Path) -> None:
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


def test_400_on_one_slip_leaves_the_rest_stored(server_factory: StartServer, tmp_path: Path) -> None:
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
