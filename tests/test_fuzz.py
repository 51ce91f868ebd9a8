"""Bad input: fuzz the reader, the normaliser and the mapping tables. Nothing crashes, nothing is lost.

Every case must end with exit 0, 1 or 2 and a message — never a traceback, and never the CLI's
"内部エラー" safety net (that is a traceback caught at the last moment: a bug). And every input row is
accounted for: in a slip (``lines``), in a problem, or in the skipped list — or the whole file was
refused with a clear error. :func:`account_rows` does the counting from an independent reading.

The number of examples is capped for CI; ``SOAK=1`` multiplies it by ten and randomises the seed.
The figures (cases tried, tracebacks) are printed at the end of the module and, with
``FAULTS_REPORT=path.json``, merged into that file under "fuzz".
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import string
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from click.testing import CliRunner
from conftest import FIELDS, HEADER, make_mappings, sale, to_csv
from fault_helpers import SOAK
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

import converter.cli._common as cli_module
from converter.cli import main
from converter.config.settings import load_profile
from converter.config.tables import load_mappings
from converter.convert.normalise import to_amount, to_date
from converter.convert.pipeline import Conversion, Options, convert
from converter.errors import ConfigError, ConverterError, InputError

SCALE = 10 if SOAK else 1
TRIED: Counter[str] = Counter()
TRACEBACKS: Counter[str] = Counter()
EXAMPLES = {"bytes": 150, "csv": 200, "xlsx": 60, "yaml": 150, "normalise": 200}


def fuzz_settings(kind: str) -> settings:
    return settings(max_examples=EXAMPLES[kind] * SCALE, deadline=None, derandomize=not SOAK,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module", autouse=True)
def fuzz_figures() -> Iterator[None]:
    yield
    figures = {"cases_tried": dict(TRIED), "total": sum(TRIED.values()),
               "tracebacks": sum(TRACEBACKS.values()), "tracebacks_by_kind": dict(TRACEBACKS)}
    print(f"\n[fuzz figures] {json.dumps(figures, ensure_ascii=False)}", flush=True)
    target = os.environ.get("FAULTS_REPORT")
    if target:
        path = Path(target)
        data = json.loads(path.read_text("utf-8")) if path.exists() and path.stat().st_size else {}
        data["fuzz"] = figures
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), "utf-8")


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def mappings(fuzz_dir: Path) -> Path:
    return make_mappings(fuzz_dir / "mappings")


# --------------------------------------------------------------------------- row accounting


@dataclass
class Accounting:
    """Data rows per file (Excel numbering, header = 1) and what became of them."""

    expected: dict[str, set[int]]
    accounted: dict[str, set[int]] = field(default_factory=dict)
    refused: str = ""  # the whole run stopped with this error: every row is accounted for

    @property
    def lost(self) -> dict[str, list[int]]:
        if self.refused:
            return {}
        out = {f: sorted(rows - self.accounted.get(f, set())) for f, rows in self.expected.items()}
        return {f: rows for f, rows in out.items() if rows}

    @property
    def count(self) -> int:
        return sum(len(r) for r in self.expected.values())


def account_rows(expected: dict[str, set[int]], outcome: Conversion | ConverterError) -> Accounting:
    """Each expected row is in a slip, in a problem or in the skipped list — or the run was refused."""
    result = Accounting(expected)
    if isinstance(outcome, ConverterError):
        result.refused = str(outcome)
        return result
    seen: dict[str, set[int]] = {}
    for file, row in outcome.lines[["_file", "_row"]].itertuples(index=False, name=None):
        seen.setdefault(str(file), set()).add(int(row))
    for problem in outcome.problems:
        if problem.row is not None:
            seen.setdefault(problem.file, set()).add(int(problem.row))
    for file, rows in outcome.skipped[["file", "rows"]].itertuples(index=False, name=None):
        seen.setdefault(str(file), set()).update(int(r) for r in str(rows).split(",") if r.strip())
    result.accounted = seen
    return result


@contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    # Our independent reading must see huge fields; the tool's own limit is restored before it runs.
    old = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def csv_data_rows(data: bytes) -> set[int] | None:
    """Row numbers of the data records of a CSV export as Excel numbers them; None when the file has
    to be refused whole (not UTF-8 or CP932, NUL bytes)."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return None
    if "\x00" in text:
        return None
    with _csv_field_limit(2**31 - 1):
        records = list(csv.reader(io.StringIO(text, newline="")))
    numbered = [i for i, rec in enumerate(records, start=1) if rec]
    return set(numbered[1:])  # the first non-blank record is the header


