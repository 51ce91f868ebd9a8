"""Every key format of the converter, in one place: document, correction and slip keys.

A *document key* names one source document in the ledger. Its identity depends on the profile
(:data:`Identity`):

* ``kind_no`` — 取引種別 | 帳票番号 (``売上|INV-1``). Jobcan numbers every 帳票 once; its date is
  content, so a re-dated document is the same document changed (変更あり), not a new one.
* ``kind_no_date`` — 取引種別 | 番号 | 取引日 (``弥生|12|2026-10-02``), for sources whose numbers
  can repeat: a 弥生 file may leave 伝票No empty (the number is then the 伝票's position in the
  file) and 弥生 numbers 伝票 per 会計年度.

A *correction key* is the source document's key + ``|取消n`` (reversal) or ``|訂正n``
(replacement); a *slip key* is the document key + ``#part`` (a document split into several
slips). Keys are joined with ``|``: a ``|`` inside a 取引種別 or 帳票番号 can make two documents
share a key text, which the grouping stage checks (the key text decides).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal, TypeVar, get_args

import numpy as np
import pandas as pd

Identity = Literal["kind_no", "kind_no_date"]
IDENTITIES: Final[tuple[str, ...]] = get_args(Identity)
#: The identity of ledgers written by this release (meta ``identity``); older ledgers lack it.
LEDGER_IDENTITY: Final = "kind_no"
#: The 取引種別 of documents whose key keeps the date (the built-in yayoi profile's
#: ``default_kind``: a test checks they agree). Upgrading a ledger of an earlier release keeps
#: their keys as they are; every other document key loses its date.
DATED_KINDS: Final = frozenset({"弥生"})

#: What a correction key's slips do: reverse the document as sent (取消) or replace it (訂正).
CorrectionRole = Literal["reversal", "replacement"]

SEP: Final = "|"
REVERSAL: Final = "取消"
REPLACEMENT: Final = "訂正"
SLIP_SEP: Final = "#"
_CORRECTION = re.compile(rf"\{SEP}({REVERSAL}|{REPLACEMENT})(\d+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def document_key(kind: str, doc_no: str, ymd: str = "", *, identity: Identity = "kind_no") -> str:
    """A document's ledger key: ``kind|doc_no`` (``kind|doc_no|ymd`` for ``kind_no_date``)."""
    return f"{kind}{SEP}{doc_no}" + (f"{SEP}{ymd}" if identity == "kind_no_date" else "")


#: A column of key parts: a Series, or a numpy object array of str (one value per document).
Parts = TypeVar("Parts", pd.Series, np.ndarray)


def document_keys(kind: Parts, doc_no: Parts, date: Parts | None) -> Parts:
    """:func:`document_key` of every row (``date`` None: ``kind_no``), vectorised."""
    keys: Parts = kind + SEP + doc_no
    if date is not None:
        keys = keys + SEP + date
    return keys


def can_share_key(parts: Iterable[object]) -> bool:
    """Whether two different documents could get the same key text from these 取引種別 (or 取引日)
    values: one holds the separator ``|`` (``a|b`` + ``c`` and ``a`` + ``b|c`` both give ``a|b|c``),
    or is not text at all. Fast paths that number documents by their parts must then fall back to
    the key text, which decides."""
    return any(not isinstance(p, str) or SEP in p for p in parts)


def dated_key(kind: str, doc_no: str, ymd: str) -> str:
    """The key an earlier release gave every document (取引種別 | 帳票番号 | 取引日)."""
    return document_key(kind, doc_no, ymd, identity="kind_no_date")


def correction_key(parent: str, role: CorrectionRole, number: int) -> str:
    """``parent|取消n`` or ``parent|訂正n``: the n-th correction group of document ``parent``."""
    return f"{parent}{SEP}{REVERSAL if role == 'reversal' else REPLACEMENT}{number}"


def correction_number(key: str) -> int:
    """n of a correction key (``…|取消n`` / ``…|訂正n``); 0 for any other key."""
    found = _CORRECTION.search(key)
    return int(found[2]) if found else 0


def document_of(key: str) -> str:
    """The source document's key of a correction key (``売上|A|取消1`` → ``売上|A``); any other key itself."""
    found = _CORRECTION.search(key)
    return key[:found.start()] if found else key


def slip_key(doc: str, part: int) -> str:
    """``doc#part``: the ``part``-th slip (from 0) of document ``doc``."""
    return f"{doc}{SLIP_SEP}{part}"


def slip_keys(docs: Parts, parts: Parts | int) -> Parts:
    """:func:`slip_key` of every line (or document), vectorised; ``parts`` one number for all."""
    suffix: Parts | str
    if isinstance(parts, int):
        suffix = f"{SLIP_SEP}{parts}"
    else:
        suffix = SLIP_SEP + (parts.astype(str) if isinstance(parts, pd.Series) else parts.astype(str).astype(object))
    built: Parts = docs + suffix
    return built


def slip_document(key: str) -> str:
    """The document key of a slip key."""
    return key.rsplit(SLIP_SEP, 1)[0]


def doc_no(key: str) -> str:
    """The 帳票番号 of a document or correction key, for display; a text that is no key (no ``|``:
    e.g. a request-level answer) is shown as it is."""
    return parse(key).doc_no if SEP in key else key


@dataclass(frozen=True)
class KeyParts:
    """What a key says, for display: 取引種別, 帳票番号, 取引日 ("" when not in the key) and the
    correction (``取消1``…, "" for the document itself)."""

    kind: str
    doc_no: str
    ymd: str = ""
    correction: str = ""


def parse(key: str) -> KeyParts:
    """The parts of a document or correction key (a ``|`` inside a part cannot be told apart:
    the first part is the 取引種別, the rest up to an optional date the 帳票番号)."""
    correction = ""
    found = _CORRECTION.search(key)
    if found:
        correction, key = found[1] + found[2], key[:found.start()]
    kind, _, rest = key.partition(SEP)
    head, _, last = rest.rpartition(SEP)
    if head and _DATE.match(last):
        return KeyParts(kind, head, last, correction)
    return KeyParts(kind, rest, "", correction)
