"""Validate stage: every limit of the FX slips/import reference, as pandera schemas (lazy).

Detail lines are checked column by column (code formats, widths with full-width = 2, amount
range, tax fields); slips are checked as groups (Σdebit = Σcredit, pos_dsp 1–60); the export
as a whole must cover at most one year (Jobcan's 出力期間). Each failure becomes a Problem
with the file, the Excel row, the source column, the value, the rule and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from converter.config.settings import Profile, Settings
from converter.convert._kernels import slip_balances
from converter.errors import Problem
from converter.fx_rules import (
    AMOUNT_LIMIT,
    CMTXRATE_MAX,
    CMTXRATE_MIN,
    CODE_PATTERNS,
    CREDIT,
    DEBIT,
    MAX_LINES_PER_SIDE,
    TBPTN_TPTN,
    WIDE_CHAR,
    WIDTHS,
)

__all__ = [
    "company_rules",
    "cut_to_width",
    "fx_width",
    "validate_lines",
    "validate_period",
    "validate_slips",
]

_WIDE = WIDE_CHAR
_WIDE_CHAR = re.compile(_WIDE)


def fx_width(s: pd.Series) -> pd.Series:
    """Display width as FX counts it (全角 = 2, 半角 = 1), vectorised."""
    text = s.astype(str)
    return text.str.len() + text.str.count(_WIDE)


def cut_to_width(text: str, width: int) -> str:
    """The longest prefix of ``text`` whose FX width is at most ``width`` (same rule as fx_width)."""
    used = 0
    for i, ch in enumerate(text):
        used += 2 if _WIDE_CHAR.match(ch) else 1
        if used > width:
            return text[:i]
    return text


@dataclass(frozen=True)
class Rule:
    """What a check means to the accountant: the FX term and what to do."""

    field: str  # FX field (nm_cstm …) — also the detail-line column checked
    source: str  # canonical source field (for the column header the user sees)
    message: str


RULES: dict[str, Rule] = {
    "cd_act_format": Rule(
        "cd_act", "account",
        "勘定科目コード(cd_act)が半角数字 4 桁ではありません。accounts.yaml を直してください",
    ),
    "cd_auxact_format": Rule(
        "cd_auxact", "sub_account",
        "口座コード(cd_auxact)は半角英大文字・数字 2 桁までです。accounts.yaml を直してください",
    ),
    "cd_dep_format": Rule(
        "cd_dep", "department",
        "部門コード(cd_dep)が半角数字 3 桁ではありません。departments.yaml を直してください",
    ),
    "cd_cstm_format": Rule(
        "cd_cstm", "customer",
        "取引先コード(cd_cstm)が半角数字 6 桁ではありません。customers.yaml を直してください",
    ),
    "cd_fbcat_format": Rule(
        "cd_fbcat", "account",
        "収支区分(cd_fbcat)は '01'〜'12' です (FX の資金相手科目の初期値)。FX の設定を確認して converter masters pull "
        "を実行してください",
    ),
    "cd_fbbdcat_format": Rule(
        "cd_fbbdcat", "account",
        "内訳区分(cd_fbbdcat)は '01'〜'99' です (FX の資金相手科目の初期値)。"
        "FX の設定を確認して converter masters pull を実行してください",
    ),
    "nm_cstm_width": Rule(
        "nm_cstm", "customer",
        "取引先名(nm_cstm)が 40 桁 (全角 20 文字) を超えています。"
        "customers.yaml で取引先コードを割り当てるか、名前を短くしてください",
    ),
    "nm_dep_width": Rule(
        "nm_dep", "department",
        "部門名(nm_dep)が 40 桁 (全角 20 文字) を超えています (is_add_depmaster: 1 で FX に追加する部門の名前)。"
        "部門名を短くするか、FX に部門を登録してから departments.yaml を直してください",
    ),
    "nm_auxact_width": Rule(
        "nm_auxact", "sub_account",
        "口座名(nm_auxact)が 40 桁 (全角 20 文字) を超えています (is_add_auxmaster: 1 で FX に追加する口座の名前)。"
        "補助科目名を短くするか、FX に口座を登録してから accounts.yaml を直してください",
    ),
    "rcj_slip_width": Rule(
        "rcj_slip", "memo",
        "摘要(rcj_slip)が 80 桁 (全角 40 文字) を超えています。短くするか --truncate-memo を付けてください",
    ),
    "tptn_format": Rule(
        "tptn", "tax",
        "課税区分(tptn)は半角数字 2 桁までです。tax.yaml を直してください",
    ),
    "tbptn_format": Rule(
        "tbptn", "tax",
        "事業区分(tbptn)は半角数字 2 桁までです。tax.yaml を直してください",
    ),
    "cmtxrate_range": Rule(
        "cmtxrate", "tax",
        "消費税率(cmtxrate)は 0〜9999 (税率×100) です。tax.yaml を直してください",
    ),
    "amnt_tr_range": Rule(
        "amount", "amount",
        f"取引金額(amnt_tr)が ±{AMOUNT_LIMIT:,} の範囲外です",
    ),
    "amnt_cmtx_range": Rule(
        "tax_amount", "tax_amount",
        f"消費税額(amnt_cmtx)が ±{AMOUNT_LIMIT:,} の範囲外です",
    ),
    "ymd_tr_format": Rule(
        "date", "date",
        "取引年月日(ymd_tr)が YYYY-MM-DD の実在する日付ではありません",
    ),
    "pos_dsp_range": Rule(
        "pos_dsp", "account",
        f"表示位置(pos_dsp)が 1〜{MAX_LINES_PER_SIDE} の範囲外です。帳票を分けてください",
    ),
}


def by_value(check: Callable[[pd.Series], pd.Series]) -> Callable[[pd.Series], pd.Series]:
    """An element-wise check run on the distinct values of a column only, its answer spread back:
    a million detail lines carry a few dozen codes, and a regex per line is most of the cost."""

    def run(s: pd.Series) -> pd.Series:
        codes, uniques = pd.factorize(s, use_na_sentinel=False)
        passed = np.asarray(check(pd.Series(uniques, dtype=s.dtype)), dtype=bool)
        return pd.Series(passed[codes], index=s.index)

    return run


def _check(func: Callable[[pd.Series], pd.Series], name: str) -> pa.Check:
    # ignore_na=False: a missing value fails the column's own check (or not_nullable) rather than
    # being dropped first, which costs pandera a NaN scan of every column (~10 ms per million lines)
    return pa.Check(func, name=name, ignore_na=False)


def _blank_or(pattern: str, name: str) -> pa.Check:
    return _check(by_value(lambda s: s.eq("") | s.str.fullmatch(pattern)), name)


def _range(limit: int, name: str) -> pa.Check:
    return _check(lambda s: s.abs() <= limit, name)


def _code(field: str, name: str) -> pa.Check:
    return _blank_or(CODE_PATTERNS[field], name)


def _width(field: str, name: str) -> pa.Check:
    return _check(by_value(lambda s: fx_width(s) <= WIDTHS[field]), name)


LINE_SCHEMA = pa.DataFrameSchema(
    {
        # "" is an unreadable date, already reported by the normaliser
        "date": pa.Column(str, _code("ymd", "ymd_tr_format")),
        "cd_act": pa.Column(str, _code("cd_act", "cd_act_format")),
        "cd_auxact": pa.Column(str, _code("cd_auxact", "cd_auxact_format")),
        "cd_dep": pa.Column(str, _code("cd_dep", "cd_dep_format")),
        "cd_cstm": pa.Column(str, _code("cd_cstm", "cd_cstm_format")),
        "nm_cstm": pa.Column(str, _width("nm_cstm", "nm_cstm_width")),
        "nm_dep": pa.Column(str, _width("nm_dep", "nm_dep_width"), required=False),
        # slip fields, on every line of a slip; present only after the masters check (資金相手科目 defaults)
        "cd_fbcat": pa.Column(str, _code("cd_fbcat", "cd_fbcat_format"), required=False),
        "cd_fbbdcat": pa.Column(str, _code("cd_fbbdcat", "cd_fbbdcat_format"), required=False),
        "nm_auxact": pa.Column(str, _width("nm_auxact", "nm_auxact_width"), required=False),
        "rcj_slip": pa.Column(str, _width("rcj_slip", "rcj_slip_width")),
        "tptn": pa.Column(str, _code("tptn", "tptn_format")),
        "tbptn": pa.Column(str, _code("tbptn", "tbptn_format")),
        "cmtxrate": pa.Column("Int64", _check(lambda s: s.isna() | s.between(CMTXRATE_MIN, CMTXRATE_MAX),
                                              "cmtxrate_range"), nullable=True),
        "amount": pa.Column("int64", _range(AMOUNT_LIMIT, "amnt_tr_range")),
        "tax_amount": pa.Column("int64", _range(AMOUNT_LIMIT, "amnt_cmtx_range")),
        "pos_dsp": pa.Column("int64", _check(lambda s: s.between(1, MAX_LINES_PER_SIDE), "pos_dsp_range")),
    },
    strict=False,
    coerce=False,
)

SIDE_SOURCE = {DEBIT: "dr_", CREDIT: "cr_"}


def validate_lines(lines: pd.DataFrame, profile: Profile) -> list[Problem]:
    """Run the line schema; unmapped codes ("") are reported by the map stage, not twice here."""
    keep = lines["cd_act"] != ""
    # Only the schema's columns go through pandera (it copies what it is given); problems are
    # looked up in the full lines, whose index the checked rows keep.
    columns = [c for c in LINE_SCHEMA.columns if c in lines.columns]
    checked = lines[columns] if keep.all() else lines.loc[keep, columns]
    try:
        # inplace: pandera would otherwise copy every column first (coerce=False: nothing is written)
        LINE_SCHEMA.validate(checked, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as err:
        return _to_problems(err.failure_cases, lines, profile)
    return []


def _to_problems(failures: pd.DataFrame, lines: pd.DataFrame, profile: Profile) -> list[Problem]:
    problems = []
    failures = failures[failures["index"].notna()]
    for check, index in failures[["check", "index"]].itertuples(index=False, name=None):
        rule = RULES.get(str(check))
        line = lines.loc[index]
        if rule is None:  # a dtype or schema-level failure: a bug upstream, still reported
            problems.append(Problem(str(line["_file"]), int(line["_row"]), "", "", str(check),
                                    f"内部チェック '{check}' に失敗しました"))
            continue
        prefix = SIDE_SOURCE[int(line["side"])] if rule.source not in ("date", "customer", "memo") else ""
        column = f"{profile.source_column(prefix + rule.source)} → {rule.field}"
        problems.append(
            Problem(str(line["_file"]), int(line["_row"]), column, str(line[rule.field]),
                    str(check), rule.message, document=str(line["doc"]))
        )
    return problems


def validate_slips(lines: pd.DataFrame, profile: Profile) -> list[Problem]:
    """Σdebit = Σcredit per slip (a split slip balances part by part)."""
    slips = slip_balances(lines)
    unbalanced = slips[slips["balance"] != 0]
    return [_unbalanced(lines.iloc[int(first)], int(debit), int(debit - diff), int(diff), profile)
            for first, debit, diff in unbalanced.itertuples(index=False, name=None)]


def _unbalanced(first: pd.Series, debit: int, credit: int, diff: int, profile: Profile) -> Problem:
    return Problem(str(first["_file"]), int(first["_row"]), profile.source_column("doc_no"),
                   str(first["doc_no"]), "balance",
                   f"貸借が一致しません (借方 {debit:,} / 貸方 {credit:,}、差額 {diff:,})。"
                   "帳票の金額を確認してください", document=str(first["doc"]))


def validate_period(lines: pd.DataFrame, profile: Profile) -> list[Problem]:
    """Jobcan exports at most one year at a time; FX's period must match (≤ 1 year)."""
    ymd = lines["ymd"].dropna()
    if ymd.empty:
        return []
    start = ymd.min()
    limit = start + pd.DateOffset(years=1)
    late = lines[lines["ymd"] >= limit]
    if late.empty:
        return []
    first = late.iloc[0]
    return [
        Problem(str(first["_file"]), int(first["_row"]), profile.source_column("date"),
                str(first["date"]), "period",
                f"書出期間が 1 年を超えています ({start:%Y-%m-%d} 〜 {ymd.max():%Y-%m-%d}、"
                f"{late['doc'].nunique()} 帳票が {limit:%Y-%m-%d} 以降)。1 年以内の期間で書き出してください")
    ]