# --------------------------------------------------------------------------- running one case


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    conversion: Conversion | ConverterError | None


def run_check(paths: list[Path], mappings: Path, kind: str) -> Outcome:
    """``converter check`` through the CLI, keeping the Conversion the command computed (one run)."""
    captured: dict[str, Any] = {}
    real = cli_module.convert

    def spy(*args: Any, **kwargs: Any) -> Conversion:
        try:
            captured["conversion"] = real(*args, **kwargs)
        except ConverterError as err:
            captured["conversion"] = err
            raise
        return captured["conversion"]

    with mock.patch.object(cli_module, "convert", spy):
        result = CliRunner().invoke(main, ["check", *map(str, paths), "-m", str(mappings)])
    TRIED[kind] += 1
    out = Outcome(result.exit_code, result.stdout, result.stderr, captured.get("conversion"))
    text = out.stdout + out.stderr
    if "Traceback" in text or "内部エラー" in text or result.exit_code not in (0, 1, 2) \
            or (result.exception is not None and not isinstance(result.exception, SystemExit)):
        TRACEBACKS[kind] += 1
        raise AssertionError(f"crash (exit {result.exit_code}): {text[-2000:]}\n{result.exception!r}")
    if out.exit_code == 2:
        assert out.stderr.startswith("エラー"), f"exit 2 without a message on stderr: {text[-1000:]}"
    if out.exit_code == 1:
        assert out.stdout.strip(), "exit 1 without a report"
    return out


def assert_nothing_lost(paths: dict[Path, set[int] | None], out: Outcome) -> Accounting:
    expected = {str(p): rows for p, rows in paths.items() if rows is not None}
    if any(rows is None for rows in paths.values()):
        # Undecodable or NUL: the file must be refused whole, with a message naming it.
        assert isinstance(out.conversion, InputError) and out.exit_code == 2, (out.exit_code, out.stderr)
        bad = [p for p, rows in paths.items() if rows is None]
        assert any(str(p) in out.stderr for p in bad), out.stderr
    assert out.conversion is not None, (out.exit_code, out.stderr)
    accounting = account_rows(expected, out.conversion)
    assert not accounting.lost, f"rows neither converted, reported nor skipped: {accounting.lost}"
    if isinstance(out.conversion, Conversion):
        read = sum(f.rows for f in out.conversion.files)
        assert read == accounting.count, f"the reader saw {read} data rows, the file has {accounting.count}"
    return accounting


# --------------------------------------------------------------------------- strategies: CSV

AMOUNTS = ["110000", "110,000", "１１０，０００", "▲1,100", "△100", "(2,200)", "-5", "1.5", "1.0", "abc", "",
           " 77,000 ", "¥1,000", "1000円", "1e5", "99999999999", "100000000000", "0", "-0", "１２３", "١٢٣",
           "12 345", "+100"]
DATES = ["2026/10/01", "2026/10/1", "2026-10-01", "20261001", "2026年10月1日", "46296", "46296.0", "46296.5",
         "2026/13/40", "2026/02/30", "", "10/01/2026", "2026/10/01 00:00:00", "2026-10-01T00:00", "０２６/10/01",
         "1900/01/01", "9999/12/31", "2026/10/01 12:30:00", "99999"]
TEXTS = ["", " ", "A商店", "C-001", " C-001 ", "Ｃ－００１", "=SUM(A1)", "+1", "-1", "@x", "\tタブ", 'a"b', '"quoted"',
         "a,b", "改行\nあり", "CR\rだけ", "諸口", "売上高", "広告宣伝費", "営業部", "対象外", "課税売上10%", "😀", "㈱",
         "ｱｲｳ", "\u3000全角空白\u3000", "x" * 300]
