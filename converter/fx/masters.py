"""FX master data: pull it and cache it next to the mappings (checks: ``masters_check``).

Cache: ``<mappings>/masters/<ocode>.json``, written atomically (temp file + ``os.replace``,
mode 0600), so an interrupted pull never replaces a good cache. Format (``format`` 1)::

    {"format": 1, "ocode": "tc09999001", "locale": "tfa", "base_url": "https://…",
     "fetched_at": "2026-10-31T09:00:00+09:00",          # ISO 8601 with offset
     "accounts": [...],               # v3/accounts?is_act_only=0&is_dsp_allaux=1 (口座 rows too)
     "consumptiontaxrates": [...],    # v1/consumptiontaxrates (all periods; ymd_b/ymd_e ISO)
     "customers": [...],              # v3/customers?is_dsp_all=1, every page
     "departments": [...],            # v2/departments?is_dsp_all=1
     "fundbalancebreakdowns": [...],  # v1/fundbalancebreakdowns
     "inpjourconfig": {"is_auto_numbering_journo": false}}

Each list holds the records exactly as FX answered them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from converter import clock
from converter.config.settings import Settings
from converter.errors import ConfigError, FXResponseError
from converter.fx.client import DEFAULT_TOKEN_ENV, FXClient, RetryPolicy, timeouts, token_from_env
from converter.outputs import write_atomic  # the one private-file writer; re-exported for suggest

__all__ = ["CACHE_FORMAT", "DEFAULT_MAX_AGE_DAYS", "MasterData", "cache_path", "fetch_masters",
           "load_masters", "pull_masters", "save_masters", "write_atomic"]

CACHE_FORMAT = 1
DEFAULT_MAX_AGE_DAYS = 7
PAGE_SIZE = 1000  # the largest ``limit`` v3/customers accepts
Progress = Callable[[int, int], None]  # (customers fetched, total_count)

# Keys each record must carry, with their JSON type (from the reference's `required` lists,
# limited to what the converter reads: a field FX adds later must not break the pull).
_S, _N = "文字列", "数値"
_SHAPES: dict[str, dict[str, str]] = {
    "accounts": {"cd_act": _S, "nm_act": _S, "kana_act": _S, "catcmtx": _N, "is_usedep": _N,
                 "is_useauxact": _N, "is_usecstmldgr": _N, "is_fundapplc": _N},
    "consumptiontaxrates": {"ymd_b": _S, "is_reduce_cmtxrate": _N, "cmtxrate": _N},
    "customers": {"cd_cstm": _S, "nm_cstm": _S, "kana_cstm": _S},
    "departments": {"cd_dep": _S, "nm_dep": _S, "kana_dep": _S},
    "fundbalancebreakdowns": {"cd_fbcat": _S, "nm_fbcat": _S, "cd_fbbdcat": _S, "nm_fbbdcat": _S},
}
_OPTIONAL_TEXT = {
    "accounts": ("cd_auxact", "nm_auxact", "kana_auxact", "cd_fbcat_dc", "cd_fbbdcat_dc", "cd_fbcat_cc",
                 "cd_fbbdcat_cc"),
    "consumptiontaxrates": ("ymd_e",),
    "departments": ("snm_dep",),
}
LABELS = {
    "accounts": "勘定科目 (v3/accounts)", "consumptiontaxrates": "消費税率 (v1/consumptiontaxrates)",
    "customers": "取引先 (v3/customers)", "departments": "部門 (v2/departments)",
    "fundbalancebreakdowns": "資金収支区分 (v1/fundbalancebreakdowns)",
    "inpjourconfig": "仕訳の入力設定 (v1/inpjourconfig)",
}
_DATE = re.compile(r"([0-9]{4})[-/]?([0-9]{2})[-/]?([0-9]{2})")


@dataclass(frozen=True)
class MasterData:
    """One company's FX masters as pulled, with pandas views for the vectorised checks."""

    ocode: str
    locale: str
    fetched_at: dt.datetime
    accounts: list[dict[str, Any]]
    consumptiontaxrates: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    departments: list[dict[str, Any]]
    fundbalancebreakdowns: list[dict[str, Any]]
    inpjourconfig: dict[str, Any]
    base_url: str = ""
    path: Path | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CACHE_FORMAT, "ocode": self.ocode, "locale": self.locale, "base_url": self.base_url,
            "fetched_at": self.fetched_at.isoformat(timespec="seconds"),
            "accounts": self.accounts, "consumptiontaxrates": self.consumptiontaxrates,
            "customers": self.customers, "departments": self.departments,
            "fundbalancebreakdowns": self.fundbalancebreakdowns, "inpjourconfig": self.inpjourconfig,
        }

    @classmethod
    def from_json(cls, data: Any, path: Path | None = None) -> MasterData:
        """Parse a cache document; any deviation from the format raises ValueError."""
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
            raise ValueError(f"format {CACHE_FORMAT} のキャッシュではありません")
        for key in ("ocode", "locale", "fetched_at"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ValueError(f"{key} がありません")
        try:
            fetched = dt.datetime.fromisoformat(data["fetched_at"])
        except ValueError:
            raise ValueError(f"fetched_at が日時ではありません: {data['fetched_at']}") from None
        if fetched.tzinfo is None:
            fetched = fetched.replace(tzinfo=dt.UTC)
        lists = {name: records(data, name) for name in _SHAPES}
        return cls(ocode=data["ocode"], locale=data["locale"], fetched_at=fetched,
                   inpjourconfig=inpjourconfig(data), base_url=str(data.get("base_url", "")), path=path, **lists)

    def age(self, now: dt.datetime | None = None) -> dt.timedelta:
        now = now or dt.datetime.now(dt.UTC)
        return (now if now.tzinfo else now.replace(tzinfo=dt.UTC)) - self.fetched_at

    # -- views for the checks ---------------------------------------------------------------

    @cached_property
    def account_table(self) -> pd.DataFrame:
        """One row per cd_act (its attributes), indexed by cd_act; defaults "" where absent."""
        columns = ["cd_act", "nm_act", "kana_act", "catcmtx", "is_usedep", "is_useauxact", "is_usecstmldgr",
                   "is_fundapplc", "cd_fbcat_dc", "cd_fbbdcat_dc", "cd_fbcat_cc", "cd_fbbdcat_cc"]
        frame = pd.DataFrame([{c: a.get(c, "") for c in columns} for a in self.accounts], columns=columns)
        return frame.drop_duplicates("cd_act").set_index("cd_act", drop=False)

    @cached_property
    def auxact_table(self) -> pd.DataFrame:
        """The 口座 rows (cd_auxact not empty): cd_act, cd_auxact, nm_auxact, kana_auxact."""
        columns = ["cd_act", "cd_auxact", "nm_auxact", "kana_auxact"]
        rows = [{c: a.get(c, "") for c in columns} for a in self.accounts if a.get("cd_auxact")]
        return pd.DataFrame(rows, columns=columns)

    @cached_property
    def rate_table(self) -> pd.DataFrame:
        """Tax rates with ISO ymd_b/ymd_e (open end = 9999-12-31), cmtxrate, is_reduce_cmtxrate."""
        rows = [{"ymd_b": r["ymd_b"], "ymd_e": r.get("ymd_e") or "9999-12-31", "cmtxrate": int(r["cmtxrate"]),
                 "is_reduce_cmtxrate": int(r["is_reduce_cmtxrate"])} for r in self.consumptiontaxrates]
        return pd.DataFrame(rows, columns=["ymd_b", "ymd_e", "cmtxrate", "is_reduce_cmtxrate"])

    @cached_property
    def customer_codes(self) -> pd.Index:
        codes: list[str] = [c["cd_cstm"] for c in self.customers]
        return pd.Index(codes)

    @cached_property
    def department_codes(self) -> pd.Index:
        codes: list[str] = [d["cd_dep"] for d in self.departments]
        return pd.Index(codes)

    @cached_property
    def fund_pairs(self) -> pd.Index:
        return pd.Index([f"{f['cd_fbcat']}/{f['cd_fbbdcat']}" for f in self.fundbalancebreakdowns])


# --------------------------------------------------------------------------- response shapes


def records(payload: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """The list ``name`` of an answer (or the cache), checked against the reference's shape."""
    items = payload.get(name)
    if not isinstance(items, list):
        raise ValueError(f"{LABELS[name]}: 一覧 '{name}' がありません")
    out = []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ValueError(f"{LABELS[name]}: {position} 件目がオブジェクトではありません")
        for key, kind in _SHAPES[name].items():
            value = item.get(key)
            ok = isinstance(value, str) if kind == _S else _is_number(value)
            if not ok:
                raise ValueError(f"{LABELS[name]}: {position} 件目の {key} が{kind}ではありません ({value!r})")
        for key in _OPTIONAL_TEXT.get(name, ()):
            if item.get(key) is not None and not isinstance(item[key], str):
                raise ValueError(f"{LABELS[name]}: {position} 件目の {key} が文字列ではありません")
        if name == "consumptiontaxrates":
            item = {**item, **{k: _iso(item[k], name, position) for k in ("ymd_b", "ymd_e") if item.get(k)}}
        out.append(item)
    return out


def inpjourconfig(payload: Mapping[str, Any]) -> dict[str, Any]:
    config = payload.get("inpjourconfig")
    if not isinstance(config, dict) or not isinstance(config.get("is_auto_numbering_journo"), bool):
        raise ValueError(f"{LABELS['inpjourconfig']}: is_auto_numbering_journo (true/false) がありません")
    return dict(config)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _iso(value: str, name: str, position: int) -> str:
    """A documented date form (20191001, 2019/10/01, 2019-10-01) as ISO, for string comparison."""
    m = _DATE.fullmatch(value)
    try:
        if m:
            return dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        pass
    raise ValueError(f"{LABELS[name]}: {position} 件目の日付が読めません ({value!r})")


# --------------------------------------------------------------------------- pull


def fetch_masters(client: FXClient, ocode: str, locale: str, *, base_url: str = "",
                  progress: Progress | None = None, page_size: int = PAGE_SIZE,
                  now: dt.datetime | None = None) -> MasterData:
    """Every master endpoint, customers page by page; all in memory until complete."""
    fetched_at = (now or clock.now()).astimezone(clock.JST)
    lists: dict[str, list[dict[str, Any]]] = {}
    for name, path, params in (
        ("accounts", "v3/accounts", {"is_act_only": 0, "is_dsp_allaux": 1}),
        ("consumptiontaxrates", "v1/consumptiontaxrates", None),
        ("departments", "v2/departments", {"is_dsp_all": 1}),
        ("fundbalancebreakdowns", "v1/fundbalancebreakdowns", None),
    ):
        lists[name] = _checked(name, client.get(path, params))
    config = _checked("inpjourconfig", client.get("v1/inpjourconfig"))
    lists["customers"] = _customers(client, progress, page_size)
    return MasterData(ocode=ocode, locale=locale, fetched_at=fetched_at, accounts=lists["accounts"],
                      consumptiontaxrates=lists["consumptiontaxrates"], customers=lists["customers"],
                      departments=lists["departments"], fundbalancebreakdowns=lists["fundbalancebreakdowns"],
                      inpjourconfig=config, base_url=base_url)


def _checked(name: str, payload: Mapping[str, Any]) -> Any:
    """The list (or inpjourconfig object) of one answer; a wrong shape stops the pull."""
    try:
        return inpjourconfig(payload) if name == "inpjourconfig" else records(payload, name)
    except ValueError as err:
        raise FXResponseError(f"FX の応答の形が想定と違います — {err}。キャッシュは更新していません") from None


def _customers(client: FXClient, progress: Progress | None, page_size: int) -> list[dict[str, Any]]:
    """Page through v3/customers (0-based offset) until total_count; sorted by code so pages are stable."""
    out: list[dict[str, Any]] = []
    total: int | None = None
    while total is None or len(out) < total:
        params = {"is_dsp_all": 1, "offset": len(out), "limit": page_size, "sort": "cd_cstm"}
        payload = client.get("v3/customers", params)
        count = payload.get("total_count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise FXResponseError(f"{LABELS['customers']}: total_count がありません。キャッシュは更新していません")
        if total is not None and count != total:
            raise FXResponseError(f"取引先の件数が取得中に変わりました ({total} → {count} 件)。"
                                  "もう一度 converter masters pull を実行してください")
        total = count
        page: list[dict[str, Any]] = _checked("customers", payload)
        if not page and len(out) < total:
            raise FXResponseError(f"取引先の一覧が total_count ({total} 件) に届く前に途切れました "
                                  f"({len(out)} 件目まで)。キャッシュは更新していません")
        out += page
        if progress is not None:
            progress(min(len(out), total), total)
    codes = [c["cd_cstm"] for c in out]
    if len(set(codes)) != len(codes):
        raise FXResponseError("取引先の一覧に同じ取引先コードが重複しています (取得中に並びが変わった可能性)。"
                              "もう一度 converter masters pull を実行してください")
    return out


def pull_masters(mappings_dir: Path, settings: Settings, *, base_url: str | None = None,
                 token_env: str = DEFAULT_TOKEN_ENV, transport: Any = None, retry: RetryPolicy | None = None,
                 progress: Progress | None = None, now: dt.datetime | None = None,
                 timeout: float | None = None) -> tuple[Path, MasterData]:
    """Fetch everything, then replace the cache in one step (the old one stays on any failure).
    ``timeout``: seconds to wait for each answer (default: the client's, 60)."""
    token = token_from_env(token_env)
    url = base_url or settings.base_url
    with FXClient(url, settings.ocode, token, locale=settings.locale, transport=transport, retry=retry,
                  token_env=token_env, timeout=timeouts(timeout)[0]) as client:
        data = fetch_masters(client, settings.ocode, settings.locale, base_url=url.rstrip("/"),
                             progress=progress, now=now)
    return save_masters(data, mappings_dir), data


# --------------------------------------------------------------------------- cache


def cache_path(mappings_dir: Path, ocode: str) -> Path:
    return Path(mappings_dir) / "masters" / f"{ocode}.json"


def save_masters(data: MasterData, mappings_dir: Path) -> Path:
    path = cache_path(mappings_dir, data.ocode)
    text = json.dumps(data.to_json(), ensure_ascii=False, indent=1)
    write_atomic(path, text.encode("utf-8"))
    return path


def load_masters(mappings_dir: Path, settings: Settings) -> MasterData | None:
    """The company's cache, or None when there is none (then nothing is checked against FX)."""
    path = cache_path(mappings_dir, settings.ocode)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    redo = f"converter masters pull -m {mappings_dir} で取り直してください"
    try:
        data = MasterData.from_json(json.loads(raw), path)
    except ValueError as err:  # json.JSONDecodeError is a ValueError too
        raise ConfigError(str(path), [f"FX マスターのキャッシュが読めません ({err})。{redo}"]) from None
    if (data.ocode, data.locale) != (settings.ocode, settings.locale):
        raise ConfigError(str(path), [f"キャッシュは {data.ocode}/{data.locale} のものです "
                                      f"(settings.yaml は {settings.ocode}/{settings.locale})。{redo}"])
    return data
