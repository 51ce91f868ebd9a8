"""Commands ``converter history``, ``resolve`` and ``forget``: the ledger as the accountant sees it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from converter import clock
from converter.cli._common import handle_errors, ledger_options, open_ledger
from converter.ledger.ledger import STATUS_LABELS


@click.command()
@ledger_options
@click.option("-m", "--mappings", "mappings_dir", type=click.Path(path_type=Path), default=Path("mappings"),
              show_default=True)
@click.option("--status", type=click.Choice(sorted(STATUS_LABELS)), default=None, help="Only this status.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--events", is_flag=True, help="Also list each document's history (操作日時/操作種別/作業者).")
@handle_errors
def history(ledger_path: Path | None, mappings_dir: Path, status: str | None, fmt: str, events: bool) -> None:
    """API連携一覧: where each document stands towards FX."""
    with open_ledger(ledger_path, mappings_dir, lock=False) as ledger:
        records = ledger.documents(status)
        log = ledger.events() if events else []
    if fmt == "json":
        click.echo(json.dumps([
            {"key": r.key, "status": r.status, "status_label": r.status_label, "journo_read": r.number,
             "fiscal_year": r.fy or None, "journo": r.journo, "attempts": r.attempts, "last_message": r.last_message,
             "updated_at": r.updated_at, "operator": r.operator, "role": r.role, "parent": r.parent}
            for r in records], ensure_ascii=False, indent=2))
        return
    click.echo(f"{'状態':<6} {'年度':>6} {'連携番号':>8} {'回数':>4}  {'更新日時':<25} 帳票")
    for r in records:
        role = {"reversal": "  (取消仕訳)", "replacement": "  (訂正後の仕訳)"}.get(r.role, "")
        year, when = r.fy or "-", clock.in_japan(r.updated_at)
        click.echo(f"{r.status_label:<6} {year:>6} {r.number:>8} {r.attempts:>4}  {when:<25} {r.key}{role}"
                   + (f"\n         {r.last_message}" if r.status in ("error", "unknown") and r.last_message else ""))
    for e in log:
        label = STATUS_LABELS.get(e.status, "削除")
        click.echo(f"{clock.in_japan(e.at)}  {e.action:<8} {label:<6} {e.operator:<10} {e.key}")
    click.echo(f"計 {len(records)} 件", err=True)


@click.command()
@click.argument("keys", nargs=-1, required=True)
@ledger_options
@click.option("-m", "--mappings", "mappings_dir", type=click.Path(path_type=Path), default=Path("mappings"))
@click.option("--sent/--not-sent", required=True,
              help="--sent: FX holds the slip (→ 連携完了). --not-sent: it does not (→ 連携待ち, sent next time).")
@handle_errors
def resolve(keys: tuple[str, ...], ledger_path: Path | None, mappings_dir: Path, sent: bool) -> None:
    """Record what you found in FX for 要確認 documents (KEY as shown by history)."""
    with open_ledger(ledger_path, mappings_dir, lock=True) as ledger:
        ledger.resolve(keys, sent)
    click.echo(f"{len(keys)} 件を{'連携完了' if sent else '連携待ち'}にしました", err=True)


@click.command()
@click.argument("keys", nargs=-1, required=True)
@ledger_options
@click.option("-m", "--mappings", "mappings_dir", type=click.Path(path_type=Path), default=Path("mappings"))
@click.option("--force", is_flag=True, help="Also forget 連携完了 documents (only after deleting the slip in FX).")
@handle_errors
def forget(keys: tuple[str, ...], ledger_path: Path | None, mappings_dir: Path, force: bool) -> None:
    """Delete history entries (Jobcan's 削除); they are sent again by the next upload."""
    with open_ledger(ledger_path, mappings_dir, lock=True) as ledger:
        ledger.forget(keys, force=force)
    click.echo(f"{len(keys)} 件の履歴を削除しました", err=True)
