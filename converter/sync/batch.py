"""Many companies in one run: a manifest lists them, each is uploaded on its own.

A tax office serves dozens of client companies, one FX ``ocode`` each. ``converter batch
MANIFEST.yaml`` runs ``upload`` for every company of the manifest:

* each company is independent: whatever goes wrong with one (bad data, a missing file, a
  wrong token, a bug of ours) is recorded in its :class:`CompanyResult` and the others go on;
* at most ``concurrency`` companies run at the same time (threads: the work is mostly waiting
  for FX), and never two runs on one company's ledger — the manifest may not name one ledger
  twice, and the ledger's run lock (``flock``) also keeps out a second process;
* the manifest is checked as a whole before anything runs; every problem is listed in one
  :class:`ConfigError` (exit 2) so a broken manifest never half-runs.

Manifest format (YAML, UTF-8; relative paths are relative to the manifest's folder)::

    concurrency: 2                  # companies at the same time, 1–16 (default 2)
    dry_run: false                  # true: like `upload --dry-run` for every company
    companies:
      - name: 株式会社サンプル       # shown in the summary (default: the ocode)
        ocode: tc09999001           # required; must equal `ocode` in MAPPINGS/settings.yaml
        mappings: mappings          # required: folder with settings.yaml and the mapping tables
        inputs: [exports/a.csv]     # export files (a list or one path), and/or
        glob: "exports/tc09999001/*.csv"   # a pattern (or list), matched when the company runs
        ledger: ledgers/tc09999001.sqlite  # optional; default <mappings>/../ledgers/<ocode>.sqlite
        token_env: FX_API_TOKEN_TC09999001 # optional; default FX_API_TOKEN — the variable's *name*
        profile: jobcan             # optional input layout (default jobcan)
        base_url: https://…         # optional; default: base_url in settings.yaml
        sheet: 取引明細              # optional, as `upload --sheet`
        kinds: [売上, 入金]          # optional, as `upload --kinds`
        closed_only: false          # optional, as `upload --closed-only`
        exclude_status: [破棄, 失注] # optional, as `upload --exclude-status`
        truncate_memo: false        # optional, as `upload --truncate-memo`
        corrections: false          # optional, as `upload --corrections` (赤黒訂正; held by the
                                    # mass-change guard unless `converter batch --yes`)
        period: 2026-10-01:2026-10-31  # optional, as `upload --period` (the export's 出力期間)

Manifest errors (exit 2, nothing runs): unknown keys, a missing ``ocode`` or ``mappings``, no
``inputs``/``glob``, a token written into the YAML, two companies with the same ``ocode`` or
the same ledger file. Company errors (that company fails, the rest run): a glob matching
nothing, a missing file or folder, ``ocode`` ≠ settings.yaml, data problems, FX refusing.

API: :func:`~converter.sync.manifest.load_manifest` → :class:`~converter.sync.manifest.Manifest`;
:func:`~converter.sync.manifest.select` (``--only``); :func:`run_batch` → one :class:`CompanyResult`
per company, in manifest order. Nothing here prints; the CLI (:mod:`converter.cli.batch`) formats
the results.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from converter.config.settings import load_settings
from converter.convert.read import DUPLICATE_INPUT
from converter.errors import ConfigError, Problem, ProblemsFound
from converter.messages import CHANGED, CHANGED_WHY, DELETED, DELETED_WHY, failure
from converter.sync.manifest import MAX_CONCURRENCY, CompanySpec, Manifest, resolve_inputs
from converter.sync.report import UploadReport
from converter.sync.upload import upload_files

__all__ = ["STATUS_LABELS", "CompanyResult", "run_batch", "run_company"]


#: CompanyResult.status → what the summary shows.
STATUS_LABELS = {"done": "完了", "attention": "要対応", "failed": "失敗"}



@dataclass(frozen=True)
class CompanyResult:
    """How one company's run ended. Counts are ``None`` when the run stopped before knowing them."""

    name: str
    ocode: str
    status: str  # "done" | "attention" (ran, but documents need the user) | "failed" (did not run through)
    message: str = ""
    documents: int | None = None  # documents in the exports (0円 ones skipped)
    to_send: int | None = None
    sent: int | None = None  # 連携完了 in this run
    errors: int | None = None  # エラー in this run
    attention: int | None = None  # 要確認: new, left from earlier runs, or recovered from a killed run
    changed: int | None = None  # 連携完了 documents whose export changed since
    already_done: int | None = None
    problems: tuple[Problem, ...] = ()  # data problems that stopped the company (nothing sent)
    notices: tuple[Problem, ...] = ()  # the conversion's お知らせ (e.g. a file listed twice, read once)
    exit_code: int = 0  # what `converter upload` would have exited with for this company
    inputs: tuple[str, ...] = ()
    ledger: str = ""
    token_env: str = ""
    dry_run: bool = False
    seconds: float = 0.0
    error: BaseException | None = field(default=None, compare=False, repr=False)  # only for internal errors

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``--format json``); never holds the token, only the variable's name."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "error"}
        out["status_label"] = self.status_label
        out["problems"] = [p.as_dict() for p in self.problems]
        out["notices"] = [p.as_dict() for p in self.notices]
        out["inputs"] = list(self.inputs)
        out["seconds"] = round(self.seconds, 3)
        return out


# --------------------------------------------------------------------------- running


