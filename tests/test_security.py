"""Security rails: the token, the transport, the workbook and the files the tool leaves behind.

* The FX token comes only from the environment and appears nowhere else: not in stdout/stderr, logs,
  the ledger (and its -wal), the review workbook, payload files, exception text. A run greps every
  byte it wrote for it.
* ``--base-url`` with plain http is refused unless the host is this machine; TLS verification stays on.
* Workbook cells: text that looks like a formula is never a live formula.
* Files holding company data are user-only (0600) from the moment they exist.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
import traceback
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from conftest import make_mappings, sale, to_csv
from fault_helpers import SOAK, EmulatorProcess, child_env, converter, ledger_records
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_helpers import new_ledger

from converter.cli import main
from converter.convert.pipeline import Options, convert
from converter.emulator.server import Emulator
from converter.errors import ConfigError, ConverterError, FXAPIError
from converter.fx.answers import FXMessage, MessageKind
from converter.fx.bodies import write_requests
from converter.fx.client import FXClient, RetryPolicy, check_base_url
from converter.review.workbook import write_review
from converter.sync.upload import upload_files

TOKEN = "tok-SECRET-1234-7f3a"
WRONG_TOKEN = "tok-WRONG-5678-c9e1"


@pytest.fixture
def emulators() -> Iterator[list[EmulatorProcess]]:
    started: list[EmulatorProcess] = []
    yield started
    for server in started:
        server.stop()


def month_rows() -> list[dict[str, str]]:
    """A few invoices, one that FX rejects (400: 入金 without 補助科目 mapping) and formula-like text."""
    rows = [sale(f"INV-{i}", memo=memo) for i, memo in enumerate(["10月分", "=HYPERLINK(\"http://x\")", "@SUM(1)"])]
    rows.append(sale("RCV-X", kind="入金", dr="普通預金", dr_sub="楽天銀行", cr="売掛金", cr_tax="対象外", cr_dep="",
                     cr_taxamt=""))
    return rows


def unpacked(path: Path) -> bytes:
    """A file's bytes, and for zip containers (xlsx) their decompressed members too."""
    data = path.read_bytes()
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            data += b"".join(zf.read(name) for name in zf.namelist())
    return data


def assert_secret_absent(secrets: list[str], outputs: list[str], folder: Path) -> int:
    """No secret in any output, nor in any file under ``folder``; returns the number of files searched."""
    for secret in secrets:
        for text in outputs:
            assert secret not in text, f"{secret} in output: {text[text.index(secret) - 200:][:400]}"
    files = [p for p in folder.rglob("*") if p.is_file()]
    for path in files:
        data = unpacked(path)
        for secret in secrets:
            for encoded in (secret.encode(), secret.encode("utf-16-le")):
                assert encoded not in data, f"{secret} found in {path}"
    return len(files)


# --------------------------------------------------------------------------- the token


