"""Plain-text tables for a terminal: columns aligned by display width (full-width = 2 columns)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Literal

Align = Literal["<", ">"]


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal: East Asian wide and full-width characters take 2,
    combining marks 0, everything else 1."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)


def pad(text: str, columns: int, align: Align = "<") -> str:
    fill = " " * max(columns - width(text), 0)
    return text + fill if align == "<" else fill + text


def table(header: Sequence[str], rows: Sequence[Sequence[str]], aligns: Sequence[Align],
          notes: Sequence[str | None] | None = None, indent: int = 2) -> list[str]:
    """The lines of a table; the last column is not padded. ``notes[i]``: a line shown under row
    ``i`` (indented by ``indent``), e.g. its message."""
    widths = [max([width(h)] + [width(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        padded = [pad(c, widths[i], aligns[i]) for i, c in enumerate(cells[:-1])]
        return "  ".join([*padded, cells[-1]]).rstrip()

    out = [line(header)]
    for i, row in enumerate(rows):
        out.append(line(row))
        note = notes[i] if notes else None
        if note:
            out += [" " * indent + part for part in note.splitlines()]
    return out
