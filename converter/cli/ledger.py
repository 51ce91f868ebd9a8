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
                        default=Path("mappings"), show_default=True,
                        help="Mappings folder (settings.yaml gives the company, ocode).")(func)


@click.group()
def ledger() -> None:
    """The upload ledger: create it (never implicit), check it, restore it from a backup."""


@ledger.command()
@mappings_option
@ledger_options
@handle_errors
def init(mappings_dir: Path, ledger_path: Path | None) -> None:
    """Create the (empty) ledger of the settings' ocode; refuses if one exists."""
    ocode, path = init_ledger(mappings_dir, ledger_path)
    click.echo(f"台帳を作成しました: {path} (会社コード {ocode})")


@ledger.command()
@mappings_option
@ledger_options
@handle_errors
def verify(mappings_dir: Path, ledger_path: Path | None) -> None:
    """Check the ledger (integrity_check and its own rules): exit 0 fine, 2 damaged."""
    result = verify_ledger(mappings_dir, ledger_path)
    backup = f"最新のバックアップ: {result.newest_backup}" if result.newest_backup else "バックアップはまだありません"
    click.echo(f"台帳に問題はありません: {result.path} (会社コード {result.ocode},"
               f" 帳票 {result.documents} 件)。{backup}")


@ledger.command()
@click.argument("backup", type=click.Path(path_type=Path))
@mappings_option
@ledger_options
@handle_errors
def restore(backup: Path, mappings_dir: Path, ledger_path: Path | None) -> None:
    """Replace the ledger by BACKUP after checking it (the old file is kept, renamed)."""
    result = restore_ledger(backup, mappings_dir, ledger_path)
    aside = f"元の台帳は {result.aside} に残しました。" if result.aside else ""
    click.echo(f"台帳を復元しました: {result.path} ← {result.backup} (帳票 {result.documents} 件)。{aside}"
               "バックアップの後に送信した帳票は FX の登録内容と照らし合わせてください")