@pytest.mark.slow
def test_token_appears_in_no_output_and_no_file(tmp_path: Path, emulators: list[EmulatorProcess]) -> None:
    """Every command that touches FX or writes a file, with a distinctive token; then grep everything."""
    work = tmp_path / "run"
    mappings = make_mappings(work / "mappings")
    export = work / "jobcan.csv"
    export.write_bytes(to_csv(month_rows()).encode("cp932"))
    server = EmulatorProcess(tmp_path, "--drop-rate", "1", token=TOKEN)  # first upload: stored, then dropped
    emulators.append(server)
    env = child_env(TOKEN)
    debug_env = child_env(TOKEN, CONVERTER_DEBUG="1")
    ledger = work / "ledgers" / "tc09999001.sqlite"
    common = ["-m", mappings, "--base-url", server.url]
    outputs: list[str] = []

    def run(*args: str | Path, environment: dict[str, str] = env) -> subprocess.CompletedProcess[str]:
        result = converter(*args, env=environment)
        outputs.extend([result.stdout, result.stderr])
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
        return result

    # masters pull talks to FX too; into a second folder, so that FX itself still rejects RCV-X below
    # (with the masters cache, check would catch it first).
    assert run("masters", "pull", "-m", make_mappings(work / "mappings-pulled"), "--base-url",
               server.url).returncode == 0
    run("check", export, "-m", mappings, "--format", "json")
    run("preview", export, "-m", mappings, "-o", work / "preview.xlsx", "--payload-dir", work / "payloads")
    assert run("ledger", "init", "-m", mappings).returncode == 0
    # 1st upload: FX answers, then the connection drops → 要確認; with CONVERTER_DEBUG set.
    first = run("upload", export, *common, "-o", work / "upload.xlsx", environment=debug_env)
    assert first.returncode == 1 and "要確認" in first.stdout, first.stdout + first.stderr
    server.set_faults(drop_after_store_rate=0.0)
    unknown = [r.key for r in ledger_records(ledger).values() if r.status == "unknown"]
    run("history", "-m", mappings, "--events")
    run("history", "-m", mappings, "--format", "json", "--status", "unknown")
    run("resolve", *unknown, "--not-sent", "-m", mappings)  # the request carried RCV-X: FX stored nothing
    # 2nd upload: FX rejects RCV-X (400, its messages go to the ledger and the workbook), the rest is stored.
    second = run("upload", export, *common, "-o", work / "upload2.xlsx")
    assert second.returncode == 1 and "FX エラー" in second.stdout, second.stdout
    run("retry", export, *common, "-o", work / "retry.xlsx")
    # A wrong token: 401, with a new document so that a request is really made.
    export.write_bytes(to_csv([*month_rows(), sale("INV-NEW")]).encode("cp932"))
    wrong = run("upload", export, *common, environment=child_env(WRONG_TOKEN))
    assert wrong.returncode == 2 and "401" in wrong.stderr, wrong.stderr
    files = assert_secret_absent([TOKEN, WRONG_TOKEN], outputs, work)
    assert ledger.exists() and (work / "upload.xlsx").exists() and (work / "upload2.xlsx").exists()
    assert any((work / "payloads").glob("request-*.json"))
    print(f"\n[token] {len(outputs) // 2} runs, {files} files searched: token found 0 times")


def test_token_not_in_exceptions_or_debug_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """httpx/httpcore at DEBUG, every failure mode of the client: the token is in no record, no message,
    no traceback text."""
    caplog.set_level(logging.DEBUG)
    emu = Emulator(token=TOKEN)
    texts: list[str] = []
    with emu.serve() as server:
        for token in (TOKEN, WRONG_TOKEN):
            client = FXClient(server.url, "tc09999001", token, retry=RetryPolicy(attempts=1, sleep=lambda _: None))
            with client:
                try:
                    client.auto_numbering()
                    client.import_slips(b'{"slips": []}')
                except ConverterError as err:
                    texts += [str(err), repr(err), "".join(traceback.format_exception(err))]
                texts.append(repr(client))
        emu.set_faults(slow_seconds=2.0)
        slow = FXClient(server.url, "tc09999001", TOKEN, timeout=httpx.Timeout(0.2),
                        retry=RetryPolicy(attempts=1, sleep=lambda _: None))
        with slow:
            texts.append(repr(slow.import_slips(b'{"slips": []}')))
    dead = FXClient("http://127.0.0.1:9", "tc09999001", TOKEN, retry=RetryPolicy(attempts=1, sleep=lambda _: None))
    with dead:
        texts.append(repr(dead.import_slips(b"{}")))
        try:
            dead.get("v1/inpjourconfig")
        except ConverterError as err:
            texts += [str(err), "".join(traceback.format_exception(err))]
    texts += [r.getMessage() for r in caplog.records] + [repr(r.args) for r in caplog.records]
    assert any("401" in t for t in texts)
    for text in texts:
        assert TOKEN not in text and WRONG_TOKEN not in text, text[:500]


