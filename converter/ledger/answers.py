"""FX's messages on a request's documents, as the ledger keeps them: column by column.

A request draws ~1000 みなし informations (one per slip without a master cache). Turning each
document's into text and storing the texts cost more CPU than the rest of the answer's handling;
kept as columns — integers packed, each repeated text once — they are stored in one pass, and a
document's text is made only when it is read.
"""

from __future__ import annotations

import json
import sys
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_ENCODE = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode  # json.dumps(..., ensure_ascii=False)
_COLUMNS = ("pos", "kind", "content", "lineno", "is_ocr_dc", "file", "row")
_TABLED = ("kind", "content", "file")  # texts that repeat: stored once each, the column as indexes


@dataclass(frozen=True)
class Answers:
    """Message ``i`` is about the document at position ``pos[i]`` of the keys it comes with, and
    traced to row ``row[i]`` of export ``file[i]``.

    A document's message text (``last_message``, the history line) is ``json.dumps`` of its messages
    in order as ``[{"kind", "content", "lineno", "is_ocr_dc", "source"}, ...]`` (ensure_ascii=False;
    ``source`` is ``file:row``, or empty without a row).
    """

    pos: list[int]
    kind: list[str]
    content: list[str]
    lineno: list[Any]  # as FX gave them (ints or nothing, in practice)
    is_ocr_dc: list[Any]
    file: list[str]
    row: list[int | None]

    def encode(self) -> bytes:
        """Stored form: a JSON head (the text tables, columns of one repeated value, any column
        not all integers) followed by the other columns as little-endian int64, deflated."""
        n = len(self.pos)
        head: dict[str, Any] = {"n": n, "same": {}, "packed": []}
        packed: list[array[int]] = []
        for name in _COLUMNS:
            column: list[Any] = getattr(self, name)
            if name in _TABLED:
                head[name + "s"], column = _tabled(column)
            if n and column.count(column[0]) == n:  # the usual case for all but pos and row
                head["same"][name] = column[0]
                continue
            if set(map(type, column)) <= {int}:
                try:
                    packed.append(array("q", column))
                except OverflowError:  # beyond int64: kept as JSON
                    pass
                else:
                    head["packed"].append(name)
                    continue
            head[name] = column
        text = _ENCODE(head).encode("utf-8")
        if sys.byteorder != "little":
            for ints in packed:
                ints.byteswap()
        return deflate(len(text).to_bytes(4, "little") + text + b"".join(ints.tobytes() for ints in packed))

    @classmethod
    def decode(cls, data: bytes) -> Answers:
        raw = inflate(data)
        size = int.from_bytes(raw[:4], "little")
        head = json.loads(raw[4:4 + size])
        at, n = 4 + size, head["n"]
        for name, value in head["same"].items():
            head[name] = [value] * n
        for name in head["packed"]:
            column = array("q")
            column.frombytes(raw[at:at + 8 * n])
            if sys.byteorder != "little":
                column.byteswap()
            head[name] = column.tolist()
            at += 8 * n
        for name in _TABLED:
            table = head[name + "s"]
            head[name] = [table[i] for i in head[name]]
        return cls(*(head[name] for name in _COLUMNS))

    def by_position(self) -> dict[int, list[int]]:
        """The messages of each document position, in order."""
        found: dict[int, list[int]] = {}
        for i, pos in enumerate(self.pos):
            found.setdefault(pos, []).append(i)
        return found

    def text(self, messages: Sequence[int]) -> str:
        return _ENCODE([{"kind": self.kind[i], "content": self.content[i], "lineno": self.lineno[i],
                         "is_ocr_dc": self.is_ocr_dc[i],
                         "source": f"{self.file[i]}:{self.row[i]}" if self.row[i] else ""} for i in messages])

    def texts(self, keys: Sequence[str]) -> dict[str, str]:
        """Each document's text, by key (documents without a message are left out)."""
        return {keys[pos]: self.text(messages) for pos, messages in self.by_position().items()}


def _tabled(values: list[Any]) -> tuple[list[Any], list[int]]:
    """A column of repeated texts as (each text once, the index of each value)."""
    table = list(dict.fromkeys(values))
    if len(table) == 1:  # the usual case: one sentence, one export file
        return table, [0] * len(values)
    index = {value: i for i, value in enumerate(table)}
    return table, [index[v] for v in values]


def deflate(data: bytes) -> bytes:
    """Raw deflate at the fastest level (no zlib header or checksum: SQLite checks its pages)."""
    packer = zlib.compressobj(1, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def inflate(data: bytes) -> bytes:
    return zlib.decompress(data, -15)
