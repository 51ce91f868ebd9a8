"""ジョブカン見積/請求書 取引明細 → TKC FX cloud journal slips.

Pipeline (one module per stage): read → normalise → mapping → schema → slips → payload →
fxapi / ledger (upload) | review (workbook). ``pipeline.convert`` runs the conversion;
``cli`` is the command line.
"""

__version__ = "0.1.0"
