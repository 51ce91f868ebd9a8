"""Map stage: source values → FX codes through the mapping tables (:mod:`converter.config.tables`).

A source value with no mapping is a problem naming the value, the table file and the rows —
never a silent default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from converter.config.settings import Profile, Settings
from converter.config.tables import Mappings, Table
from converter.errors import Problem
from converter.fx_rules import DEBIT, PURDAY_NEEDS


@dataclass(frozen=True)
class Unmapped:
    """A source value missing from a mapping table (for the report and the Unmapped sheet)."""

    table: Table
    file: str
    value: str
    entry: str  # a YAML line to paste into the table, with the FX code left to fill in
    count: int
    rows: tuple[tuple[str, int], ...]


def apply_mappings(
    lines: pd.DataFrame, mappings: Mappings, settings: Settings
) -> tuple[pd.DataFrame, list[Problem], list[Unmapped]]:
    """Add the FX code columns to the detail lines; report every value with no mapping.

    Each table is looked up for the distinct keys of the lines (a few dozen accounts among a
    million lines), every answer worked out there, and only the finished columns spread over the
    lines: one factorization per key column, and no pass over the lines for each fillna or test.
    """
    out = lines.copy(deep=False)  # copy-on-write: adding columns never touches ``lines``
    unmapped: list[Unmapped] = []

    # Accounts: an entry with 補助科目 wins; one without matches any 補助科目 of that account.
    acc = mappings.accounts
    exact = acc[acc["sub_account"] != ""].rename(columns={"cd_act": "_a1", "cd_auxact": "_x1", "name": "_n1"})
    generic = acc[acc["sub_account"] == ""].drop(columns="sub_account")
    generic = generic.rename(columns={"cd_act": "_a2", "cd_auxact": "_x2", "name": "_n2"})
    codes, keys = distinct(out, ["account", "sub_account"])
    one = lookup(keys, exact, ["account", "sub_account"])
    two = lookup(keys, generic, ["account"])
    found = pd.DataFrame({
        "cd_act": one["_a1"].fillna(two["_a2"]).fillna(""),
        "cd_auxact": one["_x1"].where(one["_a1"].notna(), two["_x2"]).fillna(""),
        "account_name": one["_n1"].where(one["_a1"].notna(), two["_n2"]).fillna(""),
    })
    missing = _spread(out, found, codes, (found["cd_act"] == "") & (keys["account"] != ""))
    unmapped += _unmapped(out, missing, _account_label, "accounts", mappings)

    # Tax: no 税区分 in the source means no tax fields are sent (FX's default).
    codes, keys = distinct(out, ["tax"])
    found = lookup(keys, mappings.tax, ["tax"])
    for column in ("tptn", "tbptn"):
        found[column] = found[column].fillna("")
    missing = _spread(out, found, codes, found["tptn"].eq("") & keys["tax"].ne(""))
    unmapped += _unmapped(out, missing, _tax_label, "tax", mappings)

    codes, keys = distinct(out, ["department"])
    found = lookup(keys, mappings.departments, ["department"])[["cd_dep"]].fillna("")
    missing = _spread(out, found, codes, found["cd_dep"].eq("") & keys["department"].ne(""))
    unmapped += _unmapped(out, missing, _department_label, "departments", mappings)

    # Customers: by source code first, then by name; unknown ones go by name if settings allow.
    cst = mappings.customers
    by_code = cst[cst["customer_code"] != ""][["customer_code", "cd_cstm"]]
    by_name = cst[(cst["customer_code"] == "") & (cst["customer"] != "")][["customer", "cd_cstm"]]
    by_name = by_name.rename(columns={"customer": "customer_key", "cd_cstm": "_c2"})
    codes, keys = distinct(out, ["customer_code", "customer_key", "customer"])
    code = lookup(keys, by_code, ["customer_code"])["cd_cstm"]
    found = pd.DataFrame({"cd_cstm": code.fillna(lookup(keys, by_name, ["customer_key"])["_c2"]).fillna("")})
    has_customer = (keys["customer_code"] != "") | (keys["customer_key"] != "")
    missing = has_customer & (found["cd_cstm"] == "")
    if settings.unmapped_customer == "name_only":
        # 随時の取引先: FX accepts a name without a code; only a missing name is then a problem.
        found["nm_cstm"] = keys["customer"].where(missing, "")
        missing = missing & (keys["customer_key"] == "")
    else:
        found["nm_cstm"] = ""
    missing = _spread(out, found, codes, missing)
    unmapped += _unmapped(out, missing, _customer_label, "customers", mappings)
    _master_names(out, settings)
    return out, _unmapped_problems(unmapped, mappings), unmapped


def _master_names(out: pd.DataFrame, settings: Settings) -> None:
    """``nm_dep`` / ``nm_auxact`` / ``nm_cstm`` next to a code FX may add to its master
    (``is_add_*master: 1``): the source's name, so FX never creates a nameless 部門/口座/取引先.
    The reference: a name sent with a code FX already has is not used (「入力値は無視され」), so it is
    harmless there. Its next words (「システムに登録されている部門名が更新される」) could be read as FX
    updating its stored name; the reference says no more, and the name sent is the source's own."""
    out["nm_dep"] = out["department"].where(out["cd_dep"].ne(""), "") if settings.is_add_depmaster else ""
    out["nm_auxact"] = (out["sub_account"].where(out["cd_auxact"].ne(""), "") if settings.is_add_auxmaster
                        else "")
    if settings.is_add_cstmmaster:
        coded = out["cd_cstm"].ne("")
        out["nm_cstm"] = out["customer"].where(coded, out["nm_cstm"])


