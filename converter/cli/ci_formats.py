"""Reports for CI systems: GitHub Actions workflow commands and JUnit XML.

Both render the same :class:`~converter.errors.Problem` lists the text and JSON reports show, so a
problem has one position everywhere: the export file and its row (as Excel shows it) for a data
problem, the YAML file, line and column for a mapping problem. Rendering only: returns text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Literal

from converter.errors import Problem

Format = Literal["text", "json", "github", "junit"]
FORMATS: tuple[Format, ...] = ("text", "json", "github", "junit")
Level = Literal["error", "warning", "notice"]


def _data(text: str) -> str:
    """Escape a workflow command's message (GitHub's rules: %, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """Escape a workflow command's property value (also ':' and ',')."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def describe(p: Problem) -> str:
    """The problem's text without its file/row (those are the annotation's position)."""
    column = f"[{p.column}] " if p.column else ""
    value = f"値「{p.value}」: " if p.value else ""
    return f"{column}{value}{p.message}"


def annotation(level: Level, p: Problem) -> str:
    """One workflow command: ``::error file=…,line=…,col=…,title=…::message``."""
    props = [f"file={_property(p.file)}"] if p.file else []
    if p.row is not None:
        props.append(f"line={p.row}")
        if p.col is not None:
            props.append(f"col={p.col}")
    props.append(f"title={_property(p.rule)}")
    return f"::{level} {','.join(props)}::{_data(describe(p))}"


def github(problems: Sequence[Problem], notices: Sequence[Problem] = (), unchecked: Problem | None = None) -> str:
    """Every problem as ``::error``, every お知らせ as ``::notice``, what was not checked as ``::warning``."""
    lines = [annotation("error", p) for p in problems]
    lines += [annotation("notice", n) for n in notices]
    if unchecked is not None:
        lines.append(annotation("warning", unchecked))
    return "\n".join(lines)


def junit(suite: str, files: Iterable[str], problems: Sequence[Problem]) -> str:
    """JUnit XML: one test case per file (every file checked, also the clean ones), one
    ``<failure>`` per problem of that file (type = rule id)."""
    names = list(dict.fromkeys([*files, *(p.file for p in problems)]))
    by_file: dict[str, list[Problem]] = {name: [] for name in names}
    for p in problems:
        by_file[p.file].append(p)
    root = ET.Element("testsuites", name="converter", tests=str(len(names)), failures=str(len(problems)))
    node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(names)), failures=str(len(problems)),
                         errors="0", skipped="0")
    for name in names:
        case = ET.SubElement(node, "testcase", classname=suite, name=name or suite, file=name)
        for p in by_file[name]:
            failure = ET.SubElement(case, "failure", message=describe(p), type=p.rule)
            value = f"値「{p.value}」: " if p.value else ""
            failure.text = f"{p.location()}: {value}{p.message}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
