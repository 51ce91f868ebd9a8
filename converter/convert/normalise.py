"""Normalise stage: text as exported → typed values, vectorised.

- amounts: full-width digits and commas (``１，０００``), ``▲1,000`` / ``△1,000`` / ``(1,000)``
  negatives, ``¥`` and ``円`` → integers (``Int64``); anything else is a problem, never a guess.
- dates: ``2026/10/1``, ``2026-10-01``, ``20261001``, ``2026年10月1日``, Excel serials and the
  ``YYYY-MM-DD 00:00:00`` text Excel cells turn into → ``YYYY-MM-DD`` (zero-padded, as FX wants).
- codes and lookup keys: surrounding whitespace (ASCII and full-width) trimmed, NFKC on codes.
- names and memos are never rewritten: what the user wrote is what FX receives.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from converter.config.settings import Profile
from converter.errors import InputError, Problem
from converter.fx_rules import AMOUNT_LIMIT

AMOUNT_FIELDS = ("dr_amount", "dr_tax_amount", "cr_amount", "cr_tax_amount")
#: Lookup keys: trimmed (a stray space must not make a value "unmapped").
KEY_FIELDS = (
    "flag", "kind", "doc_no", "status", "closed",
    "dr_account", "dr_sub_account", "dr_department", "dr_tax",
    "cr_account", "cr_sub_account", "cr_department", "cr_tax",
)

_FULLWIDTH = str.maketrans(
    "０１２３４５６７８９，．－ー−＋（）￥　", "0123456789,.---+()¥ "
)
_WS = " \t\u3000\r\n"
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def trim(s: pd.Series) -> pd.Series:
    return s.str.strip(_WS)


def by_value(s: pd.Series, func: Callable[[pd.Series], tuple[pd.Series, ...]]) -> tuple[pd.Series, ...]:
    """``func`` applied to the distinct values of ``s`` only, its results spread back over ``s``.

    An export repeats its values (a month has ~30 dates; a million amounts are ~20,000 numbers), and
    every parsing step here works value by value, so parsing each distinct value once gives the same
    result at a fraction of the cost: ~10 string passes over 20k values instead of a million.
    """
    if s.dtype == object:
        # On object arrays pandas' NaN-keeping factorize first scans every value for NaN (~60 % more
        # time); the text as read has none, so the plain one runs and the other only if it finds NaN.
        codes, uniques = pd.factorize(s)
        if len(codes) and codes.min() < 0:
            codes, uniques = pd.factorize(s, use_na_sentinel=False)
    else:
        codes, uniques = pd.factorize(s, use_na_sentinel=False)
    # The dtype a text column would be given (str) is inferred here, from the distinct values, so
    # that spreading the results back is a take, not a second inference over every row.
    results = func(pd.Series(uniques, dtype=None if s.dtype == object else s.dtype))
    return tuple(pd.Series(r.array.take(codes), index=s.index, name=s.name) for r in results)


#: Why an amount text is not an amount, each with its own advice (read by ``normalise``).
AMOUNT_CAUSES = {
    "not_number": "金額として読めません。半角の整数で入力してください (例 110000 または 110,000)",
    "decimal_point": "「.」が小数点か桁区切りか決められません (1.000 は 1 円とも 1,000 円とも読めます)。"
                     "桁区切りはカンマ (,) にするか、区切らずに入力してください",
    "not_integer": "円未満の端数があります。FX には整数の円で送ります。端数を処理した金額を入力してください",
    "out_of_range": f"±{AMOUNT_LIMIT:,} を超えています (FX の金額の上限)。金額を確認してください",
}


def parse_amount(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse amount text; return (Int64 values, why each non-empty value is not an amount: a key of
    AMOUNT_CAUSES, "" when it is one). Empty text is NA and not an error here (whether an amount is
    required is decided later).

    A decimal point is accepted only where it cannot be a thousands separator: ``100.0`` is 100, but
    ``1.000`` (three digits after the point, as a European export writes 1,000) is a problem, never 1 円."""
    s = trim(raw.astype(str)).str.translate(_FULLWIDTH).str.replace(r"[\s,¥円]", "", regex=True)
    negative = s.str.startswith(("▲", "△", "-")) | s.str.fullmatch(r"\(.*\)")
    body = s.str.replace(r"^[▲△\-+]|^\(|\)$", "", regex=True)
    number = pd.to_numeric(body.where(body.str.fullmatch(r"\d+(\.\d+)?"), None), errors="coerce")
    number = number.where(~negative, -number)
    empty = s == ""
    cause = pd.Series("", index=s.index, dtype=object)
    cause = cause.mask(~empty & (number.abs() > AMOUNT_LIMIT), "out_of_range")
    cause = cause.mask(~empty & (number % 1 != 0), "not_integer")
    cause = cause.mask(~empty & body.str.fullmatch(r"\d{1,3}\.\d{3}"), "decimal_point")
    cause = cause.mask(~empty & number.isna(), "not_number")
    values = number.where((cause == "") & ~empty).round().astype("Int64")
    return values, cause


