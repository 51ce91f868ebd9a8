"""The columns of ``Conversion.lines`` — one row per detail line (one side of a source row) — each
once: its name, its kind of value, and what it holds. Stages add them in this order; a test checks
that a conversion's lines have exactly these columns, in this order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

#: Which stage adds a column (``optional``: only with an FX master cache).
Stage = Literal["documents", "lines", "mapping", "memo", "slips", "masters", "purchase", "ids"]


@dataclass(frozen=True)
class LineColumn:
    name: str
    kind: Literal["text", "int", "Int64", "datetime", "bool"]  # Int64: nullable integer
    stage: Stage
    meaning: str
    optional: bool = False


#: The fields each side of a source row has (``dr_``/``cr_`` + field); a detail line has its side's.
SIDE_FIELDS: Final = ("account", "sub_account", "department", "tax", "amount", "tax_amount")

_DOCUMENT: Final = (
    LineColumn("doc", "text", "documents", "document key (converter.keys: kind|doc_no, or kind|doc_no|date)"),
    LineColumn("kind", "text", "documents", "取引種別, trimmed"),
    LineColumn("doc_no", "text", "documents", "帳票番号, trimmed (yayoi without 伝票No: the 伝票's position)"),
    LineColumn("date", "text", "documents", "取引日 as YYYY-MM-DD ('' when unreadable); a document's first row's"),
    LineColumn("ymd", "datetime", "documents", "取引日 as a date (NaT when unreadable)"),
    LineColumn("customer_code", "text", "documents", "取引先コード, trimmed and NFKC"),
    LineColumn("customer", "text", "documents", "取引先名 as written (what FX receives)"),
    LineColumn("customer_key", "text", "documents", "取引先名 trimmed: the lookup key of customers.yaml"),
    LineColumn("memo", "text", "documents", "摘要 as written"),
    LineColumn("project", "text", "documents", "プロジェクト (not sent)"),
    LineColumn("status", "text", "documents", "ステータス, trimmed"),
    LineColumn("_file", "text", "documents", "source file, as given"),
    LineColumn("_row", "int", "documents", "source row as Excel numbers it (header = 1)"),
    LineColumn("_bad", "bool", "documents", "the source row holds a date or amount that could not be read"),
)
#: The columns a detail line carries over from its source row, as they are.
ROW_COLUMNS: Final = tuple(c.name for c in _DOCUMENT)

LINE_COLUMNS: Final[tuple[LineColumn, ...]] = (
    *_DOCUMENT,
    LineColumn("account", "text", "lines", "勘定科目 of this line's side"),
    LineColumn("sub_account", "text", "lines", "補助科目 of this line's side"),
    LineColumn("department", "text", "lines", "部門 of this line's side"),
    LineColumn("tax", "text", "lines", "税区分 of this line's side"),
    LineColumn("amount", "int", "lines", "金額 (amnt_tr); 0 when empty"),
    LineColumn("tax_amount", "int", "lines", "消費税額 (amnt_cmtx); 0 when empty"),
    LineColumn("side", "int", "lines", "is_ocr_dc: DEBIT (1, 借方) or CREDIT (0, 貸方), fx_rules"),
    LineColumn("cd_act", "text", "mapping", "勘定科目コード ('' when unmapped)"),
    LineColumn("cd_auxact", "text", "mapping", "口座コード"),
    LineColumn("account_name", "text", "mapping", "FX の科目名 from accounts.yaml (display only)"),
    LineColumn("tptn", "text", "mapping", "課税区分"),
    LineColumn("cmtxrate", "Int64", "mapping", "消費税率 × 100"),
    LineColumn("is_reduce_cmtxrate", "Int64", "mapping", "軽減税率"),
    LineColumn("tbptn", "text", "mapping", "事業区分"),
    LineColumn("cat_purday", "Int64", "mapping", "仕入れ日入力区分"),
    LineColumn("is_autocalccmtx", "Int64", "mapping", "消費税の自動計算"),
    LineColumn("cd_dep", "text", "mapping", "部門コード"),
    LineColumn("cd_cstm", "text", "mapping", "取引先コード"),
    LineColumn("nm_cstm", "text", "mapping", "取引先名 sent (随時の取引先, or a code FX may add to its master)"),
    LineColumn("nm_dep", "text", "mapping", "部門名 sent with a code FX may add (is_add_depmaster)"),
    LineColumn("nm_auxact", "text", "mapping", "口座名 sent with a code FX may add (is_add_auxmaster)"),
    LineColumn("rcj_slip", "text", "memo", "摘要 sent (cut to 80 桁 with --truncate-memo)"),
    LineColumn("part", "int", "slips", "which slip of its document (0 unless a side has over 60 lines)"),
    LineColumn("slip_key", "text", "slips", "slip key (converter.keys: doc#part)"),
    LineColumn("pos_dsp", "int", "slips", "表示位置: 1, 2, … per slip and side"),
    LineColumn("cd_fbcat", "text", "masters", "収支区分 of the slip (資金相手科目の初期値)", optional=True),
    LineColumn("cd_fbbdcat", "text", "masters", "内訳区分 of the slip", optional=True),
    LineColumn("ymd_purday1", "text", "purchase", "仕入れ日1 as cat_purday wants it"),
    LineColumn("ymd_purday2", "text", "purchase", "仕入れ日2 (never sent: no export carries it)"),
    LineColumn("journo_read", "int", "ids", "連携番号: the document's id (kept by the ledger)"),
)
