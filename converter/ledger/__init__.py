"""The upload ledger: one SQLite file per company saying where each source document stands in FX."""

from converter.ledger.ledger import Ledger

__all__ = ["Ledger"]