def to_amount(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse amount text; return (Int64 values, mask of values that are not amounts)."""
    values, cause = parse_amount(raw)
    return values, cause != ""


def to_date(raw: pd.Series, date_format: str) -> tuple[pd.Series, pd.Series]:
    """Parse dates; return (datetime64 values, mask of non-empty values that are not dates)."""
    s = trim(raw.astype(str)).str.translate(_FULLWIDTH)
    parsed = pd.to_datetime(s, format=date_format, errors="coerce")
    parts = s.str.extract(
        r"^(?P<year>\d{4})[/\-.年](?P<month>\d{1,2})[/\-.月](?P<day>\d{1,2})日?(?:[ T]0{1,2}:00(?::00)?)?$"
    )
    compact = s.str.extract(r"^(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})$")
    parts = parts.fillna(compact)
    ymd = pd.to_datetime(parts.astype("float64"), errors="coerce")
    serial = pd.to_numeric(s.where(s.str.fullmatch(r"\d{5}(\.0+)?")), errors="coerce")
    from_serial = _EXCEL_EPOCH + pd.to_timedelta(serial, unit="D")
    values = parsed.fillna(ymd).fillna(from_serial)
    bad = (s != "") & values.isna()
    return values, bad


def _dates(raw: pd.Series, date_format: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(datetime64 values, "YYYY-MM-DD" text or "", mask of values that are not dates)."""
    values, bad = to_date(raw, date_format)
    return values, values.dt.strftime("%Y-%m-%d").fillna(""), bad


#: A file where at least this many rows, and most of them, have every required field empty is not
#: an export (10 MB of short junk rows passes the read guard and would be ~3 problems a row).
JUNK_ROWS = 1_000


def refuse_junk(rows: pd.DataFrame, profile: Profile) -> None:
    """Refuse a file most of whose rows carry none of the profile's required fields, at once and
    with one message, instead of three problems for each of its rows."""
    required = [f for f in profile.required if f in rows.columns]
    if len(rows) < JUNK_ROWS or not required:
        return
    empty = pd.Series(True, index=rows.index)
    for name in required:
        empty &= trim(rows[name].astype(str)) == ""
    count = int(empty.sum())
    if count < JUNK_ROWS or count * 2 < len(rows):
        return
    hit = rows.loc[empty, ["_file", "_row"]].head(5)
    first = hit["_row"].astype(int).astype(str).tolist()
    columns = "、".join(profile.source_column(f) for f in required)
    raise InputError(
        f"{len(rows):,} 行のうち {count:,} 行は必要な項目 ({columns}) がすべて空です (例 {'・'.join(first)} 行目)。"
        f"{profile.source_name}の取引明細の書き出しか、ファイルが壊れていないか確認してください",
        file=str(hit["_file"].iloc[0]))


def normalise(rows: pd.DataFrame, profile: Profile) -> tuple[pd.DataFrame, list[Problem]]:
    """Typed copy of ``rows`` plus one problem per value that cannot be understood."""
    refuse_junk(rows, profile)
    out = rows.copy(deep=False)  # copy-on-write: the columns replaced below never touch ``rows``
    problems: list[Problem] = []
    for name in KEY_FIELDS:
        # Keys repeat (a few dozen accounts): strip each distinct value once. 帳票番号 is nearly
        # unique per document, where sorting out the distinct values costs more than it saves.
        out[name] = trim(out[name]) if name == "doc_no" else by_value(out[name], lambda u: (trim(u),))[0]
    (out["customer_code"],) = by_value(out["customer_code"], lambda u: (trim(u).str.normalize("NFKC"),))
    (out["customer_key"],) = by_value(out["customer"], lambda u: (trim(u),))

    dates, text, bad_dates = by_value(out["date"], lambda u: _dates(u, profile.date_format))
    problems += _problems(out, bad_dates, "date", profile, "date",
                          "日付として読めません。YYYY/MM/DD (例 2026/10/01) で入力してください")
    missing = out["date"] == ""
    problems += _problems(out, missing, "date", profile, "required", "取引日が空です")
    out["ymd"] = dates
    out["date"] = text
    # Rows with a value that could not be read: never taken for 0円, never balance-checked.
    out["_bad"] = bad_dates | missing

    for name in AMOUNT_FIELDS:
        values, cause = by_value(out[name], parse_amount)
        bad = cause != ""
        if bad.any():  # one message per cause, in row order
            found = [p for key, message in AMOUNT_CAUSES.items()
                     for p in _problems(out, cause == key, name, profile, "amount", message)]
            problems += sorted(found, key=lambda p: (p.file, p.row or 0))
        out[name] = values
        out["_bad"] = out["_bad"] | bad
    return out, problems


def _problems(
    frame: pd.DataFrame, mask: pd.Series, field: str, profile: Profile, rule: str, message: str
) -> list[Problem]:
    if not mask.any():
        return []
    hit = frame.loc[mask, ["_file", "_row", field]]
    column = profile.source_column(field)
    return [
        Problem(str(f), int(r), column, str(v), rule, message)
        for f, r, v in hit.itertuples(index=False, name=None)
    ]
