"""Commands ``converter upload`` and ``converter retry``: send to FX exactly once."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

from converter.cli._common import (
    DateParam,
    F,
    command_line_url,
    conversion_from,
    conversion_options,
    handle_errors,
    ledger_options,
)
from converter.cli.progress import heartbeat, workbook_progress
from converter.cli.reports import format_report, format_upload, in_workbook
from converter.convert.pipeline import Conversion
from converter.errors import EXIT_NOT_WRITTEN, ConverterError
from converter.fx.client import DEFAULT_TOKEN_ENV
from converter.outputs import check_outputs
from converter.sync.plan import parse_period
from converter.sync.preview import ledger_to_compare
from converter.sync.report import UploadReport, correction_rows
from converter.sync.upload import upload_files


def _period(ctx: click.Context, param: click.Parameter, text: str | None) -> tuple[date, date] | None:
    """--period read while the command line is parsed: a bad one is a usage error before anything runs."""
    if not text:
        return None
    try:
        return parse_period(text)
    except ValueError as err:
        raise click.BadParameter(str(err), ctx=ctx, param=param) from None


def _send_command(only_errors: bool) -> Callable[..., None]:
    def command(base_url: str | None, ledger_path: Path | None, token_env: str, dry_run: bool,
                review_path: Path | None, corrections: bool, correction_date: date | None,
                timeout: float | None, period: tuple[date, date] | None, yes: bool, **kwargs: Any) -> None:
        command_line_url(base_url)
        check_outputs(review=review_path, inputs=kwargs["inputs"],
                      ledger=ledger_to_compare(ledger_path, kwargs["mappings_dir"]))
        options = conversion_from(**kwargs)
        with heartbeat("読み込み・確認中") as beat:
            def progress(done: int, total: int) -> None:
                beat.status = f"送信 {done:,}/{total:,} 件"

            conversion, report = upload_files(
                list(kwargs["inputs"]), kwargs["mappings_dir"], options, ledger_path=ledger_path,
                base_url=base_url, token_env=token_env, dry_run=dry_run, only_errors=only_errors,
                corrections=corrections, correction_date=correction_date,
                period=period, yes=yes, timeout=timeout, progress=progress)
        click.echo(format_report(conversion, in_workbook("{sheet}")))
        click.echo(format_upload(report))
        if review_path is not None:
            _write_after_send(conversion, report, review_path)
        sys.exit(report.exit_code)

    return command


def _write_after_send(conversion: Conversion, report: UploadReport, review_path: Path) -> None:
    """The review workbook after the send. A failure to write it (a full disk) does not undo the
    send: the message says so, and the exit code is the report's, or EXIT_NOT_WRITTEN when all
    was done (a dry run sent nothing: there it is an ordinary error, exit 2)."""
    from converter.review.workbook import write_review

    try:
        with heartbeat("確認用ブックを書き出し中") as beat:
            write_review(conversion, review_path, responses=None if report.dry_run else report.messages,
                         corrections=correction_rows(report), answers=None if report.dry_run else report.answers,
                         unresolved=report.attention, progress=workbook_progress(beat))
    except ConverterError as err:
        if report.dry_run:
            raise
        click.echo(f"エラー: {err}", err=True)
        click.echo("送信は終わっています: 結果は台帳に記録済みです (converter history で確認できます)。"
                   "書き出せなかったのは確認用ブックだけです。もう一度 upload しても同じ帳票を二重に送信することは"
                   "ありません", err=True)
        sys.exit(report.exit_code or EXIT_NOT_WRITTEN)
    click.echo(f"確認用ブック (FX応答つき) を書き出しました: {review_path}", err=True)


def upload_options(func: F) -> F:
    decorators = [
        conversion_options,
        ledger_options,
        click.option("--base-url", default=None, metavar="URL",
                     help="FX API の URL (既定: settings.yaml の base_url)。"),
        click.option("--token-env", default=DEFAULT_TOKEN_ENV, show_default=True, metavar="環境変数名",
                     help="FX API のトークンを入れた環境変数の名前。"),
        click.option("--dry-run", is_flag=True, help="送信する内容を表示するだけで、何も送信・記録しません。"),
        click.option("-o", "--output", "review_path", type=click.Path(path_type=Path), default=None,
                     metavar="ファイル", help="FX の応答つきの確認用ブック (FX応答 シート) も書き出します。"),
        click.option("--corrections", is_flag=True,
                     help="連携後に変更・削除された帳票を訂正します: 取消仕訳 (と訂正後の仕訳) を送ります。"),
        click.option("--correction-date", type=DateParam(), default=None, metavar="YYYY-MM-DD",
                     help="取消仕訳の日付 (既定: 元の仕訳の日付)。2026-10-31 または 2026/10/31。"),
        click.option("--period", default=None, metavar="FROM:TO", callback=_period,
                     help="書出の出力期間 (例 2026-10-01:2026-10-31): この期間に連携済みで書出にない帳票は"
                          "削除されたものとみなします。既定: 書出にある最初の日から最後の日まで。"),
        click.option("--yes", is_flag=True,
                     help="--corrections で取り消す連携完了の帳票が settings.yaml の上限"
                          " (corrections_guard_percent / corrections_guard_min) を超えても送信します。"),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="秒",
                     help="FX の応答を待つ秒数 (既定 60)。過ぎた要求は要確認になります。FX から応答のない時間が"
                          "その 2 倍 (120 秒以上) になったら送信を中止します (残りは連携待ち)。"),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@click.command()
@upload_options
@handle_errors
def upload(**kwargs: Any) -> None:
    """FX にまだない帳票を送信します (連携完了の帳票は二度と送りません)。"""
    _send_command(only_errors=False)(**kwargs)


@click.command()
@upload_options
@handle_errors
def retry(**kwargs: Any) -> None:
    """エラーになった帳票を送り直します (マッピングか書出を直した後に)。"""
    _send_command(only_errors=True)(**kwargs)
