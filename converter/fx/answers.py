"""FX's answers as the converter keeps them: one message traced back to its document and row.

A neutral home, free of httpx, the ledger and the upload loop: the review workbook, the reports
and the upload all read :class:`FXMessage` and :class:`RequestAnswer`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class MessageKind(StrEnum):
    """What an FX message is: an ``error`` (the request was rejected) or a みなし ``information``
    (the slip was stored as FX amended it). The values are FX's own words and are stored as such."""

    ERROR = "error"
    INFORMATION = "information"


class FXMessage(NamedTuple):
    """One error or みなし information from FX, traced back to the document and source row.

    A named tuple: an upload without a master cache draws one みなし information per slip (~10⁶ a
    month), each made while the request waits for its ``done`` commit.
    """

    doc: str
    doc_no: str
    journo_read: int
    kind: MessageKind
    content: str
    groupno: int | None = None
    lineno: int | None = None
    is_ocr_dc: int | None = None
    file: str = ""
    row: int | None = None


class RequestAnswer(NamedTuple):
    """What FX answered one request of a run (the review workbook's FX応答 sheet lists each).

    ``outcome`` as :class:`~converter.fx.client.ImportResult` has it: stored (201), rejected (400),
    ambiguous (no answer after sending, or an undocumented status: 要確認), not_sent (FX surely
    stored nothing: connect error, 503/429 after the retries). ``messages``: the slice of the
    report's messages that belong to this request."""

    number: int  # 1, 2, … within the run
    outcome: str
    status: int | None  # HTTP status, None without an answer
    documents: int
    numbers: tuple[int, ...]  # the 連携番号 of its documents, in order
    message: str  # ours (no answer, busy …); FX's own messages are in ``messages``
    messages: tuple[int, int]  # [start, end) in UploadReport.messages


#: The document a slip of a request belongs to: its ledger key, 帳票番号 and journo_read.
Owner = tuple[str, str, int]
