"""Upload stage: send what the ledger says is not yet in FX, exactly once.

Per request: the documents are committed as ``sending`` *before* the POST, and as ``done``
after the 201. A 400 rejects the whole request (nothing stored): the units it names become
``error`` and the rest are sent again in a new request. An ambiguous failure makes the
documents ``unknown`` (要確認); they are never re-sent until the user says what FX holds
(``converter resolve``). A run killed anywhere leaves at most ``sending`` documents, which the
next run turns into ``unknown`` before doing anything else.

A *unit* is what must reach FX together: one source document, or a correction (赤黒訂正:
the reversal of what FX holds plus the new version). A unit always travels in one request,
and FX stores a request whole or not at all, so the books never hold half a correction.

Per request the work is kept proportional to the request (a month is ~900 of them): slip texts
are made once, before the first request, by :func:`converter.fx.bodies.document_slips` (a body
is a join of their bytes, never a re-encoding), answers are traced through a line index built
once per run, and the ledger records the request as one batch (its body as sent, FX's messages
as columns). Here: the orchestration (plan → units → :mod:`converter.sync.send`'s loop →
:mod:`converter.sync.report`'s report).
"""
from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Sequence, Set
from dataclasses import replace
from datetime import date
from itertools import accumulate
from pathlib import Path

import httpx

from converter.convert.pipeline import Conversion, Options, convert
from converter.errors import FXAuthError, FXFormatError, LedgerError, LedgerMissing, ProblemsFound
from converter.fx.bodies import SlipText, document_slips, pack
from converter.fx.client import DEFAULT_TOKEN_ENV, FXClient, token_from_env
from converter.ledger.ledger import Ledger, default_ledger_path
from converter.ledger.numbering import number_of
from converter.ledger.safety import guard, init_command
from converter.ledger.unresolved import Origin, Unresolved, unresolved
from converter.sync.plan import Plan, mass_reversal, plan_documents, reversal_slips
from converter.sync.report import Stop, UploadReport, planned
from converter.sync.send import Item, Progress, Sender, Unit
from converter.sync.trace import LineIndex

__all__ = ["Progress", "UploadReport", "correction_status", "open_to_write", "send", "upload_files"]


def upload_files(
    inputs: list[Path],
    mappings_dir: Path,
    options: Options,
    *,
    ledger_path: Path | None = None,
    base_url: str | None = None,
    token_env: str = DEFAULT_TOKEN_ENV,
    dry_run: bool = False,
    only_errors: bool = False,
    corrections: bool = False,
    correction_date: date | None = None,
    period: tuple[date, date] | None = None,
    yes: bool = False,
    transport: httpx.BaseTransport | None = None,
    timeout: float | None = None,
    progress: Progress | None = None,
) -> tuple[Conversion, UploadReport]:
    """Convert, refuse on any problem, then send through the ledger (the CLI's one call)."""
    conversion = convert(inputs, mappings_dir, options)
    if not conversion.ok:
        raise ProblemsFound(conversion.problems)
    settings = conversion.settings
    path = ledger_path or default_ledger_path(mappings_dir, settings.ocode)
    if dry_run:
        with Ledger.open(path, ocode=settings.ocode, readonly=True,
                         fiscal_year_start=settings.fiscal_year_start) as ledger:
            plan = plan_documents(conversion, ledger, only_errors=only_errors, corrections=corrections,
                                  period=period)
            report = planned(plan, requests=_count_requests(conversion, ledger, plan),
                              held=None if yes else mass_reversal(plan, settings))
            kept = ledger.kept_by_upgrade()
            return conversion, replace(report, duplicates=tuple(k for k in plan.deleted if k in kept),
                                       attention=tuple(unresolved(ledger, plan.unknown)))
    token = token_from_env(token_env)
    http_timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0)) if timeout else None
    # Opening with the lock checks the ledger (integrity_check and its own rules): a damaged one
    # is refused before anything is sent, as is a missing one (never created here).
    with open_to_write(path, settings.ocode, mappings_dir, explicit=ledger_path is not None,
                       fiscal_year_start=settings.fiscal_year_start) as ledger, \
            guard(path), FXClient(
                base_url or settings.base_url, settings.ocode, token, locale=settings.locale, transport=transport,
                timeout=http_timeout, token_env=token_env) as client:
        report = send(conversion, ledger, client, only_errors=only_errors, corrections=corrections,
                      correction_date=correction_date, period=period, yes=yes, progress=progress)
    return conversion, report