def purchase_dates(lines: pd.DataFrame, profile: Profile) -> tuple[pd.DataFrame, list[Problem]]:
    """``ymd_purday1`` / ``ymd_purday2`` as the reference's table requires them for ``cat_purday``.

    The source has one date, the 取引日: category 1 (年月日) sends it as 仕入れ日1, category 3 (月分)
    its month's first day ("2021年1月分" is "20210101"). Categories 2 and 4 need a period's end
    (仕入れ日2) that no export carries: a problem naming the 税区分 and its rows.
    """
    out = lines.assign(ymd_purday1="", ymd_purday2="")
    cat = out["cat_purday"].astype("Int64").fillna(9)
    date = out["date"].astype(str)
    first, second = (cat.map({c: needs[i] for c, needs in PURDAY_NEEDS.items()}).fillna(False).astype(bool)
                     for i in (0, 1))
    out.loc[first & cat.eq(1), "ymd_purday1"] = date[first & cat.eq(1)]
    out.loc[first & cat.eq(3), "ymd_purday1"] = date[first & cat.eq(3)].str[:8] + "01"
    problems = []
    if second.any():
        bad = out.loc[second, ["_file", "_row", "doc", "side", "tax", "cat_purday"]]
        for (tax, value), group in bad.groupby(["tax", "cat_purday"], sort=True):
            first_row = group.iloc[0]
            rows = ", ".join(map(str, group["_row"].head(10))) + (" …" if len(group) > 10 else "")
            column = profile.source_column(("dr_" if int(first_row["side"]) == DEBIT else "cr_") + "tax")
            problems.append(Problem(
                str(first_row["_file"]), int(first_row["_row"]), f"{column} → cat_purday", str(tax),
                "ymd_purday_required",
                f"仕入れ日入力区分(cat_purday) {value} には仕入れ日2(ymd_purday2: 期間の終わり) が必要ですが、"
                f"{profile.source_name}の書き出しにはありません ({len(group)} 行: {rows})。tax.yaml の「{tax}」の "
                "cat_purday を 1 (取引日を仕入れ日1(ymd_purday1) として送ります)、3 (取引日の月分) か 9 (入力不要) "
                "にしてください", document=str(first_row["doc"])))
    return out, problems


