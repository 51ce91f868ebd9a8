"""What every command shares: the error trap, shared options, opening the ledger.

Exit codes: 0 success, 1 problems in the data (or documents needing attention: 変更あり, 要確認, a
--corrections run held back by the mass-change guard — nothing sent, re-run with --yes), 2 usage,
configuration or authentication errors. Reports go to stdout, messages to stderr.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from converter.cli import ci_formats
from converter.cli.reports import IN_CHECK_JSON, SHOWN_LINES, first_lines, format_problem
from converter.config.settings import load_settings
from converter.convert.documents import Filters
from converter.convert.pipeline import Conversion, Options, convert
from converter.errors import ConfigError, ConverterError, LedgerMissing, ProblemsFound
from converter.fx.client import check_base_url
from converter.ledger.ledger import Ledger, default_ledger_path
from converter.ledger.safety import init_command
from converter.messages import failure
from converter.sync.plan import parse_day

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Library errors become one clean message and their exit code — never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ProblemsFound as err:
            shown = ["  " + format_problem(p) for p in err.problems[:SHOWN_LINES]]
            click.echo("\n".join(first_lines(shown, len(err.problems), IN_CHECK_JSON, "  ")))
            click.echo(failure(err).text, err=True)  # "エラー N 件 — 送信できません。…" (no "エラー: エラー")
            sys.exit(err.exit_code)
        except ConverterError as err:
            # Technical names (ConnectError …) only for debugging: the accountant reads the sentence.
            click.echo(f"エラー: {failure(err, technical=bool(os.environ.get('CONVERTER_DEBUG'))).text}", err=True)
            sys.exit(err.exit_code)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            # The reader went away (`converter history | head`): not an error of ours or the user's.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)
        except Exception as err:
            # A bug of ours: say so plainly; the traceback is for us (CONVERTER_DEBUG=1).
            if os.environ.get("CONVERTER_DEBUG"):
                raise
            said = failure(err)
            click.echo(said.text, err=True)
            sys.exit(said.exit_code)

    return wrapper  # type: ignore[return-value]


class DateParam(click.ParamType[date]):
    """A date option: 2026-10-31 or 2026/10/31; anything else is a usage error saying so."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return parse_day(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)


def command_line_url(url: str | None) -> None:
    """A ``--base-url`` typed on the command line, checked as such: its problem is not the settings
    file's (the library's check names settings.yaml's base_url)."""
    if url is None:
        return
    try:
        check_base_url(url)
    except ConfigError as err:
        raise ConverterError(f"--base-url: {err.problems[0]}") from None


def split_list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(v.strip() for v in value.replace("、", ",").split(",") if v.strip())


def conversion_options(func: F) -> F:
    """Options shared by every command that reads exports."""
    decorators = [
        # Kept as typed (not pathlib.Path, which drops "./"): a file given twice is named as spelled.
        click.argument("inputs", nargs=-1, required=True, type=click.Path(), metavar="入力ファイル..."),
        click.option("-m", "--mappings", "mappings_dir", type=click.Path(path_type=Path),
                     default=Path("mappings"), show_default=True, metavar="フォルダ",
                     help="マッピングのフォルダ (settings.yaml・対応表・profiles/ のある所)。"),
        click.option("--profile", default="jobcan", show_default=True, metavar="名前",
                     help="入力の形式 (プロファイル): jobcan、yayoi、または MAPPINGS/profiles/ の名前。"),
        click.option("--sheet", default=None, metavar="シート名",
                     help="読む Excel のシート (既定: 最初のシート)。"),
        click.option("--kinds", default=None, metavar="種別,...",
                     help="この取引種別だけを連携します (出力取引)。カンマ区切り、例: 売上,入金。"
                          "知らない値はエラーです。"),
        click.option("--closed-only", is_flag=True, help="締切済の帳票だけを連携します (締切済の取引のみ)。"),
        click.option("--exclude-status", default=None, metavar="ステータス,...",
                     help="このステータスの帳票を除きます。カンマ区切り、例: 破棄,失注。知らない値はエラーです。"),
        click.option("--truncate-memo", is_flag=True,
                     help="摘要(remark)を FX の上限 80 桁で切ります (エラーにせず、切った行をすべて一覧にします)。"),
        click.option("--no-masters", is_flag=True,
                     help="FX マスターのキャッシュ (MAPPINGS/masters/<ocode>.json) との照合をしません。"),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def ledger_options(func: F) -> F:
    decorators = [
        click.option("--ledger", "ledger_path", type=click.Path(path_type=Path), default=None, metavar="ファイル",
                     help="台帳のファイル (既定: マッピングのフォルダの隣の ledgers/<ocode>.sqlite)。"),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def conversion_from(profile: str, sheet: str | None, kinds: str | None, closed_only: bool,
             exclude_status: str | None, truncate_memo: bool, no_masters: bool = False,
             content_hashes: bool = True, hash_only: Callable[[pd.Series], np.ndarray] | None = None,
             **_: Any) -> Options:
    filters = Filters(split_list(kinds), closed_only, split_list(exclude_status))
    return Options(profile=profile, sheet=sheet, filters=filters, truncate_memo=truncate_memo,
                   use_masters=not no_masters, content_hashes=content_hashes, _hash_only=hash_only)


def run_conversion(inputs: tuple[str, ...], mappings_dir: Path, **options: Any) -> Conversion:
    return convert(list(inputs), mappings_dir, conversion_from(**options))


def format_option(func: F) -> F:
    return click.option(
        "--format", "fmt", type=click.Choice(ci_formats.FORMATS), default="text", show_default=True,
        help="結果の形式: text (文章)、json (形は README)、github (GitHub Actions の注釈: 問題ごとに"
             "ファイルと行に表示)、junit (JUnit XML: ファイルごとに 1 件)。")(func)


def open_ledger(ledger_path: Path | None, mappings_dir: Path, *, lock: bool) -> Ledger:
    settings = load_settings(mappings_dir)
    path = ledger_path or default_ledger_path(mappings_dir, settings.ocode)
    if not path.exists():
        raise LedgerMissing(str(path), init_command=init_command(mappings_dir, ledger_path))
    return Ledger.open(path, ocode=settings.ocode, lock=lock, readonly=not lock,
                       fiscal_year_start=settings.fiscal_year_start)