def open_to_write(path: Path, ocode: str, mappings_dir: Path, *, explicit: bool,
                  fiscal_year_start: int | None = None) -> Ledger:
    """The ledger opened, locked and checked for a command that writes; a missing one is named
    with the command that creates it (``converter ledger init``) — it is never created here."""
    try:
        return Ledger.open(path, ocode=ocode, lock=True, fiscal_year_start=fiscal_year_start)
    except LedgerMissing:
        raise LedgerMissing(str(path), init_command=init_command(mappings_dir, path if explicit else None)) from None


def correction_status(conversion: Conversion, ledger_path: Path,
                      known: Set[str] | None = None) -> UploadReport | None:
    """For preview: what the ledger says about changed or deleted documents (read-only).
    ``known``: the documents the ledger has, when the caller has asked it already."""
    if not conversion.ok or not ledger_path.exists():
        return None
    with Ledger.open(ledger_path, ocode=conversion.settings.ocode, readonly=True,
                     fiscal_year_start=conversion.settings.fiscal_year_start) as ledger:
        plan = plan_documents(conversion, ledger, verdicts_only=True, known=known)
        return replace(planned(plan), attention=tuple(unresolved(ledger, plan.unknown)))


def send(
    conversion: Conversion, ledger: Ledger, client: FXClient, *, only_errors: bool = False,
    corrections: bool = False, correction_date: date | None = None, period: tuple[date, date] | None = None,
    yes: bool = False, progress: Progress | None = None,
) -> UploadReport:
    """Send every unit the plan calls for; record each step in the ledger first.

    Unless ``yes``, a plan reversing more 連携完了 documents than the settings allow
    (:func:`~converter.sync.plan.mass_reversal`) sends and registers nothing: the report says why."""
    recovered = tuple(ledger.recover())
    plan = plan_documents(conversion, ledger, only_errors=only_errors, corrections=corrections, period=period)
    held = None if yes else mass_reversal(plan, conversion.settings)
    kept = ledger.kept_by_upgrade()
    if held is not None:
        still = tuple(k for k in plan.unknown if k not in recovered)
        return UploadReport(dry_run=False, to_send=plan.to_send, already_done=plan.done_same, changed=plan.changed,
                            deleted=plan.deleted, still_unknown=still, recovered=recovered, held=held,
                            duplicates=tuple(k for k in plan.deleted if k in kept),
                            attention=_attention(ledger, (), recovered, still))
    where = LineIndex(conversion.lines if plan.sends else conversion.lines.iloc[:0])
    keep = conversion.settings.ledger_backups
    if plan.units:  # a run that will send: a consistent copy of the ledger first (ledger_safety)
        ledger.backup(keep)
    if progress is not None and plan.units:  # from here on the run waits for FX, not for the files
        progress(0, sum(len(unit) for unit in plan.units))
    auto_numbering = client.auto_numbering() if plan.units else True
    units = _units(conversion, ledger, plan, correction_date, where, auto_numbering)
    sender = Sender(conversion, ledger, client, auto_numbering, progress, sum(len(u.items) for u in units), where)
    try:
        sender.run(units)
    except (FXAuthError, FXFormatError) as err:
        if not sender.requests:
            raise  # refused at the first request: nothing was done, the error says it all
        sender.stop = Stop("refused", str(err), 0)
    finally:
        if units:  # and one after, so that the newest backup knows what this run sent
            with contextlib.suppress(LedgerError):  # the one taken before stays the newest
                ledger.backup(keep)
    finished = set(sender.sent) | set(sender.errors) | set(sender.unknown)
    left = tuple(i.key for u in units for i in u.items if i.key not in finished) if sender.stop else ()
    corrected = tuple(k for k in plan.correct
                      if all(s.key in sender.sent for s in plan.sends.values() if s.parent == k))
    deleted = set(plan.deleted)
    duplicates = tuple(k for k in plan.deleted if k in kept and k not in plan.correct)
    still = tuple(k for k in plan.unknown if k not in recovered)
    return UploadReport(
        dry_run=False, to_send=plan.to_send, sent=tuple(sender.sent), errors=tuple(sender.errors),
        unknown=tuple(sender.unknown), already_done=plan.done_same,
        changed=tuple(k for k in plan.changed if k not in plan.correct),
        deleted=tuple(k for k in plan.deleted if k not in plan.correct),
        corrected=corrected, withdrawn=tuple(k for k in corrected if k in deleted), duplicates=duplicates,
        still_unknown=still, recovered=recovered,
        requests=sender.requests, messages=tuple(sender.messages), stop=sender.stop, left_pending=left,
        attention=_attention(ledger, sender.unknown, recovered, still), answers=tuple(sender.answers),
    )


