"""Command line: parse options, call one library function, turn ConverterError into a message.

Exit codes: 0 success, 1 problems in the data (or documents needing attention), 2 usage,
configuration or authentication errors. Reports go to stdout, messages to stderr.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .errors import ConverterError, Problem
from .payload import write_requests
from .pipeline import Conversion, Options, convert
from .slips import Filters

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Library errors become one clean message and their exit code — never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConverterError as err:
            click.echo(f"エラー: {err}", err=True)
            sys.exit(err.exit_code)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as err:
            # A bug of ours: say so plainly; the traceback is for us (CONVERTER_DEBUG=1).
            if os.environ.get("CONVERTER_DEBUG"):
                raise
            click.echo(
                f"内部エラー: {type(err).__name__}: {err}\n"
                "変換ツールの不具合です。入力ファイルは変更されていません。"
                "CONVERTER_DEBUG=1 を付けて再実行した出力を添えて報告してください",
                err=True,
            )
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _split(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(v.strip() for v in value.replace("、", ",").split(",") if v.strip())


def conversion_options(func: F) -> F:
    """Options shared by every command that reads exports."""
    decorators = [
        click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path)),
        click.option("-m", "--mappings", "mappings_dir", type=click.Path(path_type=Path),
                     default=Path("mappings"), show_default=True,
                     help="Folder with settings.yaml, the mapping tables and profiles/."),
        click.option("--profile", default="jobcan", show_default=True,
                     help="Input layout: jobcan, yayoi or a profile in MAPPINGS/profiles/."),
        click.option("--sheet", default=None, help="Excel sheet to read (default: the first)."),
        click.option("--kinds", default=None,
                     help="Only these 取引種別, comma separated (出力取引), e.g. 売上,入金."),
        click.option("--closed-only", is_flag=True, help="Only 締切済 documents (締切済の取引のみ)."),
        click.option("--exclude-status", default=None,
                     help="Leave out documents with these ステータス, e.g. 破棄,失注."),
        click.option("--truncate-memo", is_flag=True,
                     help="Cut 摘要 to FX's 80-column limit instead of reporting it (each cut listed)."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def run_conversion(
    inputs: tuple[Path, ...], mappings_dir: Path, profile: str, sheet: str | None,
    kinds: str | None, closed_only: bool, exclude_status: str | None, truncate_memo: bool,
    **ledger: Any,
) -> Conversion:
    filters = Filters(_split(kinds), closed_only, _split(exclude_status))
    options = Options(profile=profile, sheet=sheet, filters=filters, truncate_memo=truncate_memo)
    return convert(list(inputs), mappings_dir, options, **ledger)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jobcan-fx-converter")
def main() -> None:
    """ジョブカン見積/請求書の取引明細を TKC FX クラウドの仕訳に変換します。"""


@main.command()
@conversion_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Report format (json for CI).")
@handle_errors
def check(fmt: str, **kwargs: Any) -> None:
    """Check exports and mappings; exit 1 if anything would stop an upload."""
    result = run_conversion(**kwargs)
    if fmt == "json":
        report = {
            "problems": [p.as_dict() for p in result.problems],
            "notices": [p.as_dict() for p in result.notices],
            "summary": result.summary(),
        }
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(format_report(result))
    sys.exit(0 if result.ok else 1)


@main.command()
@conversion_options
@click.option("--payload-dir", type=click.Path(path_type=Path), default=None,
              help="Write request-0001.json … exactly as they would be POSTed.")
@handle_errors
def preview(payload_dir: Path | None, **kwargs: Any) -> None:
    """Dry run: show what would be sent, and write the request bodies."""
    result = run_conversion(**kwargs)
    click.echo(format_report(result))
    if result.ok and payload_dir is not None:
        paths = write_requests(list(result.requests), payload_dir)
        click.echo(f"送信内容を {len(paths)} ファイルに書き出しました: {payload_dir}", err=True)
    sys.exit(0 if result.ok else 1)


# --------------------------------------------------------------------------- reports


def format_problem(p: Problem) -> str:
    value = f" 値「{p.value}」" if p.value else ""
    return f"{p.location()}{value}: {p.message} [{p.rule}]"


def format_report(result: Conversion) -> str:
    s = result.summary()
    lines = []
    for f in result.files:
        lines.append(f"入力: {f.path} ({f.rows} 行, {f.encoding}, プロファイル {f.profile})")
    lines.append(
        f"帳票 {s['documents']} 件 / 仕訳 {s['slips']} 件 / 明細 {s['detail_lines']} 行 / "
        f"送信 {s['requests']} 回分 / スキップ {s['skipped']} 件 (うち 0円 {s['skipped_zero_yen']} 件)"
    )
    lines.append(f"借方合計 {s['debit_total']:,} / 貸方合計 {s['credit_total']:,}")
    for row in result.skipped.itertuples(index=False):
        lines.append(f"スキップ: {row.kind} {row.doc_no} {row.date} — {row.reason}")
    for n in result.notices:
        lines.append("お知らせ: " + format_problem(n))
    if result.problems:
        lines.append(f"エラー {len(result.problems)} 件 — 送信できません:")
        lines += ["  " + format_problem(p) for p in result.problems]
    else:
        lines.append("問題はありません — 送信可能")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    main()
