"""`converter batch`: many companies against one emulator serving several ocodes (real HTTP on loopback).

The promises: every company runs on its own (one broken company never stops the others), at
most ``concurrency`` at once, one run per ledger, a summary per company, exit 0/1/2, and the
token never printed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from conftest import ROOT, SAMPLES, make_mappings, sale, to_csv
from fault_helpers import MAPPINGS as UPLOAD_MAPPINGS
from ledger_helpers import new_ledger

import converter.sync.batch as batch_module
from converter.cli import main
from converter.emulator.server import Emulator, EmulatorServer
from converter.errors import ConfigError
from converter.ledger.ledger import Ledger
from converter.sync.batch import CompanyResult, run_batch
from converter.sync.manifest import load_manifest

OCODES = ("tc09999001", "tc09999002", "tc09999003")
BROKEN = tuple(f"tc099999{n}" for n in range(11, 18))  # one per entry of BREAKAGES
TOKEN = "batch-secret-token-7f3a"  # distinctive: asserted never to appear in any output
ENV_NAMES = {ocode: f"FX_API_TOKEN_{ocode.upper()}" for ocode in (*OCODES, *BROKEN)}


@dataclasses.dataclass
class Fx:
    emu: Emulator
    server: EmulatorServer

    @property
    def url(self) -> str:
        return self.server.url

    def stored(self) -> dict[str, int]:
        return {ocode: len(self.emu.stored_slips(ocode)) for ocode in OCODES}


@pytest.fixture
def fx(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fx]:
    for name in ENV_NAMES.values():
        monkeypatch.setenv(name, TOKEN)
    emu = Emulator(token=TOKEN, ocodes=[*OCODES, *BROKEN])
    with emu.serve(port=0) as server:
        yield Fx(emu, server)


def documents(n: int, prefix: str = "INV") -> list[dict[str, str]]:
    return [sale(f"{prefix}-{i}", 1100 * (i + 1), 100 * (i + 1), date=f"2026/10/{i + 1:02d}") for i in range(n)]


def company(root: Path, ocode: str, rows: list[dict[str, str]], url: str) -> dict[str, Any]:
    """A client folder as a tax office keeps it: its own mappings (its ocode) and its exports."""
    folder = root / ocode
    mappings = make_mappings(folder / "mappings")
    settings = mappings / "settings.yaml"
    text = settings.read_text("utf-8").replace("tc09999001", ocode).replace("http://127.0.0.1:8765", url)
    settings.write_text(text, "utf-8")
    (folder / "exports").mkdir()
    (folder / "exports" / "2026-10.csv").write_bytes(to_csv(rows).encode("cp932"))
    new_ledger(root / "ledgers" / f"{ocode}.sqlite", ocode)  # `converter ledger init`, once per company
    return {"name": f"会社{ocode[-1]}", "ocode": ocode, "mappings": f"{ocode}/mappings",
            "glob": f"{ocode}/exports/*.csv", "ledger": f"ledgers/{ocode}.sqlite", "token_env": ENV_NAMES[ocode]}


def three_companies(root: Path, url: str, sizes: tuple[int, int, int] = (5, 3, 4)) -> list[dict[str, Any]]:
    return [company(root, ocode, documents(n), url) for ocode, n in zip(OCODES, sizes, strict=True)]


def write_manifest(root: Path, companies: list[dict[str, Any]], **top: Any) -> Path:
    path = root / "manifest.yaml"
    path.write_text(yaml.safe_dump({**top, "companies": companies}, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["batch", *map(str, args)])
    for text in (result.stdout, result.stderr):
        assert "Traceback" not in text
        assert TOKEN not in text
    return result.exit_code, result.stdout, result.stderr


def by_ocode(out: str) -> dict[str, dict[str, Any]]:
    return {r["ocode"]: r for r in json.loads(out)}


# --------------------------------------------------------------------------- the promise


def test_three_companies_one_broken_the_other_two_complete(fx: Fx, tmp_path: Path) -> None:
    companies = three_companies(tmp_path, fx.url)
    broken = tmp_path / OCODES[1] / "exports" / "2026-10.csv"
    broken.write_bytes(to_csv([*documents(2), sale("BAD-1", 1000, 0, cr_amt="900", cr_tax="対象外")]).encode("cp932"))
    manifest = write_manifest(tmp_path, companies)

    code, out, err = invoke(manifest, "--format", "json")
    assert code == 1, err
    results = by_ocode(out)
    assert [r["status"] for r in results.values()] == ["done", "failed", "done"]
    assert (results[OCODES[0]]["sent"], results[OCODES[2]]["sent"]) == (5, 4)
    assert results[OCODES[1]]["sent"] is None and results[OCODES[1]]["problems"]
    assert any("BAD-1" in json.dumps(p, ensure_ascii=False) for p in results[OCODES[1]]["problems"])
    assert fx.stored() == {OCODES[0]: 5, OCODES[1]: 0, OCODES[2]: 4}
    assert _documents(tmp_path / "ledgers" / f"{OCODES[1]}.sqlite", OCODES[1]) == 0  # refused before the ledger
    assert "[3/3]" in err

    # The accountant fixes the export and runs the same manifest: only the broken company sends.
    broken.write_bytes(to_csv(documents(3)).encode("cp932"))
    code, out, err = invoke(manifest, "--format", "json")
    assert code == 0, err
    results = by_ocode(out)
    assert [(r["sent"], r["already_done"]) for r in results.values()] == [(0, 5), (3, 0), (0, 4)]
    assert fx.stored() == {OCODES[0]: 5, OCODES[1]: 3, OCODES[2]: 4}
    assert all(max(fx.emu.count_by_journo_read(o).values()) == 1 for o in OCODES)


def test_text_summary_from_a_separate_process(fx: Fx, tmp_path: Path) -> None:
    companies = three_companies(tmp_path, fx.url)
    companies[2]["glob"] = "nowhere/*.csv"
    manifest = write_manifest(tmp_path, companies)
    env = {**os.environ, "PYTHONPATH": str(ROOT), **dict.fromkeys(ENV_NAMES.values(), TOKEN)}
    done = subprocess.run([sys.executable, "-m", "converter", "batch", str(manifest)], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and TOKEN not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["会社", "ocode", "帳票", "送信対象", "連携完了", "エラー", "要確認", "状態"]
    assert lines[2].split() == ["会社1", OCODES[0], "5", "5", "5", "0", "0", "完了"]
    assert lines[3].split() == ["会社2", OCODES[1], "3", "3", "3", "0", "0", "完了"]
    assert lines[4].split() == ["会社3", OCODES[2], "-", "-", "-", "-", "-", "失敗"]
    assert "glob に一致するファイルがありません" in done.stdout
    assert "3 社: 完了 2 社 / 要対応 0 社 / 失敗 1 社" in done.stderr
    assert fx.stored() == {OCODES[0]: 5, OCODES[1]: 3, OCODES[2]: 0}


def _missing_export(c: dict[str, Any]) -> None:
    del c["glob"]
    c["inputs"] = [f"{c['ocode']}/exports/2026-11.csv"]


#: One broken company per way a company can fail; (what is wrong, the change, the message, its exit code).
BREAKAGES: list[tuple[str, Callable[[dict[str, Any]], object], str, int]] = [
    ("missing export", _missing_export, "ファイルがありません", 2),
    ("glob matching nothing", lambda c: c.update(glob="exports/*.xlsx"), "glob に一致するファイルがありません", 2),
    ("missing mappings folder", lambda c: c.update(mappings="nowhere"), "ファイルがありません", 2),
    ("another company's mappings", lambda c: c.update(mappings=f"{OCODES[0]}/mappings"),
     "settings.yaml では tc09999001 です", 2),
    ("token variable not set", lambda c: c.update(token_env="FX_TOKEN_NOT_SET"), "環境変数 FX_TOKEN_NOT_SET", 2),
    ("wrong token", lambda c: c.update(token_env="WRONG_TOKEN"), "HTTP 401", 2),
    ("unbalanced export", lambda c: None, "エラー 1 件 — 送信できません。converter check で確認し", 1),
]


def test_every_kind_of_broken_company_is_isolated(fx: Fx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRONG_TOKEN", "not-the-token")
    good = three_companies(tmp_path, fx.url)
    broken = []
    for ocode, (label, breaker, _, _) in zip(BROKEN, BREAKAGES, strict=True):
        rows = documents(2) if label != "unbalanced export" else [sale("BAD", 1000, 0, cr_amt="900", cr_tax="対象外")]
        entry = company(tmp_path, ocode, rows, fx.url)
        breaker(entry)
        broken.append(entry | {"name": label})
    code, out, _ = invoke(write_manifest(tmp_path, [good[0], *broken, good[2]], concurrency=4), "--format", "json")
    assert code == 1
    results = json.loads(out)
    assert [r["ocode"] for r in results] == [OCODES[0], *BROKEN, OCODES[2]]  # manifest order, not finishing order
    assert (results[0]["status"], results[-1]["status"]) == ("done", "done")
    for result, (label, _, message, exit_code) in zip(results[1:-1], BREAKAGES, strict=True):
        assert (result["name"], result["status"], result["exit_code"]) == (label, "failed", exit_code)
        assert message in result["message"], (label, result["message"])
    assert fx.stored() == {OCODES[0]: 5, OCODES[1]: 0, OCODES[2]: 4}
    assert len(fx.emu.stored_slips()) == 9


def test_a_bug_in_one_company_is_reported_not_raised(fx: Fx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = batch_module.upload_files

    def flaky(inputs: list[Path], mappings_dir: Path, *args: Any, **kwargs: Any) -> Any:
        if OCODES[1] in str(mappings_dir):
            raise KeyError("boom")
        return real(inputs, mappings_dir, *args, **kwargs)

    monkeypatch.setattr(batch_module, "upload_files", flaky)
    code, out, _ = invoke(write_manifest(tmp_path, three_companies(tmp_path, fx.url)))
    assert code == 1
    assert "内部エラー: KeyError: 'boom'" in out
    assert fx.stored() == {OCODES[0]: 5, OCODES[1]: 0, OCODES[2]: 4}


def test_a_ledger_in_use_fails_only_that_company(fx: Fx, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, three_companies(tmp_path, fx.url))
    held = tmp_path / "ledgers" / f"{OCODES[2]}.sqlite"
    with Ledger.open(held, ocode=OCODES[2], lock=True):  # e.g. a colleague's `converter upload`
        code, out, _ = invoke(manifest, "--format", "json")
    assert code == 1
    results = by_ocode(out)
    assert [r["status"] for r in results.values()] == ["done", "done", "failed"]
    assert "別の処理がこの台帳を使用中です" in results[OCODES[2]]["message"]
    assert fx.stored() == {OCODES[0]: 5, OCODES[1]: 3, OCODES[2]: 0}


def test_documents_needing_attention_give_exit_1(fx: Fx, tmp_path: Path) -> None:
    fx.emu.set_faults(fault_plan=["ok", "drop"])  # the second request is stored but never answered
    companies = three_companies(tmp_path, fx.url)
    code, out, _ = invoke(write_manifest(tmp_path, companies, concurrency=1), "--format", "json")
    assert code == 1
    results = by_ocode(out)
    assert results[OCODES[1]]["status"] == "attention" and results[OCODES[1]]["attention"] == 3
    assert "converter resolve" in results[OCODES[1]]["message"]
    assert [results[o]["status"] for o in (OCODES[0], OCODES[2])] == ["done", "done"]


# --------------------------------------------------------------------------- the manifest


def test_manifest_errors_exit_2_listing_every_problem(fx: Fx, tmp_path: Path) -> None:
    companies = three_companies(tmp_path, fx.url)
    companies[1]["ledger"] = companies[0]["ledger"]
    companies[2]["tokn_env"] = companies[2].pop("token_env")
    companies.append({"name": "会社4", "mappings": "x", "token": TOKEN})
    code, out, err = invoke(write_manifest(tmp_path, companies, concurrency=0, retries=3))
    assert code == 2 and out == ""
    for text in ("retries: 知らないキーです", "concurrency: 1 から 16", f"台帳 {tmp_path / 'ledgers'}",
                 "会社1 (", "会社2 (", "tokn_env: 知らないキーです", "token: トークンはマニフェストに書かず",
                 "ocode: 必須です", "inputs: (ファイルの一覧) か glob:", "manifest.yaml"):
        assert text in err, text
    assert fx.emu.stats()["import_requests"] == 0


def test_one_ledger_spelled_two_ways_or_one_ocode_twice_is_refused(tmp_path: Path) -> None:
    base = {"mappings": "m", "inputs": "a.csv"}
    path = write_manifest(tmp_path, [{**base, "ocode": "tc1", "ledger": "l/x.sqlite"},
                                     {**base, "ocode": "tc2", "ledger": "./l/../l/x.sqlite"},
                                     {**base, "ocode": "tc1", "ledger": "l/y.sqlite"}])
    with pytest.raises(ConfigError) as caught:
        load_manifest(path)
    assert len(caught.value.problems) == 2
    assert "共有しています" in str(caught.value) and "ocode tc1 が" in str(caught.value)


def test_manifest_defaults_and_paths_relative_to_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "office").mkdir()
    path = write_manifest(tmp_path / "office", [{"ocode": "tc1", "mappings": "c1/mappings", "inputs": "a.csv",
                                                 "kinds": ["売上"], "closed_only": True}])
    manifest = load_manifest(path)
    (spec,) = manifest.companies
    assert (manifest.concurrency, manifest.dry_run) == (2, False)
    assert (spec.name, spec.token_env, spec.options.profile) == ("tc1", "FX_API_TOKEN", "jobcan")
    assert spec.mappings == tmp_path / "office" / "c1" / "mappings"
    assert spec.inputs == (tmp_path / "office" / "a.csv",)
    assert spec.ledger == tmp_path / "office" / "c1" / "ledgers" / "tc1.sqlite"
    assert (spec.options.filters.kinds, spec.options.filters.closed_only) == (("売上",), True)


def test_only_runs_the_named_companies(fx: Fx, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, three_companies(tmp_path, fx.url))
    code, out, _ = invoke(manifest, "--only", "会社3", "--only", OCODES[0], "--format", "json")
    assert code == 0
    assert list(by_ocode(out)) == [OCODES[0], OCODES[2]]
    assert fx.stored() == {OCODES[0]: 5, OCODES[1]: 0, OCODES[2]: 4}
    code, _, err = invoke(manifest, "--only", "会社9")
    assert code == 2 and "--only 会社9: マニフェストにない会社です" in err


def test_dry_run_sends_and_records_nothing(fx: Fx, tmp_path: Path) -> None:
    code, out, _ = invoke(write_manifest(tmp_path, three_companies(tmp_path, fx.url)), "--dry-run", "--format", "json")
    assert code == 0
    assert [(r["to_send"], r["sent"], r["dry_run"]) for r in json.loads(out)] == [(5, None, True), (3, None, True),
                                                                                   (4, None, True)]
    assert fx.stored() == dict.fromkeys(OCODES, 0)
    assert [_documents(tmp_path / "ledgers" / f"{o}.sqlite", o) for o in OCODES] == [0, 0, 0]


def test_a_company_without_a_ledger_fails_alone_and_none_is_created(fx: Fx, tmp_path: Path) -> None:
    companies = three_companies(tmp_path, fx.url)
    missing = tmp_path / "ledgers" / f"{OCODES[1]}.sqlite"
    missing.unlink()
    code, out, _ = invoke(write_manifest(tmp_path, companies), "--format", "json")
    assert code == 1
    results = by_ocode(out)
    assert [r["status"] for r in results.values()] == ["done", "failed", "done"]
    assert (f"台帳がありません。この会社の最初の連携なら、先に台帳を作成してください: converter ledger init"
            f" -m {tmp_path / OCODES[1] / 'mappings'} --ledger {missing}") in results[OCODES[1]]["message"]
    assert not missing.exists() and fx.stored() == {OCODES[0]: 5, OCODES[1]: 0, OCODES[2]: 4}


def _documents(ledger: Path, ocode: str) -> int:
    with Ledger.open(ledger, ocode=ocode, readonly=True) as book:
        return sum(book.summary().values())


# --------------------------------------------------------------------------- concurrency


@pytest.mark.slow
def test_concurrency_is_bounded_and_does_not_change_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES.values():
        monkeypatch.setenv(name, TOKEN)
    real = batch_module.upload_files
    active, peak, guard = 0, 0, threading.Lock()

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        try:
            time.sleep(0.05)  # long enough that every allowed worker is inside at once
            return real(*args, **kwargs)
        finally:
            with guard:
                active -= 1

    monkeypatch.setattr(batch_module, "upload_files", counted)
    outcomes: dict[int, list[tuple[str, int | None, int | None]]] = {}
    for workers in (1, 2, 3):
        peak = 0
        root = tmp_path / f"run{workers}"
        emu = Emulator(token=TOKEN, ocodes=list(OCODES))  # a fresh FX and fresh ledgers per run
        manifest = load_manifest(write_manifest(root, three_companies(root, "http://127.0.0.1:8765"),
                                                concurrency=workers))
        results: list[CompanyResult] = run_batch(manifest, transport=emu.transport())
        assert peak == workers
        outcomes[workers] = [(r.status, r.documents, r.sent) for r in results]
        assert {o: len(emu.stored_slips(o)) for o in OCODES} == dict(zip(OCODES, (5, 3, 4), strict=True))
    assert outcomes[1] == outcomes[2] == outcomes[3] == [("done", 5, 5), ("done", 3, 3), ("done", 4, 4)]


# --------------------------------------------------------------------------- the bundled sample


def test_the_sample_manifest_runs(fx: Fx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", TOKEN)
    manifest = load_manifest(SAMPLES / "batch-manifest.yaml")
    (spec,) = manifest.companies
    assert spec.ocode == "tc09999001" and spec.mappings.resolve() == (ROOT / "mappings").resolve()
    assert all(p.is_file() for p in spec.inputs)
    # Keep the repository's ledgers/ untouched: same manifest, ledger in tmp, FX = the emulator.
    # FX requires cd_cstm on 売掛金/買掛金: the sample's 随時の取引先 go as その他 (no master cache here).
    spec = dataclasses.replace(spec, ledger=new_ledger(tmp_path / "l.sqlite", spec.ocode), base_url=fx.url,
                               mappings=UPLOAD_MAPPINGS)
    (result,) = run_batch(dataclasses.replace(manifest, companies=(spec,)))
    assert (result.status, result.documents, result.sent) == ("done", 359, 359), result.message
    assert fx.stored()[OCODES[0]] == 360  # one 65-line document goes as two slips
