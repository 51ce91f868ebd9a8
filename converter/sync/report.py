"""What an upload did (or, dry run, would do): the report the CLI, batch and the workbook read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from converter.fx.answers import FXMessage, RequestAnswer
from converter.ledger.unresolved import Unresolved
from converter.messages import CHANGED, CHANGED_WHY, CORRECTED, DELETED, DELETED_WHY
from converter.sync.plan import Held, Plan

StopKind = Literal["storm", "refused", "silent"]


@dataclass(frozen=True)
class Stop:
    """Why a run ended before sending everything: ``storm`` (the same rejection again and again),
    ``refused`` (FX refused the token, the permission or the format after some requests) or
    ``silent`` (FX stopped answering: the client's patience ran out, see FXClient)."""

    kind: StopKind
    reason: str  # FX's message
    requests: int  # rejected in a row (storm)


@dataclass(frozen=True)
class UploadReport:
    dry_run: bool
    to_send: tuple[str, ...]
    sent: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()  # became 要確認 in this run
    already_done: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # in FX, but the export now differs (not corrected in this run)
    deleted: tuple[str, ...] = ()  # in FX, gone from the export (not corrected in this run)
    corrected: tuple[str, ...] = ()  # reversal (+ new version) sent in this run
    withdrawn: tuple[str, ...] = ()  # those of ``corrected`` gone from the export: reversed only
    still_unknown: tuple[str, ...] = ()  # 要確認 from an earlier run, not sent
    recovered: tuple[str, ...] = ()  # left in 連携中 by a killed run → 要確認
    requests: int = 0
    messages: tuple[FXMessage, ...] = field(default=())
    held: Held | None = None  # --corrections would reverse too many: nothing sent (needs --yes)
    #: Of ``deleted``: second records of a document the ledger upgrade kept (FX may hold it twice)
    duplicates: tuple[str, ...] = ()
    stop: Stop | None = None  # the run ended early (see Stop)
    left_pending: tuple[str, ...] = ()  # not sent because the run stopped early (連携待ち)
    #: Every 要確認 document after the run (unknown + recovered + still_unknown) with what to check in FX
    attention: tuple[Unresolved, ...] = ()
    answers: tuple[RequestAnswer, ...] = ()  # what FX answered each request, in order

    @property
    def needs_attention(self) -> bool:
        return bool(self.errors or self.unknown or self.changed or self.deleted or self.still_unknown
                    or self.recovered or self.held or self.stop)

    @property
    def exit_code(self) -> int:
        """The one exit code rule of upload, retry and batch: 2 FX refused the run (token, permission,
        format), 1 something needs attention (エラー, 要確認, changed, held, stopped early), 0 all done."""
        if self.stop is not None and self.stop.kind == "refused":
            return 2
        return 1 if self.needs_attention else 0



def correction_rows(report: UploadReport) -> list[tuple[str, str, str]]:
    """The 訂正 sheet: what changed or vanished after upload, and what was done about it."""
    rows = [(CHANGED, k, f"{CHANGED_WHY}。--corrections で取消仕訳と訂正後の仕訳を送れます") for k in report.changed]
    rows += [(DELETED, k, f"{DELETED_WHY}。--corrections で取消仕訳を送れます") for k in report.deleted]
    rows += [(CORRECTED, k, "取消仕訳を送信しました" if k in report.withdrawn
              else "取消仕訳と訂正後の仕訳を送信しました") for k in report.corrected]
    return rows


def planned(plan: Plan, requests: int = 0, held: Held | None = None) -> UploadReport:
    """What an upload would do, as a report (nothing sent, nothing recorded)."""
    return UploadReport(dry_run=True, to_send=plan.to_send, already_done=plan.done_same, changed=plan.changed,
                        deleted=plan.deleted, still_unknown=plan.unknown, requests=requests, held=held)
