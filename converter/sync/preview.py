"""Preview: convert, and compare with the company's ledger without writing to it.

What ``converter preview`` shows, as one library call a notebook can make::

    result = preview(["取引明細.csv"], Path("mappings"))
    result.conversion.ok, result.status.changed if result.status else ()

Content hashes are only compared with a ledger, and on a big month they are a sixth of the
conversion: a company's first preview (no ledger yet) makes none it does not need, and a later one
hashes only the documents the ledger already has (asked once, while converting).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from converter.config.settings import load_settings
from converter.convert.pipeline import Conversion, Options, convert
from converter.errors import ConverterError
from converter.ledger.ledger import Ledger, default_ledger_path
from converter.sync.report import UploadReport, correction_rows
from converter.sync.upload import correction_status

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["KnownIn", "Preview", "ledger_to_compare", "preview"]


@dataclass(frozen=True)
class Preview:
    """What a dry run found: the conversion, and what the ledger says about it."""

    conversion: Conversion
    #: The ledger compared with (None: settings.yaml cannot say which; the conversion says why).
    ledger: Path | None
    #: Documents uploaded earlier and changed or deleted since (None without a ledger, or with problems).
    status: UploadReport | None

    @property
    def ok(self) -> bool:
        return self.conversion.ok

    @property
    def changes(self) -> bool:
        """True when the ledger has documents the export now changes or no longer holds."""
        return self.status is not None and bool(self.status.changed or self.status.deleted)

    def correction_rows(self) -> list[tuple[str, str, str]] | None:
        """The review workbook's 訂正 sheet rows (None without a ledger to compare with)."""
        return correction_rows(self.status) if self.status is not None else None


def ledger_to_compare(ledger_path: Path | None, mappings_dir: Path) -> Path | None:
    """The ledger preview compares with; None when settings.yaml cannot say (convert reports why)."""
    if ledger_path is not None:
        return ledger_path
    try:
        return default_ledger_path(mappings_dir, load_settings(mappings_dir).ocode)
    except ConverterError:
        return None


class KnownIn:
    """Which of the conversion's documents (by key) ``ledger`` has records of: asked once, while
    converting (only those are hashed), and kept for planning (each lookup is ~0.5 s a million keys)."""

    def __init__(self, ledger: Path, mappings_dir: Path) -> None:
        self.ledger, self.mappings_dir = ledger, mappings_dir
        self.found: set[str] | None = None  # None until asked

    def __call__(self, keys: pd.Series) -> np.ndarray:
        with Ledger.open(self.ledger, ocode=load_settings(self.mappings_dir).ocode, readonly=True) as book:
            self.found = book.known(keys.dropna().unique().tolist())
        return keys.isin(self.found).to_numpy()


def preview(inputs: Sequence[str | Path], mappings_dir: Path | str = Path("mappings"),
            options: Options | None = None, *, ledger_path: Path | str | None = None) -> Preview:
    """Convert ``inputs`` and compare them with the ledger (default ``ledgers/<ocode>.sqlite`` next
    to the mappings folder), read-only: nothing is sent, written or recorded.

    Problems are in ``result.conversion.problems`` (never raised); a missing ledger is not an
    error — a company's first preview has none (``status`` is then None)."""
    mappings_dir = Path(mappings_dir)
    ledger = ledger_to_compare(Path(ledger_path) if ledger_path is not None else None, mappings_dir)
    exists = ledger is not None and ledger.exists()
    known = KnownIn(ledger, mappings_dir) if ledger is not None and exists else None
    # Without a ledger path (settings unreadable) hash everything: convert reports the settings.
    options = replace(options or Options(), content_hashes=ledger is None or exists, _hash_only=known)
    conversion = convert(list(inputs), mappings_dir, options)
    status = None
    if ledger is not None and exists:
        status = correction_status(conversion, ledger, known.found if known is not None else None)
    return Preview(conversion, ledger, status)
