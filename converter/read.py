"""Read stage: source files (CSV or XLSX) → one DataFrame of canonical fields, all text.

Every output row keeps ``_file`` (the path as given) and ``_row`` (the row number the user sees
in Excel: header = row 1) so any later problem can point back at the source.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .config import CANONICAL_FIELDS, Profile
from .errors import InputError, Problem

EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}


@dataclass(frozen=True)
class SourceFile:
    """What was read from one input file (shown on the review workbook's summary)."""

    path: str
    encoding: str
    profile: str
    rows: int
    sheet: str = ""


@dataclass(frozen=True)
class ReadResult:
    rows: pd.DataFrame  # canonical text columns + _file, _row
    files: tuple[SourceFile, ...]
    problems: tuple[Problem, ...]


def read_inputs(paths: list[Path], profile: Profile, sheet: str | None = None) -> ReadResult:
    frames, files, problems = [], [], []
    for path in paths:
        frame, info, found = read_one(path, profile, sheet)
        frames.append(frame)
        files.append(info)
        problems.extend(found)
    empty = pd.DataFrame(columns=[*CANONICAL_FIELDS, "_file", "_row"])
    rows = pd.concat(frames, ignore_index=True) if frames else empty
    return ReadResult(rows=rows, files=tuple(files), problems=tuple(problems))


def read_one(
    path: Path, profile: Profile, sheet: str | None = None
) -> tuple[pd.DataFrame, SourceFile, list[Problem]]:
    if not path.is_file():
        raise InputError("ファイルがありません。パスを確認してください", file=str(path))
    problems: list[Problem] = []
    used_sheet = ""
    if path.suffix.lower() in EXCEL_SUFFIXES:
        table, used_sheet = _read_excel(path, profile, sheet)
        encoding = "xlsx"
    else:
        table, encoding, problems = _read_csv(path, profile)
    frame, more = _to_canonical(table, path, profile)
    info = SourceFile(str(path), encoding, profile.name, len(frame), used_sheet)
    return frame, info, problems + more


# --------------------------------------------------------------------------- CSV


def decode(data: bytes, path: Path, encoding: str) -> tuple[str, str]:
    """Decode with the profile's encoding, or detect UTF-8 (BOM or not) then CP932."""
    tried = ["utf-8-sig", "cp932"] if encoding == "auto" else [encoding]
    furthest = 0  # where the best attempt failed: the likeliest place of the bad bytes
    for enc in tried:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError as err:
            furthest = max(furthest, err.start)
            continue
        name = "utf-8 (BOM)" if enc == "utf-8-sig" and data.startswith(b"\xef\xbb\xbf") else enc
        return text, "utf-8" if enc == "utf-8-sig" and name == enc else name
    row = data[:furthest].count(b"\n") + 1
    names = ", ".join("UTF-8 (BOM あり/なし)" if e == "utf-8-sig" else e.upper() for e in tried)
    raise InputError(
        f"文字コードを判別できません ({names} を試しました。{row}行目付近、{furthest}バイト目)。"
        "CSV を UTF-8 か Shift_JIS (CP932) で保存し直してください",
        file=str(path),
    )


def _read_csv(path: Path, profile: Profile) -> tuple[pd.DataFrame, str, list[Problem]]:
    text, encoding = decode(path.read_bytes(), path, profile.encoding)
    if "\x00" in text:
        row = text[: text.index("\x00")].count("\n") + 1
        raise InputError(
            "NUL 文字が含まれています。CSV ではないファイルか、壊れたファイルです", file=str(path), row=row
        )
    if not text.strip():
        raise InputError("ファイルが空です", file=str(path))
    # pandas pads short rows with "" and stops at the first long one, so the field count of
    # every record is taken with the csv module first: all ragged rows are reported at once.
    counts = np.fromiter((len(rec) for rec in csv.reader(io.StringIO(text))), dtype=np.int64)
    nonblank = counts > 0
    width = int(counts[0]) if profile.header else int(np.bincount(counts[nonblank]).argmax())
    table = pd.read_csv(
        io.StringIO(text),
        header=None,
        names=range(int(counts.max())),
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=False,
        index_col=False,
        quoting=csv.QUOTE_MINIMAL,
    )
    # Excel row of a record = its index + 1 (header or not: Excel numbers from 1).
    table.index = pd.RangeIndex(1, len(table) + 1)
    problems: list[Problem] = []
    bad = np.flatnonzero(nonblank & (counts != width))
    for i in bad[:200]:
        problems.append(
            Problem(str(path), int(i) + 1, "", f"{counts[i]} 列", "ragged_row",
                    f"列数が {counts[i]} で、{'見出し' if profile.header else '他の行'}の {width} 列と"
                    "合いません。区切りのカンマや引用符 (\") が崩れていないか確認してください")
        )
    if len(bad) > 200:
        more = f"列数が合わない行が他に {len(bad) - 200} 行あります"
        problems.append(Problem(str(path), None, "", "", "ragged_row", more))
    table = table.loc[nonblank[: len(table)]] if len(table) == len(counts) else table
    if profile.header:
        header = [str(v).strip() for v in table.iloc[0].tolist()] if len(table) else []
        table = table.iloc[1:]
        table.columns = pd.Index(header + [f"_extra{i}" for i in range(len(table.columns) - len(header))])
        table = table.loc[:, [c for c in table.columns if c]]
    return table, encoding, problems


# --------------------------------------------------------------------------- Excel


def _read_excel(path: Path, profile: Profile, sheet: str | None) -> tuple[pd.DataFrame, str]:
    try:
        book = pd.ExcelFile(path, engine="calamine")
    except Exception as err:  # calamine raises its own error types for corrupt files
        raise InputError(f"Excel ファイルとして開けません ({err})", file=str(path)) from None
    sheets = [str(s) for s in book.sheet_names]
    name = sheet if sheet is not None else sheets[0]
    if name not in sheets:
        raise InputError(f"シート '{name}' がありません (シート: {', '.join(sheets)})", file=str(path))
    # dtype=str keeps codes like 001 intact; calamine hands dates over as datetimes, which
    # become "YYYY-MM-DD 00:00:00" text here and are parsed like any other date later.
    table = pd.read_excel(book, sheet_name=name, header=None, dtype=str, keep_default_na=False)
    table = table.fillna("")
    table.index = pd.RangeIndex(1, len(table) + 1)
    if profile.header:
        if len(table) == 0:
            raise InputError(f"シート '{name}' が空です", file=str(path))
        header = [str(v).strip() for v in table.iloc[0].tolist()]
        table = table.iloc[1:]
        table.columns = pd.Index(header)
        table = table.loc[:, [c for c in table.columns if c]]
    blank = (table == "").all(axis=1)
    return table.loc[~blank], name


# --------------------------------------------------------------------------- canonical


def _to_canonical(
    table: pd.DataFrame, path: Path, profile: Profile
) -> tuple[pd.DataFrame, list[Problem]]:
    """Pick and rename the profile's columns; name every missing required column at once."""
    picked: dict[str, pd.Series] = {}
    missing = []
    for canonical, spec in profile.columns.items():
        source: object = None
        if isinstance(spec, int):
            source = spec - 1 if spec - 1 in table.columns else None
        else:
            source = next((name for name in spec if name in table.columns), None)
        if source is None:
            if canonical in profile.required:
                missing.append(profile.source_column(canonical))
            continue
        picked[canonical] = table[source].astype(str)
    if missing:
        found = ", ".join(str(c) for c in table.columns[:30])
        raise InputError(
            f"必要な列がありません: {', '.join(missing)}。見出しは {found}。"
            f"見出しの綴りが違う場合はプロファイル ({profile.path}) の columns に追加してください",
            file=str(path),
        )
    frame = pd.DataFrame(picked, index=table.index)
    for canonical in CANONICAL_FIELDS:
        if canonical not in frame.columns:
            frame[canonical] = ""
    if profile.default_kind:
        frame["kind"] = frame["kind"].where(frame["kind"] != "", profile.default_kind)
    frame = frame[list(CANONICAL_FIELDS)]
    frame["_file"] = str(path)
    frame["_row"] = frame.index.to_numpy(dtype=np.int64)
    return frame.reset_index(drop=True), []
