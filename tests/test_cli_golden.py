"""Exact output: the whole stdout of ``check`` and ``upload`` on the bundled samples, compared with
the golden files in tests/golden/cli/ (what an accountant reads, every line of it).

After a deliberate change of these texts, regenerate and review the diff::

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_cli_golden.py
    git diff tests/golden/cli/

Times, the emulator's port and the temporary folder are replaced by placeholders; the commands
run in a temporary folder holding copies of ``samples/`` and ``mappings/``, so paths read as typed.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EMULATOR_TOKEN, MAPPINGS, ROOT, SAMPLES
from ledger_helpers import new_ledger

from converter.cli import main
from converter.emulator.server import Emulator

GOLDEN = ROOT / "tests" / "golden" / "cli"
UPDATE = bool(os.environ.get("UPDATE_GOLDEN"))

_VOLATILE = [
    (re.compile(r"http://127\.0\.0\.1:\d+"), "http://127.0.0.1:<port>"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?(\+09:00)?"), "<time>"),
    (re.compile(r"\d{8}-\d{6}"), "<stamp>"),
]


def normalised(text: str, folder: Path) -> str:
    text = text.replace(str(folder.resolve()), "<tmp>").replace(str(folder), "<tmp>")
    for pattern, placeholder in _VOLATILE:
        text = pattern.sub(placeholder, text)
    return text


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        return
    assert path.exists(), f"no golden file {path.relative_to(ROOT)}: run with UPDATE_GOLDEN=1 and review it"
    want = path.read_text("utf-8")
    if text != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True), f"golden/cli/{name}",
                                            "stdout now"))
        pytest.fail(f"stdout differs from tests/golden/cli/{name} (UPDATE_GOLDEN=1 to accept):\n{diff}")


@pytest.fixture
def company(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder as an accountant has it: samples/, mappings/ (copies), run from there."""
    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("*.xlsx", "*.md", "*.yaml"))
    shutil.copytree(MAPPINGS, tmp_path / "mappings")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FX_API_TOKEN", EMULATOR_TOKEN)
    return tmp_path


def run(folder: Path, *args: str, exit_code: int) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == exit_code, result.output
    return normalised(result.stdout, folder)


@pytest.mark.parametrize(("name", "args", "exit_code"), [
    ("check-jobcan.txt", ["samples/jobcan-2026-10.csv"], 0),
    ("check-yayoi.txt", ["samples/yayoi-2026-10.csv", "--profile", "yayoi"], 0),
    ("check-broken.txt", ["samples/broken-2026-10.csv"], 1),
])
def test_check_text(company: Path, name: str, args: list[str], exit_code: int) -> None:
    assert_golden(name, run(company, "check", *args, exit_code=exit_code))


@pytest.fixture
def fx() -> Iterator[str]:
    with Emulator().serve(port=0) as running:
        yield running.url


def test_upload_text(company: Path, fx: str) -> None:
    """The month as it is meant to go: masters pulled, checked clean, a dry run, the upload, a re-run."""
    assert run(company, "masters", "pull", "--base-url", fx, exit_code=0)
    assert_golden("check-jobcan-with-masters.txt", run(company, "check", "samples/jobcan-2026-10.csv", exit_code=0))
    new_ledger(company / "ledgers" / "tc09999001.sqlite", "tc09999001")
    upload = ["upload", "samples/jobcan-2026-10.csv", "--base-url", fx]
    assert_golden("upload-dry-run.txt", run(company, *upload, "--dry-run", exit_code=0))
    assert_golden("upload.txt", run(company, *upload, exit_code=0))
    assert_golden("upload-again.txt", run(company, *upload, exit_code=0))
    # with a problem nothing is sent: the problems are listed (and the reason on stderr)
    assert_golden("upload-broken.txt", run(company, "upload", "samples/broken-2026-10.csv", "--base-url", fx,
                                           exit_code=1))


def test_the_golden_files_are_all_used() -> None:
    """A golden file no test writes is stale: it would pass forever without being compared."""
    written = {"check-jobcan.txt", "check-yayoi.txt", "check-broken.txt", "check-jobcan-with-masters.txt",
               "upload-dry-run.txt", "upload.txt", "upload-again.txt", "upload-broken.txt"}
    others = {"history.txt"}  # tests/test_history_golden.py (h6) may add its own
    assert {p.name for p in GOLDEN.glob("*.txt")} - others == written