def test_token_only_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mappings = make_mappings(tmp_path / "m")
    export = tmp_path / "in.csv"
    export.write_bytes(to_csv([sale()]).encode("cp932"))
    runner = CliRunner()
    # No option takes a token on the command line (it would sit in the shell history and `ps`).
    for command in ("upload", "retry"):
        result = runner.invoke(main, [command, "--help"])
        assert "--token " not in result.stdout and "--token=" not in result.stdout
        assert runner.invoke(main, [command, str(export), "-m", str(mappings), "--token", TOKEN]).exit_code == 2
    # Not from YAML either: refused, and the value is not repeated in the message.
    settings_file = mappings / "settings.yaml"
    settings_file.write_text(settings_file.read_text("utf-8") + f"token: {TOKEN}\n", "utf-8")
    result = runner.invoke(main, ["check", str(export), "-m", str(mappings)])
    assert result.exit_code == 2 and "FX_API_TOKEN" in result.stderr and TOKEN not in result.output + result.stderr
    settings_file.write_text(settings_file.read_text("utf-8").replace(f"token: {TOKEN}\n", ""), "utf-8")
    # Missing from the environment: a clear message, exit 2.
    monkeypatch.delenv("FX_API_TOKEN", raising=False)
    result = runner.invoke(main, ["upload", str(export), "-m", str(mappings), "--ledger", str(tmp_path / "l.sqlite")])
    assert result.exit_code == 2 and "FX_API_TOKEN" in result.stderr


# --------------------------------------------------------------------------- the transport


@pytest.mark.parametrize("url", ["http://fx.example.com", "http://10.0.0.1:8765", "http://0.0.0.0:8765",
                                 "http://localhost.example.com", "http://127.0.0.1.nip.io", "http://[::ffff:a00:1]",
                                 "HTTP://FX.EXAMPLE.COM", "ftp://127.0.0.1", "http://", "127.0.0.1:8765"])
def test_plain_http_is_refused_unless_loopback(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", TOKEN)
    with pytest.raises(ConfigError):
        check_base_url(url)
    mappings = make_mappings(tmp_path / "m")
    export = tmp_path / "in.csv"
    export.write_bytes(to_csv([sale()]).encode("cp932"))
    result = CliRunner().invoke(main, ["upload", str(export), "-m", str(mappings), "--base-url", url,
                                       "--ledger", str(new_ledger(tmp_path / "l.sqlite", "tc09999001"))])
    assert result.exit_code == 2, result.output
    assert "エラー" in result.stderr and "Traceback" not in result.output + result.stderr
    assert all(r.status == "pending" for r in ledger_records(tmp_path / "l.sqlite").values())
    # the same rule for base_url in settings.yaml
    settings_file = mappings / "settings.yaml"
    settings_file.write_text(re.sub(r"base_url: \S+", f"base_url: {url}", settings_file.read_text("utf-8")), "utf-8")
    result = CliRunner().invoke(main, ["upload", str(export), "-m", str(mappings), "--ledger",
                                       str(new_ledger(tmp_path / "l2.sqlite", "tc09999001"))])
    assert "FX_API" not in result.stderr and "base_url" in result.stderr, result.stderr
    assert result.exit_code == 2, result.output


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765", "http://localhost:8765", "http://[::1]:8765",
                                 "http://127.0.0.2", "https://fx.example.com", "https://fx.example.com/base/"])
def test_loopback_http_and_any_https_are_allowed(url: str) -> None:
    assert check_base_url(url) == url.rstrip("/")


