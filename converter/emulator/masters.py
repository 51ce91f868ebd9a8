"""Master data of the FX emulator and the answers of the master endpoints.

:class:`Masters` holds one company's seed data (accounts with 口座, tax rates, customers,
departments, fund breakdowns, inpjourconfig) plus what imports auto-added. The ``get_*``
functions answer the GET endpoints as ``(status, body)``; :mod:`converter.emulator.server` adds HTTP.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED_PATH = Path(__file__).resolve().parent / "data" / "emulator_seed.json"
MSG_404 = "該当するデータがありません"
Json = dict[str, Any]
Answer = tuple[int, Json]


@dataclass
class Company:
    """Company settings FX keeps but no endpoint exposes; the slip rules depend on them.

    Seed key ``company`` (and ``Emulator(company=...)``). Each field names the FX menu the
    reference (slips/import) ties a rule to; defaults describe the packaged sample company.
    """

    # 設定 > 基本情報 > 利用機能範囲の設定 > 部門別管理機能 (cd_dep / is_add_depmaster)
    use_departments: bool = True
    # 資金管理機能を利用する (cd_fbcat / cd_fbbdcat)
    use_fund_management: bool = True
    # 仕訳の入力設定: 証憑番号「数字のみ入力」 (vouno)
    vouno_digits_only: bool = False
    # 消費税情報 > 消費税申告書自動作成区分: 消費税申告書を作成する (tptn, amnt_cmtx)
    makes_tax_return: bool = True
    # 消費税情報 > 税額経理区分: 税抜経理 (amnt_cmtx)
    tax_excluded: bool = False
    # 消費税情報 > 主たる事業区分を管理する (tbptn)
    manages_main_business: bool = False
    # The token's user may update 部門 / 取引先 / 口座 (403 when an import would add one)
    may_update_departments: bool = True
    may_update_customers: bool = True
    may_update_auxacts: bool = True

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Company:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(k for k in data if k not in names and not k.startswith("_"))
        if unknown:
            raise ValueError(f"unknown company settings: {unknown}; use {sorted(names)}")
        return cls(**{k: bool(v) for k, v in data.items() if k in names})

_DATE_RE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})|([0-9]{4})([/-])([0-9]{2})\5([0-9]{2})")


def parse_ymd(value: str) -> dt.date | None:
    """A date in one of the three documented forms (zero-padded, ASCII digits), else None."""
    m = _DATE_RE.fullmatch(value)
    if not m:
        return None
    y, mo, d = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m[4], m[6], m[7])
    try:
        return dt.date(int(y), int(mo), int(d))
    except ValueError:
        return None


@dataclass
class Masters:
    """One company's master data (seed shape), with the lookups the slip checks need."""

    accounts: list[dict[str, Any]]
    consumptiontaxrates: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    departments: list[dict[str, Any]]
    fundbalancebreakdowns: list[dict[str, Any]]
    inpjourconfig: dict[str, Any]
    company: Company = field(default_factory=Company)
    _customer_index: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._customer_index = {c["cd_cstm"]: c for c in self.customers}

    @classmethod
    def from_seed(cls, seed: Mapping[str, Any],
                  company: Mapping[str, Any] | None = None) -> Masters:
        s = copy.deepcopy(dict(seed))
        return cls(
            accounts=s.get("accounts", []),
            consumptiontaxrates=s.get("consumptiontaxrates", []),
            customers=s.get("customers", []),
            departments=s.get("departments", []),
            fundbalancebreakdowns=s.get("fundbalancebreakdowns", []),
            inpjourconfig=s.get("inpjourconfig", {"is_auto_numbering_journo": False}),
            company=Company.from_mapping({**s.get("company", {}), **(company or {})}),
        )

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy({
            "accounts": self.accounts, "consumptiontaxrates": self.consumptiontaxrates,
            "customers": self.customers, "departments": self.departments,
            "fundbalancebreakdowns": self.fundbalancebreakdowns,
            "inpjourconfig": self.inpjourconfig,
            "company": dataclasses.asdict(self.company),
        })

    @property
    def auto_numbering(self) -> bool:
        return bool(self.inpjourconfig.get("is_auto_numbering_journo"))

    def account(self, cd_act: str) -> dict[str, Any] | None:
        return next((a for a in self.accounts if a["cd_act"] == cd_act), None)

    def has_auxact(self, cd_act: str, cd_auxact: str) -> bool:
        return any(a["cd_act"] == cd_act and a.get("cd_auxact") == cd_auxact for a in self.accounts)

    def customer(self, cd_cstm: str) -> dict[str, Any] | None:
        return self._customer_index.get(cd_cstm)

    def department(self, cd_dep: str) -> dict[str, Any] | None:
        return next((d for d in self.departments if d["cd_dep"] == cd_dep), None)

    def rates_on(self, day: dt.date | None) -> list[dict[str, Any]]:
        if day is None:
            return list(self.consumptiontaxrates)
        iso = day.isoformat()
        return [r for r in self.consumptiontaxrates
                if r["ymd_b"] <= iso and ("ymd_e" not in r or iso <= r["ymd_e"])]

    def add_customers(self, customers: Iterable[dict[str, Any]]) -> None:
        for c in customers:
            self.customers.append(c)
            self._customer_index[c["cd_cstm"]] = c

    def apply(self, additions: Additions) -> None:
        """Commit what an accepted import auto-added (is_add_*master=1)."""
        for (cd_act, cd_aux), name in additions.auxacts.items():
            base = dict(self.account(cd_act) or {})
            base.update(cd_auxact=cd_aux, nm_auxact=name, kana_auxact="")
            self.accounts.append(base)
        for cd_dep, name in additions.departments.items():
            self.departments.append(
                {"cd_dep": cd_dep, "nm_dep": name, "kana_dep": "", "snm_dep": "", "is_adj": 0})
        order = max((int(c.get("ord_dsp", 0)) for c in self.customers), default=0)
        for i, (cd_cstm, name) in enumerate(additions.customers.items(), start=1):
            self.add_customers([{
                "cd_cstm": cd_cstm, "nm_cstm": name, "kana_cstm": "", "initwd_cstm": "",
                "nm_cstmbo": "", "kana_cstmbo": "", "phoneno1": "", "phoneno2": "",
                "is_adj": 0, "cat_cstmrltn": 4, "ord_dsp": order + i}])


