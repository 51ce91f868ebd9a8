"""Every rule of the FX slips/import reference, once (``shared/reference/fx-cloud-api.txt``).

Mapping load, validation, the masters check and the payload read their code formats, widths and
limits from here; nothing else spells a pattern or a limit of FX. The emulator keeps its own,
independently written copy on purpose and imports nothing from this module.

Patterns use ASCII classes (``[0-9]``), never ``\\d``: in Python ``\\d`` matches every Unicode digit,
so ``"７４１１"`` (full-width) would pass, while the reference says 半角数字.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

# --------------------------------------------------------------------------- code formats

#: Each code field: its full-match pattern (ASCII only) and how the reference words it.
CODE_PATTERNS: Final[dict[str, str]] = {
    "cd_act": r"[0-9]{4}",  # 勘定科目コード: 半角数字4桁
    "cd_auxact": r"[0-9A-Z]{1,2}",  # 口座コード: 半角大文字英数字2桁 (minLength 0, maxLength 2)
    "cd_dep": r"[0-9]{3}",  # 部門コード: 半角数字 (Length 3)
    "cd_cstm": r"[0-9]{6}",  # 取引先コード: 半角数字6桁
    "tptn": r"[0-9]{1,2}",  # 課税区分: 半角数字 (maxLength 2)
    "tbptn": r"[0-9]{1,2}",  # 事業区分: 半角数字 (maxLength 2)
    "journo": r"[0-9]{1,5}",  # 伝票番号: 半角数字 (maxLength 5)
    "journo_read": r"[0-9]{1,6}",  # 連携番号: 半角数字 (maxLength 6)
    "vouno": r"[0-9A-Za-z]{1,6}",  # 証憑番号: 半角英数字 (maxLength 6) — not sent by the converter
    "cd_fbcat": r"0[1-9]|1[0-2]",  # 収支区分: '01'〜'12'
    "cd_fbbdcat": r"0[1-9]|[1-9][0-9]",  # 内訳区分: '01'〜'99'
    "cd_coopsystem": r".{2}",  # 連携システムコード: Length 2
    # 取引年月日 / 仕入れ日: 8 digits, or zero-padded with - or / (2022-6-1 is refused)
    "ymd": r"[0-9]{8}|[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}/[0-9]{2}/[0-9]{2}",
}
CODE_HINTS: Final[dict[str, str]] = {
    "cd_act": "半角数字 4 桁",
    "cd_auxact": "半角英大文字・数字 2 桁まで",
    "cd_dep": "半角数字 3 桁",
    "cd_cstm": "半角数字 6 桁",
    "tptn": "半角数字 2 桁まで",
    "tbptn": "半角数字 2 桁まで",
    "journo": "半角数字 5 桁まで",
    "journo_read": "半角数字 6 桁まで",
    "vouno": "半角英数字 6 桁まで",
    "cd_fbcat": "'01'〜'12'",
    "cd_fbbdcat": "'01'〜'99'",
    "cd_coopsystem": "2 文字",
    "ymd": "YYYY-MM-DD (ゼロ埋め)",
}
_COMPILED = {name: re.compile(pattern) for name, pattern in CODE_PATTERNS.items()}


def is_code(field: str, value: object) -> bool:
    """Whether ``value`` is a well-formed ``field`` code (a str matching the ASCII pattern)."""
    return isinstance(value, str) and _COMPILED[field].fullmatch(value) is not None


# --------------------------------------------------------------------------- widths

#: Characters FX counts as half-width (1): printable ASCII and half-width katakana; all else 2.
WIDE_CHAR: Final = r"[^\x20-\x7e\uff61-\uff9f]"
#: Text fields and their width limits (全角 = 2, 半角 = 1).
WIDTHS: Final[dict[str, int]] = {
    "nm_cstm": 40,  # 取引先名: 全角20 / 半角40
    "nm_dep": 40,  # 部門名: 全角20 / 半角40
    "nm_auxact": 40,  # 口座名: 全角20 / 半角40
    "rcj_slip": 80,  # 元帳摘要: 全角40 / 半角80
}
NM_CSTM_WIDTH: Final = WIDTHS["nm_cstm"]
RCJ_SLIP_WIDTH: Final = WIDTHS["rcj_slip"]

# --------------------------------------------------------------------------- numbers

AMOUNT_LIMIT: Final = 99_999_999_999  # amnt_tr, amnt_cmtx: -99999999999 〜 99999999999
CMTXRATE_MIN: Final = 0
CMTXRATE_MAX: Final = 9999  # 消費税率 × 100
MAX_LINES_PER_SIDE: Final = 60  # pos_dsp 1〜60 per side of one slip
MAX_LINES_PER_REQUEST: Final = 2000  # 合計で2000明細を超える仕訳を1回で送った場合、エラー
MAX_JOURNO: Final = 99_999  # journo: 5 half-width digits
MAX_JOURNO_READ: Final = 999_999  # journo_read: 6 half-width digits
FLAGS_0_1: Final = (0, 1)  # is_ocr_dc, is_reduce_cmtxrate, is_autocalccmtx, is_add_*master
CAT_PURDAY: Final = (0, 1, 2, 3, 4, 9)  # 仕入れ日入力区分
DEBIT: Final = 1
CREDIT: Final = 0

#: 仕入れ日入力区分 → (ymd_purday1 needed, ymd_purday2 needed), from the reference's table:
#: 0 入力省略 and 9 入力不要 send neither; 1 (日) and 3 (月分, day fixed at 1) send purday1;
#: 2 (日〜日) and 4 (月分〜月分) send both.
PURDAY_NEEDS: Final[dict[int, tuple[bool, bool]]] = {
    0: (False, False), 1: (True, False), 2: (True, True), 3: (True, False), 4: (True, True), 9: (False, False),
}


# --------------------------------------------------------------------------- wire format

# The reference shows request bodies as JSON but prescribes no layout; the converter's choice, once:
# UTF-8, no ASCII escaping, no spaces (``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``).
# The ledger keeps what was sent in this form too, so a reversal is built from the bytes FX got.
_COMPACT: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def compact_json(value: object) -> str:
    """``value`` as the converter writes JSON for FX (see above)."""
    return _COMPACT.encode(value)


# --------------------------------------------------------------------------- company settings


@dataclass(frozen=True)
class CompanyRule:
    """A rule that depends on an FX company setting the API does not expose: the user states the
    setting in settings.yaml (key), and ``check`` enforces the rule when it is on."""

    key: str
    fx_setting: str
    rule: str


COMPANY_RULES: Final[tuple[CompanyRule, ...]] = (
    CompanyRule("fx_tax_return", "消費税情報「消費税申告書を作成する」",
                "tptn_required: every line needs 課税区分(tptn); rate_required: a taxable line "
                "(tptn other than 0) needs 消費税率(cmtxrate) and is_reduce_cmtxrate"),
    CompanyRule("fx_tax_exclusive", "消費税情報「税抜経理」 (with 消費税申告書を作成する)",
                "amnt_cmtx_required: a taxable line needs 消費税額(amnt_cmtx)"),
    CompanyRule("fx_main_business", "消費税情報「主たる事業区分を管理する」",
                "tbptn_required: a line with tptn 1 or 11 needs 事業区分(tbptn)"),
)
#: 課税区分 values after which tbptn is required when 主たる事業区分 is managed (the reference's words).
TBPTN_TPTN: Final = ("1", "11")
