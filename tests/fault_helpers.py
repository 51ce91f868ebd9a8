"""Shared machinery of the fault, fuzz and security suites.

* :class:`EmulatorProcess` — the real FX emulator as a separate process on loopback (what a user
  rehearses against), with its inspection endpoints.
* :func:`converter` / :class:`Uploader` — the converter as separate processes; ``Uploader`` starts the
  interpreter and imports ahead of time so a kill round does not pay ~1 s of imports.
* :class:`Month` — a realistic 5,000-document month from ``tests/factories.py`` and what the
  conversion makes of it (documents, slips per document).
* :func:`audit` — the exactly-once check: what FX stored (by ``journo_read``) against the ledger.
* :func:`resolve_from_fx` — what the accountant does for 要確認: look in FX and answer.
* :func:`record_figures` — print the figures and, when ``FAULTS_REPORT`` names a file, merge them
  into that JSON file (one key per fault).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import factories
import httpx

from converter.convert.pipeline import Options, convert
from converter.ledger.ledger import Ledger

ROOT = Path(__file__).resolve().parent.parent


def _upload_mappings() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="upload-mappings-"))
    atexit.register(shutil.rmtree, folder, True)
    return factories.write_upload_mappings(folder)


#: ``mappings/`` as uploads without a master cache need it: the exports' 随時の取引先 (name only)
#: mapped to FX's その他 (999999), since FX requires a 取引先コード on 売掛金/買掛金 and the
#: emulator enforces it (issue 16; the product's answer, one_off_customer_code, needs the cache).
MAPPINGS = _upload_mappings()
OCODE = "tc09999001"
EMULATOR_TOKEN = "emulator-token"
#: Opt-in long runs: more kill points, more seeds, more fuzz examples.
SOAK = os.environ.get("SOAK", "") not in ("", "0")


def child_env(token: str = EMULATOR_TOKEN, **extra: str) -> dict[str, str]:
    """Environment of a converter process: the token only here, never on a command line."""
    env = {k: v for k, v in os.environ.items() if k not in ("FX_API_TOKEN", "CONVERTER_DEBUG")}
    env.update({"FX_API_TOKEN": token, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}, **extra)
    return env


def converter(*args: str | Path, env: dict[str, str] | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "converter", *map(str, args)], capture_output=True, text=True,
                          env=env or child_env(), cwd=ROOT, timeout=timeout)


# --------------------------------------------------------------------------- the emulator


class EmulatorProcess:
    """``converter emulator --port 0`` in its own process; the stderr banner carries the port."""

    def __init__(self, folder: Path, *options: str, token: str = EMULATOR_TOKEN) -> None:
        self.store = folder / "fx-store.jsonl"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "converter", "emulator", "--port", "0", "--store", str(self.store),
             "--token", token, *options],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=child_env(), cwd=ROOT)
        assert self.proc.stderr is not None
        banner = self.proc.stderr.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", banner)
        if not match:
            self.stop()
            raise AssertionError(f"the emulator did not start: {banner}")
        self.url = match.group(1)

    def slips(self) -> list[dict[str, Any]]:
        data = httpx.get(self.url + "/_emulator/slips", timeout=60).json()
        return list(data["slips"] if isinstance(data, dict) else data)

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(self.url + "/_emulator/stats", timeout=60).json())

    def set_faults(self, **changes: Any) -> None:
        answer = httpx.post(self.url + "/_emulator/faults", json=changes, timeout=60)
        assert answer.status_code == 200, answer.text

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def stored_counts(slips: list[dict[str, Any]]) -> Counter[int]:
    """Stored slips per journo_read (the 連携番号 of the source document; one fiscal year here)."""
    return Counter(int(s["journo_read"]) for s in slips if str(s["journo_read"]).isdigit())


# --------------------------------------------------------------------------- the month


@dataclass(frozen=True)
class Month:
    """A generated month and what the conversion makes of it."""

    path: Path
    slips_per_doc: dict[str, int]  # document key → slips it becomes (a >60-line side is split)
    requests: int
    rows: int

    @property
    def documents(self) -> int:
        return len(self.slips_per_doc)


def write_month(path: Path, n_documents: int = 5000, seed: int = 20261001) -> Month:
    """A realistic month (tests/factories.py); every value maps with ``MAPPINGS``."""
    rows = factories.generate_jobcan_rows(n_documents, seed)
    factories.write_jobcan_csv(rows, path)
    conversion = convert([path], MAPPINGS, Options())
    assert conversion.ok, conversion.problems[:5]
    docs = conversion.documents
    return Month(path, {str(d): int(s) for d, s in zip(docs["doc"], docs["slips"], strict=True)},
                 len(conversion.requests), len(rows))


# --------------------------------------------------------------------------- the ledger


def ledger_records(path: Path) -> dict[str, Any]:
    """key → DocumentRecord (read-only; an absent ledger is empty)."""
    if not path.exists():
        return {}
    with Ledger.open(path, ocode=OCODE, readonly=True) as book:
        return {r.key: r for r in book.documents()}


def resolve_from_fx(ledger_path: Path, stored: Counter[int]) -> tuple[int, int]:
    """Answer every 要確認 document from what FX holds; returns (sent, not sent).

    Done in-process with the same Ledger.resolve the ``converter resolve`` command calls (a kill round
    cannot afford two more interpreter starts); test_faults also drives the command itself once.
    """
    if not ledger_path.exists():
        return 0, 0
    with Ledger.open(ledger_path, ocode=OCODE, lock=True) as book:
        unknown = book.documents("unknown")
        sent = [r.key for r in unknown if stored[r.number] > 0]
        missing = [r.key for r in unknown if stored[r.number] == 0]
        if sent:
            book.resolve(sent, sent=True, message="テスト: FX に登録済みを確認")
        if missing:
            book.resolve(missing, sent=False, message="テスト: FX に未登録を確認")
        return len(sent), len(missing)


# --------------------------------------------------------------------------- the audit


@dataclass
class Figures:
    """What one fault run ends with; printed and written to FAULTS_REPORT."""

    fault: str
    documents: int = 0
    done: int = 0
    unknown: int = 0
    error: int = 0
    pending: int = 0
    sending: int = 0
    stored_slips: int = 0
    stored_documents: int = 0
    duplicates: int = 0
    kill_points: int = 0
    kills_while_sending: int = 0
    runs: int = 0
    resolved_sent: int = 0
    resolved_not_sent: int = 0
    faults_seen: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def audit(month: Month, ledger_path: Path, slips: list[dict[str, Any]], figures: Figures, *,
          settled: bool) -> Figures:
    """The exactly-once invariants; ``settled``: a run finished, so nothing may be pending or sending.

    * every stored slip belongs to a document the ledger knows, and no document is stored more often
      than it has slips (duplicates = 0);
    * every ``done`` document is stored with all its slips;
    * a document in ``pending``/``error`` is not stored (else the next run would post it twice);
    * stored slips belong to ``done`` or ``unknown`` documents only;
    * after a finished run: done + unknown + error = all documents of the month.
    """
    records = ledger_records(ledger_path)
    stored = stored_counts(slips)
    by_id = {r.number: r for r in records.values()}
    status = Counter(r.status for r in records.values())
    strangers = sorted(set(stored) - set(by_id))
    assert not strangers, f"FX holds slips whose journo_read the ledger does not know: {strangers[:10]}"
    duplicates = {r.key: stored[i] for i, r in by_id.items() if stored[i] > month.slips_per_doc.get(r.key, 1)}
    not_stored = [r.key for r in records.values() if r.status == "done"
                  and stored[r.number] != month.slips_per_doc.get(r.key, 1)]
    stored_but_unsent = [r.key for r in records.values() if r.status in ("pending", "error")
                         and stored[r.number] > 0]
    figures.documents = month.documents
    figures.done, figures.unknown, figures.error = status["done"], status["unknown"], status["error"]
    figures.pending, figures.sending = status["pending"], status["sending"]
    figures.stored_slips = sum(stored.values())
    figures.stored_documents = len(stored)
    figures.duplicates = sum(n - month.slips_per_doc.get(k, 1) for k, n in duplicates.items())
    assert not duplicates, f"posted twice: {list(duplicates.items())[:10]}"
    assert not not_stored, f"done in the ledger but not (fully) in FX: {not_stored[:10]}"
    assert not stored_but_unsent, f"in FX but pending/error in the ledger (would post twice): {stored_but_unsent[:10]}"
    if records:
        with Ledger.open(ledger_path, ocode=OCODE, readonly=True) as book:
            assert book.check() == [], book.check()
    if settled:
        assert set(records) == set(month.slips_per_doc), "the ledger lost or invented documents"
        assert figures.done + figures.unknown + figures.error == month.documents, figures
    return figures


def assert_complete(month: Month, ledger_path: Path, slips: list[dict[str, Any]], figures: Figures) -> None:
    """The end state: every document done, each stored exactly once, stored = done."""
    audit(month, ledger_path, slips, figures, settled=True)
    assert figures.done == month.documents, figures
    assert figures.stored_documents == figures.done, figures
    assert figures.stored_slips == sum(month.slips_per_doc.values()), figures
    assert figures.duplicates == 0


def record_figures(figures: Figures) -> None:
    row = asdict(figures)
    print(f"\n[fault figures] {json.dumps(row, ensure_ascii=False)}", flush=True)
    target = os.environ.get("FAULTS_REPORT")
    if not target:
        return
    path = Path(target)
    data = json.loads(path.read_text("utf-8")) if path.exists() and path.stat().st_size else {}
    data[figures.fault] = row
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), "utf-8")


# --------------------------------------------------------------------------- pre-started uploads

_ZYGOTE = (
    "import sys\n"
    "from converter.cli import main\n"
    "import converter.sync.upload, converter.review.workbook, httpx\n"  # everything a run imports, before the go line
    "open(sys.argv[1], 'w').close()\n"  # imports done
    "if sys.stdin.readline().strip() == 'go':\n"
    "    main(sys.argv[2:], prog_name='converter')\n"
)


def _signature(ledger: Path | None) -> tuple[int, ...]:
    """Changes with every committed write to a WAL-mode SQLite file (its -wal grows or reappears)."""
    if ledger is None:
        return ()
    out: list[int] = []
    for path in (ledger, Path(f"{ledger}-wal")):
        try:
            st = path.stat()
            out += [st.st_mtime_ns, st.st_size]
        except FileNotFoundError:
            out += [0, 0]
    return tuple(out)


class Uploader:
    """A converter process whose imports are done; ``go()`` starts the command at once.

    The next round's process is started while this one runs, so a kill round costs the conversion
    and the sending only. The process is a real, separate interpreter: SIGKILL is what it gets.
    """

    _count = 0

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        Uploader._count += 1
        self.ready = log.with_name(f"{log.name}.ready-{os.getpid()}-{Uploader._count}")
        self._log = log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-c", _ZYGOTE, str(self.ready), *args], stdin=subprocess.PIPE,
                                     stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        self.started = 0.0

    def go(self, timeout: float = 60) -> None:
        """Wait until the imports are done (so that kill delays measure the run, not the start), then go."""
        deadline = time.monotonic() + timeout
        while not self.ready.exists():
            assert self.proc.poll() is None and time.monotonic() < deadline, "the uploader did not start"
            time.sleep(0.01)
        self.ready.unlink()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.close()
        self.started = time.monotonic()

    def run_for(self, seconds: float, watch: Path | None = None) -> tuple[bool, float | None]:
        """Let it run ``seconds``, then SIGKILL it if still alive. Returns (killed, when it first wrote
        to the ledger ``watch`` — seconds after go — or None)."""
        deadline = self.started + seconds
        before = _signature(watch)
        first_write = None
        try:
            while True:
                now = time.monotonic()
                if self.proc.poll() is not None:
                    return False, first_write
                if first_write is None and watch is not None and _signature(watch) != before:
                    first_write = now - self.started
                if now >= deadline:
                    self.proc.send_signal(signal.SIGKILL)
                    self.proc.wait(30)
                    return True, first_write
                time.sleep(min(0.005, max(0.0, deadline - now)))
        finally:
            self._log.close()

    def discard(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        self._log.close()
        self.ready.unlink(missing_ok=True)
