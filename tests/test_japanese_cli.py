"""The accountant's command line (issue 18): Japanese --help, Japanese usage errors with the
expected form, strict filter values, and an emulator that refuses to start in one line."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import SAMPLES, sale, to_csv

from converter.cli import main
from converter.cli.japanese import NOT_AT_LINE_START, display_width

WriteCsv = Callable[..., Path]
#: Three or more English words in a row: a sentence left untranslated (words may carry . / _ < > -).
ENGLISH = re.compile(r"(?<![\w.<>/-])[A-Za-z][\w.<>/'-]*(?: [A-Za-z][\w.<>/'-]*){2,}")


def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name)


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], prog_name="converter")
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr


# --------------------------------------------------------------------------- --help


def test_the_walk_finds_every_command() -> None:
    found = {" ".join(p) for p in commands(main)}
    assert {"", "check", "upload", "history", "ledger init", "masters pull", "mappings check", "emulator"} <= found


@pytest.mark.parametrize("path", list(commands(main)), ids=lambda p: " ".join(p) or "converter")
def test_every_help_page_is_japanese(path: tuple[str, ...]) -> None:
    code, out, _ = run(*path, "--help")
    assert code == 0
    assert out.startswith(f"使い方: {' '.join(('converter', *path))} [オプション]")
    assert "オプション:" in out and "この説明を表示して終了します。" in out
    text = out.replace(" ".join(("converter", *path)), "")  # the command's own name is not a sentence
    assert ENGLISH.findall(text) == []
    # Laid out for an 80-column terminal, 全角 counted as two, no line starting with 。、) (禁則).
    lines = out.splitlines()
    assert max(display_width(line) for line in lines) <= 80
    assert not [line for line in lines if line.strip()[:1] in NOT_AT_LINE_START]


def test_the_english_check_finds_english() -> None:
    # The test above cannot pass by accident: click's own English and an English help sentence are caught.
    assert ENGLISH.findall("  -h, --help  Show this message and exit.") == ["Show this message and exit."]
    assert ENGLISH.findall("  --base-url URL  FX API base URL (default: settings.yaml base_url).")
    assert ENGLISH.findall("  -m, --mappings フォルダ  マッピングのフォルダ (settings.yaml・対応表)。") == []


def test_japanese_help_text_wraps_between_characters_not_before_punctuation() -> None:
    text = "マッピングのフォルダ (settings.yaml・対応表・profiles/ のある所)。知らない値はエラーです。"
    lines = click.wrap_text(text, width=20).splitlines()
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert [display_width(line) <= 20 for line in lines] == [True] * len(lines)
    assert lines == ["マッピングのフォルダ", "(settings.yaml・対応", "表・profiles/ のある",
                     "所)。知らない値はエ", "ラーです。"]


def test_help_columns_line_up_with_full_width_metavars() -> None:
    _, out, _ = run("upload", "--help")
    helps = ("マッピングのフォルダ (", "入力の形式", "台帳のファイル", "FX API の URL (")
    starts = [display_width(line[:line.index(h)]) for line in out.splitlines() for h in helps if h in line]
    assert len(starts) == 4 and len(set(starts)) == 1, starts


# --------------------------------------------------------------------------- usage errors


USAGE = "使い方: converter {command} [オプション]{args}\n説明は 'converter {command} --help' で表示できます。\n\n"


def test_missing_argument(mappings: Path) -> None:
    code, out, err = run("check", "-m", mappings)
    assert (code, out) == (2, "")
    assert err == (USAGE.format(command="check", args=" 入力ファイル...")
                   + "エラー: 引数が足りません: '入力ファイル...'\n")


def test_missing_option() -> None:
    # No command of ours has a required option today (each says what is missing in its own words):
    # click's text for one, as any command would show it.
    @click.command()
    @click.option("--date", required=True)
    def command(date: str) -> None:
        pass

    result = CliRunner().invoke(command, [], prog_name="converter x")
    assert result.exit_code == 2
    assert result.stderr.endswith("エラー: 必須のオプションがありません: '--date'\n")


def test_no_such_option_with_a_suggestion(mappings: Path) -> None:
    code, _, err = run("check", "x.csv", "--formt", "json")
    assert code == 2
    assert err.endswith("エラー: そのようなオプションはありません: --formt (もしかして '--format')\n")


def test_bad_choice_lists_the_choices() -> None:
    code, _, err = run("check", "x.csv", "--format", "xml")
    assert code == 2
    assert err.endswith("エラー: '--format' の値が正しくありません: 「xml」は使えません。"
                        "使える値: 'text', 'json', 'github', 'junit'\n")


def test_bad_integer_and_number() -> None:
    code, _, err = run("batch", "m.yaml", "--concurrency", "two")
    assert code == 2 and err.endswith("エラー: '--concurrency' の値が正しくありません: 「two」は整数ではありません\n")
    code, _, err = run("upload", "x.csv", "--timeout", "1分")
    assert code == 2 and err.endswith("エラー: '--timeout' の値が正しくありません: 「1分」は数値ではありません\n")


def test_option_without_its_value() -> None:
    code, _, err = run("check", "x.csv", "--profile")
    assert code == 2 and err.endswith("エラー: オプション --profile には値を続けてください\n")


def test_unknown_command() -> None:
    code, _, err = run("uplaod")
    assert code == 2 and err.endswith("エラー: そのようなコマンドはありません: uplaod (もしかして 'upload')\n")


@pytest.mark.parametrize("value", ["2026.10.31", "2026-13-01", "31/10/2026"])
def test_bad_correction_date_says_the_form(value: str) -> None:
    code, out, err = run("upload", "x.csv", "--corrections", "--correction-date", value)
    assert (code, out) == (2, "")
    assert err.endswith(f"エラー: '--correction-date' の値が正しくありません: 「{value}」は日付として読めません。"
                        "2026-10-31 (または 2026/10/31) の形で指定してください\n")


def test_correction_date_with_slashes_is_the_same_date() -> None:
    from converter.cli._common import DateParam

    assert DateParam().convert("2026/10/31", None, None) == DateParam().convert("2026-10-31", None, None) \
        == date(2026, 10, 31)


def test_bad_period_is_refused_before_anything_runs(tmp_path: Path) -> None:
    code, _, err = run("upload", tmp_path / "missing.csv", "--period", "2026-10-01〜2026-10-31")
    assert code == 2
    assert err.endswith("エラー: '--period' の値が正しくありません: FROM:TO の形で指定してください"
                        " (例 2026-10-01:2026-10-31)\n")
    assert "送信中" not in err


# --------------------------------------------------------------------------- filters


def test_unknown_kind_is_a_usage_error_listing_the_kinds(write_csv: WriteCsv, mappings: Path) -> None:
    path = write_csv([sale("S"), sale("R", kind="入金")])
    code, out, err = run("check", path, "-m", mappings, "--kinds", "売り上げ,入金")
    assert (code, out) == (2, "")
    assert err == "エラー: --kinds (出力取引) に使えない値があります: 売り上げ。使える値: 売上、入金、仕入、支払\n"


def test_unknown_status_is_a_usage_error(write_csv: WriteCsv, mappings: Path) -> None:
    path = write_csv([sale("S", status="送付済"), sale("X", status="見積中")])
    code, _, err = run("upload", path, "-m", mappings, "--exclude-status", "破棄,失注,はき", "--dry-run")
    assert code == 2
    # The profile's statuses, then those the export holds (見積中 is not in the profile).
    assert err.endswith("エラー: --exclude-status (ステータス) に使えない値があります: はき。"
                        "使える値: 作成済、送付済、入金済、支払済、破棄、失注、見積中\n")


def test_values_of_the_profile_or_the_export_are_accepted(write_csv: WriteCsv, mappings: Path) -> None:
    path = write_csv([sale("S", status="見積中"), sale("R", kind="振替")])
    code, out, _ = run("check", path, "-m", mappings, "--kinds", "振替,支払", "--exclude-status", "見積中,破棄")
    assert code == 0
    assert "出力取引の対象外 (--kinds)" in out


def test_status_filter_on_a_layout_without_statuses(mappings: Path) -> None:
    code, _, err = run("check", SAMPLES / "yayoi-2026-10.csv", "--profile", "yayoi", "-m", mappings,
                       "--exclude-status", "破棄")
    assert code == 2
    assert err == ("エラー: --exclude-status (ステータス) に使えない値があります: 破棄。"
                   "この入力にはこの項目の値がありません\n")


def test_an_export_without_documents_says_nothing_to_send(write_csv: WriteCsv, mappings: Path) -> None:
    code, out, _ = run("check", write_csv([]), "-m", mappings, "--no-masters")
    assert code == 0
    assert out.endswith("帳票 0 件 — 送信するものはありません\n") and "送信可能" not in out
    # Every document filtered out: the same plain words.
    code, out, _ = run("check", write_csv([sale()]), "-m", mappings, "--no-masters", "--kinds", "支払")
    assert code == 0 and out.endswith("帳票 0 件 — 送信するものはありません\n")


# --------------------------------------------------------------------------- the emulator's start


def emulator(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command in a process (it serves until stopped: each case here must refuse to start)."""
    return subprocess.run([sys.executable, "-m", "converter", "emulator", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_emulator_on_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = emulator("--port", port, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (f"エラー: ポート {port} は使用中です (別の converter emulator が動いていませんか)。"
                           "止めるか、--port で別の番号を指定してください\n")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "fx-rehearsal.local"])
@pytest.mark.parametrize("token", [[], ["--token", "emulator-token"]])
def test_emulator_off_loopback_needs_a_token_of_its_own(host: str, token: list[str]) -> None:
    code, out, err = run("emulator", "--host", host, *token)
    assert (code, out) == (2, "")
    assert err == (f"エラー: --host {host} はこのマシンの外から届くアドレスです。--token で推測されにくい"
                   "トークンを指定してください (既定のトークン emulator-token は公開されているため、"
                   "ネットワークでは使えません)\n")


def test_emulator_loopback_names_are_loopback() -> None:
    from converter.cli.emulator import is_loopback

    assert [is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST")] == [True] * 6
    assert [is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.com", "")] == [False] * 5


@pytest.mark.parametrize("option", ["--fail-503-rate", "--drop-rate", "--slow-rate"])
def test_emulator_rate_out_of_range(option: str) -> None:
    code, _, err = run("emulator", option, "5")
    assert code == 2
    assert err.endswith(f"エラー: '{option}' の値が正しくありません: 5.0 は範囲外です (使える範囲: 0.0<=x<=1.0)\n")


@pytest.mark.parametrize(("content", "line", "reason"), [
    (to_csv([sale()]).encode("cp932"), 1, "UTF-8 の文字ではありません"),
    (b'{"seq": 1}\n', 1, "登録した仕訳の記録の形ではありません"),
    (b'\n{"ocode": "tc09999001", "journo": "1", "journo_read": "1", "slip": {}}\nnot json\n', 3,
     "JSON として読めません"),
])
def test_emulator_store_that_is_not_its_jsonl(tmp_path: Path, content: bytes, line: int, reason: str) -> None:
    store = tmp_path / "slips.jsonl"
    store.write_bytes(content)
    code, out, err = run("emulator", "--store", store)
    assert (code, out) == (2, "")
    assert err == (f"エラー: --store のファイル {store} の {line} 行目はエミュレーターの記録 (JSON Lines: 1 行に"
                   f" 1 件の JSON) ではありません ({reason})。別のファイルを指定してください\n")
    assert store.read_bytes() == content  # untouched


def test_emulator_store_that_is_a_folder(tmp_path: Path) -> None:
    code, _, err = run("emulator", "--store", tmp_path)
    assert code == 2
    assert err.endswith(f"エラー: '--store' の値が正しくありません: 「{tmp_path}」はフォルダです"
                        " (ファイルを指定してください)\n")


def test_emulator_refusals_leave_no_traceback_in_a_real_process(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text("a,b\n", "utf-8")
    for args in (["--store", "bad.jsonl"], ["--fail-503-rate", "5"], ["--host", "0.0.0.0"]):
        done = emulator(*args, cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.startswith(
            ("エラー: ", "使い方: ")), done.stderr

