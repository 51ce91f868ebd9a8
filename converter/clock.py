"""Japan time: the one clock of everything an accountant reads or the ledger stores.

The accountant's month-end, the ledger's history, backup names and the lock's "since" are all read
in Japan time, whatever time zone the machine running the converter is set to (a CI runner or a
container is often UTC). Japan keeps no summer time, so a fixed offset is exact.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Final

__all__ = ["JST", "in_japan", "now", "shown", "stamp"]

JST: Final = timezone(timedelta(hours=9), "JST")


def now() -> datetime:
    """This moment in Japan time."""
    return datetime.now(JST)


def stamp(moment: datetime | None = None) -> str:
    """ISO 8601 to the second with its +09:00 offset, as the ledger stores times."""
    return (moment or now()).astimezone(JST).isoformat(timespec="seconds")


def in_japan(text: str) -> str:
    """A stored ISO time shown in Japan time (a ledger written on a UTC machine by an earlier
    release holds +00:00); text that is not a time is shown as it is."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return stamp(moment) if moment.tzinfo is not None else text


def shown(text: str) -> str:
    """A stored ISO time as the accountant reads it: Japan time, ``2026-10-31 09:05:00`` (the
    header says 日本時間); text that is not a time is shown as it is."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(JST)
    return moment.strftime("%Y-%m-%d %H:%M:%S")
