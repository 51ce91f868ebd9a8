"""The request loop of an upload: pack units into requests, number them, POST, record each answer.

Per request: the documents are committed as ``sending`` *before* the POST, and as ``done``
after the 201. A 400 rejects the whole request (nothing stored): the units it names become
``error`` and the rest are sent again in a new request. An ambiguous failure makes the
documents ``unknown`` (要確認). Requests are packed by :func:`converter.fx.bodies.first_request`
(the one packing rule); bodies are joined from slip texts :mod:`converter.fx.bodies` made.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, NamedTuple

from converter.convert.pipeline import Conversion
from converter.errors import FXAPIError, FXAuthError, FXFormatError
from converter.fx.answers import FXMessage, MessageKind, Owner, RequestAnswer
from converter.fx.bodies import SlipText, first_request, join_slips
from converter.fx.client import FXClient, ImportResult
from converter.ledger.ledger import Answers, DocumentInfo, Ledger
from converter.sync.report import Stop
from converter.sync.trace import LineIndex, collector_paused, ledger_texts, trace

Progress = Callable[[int, int], None]  # (documents finished, documents to send)
#: Requests rejected in a row for the same reason (the same FX message) before a run stops: a
#: systematic mistake (an account code FX does not know) would otherwise reject every request of
#: the month. What FX named is エラー; the rest stays 連携待ち for the run after the fix.
STORM_LIMIT = 3


@dataclass(frozen=True, slots=True)
class Item:
    """One ledger document of a unit: its slips as they will be sent (journo added at send).

    Slotted: a request reads ~1000 of them, long out of the CPU's caches by then (an attribute is
    then one memory read, not a dict's)."""

    key: str
    info: DocumentInfo
    journo_read: int  # its ledger id (fy * 10⁶ + the 連携番号 FX gets)
    fy: int  # the fiscal year its numbers belong to
    slips: tuple[SlipText, ...]
    codes: tuple[int, ...]  # where each slip's lines are in the run's LineIndex (-1: a reversal)
    lines: int  # detail lines of all its slips
    owner: Owner  # what FX's answers on its slips are traced to (key, 帳票番号 of its source, 連携番号)
    refresh: bool = True  # the ledger's details may differ from ``info`` (not registered by this run)


@dataclass(frozen=True, slots=True)
class Unit:
    items: tuple[Item, ...]
    lines: int


def _numbered_per_year(items: list[Item], slips: list[SlipText], counts: list[int],
                       firsts: dict[int, int]) -> tuple[list[bytes], dict[str, int]]:
    """A request's slip texts with their 伝票番号, consecutive within each fiscal year from
    ``firsts[fy]``, and each document's first number."""
    if len(firsts) == 1:  # the usual case: one fiscal year, one pass
        number = next(iter(firsts.values()))
        return SlipText.numbered(slips, number), {
            i.key: first for i, first, n in zip(items, accumulate(counts[:-1], initial=number), counts,
                                                strict=True) if n}
    cursor, texts, journos = dict(firsts), [], {}
    for i in items:
        if i.slips:
            journos[i.key] = cursor[i.fy]
            texts += SlipText.numbered(list(i.slips), cursor[i.fy])
            cursor[i.fy] += len(i.slips)
    return texts, journos


class _Slips(NamedTuple):
    """A request's slips, in order: whose they are (for FX's answers)."""

    owners: list[Owner]
    doc_at: list[int]  # the position of its document in the request
    codes: list[int]  # LineIndex.codes


