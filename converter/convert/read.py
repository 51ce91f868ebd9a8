"""Read stage: source files (CSV or XLSX) → one DataFrame of canonical fields, all text.

Every output row keeps ``_file`` (the path as given) and ``_row`` (the row number the user sees
in Excel: header = row 1) so any later problem can point back at the source.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from converter.config.settings import CANONICAL_FIELDS, Profile
from converter.convert._kernels import field_counts
from converter.convert.read_guard import check_csv_lines, check_csv_records, check_csv_shape
from converter.convert.read_xlsx import read_excel
from converter.errors import InputError, Problem, cut_value
from converter.outputs import file_identity

EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
# The csv module refuses fields over 131,072 characters; a 摘要 may be longer (then it is reported as
# too wide, not a crash).
csv.field_size_limit(2**31 - 1)


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


#: The rule of the notice that a file was given more than once (read once).
DUPLICATE_INPUT = "duplicate_input"


@dataclass(frozen=True)
class RepeatedInput:
    """Input paths that name one file, or files with identical bytes: only the first is read.
    Paths are kept as the user spelled them (``./a.csv``), so the notice names what was typed."""

    given: tuple[str, ...]  # the path read first, then each repeat
    same_content: bool  # some repeat is another file with the same bytes (a copy), not a link/spelling

    def notice(self) -> Problem:
        what = "中身が同じファイル" if self.same_content else "同じファイル"
        listed = "、".join(self.given[:-1]) + " と " + self.given[-1]
        return Problem(self.given[0], None, "", "", DUPLICATE_INPUT,
                       f"{what}が{len(self.given)}回指定されました: {listed} — 1回だけ読み込みます")


def dedupe_inputs(paths: Sequence[str | Path]) -> tuple[list[Path], list[RepeatedInput]]:
    """The inputs with each file once, in the order given, and what was left out.

    One file is one file whatever it is called: the same real path, or the same (device, inode)
    (a symlink or hard link), or the same bytes (a copy under another name: an export saved
    twice). Reading it twice would double every amount. Paths that name nothing are kept (read
    reports them). Only files of equal size are hashed."""
    first_of: dict[object, int] = {}  # identity → index (in ``kept``) of the file read for it
    kept: list[Path] = []
    given: list[list[str]] = []  # per kept file: how it and its repeats were spelled
    by_copy: set[int] = set()
    sizes: dict[int, list[int]] = {}
    digests: dict[int, bytes] = {}
    for spelled in paths:
        path, identity = Path(spelled), file_identity(Path(spelled))
        index = first_of.get(identity)
        if index is None:
            index = _same_bytes(path, kept, sizes, digests)
            if index is not None:
                by_copy.add(index)
        if index is not None:
            given[index].append(os.fspath(spelled))
            first_of[identity] = index  # a later link to a copy is a repeat of the file read too
            continue
        first_of[identity] = len(kept)
        kept.append(path)
        given.append([os.fspath(spelled)])
    found = [RepeatedInput(tuple(g), i in by_copy) for i, g in enumerate(given) if len(g) > 1]
    return kept, found


def _same_bytes(path: Path, kept: list[Path], sizes: dict[int, list[int]], digests: dict[int, bytes]) -> int | None:
    """The index of an earlier kept file with exactly the bytes of ``path``, if any; else ``path``
    is filed by size as the next kept file (``sizes``: indexes of kept files by size)."""
    try:
        size = path.stat().st_size if path.is_file() else -1
    except OSError:
        size = -1
    if size < 0:
        return None
    candidates = sizes.setdefault(size, [])
    if candidates:
        mine = _digest(path)
        for index in candidates:
            if index not in digests:
                digests[index] = _digest(kept[index])
            if digests[index] == mine:
                return index
        digests[len(kept)] = mine
    candidates.append(len(kept))
    return None


def _digest(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").digest()
    except OSError:
        return os.fsencode(path)  # unreadable: read reports it; equal to no other file


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
    hint = ""
    if path.suffix.lower() in EXCEL_SUFFIXES:
        table, used_sheet, problems, sheets = read_excel(path, profile, sheet)
        encoding = "xlsx"
        if sheet is None and len(sheets) > 1:  # the data may be on another sheet than the first
            others = [s for s in sheets if s != used_sheet]
            names = "、".join(cut_value(s, 31) for s in sheets[:20])
            hint = (f"このブックにはシートが {len(sheets)} 枚あります ({names})。"
                    f"データが「{cut_value(used_sheet, 31)}」以外のシートにあるなら --sheet で指定してください"
                    f" (例 --sheet '{cut_value(others[0], 31)}')")
    else:
        table, encoding, problems = _read_csv(path, profile)
    frame, more = _to_canonical(table, path, profile, hint)
    info = SourceFile(str(path), encoding, profile.name, len(frame), used_sheet)
    return frame, info, problems + more


# --------------------------------------------------------------------------- CSV


_PROBE = 1 << 16


def decode(data: bytes, path: Path, encoding: str) -> tuple[str, str]:
    """Decode with the profile's encoding, or detect UTF-8 (BOM or not) then CP932."""
    tried = ["utf-8-sig", "cp932"] if encoding == "auto" else [encoding]
    furthest = 0  # where the best attempt failed: the likeliest place of the bad bytes
    for enc in tried:
        try:
            if enc != tried[-1]:
                # A failed decode of a big file costs ~60 ms however early it fails: a CP932 file
                # is told from UTF-8 by its first 64 KB (a failure short of the cut is a real one).
                head = data[:_PROBE]
                try:
                    head.decode(enc)
                except UnicodeDecodeError as err:
                    if err.start < len(head) - 4:
                        raise
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
    if not text or text.isspace():  # (not text.strip(): the same test without copying the text)
        raise InputError("ファイルが空です", file=str(path))
    # The C parser reads UTF-8 bytes natively; handed a str (StringIO) pandas goes through a slow
    # path that takes ~20× as long on a million rows. Decoding first is still needed: it detects the
    # encoding and rejects bad bytes with a message, which pandas would not do.
    raw = text.encode("utf-8")
    del text
    # pandas pads short rows with "" and stops at the first long one, so the field count of
    # every record is taken first: all ragged rows are reported at once.
    try:
        check_csv_lines(raw, path)
        counts = field_counts(raw)
        # Before pandas: a 10⁶-column row, a 10 MB field or millions of blank or ragged lines cost it
        # minutes and gigabytes (it pads every record to the widest).
        check_csv_shape(raw, counts, path)
        nonblank = counts > 0
        first = int(np.argmax(nonblank))  # the header is the first non-blank record
        width = int(counts[first]) if profile.header else int(np.bincount(counts[nonblank]).argmax())
        check_csv_records(counts, width, path, "見出し" if profile.header else "他の行")
        table = _parse_csv(raw, counts)
    except (csv.Error, pd.errors.ParserError) as err:
        raise InputError(f"CSV として読めません ({err})。引用符 (\") が閉じていない行がないか確認してください",
                         file=str(path)) from None
    del raw
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
    if len(table) == len(counts) and not nonblank.all():
        table = table.loc[nonblank]
    if profile.header:
        header = [str(v).strip() for v in table.iloc[0].tolist()] if len(table) else []
        table = table.iloc[1:]
        # Columns without a header stay (their position is the file's); nothing is read from them.
        table.columns = pd.Index(header + [f"_extra{i}" for i in range(len(table.columns) - len(header))])
    return table, encoding, problems


