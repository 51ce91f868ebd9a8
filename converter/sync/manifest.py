"""The ``converter batch`` manifest: which companies to upload and how (see :mod:`converter.sync.batch`
for the format and what a run does). Checked as a whole before anything runs: every problem is
listed in one :class:`~converter.errors.ConfigError` (exit 2), so a broken manifest never half-runs.
"""

from __future__ import annotations

import dataclasses
import glob as globlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from converter.config.settings import load_yaml, strip_lines
from converter.convert.documents import Filters
from converter.convert.pipeline import Options
from converter.errors import ConfigError, InputError
from converter.fx.client import DEFAULT_TOKEN_ENV, check_base_url
from converter.ledger.ledger import default_ledger_path
from converter.sync.plan import parse_period

__all__ = ["DEFAULT_CONCURRENCY", "MAX_CONCURRENCY", "CompanySpec", "Manifest", "load_manifest", "resolve_inputs",
           "select"]

DEFAULT_CONCURRENCY = 2
MAX_CONCURRENCY = 16  # FX answers 429 to a client that floods it; more threads gain nothing

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