def distinct(frame: pd.DataFrame, on: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """The distinct combinations of the ``on`` columns of ``frame`` (NA included, as a value of its
    own) in order of first appearance, and each row's code into them."""
    parts = [pd.factorize(frame[c], use_na_sentinel=False) for c in on]
    if float(np.prod([float(len(u)) for _, u in parts])) > 2**62:  # codes would overflow
        return distinct_tuples(frame[on])
    codes, index = (parts[0][0], pd.Index(parts[0][1], name=on[0])) if len(parts) == 1 else _combine(parts, on)
    return codes, index.to_frame(index=False)


def distinct_tuples(keys: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """``distinct`` by grouping the rows as tuples: slower, for keys too varied to number as one integer."""
    codes = keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy()
    return codes, keys.drop_duplicates().reset_index(drop=True)


def _spread(out: pd.DataFrame, found: pd.DataFrame, codes: np.ndarray, missing: pd.Series) -> pd.Series:
    """Every column of ``found`` (one row per distinct key) onto the lines of ``out``; returns
    ``missing`` (per distinct key) spread the same way."""
    for column in found.columns:
        out[column] = pd.Series(found[column].array.take(codes), index=out.index, name=column)
    return pd.Series(missing.to_numpy(dtype=bool)[codes], index=out.index)


def lookup(frame: pd.DataFrame, table: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """The other columns of ``table`` for each row of ``frame``, matched on ``on`` (NA: no match).

    What ``frame.merge(table, how="left", on=on, validate="many_to_one")`` adds, without copying
    every column of ``frame`` for each table: the distinct keys of the frame are looked up in the
    table, and the answers spread over the rows.
    """
    values = [c for c in table.columns if c not in on]
    keys = frame[on]
    parts = [pd.factorize(keys[c], use_na_sentinel=False) for c in on]
    indexed = table.set_index(on)
    combinations = float(np.prod([float(len(u)) for _, u in parts]))
    if keys.empty or not indexed.index.is_unique or any(u.hasnans for _, u in parts) or combinations > 2**62:
        # a key twice in the table (merge raises) or a missing key (merge matches NA to NA): merge as before
        merged = keys.merge(table, how="left", on=on, validate="many_to_one")
        return merged[values].set_axis(frame.index)
    codes, wanted = parts[0][0], pd.Index(parts[0][1], name=on[0])
    if len(parts) > 1:
        codes, wanted = _combine(parts, on)
    found = indexed.reindex(wanted)[values]
    return found.take(codes).set_axis(frame.index)


def _combine(parts: list[tuple[np.ndarray, pd.Index]], names: list[str]) -> tuple[np.ndarray, pd.MultiIndex]:
    """Row codes and distinct rows (as a MultiIndex) from the factorized key columns."""
    combined = np.zeros(len(parts[0][0]), dtype=np.int64)
    for codes, uniques in parts:
        combined = combined * len(uniques) + codes
    codes, distinct = pd.factorize(combined)
    levels = []
    for _, uniques in reversed(parts):
        levels.append(uniques.take(distinct % len(uniques)))
        distinct = distinct // len(uniques)
    return codes, pd.MultiIndex.from_arrays(levels[::-1], names=names)


def _account_label(hit: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    generic_only = hit["sub_account"] == ""
    label = hit["account"].where(generic_only, hit["account"] + " / " + hit["sub_account"])
    entry = ("{account: " + hit["account"]).where(
        generic_only, "{account: " + hit["account"] + ", sub_account: " + hit["sub_account"]
    ) + ', cd_act: "????"}'
    return label, entry


def _tax_label(hit: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    return hit["tax"], "{tax: " + hit["tax"] + ', tptn: "??", cmtxrate: ????, is_reduce_cmtxrate: 0}'


def _department_label(hit: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    return hit["department"], "{department: " + hit["department"] + ', cd_dep: "???"}'


def _customer_label(hit: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    by = hit["customer_code"] != ""
    label = hit["customer_code"].where(by, hit["customer_key"])
    entry = ("{customer_code: " + hit["customer_code"]).where(by, "{customer: " + hit["customer_key"])
    return label, entry + ', cd_cstm: "??????"}'


_TABLE_LABEL: dict[Table, str] = {
    "accounts": "勘定科目(cd_act)",
    "tax": "税区分(tptn)",
    "departments": "部門(cd_dep)",
    "customers": "取引先(cd_cstm)",
}


def _unmapped(
    frame: pd.DataFrame, mask: pd.Series, labels: Callable[[pd.DataFrame], tuple[pd.Series, pd.Series]],
    table: Table, mappings: Mappings,
) -> list[Unmapped]:
    """Group the unmapped rows by value; the label and YAML entry are built for those rows only."""
    if not mask.any():
        return []
    hit = frame.loc[mask]
    label, entry = labels(hit)
    hit = pd.DataFrame({"value": label, "entry": entry, "_file": hit["_file"],
                        "_row": hit["_row"]}).drop_duplicates()
    result = []
    for (value, text), group in hit.groupby(["value", "entry"], sort=True):
        rows = tuple(zip(group["_file"].astype(str), group["_row"].astype(int), strict=True))
        result.append(Unmapped(table, mappings.file(table), str(value), f"- {text}", len(rows), rows))
    return result


def _unmapped_problems(unmapped: list[Unmapped], mappings: Mappings) -> list[Problem]:
    problems = []
    for u in unmapped:
        term = _TABLE_LABEL[u.table]
        rows = ", ".join(str(r) for _, r in u.rows[:10]) + (" …" if u.count > 10 else "")
        file, row = u.rows[0]
        problems.append(
            Problem(
                file, row, term, u.value, "unmapped",
                f"{term} のマッピングがありません ({u.count} 行: {rows})。"
                f"{u.file} に「{u.entry}」の形で追加してください",
            )
        )
    return problems