# --------------------------------------------------------------------------- company settings

#: Which 課税区分 produce tax is in the reference's 別表, which it does not include: tptn "" and "0"
#: (対象外) are taken as "no tax arises", every other 課税区分 as taxable.
_NO_TAX_TPTN = ("", "0")


def company_rules(lines: pd.DataFrame, settings: Settings, profile: Profile) -> list[Problem]:
    """Rules that depend on FX company settings the API does not expose, stated in settings.yaml
    (``fx_tax_return``, ``fx_tax_exclusive``, ``fx_main_business``; fx_rules.COMPANY_RULES)."""
    if lines.empty:
        return []
    taxable = ~lines["tptn"].isin(_NO_TAX_TPTN)
    rate = lines["cmtxrate"].astype("Int64").fillna(0)
    checks: list[tuple[pd.Series, str, str]] = []
    if settings.fx_tax_return:
        why = "settings.yaml の fx_tax_return: 1 (FX で消費税申告書を作成する) のため"
        # a line whose 税区分 the masters check removed (no tax on the account) keeps its source text
        checks.append((lines["tptn"].eq("") & lines["tax"].eq(""), "tptn_required",
                       f"{why}課税区分(tptn) が必須です。{profile.source_name}で税区分を入れて書き出してください "
                       '(消費税のかからない行は tax.yaml で tptn: "0" の税区分に)'))
        checks.append((taxable & rate.eq(0), "cmtxrate_required",
                       f"{why}課税区分(tptn) が課税の行には消費税率(cmtxrate) が必須です。tax.yaml の税区分に "
                       "cmtxrate (税率×100) を書いてください"))
        if settings.fx_tax_exclusive:
            checks.append((taxable & lines["tax_amount"].eq(0), "amnt_cmtx_required",
                           "settings.yaml の fx_tax_return: 1 と fx_tax_exclusive: 1 (税抜経理) のため、"
                           "課税の行には消費税額(amnt_cmtx) が必須です。"
                           f"{profile.source_name}で消費税額を入れて書き出してください"))
    if settings.fx_main_business:
        checks.append((lines["tptn"].isin(TBPTN_TPTN) & lines["tbptn"].eq(""), "tbptn_required",
                       "settings.yaml の fx_main_business: 1 (FX で主たる事業区分を管理する) のため、課税区分(tptn) "
                       f"{' / '.join(TBPTN_TPTN)} の行には事業区分(tbptn) が必須です。"
                       "tax.yaml の税区分に tbptn を書いてください"))
    problems = []
    for mask, rule, message in checks:
        if not mask.any():
            continue
        hit = lines.loc[mask, ["_file", "_row", "doc", "side", "tax"]]
        for (_, tax), group in hit.groupby(["_file", "tax"], sort=True):
            first = group.iloc[0]
            rows = ", ".join(map(str, group["_row"].head(10))) + (" …" if len(group) > 10 else "")
            column = profile.source_column(SIDE_SOURCE[int(first["side"])] + "tax")
            problems.append(Problem(str(first["_file"]), int(first["_row"]), column, str(tax), rule,
                                    f"{message} ({len(group)} 行: {rows})", document=str(first["doc"])))
    return problems
