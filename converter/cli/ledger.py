"""Commands ``converter ledger init | verify | restore``.

Registered on the main group by :mod:`converter.cli.app`.
"""

from __future__ import annotations

from pathlib import Path

import click

from converter.cli._common import handle_errors, ledger_options
from converter.ledger.admin import init_ledger, restore_ledger, verify_ledger


def mappings_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option("-m", "--mappings", "mappings_dir", type=click.Path(path_type=Path),
                        default=Path("mappings"), show_default=True, metavar="フォルダ",
                        help="マッピングのフォルダ (settings.yaml の ocode が会社を決めます)。")(func)


@click.group()
def ledger() -> None:
    """送信の台帳: 作成 (自動では作りません)・点検・バックアップからの復元。"""


@ledger.command()
@mappings_option
@ledger_options
@handle_errors
def init(mappings_dir: Path, ledger_path: Path | None) -> None:
    """settings.yaml の会社 (ocode) の空の台帳を作ります。既にあれば作りません。"""
    ocode, path = init_ledger(mappings_dir, ledger_path)
    click.echo(f"台帳を作成しました: {path} (会社コード {ocode})")


@ledger.command()
@mappings_option
@ledger_options
@handle_errors
def verify(mappings_dir: Path, ledger_path: Path | None) -> None:
    """台帳を点検します (integrity_check と台帳の決まり)。問題なしは 0、壊れていれば 2。"""
    result = verify_ledger(mappings_dir, ledger_path)
    backup = f"最新のバックアップ: {result.newest_backup}" if result.newest_backup else "バックアップはまだありません"
    click.echo(f"台帳に問題はありません: {result.path} (会社コード {result.ocode},"
               f" 帳票 {result.documents} 件)。{backup}")


@ledger.command()
@click.argument("backup", type=click.Path(path_type=Path), metavar="バックアップ")
@mappings_option
@ledger_options
@handle_errors
def restore(backup: Path, mappings_dir: Path, ledger_path: Path | None) -> None:
    """点検したバックアップで台帳を置き換えます (元のファイルは名前を変えて残します)。"""
    result = restore_ledger(backup, mappings_dir, ledger_path)
    aside = f"元の台帳は {result.aside} に残しました。" if result.aside else ""
    click.echo(f"台帳を復元しました: {result.path} ← {result.backup} (帳票 {result.documents} 件)。{aside}"
               "バックアップの後に送信した帳票は FX の登録内容と照らし合わせてください")
