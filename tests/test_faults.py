"""Fault injection end to end: a 5,000-document month uploaded through every fault, and all at once.

The emulator runs as a real server on loopback (slow answers also in-process, where the mock transport
times out at once), the converter as separate processes. After each fault the books must balance:

* what FX stored, by ``journo_read``, is exactly the documents ``done`` in the ledger — each once;
* duplicates = 0;
* done + unknown (要確認) + error = every document, after every run that finished;
* and, after the accountant resolved 要確認 from what FX holds and re-ran: everything done, once.

Run with ``-s`` to see the figures; ``FAULTS_REPORT=path.json`` also writes them to a file.
``SOAK=1`` runs more kill points and more seeds (minutes, not for CI).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import make_mappings, sale, to_csv
from fault_helpers import (
    EMULATOR_TOKEN,
    MAPPINGS,
    OCODE,
    ROOT,
    SOAK,
    EmulatorProcess,
    Figures,
    Month,
    Uploader,
    assert_complete,
    audit,
    child_env,
    converter,
    ledger_records,
    record_figures,
    resolve_from_fx,
    stored_counts,
    write_month,
)
from ledger_helpers import new_ledger

from converter.convert.pipeline import Options
from converter.emulator.server import Emulator
from converter.ledger.ledger import Ledger
from converter.sync.upload import upload_files

pytestmark = pytest.mark.slow  # fault scenarios against emulator processes: each runs for many seconds

KILLS = 60 if SOAK else 20
MAX_SETTLE_RUNS = 12


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Month:
    return write_month(tmp_path_factory.mktemp("month") / "jobcan-2026-10-5000.csv", 5000)


@pytest.fixture
def emulators(tmp_path: Path) -> Iterator[list[EmulatorProcess]]:
    started: list[EmulatorProcess] = []
    yield started
    for server in started:
        server.stop()


def upload_args(month: Month, server: EmulatorProcess, ledger: Path) -> list[str]:
    return ["upload", str(month.path), "-m", str(MAPPINGS), "--base-url", server.url, "--ledger", str(ledger)]


def run_upload(args: list[str], figures: Figures,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = converter(*args, env=env)
    figures.runs += 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "内部エラー" not in output, output[-3000:]
    assert result.returncode in (0, 1), output[-3000:]
    return result


def settle(month: Month, ledger: Path, server: EmulatorProcess, args: list[str], figures: Figures,
           env: dict[str, str] | None = None) -> None:
    """Resolve 要確認 from FX, re-run, until everything is done (bounded: faults stay switched on).
    After every finished run: done + unknown + error = all documents."""
    for _ in range(MAX_SETTLE_RUNS):
        slips = server.slips()
        audit(month, ledger, slips, figures, settled=False)
        if figures.done == month.documents:
            return
        sent, missing = resolve_from_fx(ledger, stored_counts(slips))
        figures.resolved_sent += sent
        figures.resolved_not_sent += missing
        run_upload(args, figures, env)
        audit(month, ledger, server.slips(), figures, settled=True)
    raise AssertionError(f"not settled after {MAX_SETTLE_RUNS} runs: {figures}")


def faults_seen(stats: dict[str, object]) -> dict[str, int]:
    seen = stats.get("faults", {})
    assert isinstance(seen, dict)
    return {str(k): int(v) for k, v in seen.items() if v}


# --------------------------------------------------------------------------- one fault at a time


def test_503_with_retry_after(month: Month, tmp_path: Path, emulators: list[EmulatorProcess]) -> None:
    started = time.monotonic()
    # Seed 4: the first request gets two 503s in a row, later ones some more (one draw per attempt).
    server = EmulatorProcess(tmp_path, "--fail-503-rate", "0.3", "--retry-after", "1", "--random-seed", "4")
    emulators.append(server)
    ledger = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    figures = Figures("503 rate 0.3, Retry-After 1")
    first = run_upload(upload_args(month, server, ledger), figures)
    audit(month, ledger, server.slips(), figures, settled=True)
    # 503 means "not stored": the client waits Retry-After and sends again, so nothing is 要確認.
    assert figures.unknown == 0, first.stdout[-2000:]
    settle(month, ledger, server, upload_args(month, server, ledger), figures)
    figures.faults_seen = faults_seen(server.stats())
    assert figures.faults_seen.get("503", 0) >= 2
    assert_complete(month, ledger, server.slips(), figures)
    figures.seconds = round(time.monotonic() - started, 1)
    record_figures(figures)


def test_slow_answers_past_the_read_timeout(month: Month, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process: the mock transport raises ReadTimeout at once when the answer is slower than the
    client's read timeout (60 s) — after FX stored the slips. Such documents must be 要確認, never resent."""
    started = time.monotonic()
    monkeypatch.setenv("FX_API_TOKEN", EMULATOR_TOKEN)
    emu = Emulator(slow_seconds=61.0, slow_rate=0.3, random_seed=3)
    ledger = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    figures = Figures("slow answers past the read timeout (in-process)")
    _, report = upload_files([month.path], MAPPINGS, Options(), ledger_path=ledger, transport=emu.transport())
    figures.runs += 1
    audit(month, ledger, emu.stored_slips(), figures, settled=True)
    assert report.unknown, "no answer was slow: the fault was not exercised"
    assert figures.unknown == len(report.unknown)
    # Every 要確認 document really is in FX (the timeout came after the store): the trap a blind
    # retry would fall into.
    stored = stored_counts(emu.stored_slips())
    assert all(stored[r.number] for r in ledger_records(ledger).values() if r.status == "unknown")
    for _ in range(MAX_SETTLE_RUNS):
        slips = emu.stored_slips()
        audit(month, ledger, slips, figures, settled=True)
        if figures.done == month.documents:
            break
        sent, missing = resolve_from_fx(ledger, stored_counts(slips))
        figures.resolved_sent += sent
        figures.resolved_not_sent += missing
        upload_files([month.path], MAPPINGS, Options(), ledger_path=ledger, transport=emu.transport())
        figures.runs += 1
    figures.faults_seen = faults_seen(emu.stats())
    assert_complete(month, ledger, emu.stored_slips(), figures)
    figures.seconds = round(time.monotonic() - started, 1)
    record_figures(figures)