@dataclass
class Additions:
    """Master records an import would add; visible to later slips of the same request."""

    auxacts: dict[tuple[str, str], str] = field(default_factory=dict)
    departments: dict[str, str] = field(default_factory=dict)
    customers: dict[str, str] = field(default_factory=dict)



def load_seed(seed: str | os.PathLike[str] | Mapping[str, Any] | None) -> Json:
    """The seed as a dict: a mapping as given, a path read, or the packaged sample company."""
    if isinstance(seed, Mapping):
        return copy.deepcopy(dict(seed))
    return dict(json.loads(Path(seed or SEED_PATH).read_text(encoding="utf-8")))


def synthetic_customers(n: int) -> list[Json]:
    """``n`` extra customers, codes 100000.., listed after the seed's (ord_dsp 1000..)."""
    if not 0 <= n <= 900_000:
        raise ValueError("extra_customers must be between 0 and 900000")
    return [{"cd_cstm": f"{100000 + i:06d}", "nm_cstm": f"合成取引先{i + 1:06d}",
             "kana_cstm": "ゴウセイトリヒキサキ", "initwd_cstm": "ゴウ", "nm_cstmbo": "",
             "kana_cstmbo": "", "phoneno1": "", "phoneno2": "", "is_adj": 0,
             "cat_cstmrltn": i % 4 + 1, "ord_dsp": 1000 + i} for i in range(n)]


class BadParam(Exception):
    """A query parameter the endpoint cannot use; args[0] is its name."""


def _param(query: Mapping[str, str], name: str, allowed: Sequence[int] | None,
           default: int | None) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"-?[0-9]+", raw) or (allowed is not None and int(raw) not in allowed):
        raise BadParam(name)
    return int(raw)


def _not_found() -> Answer:
    return 404, {"status": 404, "errors": [{"message": MSG_404}]}


HIDDEN = "_hidden"  # seed flag: a record the 一覧表示設定 hides (shown with is_dsp_all*=1)


def _shown(rows: Iterable[Json], show_all: int | None) -> list[Json]:
    """Records as the endpoint lists them: hidden ones only on request, the flag never."""
    return [{k: v for k, v in r.items() if k != HIDDEN} for r in rows
            if show_all or not r.get(HIDDEN)]


