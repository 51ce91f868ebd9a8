"""Fields of slips/import as the emulator reads them: labels, messages, value tests, widths.

Texts the reference documents are in ``DOCUMENTED`` (verbatim); every other text is the
emulator's own, in ``OWN_MESSAGES``, so nobody mistakes it for FX's wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

AMOUNT_LIMIT = 99_999_999_999

LABELS = {
    "slips": "仕訳", "detail": "仕訳明細", "ymd_tr": "取引年月日", "journo": "伝票番号",
    "journo_read": "連携元対応番号", "vouno": "証憑番号", "cd_coopsystem": "連携システムコード",
    "cd_fbcat": "収支区分", "cd_fbbdcat": "内訳区分",
    "is_add_depmaster": "部門マスター自動追加区分",
    "is_add_cstmmaster": "取引先マスター自動追加区分",
    "is_add_auxmaster": "口座マスター自動追加区分",
    "pos_dsp": "表示位置", "is_ocr_dc": "貸借区分", "cd_dep": "部門コード", "nm_dep": "部門名",
    "cd_act": "勘定科目コード", "cd_auxact": "口座コード", "nm_auxact": "口座名",
    "cd_cstm": "取引先コード", "nm_cstm": "取引先名", "tptn": "課税区分", "tbptn": "事業区分",
    "amnt_tr": "取引金額", "amnt_cmtx": "消費税額", "is_reduce_cmtxrate": "軽減税率区分",
    "cmtxrate": "消費税率", "is_autocalccmtx": "消費税額自動計算区分",
    "cat_purday": "仕入れ日入力区分", "ymd_purday1": "仕入れ日1", "ymd_purday2": "仕入れ日2",
    "rcj_slip": "元帳摘要",
}
TYPE_NAMES = {"string": "文字列", "number": "数値", "array": "配列", "object": "オブジェクト"}

# Messages. The reference (slips/import, responses 201/400) documents exactly two texts; they
# are used verbatim. Every other text is the emulator's own (FX's real wording is unknown) and
# lives in OWN_MESSAGES, so nobody mistakes it for FX's: tests and the client must not depend
# on its exact wording beyond the field name it carries.
DOCUMENTED = {
    # 400 example: "勘定科目コードが入力されていないか、誤った勘定科目コードが入力されています";
    # msg_bad() applies the same sentence to other fields (only cd_act's is documented).
    "bad_code": "{label}が入力されていないか、誤った{label}が入力されています",
    # 201 example (みなし処理)
    "info_no_dep": "部門コードが不要な取引です。部門コードを消去して読込みました",
}
OWN_MESSAGES = {  # not in the reference: the emulator's own wording
    "parse": "JSONを解析できません",
    "too_many": "1回に送信できる仕訳明細は2000明細までです(送信された明細: {}明細)",
    "no_detail": "仕訳明細が入力されていません",
    "duplicate": "同一の貸借・同一の表示位置に複数の明細が入力されています",
    "unbalanced": "借方合計と貸方合計が一致しません(借方合計: {}, 貸方合計: {})",
    "rate": "取引年月日に適用できない消費税率が入力されています",
    "range": "{label}に誤った値が入力されています({rule})",
    "width": "{label}は全角{half}文字・半角{limit}文字以内で入力してください",
    "type": "{label}の形式が正しくありません({kind}で入力してください)",
    "required": "{label}が入力されていません",
    "fund_pair": "収支区分と内訳区分の組合せが資金収支区分の一覧にありません",
    "info_no_tax": "消費税が発生しない科目です。税率・税額を0として読込みました",
    "info_no_aux": "口座コードが不要な取引です。口座コードを消去して読込みました",
    "info_no_cstm": "取引先が不要な取引です。取引先を消去して読込みました",
    "info_no_fund": "資金管理をする取引ではありません。収支区分・内訳区分を消去して読込みました",
    "info_no_purday": "仕入れ日が不要な仕入れ日入力区分です。仕入れ日を消去して読込みました",
    "info_autocalc": ("取引金額と消費税率から求めた消費税額と、指定された消費税額が一致しません。"
                      "消費税額を0として読込みました"),
    "forbidden_dep": "部門の更新権限がありません",
    "forbidden_cstm": "取引先の更新権限がありません",
    "forbidden_aux": "口座の更新権限がありません",
}
MSG_PARSE = OWN_MESSAGES["parse"]
MSG_TOO_MANY = OWN_MESSAGES["too_many"]
MSG_NO_DETAIL = OWN_MESSAGES["no_detail"]
MSG_DUPLICATE = OWN_MESSAGES["duplicate"]
MSG_UNBALANCED = OWN_MESSAGES["unbalanced"]
MSG_RATE = OWN_MESSAGES["rate"]
INFO_NO_TAX = OWN_MESSAGES["info_no_tax"]
INFO_NO_DEP = DOCUMENTED["info_no_dep"]
INFO_NO_AUX = OWN_MESSAGES["info_no_aux"]
INFO_NO_CSTM = OWN_MESSAGES["info_no_cstm"]


def msg_bad(key: str) -> str:
    """The reference's wording for a missing or wrong code (勘定科目コードが入力されていないか…)."""
    return DOCUMENTED["bad_code"].format(label=LABELS[key])


def msg_range(key: str, rule: str) -> str:
    return OWN_MESSAGES["range"].format(label=LABELS[key], rule=rule)


def msg_width(key: str, limit: int) -> str:
    return OWN_MESSAGES["width"].format(label=LABELS[key], half=limit // 2, limit=limit)


def text_width(text: str) -> int:
    """Width as FX counts it: ASCII printable and half-width katakana 1, everything else 2."""
    return sum(1 if " " <= ch <= "~" or "\uff61" <= ch <= "\uff9f" else 2 for ch in text)


def is_num(v: Any) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


def is_int(v: Any) -> TypeGuard[int | float]:
    return is_num(v) and float(v).is_integer()


def str_field(obj: Mapping[str, Any], key: str) -> str | None:
    """The field if it is a string ("" when absent); None when the schema already complained."""
    v = obj.get(key, "")
    return v if isinstance(v, str) else None


DETAIL_CODES = {"cd_dep": r"[0-9]{3}", "cd_act": r"[0-9]{4}", "cd_auxact": r"[0-9A-Z]{1,2}",
                 "cd_cstm": r"[0-9]{6}"}


def error_entry(g: int | None, content: str, d: Any = None, line: Any = None) -> dict[str, Any]:
    return {"groupno": g, "is_ocr_dc": d, "lineno": line, "content": content}


def locate(det: Mapping[str, Any]) -> tuple[int | None, int | None]:
    dc = det.get("is_ocr_dc")
    pos = det.get("pos_dsp")
    return (int(dc) if is_num(dc) and dc in (0, 1) else None,
            int(pos) if is_int(pos) else None)
