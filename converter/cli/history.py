"""Commands ``converter history``, ``resolve`` and ``forget``: the ledger as the accountant sees it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from converter import clock, messages
from converter.cli._common import handle_errors, ledger_options, open_ledger
from converter.cli.table import table
from converter.ledger.ledger import ACTION_LABELS, STATUS_LABELS, DocumentRecord, Event
from converter.ledger.unresolved import in_requests, read_targets, targets

#: --status takes the English name or the Japanese label the accountant reads (連携待ち …).
STATUS_NAMES: dict[str, str] = {**{s: s for s in STATUS_LABELS}, **{v: k for k, v in STATUS_LABELS.items()}}
_ROLES = {"reversal": " (取消仕訳)", "replacement": " (訂正後の仕訳)"}
#: Lines of FX's messages shown under one エラー/要確認 row (all of them: --format json).
MESSAGE_LINES = 5


def _status(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    status = STATUS_NAMES.get(value.strip())
    if status is None:
        accepted = "、".join(f"{label} ({name})" for name, label in STATUS_LABELS.items())
        raise click.BadParameter(f"「{value}」は状態ではありません。指定できるのは {accepted} です",
                                 ctx=ctx, param=param)
    return status


@click.command()
@ledger_options
@click.option("-m", "--mappings", "mappings_dir", type=click.Path(path_type=Path), default=Path("mappings"),
              show_default=True, help="マッピングのフォルダ (settings.yaml の会社コードで台帳を探します)。")
@click.option("--status", callback=_status, default=None, metavar="状態",
              help="この状態の帳票だけ: 連携待ち・連携中・連携完了・エラー・要確認"
                   " (pending・sending・done・error・unknown も可)。")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "keys", "numbers"]), default="text",
              show_default=True,
              help="text: 一覧表、json: 全項目 (技術的な詳細を含む)、keys: 帳票キーを 1 行に 1 つ、"
                   "numbers: 連携番号を 1 行に 1 つ (keys・numbers は resolve --from にそのまま渡せます)。")
@click.option("--events", is_flag=True, help="各帳票の履歴 (操作日時・操作種別・作業者) も表示します。")
@handle_errors
def history(ledger_path: Path | None, mappings_dir: Path, status: str | None, fmt: str, events: bool) -> None:
    """API連携一覧: 各帳票の FX への連携状況 (時刻は日本時間)。"""
    with open_ledger(ledger_path, mappings_dir, lock=False) as ledger:
        records = ledger.documents(status)
        log = ledger.events() if events else []
    if fmt == "json":
        click.echo(json.dumps([_as_json(r) for r in records], ensure_ascii=False, indent=2))
        return
    if fmt in ("keys", "numbers"):
        for r in records:
            click.echo(r.key if fmt == "keys" else str(r.number))
        click.echo(f"計 {len(records)} 件", err=True)
        return
    for line in history_lines(records, log):
        click.echo(line)
    click.echo(f"計 {len(records)} 件", err=True)


def _as_json(r: DocumentRecord) -> dict[str, object]:
    return {"key": r.key, "status": r.status, "status_label": r.status_label, "journo_read": r.number,
            "fiscal_year": r.fy or None, "journo": r.journo, "attempts": r.attempts,
            "last_message": r.last_message, "message": messages.plain(r.last_message),
            "technical": messages.technical_names(r.last_message), "updated_at": clock.in_japan(r.updated_at),
            "operator": r.operator, "role": r.role, "parent": r.parent}


def history_lines(records: list[DocumentRecord], log: list[Event]) -> list[str]:
    """The text of ``converter history``: one row per document, aligned by display width; under an
    エラー or 要確認 row what FX (or the network) said, as sentences."""
    # an エラー/連携待ち document's 伝票番号 is not in FX (a rejected request's numbers are reused)
    rows = [[r.status_label, str(r.fy or "-"), str(r.number),
             str(r.journo or "-") if r.status in ("done", "unknown", "sending") else "-", str(r.attempts),
             clock.shown(r.updated_at), r.key + _ROLES.get(r.role, "")] for r in records]
    notes = [_note(r) for r in records]
    lines = table(["状態", "年度", "連携番号", "伝票番号", "回数", "更新日時 (日本時間)", "帳票キー"], rows,
                  ["<", ">", ">", ">", ">", "<", "<"], notes, indent=4)
    if log:
        lines.append("")
        lines += table(["操作日時 (日本時間)", "操作種別", "状態", "作業者", "帳票キー"],
                       [[clock.shown(e.at), ACTION_LABELS.get(e.action, e.action),
                         STATUS_LABELS.get(e.status, "削除"), e.operator, e.key] for e in log],
                       ["<", "<", "<", "<", "<"])
    return lines


def _note(r: DocumentRecord) -> str | None:
    if r.status not in ("error", "unknown") or not r.last_message:
        return None
    parts = messages.plain(r.last_message).split(" / ")
    shown = parts[:MESSAGE_LINES]
    if len(parts) > MESSAGE_LINES:
        shown.append(f"… ほか {len(parts) - MESSAGE_LINES} 件 (全件: --format json)")
    return "\n".join(shown)


@click.command()
@click.argument("keys", nargs=-1, metavar="[帳票キー|連携番号]...")
@ledger_options
@click.option("-m", "--mappings", "mappings_dir", type=click.Path(path_type=Path), default=Path("mappings"),
              help="マッピングのフォルダ (settings.yaml の会社コードで台帳を探します)。")
@click.option("--from", "from_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              metavar="ファイル",
              help="帳票キーか連携番号を 1 行に 1 つ書いたファイル (history --format keys / numbers の出力)。")
@click.option("--request", "requests", type=click.IntRange(min=1), multiple=True, metavar="要求番号",
              help="この要求 (upload の送信結果・要確認シートの 要求 #) の要確認の帳票すべて (繰り返し可)。"
                   "要求は全部登録されたか全部されていないかのどちらかです。")
@click.option("--sent/--not-sent", default=None,
              help="--sent: FX に仕訳がある (→ 連携完了)。--not-sent: ない (→ 連携待ち、次の upload で送信)。")
@handle_errors
def resolve(keys: tuple[str, ...], ledger_path: Path | None, mappings_dir: Path, from_file: Path | None,
            requests: tuple[int, ...], sent: bool | None) -> None:
    """要確認の帳票について FX で確認した結果を登録します (帳票キー 例 '売上|INV-1' か連携番号 で指定)。"""
    if sent is None:
        raise click.UsageError("FX に仕訳があったら --sent、なかったら --not-sent を付けてください")
    tokens = list(keys) + (read_targets(from_file) if from_file is not None else [])
    if not tokens and from_file is not None and not requests:  # an empty list (nothing found in FX, say): nothing to do
        click.echo(f"{from_file} に帳票キー・連携番号がありません。何も変更していません", err=True)
        return
    if not tokens and not requests:
        raise click.UsageError("帳票キーか連携番号を指定するか、--from で一覧ファイル、--request で要求番号を"
                               "指定してください"
                               " (一覧: converter history --status 要確認 --format keys)")
    with open_ledger(ledger_path, mappings_dir, lock=True) as ledger:
        chosen = list(dict.fromkeys(targets(ledger, tokens) + in_requests(ledger, requests)))
        ledger.resolve(chosen, sent)
    click.echo(f"{len(chosen)} 件を{'連携完了' if sent else '連携待ち'}にしました", err=True)


@click.command()
@click.argument("keys", nargs=-1, required=True, metavar="帳票キー...")
@ledger_options
@click.option("-m", "--mappings", "mappings_dir", type=click.Path(path_type=Path), default=Path("mappings"),
              help="マッピングのフォルダ (settings.yaml の会社コードで台帳を探します)。")
@click.option("--force", is_flag=True, help="連携完了の帳票も削除します (FX で仕訳を削除した後だけ)。")
@handle_errors
def forget(keys: tuple[str, ...], ledger_path: Path | None, mappings_dir: Path, force: bool) -> None:
    """履歴を削除します (ジョブカンの削除)。削除した帳票は次の upload で送信されます。"""
    with open_ledger(ledger_path, mappings_dir, lock=True) as ledger:
        ledger.forget(keys, force=force)
    click.echo(f"{len(keys)} 件の履歴を削除しました", err=True)
