"""The mapping tables alone against the cached FX masters (``converter mappings check``).

Each table entry becomes one detail line that :func:`~converter.convert.masters_check.apply_masters`
checks the way it checks an export's lines; the findings point at the entry's YAML line and key.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from converter import clock
from converter.config.settings import Profile, Settings
from converter.config.tables import Mappings
from converter.convert.masters_check import apply_masters
from converter.errors import Problem
from converter.fx.masters import MasterData
from converter.fx_rules import DEBIT

#: What a report on the tables (``converter mappings check``) keeps of apply_masters' findings,
#: per table, and the entry key whose YAML position each finding points at.
_TABLE_RULES: dict[str, dict[str, str]] = {
    "accounts": {"master_account": "cd_act", "master_auxact": "cd_auxact", "auxact_required": "cd_act",
                 "master_auto_add": "cd_auxact", "needless_cd_auxact": "cd_auxact",
                 "department_required": "cd_act", "customer_required": "cd_act"},
    "departments": {"master_department": "cd_dep", "master_auto_add": "cd_dep"},
    "customers": {"master_customer": "cd_cstm", "master_auto_add": "cd_cstm"},
    "tax": {"tax_rate": "cmtxrate"},
}
#: Column names for findings on the tables: the YAML keys (a Profile whose "headers" they are).
_TABLE_COLUMNS: dict[str, tuple[str, ...] | int] = {
    f"{side}_{name}": (key,) for side in ("dr", "cr") for name, key in
    (("account", "cd_act"), ("sub_account", "cd_auxact"), ("department", "cd_dep"), ("tax", "cmtxrate"))}
_TABLE_COLUMNS |= {"customer": ("cd_cstm",), "customer_code": ("cd_cstm",)}
_TABLE_PROFILE = Profile(
    name="mappings", style="journal", header=True, encoding="auto", required=(),
    columns=_TABLE_COLUMNS)


def check_tables(mappings: Mappings, masters: MasterData, settings: Settings, *,
                 today: str | None = None) -> tuple[list[Problem], list[Problem]]:
    """The mapping tables' codes against the FX masters, without an export: each entry becomes one
    detail line that :func:`apply_masters` checks the way it checks an export's lines — an account
    entry as itself, a 部門 / 取引先 entry on an account FX manages by 部門 / 取引先, a 税区分 on an
    account where tax arises, dated ``today`` (Japan time). Returns (problems, notices), each
    pointing at the entry's YAML line and the key's column.

    An account entry cannot name a 部門 or 取引先 (those come from the export): such an account is
    a problem (department_required / customer_required) only when no row could ever give one —
    departments.yaml is empty, or customers.yaml is empty and no one_off_customer_code is set.
    """
    day = today or clock.now().date().isoformat()
    acts = masters.account_table

    def carrier(mask: pd.Series) -> str:
        hits = acts.index[mask.to_numpy(dtype=bool)]
        return str(hits[0]) if len(hits) else ""

    by_dep = carrier(acts["is_usedep"].eq(1)) if len(masters.departments) else ""
    by_cstm = carrier(acts["is_usecstmldgr"].eq(1))
    taxed = carrier(~acts["catcmtx"].isin([2, ""]))
    frames = []
    for table, frame in (("accounts", mappings.accounts), ("departments", mappings.departments),
                         ("customers", mappings.customers), ("tax", mappings.tax)):
        account = {"accounts": frame.get("cd_act"), "departments": by_dep, "customers": by_cstm, "tax": taxed}[table]
        if frame.empty or (isinstance(account, str) and not account):
            continue
        lines = pd.DataFrame(index=range(len(frame)))
        lines["_table"] = table
        lines["_file"] = mappings.file(table)
        lines["_row"] = [p[""][0] for p in mappings.positions[table]]
        lines["_pos"] = range(len(frame))
        for column, source in (("account", "account"), ("sub_account", "sub_account"), ("cd_auxact", "cd_auxact"),
                               ("department", "department"), ("cd_dep", "cd_dep"), ("customer_code", "customer_code"),
                               ("customer", "customer"), ("cd_cstm", "cd_cstm"), ("tax", "tax"), ("tptn", "tptn"),
                               ("tbptn", "tbptn")):
            lines[column] = frame[source].to_numpy() if source in frame else ""
        lines["cd_act"] = frame["cd_act"].to_numpy() if table == "accounts" else account
        if table != "accounts":
            lines["account"] = lines["cd_act"]
        for column in ("cmtxrate", "is_reduce_cmtxrate", "cat_purday", "is_autocalccmtx"):
            lines[column] = frame[column].to_numpy() if column in frame else pd.array([pd.NA] * len(frame), "Int64")
        # a customer entry by name is a 取引先 the export names; an account entry names none
        lines["customer_key"] = lines["customer"].where(lines["customer_code"].eq(""), "")
        frames.append(lines)
    if not frames:
        return [], []
    lines = pd.concat(frames, ignore_index=True)
    lines["nm_cstm"] = ""
    lines["doc"] = ""
    lines["rcj_slip"] = ""
    lines["side"] = DEBIT
    lines["slip_key"] = np.arange(len(lines))
    lines["amount"] = 0
    lines["tax_amount"] = 0
    lines["date"] = day
    _, problems, notices = apply_masters(lines, masters, settings, _TABLE_PROFILE)
    keep_dep = mappings.departments.empty
    keep_cstm = mappings.customers.empty and not settings.one_off_customer_code
    table_of = {mappings.file(t): t for t in _TABLE_RULES}
    positions = {(mappings.file(t), p[""][0]): p for t in _TABLE_RULES for p in mappings.positions.get(t, [])}

    def placed(found: list[Problem]) -> list[Problem]:
        kept = []
        for p in found:
            rules = _TABLE_RULES.get(table_of.get(p.file, ""), {})
            if p.rule not in rules or (p.rule == "department_required" and not keep_dep) or (
                    p.rule == "customer_required" and not keep_cstm):
                continue
            line, col = positions.get((p.file, p.row or 0), {}).get(rules[p.rule], (p.row, None))
            kept.append(Problem(p.file, line, p.column, p.value, p.rule, p.message, col=col))
        return kept

    return placed(problems), placed(notices)
