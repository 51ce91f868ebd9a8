"""Commands ``converter check`` and ``converter preview``: convert without sending."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from converter.cli._common import (
    conversion_from,
    conversion_options,
    format_option,
    handle_errors,
    ledger_options,
    run_conversion,
)
from converter.cli.progress import heartbeat, workbook_progress
from converter.cli.reports import format_report, format_upload, in_workbook, render
from converter.config.check import error_problems
from converter.errors import ConfigError, InputError
from converter.fx.bodies import write_requests
from converter.outputs import check_outputs
from converter.sync.preview import ledger_to_compare
from converter.sync.preview import preview as preview_run


@click.command()
@conversion_options
@format_option
@handle_errors
def check(fmt: str, **kwargs: Any) -> None:
    """書出とマッピングを点検します。送信を止める問題があれば終了コード 1。"""
    try:
        with heartbeat("読み込み・確認中"):
            result = run_conversion(content_hashes=False, **kwargs)
    except (ConfigError, InputError) as err:
        if fmt not in ("github", "junit"):
            raise
        # CI: settings/mapping problems annotated on their YAML lines (as mappings check does), an
        # unreadable export on its file; exit code as in text.
        click.echo(render(fmt, "converter check", [], error_problems(err), [], None, {}))
        click.echo(f"エラー: {err}", err=True)
        sys.exit(err.exit_code)
    if fmt == "text":
        click.echo(format_report(result))
    else:
        files = [f.path for f in result.files] or list(kwargs["inputs"])
        click.echo(render(fmt, "converter check", files, result.problems, result.notices, result.unchecked,
                          result.summary()))
        if fmt != "json":
            click.echo(f"エラー {len(result.problems)} 件 / お知らせ {len(result.notices)} 件", err=True)
    sys.exit(0 if result.ok else 1)


@click.command()
@conversion_options
@click.option("--payload-dir", type=click.Path(path_type=Path), default=None, metavar="フォルダ",
              help="送信する内容そのまま (request-0001.json …) を書き出します。")
@click.option("-o", "--output", "review_path", type=click.Path(path_type=Path), default=None, metavar="ファイル",
              help="確認用ブック (review.xlsx) を書き出します (問題があるときも)。")
@ledger_options
@handle_errors
def preview(payload_dir: Path | None, review_path: Path | None, ledger_path: Path | None, **kwargs: Any) -> None:
    """送信せずに試します: 送る内容を表示し、確認用ブックと送信内容を書き出します。"""
    ledger = ledger_to_compare(ledger_path, kwargs["mappings_dir"])
    check_outputs(review=review_path, payload_dir=payload_dir, inputs=kwargs["inputs"], ledger=ledger)
    with heartbeat("読み込み・確認中"):
        run = preview_run(kwargs["inputs"], kwargs["mappings_dir"], conversion_from(**kwargs), ledger_path=ledger)
    result = run.conversion
    click.echo(format_report(result, in_workbook("{sheet}")))
    # With a ledger, preview also says which uploaded documents changed or vanished since.
    status = run.status
    if status is not None and (status.changed or status.deleted or status.attention):
        click.echo(format_upload(status, in_workbook("訂正")))
    if review_path is not None:
        from converter.review.workbook import (
            write_review,  # openpyxl only when a workbook is asked for: check starts faster
        )

        with heartbeat("確認用ブックを書き出し中") as beat:
            write_review(result, review_path, corrections=run.correction_rows(),
                         unresolved=status.attention if status else None, progress=workbook_progress(beat))
        click.echo(f"確認用ブックを書き出しました: {review_path}", err=True)
    if result.ok and payload_dir is not None:
        # Built while written (a big month's bodies need not all sit in memory), unless the review
        # workbook has built them already.
        paths = write_requests(result.requests if review_path is not None else result.iter_requests(), payload_dir)
        click.echo(f"送信内容を {len(paths)} ファイルに書き出しました: {payload_dir}", err=True)
    sys.exit(0 if result.ok else 1)
