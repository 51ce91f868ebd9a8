"""Commands ``converter masters pull`` and ``converter mappings suggest``.

Registered on the main group by :mod:`converter.cli.app`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from converter.cli._common import (
    command_line_url,
    conversion_options,
    format_option,
    handle_errors,
    run_conversion,
)
from converter.cli.progress import heartbeat
from converter.cli.reports import findings_lines, render
from converter.config.check import MappingsReport, check_mappings
from converter.config.settings import load_settings
from converter.config.suggest import Suggestion, Written, suggest, write_suggestions
from converter.errors import ConfigError
from converter.fx.client import DEFAULT_TOKEN_ENV
from converter.fx.masters import MasterData, load_masters, pull_masters

TABLE_LABELS = {
    "accounts": "勘定科目(cd_act)・口座(cd_auxact) — accounts.yaml",
    "departments": "部門(cd_dep) — departments.yaml",
    "customers": "取引先(cd_cstm) — customers.yaml",
    "tax": "税区分(tptn) — tax.yaml",
}


@click.group()
def masters() -> None:
    """FX のマスター (科目・口座・税率・取引先・部門・資金収支区分) を取り込んで保存します。"""


@masters.command()
@click.option("-m", "--mappings", "mappings_dir", type=click.Path(path_type=Path), default=Path("mappings"),
              show_default=True, metavar="フォルダ",
              help="マッピングのフォルダ。キャッシュは MAPPINGS/masters/<ocode>.json に保存します。")
@click.option("--base-url", default=None, metavar="URL", help="FX API の URL (既定: settings.yaml の base_url)。")
@click.option("--token-env", default=DEFAULT_TOKEN_ENV, show_default=True, metavar="環境変数名",
              help="FX API のトークンを入れた環境変数の名前。")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="秒",
              help="FX の応答を待つ秒数 (既定 60)。FX から応答のない時間がその 2 倍 (120 秒以上) に"
                   "なったら取得をあきらめます。")
@handle_errors
def pull(mappings_dir: Path, base_url: str | None, token_env: str, timeout: float | None) -> None:
    """FX のマスターを取得し、全部そろったときだけキャッシュを置き換えます。"""
    command_line_url(base_url)
    settings = load_settings(mappings_dir)
    with heartbeat("FX マスターを取得中") as beat:
        def progress(fetched: int, total: int) -> None:
            beat.status = f"FX マスターを取得中: 取引先 {fetched:,}/{total:,} 件"

        path, data = pull_masters(mappings_dir, settings, base_url=base_url, token_env=token_env,
                                  progress=progress, timeout=timeout)
    click.echo(format_pulled(data, path))


def format_pulled(data: MasterData, path: Path) -> str:
    aux = sum(1 for a in data.accounts if a.get("cd_auxact"))
    numbering = "FX が自動付番" if data.inpjourconfig.get("is_auto_numbering_journo") else "台帳から付番"
    return (f"FX マスターを保存しました: {path} ({data.ocode}, {data.fetched_at:%Y-%m-%d %H:%M})\n"
            f"  勘定科目 {len(data.account_table)} 件 (口座 {aux} 件) / 消費税率 {len(data.consumptiontaxrates)} 件 / "
            f"取引先 {len(data.customers)} 件 / 部門 {len(data.departments)} 件 / "
            f"資金収支区分 {len(data.fundbalancebreakdowns)} 件 / 伝票番号(journo): {numbering}")


@click.group()
def mappings() -> None:
    """対応表 (マッピング): 書出なしで点検し、FX のマスターから候補を出します。"""


@mappings.command("check")
@click.option("-m", "--mappings", "mappings_dir", type=click.Path(path_type=Path), default=Path("mappings"),
              show_default=True, metavar="フォルダ",
              help="マッピングのフォルダ (settings.yaml・対応表・profiles/ のある所)。")
@click.option("--no-masters", is_flag=True,
              help="FX マスターのキャッシュ (MAPPINGS/masters/<ocode>.json) との照合をしません。")
@format_option
@handle_errors
def check_command(mappings_dir: Path, no_masters: bool, fmt: str) -> None:
    """settings.yaml・対応表・プロファイルだけを点検します (書出なし)。問題があれば終了コード 1。"""
    report = check_mappings(mappings_dir, use_masters=not no_masters)
    if fmt == "text":
        click.echo(format_mappings_report(report))
    else:
        click.echo(render(fmt, "converter mappings check", list(report.files), report.problems, report.notices,
                          report.unchecked, report.summary()))
        if fmt != "json":
            click.echo(f"エラー {len(report.problems)} 件 / お知らせ {len(report.notices)} 件", err=True)
    sys.exit(0 if report.ok else 1)


def format_mappings_report(report: MappingsReport) -> str:
    lines = [f"確認したファイル: {len(report.files)} 件 ({report.folder})"]
    lines += findings_lines(report.notices, report.unchecked, report.problems,
                            problems_title=f"エラー {len(report.problems)} 件:", clean="問題はありません")
    return "\n".join(lines)


@mappings.command("suggest")
@conversion_options
@click.option("--write", "write", is_flag=True,
              help="候補を対応表に追記します (名前が一致したものは有効、他はコメントにして)。")
@handle_errors
def suggest_command(write: bool, **kwargs: Any) -> None:
    """対応のない値をすべて、FX マスターの候補とともに一覧にします。"""
    mappings_dir: Path = kwargs["mappings_dir"]
    settings = load_settings(mappings_dir)
    data = load_masters(mappings_dir, settings)
    if data is None:
        raise ConfigError(str(mappings_dir), [f"FX マスターのキャッシュがありません。先に converter masters pull -m "
                                              f"{mappings_dir} を実行してください"])
    conversion = run_conversion(**kwargs)
    found = suggest(conversion.lines, conversion.mappings, data)
    click.echo(format_suggestions(found))
    if write and found:
        click.echo(format_written(write_suggestions(found, mappings_dir)))


def format_suggestions(found: list[Suggestion]) -> str:
    if not found:
        return "対応のない値はありません — マッピングは揃っています"
    lines = []
    for table, label in TABLE_LABELS.items():
        items = [s for s in found if s.table == table]
        if not items:
            continue
        lines.append(f"{label}: 対応のない値 {len(items)} 件")
        for s in items:
            head = f"  {s.label} ({s.count} 行)"
            if s.candidates:
                mark = "" if s.confident else " [要確認]"
                lines.append(f"{head} → {s.candidates[0].describe()}{mark}")
                lines += [f"      ほかの候補: {c.describe()}" for c in s.candidates[1:]]
            else:
                lines.append(f"{head} → 候補なし")
            if s.note:
                lines.append(f"      {s.note}")
    return "\n".join(lines)


def format_written(results: list[Written]) -> str:
    lines = []
    for r in results:
        lines.append(f"{r.path}: 追記 {r.active} 件 (有効) / {r.commented} 件 (コメント: 確認して # を外す)"
                     + (f" / 既にあるため省略 {r.skipped} 件" if r.skipped else ""))
    lines.append("追記した行には「# 要確認」を付けました。候補を確かめてから converter check を実行してください")
    return "\n".join(lines)