KINDS = ["売上", "入金", "仕入", "支払", "", "その他"]


@st.composite
def jobcan_rows(draw: st.DrawFn) -> list[dict[str, str]]:
    n = draw(st.integers(0, 12))
    rows = []
    for i in range(n):
        doc = draw(st.sampled_from([f"D{i}", f"D{i // 2}", "D0", "", " D1 ", 'D"9', "D,7"]))
        row = sale(doc)
        for name in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=5, unique=True)):
            if name.endswith(("amt", "taxamt")):
                row[name] = draw(st.sampled_from(AMOUNTS))
            elif name == "date":
                row[name] = draw(st.sampled_from(DATES))
            elif name == "kind":
                row[name] = draw(st.sampled_from(KINDS))
            else:
                row[name] = draw(st.one_of(st.sampled_from(TEXTS), st.text(max_size=20)))
        rows.append(row)
    return rows


def _encode(text: str, encoding: str) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode("utf-8")  # a CP932 export with a character CP932 cannot hold: mixed encodings


MUTATIONS = [b'"', b"\x00", b"\x82", b"\x81", b"\xff", b",", b"\r", b"\n", b"\r\n", b'""', b"\xef\xbb\xbf", b"\t"]


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    rows = draw(jobcan_rows())
    header = list(HEADER)
    if draw(st.booleans()) and draw(st.booleans()):
        header = draw(st.permutations(header))  # columns in another order: read by name
    text = to_csv(rows, header)
    if rows and draw(st.integers(0, 9)) == 0:  # ragged: a record with fields missing or extra
        lines = text.split("\r\n")
        k = draw(st.integers(1, len(lines) - 2))
        lines[k] = lines[k] + draw(st.sampled_from([",x", ",,", ""])) if draw(st.booleans()) \
            else ",".join(lines[k].split(",")[:-draw(st.integers(1, 5))])
        text = "\r\n".join(lines)
    if draw(st.integers(0, 14)) == 0:  # a huge field, past csv's default 131,072-character limit
        text = text.replace("10月分", "長" * draw(st.sampled_from([40_000, 140_000])), 1)
    newline = draw(st.sampled_from(["\r\n", "\r\n", "\n", "\r"]))
    text = text.replace("\r\n", newline)
    encoding = draw(st.sampled_from(["cp932", "cp932", "utf-8", "utf-8-sig"]))
    data = _encode(text, encoding)
    if rows and draw(st.integers(0, 7)) == 0:  # mixed encodings: rows appended by another tool
        extra = to_csv([sale("MIX", memo="混在した文字コード")]).split("\r\n", 1)[1]
        data += _encode(extra, "utf-8" if encoding == "cp932" else "cp932")
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(data)))
        insert = draw(st.booleans())  # else truncate, possibly inside a CP932 or UTF-8 multibyte character
        data = data[:at] + draw(st.sampled_from(MUTATIONS)) + data[at:] if insert else data[:at]
    return data


# --------------------------------------------------------------------------- CSV tests


@pytest.mark.slow
@fuzz_settings("bytes")
@given(data=st.one_of(st.binary(max_size=3000),
                      st.binary(max_size=500).map(lambda b: to_csv([]).encode("cp932") + b),
                      st.binary(max_size=500).map(lambda b: to_csv([sale()]).encode("utf-8") + b)))
def test_random_bytes_never_crash(data: bytes, fuzz_dir: Path, mappings: Path) -> None:
    path = fuzz_dir / "random.csv"
    path.write_bytes(data)
    out = run_check([path], mappings, "bytes")
    assert_nothing_lost({path: csv_data_rows(data)}, out)


@pytest.mark.slow
@fuzz_settings("csv")
@given(data=csv_files())
def test_mangled_csv_exports_never_crash_and_lose_no_row(data: bytes, fuzz_dir: Path, mappings: Path) -> None:
    path = fuzz_dir / "mangled.csv"
    path.write_bytes(data)
    out = run_check([path], mappings, "csv")
    assert_nothing_lost({path: csv_data_rows(data)}, out)


