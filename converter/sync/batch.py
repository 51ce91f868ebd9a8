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

API: :func:`load_manifest` → :class:`Manifest`; :func:`select` (``--only``);
:func:`run_batch` → one :class:`CompanyResult` per company, in manifest order. Nothing here
prints; the CLI (:mod:`converter.cli.batch`) formats the results.
"""

from __future__ import annotations

import dataclasses
import glob as globlib
import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from converter.config.settings import load_settings, load_yaml, strip_lines
from converter.convert.pipeline import Options
from converter.convert.read import DUPLICATE_INPUT
from converter.convert.slips import Filters
from converter.errors import ConfigError, ConverterError, FXAuthError, InputError, Problem, ProblemsFound
from converter.fx.client import DEFAULT_TOKEN_ENV, check_base_url
from converter.ledger.ledger import default_ledger_path
from converter.sync.plan import parse_period
from converter.sync.report import UploadReport
from converter.sync.upload import upload_files

__all__ = ["DEFAULT_CONCURRENCY", "MAX_CONCURRENCY", "STATUS_LABELS", "CompanyResult", "CompanySpec",
           "Manifest", "load_manifest", "run_batch", "select"]

DEFAULT_CONCURRENCY = 2
MAX_CONCURRENCY = 16  # FX answers 429 to a client that floods it; more threads gain nothing

#: CompanyResult.status → what the summary shows.
STATUS_LABELS = {"done": "完了", "attention": "要対応", "failed": "失敗"}

_TOP_KEYS = {"companies", "concurrency", "dry_run"}
_COMPANY_KEYS = {
    "name", "ocode", "mappings", "inputs", "glob", "ledger", "token_env", "profile", "base_url",
    "sheet", "kinds", "closed_only", "exclude_status", "truncate_memo", "corrections", "period",
}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class CompanySpec:
    """One company of the manifest, paths already resolved against the manifest's folder."""

    name: str
    ocode: str
    mappings: Path
    ledger: Path
    inputs: tuple[Path, ...] = ()
    globs: tuple[str, ...] = ()  # absolute patterns, matched at run time
    token_env: str = DEFAULT_TOKEN_ENV
    base_url: str | None = None
    options: Options = field(default_factory=Options)
    corrections: bool = False
    period: tuple[date, date] | None = None  # the export's 出力期間 (upload --period)
    line: int = 0  # where the company starts in the manifest


@dataclass(frozen=True)
class Manifest:
    path: Path
    companies: tuple[CompanySpec, ...]
    concurrency: int = DEFAULT_CONCURRENCY
    dry_run: bool = False


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


# --------------------------------------------------------------------------- manifest


def load_manifest(path: Path) -> Manifest:
    """Read and check the whole manifest; raise one ConfigError listing every problem."""
    path = Path(path)
    data, problems = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["companies: (会社の一覧) を持つキーと値の組で書いてください"])
    lines = data
    data = strip_lines(data)
    base = path.parent
    for key in sorted(set(data) - _TOP_KEYS, key=str):
        problems.append(f"{key}: 知らないキーです (使えるキー: {', '.join(sorted(_TOP_KEYS))})")
    concurrency = data.get("concurrency", DEFAULT_CONCURRENCY)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        problems.append(f"concurrency: 1 から {MAX_CONCURRENCY} の整数を指定してください ('{concurrency}')")
        concurrency = DEFAULT_CONCURRENCY
    dry_run = data.get("dry_run", False)
    if not isinstance(dry_run, bool):
        problems.append(f"dry_run: true か false を指定してください ('{dry_run}')")
        dry_run = False
    raw = data.get("companies")
    raw_lines = lines.get("companies")
    if not isinstance(raw, list) or not raw or not isinstance(raw_lines, list):
        problems.append("companies: 会社の一覧 (- ocode: ... の並び) を書いてください")
        raw, raw_lines = [], []
    companies: list[CompanySpec] = []
    for i, (entry, with_lines) in enumerate(zip(raw, raw_lines, strict=True), start=1):
        line = with_lines.get("__line__", 0) if isinstance(with_lines, dict) else 0
        spec = _company(entry, f"companies の {i} 社目" + (f" ({line}行目)" if line else ""), base, line, problems)
        if spec is not None:
            companies.append(spec)
    problems += _duplicates(companies)
    if problems:
        raise ConfigError(str(path), problems)
    return Manifest(path=path, companies=tuple(companies), concurrency=concurrency, dry_run=dry_run)