def test_slow_answer_past_the_cli_timeout_is_unknown(tmp_path: Path, emulators: list[EmulatorProcess]) -> None:
    """A slow answer past ``--timeout``, through the real server and the CLI: 要確認, not resent, and the
    client did not wait for the answer."""
    server = EmulatorProcess(tmp_path, "--slow-seconds", "4")
    emulators.append(server)
    mappings = make_mappings(tmp_path / "m")
    path = tmp_path / "in.csv"
    path.write_bytes(to_csv([sale(f"D{i}") for i in range(5)]).encode("cp932"))
    ledger = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    args = ("upload", path, "-m", mappings, "--base-url", server.url, "--ledger", ledger, "--timeout", "0.5")
    started = time.monotonic()
    result = converter(*args)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 1, result.stdout + result.stderr
    assert "要確認 5 件" in result.stdout
    assert time.monotonic() - started < 4 + 3  # it did not wait for the slow answer
    assert Counter(r.status for r in ledger_records(ledger).values()) == {"unknown": 5}
    again = converter(*args)
    assert again.returncode == 1 and "送信対象 0 件" in again.stdout, again.stdout
    assert sorted(stored_counts(server.slips()).values()) == [1] * 5  # FX has them: never resent


def test_dropped_connection_after_store(month: Month, tmp_path: Path, emulators: list[EmulatorProcess]) -> None:
    started = time.monotonic()
    # Seed 2: with one draw per request, the 3rd and 4th requests are stored and then dropped.
    server = EmulatorProcess(tmp_path, "--drop-rate", "0.1", "--random-seed", "2")
    emulators.append(server)
    ledger = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    args = upload_args(month, server, ledger)
    figures = Figures("dropped connection after store, rate 0.1")
    first = run_upload(args, figures)
    assert first.returncode == 1, first.stdout[-2000:]
    slips = server.slips()
    audit(month, ledger, slips, figures, settled=True)
    assert figures.unknown > 0, "no connection was dropped: the fault was not exercised"
    # A second run must not send the 要確認 documents again (FX has them).
    again = run_upload(args, figures)
    assert again.returncode == 1 and "送信対象 0 件" in again.stdout, again.stdout[-2000:]
    audit(month, ledger, server.slips(), figures, settled=True)
    # Resolve through the command the accountant uses, from what FX holds.
    stored = stored_counts(server.slips())
    unknown = [r for r in ledger_records(ledger).values() if r.status == "unknown"]
    sent = [r.key for r in unknown if stored[r.number]]
    missing = [r.key for r in unknown if not stored[r.number]]
    for keys, flag in ((sent, "--sent"), (missing, "--not-sent")):
        if keys:
            done = converter("resolve", *keys, flag, "--ledger", ledger, "-m", MAPPINGS)
            assert done.returncode == 0, done.stderr
    figures.resolved_sent, figures.resolved_not_sent = len(sent), len(missing)
    settle(month, ledger, server, args, figures)
    figures.faults_seen = faults_seen(server.stats())
    assert_complete(month, ledger, server.slips(), figures)
    figures.seconds = round(time.monotonic() - started, 1)
    record_figures(figures)


