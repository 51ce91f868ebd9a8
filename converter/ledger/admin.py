"""What ``converter ledger init | verify | restore`` do (the CLI renders the result).

A ledger is created only here (``init``), never as a side effect of an upload: a missing ledger
means the company's memory of what FX holds is gone, and a new empty one would post every slip
again. See :mod:`converter.ledger.safety` for the checks and backups.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from converter.config.settings import load_settings
from converter.errors import ConverterError, LedgerMissing
from converter.ledger.ledger import Ledger, default_ledger_path
from converter.ledger.safety import init_command, newest_backup

__all__ = ["Restored", "Verified", "init_ledger", "restore_ledger", "verify_ledger"]


@dataclass(frozen=True)
class Verified:
    path: Path
    ocode: str
    documents: int
    newest_backup: Path | None


@dataclass(frozen=True)
class Restored:
    path: Path
    backup: Path
    aside: Path | None  # the ledger that was there, kept under another name
    documents: int


def _where(mappings_dir: Path, ledger_path: Path | None) -> tuple[str, Path]:
    ocode = load_settings(mappings_dir).ocode
    return ocode, ledger_path or default_ledger_path(mappings_dir, ocode)


def init_ledger(mappings_dir: Path, ledger_path: Path | None = None) -> tuple[str, Path]:
    """Create the empty ledger of the settings' ``ocode``; refuses when one exists."""
    ocode, path = _where(mappings_dir, ledger_path)
    Ledger.create(path, ocode=ocode)
    return ocode, path


def verify_ledger(mappings_dir: Path, ledger_path: Path | None = None) -> Verified:
    """integrity_check + the ledger's own rules, read-only; LedgerDamaged when they fail."""
    ocode, path = _where(mappings_dir, ledger_path)
    if not path.exists():
        raise LedgerMissing(str(path), init_command=init_command(mappings_dir, ledger_path))
    with Ledger.open(path, ocode=ocode, readonly=True) as ledger:
        ledger.verify()
        documents = sum(ledger.summary().values())
    return Verified(path=path, ocode=ocode, documents=documents, newest_backup=newest_backup(path))


def restore_ledger(backup: Path, mappings_dir: Path, ledger_path: Path | None = None) -> Restored:
    """Check ``backup``, then put it in the ledger's place (the old file kept aside).

    The company is taken from settings.yaml; without one (only with ``--ledger``) the backup must
    be one of this ledger's own backups."""
    try:
        ocode: str | None
        ocode, path = _where(mappings_dir, ledger_path)
    except ConverterError:
        if ledger_path is None:
            raise
        ocode, path = None, ledger_path
    aside = Ledger.restore(backup, path, ocode=ocode)
    with Ledger.open(path, ocode=ocode or _ocode_of(path), readonly=True) as ledger:
        documents = sum(ledger.summary().values())
    return Restored(path=path, backup=backup, aside=aside, documents=documents)


def _ocode_of(path: Path) -> str:
    import sqlite3

    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as conn:
        return str(conn.execute("SELECT value FROM meta WHERE name = 'ocode'").fetchone()[0])