# Each case below crashed the reader (an exception the CLI could only report as 内部エラー).
CSV_CASES: dict[str, Callable[[], bytes]] = {
    "unbalanced quote": lambda: to_csv([sale("A"), sale("B")]).replace("10月分", '"閉じない引用符', 1).encode("cp932"),
    "CR-only line endings (old Mac Excel)": lambda: to_csv([sale("A"), sale("B")]).replace("\r\n", "\r").encode(
        "cp932"),
    "bare CR inside an unquoted field": lambda: to_csv([sale("A"), sale("B")]).replace("10月分", "10月\r分", 1).encode(
        "cp932"),
    "field over 131,072 characters": lambda: to_csv([sale("A", memo="x" * 140_000), sale("B")]).encode("cp932"),
    "a header name twice (摘要 and 摘要)": lambda: to_csv([sale("A"), sale("B")]).replace("案件", "摘要", 1).encode(
        "cp932"),
    "a header name twice (取引日 twice)": lambda: to_csv([sale("A")], [*HEADER, "取引日"]).encode("cp932"),
}


@pytest.mark.parametrize("case", list(CSV_CASES))
def test_known_bad_csv_is_a_message_not_a_crash(case: str, fuzz_dir: Path, mappings: Path) -> None:
    data = CSV_CASES[case]()
    path = fuzz_dir / f"case-{abs(hash(case))}.csv"
    path.write_bytes(data)
    out = run_check([path], mappings, "csv cases")
    assert_nothing_lost({path: csv_data_rows(data)}, out)


def test_leading_blank_line_does_not_make_every_row_ragged(fuzz_dir: Path, mappings: Path) -> None:
    """A blank line above the header (some exports start with one): the header is the first non-blank
    record, so its width — not 0 — is what rows are compared with."""
    path = fuzz_dir / "blank-first.csv"
    path.write_bytes(("\r\n" + to_csv([sale("A"), sale("B")])).encode("cp932"))
    conversion = convert([path], mappings, Options())
    assert [p for p in conversion.problems if p.rule == "ragged_row"] == []
    assert sorted(set(conversion.lines["_row"])) == [3, 4]


@pytest.mark.parametrize("name", ["empty.csv", "header-only.csv", "latin1-garbage.bin.csv", "ragged.csv",
                                  "huge-memo.csv", "missing-column.csv", "formula.csv", "utf8-bom.csv",
                                  "normalise.csv", "serial-dates.xlsx"])
def test_the_bad_files_of_tests_data(name: str, mappings: Path) -> None:
    path = Path(__file__).parent / "data" / name
    out = run_check([path], mappings, "tests/data")
    if path.suffix == ".csv":
        assert_nothing_lost({path: csv_data_rows(path.read_bytes())}, out)


# --------------------------------------------------------------------------- output paths


@pytest.mark.parametrize("case", ["review into a missing folder", "review under a file", "payload dir is a file",
                                  "ledger under a file"])
