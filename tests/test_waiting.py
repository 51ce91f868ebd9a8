"""Waiting and progress (issue 18): bounded waits on FX, and progress on every long step.

* Timeouts: connect 10 s, read 60 s, and the client's patience (120 s without any answer) end a
  command against a server that accepts connections and never answers — a GET says
  FX から応答がありません (not FX に接続できません); an upload whose POSTs go unanswered makes the
  unanswered request 要確認, stops, and leaves the rest 連携待ち. The default case is measured once
  (slow); the others run with small timeouts.
* Progress off a terminal (CliRunner, cron): a line every few seconds on stderr, nothing for a
  quick run; the review workbook says which sheet it is writing.
"""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from click.testing import CliRunner
from conftest import make_mappings, sale, to_csv
from ledger_helpers import new_ledger

import converter.cli.progress as progress_module
import converter.fx.client as client_module
import converter.review.workbook as workbook_module
from converter.cli import main
from converter.cli.progress import Heartbeat, elapsed
from converter.convert.pipeline import Options, convert
from converter.emulator.server import Emulator
from converter.fx.client import FXClient
from converter.ledger.ledger import Ledger
from converter.review.workbook import SAVING, write_review

OCODE = "tc09999001"
TOKEN = "emulator-token"
NO_ANSWER = re.compile(r"FX から応答がありません \((\d+) 秒以上\)。FX が混み合っているか停止している可能性があります。"
                       r"時間をおいてやり直してください \(待ち時間は --timeout で延ばせます\)")


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert "内部エラー" not in result.stderr, result.stderr
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FX_API_TOKEN", TOKEN)
    make_mappings(tmp_path / "mappings")
    return tmp_path


def write_export(n: int, name: str = "in.csv") -> Path:
    path = Path(name)
    path.write_bytes(to_csv([sale(f"INV-{i}", 1100, 100) for i in range(n)]).encode("cp932"))
    return path