def run_batch(
    manifest: Manifest,
    *,
    dry_run: bool | None = None,
    concurrency: int | None = None,
    yes: bool = False,
    transport: httpx.BaseTransport | None = None,
    on_done: Callable[[CompanyResult], None] | None = None,
) -> list[CompanyResult]:
    """Run every company (at most ``concurrency`` at once); results in manifest order.

    ``dry_run``/``concurrency`` override the manifest; ``yes`` lets a company's ``corrections``
    past the mass-change guard (as ``upload --yes``). ``on_done`` is called in the caller's
    thread as each company finishes (progress). ``transport`` is for tests (in-process emulator).
    """
    dry = manifest.dry_run if dry_run is None else dry_run
    workers = max(1, min(concurrency or manifest.concurrency, MAX_CONCURRENCY, len(manifest.companies) or 1))
    # Ledger.open sets the process umask around file creation; with threads those calls can
    # interleave and leave 0o077 behind for the rest of the process. Put back what we found.
    umask = os.umask(0o077)
    os.umask(umask)
    results: dict[int, CompanyResult] = {}
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch")
    try:
        futures: dict[Future[CompanyResult], int] = {
            executor.submit(run_company, spec, dry_run=dry, yes=yes, transport=transport): i
            for i, spec in enumerate(manifest.companies)
        }
        for future in as_completed(futures):
            results[futures[future]] = result = future.result()  # run_company never raises
            if on_done is not None:
                on_done(result)
    finally:
        # Ctrl-C: companies not started yet are dropped; running ones finish their request
        # loop (a thread cannot be stopped safely mid-request; the ledger records it all).
        executor.shutdown(wait=True, cancel_futures=True)
        os.umask(umask)
    return [results[i] for i in range(len(manifest.companies))]


def run_company(spec: CompanySpec, *, dry_run: bool = False, yes: bool = False,
                transport: httpx.BaseTransport | None = None) -> CompanyResult:
    """Upload one company; every failure becomes the result, never an exception."""
    started = time.monotonic()
    inputs: list[Path] = []

    def result(status: str, message: str, **counts: Any) -> CompanyResult:
        return CompanyResult(name=spec.name, ocode=spec.ocode, status=status, message=_redact(message, spec),
                             inputs=tuple(str(p) for p in inputs), ledger=str(spec.ledger),
                             token_env=spec.token_env, dry_run=dry_run, seconds=time.monotonic() - started,
                             **counts)

    try:
        settings = load_settings(spec.mappings)
        if settings.ocode != spec.ocode:
            raise ConfigError(str(settings.path), [
                f"ocode: マニフェストでは {spec.ocode}、settings.yaml では {settings.ocode} です。"
                "別の会社の設定を指していないか確認してください (何も送信していません)"])
        inputs = resolve_inputs(spec)
        conversion, report = upload_files(
            inputs, spec.mappings, spec.options, ledger_path=spec.ledger, base_url=spec.base_url,
            token_env=spec.token_env, dry_run=dry_run, corrections=spec.corrections, period=spec.period, yes=yes,
            transport=transport)
    except ProblemsFound as err:
        said = failure(err)
        return result("failed", said.text, problems=tuple(err.problems), exit_code=said.exit_code)
    except Exception as err:  # a bug of ours must not stop the other companies
        said = failure(err, token_env=spec.token_env, technical=True)  # the CLI shows it plain
        return result("failed", said.text, exit_code=said.exit_code, error=err if said.internal else None)
    attention = len(report.unknown) + len(report.still_unknown) + len(report.recovered)
    # A file listed twice (the manifest's inputs, a glob) is read once; the summary says so.
    repeated = [n.message for n in conversion.notices if n.rule == DUPLICATE_INPUT]
    message = "。".join(filter(None, [*repeated, _notes(report, attention)]))
    return result("attention" if report.needs_attention else "done", message, notices=conversion.notices,
                  documents=int(conversion.summary()["documents"]), to_send=len(report.to_send),
                  sent=None if report.dry_run else len(report.sent),
                  errors=None if report.dry_run else len(report.errors), attention=attention,
                  changed=len(report.changed), already_done=len(report.already_done),
                  exit_code=report.exit_code)


def _notes(report: UploadReport, attention: int) -> str:
    notes = []
    if report.dry_run:
        notes.append(f"送信予定 {len(report.to_send)} 件 (--dry-run、何も送信・記録していません)")
    if report.errors:
        notes.append(f"エラー {len(report.errors)} 件: 直してから converter retry してください")
    if attention:
        notes.append(f"要確認 {attention} 件: FX を確認して converter resolve してください")
    if report.changed:
        notes.append(f"{CHANGED} {len(report.changed)} 件: {CHANGED_WHY} (FX 側で訂正が必要)")
    if report.deleted:
        notes.append(f"{DELETED} {len(report.deleted)} 件: {DELETED_WHY} (FX 側で訂正が必要)")
    if report.held is not None:  # (the manifest's corrections: true; `converter batch --yes` sends)
        notes.append(report.held.message())
    if report.stop is not None:
        if report.stop.kind == "silent":
            notes.append(f"送信を中止しました ({report.stop.reason})。連携待ち {len(report.left_pending)} 件: "
                         "FX が応答するようになってから再実行してください")
        else:
            what = (f"FX が同じ理由で {report.stop.requests} 回続けて拒否" if report.stop.kind == "storm"
                    else "FX が要求を拒否")
            notes.append(f"送信を中止しました ({what}: {report.stop.reason})。連携待ち {len(report.left_pending)} 件: "
                         "converter masters pull と mappings の修正のあと再実行してください")
    return "。".join(notes)


def _redact(message: str, spec: CompanySpec) -> str:
    """Belt and braces: no message of ours carries a token, but an exception text might."""
    token = os.environ.get(spec.token_env, "").strip()
    return message.replace(token, "***") if len(token) >= 4 else message
