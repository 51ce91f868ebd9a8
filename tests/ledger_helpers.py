"""What the ledger's test modules share: the company, a document, the statuses."""

from __future__ import annotations

from converter.ledger import DocumentInfo, Ledger

OCODE = "12345"


def doc(key: str, content_hash: str = "h1", amount: int = 1000) -> DocumentInfo:
    return DocumentInfo(key=key, content_hash=content_hash, kind="売上", doc_no=key,
                        ymd="20240131", amount=amount)


def statuses(led: Ledger) -> dict[str, str]:
    return {r.key: r.status for r in led.documents()}