def test_output_paths_that_cannot_be_written_give_a_message(case: str, tmp_path: Path, mappings: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A mistyped -o / --payload-dir / --ledger: the folder is made, or exit 2 with a message — never the
    内部エラー safety net, and never openpyxl's "Exception ignored … Traceback" on stderr."""
    monkeypatch.setenv("FX_API_TOKEN", "emulator-token")
    export = tmp_path / "in.csv"
    export.write_bytes(to_csv([sale()]).encode("cp932"))
    args = {
        "review into a missing folder": ["preview", export, "-o", tmp_path / "new" / "folder" / "review.xlsx"],
        "review under a file": ["preview", export, "-o", export / "review.xlsx"],
        "payload dir is a file": ["preview", export, "--payload-dir", export],
        "ledger under a file": ["upload", export, "--ledger", export / "l.sqlite", "--base-url", "http://127.0.0.1:9"],
    }[case]
    result = CliRunner().invoke(main, [*map(str, args), "-m", str(mappings)])
    text = result.stdout + result.stderr
    assert "Traceback" not in text and "内部エラー" not in text, text[-1500:]
    if result.exit_code == 2:
        assert "エラー: " in result.stderr, text  # (after upload's progress-bar label)
    else:
        assert result.exit_code in (0, 1) and case == "review into a missing folder", text
        assert (tmp_path / "new" / "folder" / "review.xlsx").exists()


# --------------------------------------------------------------------------- Excel

CellSpec = tuple[str, Any]  # (kind, value): literal | formula | error | blank


@st.composite
def xlsx_books(draw: st.DrawFn) -> tuple[Workbook, set[int]]:
    """A workbook whose first sheet is a jobcan export with Excel's own oddities; and its data rows."""
    rows = draw(jobcan_rows())
    wb = Workbook()
    ws = wb.active
    ws.title = "取引明細"
    ws.append(HEADER)
    written: list[list[Any]] = []
    for row in rows:
        named = {FIELDS[k]: v for k, v in row.items()}
        values: list[Any] = []
        for column in HEADER:
            text = named.get(column, "")
            kind = draw(st.sampled_from(["as is"] * 6 + ["typed", "formula", "error", "blank"]))
            if kind == "typed" and column == "取引日" and text[:4].isdigit() and len(text) >= 10:
                try:
                    day = dt.datetime.strptime(text[:10].replace("-", "/"), "%Y/%m/%d")
                    values.append(draw(st.sampled_from([day, (day - dt.datetime(1899, 12, 30)).days, text])))
                    continue
                except ValueError:
                    pass
            if kind == "typed" and text.replace(",", "").lstrip("-").isdigit():
                values.append(int(text.replace(",", "")) * draw(st.sampled_from([1, 1.0])))
            elif kind == "formula":
                values.append(draw(st.sampled_from(["=1+1", "=A1", "=SUM(L2:L3)", "=1/0"])))
            elif kind == "error":
                values.append(("error", draw(st.sampled_from(["#DIV/0!", "#N/A", "#REF!", "#VALUE!"]))))
            elif kind == "blank":
                values.append(None)
            else:
                text = ILLEGAL_CHARACTERS_RE.sub("", text)  # a cell cannot hold them: Excel never exports them
                values.append(text if text != "" else None)
        written.append(values)
        if draw(st.integers(0, 6)) == 0:
            written.append([None] * len(HEADER))  # a blank row in between
    for values in written:
        ws.append([v if not isinstance(v, tuple) else None for v in values])
    for r, values in enumerate(written, start=2):
        for c, v in enumerate(values, start=1):
            if isinstance(v, tuple):
                ws.cell(r, c).value = v[1]
                ws.cell(r, c).data_type = "e"
    if len(written) > 0 and draw(st.booleans()):  # merged cells, as people lay out a document's rows
        for _ in range(draw(st.integers(1, 3))):
            r = draw(st.integers(2, len(written) + 1))
            c = draw(st.integers(1, len(HEADER)))
            ws.merge_cells(start_row=r, start_column=c, end_row=min(r + draw(st.integers(0, 2)), len(written) + 1),
                           end_column=min(c + draw(st.integers(0, 1)), len(HEADER)))
    for name in draw(st.lists(st.sampled_from(["旧データ", "作業用", "Sheet2"]), max_size=2, unique=True)):
        extra = wb.create_sheet(name)  # hidden or visible sheets after the first: never read by default
        extra.append(HEADER)
        extra.append(["2026/10/01", "売上", "HIDDEN"])
        extra.sheet_state = draw(st.sampled_from(["hidden", "visible"]))
    data_rows = set()
    for r in range(2, ws.max_row + 1):
        if any(isinstance(c.value, (int, float, dt.datetime)) or (isinstance(c.value, str) and c.value != ""
               and not c.value.startswith("=") and c.data_type != "e") for c in ws[r]):
            data_rows.add(r)
    return wb, data_rows


@pytest.mark.slow
@fuzz_settings("xlsx")
@given(book=xlsx_books())
def test_excel_exports_never_crash_and_lose_no_row(book: tuple[Workbook, set[int]], fuzz_dir: Path,
                                                  mappings: Path) -> None:
    wb, rows = book
    path = fuzz_dir / "export.xlsx"
    wb.save(path)
    out = run_check([path], mappings, "xlsx")
    assert_nothing_lost({path: rows}, out)


def _sheet(wb: Workbook, title: str, docs: list[str]) -> None:
    ws = wb.create_sheet(title)
    ws.append(HEADER)
    for doc in docs:
        named = {FIELDS[k]: v for k, v in sale(doc).items()}
        ws.append([named.get(h, "") for h in HEADER])


def test_hidden_first_sheet_is_not_read_instead_of_the_visible_one(fuzz_dir: Path, mappings: Path) -> None:
    """An old, hidden sheet in front of the real one: reading it silently would post last month's
    document and drop this month's four."""
    wb = Workbook()
    wb.remove(wb.active)
    _sheet(wb, "旧データ", ["OLD-1"])
    _sheet(wb, "取引明細", ["V1", "V2", "V3", "V4"])
    wb["旧データ"].sheet_state = "hidden"
    wb.active = 1
    path = fuzz_dir / "hidden-first.xlsx"
    wb.save(path)
    try:
        conversion = convert([path], mappings, Options())
    except InputError as err:  # refusing, and saying why, is also fine
        assert "非表示" in str(err) or "旧データ" in str(err), err
        return
    assert sorted(conversion.documents["doc_no"]) == ["V1", "V2", "V3", "V4"]


@pytest.mark.parametrize("column,kind", [("借方部門", "error"), ("貸方消費税額", "error"), ("摘要", "error"),
                                         ("借方部門", "formula"), ("貸方消費税額", "formula")])
def test_excel_error_and_uncached_formula_cells_are_reported_not_blanked(column: str, kind: str, fuzz_dir: Path,
                                                                         mappings: Path) -> None:
    """#N/A from a failed VLOOKUP in 部門 (or a formula saved without its value) must not become an empty
    cell silently: the slip would go to FX without its department or tax amount."""
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    named = {FIELDS[k]: v for k, v in sale("E1", dr_dep="営業部").items()}
    ws.append([named.get(h, "") for h in HEADER])
    cell = ws.cell(2, HEADER.index(column) + 1)
    if kind == "error":
        cell.value, cell.data_type = "#N/A", "e"
    else:
        cell.value = "=VLOOKUP(A2,Sheet2!A:B,2,FALSE)"
    path = fuzz_dir / f"cell-{kind}.xlsx"
    wb.save(path)
    conversion = convert([path], mappings, Options())
    hits = [p for p in conversion.problems if p.row == 2 and ("#N/A" in p.value + p.message or "数式" in p.message)]
    assert hits, f"{kind} cell in {column} was read as empty without a word: {conversion.problems}"


def test_excel_dates_as_text_serials_and_cells(fuzz_dir: Path, mappings: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    dates: list[Any] = [dt.datetime(2026, 10, 1), 46296, "2026/10/01", "46296", dt.date(2026, 10, 1), "2026-10-01"]
    for i, day in enumerate(dates):
        named = {FIELDS[k]: v for k, v in sale(f"T{i}").items()}
        ws.append([day if h == "取引日" else named.get(h, "") for h in HEADER])
    path = fuzz_dir / "dates.xlsx"
    wb.save(path)
    conversion = convert([path], mappings, Options())
    assert conversion.ok, conversion.problems
    assert set(conversion.documents["date"]) == {"2026-10-01"}


# --------------------------------------------------------------------------- the normaliser


@fuzz_settings("normalise")
@given(values=st.lists(st.one_of(st.sampled_from(AMOUNTS + DATES), st.text(max_size=30),
                                 st.text(alphabet=string.digits + ",.-()▲△¥円 　０１２３４５６７８９，", max_size=20)),
                       max_size=30))
def test_normaliser_parses_or_flags_every_value(values: list[str]) -> None:
    import pandas as pd

    TRIED["normalise"] += 1
    raw = pd.Series(values, dtype=object)
    amounts, bad = to_amount(raw)
    # A value with a letter or digit in it (円 aside: a unit) is never taken for an empty cell.
    content = raw.str.replace("円", "").str.contains(r"\w", regex=True)
    assert (amounts.notna() | bad | ~content).all()  # each value: a number, a problem, or really empty
    assert not (amounts.notna() & bad).any()
    assert (amounts.dropna().abs() <= 99_999_999_999).all()
    dates, bad_dates = to_date(raw, load_profile("jobcan").date_format)
    assert (dates.notna() | bad_dates | ~content).all()


# --------------------------------------------------------------------------- mapping YAML

KEY_SNIPPETS = ["account", "sub_account", "cd_act", "cd_auxact", "name", "tax", "tptn", "cmtxrate",
                "is_reduce_cmtxrate", "cat_purday", "department", "cd_dep", "customer", "customer_code", "cd_cstm",
                "unknown_key", "1", "~", "true", "2026-10-01", "[1, 2]", "{a: 1}", '"cd_act"']
VALUE_SNIPPETS = ['"4111"', "4111", '"411"', '"41111"', '"001"', "001", "1", "1000", "1000.0", "-1", "true", "~",
                  '""', "売上高", "[a, b]", "{x: 1}", "2026-10-01", ".nan", '"A1"', '"000001"', "!!binary aGVsbG8=",
                  "&anchor x", "*anchor", "'unclosed", "{", "]"]
TABLE_FILES = ["accounts.yaml", "tax.yaml", "departments.yaml", "customers.yaml"]


@st.composite
def mapping_yaml(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        pairs = draw(st.lists(st.tuples(st.sampled_from(KEY_SNIPPETS), st.sampled_from(VALUE_SNIPPETS)),
                              min_size=0, max_size=5))
        if draw(st.booleans()):
            lines.append("- {" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}")
        else:
            lines.append("-" + "".join(f"\n  {k}: {v}" for k, v in pairs) if pairs else "- ")
    text = "\n".join(lines) + "\n"
    if draw(st.integers(0, 5)) == 0:
        text = draw(st.text(max_size=200))
    return text


@pytest.mark.slow
@fuzz_settings("yaml")
@given(table=st.sampled_from(TABLE_FILES), text=mapping_yaml())
def test_mapping_yaml_fuzz_gives_one_config_message(table: str, text: str, fuzz_dir: Path) -> None:
    folder = make_mappings(fuzz_dir / "fuzz-mappings")
    (folder / table).write_text(text, "utf-8")
    try:
        load_mappings(folder)
    except ConfigError as err:
        assert err.problems and all(p.strip() for p in err.problems)
    # and through the CLI: exit 0/1 (the table was fine) or 2 with the message on stderr
    sample = fuzz_dir / "one.csv"
    sample.write_bytes(to_csv([sale()]).encode("cp932"))
    out = run_check([sample], folder, "yaml")
    if out.exit_code == 2:
        assert "設定ファイルに問題があります" in out.stderr or "エラー" in out.stderr


YAML_CRASHES = {
    "a numeric key next to text keys": '- {account: 売上高, cd_act: "4111", 1: x, foo: y}\n',
    "a null key next to text keys": '- {account: 売上高, cd_act: "4111", ~: x, foo: y}\n',
    "a list as a key": "- {[1, 2]: a, account: 売上高, cd_act: \"4111\"}\n",
    "a mapping as a key": "- {{a: 1}: b}\n",
}


@pytest.mark.parametrize("case", list(YAML_CRASHES))
def test_odd_yaml_keys_are_config_problems(case: str, fuzz_dir: Path) -> None:
    folder = make_mappings(fuzz_dir / f"odd-{abs(hash(case))}")
    (folder / "accounts.yaml").write_text(YAML_CRASHES[case], "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_mappings(folder)
    assert "accounts.yaml" in str(caught.value) and "1行" in str(caught.value)


def test_settings_with_odd_keys_is_a_config_problem(fuzz_dir: Path) -> None:
    folder = make_mappings(fuzz_dir / "odd-settings")
    settings_file = folder / "settings.yaml"
    settings_file.write_text(settings_file.read_text("utf-8") + "1: x\n", "utf-8")
    with pytest.raises(ConfigError, match=r"settings\.yaml"):
        convert([fuzz_dir / "none.csv"], folder, Options())


def test_every_mapping_problem_in_one_message(fuzz_dir: Path, tmp_path: Path) -> None:
    """Malformed YAML, duplicate keys, wrong types and codes of the wrong length, spread over every
    file of the folder: one run, one message, every problem named with its file and line."""
    folder = make_mappings(tmp_path / "m")
    (folder / "accounts.yaml").write_text(
        '- {account: 売上高, cd_act: "411"}\n'          # code of the wrong length
        '- {account: 売掛金, cd_act: 1161}\n'            # a number, not a quoted code
        '- {account: 仕入高, account: 仕入, cd_act: "5211"}\n'  # a key twice in one entry
        '- {account: 売上高, cd_act: "4111"}\n', "utf-8")  # the same account twice
    (folder / "tax.yaml").write_text('- {tax: 課税売上10%, tptn: "1", cmtxrate: "1000"}\n', "utf-8")  # wrong type
    (folder / "departments.yaml").write_text('- {department: 営業部, cd_dep: "0001"\n', "utf-8")  # malformed
    (folder / "customers.yaml").write_text('- {customer_code: C-001, cd_cstm: "1"}\n', "utf-8")  # wrong length
    sample = tmp_path / "in.csv"
    sample.write_bytes(to_csv([sale()]).encode("cp932"))
    result = CliRunner().invoke(main, ["check", str(sample), "-m", str(folder)])
    assert result.exit_code == 2
    message = result.stderr
    assert "Traceback" not in message and "内部エラー" not in message
    for expected in ("accounts.yaml:1行", "'411'", "accounts.yaml:2行", 'cd_act: "1161"', "キー 'account' が重複",
                     "accounts.yaml:4行", "tax.yaml:1行", "cmtxrate", "departments.yaml", "customers.yaml:1行",
                     "cd_cstm"):
        assert expected in message, f"{expected!r} missing from the one message:\n{message}"
    assert message.count("エラー:") == 1, message


def test_settings_and_mapping_problems_in_the_same_message(tmp_path: Path) -> None:
    """settings.yaml sits in the same folder: its problems and the tables' come in one message, so one
    round of fixing is enough (today a settings problem hides every table problem until it is fixed)."""
    folder = make_mappings(tmp_path / "m")
    settings_file = folder / "settings.yaml"
    settings_file.write_text(settings_file.read_text("utf-8").replace("cd_coopsystem: EX", "cd_coopsystem: EXX"),
                             "utf-8")
    (folder / "accounts.yaml").write_text('- {account: 売上高, cd_act: "411"}\n', "utf-8")
    sample = tmp_path / "in.csv"
    sample.write_bytes(to_csv([sale()]).encode("cp932"))
    result = CliRunner().invoke(main, ["check", str(sample), "-m", str(folder)])
    assert result.exit_code == 2
    assert "cd_coopsystem" in result.stderr and "accounts.yaml:1行" in result.stderr, result.stderr


def test_yaml_text_fuzz_never_escapes_as_another_error(fuzz_dir: Path) -> None:
    """Non-UTF-8 bytes and deeply nested YAML in a table: a ConfigError, nothing else."""
    folder = make_mappings(fuzz_dir / "bytes-mappings")
    for blob in (b"\xff\xfe- {account: x}", b"- " + b"[" * 5000 + b"]" * 5000, b"\x00\x01", b"- {a: *x}"):
        (folder / "accounts.yaml").write_bytes(blob)
        TRIED["yaml"] += 1
        with pytest.raises(ConfigError):
            load_mappings(folder)
    assert yaml.__version__