def _company(entry: Any, where: str, base: Path, line: int, problems: list[str]) -> CompanySpec | None:
    if not isinstance(entry, dict):
        problems.append(f"{where}: ocode: や mappings: を持つキーと値の組で書いてください")
        return None
    found: list[str] = []
    for key in sorted(set(entry) - _COMPANY_KEYS, key=str):
        if key in ("token", "api_token") or str(key).upper() == DEFAULT_TOKEN_ENV:
            found.append(f"{key}: トークンはマニフェストに書かず、環境変数に入れてその名前を"
                         " token_env に書いてください")
        else:
            found.append(f"{key}: 知らないキーです (使えるキー: {', '.join(sorted(_COMPANY_KEYS))})")
    text = {k: _text(entry, k, found, required=k in ("ocode", "mappings"))
            for k in ("name", "ocode", "mappings", "ledger", "token_env", "profile", "base_url", "sheet", "period")}
    period = None
    if text["period"]:
        try:
            period = parse_period(text["period"])
        except ValueError as err:
            found.append(f"period: {err} ('{text['period']}')")
    inputs = _texts(entry, "inputs", found)
    globs = _texts(entry, "glob", found)
    if "inputs" not in entry and "glob" not in entry:
        found.append("inputs: (ファイルの一覧) か glob: (パターン) のどちらかを書いてください")
    token_env = text["token_env"] or DEFAULT_TOKEN_ENV
    if not _ENV_NAME.match(token_env):
        found.append("token_env: 環境変数の名前を書いてください (トークンそのものではありません)")
    if text["base_url"]:
        try:
            check_base_url(text["base_url"])
        except ConfigError as err:
            found += [f"base_url: {p}" for p in err.problems]
    flags = {k: _flag(entry, k, found) for k in ("closed_only", "truncate_memo", "corrections")}
    filters = Filters(_texts(entry, "kinds", found), flags["closed_only"], _texts(entry, "exclude_status", found))
    problems += [f"{where}: {p}" for p in found]
    if found or not text["ocode"] or not text["mappings"]:
        return None
    ocode, mappings = text["ocode"], _path(base, text["mappings"])
    ledger = _path(base, text["ledger"]) if text["ledger"] else default_ledger_path(mappings, ocode)
    options = Options(profile=text["profile"] or "jobcan", sheet=text["sheet"], filters=filters,
                      truncate_memo=flags["truncate_memo"])
    return CompanySpec(
        name=text["name"] or ocode, ocode=ocode, mappings=mappings, ledger=ledger,
        inputs=tuple(_path(base, p) for p in inputs), globs=tuple(str(_path(base, g)) for g in globs),
        token_env=token_env, base_url=text["base_url"], options=options, corrections=flags["corrections"],
        period=period, line=line)


def _text(entry: dict[str, Any], key: str, found: list[str], *, required: bool = False) -> str | None:
    value = entry.get(key)
    if value is None:
        if required:
            found.append(f"{key}: 必須です")
        return None
    if not isinstance(value, str) or not value.strip():
        # YAML reads `ocode: 0123` as a number: say how to keep it text.
        found.append(f"{key}: 文字列で書いてください (数字だけなら引用符で囲みます) ('{value}')")
        return None
    return value.strip()


def _texts(entry: dict[str, Any], key: str, found: list[str]) -> tuple[str, ...]:
    value = entry.get(key)
    if value is None:
        return ()
    if isinstance(value, str) and value.strip():
        return (value.strip(),)
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(v.strip() for v in value)
    found.append(f"{key}: 文字列かその一覧で書いてください ('{value}')")
    return ()


def _flag(entry: dict[str, Any], key: str, found: list[str]) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        found.append(f"{key}: true か false を指定してください ('{value}')")
        return False
    return value


def _path(base: Path, text: str) -> Path:
    return base / Path(text).expanduser()