# --------------------------------------------------------------------------- SIGKILL at random points


@dataclass(frozen=True)
class Timing:
    """How long an uninterrupted upload of the month takes: to the first ledger write, and per request."""

    start: float
    per_request: float


def calibrate(month: Month, folder: Path, env: dict[str, str], timeout: str = "60") -> Timing:
    """One whole upload against a throwaway emulator and ledger (so that kill points can be aimed at the
    send loop on a machine of any speed)."""
    folder.mkdir()
    server = EmulatorProcess(folder)
    ledger = new_ledger(folder / "ledger.sqlite", OCODE)
    try:
        proc = Uploader([*upload_args(month, server, ledger), "--timeout", timeout], env, folder / "calibrate.log")
        proc.go()
        start = 0.0
        while proc.proc.poll() is None:
            if not start and ledger.exists():
                start = time.monotonic() - proc.started
            time.sleep(0.01)
        total = time.monotonic() - proc.started
        proc.discard()
        assert proc.proc.returncode == 0, (folder / "calibrate.log").read_text("utf-8", "replace")[-2000:]
    finally:
        server.stop()
    return Timing(start, max(0.05, (total - start) / max(1, month.requests)))


def kill_rounds(month: Month, ledger: Path, server: EmulatorProcess, args: list[str], figures: Figures,
                rng: random.Random, timing: Timing, *, kills: int, env: dict[str, str], log: Path) -> None:
    """Kill the uploader ``kills`` times at random points, resolving 要確認 from FX after each.

    The delay after "go" (imports are done) is aimed at the send loop: the conversion's time plus up to
    about one request of the work — so kills land before the ledger is opened, between mark_sending and
    the POST, while FX stores or answers, and while the answer is recorded, and the month is not done
    after three rounds. If it is done anyway, later kills land in re-runs (conversion, recover, planning).
    """
    pending = Uploader(args, env, log)
    start = timing.start  # learnt again each round: when a re-run first writes to the ledger
    try:
        for _ in range(kills * 3):
            if figures.kill_points >= kills:
                break
            proc = pending
            if figures.done == month.documents:
                delay = rng.uniform(0.05, start * 1.2)
            else:
                delay = start + timing.per_request * rng.uniform(-0.1, 0.9)
            before = ledger_records(ledger)
            proc.go()
            killed, first_write = proc.run_for(max(0.05, delay), watch=ledger)
            if first_write is not None:
                start = (start + first_write) / 2
            elif killed:  # killed before its first write: the send loop starts later than we thought
                start = min(max(start, delay) * 1.15, 30.0)
            # The next process imports while this round is audited — not while it runs, which would slow
            # it down and move the kill points out of the send loop.
            pending = Uploader(args, env, log)
            figures.runs += 1
            if os.environ.get("KILL_DEBUG"):
                print(f"round: delay {delay:.2f} killed {killed} first write {first_write} start {start:.2f} "
                      f"done {figures.done} {timing}", flush=True)
            if killed:
                figures.kill_points += 1
                after = ledger_records(ledger)
                if any(r.status == "sending" for r in after.values()) or after != before:
                    figures.kills_while_sending += 1
            else:
                assert proc.proc.returncode in (0, 1), log.read_text("utf-8", "replace")[-3000:]
            slips = server.slips()
            # A killed run may leave 連携中; a finished one may not.
            audit(month, ledger, slips, figures, settled=False)
            sent, missing = resolve_from_fx(ledger, stored_counts(slips))
            figures.resolved_sent += sent
            figures.resolved_not_sent += missing
            audit(month, ledger, server.slips(), figures, settled=False)
        else:
            raise AssertionError(f"the uploader kept finishing before its kill point: {figures}")
    finally:
        pending.discard()