def _parse_csv(raw: bytes, counts: np.ndarray) -> pd.DataFrame:
    return pd.read_csv(
        io.BytesIO(raw),
        encoding="utf-8",
        header=None,
        names=range(int(counts.max())),
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=False,
        index_col=False,
        quoting=csv.QUOTE_MINIMAL,
    )


# --------------------------------------------------------------------------- canonical

#: 弥生会計's 仕訳日記帳 import: no header, 25 columns, a 識別フラグ (2000, 2110, 2101 …) first.
_YAYOI_FLAG = re.compile(r"^2[01][0-9]{2}$")
_YAYOI_COLUMNS = 25


def _headerless_hint(table: pd.DataFrame, profile: Profile) -> str:
    """Advice when a file read with a header has none that the profile knows and its first row looks
    like data: the 弥生 layout names --profile yayoi; any other says the first row is not a header."""
    if not profile.header or not len(table.columns):
        return ""
    spellings = {name for spec in profile.columns.values() if not isinstance(spec, int) for name in spec}
    if spellings & set(table.columns):
        return ""
    first = str(table.columns[0])
    if _YAYOI_FLAG.match(first) and len(table.columns) == _YAYOI_COLUMNS:
        return (f"1 行目が見出しではなく、弥生会計の仕訳日記帳 (見出しなし {_YAYOI_COLUMNS} 列、識別フラグ {first}) の"
                "ようです。弥生会計の書き出しなら --profile yayoi を付けてください")
    return f"1 行目に {profile.source_name}の見出しが 1 つもありません。見出しの行を含めて書き出し直してください"



def _to_canonical(
    table: pd.DataFrame, path: Path, profile: Profile, hint: str = ""
) -> tuple[pd.DataFrame, list[Problem]]:
    """Pick and rename the profile's columns; name every missing required column at once (``hint``:
    what else to try, e.g. another sheet)."""
    picked: dict[str, pd.Series] = {}
    missing = []
    for canonical, spec in profile.columns.items():
        source: object = None
        if isinstance(spec, int):
            source = spec - 1 if spec - 1 in table.columns else None
        else:
            source = next((name for name in spec if name in table.columns), None)
            if source is not None and int((table.columns == source).sum()) > 1:
                positions = [str(i + 1) for i, c in enumerate(table.columns) if c == source]
                which = "どちら" if len(positions) == 2 else "どれ"
                raise InputError(f"見出し「{source}」が {len(positions)} 列 ({'・'.join(positions)} 列目) にあります。"
                                 f"{which}を読むか決められないので、1 列にしてください", file=str(path))
        if source is None:
            if canonical in profile.required:
                missing.append(profile.source_column(canonical))
            continue
        picked[canonical] = table[source].astype(str).astype(object)
    if missing:
        found = ", ".join(cut_value(str(c), 40) for c in table.columns[table.columns != ""][:30])
        advice = hint or _headerless_hint(table, profile) or (
            f"見出しの綴りが違う場合はプロファイル ({profile.path}) の columns に追加してください")
        raise InputError(f"必要な列がありません: {', '.join(missing)}。見出しは {found}。{advice}", file=str(path))
    frame = pd.DataFrame(picked, index=table.index, copy=False)  # copy-on-write keeps ``table`` apart
    for canonical in CANONICAL_FIELDS:
        if canonical not in frame.columns:
            frame[canonical] = ""
    if profile.default_kind:
        frame["kind"] = frame["kind"].where(frame["kind"] != "", profile.default_kind)
    frame = frame[list(CANONICAL_FIELDS)]
    frame["_file"] = str(path)
    frame["_row"] = frame.index.to_numpy(dtype=np.int64)
    return frame.reset_index(drop=True), []
