"""The mapping tables: the YAML files of the mappings folder, checked and loaded as DataFrames.

Tables (each a YAML list of flow mappings, documented in README):

- ``accounts.yaml``    勘定科目 [+ 補助科目] → ``cd_act`` [+ ``cd_auxact``]
- ``tax.yaml``         税区分 → ``tptn``, ``cmtxrate``, ``is_reduce_cmtxrate`` [, ``tbptn``,
  ``cat_purday``, ``is_autocalccmtx``]
- ``departments.yaml`` 部門 → ``cd_dep``
- ``customers.yaml``   取引先コード or 取引先名 → ``cd_cstm``

All tables are checked on load and every problem of every file is reported in one ConfigError.
The map stage (:mod:`converter.convert.mapping`) applies them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from converter.config.settings import BOOKKEEPING, load_yaml, mark_of, quote_advice, unquoted
from converter.errors import ConfigError, ConfigProblem, retext
from converter.fx_rules import CAT_PURDAY, CMTXRATE_MAX, CMTXRATE_MIN, CODE_HINTS, FLAGS_0_1, is_code


@dataclass(frozen=True)
class Column:
    """One key of a mapping entry: is it required, and what makes a value valid."""

    required: bool
    check: Callable[[Any], bool]
    hint: str


def _text(v: Any) -> bool:
    return isinstance(v, str) and v.strip() != ""


def _code(field: str) -> Callable[[Any], bool]:
    return lambda v: is_code(field, v)


def _one_of(*allowed: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v in allowed


_QUOTE = '(引用符で囲んだ文字列で書いてください。例 "001")'
#: The mapping tables, each the file ``<table>.yaml`` of the mappings folder.
Table = Literal["accounts", "tax", "departments", "customers"]

TABLES: dict[Table, dict[str, Column]] = {
    "accounts": {
        "account": Column(True, _text, "勘定科目名"),
        "sub_account": Column(False, _text, "補助科目名"),
        "cd_act": Column(True, _code("cd_act"), f"{CODE_HINTS['cd_act']} {_QUOTE}"),
        "cd_auxact": Column(False, _code("cd_auxact"), f"{CODE_HINTS['cd_auxact']} {_QUOTE}"),
        "name": Column(False, _text, "FX の科目名 (表示用)"),
    },
    "tax": {
        "tax": Column(True, _text, "税区分名"),
        "tptn": Column(True, _code("tptn"), f"{CODE_HINTS['tptn']} {_QUOTE}"),
        "cmtxrate": Column(False, _one_of(*range(CMTXRATE_MIN, CMTXRATE_MAX + 1)),
                           f"{CMTXRATE_MIN}〜{CMTXRATE_MAX} の整数 (税率×100)"),
        "is_reduce_cmtxrate": Column(False, _one_of(*FLAGS_0_1), "0 または 1"),
        "tbptn": Column(False, _code("tbptn"), f"{CODE_HINTS['tbptn']} {_QUOTE}"),
        "cat_purday": Column(False, _one_of(*CAT_PURDAY), f"{', '.join(map(str, CAT_PURDAY))} のいずれか"),
        "is_autocalccmtx": Column(False, _one_of(*FLAGS_0_1), "0 または 1"),
    },
    "departments": {
        "department": Column(True, _text, "部門名"),
        "cd_dep": Column(True, _code("cd_dep"), f"{CODE_HINTS['cd_dep']} {_QUOTE}"),
    },
    "customers": {
        "customer_code": Column(False, _text, "ジョブカンの取引先コード"),
        "customer": Column(False, _text, "取引先名"),
        "cd_cstm": Column(True, _code("cd_cstm"), f"{CODE_HINTS['cd_cstm']} {_QUOTE}"),
    },
}
#: Which keys identify an entry (a second entry with the same keys is a duplicate).
KEYS: dict[Table, tuple[str, ...]] = {
    "accounts": ("account", "sub_account"),
    "tax": ("tax",),
    "departments": ("department",),
    "customers": ("customer_code", "customer"),
}
TAX_INT_FIELDS = ("cmtxrate", "is_reduce_cmtxrate", "cat_purday", "is_autocalccmtx")


@dataclass(frozen=True)
class Mappings:
    """The four tables as DataFrames (text columns; "" where an entry leaves a key out)."""

    folder: Path
    accounts: pd.DataFrame
    tax: pd.DataFrame
    departments: pd.DataFrame
    customers: pd.DataFrame
    #: Per table, each frame row's YAML positions: key → (line, column) of its value (1-based),
    #: and "" → the entry's own line; for reports that point into the tables (mappings check).
    positions: dict[str, list[dict[str, tuple[int, int | None]]]] = field(default_factory=dict, compare=False)

    def file(self, table: str) -> str:
        return str(self.folder / f"{table}.yaml")


def load_mappings(folder: Path) -> Mappings:
    problems: list[str] = []
    frames: dict[str, pd.DataFrame] = {}
    positions: dict[str, list[dict[str, tuple[int, int | None]]]] = {}
    for table in TABLES:
        path = folder / f"{table}.yaml"
        entries: list[dict[str, Any]] = []
        if path.is_file():
            try:
                data, duplicates = load_yaml(path)
            except ConfigError as err:
                problems += [retext(p, f"{path.name}: {p}", file=str(path)) for p in err.problems]
                data, duplicates = [], []
            problems += [retext(d, f"{path.name}: {d}", file=str(path)) for d in duplicates]
            entries = _check_table(table, path, data, problems)
        frames[table] = _frame(table, entries)
        positions[table] = [{"": (e["__line__"], None), **{k: v for k, (_, v) in e.get("__marks__", {}).items()}}
                            for e in entries]
    if problems:
        raise ConfigError(str(folder), problems)
    return Mappings(folder=folder, positions=positions, **frames)


def _check_table(table: Table, path: Path, data: Any, problems: list[str]) -> list[dict[str, Any]]:
    """Check one table's entries; each problem knows its YAML line and column (ConfigProblem)."""
    filename = path.name

    def add(text: str, rule: str, at: tuple[int | None, int | None]) -> None:
        message = text.split(": ", 1)[1] if text.startswith(f"{filename}:") else text
        problems.append(ConfigProblem(text, file=str(path), line=at[0], col=at[1], rule=rule, message=message))

    if data is None:
        return []
    if not isinstance(data, list):
        add(f"{filename}: 「- {{...}}」の形のリストで書いてください", "mapping_shape", mark_of(data, None))
        return []
    columns = TABLES[table]
    seen: dict[tuple[str, ...], int] = {}
    good = []
    for position, entry in enumerate(data, start=1):
        if not isinstance(entry, dict):
            add(f"{filename}: {position}番目: {{key: value, ...}} の形で書いてください", "mapping_shape", (None, None))
            continue
        line = entry.get("__line__", position)
        where = f"{filename}:{line}行"
        ok = True
        for key in sorted(set(entry) - set(columns) - set(BOOKKEEPING), key=str):
            add(f"{where}: '{key}' は知らないキーです (使えるキー: {', '.join(columns)})", "unknown_key",
                mark_of(entry, key, of_key=True))
            ok = False
        for key, column in columns.items():
            if key not in entry:
                if column.required:
                    add(f"{where}: '{key}' が必要です ({column.hint})", "required_key", (line, None))
                    ok = False
            elif not column.check(entry[key]):
                raw = unquoted(entry, key)
                if raw is not None and column.hint.endswith(_QUOTE):  # a code written unquoted: 0111 is 73
                    hint = "" if column.check(raw) else f"。{key} は{column.hint.removesuffix(_QUOTE).strip()}です"
                    text = quote_advice(key, raw, entry[key]) + hint
                else:
                    text = f"{key} の値 '{entry[key]}' が不正です ({column.hint})"
                add(f"{where}: {text}",
                    f"{key}_format" if key.startswith(("cd_", "tptn", "tbptn")) else "mapping_value",
                    mark_of(entry, key))
                ok = False
        if table == "customers" and "customer_code" not in entry and "customer" not in entry:
            add(f"{where}: customer_code か customer のどちらかが必要です", "required_key", (line, None))
            ok = False
        key = tuple(str(entry.get(k, "")).strip() for k in KEYS[table])
        if key in seen:
            shown = " / ".join(k for k in key if k)
            add(f"{where}: '{shown}' は {seen[key]}行 にもあります (重複)", "duplicate_entry",
                mark_of(entry, KEYS[table][0]) if KEYS[table][0] in entry else (line, None))
            ok = False
        seen.setdefault(key, line)
        if ok:
            good.append(entry)
    return good


def _frame(table: Table, entries: list[dict[str, Any]]) -> pd.DataFrame:
    columns = list(TABLES[table])
    frame = pd.DataFrame([{k: e.get(k) for k in columns} for e in entries], columns=columns)
    for column in columns:
        if table == "tax" and column in TAX_INT_FIELDS:
            frame[column] = frame[column].astype("Int64")
        else:
            frame[column] = frame[column].fillna("").astype(str).str.strip()
    return frame