def test_sigkill_at_random_points_then_rerun_until_done(month: Month, tmp_path: Path,
                                                       emulators: list[EmulatorProcess]) -> None:
    started = time.monotonic()
    server = EmulatorProcess(tmp_path)
    emulators.append(server)
    ledger = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    args = upload_args(month, server, ledger)
    figures = Figures("client SIGKILLed at random points")
    log = tmp_path / "uploads.log"
    timing = calibrate(month, tmp_path / "calibration", child_env())
    kill_rounds(month, ledger, server, args, figures, random.Random(int(os.environ.get("KILL_SEED", "11"))), timing,
                kills=KILLS, env=child_env(), log=log)
    assert "Traceback" not in log.read_text("utf-8", "replace")
    settle(month, ledger, server, args, figures)
    # The last word: an ordinary run finds nothing to send and the books balance.
    final = run_upload(args, figures)
    assert final.returncode == 0 and "送信対象 0 件" in final.stdout, final.stdout[-2000:]
    assert_complete(month, ledger, server.slips(), figures)
    assert figures.kill_points >= KILLS
    figures.seconds = round(time.monotonic() - started, 1)
    record_figures(figures)


# --------------------------------------------------------------------------- all at once


@pytest.mark.parametrize("seed", [7, 8, 9, 10, 11] if SOAK else [7])
def test_all_faults_at_once(seed: int, month: Month, tmp_path: Path, emulators: list[EmulatorProcess]) -> None:
    """503s with Retry-After, slow answers past the read timeout, drops after store and kills, together."""
    started = time.monotonic()
    server = EmulatorProcess(tmp_path, "--fail-503-rate", "0.3", "--retry-after", "1", "--drop-rate", "0.1",
                             "--slow-seconds", "2.5", "--slow-rate", "0.25", "--random-seed", str(seed))
    emulators.append(server)
    ledger = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    args = [*upload_args(month, server, ledger), "--timeout", "1"]  # the slow answers take 2.5 s
    env = child_env()
    figures = Figures(f"all at once: 503 0.3 + slow past timeout 0.25 + drop 0.1 + SIGKILL (seed {seed})")
    log = tmp_path / "uploads.log"
    timing = calibrate(month, tmp_path / "calibration", env, timeout="1")
    kill_rounds(month, ledger, server, args, figures, random.Random(5), timing, kills=20 if SOAK else 6, env=env,
                log=log)
    settle(month, ledger, server, args, figures, env)
    figures.faults_seen = faults_seen(server.stats())
    assert "Traceback" not in log.read_text("utf-8", "replace")
    assert_complete(month, ledger, server.slips(), figures)
    for kind in ("503", "drop", "slow") if seed == 7 else ():  # seed 7: each fault happens at least once
        assert figures.faults_seen.get(kind, 0) > 0, f"fault {kind} never happened: {figures.faults_seen}"
    figures.seconds = round(time.monotonic() - started, 1)
    record_figures(figures)