class Sender:
    """The request loop; holds the per-run bookkeeping so each step reads as one decision."""

    def __init__(self, conversion: Conversion, ledger: Ledger, client: FXClient, auto_numbering: bool,
                 progress: Progress | None, total: int, where: LineIndex) -> None:
        self.conversion, self.ledger, self.client = conversion, ledger, client
        self.auto_numbering, self.progress, self.total = auto_numbering, progress, total
        self.sent: list[str] = []
        self.errors: list[str] = []
        self.unknown: list[str] = []
        self.messages: list[FXMessage] = []
        self.answers: list[RequestAnswer] = []
        self.requests = 0
        self.where = where
        self.stop: Stop | None = None
        self._storm: tuple[frozenset[str], int] = (frozenset(), 0)  # the reason rejected in a row, how often
        self._issued: tuple[dict[int, int], dict[int, int]] = ({}, {})  # the last request's 伝票番号: firsts, counts

    def run(self, units: list[Unit]) -> None:
        queue = deque(units)
        with collector_paused():
            while queue and self.stop is None:
                batch = [queue.popleft() for _ in range(first_request(u.lines for u in queue))]
                queue.extendleft(reversed(self._send(batch)))

    def _send(self, batch: list[Unit]) -> list[Unit]:
        """Send one request; return the units to send again (after a 400), if any."""
        items = [i for u in batch for i in u.items]
        slips = [s for i in items for s in i.slips]
        counts = [len(i.slips) for i in items]
        owners = [i.owner for i in items for _ in i.slips]
        doc_at = [pos for pos, n in enumerate(counts) for _ in range(n)]
        codes = [c for i in items for c in i.codes]
        journos: dict[str, int] = {}
        # One commit before the POST: the 伝票番号 in the body are reserved and the documents are 連携中.
        with self.ledger.transaction():
            if slips and not self.auto_numbering:
                needed: dict[int, int] = {}
                for i in items:
                    needed[i.fy] = needed.get(i.fy, 0) + len(i.slips)
                firsts = self.ledger.reserve_journos(needed)
                self._issued = firsts, needed
                texts, journos = _numbered_per_year(items, slips, counts, firsts)
            else:
                self._issued = {}, {}
                texts = [s.text(None) for s in slips]
            body = join_slips(texts)
            # The ledger keeps the body as sent: a later correction reverses what FX holds.
            self.ledger.mark_sending([i.info if i.refresh else i.key for i in items], journos=journos or None,
                                     body=body, slips=counts)
        keys = [i.key for i in items]
        start = len(self.messages)

        def answer(outcome: str, status: int | None, message: str) -> RequestAnswer:
            return RequestAnswer(len(self.answers) + 1, outcome, status, len(items),
                                 tuple(i.owner[2] for i in items), message, (start, len(self.messages)))
        try:
            result = self.client.import_slips(body)
        except FXAPIError as err:
            # 401/403/406: FX refused before storing anything; stop the run.
            if isinstance(err, FXAuthError | FXFormatError):
                self._give_back()
            self.ledger.mark_unsent(keys, "FX が要求を拒否しました (認証・権限・形式)")
            self.answers.append(answer("refused", None, str(err)))
            raise
        self.requests += 1
        again = self._record(batch, keys, _Slips(owners, doc_at, codes), result)
        self.answers.append(answer(result.outcome, result.status, result.message))
        return again

    def _give_back(self) -> None:
        """FX stored nothing of the request: its 伝票番号 go to the next one (no gap, nothing burnt)."""
        firsts, needed = self._issued
        if firsts:
            self.ledger.give_back_journos(firsts, needed)
        self._issued = {}, {}

    def _record(self, batch: list[Unit], keys: list[str], slips: _Slips, result: ImportResult) -> list[Unit]:
        if result.outcome in ("not_sent", "rejected"):
            self._give_back()
        if result.outcome != "rejected":
            self._storm = frozenset(), 0
        if result.outcome == "stored":
            _, answers = self._trace(slips, result.informations, MessageKind.INFORMATION)
            self.ledger.mark_done(keys, answers=answers)
            self.sent += keys
        elif result.outcome == "ambiguous":
            self.ledger.mark_unknown(keys, result.message)
            self.unknown += keys
        elif result.outcome == "not_sent" and result.gave_up:
            # FX has answered nothing for the client's patience: this request was not even sent.
            # Stop here; it and the rest stay 連携待ち for a run when FX answers again.
            self.ledger.mark_unsent(keys, result.message)
            self.stop = Stop("silent", result.message, 0)
            return []
        elif result.outcome == "not_sent":
            # FX certainly stored nothing: エラー, so that `retry` (or the next upload) sends them again.
            self.ledger.mark_error({k: result.message + "。時間をおいて再連携してください" for k in keys})
            self.errors += keys
        else:
            return self._rejected(batch, keys, slips, result)
        self._tick(len(keys))
        return []

    def _rejected(self, batch: list[Unit], keys: list[str], slips: _Slips, result: ImportResult) -> list[Unit]:
        """A 400 stored nothing: the units it names are in error, the others go again."""
        found, _ = self._trace(slips, result.errors, MessageKind.ERROR)
        named_keys = {m.doc for m in found if m.doc}
        bad_units = [u for u in batch if any(i.key in named_keys for i in u.items)] or batch
        if not named_keys:  # a 400 that names no slip: nothing to separate
            content = "; ".join(str(e.get("content", "")) for e in result.errors) or "FX が要求を拒否しました (400)"
            found = [FXMessage(k, "", 0, MessageKind.ERROR, content) for k in keys]
            self.messages += found
        self._count_rejection(found)
        texts = ledger_texts(found)
        bad = [i.key for u in bad_units for i in u.items]
        self.ledger.mark_error({k: texts.get(k, "同じ訂正の組の他の伝票が FX でエラーになりました") for k in bad})
        self.errors += bad
        self._tick(len(bad))
        rest = [u for u in batch if u not in bad_units]
        if rest:
            self.ledger.mark_unsent([i.key for u in rest for i in u.items],
                                    "同じ要求の他の帳票が FX でエラーになったため再送します")
        return rest

    def _count_rejection(self, found: list[FXMessage]) -> None:
        """Rejections in a row that share an FX message: at STORM_LIMIT the run stops (see STORM_LIMIT)."""
        reasons = frozenset(m.content for m in found if m.kind == MessageKind.ERROR)
        same, count = self._storm
        common = same & reasons if count else reasons
        self._storm = (common, count + 1) if common else (reasons, 1)
        if self._storm[1] >= STORM_LIMIT:
            self.stop = Stop("storm", " / ".join(sorted(self._storm[0])), self._storm[1])

    def _trace(self, slips: _Slips, answers: tuple[dict[str, Any], ...],
               kind: MessageKind) -> tuple[list[FXMessage], Answers]:
        """FX's answers traced to ledger documents and source rows (kept for the report)."""
        found, columns = trace(self.where, slips.owners, slips.doc_at, slips.codes, answers, kind)
        self.messages += found
        return found, columns

    def _tick(self, n: int) -> None:
        if self.progress:
            self.progress(n, self.total)


