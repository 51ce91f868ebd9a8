"""What the ledger's test modules share: the company, a document, the statuses and the fixtures
``path`` (an empty ledger, created) and ``ledger`` (open there, locked)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from converter.ledger.ledger import DocumentInfo, Ledger

OCODE = "12345"


def doc(key: str, content_hash: str = "h1", amount: int = 1000) -> DocumentInfo:
    return DocumentInfo(key=key, content_hash=content_hash, kind="売上", doc_no=key,
                        ymd="20240131", amount=amount)


def statuses(led: Ledger) -> dict[str, str]:
    return {r.key: r.status for r in led.documents()}


@pytest.fixture(name="path")
def path_fixture(tmp_path: Path) -> Path:
    """An empty ledger, created as ``converter ledger init`` does (never implicitly)."""
    return new_ledger(tmp_path / "ledgers" / f"{OCODE}.sqlite")


@pytest.fixture(name="ledger")
def ledger_fixture(path: Path) -> Iterator[Ledger]:
    with Ledger.open(path, ocode=OCODE, operator="tester", lock=True) as led:
        yield led


def new_ledger(path: Path, ocode: str = OCODE) -> Path:
    """Create an empty ledger at ``path`` for ``ocode`` (what ``converter ledger init`` does) and
    return the path. Tests that upload call this first: ledgers are never created implicitly."""
    Ledger.create(path, ocode=ocode)
    return path