def _duplicates(companies: Sequence[CompanySpec]) -> list[str]:
    """One ledger per company and one company per ledger: two runs on one ledger would race."""
    problems = []
    by_ocode: dict[str, list[CompanySpec]] = {}
    by_ledger: dict[Path, list[CompanySpec]] = {}
    for c in companies:
        by_ocode.setdefault(c.ocode, []).append(c)
        by_ledger.setdefault(c.ledger.resolve(), []).append(c)
    for ocode, group in by_ocode.items():
        if len(group) > 1:
            problems.append(f"ocode {ocode} が {_where(group)} にあります。1 社は 1 回だけ書いてください "
                            "(台帳は会社ごとに 1 つ: 連携番号が重なります)")
    for ledger, group in by_ledger.items():
        if len(group) > 1:
            problems.append(f"台帳 {ledger} を {_where(group)} が共有しています。"
                            "会社ごとに別の ledger: を指定してください")
    return problems


def _where(group: Sequence[CompanySpec]) -> str:
    return "、".join(f"{c.name} ({c.line}行目)" if c.line else c.name for c in group)


def select(manifest: Manifest, only: Sequence[str]) -> Manifest:
    """Keep the companies named (by name or ocode) in ``only``; every name must match one."""
    if not only:
        return manifest
    missing = [n for n in only if not any(n in (c.name, c.ocode) for c in manifest.companies)]
    if missing:
        raise ConfigError(str(manifest.path), [f"--only {n}: マニフェストにない会社です" for n in missing])
    kept = tuple(c for c in manifest.companies if c.name in only or c.ocode in only)
    return dataclasses.replace(manifest, companies=kept)


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
        return result("failed", f"データのエラー {len(err.problems)} 件 — 何も送信していません。"
                                "converter check で確認してください",
                      problems=tuple(err.problems), exit_code=err.exit_code)
    except FXAuthError as err:
        # fxapi names FX_API_TOKEN; in a batch each company has its own variable.
        return result("failed", f"{err} (この会社のトークンの環境変数: {spec.token_env})", exit_code=err.exit_code)
    except ConverterError as err:
        return result("failed", str(err), exit_code=err.exit_code)
    except Exception as err:  # a bug of ours must not stop the other companies
        return result("failed", f"内部エラー: {type(err).__name__}: {err} — 変換ツールの不具合です。"
                                "CONVERTER_DEBUG=1 を付けて再実行した出力を添えて報告してください",
                      exit_code=2, error=err)
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


def resolve_inputs(spec: CompanySpec) -> list[Path]:
    """Listed files, then each glob's matches (sorted); a glob matching nothing fails the company."""
    paths = list(spec.inputs)
    for pattern in spec.globs:
        matches = sorted(Path(p) for p in globlib.glob(pattern, recursive=True) if Path(p).is_file())
        if not matches:
            raise InputError("glob に一致するファイルがありません。エクスポートの置き場所を確認してください",
                             file=pattern)
        paths += [m for m in matches if m not in paths]
    return paths


def _notes(report: UploadReport, attention: int) -> str:
    notes = []
    if report.dry_run:
        notes.append(f"送信予定 {len(report.to_send)} 件 (--dry-run、何も送信・記録していません)")
    if report.errors:
        notes.append(f"エラー {len(report.errors)} 件: 直してから converter retry してください")
    if attention:
        notes.append(f"要確認 {attention} 件: FX を確認して converter resolve してください")
    if report.changed:
        notes.append(f"変更あり {len(report.changed)} 件: 連携後に内容が変わりました (FX 側で訂正が必要)")
    if report.deleted:
        notes.append(f"削除あり {len(report.deleted)} 件: 連携済みの帳票がエクスポートから消えました"
                     " (FX 側で訂正が必要)")
    if report.held is not None:  # (the manifest's corrections: true; `converter batch --yes` sends)
        notes.append(report.held.message())
    if report.stop is not None:
        what = (f"FX が同じ理由で {report.stop.requests} 回続けて拒否" if report.stop.kind == "storm"
                else "FX が要求を拒否")
        notes.append(f"送信を中止しました ({what}: {report.stop.reason})。連携待ち {len(report.left_pending)} 件: "
                     "converter masters pull と mappings の修正のあと再実行してください")
    return "。".join(notes)


def _redact(message: str, spec: CompanySpec) -> str:
    """Belt and braces: no message of ours carries a token, but an exception text might."""
    token = os.environ.get(spec.token_env, "").strip()
    return message.replace(token, "***") if len(token) >= 4 else message