# --------------------------------------------------------------------------- two runs, one ledger


def test_second_upload_on_the_same_ledger_is_refused(tmp_path: Path, emulators: list[EmulatorProcess]) -> None:
    """Two uploads at once (two terminals, a cron job and a person): the second refuses at once with a
    clear message, sends nothing, and the first finishes normally. resolve and retry need the lock too;
    history (read-only) works meanwhile."""
    month = write_month(tmp_path / "jobcan-1500.csv", 1500, seed=5)
    server = EmulatorProcess(tmp_path, "--slow-seconds", "4")  # each request answers after 4 s: time to collide
    emulators.append(server)
    ledger = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    args = upload_args(month, server, ledger)
    first = subprocess.Popen([sys.executable, "-m", "converter", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=child_env(), cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not any(r.status == "sending" for r in ledger_records(ledger).values()):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first upload never started sending"
            time.sleep(0.05)
        requests_before = server.stats()["import_requests"]
        some_key = next(iter(ledger_records(ledger)))
        others = {  # started together, so they all meet the first run while it holds the lock
            "upload": args,
            "retry": ["retry", *args[1:]],
            "resolve": ["resolve", some_key, "--sent", "--ledger", str(ledger), "-m", str(MAPPINGS)],
            "history": ["history", "--ledger", str(ledger), "-m", str(MAPPINGS)],
        }
        procs = {name: subprocess.Popen([sys.executable, "-m", "converter", *command], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=child_env(), cwd=ROOT)
                 for name, command in others.items()}
        outputs = {name: p.communicate(timeout=120) for name, p in procs.items()}
        results = {name: (procs[name].returncode, *outputs[name]) for name in procs}
        assert first.poll() is None, "the first upload ended before the others ran: the test proves nothing"
        for name in ("upload", "retry", "resolve"):
            code, out, err = results[name]
            assert code == 2, (name, out, err)
            assert "別の処理がこの台帳を使用中です" in err and f"pid {first.pid}" in err, (name, err)
            assert "Traceback" not in out + err and "送信結果" not in out, (name, out, err)
        code, out, err = results["history"]  # read-only: works while a run is sending
        assert code == 0 and "Traceback" not in out + err, err
        # The refused runs sent nothing: only the first run's next request can have reached FX meanwhile.
        assert server.stats()["import_requests"] <= requests_before + 1
        out, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, out[-2000:] + err[-2000:]
    figures = Figures("two uploads at once")
    assert_complete(month, ledger, server.slips(), figures)
    assert server.stats()["import_requests"] == month.requests


# --------------------------------------------------------------------------- the ledger under SIGKILL

HAMMER = textwrap.dedent("""
    import random, sys
    from converter.ledger.ledger import DocumentInfo, Ledger
    path, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    groups = [[f"g{g:02d}-{i:03d}" for i in range(100)] for g in range(20)]
    led = Ledger.open(path, ocode="OCODE", lock=True)
    led.recover()
    print("ready", flush=True)
    while True:
        group = rng.choice(groups)
        records = led.get(group)
        if not records:
            led.assign_ids([DocumentInfo(k, f"h{rng.random()}", "売上", k, "20261001", 1) for k in group])
            continue
        status = records[group[0]].status
        if status in ("pending", "error"):
            led.mark_sending([DocumentInfo(k, f"h{rng.random()}", "売上", k, "20261001", 2) for k in group])
        elif status == "sending":
            rng.choice([lambda: led.mark_done(group, messages={k: "ok" for k in group}),
                        lambda: led.mark_unknown(group, "timeout"),
                        lambda: led.mark_unsent(group, "503"),
                        lambda: led.mark_error({k: "400" for k in group})])()
        elif status == "unknown":
            led.resolve(group, sent=rng.random() < 0.5)
        elif status == "done":
            led.forget(group, force=True)
        else:
            led.assign_ids([DocumentInfo(k, "h") for k in group])
""").replace("OCODE", OCODE)


def test_ledger_survives_sigkill_mid_write(tmp_path: Path) -> None:
    """A process moving groups of 100 documents through every transition, killed at random moments
    (inside SQLite transactions too): each time the ledger opens, passes its integrity check, and every
    group is whole — one status for all of its documents, never half a transition."""
    started = time.monotonic()
    path = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    rng = random.Random(3)
    kills = 0
    rounds = 100 if SOAK else 25
    for round_no in range(rounds):
        child = subprocess.Popen([sys.executable, "-c", HAMMER, str(path), str(round_no)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=child_env(), cwd=ROOT)
        assert child.stdout is not None
        ready = child.stdout.readline()
        assert ready.strip() == b"ready", child.communicate()
        time.sleep(rng.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL, err.decode()
        kills += 1
        with Ledger.open(path, ocode=OCODE, lock=True) as book:
            assert book.check() == []
            records = book.documents()
            by_group: dict[str, set[str]] = {}
            for r in records:
                by_group.setdefault(r.key.split("-")[0], set()).add(r.status)
            members = Counter(r.key.split("-")[0] for r in records)
            assert all(len(s) == 1 for s in by_group.values()), by_group
            assert all(n == 100 for n in members.values()), members
            ids = [r.journo_read for r in records]
            nexts = book.next_numbers("journo_read", {r.fy for r in records})
            assert len(ids) == len(set(ids)) and all(r.number < nexts[r.fy] for r in records)
    figures = Figures("ledger: SIGKILL mid-write (20 groups × 100 documents)", kill_points=kills,
                      seconds=round(time.monotonic() - started, 1))
    record_figures(figures)


# --------------------------------------------------------------------------- the kill window


def test_done_is_committed_promptly_after_fx_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between FX's 201 and the ``done`` commit, a kill leaves the whole request 要確認 (manual checks in
    FX for ~800 documents). The kill suite shows it: nearly every kill in the send loop lands there,
    because the answer's みなし informations are traced to source rows before ``mark_done``. The window
    must be the commit itself, not the tracing (here: one request, 1,000 documents, 1,000 informations).
    """
    monkeypatch.setenv("FX_API_TOKEN", EMULATOR_TOKEN)
    mappings = make_mappings(tmp_path / "m")
    path = tmp_path / "in.csv"
    path.write_bytes(to_csv([sale(f"D{i:04d}") for i in range(1000)]).encode("cp932"))
    emu = Emulator()
    inner = emu.transport()
    answered: list[float] = []
    committed: list[float] = []

    class Timed(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = inner.handle_request(request)
            if request.url.path.endswith("/slips/import"):
                answered.append(time.monotonic())
            return response

    mark_done = Ledger.mark_done

    def timed_mark_done(self: Ledger, *args: Any, **kwargs: Any) -> None:
        mark_done(self, *args, **kwargs)
        committed.append(time.monotonic())

    monkeypatch.setattr(Ledger, "mark_done", timed_mark_done)
    _, report = upload_files([path], mappings, Options(), ledger_path=new_ledger(tmp_path / "l.sqlite", OCODE),
                                 transport=Timed())
    assert len(report.sent) == 1000 and len(report.messages) == 1000 and len(answered) == len(committed) == 1
    gap = committed[0] - answered[0]
    print(f"\n[kill window] FX answered → done committed: {gap:.2f} s for 1,000 documents")
    # The commit alone takes a few hundredths of a second; tracing 1,000 answers line by line takes ~0.5-1 s.
    assert gap < 0.25, f"{gap:.2f} s between FX's 201 and the done commit: a kill there makes 1,000 documents 要確認"
