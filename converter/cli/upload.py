"""Commands ``converter upload`` and ``converter retry``: send to FX exactly once."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from converter.cli._common import (
    F,
    conversion_from,
    conversion_options,
    handle_errors,
    ledger_options,
    ledger_to_compare,
)
from converter.cli.reports import format_report, format_upload
from converter.fx.client import DEFAULT_TOKEN_ENV
from converter.outputs import check_outputs
from converter.sync.plan import parse_period
from converter.sync.upload import correction_rows, upload_files


def _period(text: str | None) -> tuple[date, date] | None:
    if not text:
        return None
    try:
        return parse_period(text)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--period") from None


def _send_command(only_errors: bool) -> Callable[..., None]:
    def command(base_url: str | None, ledger_path: Path | None, token_env: str, dry_run: bool,
                review_path: Path | None, corrections: bool, correction_date: datetime | None,
                timeout: float | None, period: str | None, yes: bool, **kwargs: Any) -> None:
        check_outputs(review=review_path, inputs=kwargs["inputs"],
                      ledger=ledger_to_compare(ledger_path, kwargs["mappings_dir"]))
        options = conversion_from(**kwargs)
        with click.progressbar(length=0, label="送信中", file=sys.stderr) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(done)

            conversion, report = upload_files(
                list(kwargs["inputs"]), kwargs["mappings_dir"], options, ledger_path=ledger_path,
                base_url=base_url, token_env=token_env, dry_run=dry_run, only_errors=only_errors,
                corrections=corrections, correction_date=correction_date.date() if correction_date else None,
                period=_period(period), yes=yes, timeout=timeout, progress=progress)
        click.echo(format_report(conversion))
        click.echo(format_upload(report))
        if review_path is not None:
            from converter.review.workbook import write_review

            write_review(conversion, review_path, responses=None if report.dry_run else report.messages,
                         corrections=correction_rows(report), answers=None if report.dry_run else report.answers,
                         unresolved=report.attention)
            click.echo(f"確認用ブック (FX応答つき) を書き出しました: {review_path}", err=True)
        sys.exit(report.exit_code)

    return command


def upload_options(func: F) -> F:
    decorators = [
        conversion_options,
        ledger_options,
        click.option("--base-url", default=None, help="FX API base URL (default: settings.yaml base_url)."),
        click.option("--token-env", default=DEFAULT_TOKEN_ENV, show_default=True,
                     help="Environment variable holding the FX API token."),
        click.option("--dry-run", is_flag=True, help="Show what would be sent; send and record nothing."),
        click.option("-o", "--output", "review_path", type=click.Path(path_type=Path), default=None,
                     help="Also write the review workbook with FX's answers (FX応答 sheet)."),
        click.option("--corrections", is_flag=True,
                     help="Correct documents changed or deleted since upload: reversing slip (+ the new one)."),
        click.option("--correction-date", type=click.DateTime(["%Y-%m-%d"]), default=None,
                     help="Date of the reversing slips (default: the original slip's date)."),
        click.option("--period", default=None, metavar="FROM:TO",
                     help="The export's 出力期間 (e.g. 2026-10-01:2026-10-31): documents uploaded in it and"
                          " missing from the export count as deleted. Default: first to last date present."),
        click.option("--yes", is_flag=True,
                     help="Send even when --corrections would reverse more 連携完了 documents than"
                          " settings.yaml allows (corrections_guard_percent / corrections_guard_min)."),
        click.option("--timeout", type=float, default=None,
                     help="Seconds to wait for FX's answer (default 60); after that the request is 要確認."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@click.command()
@upload_options
@handle_errors
def upload(**kwargs: Any) -> None:
    """Send the documents not yet in FX (連携完了 ones are never sent again)."""
    _send_command(only_errors=False)(**kwargs)


@click.command()
@upload_options
@handle_errors
def retry(**kwargs: Any) -> None:
    """Re-send the エラー documents of INPUT (after fixing the mappings or the export)."""
    _send_command(only_errors=True)(**kwargs)
