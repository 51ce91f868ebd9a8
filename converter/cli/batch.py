"""``converter batch MANIFEST.yaml``: upload many companies, then one summary table (or JSON).

Exit codes: 0 every company done; 1 any company failed or has documents needing attention;
2 the manifest itself is wrong (nothing ran). Progress (one line per finished company) goes
to stderr, the summary to stdout. The manifest format is in :mod:`converter.sync.batch`.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import click

from converter.cli._common import handle_errors
from converter.messages import plain
from converter.sync.batch import CompanyResult, run_batch
from converter.sync.manifest import MAX_CONCURRENCY, load_manifest, select

MAX_PROBLEMS_SHOWN = 10  # per company; `converter check` on that company shows them all


@click.command()
@click.argument("manifest_path", metavar="MANIFEST", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="まとめの形式 (json はジョブ管理ツール向け)。")
@click.option("--dry-run", is_flag=True, help="各社の送信する内容を表示するだけで、何も送信・記録しません。")
@click.option("--concurrency", type=click.IntRange(1, MAX_CONCURRENCY), default=None, metavar="社数",
              help="同時に処理する会社の数 (既定: マニフェストの concurrency、なければ 2)。")
@click.option("--only", multiple=True, metavar="NAME|OCODE",
              help="この会社だけを処理します (繰り返し指定できます)。")
@click.option("--yes", is_flag=True,
              help="会社の取消が settings.yaml の上限を超えても送信します (upload --yes と同じ)。")
@handle_errors
def batch(manifest_path: Path, fmt: str, dry_run: bool, concurrency: int | None, only: tuple[str, ...],
          yes: bool) -> None:
    """MANIFEST の全社を送信します (1 社が失敗しても他の会社は止まりません)。"""
    manifest = select(load_manifest(manifest_path), only)
    total, finished = len(manifest.companies), 0

    def progress(result: CompanyResult) -> None:
        nonlocal finished
        finished += 1
        click.echo(f"[{finished}/{total}] {result.status_label}: {result.name} ({result.ocode})"
                   + (f" — {_first_line(plain(result.message))}" if result.message else ""), err=True)

    results = run_batch(manifest, dry_run=True if dry_run else None, concurrency=concurrency, yes=yes,
                        on_done=progress)
    if os.environ.get("CONVERTER_DEBUG"):
        for r in results:
            if r.error is not None:
                click.echo(f"--- {r.name} ({r.ocode})", err=True)
                click.echo("".join(traceback.format_exception(r.error)), err=True)
    if fmt == "json":
        click.echo(json.dumps([r.as_dict() for r in results], ensure_ascii=False, indent=2))
    else:
        click.echo(format_batch(results))
    failed = sum(r.status == "failed" for r in results)
    attention = sum(r.status == "attention" for r in results)
    click.echo(f"{total} 社: 完了 {total - failed - attention} 社 / 要対応 {attention} 社 / 失敗 {failed} 社", err=True)
    sys.exit(0 if failed + attention == 0 else 1)


# --------------------------------------------------------------------------- text summary

_HEADINGS = ("会社", "ocode", "帳票", "送信対象", "連携完了", "エラー", "要確認", "状態")


def format_batch(results: Sequence[CompanyResult]) -> str:
    """The summary table, then what to do for each company that is not simply done."""
    from converter.cli.reports import format_problem

    rows = [[r.name, r.ocode, _count(r.documents), _count(r.to_send), _count(r.sent), _count(r.errors),
             _count(r.attention), r.status_label] for r in results]
    widths = [max(_width(str(row[i])) for row in [list(_HEADINGS), *rows]) for i in range(len(_HEADINGS))]
    numeric = range(2, 7)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(_pad(c, w, right=i in numeric) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    out = [line(_HEADINGS), line(["-" * w for w in widths])]
    out += [line(row) for row in rows]
    for r in results:
        if r.status == "done" and not r.message:
            continue
        out.append("")
        out.append(f"{r.name} ({r.ocode}) — {r.status_label}:")
        out += ["  " + text for text in plain(r.message).splitlines()]
        out += ["    " + format_problem(p) for p in r.problems[:MAX_PROBLEMS_SHOWN]]
        if len(r.problems) > MAX_PROBLEMS_SHOWN:
            out.append(f"    ほか {len(r.problems) - MAX_PROBLEMS_SHOWN} 件")
    return "\n".join(out)


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def _width(text: str) -> int:
    """Terminal columns: 全角 characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("F", "W") else 1 for ch in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    space = " " * max(0, width - _width(text))
    return space + text if right else text + space
