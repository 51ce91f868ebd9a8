"""The command line: exit codes 0/1/2, messages on stderr, reports on stdout, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from conftest import make_mappings, sale

from converter.cli import main

WriteCsv = Callable[..., Path]


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stdout, result.stderr


def test_check_clean_file_exits_0(write_csv: WriteCsv, mappings: Path) -> None:
    code, out, _ = invoke("check", write_csv([sale()]), "-m", mappings)
    assert code == 0
    assert "送信可能" in out


def test_check_problems_exit_1_and_name_row_and_value(write_csv: WriteCsv, mappings: Path) -> None:
    code, out, _ = invoke("check", write_csv([sale(), sale("B", dr_amt="abc")]), "-m", mappings)
    assert code == 1
    assert "in.csv:3行 [借方金額] 値「abc」" in out
    assert "エラー 1 件 — 送信できません" in out


def test_check_json_report(write_csv: WriteCsv, mappings: Path) -> None:
    code, out, _ = invoke("check", write_csv([sale(cr="広告宣伝費")]), "-m", mappings, "--format", "json")
    assert code == 1
    report = json.loads(out)
    (problem,) = report["problems"]
    assert set(problem) >= {"file", "row", "column", "value", "rule", "message"}
    assert problem["value"] == "広告宣伝費" and problem["row"] == 2
    assert report["summary"]["documents"] == 1


def test_config_error_exits_2_with_file_and_key(write_csv: WriteCsv, tmp_path: Path) -> None:
    folder = make_mappings(tmp_path / "m")
    (folder / "tax.yaml").write_text('- {tax: 課税売上10%, tptn: 1, cmtxrate: 1000}\n', "utf-8")
    code, _, err = invoke("check", write_csv([sale()]), "-m", folder)
    assert code == 2
    assert "tax.yaml:1行" in err and "tptn" in err


def test_unreadable_input_exits_2(tmp_path: Path, mappings: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_bytes(b"\x00\x01\x02")
    code, _, err = invoke("check", bad, "-m", mappings)
    assert code == 2
    assert "x.csv" in err and "NUL" in err


def test_usage_error_exits_2(mappings: Path) -> None:
    code, _, _ = invoke("check", "-m", mappings)
    assert code == 2


def test_unknown_profile_exits_2(write_csv: WriteCsv, mappings: Path) -> None:
    code, _, err = invoke("check", write_csv([sale()]), "-m", mappings, "--profile", "freee")
    assert code == 2 and "freee" in err


def test_preview_writes_exact_request_bodies(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "payloads"
    (out_dir).mkdir()
    (out_dir / "request-0009.json").write_text("{}")  # stale file from an older run
    code, out, err = invoke("preview", write_csv([sale(), sale("B")]), "-m", mappings, "--payload-dir", out_dir)
    assert code == 0, err
    files = sorted(p.name for p in out_dir.iterdir())
    assert files == ["request-0001.json"]
    body = json.loads((out_dir / "request-0001.json").read_text("utf-8"))
    assert [s["journo_read"] for s in body["slips"]] == ["1", "2"]
    assert (out_dir / "request-0001.json").stat().st_mode & 0o077 == 0
    assert "帳票 2 件" in out


def test_preview_with_problems_writes_nothing(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "payloads"
    code, _, _ = invoke("preview", write_csv([sale(cr_amt="1")]), "-m", mappings, "--payload-dir", out_dir)
    assert code == 1
    assert not out_dir.exists()


def test_filters_from_the_command_line(write_csv: WriteCsv, mappings: Path) -> None:
    path = write_csv([sale("S"), sale("R", kind="入金"), sale("X", status="失注")])
    code, out, _ = invoke("check", path, "-m", mappings, "--kinds", "売上", "--exclude-status", "失注、破棄")
    assert code == 0
    assert "帳票 1 件" in out and "出力取引の対象外" in out and "除外ステータス" in out
