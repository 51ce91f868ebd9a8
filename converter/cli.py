"""Command line: parse options, call one library function, turn ConverterError into a message.

Exit codes: 0 success, 1 problems in the data (or documents needing attention: 変更あり, 要確認, a
--corrections run held back by the mass-change guard — nothing sent, re-run with --yes), 2 usage,
configuration or authentication errors. Reports go to stdout, messages to stderr.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import ci_formats, clock
from .config import load_settings
from .corrections import parse_period
from .errors import ConfigError, ConverterError, InputError, LedgerMissing, Problem, ProblemsFound
from .fxapi import DEFAULT_TOKEN_ENV
from .ledger import STATUS_LABELS, Ledger, default_ledger_path
from .ledger_safety import init_command
from .mappings_check import error_problems
from .outputs import check_outputs
from .payload import write_requests
from .pipeline import Conversion, Options, convert
from .slips import Filters
from .upload import UploadReport, correction_rows, correction_status, upload_files

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Library errors become one clean message and their exit code — never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ProblemsFound as err:
            click.echo("\n".join(["  " + format_problem(p) for p in err.problems]))
            click.echo(f"エラー: {err}。check で確認し、直してから送信してください", err=True)
            sys.exit(err.exit_code)
        except ConverterError as err:
            click.echo(f"エラー: {err}", err=True)
            sys.exit(err.exit_code)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            # The reader went away (`converter history | head`): not an error of ours or the user's.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)
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
        # Kept as typed (not pathlib.Path, which drops "./"): a file given twice is named as spelled.
        click.argument("inputs", nargs=-1, required=True, type=click.Path()),
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
        click.option("--no-masters", is_flag=True,
                     help="Skip the checks against the FX master cache (MAPPINGS/masters/<ocode>.json)."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def ledger_options(func: F) -> F:
    decorators = [
        click.option("--ledger", "ledger_path", type=click.Path(path_type=Path), default=None,
                     help="Ledger file (default: ledgers/<ocode>.sqlite next to the mappings folder)."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _options(profile: str, sheet: str | None, kinds: str | None, closed_only: bool,
             exclude_status: str | None, truncate_memo: bool, no_masters: bool = False,
             content_hashes: bool = True, hash_only: Callable[[pd.Series], np.ndarray] | None = None,
             **_: Any) -> Options:
    filters = Filters(_split(kinds), closed_only, _split(exclude_status))
    return Options(profile=profile, sheet=sheet, filters=filters, truncate_memo=truncate_memo,
                   use_masters=not no_masters, content_hashes=content_hashes, hash_only=hash_only)


def run_conversion(inputs: tuple[str, ...], mappings_dir: Path, **options: Any) -> Conversion:
    return convert(list(inputs), mappings_dir, _options(**options))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jobcan-fx-converter")
def main() -> None:
    """ジョブカン見積/請求書の取引明細を TKC FX クラウドの仕訳に変換します。"""
    # A big month keeps ~10⁶ small objects alive to the end of the run (one record per document in
    # the plan and the ledger's answers); with the default thresholds the collector scans them over
    # and over: ~2 s of a 17.5 s preview with a ledger at 10⁶ rows (17.5 → 15.3 s, two runs each).
    # The run makes few reference cycles, so it collects them less often.
    gc.set_threshold(100_000, 50, 100)


def format_option(func: F) -> F:
    return click.option(
        "--format", "fmt", type=click.Choice(ci_formats.FORMATS), default="text", show_default=True,
        help="Report format: text; json (schema in the README); github (workflow commands: each problem"
             " annotated on its file and line); junit (JUnit XML, one test case per file).")(func)


def render(fmt: str, suite: str, files: list[str], problems: Sequence[Problem], notices: Sequence[Problem],
           unchecked: Problem | None, summary: dict[str, int]) -> str:
    """The json, github or junit report (text has its own formatter per command)."""
    if fmt == "json":
        return json.dumps({
            "problems": [p.as_dict() for p in problems],
            "notices": [p.as_dict() for p in notices],
            "unchecked": [unchecked.as_dict()] if unchecked else [],
            "summary": summary,
        }, ensure_ascii=False, indent=2)
    if fmt == "github":
        return ci_formats.github(problems, notices, unchecked)
    return ci_formats.junit(suite, files, problems)


@main.command()
@conversion_options
@format_option
@handle_errors
def check(fmt: str, **kwargs: Any) -> None:
    """Check exports and mappings; exit 1 if anything would stop an upload."""
    try:
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


@main.command()
@conversion_options
@click.option("--payload-dir", type=click.Path(path_type=Path), default=None,
              help="Write request-0001.json … exactly as they would be POSTed.")
@click.option("-o", "--output", "review_path", type=click.Path(path_type=Path), default=None,
              help="Write the review workbook (review.xlsx), also when there are problems.")
@ledger_options
@handle_errors
def preview(payload_dir: Path | None, review_path: Path | None, ledger_path: Path | None, **kwargs: Any) -> None:
    """Dry run: show what would be sent, write the review workbook and the request bodies."""
    ledger = _ledger_to_compare(ledger_path, kwargs["mappings_dir"])
    check_outputs(review=review_path, payload_dir=payload_dir, inputs=kwargs["inputs"], ledger=ledger)
    # Content hashes are only compared with a ledger: a company's first preview needs none, and a
    # later one only those of the documents the ledger has.
    compare = ledger is None or ledger.exists()
    known = _KnownIn(ledger, kwargs["mappings_dir"]) if ledger is not None and ledger.exists() else None
    result = run_conversion(content_hashes=compare, hash_only=known, **kwargs)
    click.echo(format_report(result))
    # With a ledger, preview also says which uploaded documents changed or vanished since.
    status = None
    if compare and ledger is not None:
        status = correction_status(result, ledger, known.found if known is not None else None)
    if status is not None and (status.changed or status.deleted):
        click.echo(format_upload(status))
    if review_path is not None:
        from .review import write_review  # openpyxl only when a workbook is asked for: check starts faster

        write_review(result, review_path, corrections=correction_rows(status) if status else None)
        click.echo(f"確認用ブックを書き出しました: {review_path}", err=True)
    if result.ok and payload_dir is not None:
        # Built while written (a big month's bodies need not all sit in memory), unless the review
        # workbook has built them already.
        paths = write_requests(result.requests if review_path is not None else result.iter_requests(), payload_dir)
        click.echo(f"送信内容を {len(paths)} ファイルに書き出しました: {payload_dir}", err=True)
    sys.exit(0 if result.ok else 1)


# --------------------------------------------------------------------------- upload & ledger


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
                      ledger=_ledger_to_compare(ledger_path, kwargs["mappings_dir"]))
        options = _options(**kwargs)
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
            from .review import write_review

            write_review(conversion, review_path, responses=None if report.dry_run else report.messages,
                         corrections=correction_rows(report))
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


@main.command()
@upload_options
@handle_errors
def upload(**kwargs: Any) -> None:
    """Send the documents not yet in FX (連携完了 ones are never sent again)."""
    _send_command(only_errors=False)(**kwargs)


@main.command()
@upload_options
@handle_errors
def retry(**kwargs: Any) -> None:
    """Re-send the エラー documents of INPUT (after fixing the mappings or the export)."""
    _send_command(only_errors=True)(**kwargs)


def _ledger_to_compare(ledger_path: Path | None, mappings_dir: Path) -> Path | None:
    """The ledger preview compares with; None when settings.yaml cannot say (convert reports why)."""
    if ledger_path is not None:
        return ledger_path
    try:
        return default_ledger_path(mappings_dir, load_settings(mappings_dir).ocode)
    except ConverterError:
        return None


class _KnownIn:
    """Which of the conversion's documents (by key) ``ledger`` has records of: asked once, while
    converting (only those are hashed), and kept for planning (each lookup is ~0.5 s a million keys)."""

    def __init__(self, ledger: Path, mappings_dir: Path) -> None:
        self.ledger, self.mappings_dir = ledger, mappings_dir
        self.found: set[str] | None = None  # None until asked

    def __call__(self, keys: pd.Series) -> np.ndarray:
        with Ledger.open(self.ledger, ocode=load_settings(self.mappings_dir).ocode, readonly=True) as book:
            self.found = book.known(keys.dropna().unique().tolist())
        return keys.isin(self.found).to_numpy()


def _open_ledger(ledger_path: Path | None, mappings_dir: Path, *, lock: bool) -> Ledger:
    settings = load_settings(mappings_dir)
    path = ledger_path or default_ledger_path(mappings_dir, settings.ocode)
    if not path.exists():
        raise LedgerMissing(str(path), init_command=init_command(mappings_dir, ledger_path))
    return Ledger.open(path, ocode=settings.ocode, lock=lock, readonly=not lock,
                       fiscal_year_start=settings.fiscal_year_start)


@main.command()
@ledger_options
@click.option("-m", "--mappings", "mappings_dir", type=click.Path(path_type=Path), default=Path("mappings"),
              show_default=True)
@click.option("--status", type=click.Choice(sorted(STATUS_LABELS)), default=None, help="Only this status.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--events", is_flag=True, help="Also list each document's history (操作日時/操作種別/作業者).")
@handle_errors
def history(ledger_path: Path | None, mappings_dir: Path, status: str | None, fmt: str, events: bool) -> None:
    """API連携一覧: where each document stands towards FX."""
    with _open_ledger(ledger_path, mappings_dir, lock=False) as ledger:
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


@main.command()
@click.argument("keys", nargs=-1, required=True)
@ledger_options
@click.option("-m", "--mappings", "mappings_dir", type=click.Path(path_type=Path), default=Path("mappings"))
@click.option("--sent/--not-sent", required=True,
              help="--sent: FX holds the slip (→ 連携完了). --not-sent: it does not (→ 連携待ち, sent next time).")
@handle_errors
def resolve(keys: tuple[str, ...], ledger_path: Path | None, mappings_dir: Path, sent: bool) -> None:
    """Record what you found in FX for 要確認 documents (KEY as shown by history)."""
    with _open_ledger(ledger_path, mappings_dir, lock=True) as ledger:
        ledger.resolve(keys, sent)
    click.echo(f"{len(keys)} 件を{'連携完了' if sent else '連携待ち'}にしました", err=True)


@main.command()
@click.argument("keys", nargs=-1, required=True)
@ledger_options
@click.option("-m", "--mappings", "mappings_dir", type=click.Path(path_type=Path), default=Path("mappings"))
@click.option("--force", is_flag=True, help="Also forget 連携完了 documents (only after deleting the slip in FX).")
@handle_errors
def forget(keys: tuple[str, ...], ledger_path: Path | None, mappings_dir: Path, force: bool) -> None:
    """Delete history entries (Jobcan's 削除); they are sent again by the next upload."""
    with _open_ledger(ledger_path, mappings_dir, lock=True) as ledger:
        ledger.forget(keys, force=force)
    click.echo(f"{len(keys)} 件の履歴を削除しました", err=True)


@main.command()
@click.option("--port", default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--token", default="emulator-token", show_default=True, help="Token the emulator accepts.")
@click.option("--store", "store_path", type=click.Path(path_type=Path), default=None,
              help="Append stored slips to this JSON-lines file (and load it at start).")
@click.option("--fail-503-rate", type=float, default=0.0, help="Share of imports answered 503.")
@click.option("--retry-after", type=int, default=1, show_default=True, help="Retry-After seconds on 503/429.")
@click.option("--slow-seconds", type=float, default=0.0, help="Delay answers by this many seconds …")
@click.option("--slow-rate", type=float, default=1.0, show_default=True, help="… for this share of imports.")
@click.option("--drop-rate", type=float, default=0.0, help="Share of imports stored, then dropped unanswered.")
@click.option("--extra-customers", type=int, default=0, help="Add N synthetic customers (paging tests).")
@click.option("--random-seed", type=int, default=0, show_default=True)
@click.option("--ocode", "ocodes", multiple=True, metavar="OCODE",
              help="企業コード the emulator serves (repeatable; default: tc09999001, the sample company). "
                   "Each gets its own copy of the sample masters.")
@click.option("--locale", default=None, metavar="LOCALE", help="システム識別子 in the URL (default: tfa).")
@click.option("--auto-numbering", is_flag=True,
              help="The company lets FX number 伝票番号 (inpjourconfig is_auto_numbering_journo: true).")
def emulator(port: int, host: str, token: str, store_path: Path | None, fail_503_rate: float, retry_after: int,
             slow_seconds: float, slow_rate: float, drop_rate: float, extra_customers: int, random_seed: int,
             ocodes: tuple[str, ...], locale: str | None, auto_numbering: bool) -> None:
    """Run the local FX API emulator (for rehearsals and tests)."""
    from .emulator import load_seed, run_server

    seed = None
    if auto_numbering:
        seed = load_seed(None)
        seed["inpjourconfig"] = {"is_auto_numbering_journo": True}
    run_server(port, host=host, token=token, store_path=store_path, fail_503_rate=fail_503_rate,
               retry_after=retry_after, slow_seconds=slow_seconds, slow_rate=slow_rate,
               drop_after_store_rate=drop_rate, extra_customers=extra_customers, random_seed=random_seed,
               ocodes=list(ocodes) or None, locale=locale, seed=seed)


# --------------------------------------------------------------------------- reports


def format_upload(report: UploadReport) -> str:
    head = "送信予定 (--dry-run、何も送信・記録していません)" if report.dry_run else "送信結果"
    lines = [f"{head}: 送信対象 {len(report.to_send)} 件 / 送信 {report.requests} 回"]
    if not report.dry_run:
        lines.append(f"連携完了 {len(report.sent)} 件 / エラー {len(report.errors)} 件 / "
                     f"要確認 {len(report.unknown)} 件")
    lines.append(f"連携済みのためスキップ {len(report.already_done)} 件")
    for key in report.recovered:
        lines.append(f"要確認: {key} — 前回の処理が送信中に中断しました。FX を確認して converter resolve してください")
    for key in report.still_unknown:
        lines.append(f"要確認: {key} — 未解決です。FX を確認して converter resolve {key!r} --sent/--not-sent")
    for key in report.changed:
        lines.append(f"変更あり: {key} — 連携後に内容が変わりました。再送していません"
                     " (--corrections で取消と訂正後の仕訳を送れます)")
    for key in report.deleted:
        lines.append(f"削除あり: {key} — 連携済みの帳票が書出から消えました (--corrections で取消仕訳を送れます)")
    for key in report.duplicates:
        lines.append(f"二重登録の疑い: {key} — 台帳の形式更新で、取引日だけが違う同じ帳票の 2 件目として"
                     "残した記録です。FX に同じ帳票の仕訳が二重にある可能性があります (--corrections でこの記録の"
                     "取消仕訳を送れます。converter history で経緯を確認できます)")
    for key in report.corrected:
        lines.append(f"訂正済み: {key} — 取消仕訳{'' if key in report.withdrawn else 'と訂正後の仕訳'}を送信しました")
    for m in report.messages:
        where = f" ({m.file}:{m.row}行)" if m.row else ""
        label = "FX エラー" if m.kind == "error" else "FX みなし処理"
        lines.append(f"{label}: {m.doc_no} 連携番号 {m.journo_read}{where}: {m.content}")
    if report.held is not None:
        lines.append(("(--dry-run: 送信するときは次のとおり保留されます) " if report.dry_run else "")
                     + report.held.message())
    if report.stop is not None:
        lines += format_stop(report)
    return "\n".join(lines)


def format_stop(report: UploadReport) -> list[str]:
    """Why the run ended early, what it left 連携待ち and what to fix."""
    stop = report.stop
    assert stop is not None
    left = f"未送信のまま連携待ちの帳票 {len(report.left_pending)} 件"
    if stop.kind == "storm":
        return [f"送信を中止しました: FX が同じ理由で {stop.requests} 回続けて要求を拒否しました — {stop.reason}",
                f"FX が指摘した帳票はエラーにしました。{left}。",
                "直し方: converter masters pull で FX のマスターを取り込み、converter check でコードを確認し、"
                "mappings の表を直してから converter upload を再実行してください (エラーの帳票も送り直します)"]
    return [f"送信を中止しました: FX が要求を拒否しました — {stop.reason}",
            f"それまでの送信結果は上のとおりです。{left}。トークン・権限を確かめてから再実行してください"]


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
    lines += findings_lines(result.notices, result.unchecked, result.problems,
                            problems_title=f"エラー {len(result.problems)} 件 — 送信できません:",
                            clean="問題はありません — 送信可能")
    return "\n".join(lines)


def findings_lines(notices: Sequence[Problem], unchecked: Problem | None, problems: Sequence[Problem], *,
                   problems_title: str, clean: str) -> list[str]:
    """What a check found, as every check's text report ends: お知らせ, 未確認, then エラー or ``clean``."""
    lines = ["お知らせ: " + format_problem(n) for n in notices]
    if unchecked is not None:
        lines.append(f"未確認: {unchecked.message} [{unchecked.rule}]")
    if problems:
        lines.append(problems_title)
        lines += ["  " + format_problem(p) for p in problems]
    else:
        lines.append(clean)
    return lines


# Commands kept in their own modules; imported last because they import helpers from here.
from .cli_batch import batch  # noqa: E402
from .cli_ledger import ledger  # noqa: E402
from .cli_masters import mappings, masters  # noqa: E402

main.add_command(batch)
main.add_command(ledger)
main.add_command(masters)
main.add_command(mappings)

if __name__ == "__main__":  # pragma: no cover
    main()
