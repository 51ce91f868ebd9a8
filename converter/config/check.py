"""``converter mappings check``: the mappings folder alone, without an export.

Runs the very loaders a conversion runs — :func:`converter.config.settings.load_settings`,
:func:`converter.config.tables.load_mappings`, :func:`converter.config.settings.load_profile` for every profile in
``MAPPINGS/profiles/`` — and turns their ConfigError problems (which know their YAML line and
column) into :class:`Problem` rows for the text, JSON, GitHub and JUnit reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from converter.config.settings import Settings, load_profile, load_settings
from converter.config.tables import TABLES, Mappings, load_mappings
from converter.convert.masters_check import unchecked_without_masters
from converter.errors import ConfigError, ConfigProblem, InputError, Problem
from converter.fx.masters import load_masters


@dataclass(frozen=True)
class MappingsReport:
    folder: Path
    files: tuple[str, ...]  # every file checked, in order
    problems: list[Problem]
    notices: list[Problem]
    unchecked: Problem | None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> dict[str, int]:
        return {"files": len(self.files), "problems": len(self.problems), "notices": len(self.notices)}


def config_problems(err: ConfigError) -> list[Problem]:
    """ConfigError's problems as Problem rows: row = YAML line, col = YAML column (where known)."""
    found = []
    for p in err.problems:
        if isinstance(p, ConfigProblem):
            found.append(Problem(p.file or err.file, p.line, "", "", p.rule, p.message, col=p.col))
        else:
            found.append(Problem(err.file, None, "", "", "mapping", str(p)))
    return found


def error_problems(err: ConfigError | InputError) -> list[Problem]:
    """What stopped a run before any check, as Problem rows (CI formats report them like findings)."""
    if isinstance(err, ConfigError):
        return config_problems(err)
    return [Problem(err.file, err.row, "", "", "input", str(err))]


def check_mappings(folder: Path, *, use_masters: bool = True) -> MappingsReport:
    """Every problem of the settings, tables and profiles in ``folder`` (and, with the FX master
    cache, of their codes against FX). Raises ConfigError only when the folder itself is missing."""
    if not folder.is_dir():
        raise ConfigError(str(folder), ["マッピングのフォルダがありません (-m でフォルダを指定してください)"])
    profiles = sorted((folder / "profiles").glob("*.yaml"))
    files = [folder / "settings.yaml", *(folder / f"{t}.yaml" for t in TABLES if (folder / f"{t}.yaml").is_file()),
             *profiles]
    problems: list[Problem] = []
    settings: Settings | None = None
    tables: Mappings | None = None
    try:
        settings = load_settings(folder)
    except ConfigError as err:
        problems += config_problems(err)
    try:
        tables = load_mappings(folder)
    except ConfigError as err:
        problems += config_problems(err)
    for path in profiles:
        try:
            load_profile(path.stem, folder)
        except ConfigError as err:
            problems += config_problems(err)
    notices: list[Problem] = []
    unchecked = None
    if settings is not None:
        masters = load_masters(folder, settings) if use_masters else None
        if masters is None:
            unchecked = unchecked_without_masters(folder, settings, wanted=use_masters)
        elif tables is not None:
            from converter.convert.masters_tables import check_tables

            found, notes = check_tables(tables, masters, settings)
            problems += found
            notices += notes
    return MappingsReport(folder, tuple(map(str, files)), problems, notices, unchecked)