def test_tls_verification_is_on() -> None:
    client = FXClient("https://fx.example.com", "tc09999001", TOKEN)
    with client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        context: ssl.SSLContext = pool._ssl_context
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return key, cert


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command for a self-signed cert")
def test_a_self_signed_fx_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    """A TLS server whose certificate no CA vouches for (a man in the middle): the handshake fails, so the
    token and the slips never leave this machine; the documents stay unsent."""
    key, cert = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(raw, server_side=True) as tls:
                    received.append(tls.recv(65536))
            except (ssl.SSLError, OSError):
                raw.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        client = FXClient(f"https://127.0.0.1:{port}", "tc09999001", TOKEN,
                          retry=RetryPolicy(attempts=2, sleep=lambda _: None))
        with client, pytest.raises(FXAPIError) as err:
            client.import_slips(b'{"slips": []}')
    finally:
        listener.close()
    # Not retried (it cannot help), and the message says what to do.
    assert "証明書" in str(err.value) and "SSL_CERT_FILE" in str(err.value)
    assert received == [], "bytes reached the server through an unverified TLS connection"


# --------------------------------------------------------------------------- the workbook

FORMULA_STARTS = ["=", "+", "-", "@", "\t=", "\r=", "=cmd|' /C calc'!A0", "=HYPERLINK(\"http://evil\",\"x\")",
                  "+1+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "-2+3", "=1/0", "#N/A", "#DIV/0!"]


def live_formulas(path: Path) -> list[str]:
    """Every <f> (formula) element in every sheet of a workbook: there must be none."""
    found = []
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                found += [f"{name}: {m}" for m in re.findall(rb"<(?:\w+:)?f[ >][^<]*", zf.read(name))]
            if name == "xl/externalLinks" or name.startswith("xl/externalLinks/"):
                found.append(name)
    return found


def test_formula_csv_regression(tmp_path: Path) -> None:
    """tests/data/formula.csv: 摘要 starting with =, +, -, @, a tab, =HYPERLINK( — text in the workbook."""
    out = tmp_path / "review.xlsx"
    result = CliRunner().invoke(main, ["preview", str(Path(__file__).parent / "data" / "formula.csv"), "-m",
                                       str(Path(__file__).parent.parent / "mappings"), "-o", str(out)])
    assert result.exit_code in (0, 1), result.output
    assert live_formulas(out) == []
    from openpyxl import load_workbook

    memos = {c.value: c.data_type for ws in load_workbook(out).worksheets for row in ws.iter_rows() for c in row
             if isinstance(c.value, str) and c.value.startswith(("=SUM", "+1", "-1", "@x", "=HYPERLINK"))}
    assert memos and set(memos.values()) == {"s"}, memos


@pytest.mark.slow
@settings(max_examples=120 if SOAK else 25, deadline=None, derandomize=not SOAK,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.tuples(st.sampled_from(FORMULA_STARTS),
                                 st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)),
                       min_size=6, max_size=6))
def test_formula_like_text_anywhere_stays_text(texts: list[tuple[str, str]], tmp_path: Path) -> None:
    """Formula-like text in every column a user or FX controls — 摘要, 帳票番号, 取引先名, an unmapped 勘定科目
    (Errors and Unmapped sheets), a skipped document, an FX message — is never a live formula."""
    memo, doc, name, account, other, message = (a + b for a, b in texts)
    mappings = make_mappings(tmp_path / "m")
    export = tmp_path / "in.csv"
    rows = [sale(doc or "D", memo=memo, cname=name, ccode=""), sale("X2", cr=account),
            sale(other or "Z", dr_amt="0", cr_amt="0", cr_taxamt="0")]
    export.write_bytes(to_csv(rows).encode("utf-8"))
    conversion = convert([export], mappings, Options())
    out = tmp_path / "review.xlsx"
    responses = [FXMessage(doc or "D", doc, 1, MessageKind.ERROR, message, 1, 1, 1, str(export), 2)]
    write_review(conversion, out, responses=responses)
    assert live_formulas(out) == []


# --------------------------------------------------------------------------- files: user-only


def _modes(folder: Path, skip: set[Path]) -> dict[str, int]:
    return {str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*")
            if p.is_file() and p not in skip}


