"""Packaging: the built wheel holds the code and its data files, and building says nothing alarming.

The wheel is built the way ``pip install`` builds the project (PEP 517, isolated: the build backend
pyproject.toml asks for), verbosely, so that every setuptools warning would be in the output —
the same package discovery a fresh ``pip install -e .`` runs.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

#: Files the package reads at run time besides its modules (importlib.resources / Path(__file__)).
DATA_FILES = {
    "converter/config/profiles/jobcan.yaml",
    "converter/config/profiles/yayoi.yaml",
    "converter/emulator/data/emulator_seed.json",
}


@pytest.mark.slow
def test_wheel_holds_the_data_files_and_the_build_warns_of_nothing(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "--wheel-dir", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, check=False, timeout=300)
    output = build.stdout + build.stderr
    assert build.returncode == 0, output[-3000:]
    warnings = [line for line in output.splitlines()
                if re.search(r"warning|would be ignored|not in .packages.|deprecat", line, re.I)
                and "pip" not in line.split(":")[0]  # pip's own notices are not the package's
                and "byte-compiling is disabled" not in line]  # PYTHONDONTWRITEBYTECODE: this machine's
    assert warnings == [], "\n".join(warnings)

    wheel, = tmp_path.glob("jobcan_fx_converter-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert names >= DATA_FILES, DATA_FILES - names
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "converter").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    # nothing of the repository's own: no tests, samples, mappings or scripts in what users install
    assert not {n for n in names if n.split("/")[0] in ("tests", "samples", "mappings", "scripts", "bench")}
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "converter = converter.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_every_data_file_the_package_ships_is_declared() -> None:
    """A data file added under converter/ without a package-data glob would be missing from the wheel."""
    shipped = {str(p.relative_to(ROOT)) for p in (ROOT / "converter").rglob("*")
               if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}
    assert shipped == DATA_FILES
