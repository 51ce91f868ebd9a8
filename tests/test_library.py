"""The public library API (``import converter``): the README's example runs, names load lazily,
``preview`` reproduces what ``converter preview`` says about the ledger."""

from __future__ import annotations

import doctest
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MAPPINGS, ROOT, SAMPLES, WriteCsv, sale
from ledger_helpers import new_ledger

import converter
from converter.emulator.server import Emulator


def readme_examples() -> str:
    """The ```python blocks of the README's "Library use" section, as one doctest text."""
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("\n## Library use\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(re.findall(r"```python\n(.*?)```", section, flags=re.S))


def test_readme_library_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # In a copy of what the example reads: no ledgers/ folder from a demo run changes its answers.
    (tmp_path / "samples").mkdir()
    for name in ("jobcan-2026-10.csv", "broken-2026-10.csv"):
        shutil.copy(SAMPLES / name, tmp_path / "samples" / name)
    shutil.copytree(MAPPINGS, tmp_path / "mappings")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FX_API_TOKEN", "restored after the test")  # the example sets its own
    text = readme_examples()
    test = doctest.DocTestParser().get_doctest(text, {}, "README.md: Library use", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
    assert len(test.examples) >= 15  # the example was found (a broken split would run nothing)


def test_public_names_are_the_library_objects() -> None:
    from converter.convert.pipeline import Conversion, Options, convert
    from converter.errors import Problem
    from converter.ledger.ledger import Ledger
    from converter.review.workbook import write_review
    from converter.sync.preview import preview
    from converter.sync.upload import upload_files

    assert converter.convert is convert and converter.Options is Options and converter.Conversion is Conversion
    assert converter.Problem is Problem and converter.Ledger is Ledger and converter.write_review is write_review
    assert converter.preview is preview and converter.upload is upload_files
    assert converter.errors.ConverterError.__module__ == "converter.errors"
    assert set(converter.__all__) <= set(dir(converter))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        converter.nothing  # noqa: B018


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_converter_and_the_emulator_stay_light() -> None:
    """``import converter`` loads no stage; the emulator (independent of the converter) no pandas."""
    loaded = _run("import sys, converter, converter.emulator.server\n"
                  "print(sorted(m for m in ('pandas', 'httpx', 'openpyxl', 'converter.convert.pipeline')"
                  " if m in sys.modules))")
    assert loaded == "['httpx']"  # the emulator's in-process transport is an httpx one


def test_convert_is_the_function_however_the_stage_package_was_imported_first() -> None:
    # A subpackage import binds its name on the parent: ``convert`` must stay the library function.
    assert _run("import converter.convert.pipeline, converter; print(callable(converter.convert))") == "True"
    assert _run("from converter.convert import pipeline\nfrom converter import convert\n"
                "print(convert is pipeline.convert)") == "True"


def test_preview_compares_with_the_ledger_read_only(write_csv: WriteCsv, mappings: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", "emulator-token")
    rows = [sale("A", 11000, 1000), sale("B", 22000, 2000)]
    first = converter.preview([write_csv(rows)], mappings)
    assert first.ok and first.status is None and first.ledger == tmp_path / "ledgers" / "tc09999001.sqlite"
    assert not first.changes and first.correction_rows() is None

    ledger = new_ledger(tmp_path / "ledgers" / "tc09999001.sqlite", "tc09999001")
    converter.upload([write_csv(rows)], mappings, converter.Options(), transport=Emulator().transport())
    before = ledger.read_bytes()
    rows[0] = sale("A", 12100, 1100)
    again = converter.preview([write_csv(rows, name="edited.csv")], mappings)
    assert again.status is not None and again.status.changed == ("売上|A",) and again.changes
    assert again.correction_rows() == [
        ("変更あり", "売上|A", "連携後に内容が変わりました。--corrections で取消仕訳と訂正後の仕訳を送れます")]
    assert ledger.read_bytes() == before  # nothing written


def test_upload_with_problems_sends_nothing(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    emulator = Emulator()
    ledger = new_ledger(tmp_path / "l.sqlite", "tc09999001")
    with pytest.raises(converter.errors.ProblemsFound) as raised:
        converter.upload([write_csv([sale("A", dr="未登録科目")])], mappings, converter.Options(),
                         ledger_path=ledger, transport=emulator.transport())
    assert [p.rule for p in raised.value.problems] == ["unmapped"]
    assert emulator.stored_slips() == []