@pytest.mark.slow
def test_every_file_the_tool_writes_is_user_only(tmp_path: Path, emulators: list[EmulatorProcess]) -> None:
    """With a permissive umask (022), everything a run writes — ledger, -wal, -shm, lock, payloads, review
    workbooks, and any cache a later version adds — is 0600; the ledgers folder is 0700."""
    work = tmp_path / "company"
    mappings = make_mappings(work / "mappings")
    export = work / "jobcan.csv"
    export.write_bytes(to_csv([sale(f"D{i}") for i in range(5)]).encode("cp932"))
    server = EmulatorProcess(tmp_path)
    emulators.append(server)
    env = child_env()
    (work / "out").mkdir()  # an -o folder that does not exist is another matter (test_fuzz)
    before = {p for p in work.rglob("*") if p.is_file()}

    def run(*args: str | Path) -> None:
        command = ["sh", "-c", 'umask 022 && exec "$@"', "sh", sys.executable, "-m", "converter", *map(str, args)]
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=Path(__file__).parent.parent)
        assert result.returncode in (0, 1), result.stderr

    run("masters", "pull", "-m", mappings, "--base-url", server.url)  # the masters cache: company data too
    run("preview", export, "-m", mappings, "-o", work / "out" / "review.xlsx", "--payload-dir", work / "payloads")
    run("ledger", "init", "-m", mappings)
    run("upload", export, "-m", mappings, "--base-url", server.url, "-o", work / "out" / "upload.xlsx")
    run("history", "-m", mappings)
    run("ledger", "verify", "-m", mappings)
    modes = _modes(work, before)
    assert {"ledgers/tc09999001.sqlite", "ledgers/tc09999001.sqlite.lock", "out/review.xlsx", "out/upload.xlsx",
            "payloads/request-0001.json", "mappings/masters/tc09999001.json"} <= set(modes), modes
    assert any(name.startswith("ledgers/backups/tc09999001.") for name in modes), modes
    loose = {name: oct(mode) for name, mode in modes.items() if mode & 0o077}
    assert not loose, f"readable by others: {loose}"
    assert stat.S_IMODE((work / "ledgers").stat().st_mode) == 0o700


def test_files_are_never_readable_by_others_even_briefly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Created 0600, not created 0644 and chmod-ed afterwards: in between, another user can open the file
    and keep the descriptor. Each chmod the writers make is checked against the mode the file had."""
    seen: dict[str, int] = {}
    real_chmod = Path.chmod

    def spy(self: Path, mode: int, *args: Any, **kwargs: Any) -> None:
        seen[self.name] = stat.S_IMODE(os.stat(self).st_mode)
        real_chmod(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "chmod", spy)
    mappings = make_mappings(tmp_path / "m")
    export = tmp_path / "in.csv"
    export.write_bytes(to_csv([sale()]).encode("cp932"))
    conversion = convert([export], mappings, Options())
    old = os.umask(0o022)
    try:
        paths = write_requests(list(conversion.requests), tmp_path / "payloads")
        write_review(conversion, tmp_path / "review.xlsx")
    finally:
        os.umask(old)
    for path in [*paths, tmp_path / "review.xlsx"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        created = seen.get(path.name, stat.S_IMODE(path.stat().st_mode))
        assert not created & 0o077, f"{path.name} existed with mode {oct(created)} before its chmod"


def test_emulator_store_is_user_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`converter emulator --store` holds the company's slips during a rehearsal with real exports."""
    monkeypatch.setenv("FX_API_TOKEN", "emulator-token")
    store = tmp_path / "fx.jsonl"
    emu = Emulator(store_path=store)
    mappings = make_mappings(tmp_path / "m")
    export = tmp_path / "in.csv"
    export.write_bytes(to_csv([sale()]).encode("cp932"))
    old = os.umask(0o022)
    try:
        upload_files([export], mappings, Options(), ledger_path=new_ledger(tmp_path / "l.sqlite", "tc09999001"),
                     transport=emu.transport())
    finally:
        os.umask(old)
    assert store.exists()
    assert stat.S_IMODE(store.stat().st_mode) == 0o600, oct(store.stat().st_mode)