def _attention(ledger: Ledger, new: Sequence[str], recovered: Sequence[str],
               still: Sequence[str]) -> tuple[Unresolved, ...]:
    """Every 要確認 document after a run, this run's first, with what to check in FX."""
    origin: dict[str, Origin] = {k: "this_run" for k in new}
    origin.update({k: "interrupted" for k in recovered})
    return tuple(unresolved(ledger, [*new, *recovered, *still], origin))


def _units(conversion: Conversion, ledger: Ledger, plan: Plan, correction_date: date | None,
           where: LineIndex, auto_numbering: bool = True) -> list[Unit]:
    """Register what is new in the ledger and turn the plan into units with their slips.

    Before anything is registered, the numbers the whole run needs are counted per fiscal year:
    if they do not fit under FX's ceilings, LedgerError, and nothing is sent.
    """
    docs = conversion.documents.set_index("doc", drop=False)
    if correction_date is not None:  # a reversal's slips carry the correction date: its fiscal year
        on = correction_date.isoformat()
        plan.sends.update({s.key: replace(s, info=replace(s.info, ymd=on)) for s in plan.reversals()})
    sends = list(plan.sends.values())
    sources = [s.source for s in sends if s.source]
    wanted = docs.loc[list(dict.fromkeys(sources))]
    slips = document_slips(conversion.lines, wanted, conversion.settings)
    posted = ledger.posted(s.reverses for s in plan.reversals())
    years = {s.key: ledger.fiscal_year(s.info.ymd) for s in sends}
    if not auto_numbering:
        needed: Counter[int] = Counter()
        for s in sends:
            needed[years[s.key]] += len(slips[s.source].texts) if s.source else len(posted[s.reverses])
        ledger.check_room("journo", needed)
    ids, new = ledger.register([s.info for s in sends])
    flat = where.codes([k for doc in slips.values() for k in doc.keys])
    ends = accumulate(len(doc.keys) for doc in slips.values())
    codes = {d: tuple(flat[end - len(doc.keys):end]) for (d, doc), end in zip(slips.items(), ends, strict=True)}
    lines = dict(zip(wanted["doc"], wanted["lines"].tolist(), strict=True))
    doc_nos = dict(zip(docs["doc"], docs["doc_no"], strict=True))
    units = []
    for group in plan.units:
        items = []
        for key in group:
            send_ = plan.sends[key]
            source, journo_read = send_.source, ids[key]
            # 伝票番号 come from the fiscal year of the slips' date; the 連携番号 is the one it was given
            number, fy = number_of(journo_read), years[key]
            refresh = key not in new  # registered just now: the ledger holds this very info
            if send_.reverses:  # a reversal: what FX holds, turned around
                flipped = reversal_slips(posted[send_.reverses], number, correction_date)
                parent = send_.parent
                items.append(Item(key, send_.info, journo_read, fy, tuple(SlipText.of(s) for s in flipped),
                                  (-1,) * len(flipped), sum(len(s["detail"]) for s in flipped),
                                  (key, doc_nos.get(parent, ""), number), refresh))
            else:
                texts = tuple(t.numbered(number) for t in slips[source].texts)
                items.append(Item(key, send_.info, journo_read, fy, texts,
                                  codes[source], lines[source], (key, doc_nos.get(source, ""), number), refresh))
        units.append(Unit(tuple(items), sum(i.lines for i in items)))
    return units


def _count_requests(conversion: Conversion, ledger: Ledger, plan: Plan) -> int:
    """How many requests the plan's units pack into (for --dry-run)."""
    lines: dict[str, int] = {str(d): int(n) for d, n in zip(conversion.documents["doc"],
                                                            conversion.documents["lines"], strict=True)}
    for s in plan.reversals():
        slips = ledger.posted([s.reverses]).get(s.reverses, [])
        lines[s.key] = sum(len(slip["detail"]) for slip in slips)
    sizes = [sum(lines.get(plan.sends[k].source or k, 0) for k in unit) for unit in plan.units]
    return int(pack(sizes).max()) if sizes else 0