@pytest.fixture
def silent() -> Iterator[str]:
    """A server that accepts every connection and never answers (nor reads)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)  # the kernel completes the handshakes: connecting succeeds, answers never come
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


class _GetOnly(BaseHTTPRequestHandler):
    """FX that answers the masters' GETs and never answers a POST (it stays silent for 30 s)."""

    protocol_version = "HTTP/1.1"
    posts: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        body = json.dumps({"inpjourconfig": {"is_auto_numbering_journo": False}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posts.append(1)
        time.sleep(30)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def get_only() -> Iterator[tuple[str, list[int]]]:
    posts: list[int] = []
    handler = type("Handler", (_GetOnly,), {"posts": posts})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", posts
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """No backoff between retries, and a patience of 1 s (the default is 120 s)."""
    monkeypatch.setattr(client_module.RetryPolicy, "delay", lambda self, attempt, retry_after: 0.0)
    monkeypatch.setattr(client_module, "PATIENCE", 1.0)


# --------------------------------------------------------------------------- the client


def test_the_default_timeouts_are_10_s_to_connect_60_s_to_answer_and_120_s_of_patience() -> None:
    client = FXClient("http://127.0.0.1:9", OCODE, TOKEN)
    assert (client.timeout.connect, client.timeout.read, client.patience) == (10.0, 60.0, 120.0)
    longer = FXClient("http://127.0.0.1:9", OCODE, TOKEN, timeout=client_module.timeouts(90)[0])
    assert (longer.timeout.connect, longer.timeout.read, longer.patience) == (10.0, 90.0, 180.0)


def test_a_silent_server_uses_up_the_patience_and_then_nothing_is_sent(silent: str) -> None:
    client = FXClient(silent, OCODE, TOKEN, timeout=httpx.Timeout(0.2), patience=0.5)
    started = time.monotonic()
    first = client.import_slips(b'{"slips":[]}')
    assert first.outcome == "ambiguous" and "応答がありません" in first.message
    results = [client.import_slips(b'{"slips":[]}') for _ in range(3)]
    took = time.monotonic() - started
    assert results[-1].outcome == "not_sent" and results[-1].gave_up and results[-1].attempts == 0
    assert NO_ANSWER.fullmatch(results[-1].message), results[-1].message
    assert took < 0.5 + 0.2 + 0.5  # the last waits were cut to what was left of the patience


def test_an_answer_resets_the_patience() -> None:
    now = [0.0]
    emu = Emulator(token=TOKEN, fault_plan=["slow", "ok", "slow"], slow_seconds=61)
    client = FXClient("http://127.0.0.1:9", OCODE, TOKEN, transport=emu.transport(), patience=100,
                      clock=lambda: now[0])
    assert client.import_slips(b'{"slips":[]}').outcome == "ambiguous"
    now[0] = 90.0
    assert client.import_slips(b'{"slips":[]}').outcome == "stored"  # an answer
    now[0] = 200.0
    assert client.import_slips(b'{"slips":[]}').outcome == "ambiguous"  # not given up: 0 s of silence before it


# --------------------------------------------------------------------------- the commands


def test_masters_pull_from_a_silent_server_says_no_answer(here: Path, silent: str, quick_retries: None) -> None:
    started = time.monotonic()
    code, out, err = invoke("masters", "pull", "-m", "mappings", "--base-url", silent, "--timeout", "0.2")
    assert code == 2 and out == ""
    line = err.splitlines()[-1]
    assert line.startswith("エラー: ") and line.endswith(": v3/accounts"), err
    assert NO_ANSWER.fullmatch(line.removeprefix("エラー: ").removesuffix(": v3/accounts")), line
    assert "接続できません" not in err
    assert time.monotonic() - started < 10
    assert not (here / "mappings" / "masters").exists()


def test_masters_pull_timeout_must_be_positive(here: Path) -> None:
    code, _, err = invoke("masters", "pull", "-m", "mappings", "--timeout", "0")
    assert code == 2 and "--timeout" in err


def test_upload_to_a_silent_server_gives_up_and_sends_nothing(here: Path, silent: str, quick_retries: None) -> None:
    ledger = new_ledger(here / "l.sqlite", OCODE)
    write_export(3)
    started = time.monotonic()
    code, _, err = invoke("upload", "in.csv", "-m", "mappings", "--ledger", ledger, "--base-url", silent,
                          "--timeout", "0.2")
    assert code == 2
    assert NO_ANSWER.search(err) and err.endswith(": v1/inpjourconfig\n"), err
    assert time.monotonic() - started < 15
    with Ledger.open(ledger, ocode=OCODE, readonly=True) as book:
        assert book.documents() == []  # asked before anything was registered


def test_upload_whose_requests_go_unanswered_stops_and_leaves_the_rest_pending(
        here: Path, get_only: tuple[str, list[int]], quick_retries: None, monkeypatch: pytest.MonkeyPatch) -> None:
    url, posts = get_only
    monkeypatch.setattr(client_module, "PATIENCE", 0.4)  # 0.6 s with --timeout 0.3: one or two requests
    ledger = new_ledger(here / "l.sqlite", OCODE)
    write_export(3000)  # 6,000 detail lines: three requests of at most 2,000
    code, out, _ = invoke("upload", "in.csv", "-m", "mappings", "--ledger", ledger, "--base-url", url,
                          "--timeout", "0.3")
    assert code == 1, out[-2000:]
    with Ledger.open(ledger, ocode=OCODE, readonly=True) as book:
        statuses: Counter[str] = Counter(str(r.status) for r in book.documents())
    # The first request was sent and not answered: 要確認 (FX may hold it). Once the patience was
    # used up nothing more was sent: the rest waits (連携待ち), no エラー.
    assert 1000 <= statuses["unknown"] <= 2000 and statuses["unknown"] == 1000 * len(posts), (statuses, posts)
    assert statuses["pending"] == 3000 - statuses["unknown"] and set(statuses) == {"unknown", "pending"}
    assert "送信を中止しました: FX から応答がありません" in out
    assert f"未送信のまま連携待ちの帳票 {statuses['pending']} 件" in out


@pytest.mark.slow
def test_upload_to_a_silent_server_gives_up_within_two_minutes_by_default(tmp_path: Path, silent: str) -> None:
    """Measured with the real defaults (60 s read timeout, 120 s patience), in a child process."""
    mappings = make_mappings(tmp_path / "mappings")
    export = tmp_path / "in.csv"
    export.write_bytes(to_csv([sale("INV-1")]).encode("cp932"))
    ledger = new_ledger(tmp_path / "l.sqlite", OCODE)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "converter", "upload", str(export), "-m", str(mappings),
                           "--ledger", str(ledger), "--base-url", silent],
                          env={"FX_API_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                          timeout=200, check=False)
    took = time.monotonic() - started
    assert done.returncode == 2, done.stderr[-2000:]
    found = NO_ANSWER.search(done.stderr)
    assert found and 110 <= int(found[1]) <= 125, done.stderr[-2000:]
    assert 110 < took < 150, took
    assert "送信 0/1 件 (経過" in done.stderr  # off a terminal, a progress line every few seconds


# --------------------------------------------------------------------------- progress


def test_a_heartbeat_off_a_terminal_prints_a_line_every_few_seconds() -> None:
    stream = io.StringIO()
    beat = Heartbeat("読み込み・確認中", stream=stream, every=0.05, tty=False).start()
    time.sleep(0.17)
    beat.status = "送信 12/92 件"
    time.sleep(0.12)
    beat.stop()
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 4, lines
    assert all(re.fullmatch(r"(読み込み・確認中|送信 12/92 件) \(経過 0 秒\)", line) for line in lines), lines
    assert lines[0].startswith("読み込み・確認中") and lines[-1].startswith("送信 12/92 件")


def test_a_quick_step_prints_nothing() -> None:
    stream = io.StringIO()
    Heartbeat("読み込み・確認中", stream=stream, tty=False).start().stop()
    assert stream.getvalue() == ""


def test_on_a_terminal_the_line_is_redrawn_in_place_and_cleared() -> None:
    stream = io.StringIO()
    beat = Heartbeat("送信 1/2 件", stream=stream, every=0.05, tty=True).start()
    time.sleep(0.12)
    beat.stop()
    text = stream.getvalue()
    assert "\n" not in text and text.startswith("\r送信 1/2 件 (経過 0 秒)")
    assert text.endswith("\r" + " " * len("送信 1/2 件 (経過 0 秒)".encode("cp932")) + "\r")


def test_elapsed_reads_in_minutes_past_one() -> None:
    assert (elapsed(0.4), elapsed(59.9), elapsed(65), elapsed(3600)) == (
        "経過 0 秒", "経過 59 秒", "経過 1 分 05 秒", "経過 60 分 00 秒")


def test_upload_off_a_terminal_shows_progress_lines(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module, "EVERY", 0.05)
    emu = Emulator(token=TOKEN, slow_seconds=0.4)
    ledger = new_ledger(here / "l.sqlite", OCODE)
    write_export(4)
    with emu.serve(port=0) as server:
        code, out, err = invoke("upload", "in.csv", "-m", "mappings", "--ledger", ledger, "--base-url", server.url)
    assert code == 0, out + err
    beats = [line for line in err.splitlines() if "(経過" in line]
    assert beats and all(re.fullmatch(r"(読み込み・確認中|送信 [04]/4 件) \(経過 \d+ 秒\)", b) for b in beats), beats
    assert "送信 0/4 件 (経過 0 秒)" in beats  # the slow answer was waited for with a line on stderr
    assert "(経過" not in out  # reports stay clean on stdout


def test_the_review_workbook_tells_each_sheet(here: Path) -> None:
    write_export(3)
    conversion = convert([Path("in.csv")], Path("mappings"), Options())
    told: list[tuple[str, int, int]] = []
    write_review(conversion, Path("review.xlsx"), progress=lambda *step: told.append(step))
    assert [sheet for sheet, _, _ in told] == ["サマリー", "仕訳明細", "仕訳明細", "エラー", "お知らせ",
                                               "未設定マッピング", "スキップ", SAVING]
    assert told[1:3] == [("仕訳明細", 0, 6), ("仕訳明細", 6, 6)]  # and after every 50,000 lines


def test_preview_off_a_terminal_says_which_sheet_is_being_written(
        here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module, "EVERY", 0.05)
    real_save = workbook_module._save

    def slow_save(wb: Any, handle: Any) -> None:
        time.sleep(0.3)  # a 100,000-line workbook takes a minute here
        real_save(wb, handle)

    monkeypatch.setattr(workbook_module, "_save", slow_save)
    write_export(3)
    code, _, err = invoke("preview", "in.csv", "-m", "mappings", "-o", "review.xlsx")
    assert code == 0
    assert "確認用ブック: ファイルへ保存 (経過 0 秒)\n" in err, err
    assert err.endswith("確認用ブックを書き出しました: review.xlsx\n")
