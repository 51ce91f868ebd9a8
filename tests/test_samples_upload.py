"""The three sample months upload cleanly against the emulator server, with a master cache.

Issue 16: the bundled mappings (one_off_customer_code included) and the profiles must make the
jobcan CSV, its .xlsx and the 弥生 file go through FX's rules — no per-line error, no みなし.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import MAPPINGS, SAMPLES
from ledger_helpers import new_ledger

from converter.cli import main
from converter.emulator.server import Emulator

SAMPLE_SLIPS = {"jobcan-2026-10.csv": ("jobcan", 360), "jobcan-2026-10.xlsx": ("jobcan", 360),
                "yayoi-2026-10.csv": ("yayoi", 40)}


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", "emulator-token")


@pytest.fixture
def server() -> Iterator[str]:
    with Emulator().serve(port=0) as running:
        yield running.url


def company(folder: Path) -> Path:
    folder.mkdir()
    for path in MAPPINGS.glob("*.yaml"):
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SAMPLE_SLIPS))
def test_sample_month_uploads_cleanly_with_a_master_cache(server: str, tmp_path: Path, name: str) -> None:
    profile, slips = SAMPLE_SLIPS[name]
    folder = company(tmp_path / "m")
    pulled = CliRunner().invoke(main, ["masters", "pull", "-m", str(folder), "--base-url", server])
    assert pulled.exit_code == 0, pulled.output
    source = [str(SAMPLES / name), "-m", str(folder), "--profile", profile]
    checked = CliRunner().invoke(main, ["check", *source])
    assert checked.exit_code == 0, checked.stdout
    assert "未確認" not in checked.stdout  # every master rule was checked
    ledger = new_ledger(tmp_path / "l.sqlite", "tc09999001")
    result = CliRunner().invoke(main, ["upload", *source, "--base-url", server, "--ledger", str(ledger)])
    assert result.exit_code == 0, result.stdout + result.stderr
    stored = httpx.get(server + "/_emulator/slips").json()
    records = stored["slips"] if isinstance(stored, dict) else stored
    assert len(records) == slips
    details = [d for r in records for d in r["slip"]["detail"]]
    # 売掛金 and 買掛金 are managed by customer ledger: every line carries a cd_cstm
    assert all(d.get("cd_cstm") for d in details if d["cd_act"] in ("1161", "2111"))
    assert [i for r in records for i in r["informations"]] == []  # FX changed nothing (no みなし処理)