def get_accounts(m: Masters, cd_act: str | None, query: Mapping[str, str]) -> Answer:
    # Reference §科目一覧取得 / §指定した科目のみ取得: is_act_only (0/1), cat_fs (1-3; the
    # example URL sends 0 = all), is_dsp_allaux (0/1, "is_act_onlyが未指定、または0の場合のみ有効").
    act_only = _param(query, "is_act_only", (0, 1), 0)
    cat_fs = _param(query, "cat_fs", (0, 1, 2, 3), 0)
    all_aux = _param(query, "is_dsp_allaux", (0, 1), 0)
    rows = [a for a in m.accounts if cd_act in (None, a["cd_act"])]
    if cd_act is not None and not rows:
        return _not_found()
    rows = [a for a in rows if cat_fs in (0, a["cat_fs"])]
    if act_only:
        aux = ("cd_auxact", "nm_auxact", "kana_auxact", HIDDEN)
        firsts: dict[str, Json] = {}
        for a in rows:
            firsts.setdefault(a["cd_act"], {k: v for k, v in a.items() if k not in aux})
        rows = list(firsts.values())
    # A hidden record is a 口座 (the account's own row has cd_auxact ""), so only 口座 hide.
    rows = [a for a in rows if all_aux or not (a.get(HIDDEN) and a.get("cd_auxact"))]
    return 200, {"status": 200, "accounts": _shown(rows, 1)}


def get_consumptiontaxrates(m: Masters, key: str | None, query: Mapping[str, str]) -> Answer:
    if key is not None:
        return _not_found()
    raw = query.get("ymd_tr", "")
    day = parse_ymd(raw) if raw else None
    if raw and day is None:
        raise BadParam("ymd_tr")
    return 200, {"status": 200, "consumptiontaxrates": m.rates_on(day)}


_SORTABLE = ("cd_cstm", "nm_cstm", "kana_cstm", "initwd_cstm", "nm_cstmbo", "kana_cstmbo",
             "ord_dsp")
_SEARCHED = ("nm_cstm", "kana_cstm", "nm_cstmbo", "kana_cstmbo", "phoneno1", "phoneno2")


def get_customers(m: Masters, cd_cstm: str | None, query: Mapping[str, str]) -> Answer:
    if cd_cstm is not None:
        found = m.customer(cd_cstm)
        return (200, {"status": 200, "customer": _shown([found], 1)[0]}) if found else _not_found()
    show_all = _param(query, "is_dsp_all", (0, 1), 0)
    rel = _param(query, "cat_cstmrltn", (1, 2, 3, 4), None)
    offset = _param(query, "offset", range(0, 10**9), 0) or 0
    limit = _param(query, "limit", range(1, 1001), 20) or 20
    keyword = query.get("keyword", "").lower()
    rows = [c for c in _shown(m.customers, show_all) if rel in (None, c["cat_cstmrltn"])
            and (not keyword or any(keyword in str(c[k]).lower() for k in _SEARCHED))]
    rows.sort(key=lambda c: (c["ord_dsp"], c["cd_cstm"]))
    for item in reversed([s.strip() for s in query.get("sort", "").split(",") if s.strip()]):
        name = item.lstrip("-")
        if name not in _SORTABLE:
            raise BadParam("sort")
        rows.sort(key=lambda c: c[name], reverse=item.startswith("-"))
    return 200, {"status": 200, "total_count": len(rows), "customers": rows[offset:offset + limit]}


def get_departments(m: Masters, cd_dep: str | None, query: Mapping[str, str]) -> Answer:
    # Reference §部門一覧取得: "部門別管理機能を利用しない場合、0件でデータを取得します".
    rows = m.departments if m.company.use_departments else []
    if cd_dep is not None:
        found = next((d for d in rows if d["cd_dep"] == cd_dep), None)
        return (200, {"status": 200, "department": _shown([found], 1)[0]}) if found else _not_found()
    show_all = _param(query, "is_dsp_all", (0, 1), 0)
    return 200, {"status": 200, "departments": _shown(rows, show_all)}


def get_fundbalancebreakdowns(m: Masters, cd_fbcat: str | None,
                              query: Mapping[str, str]) -> Answer:
    # Reference §資金収支区分…一覧取得: "資金管理機能を利用しない場合、0件でデータを取得します".
    rows = [f for f in m.fundbalancebreakdowns
            if m.company.use_fund_management and cd_fbcat in (None, f["cd_fbcat"])]
    if cd_fbcat is not None and not rows:
        return _not_found()
    return 200, {"status": 200, "fundbalancebreakdowns": rows}


def get_inpjourconfig(m: Masters, key: str | None, query: Mapping[str, str]) -> Answer:
    if key is not None:
        return _not_found()
    return 200, {"status": 200, "inpjourconfig": dict(m.inpjourconfig)}


GET_ENDPOINTS = {  # (api version, resource) -> answer function
    ("v3", "accounts"): get_accounts,
    ("v1", "consumptiontaxrates"): get_consumptiontaxrates,
    ("v3", "customers"): get_customers,
    ("v2", "departments"): get_departments,
    ("v1", "fundbalancebreakdowns"): get_fundbalancebreakdowns,
    ("v1", "inpjourconfig"): get_inpjourconfig,
}
