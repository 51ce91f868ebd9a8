"""The slips/import rules of the FX emulator: request schema, documented limits, みなし処理.

Pure functions over plain dicts. :mod:`converter.emulator.server` owns state, locking and HTTP; this
module only answers "what would FX say about this request body?" given the company's masters.

Entry point: :func:`check_request` → :class:`ImportOutcome` (errors, or normalised slips plus
informations plus the master records a successful import would add).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TypeGuard

import jsonschema

from converter.emulator.masters import Additions, Masters, parse_ymd

MAX_DETAILS_PER_REQUEST = 2000
AMOUNT_LIMIT = 99_999_999_999

# The reference schema (draft-04) carries only types and required keys; limits live in prose
# and are checked by hand below. Descriptions are left out: they do not affect validation.
_SLIP_TYPES = {
    "ymd_tr": "string", "journo": "string", "journo_read": "string", "vouno": "string",
    "cd_coopsystem": "string", "cd_fbcat": "string", "cd_fbbdcat": "string",
    "is_add_depmaster": "number", "is_add_cstmmaster": "number", "is_add_auxmaster": "number",
}
_DETAIL_TYPES = {
    "pos_dsp": "number", "is_ocr_dc": "number", "cd_dep": "string", "cd_act": "string",
    "cd_auxact": "string", "cd_cstm": "string", "nm_cstm": "string", "tptn": "string",
    "tbptn": "string", "amnt_tr": "number", "amnt_cmtx": "number",
    "is_reduce_cmtxrate": "number", "cmtxrate": "number", "is_autocalccmtx": "number",
    "cat_purday": "number", "ymd_purday1": "string", "ymd_purday2": "string",
    "rcj_slip": "string",
}
SLIPS_IMPORT_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "properties": {
        "slips": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    **{k: {"type": t} for k, t in _SLIP_TYPES.items()},
                    "detail": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {k: {"type": t} for k, t in _DETAIL_TYPES.items()},
                            "required": ["pos_dsp", "is_ocr_dc", "cd_act", "amnt_tr"],
                        },
                    },
                },
                "required": ["ymd_tr", "cd_coopsystem", "detail"],
            },
        }
    },
    "required": ["slips"],
}
_VALIDATOR = jsonschema.Draft4Validator(SLIPS_IMPORT_SCHEMA)

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
_TYPE_NAMES = {"string": "文字列", "number": "数値", "array": "配列", "object": "オブジェクト"}

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


def parse_body(body: bytes) -> Any:
    """JSON as the API would parse it; NaN/Infinity are not JSON, so they are refused too."""

    def _no_constant(name: str) -> Any:
        raise ValueError(name)

    return json.loads(body.decode("utf-8"), parse_constant=_no_constant)


def _is_num(v: Any) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_int(v: Any) -> TypeGuard[int | float]:
    return _is_num(v) and float(v).is_integer()


@dataclass
class ImportOutcome:
    errors: list[dict[str, Any]] = field(default_factory=list)
    slips: list[dict[str, Any]] = field(default_factory=list)  # normalised, request order
    informations: list[list[dict[str, Any]]] = field(default_factory=list)  # per slip
    additions: Additions = field(default_factory=Additions)
    forbidden: str | None = None  # a 403 message: the import would add a master it may not


def _error(g: int | None, content: str, d: Any = None, line: Any = None) -> dict[str, Any]:
    return {"groupno": g, "is_ocr_dc": d, "lineno": line, "content": content}


def _schema_errors(doc: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for err in _VALIDATOR.iter_errors(doc):
        path = list(err.absolute_path)
        g = path[1] + 1 if len(path) >= 2 and path[0] == "slips" else None
        dc = line = None
        if g is not None and len(path) >= 4 and path[2] == "detail":
            det = doc["slips"][path[1]]["detail"][path[3]]
            dc, line = _locate(det) if isinstance(det, dict) else (None, None)
        if err.validator == "required":
            missing = [k for k in err.validator_value if k not in err.instance]
            out += [_error(g, OWN_MESSAGES["required"].format(label=LABELS.get(k, k)), dc, line)
                    for k in missing]
        else:
            key = next((p for p in reversed(path) if isinstance(p, str)), "slips")
            kind = _TYPE_NAMES.get(str(err.validator_value), str(err.validator_value))
            text = OWN_MESSAGES["type"].format(label=LABELS.get(key, key), kind=kind)
            out.append(_error(g, text, dc, line))
    # jsonschema yields one `required` failure per missing key, each naming the whole list.
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for e in out:
        if (k := tuple(e.values())) not in seen:
            seen.add(k)
            unique.append(e)
    return unique


def _locate(det: Mapping[str, Any]) -> tuple[int | None, int | None]:
    dc = det.get("is_ocr_dc")
    pos = det.get("pos_dsp")
    return (int(dc) if _is_num(dc) and dc in (0, 1) else None,
            int(pos) if _is_int(pos) else None)


def check_request(doc: Any, masters: Masters) -> ImportOutcome:
    """Every error FX would report for this body; if none, the slips as FX would store them."""
    out = ImportOutcome(errors=_schema_errors(doc))
    if not isinstance(doc, dict) or not isinstance(doc.get("slips"), list):
        return out
    slips = doc["slips"]
    total = sum(len(s["detail"]) for s in slips
                if isinstance(s, dict) and isinstance(s.get("detail"), list))
    if total > MAX_DETAILS_PER_REQUEST:
        out.errors.append(_error(None, MSG_TOO_MANY.format(total)))
    for g, slip in enumerate(slips, start=1):
        if isinstance(slip, dict):
            _check_slip(g, slip, masters, out)
    out.forbidden = _forbidden(out.additions, masters)
    if out.errors or out.forbidden:
        # Request-level errors first, then by slip; stable, so each slip keeps its own order.
        out.errors.sort(key=lambda e: -1 if e["groupno"] is None else e["groupno"])
        out.slips, out.informations, out.additions = [], [], Additions()
    return out


def _forbidden(adds: Additions, masters: Masters) -> str | None:
    """Reference §403: "部門をマスターに追加する際に部門の更新権限がない、取引先を…、口座を…".

    The reference documents the 403 body only with 仕訳の更新権限がありません; the per-master
    texts are the emulator's own. Checked before the 400 rules (the reference is silent on the
    order): a user without the right learns it first, whatever else the body holds.
    """
    company = masters.company
    for wanted, allowed, key in ((adds.departments, company.may_update_departments, "dep"),
                                 (adds.customers, company.may_update_customers, "cstm"),
                                 (adds.auxacts, company.may_update_auxacts, "aux")):
        if wanted and not allowed:
            return OWN_MESSAGES[f"forbidden_{key}"]
    return None


def _str(obj: Mapping[str, Any], key: str) -> str | None:
    """The field if it is a string ("" when absent); None when the schema already complained."""
    v = obj.get(key, "")
    return v if isinstance(v, str) else None


_SLIP_FORMATS: dict[str, tuple[str, str]] = {
    "journo": (r"[0-9]{0,5}", "半角数字5桁以内"),
    "journo_read": (r"[0-9]{0,6}", "半角数字6桁以内"),
    "vouno": (r"[0-9A-Za-z]{0,6}", "半角英数字6桁以内"),
}
_DETAIL_CODES = {"cd_dep": r"[0-9]{3}", "cd_act": r"[0-9]{4}", "cd_auxact": r"[0-9A-Z]{1,2}",
                 "cd_cstm": r"[0-9]{6}"}


def _check_slip(g: int, slip: dict[str, Any], masters: Masters, out: ImportOutcome) -> None:
    errors: list[dict[str, Any]] = []
    ymd = _str(slip, "ymd_tr")
    day = parse_ymd(ymd) if ymd is not None else None
    if ymd is not None and "ymd_tr" in slip and day is None:
        errors.append(_error(g, msg_bad("ymd_tr")))
    for key, (pattern, rule) in _SLIP_FORMATS.items():
        v = _str(slip, key)
        if v is not None and not re.fullmatch(pattern, v):
            errors.append(_error(g, msg_range(key, rule)))
        elif v and key == "vouno" and masters.company.vouno_digits_only and not v.isdigit():
            # Reference §vouno: "証憑番号を「数字のみ入力」の設定の場合、半角数字".
            errors.append(_error(g, msg_range(key, "半角数字6桁以内")))
    coop = _str(slip, "cd_coopsystem")
    if coop is not None and "cd_coopsystem" in slip and len(coop) != 2:
        errors.append(_error(g, msg_bad("cd_coopsystem")))
    for key, top in (("cd_fbcat", 12), ("cd_fbbdcat", 99)):
        v = _str(slip, key)
        if v and not (re.fullmatch(r"[0-9]{2}", v) and 1 <= int(v) <= top):
            errors.append(_error(g, msg_bad(key)))
    flags = {}
    for key in ("is_add_depmaster", "is_add_cstmmaster", "is_add_auxmaster"):
        v = slip.get(key, 0)
        if _is_num(v) and v not in (0, 1):
            errors.append(_error(g, msg_range(key, "0または1")))
        flags[key] = v == 1
    details = slip.get("detail")
    if not isinstance(details, list):
        out.errors += errors
        return
    if not details:
        errors.append(_error(g, MSG_NO_DETAIL))
    stored: list[dict[str, Any]] = []
    infos: list[dict[str, Any]] = []
    seen: set[tuple[int, int]] = set()
    sums = {0: 0, 1: 0}
    balance_ok = True
    for det in details:
        if not isinstance(det, dict):
            balance_ok = False
            continue
        dc, line = _locate(det)
        new = copy.deepcopy(det)
        errors += _check_detail(g, det, new, day, flags, masters, out.additions, infos)
        if dc is not None and line is not None:
            if (dc, line) in seen:
                errors.append(_error(g, MSG_DUPLICATE, dc, line))
            seen.add((dc, line))
        amount = det.get("amnt_tr")
        if dc is None or not _is_int(amount):
            balance_ok = False
        else:
            sums[dc] += int(amount)
        stored.append(new)
    if balance_ok and details and sums[0] != sums[1]:
        errors.append(_error(g, MSG_UNBALANCED.format(sums[1], sums[0])))
    fund_errors, fund = _check_fund(g, slip, details, masters, infos)
    errors += fund_errors
    out.errors += errors
    if not errors:
        normal = copy.deepcopy(slip)
        normal.update(fund)
        normal["detail"] = stored
        out.slips.append(normal)
        out.informations.append(infos)


def _fund_format_ok(key: str, value: str) -> bool:
    top = 12 if key == "cd_fbcat" else 99
    return bool(re.fullmatch(r"[0-9]{2}", value)) and 1 <= int(value) <= top


def _check_fund(g: int, slip: Mapping[str, Any], details: list[Any], masters: Masters,
                infos: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The fund rule: errors, and the slip-level values FX stores (defaults or みなし).

    Reference §cd_fbcat/§cd_fbbdcat: with 資金管理機能, a slip holding both 資金科目 and
    非資金科目 requires 収支区分 and 内訳区分; unsent, they default from the 資金相手科目 of the
    non-fund account (its debit defaults when it is on the debit side — "1211:建物 / 資金科目"
    → 03/01 — its credit defaults when on the credit side). "※資金管理をする取引の場合のみ入力":
    sent on any other slip they are unneeded (みなし: emptied, with an information).
    Silent in the reference, the emulator's choices: with several non-fund lines, the first
    (in body order) that has a default for the field gives it; a sent pair must be one listed
    by fundbalancebreakdowns.
    """
    sent = {k: _str(slip, k) for k in ("cd_fbcat", "cd_fbbdcat")}
    if any(v is None or (v and not _fund_format_ok(k, v)) for k, v in sent.items()):
        return [], {}  # the schema or the format check already complained
    lines: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
    for det in details:
        code = det.get("cd_act") if isinstance(det, dict) else None
        act = masters.account(code) if isinstance(code, str) else None
        if act is not None and isinstance(det, dict):
            lines.append((det, act))
    fund = [a for _, a in lines if a.get("is_fundapplc") == 1]
    other = [(d, a) for d, a in lines if a.get("is_fundapplc") != 1]
    if not (masters.company.use_fund_management and fund and other):
        if any(sent.values()):
            infos.append({"groupno": g, "lineno": None, "content": OWN_MESSAGES["info_no_fund"]})
            return [], {"cd_fbcat": "", "cd_fbbdcat": ""}
        return [], {}
    values = {k: v or "" for k, v in sent.items()}
    for key in values:
        for other_line, other_act in other:
            if values[key]:
                break
            side = "dc" if other_line.get("is_ocr_dc") == 1 else "cc"
            values[key] = str(other_act.get(f"{key}_{side}") or "")
    errors = [_error(g, msg_bad(k)) for k, v in values.items() if not v]
    pairs = {(f["cd_fbcat"], f["cd_fbbdcat"]) for f in masters.fundbalancebreakdowns}
    if not errors and pairs and (values["cd_fbcat"], values["cd_fbbdcat"]) not in pairs:
        errors.append(_error(g, OWN_MESSAGES["fund_pair"]))
    return errors, values


def _check_detail(g: int, det: dict[str, Any], new: dict[str, Any], day: dt.date | None,
                  flags: Mapping[str, bool], masters: Masters, adds: Additions,
                  infos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Limits and master rules of one line; みなし changes go into ``new`` and ``infos``."""
    dc, line = _locate(det)
    errs: list[dict[str, Any]] = []

    def err(content: str) -> None:
        errs.append(_error(g, content, dc, line))

    def info(content: str) -> None:
        infos.append({"groupno": g, "lineno": line, "content": content})

    pos = det.get("pos_dsp")
    if _is_num(pos) and not (_is_int(pos) and 1 <= pos <= 60):
        err(msg_range("pos_dsp", "1~60の整数"))
    if _is_num(det.get("is_ocr_dc")) and dc is None:
        err(msg_range("is_ocr_dc", "1:借方, 0:貸方"))
    codes: dict[str, str | None] = {}
    for key, pattern in _DETAIL_CODES.items():
        v = codes[key] = _str(det, key) if key != "cd_act" or key in det else None
        if v is None:
            continue
        if (v or key == "cd_act") and not re.fullmatch(pattern, v):
            err(msg_bad(key))
            codes[key] = None
    for key, limit in (("nm_cstm", 40), ("rcj_slip", 80), ("nm_dep", 40), ("nm_auxact", 40)):
        v = det.get(key, "")
        if not isinstance(v, str):
            if key in ("nm_dep", "nm_auxact"):  # outside the schema, so typed here
                err(OWN_MESSAGES["type"].format(label=LABELS[key], kind="文字列"))
        elif text_width(v) > limit:
            err(msg_width(key, limit))
    for key in ("tptn", "tbptn"):
        v = _str(det, key)
        if v and not re.fullmatch(r"[0-9]{1,2}", v):
            err(msg_range(key, "半角数字2桁以内"))
    for key in ("amnt_tr", "amnt_cmtx"):
        v = det.get(key, 0)
        if _is_num(v) and not (_is_int(v) and -AMOUNT_LIMIT <= v <= AMOUNT_LIMIT):
            err(msg_range(key, "-99999999999~99999999999の整数"))
    for key in ("is_reduce_cmtxrate", "is_autocalccmtx"):
        if _is_num(det.get(key, 0)) and det.get(key, 0) not in (0, 1):
            err(msg_range(key, "0または1"))
    rate = det.get("cmtxrate", 0)
    if _is_num(rate) and not (_is_int(rate) and 0 <= rate <= 9999):
        err(msg_range("cmtxrate", "0~9999の整数"))
    cat = det.get("cat_purday", 9)
    if _is_num(cat) and cat not in (0, 1, 2, 3, 4, 9):
        err(msg_range("cat_purday", "0, 1, 2, 3, 4, 9"))
    _check_purday(det, new, cat, err, info)
    cd_act = codes["cd_act"]
    act = masters.account(cd_act) if cd_act else None
    if cd_act and act is None:
        err(msg_bad("cd_act"))
    if act is None:
        return errs
    _check_masters(det, new, codes, act, flags, masters, adds, err, info)
    _check_tax(det, new, act, day, masters, err, info)
    return errs


_Say = Callable[[str], None]


def _check_purday(det: Mapping[str, Any], new: dict[str, Any], cat: Any, err: _Say,
                  info: _Say) -> None:
    """Reference §ymd_purday2 table: 仕入れ日1 for 区分 1-4, 仕入れ日2 for 2 and 4, both null
    for 0 (入力省略) and 9 (入力不要); 月分 (3, 4) given as the 1st of the month. A date sent
    where the table says null is unneeded (みなし: emptied, with an information)."""
    for key, cats in (("ymd_purday1", (1, 2, 3, 4)), ("ymd_purday2", (2, 4))):
        v = _str(det, key)
        if v is None:
            continue
        when = parse_ymd(v) if v else None
        if (v and when is None) or (not v and cat in cats):
            err(msg_bad(key))
        elif when is not None and cat in (3, 4) and when.day != 1:
            err(msg_range(key, "月分の仕入れ日は1日で入力"))
        elif v and _is_num(cat) and cat not in cats:
            new[key] = ""
            info(OWN_MESSAGES["info_no_purday"])


def _check_masters(det: Mapping[str, Any], new: dict[str, Any], codes: Mapping[str, str | None],
                   act: Mapping[str, Any], flags: Mapping[str, bool], masters: Masters,
                   adds: Additions, err: _Say, info: _Say) -> None:
    aux, dep, cstm = codes["cd_auxact"], codes["cd_dep"], codes["cd_cstm"]
    cd_act = act["cd_act"]
    if act.get("is_useauxact") == 1:
        if aux == "":
            err(msg_bad("cd_auxact"))
        elif aux and not masters.has_auxact(cd_act, aux) and (cd_act, aux) not in adds.auxacts:
            if flags["is_add_auxmaster"]:
                adds.auxacts[(cd_act, aux)] = str(det.get("nm_auxact", ""))  # name sent is kept
            else:
                err(msg_bad("cd_auxact"))
        elif aux and "nm_auxact" in det:
            new["nm_auxact"] = next(a.get("nm_auxact", "") for a in masters.accounts  # ignored
                                    if a["cd_act"] == cd_act and a.get("cd_auxact") == aux)
    elif aux:
        new["cd_auxact"] = ""
        new.pop("nm_auxact", None)
        info(INFO_NO_AUX)
    if act.get("is_usedep") == 1 and masters.company.use_departments:
        # Reference §cd_dep: required when the company uses 部門別管理 and the account is
        # department-managed; otherwise a sent code is unneeded (みなし, documented message).
        if dep == "":
            err(msg_bad("cd_dep"))
        elif dep and masters.department(dep) is None and dep not in adds.departments:
            if flags["is_add_depmaster"]:
                adds.departments[dep] = str(det.get("nm_dep", ""))  # the name sent is kept
            else:
                err(msg_bad("cd_dep"))
        elif dep and (known_dep := masters.department(dep)) is not None and "nm_dep" in det:
            new["nm_dep"] = known_dep["nm_dep"]  # "部門名の入力値は無視され…"
    elif dep:
        new["cd_dep"] = ""
        new.pop("nm_dep", None)
        info(INFO_NO_DEP)
    name = det.get("nm_cstm", "")
    if act.get("is_usecstmldgr") == 1:
        if cstm:
            known = masters.customer(cstm)
            if known is not None:
                new["nm_cstm"] = known["nm_cstm"]  # FX ignores the sent name for a known code
            elif cstm not in adds.customers:
                if flags["is_add_cstmmaster"]:
                    adds.customers[cstm] = str(name)
                else:
                    err(msg_bad("cd_cstm"))
        elif cstm == "":
            # Reference §cd_cstm / §is_add_cstmmaster: "科目が取引先別元帳管理されている場合は、
            # 取引先コードが必須入力". A name alone (随時の取引先, §nm_cstm) does not satisfy it.
            err(msg_bad("cd_cstm"))
    elif cstm or (isinstance(name, str) and name):
        new["cd_cstm"] = ""
        new["nm_cstm"] = ""
        info(INFO_NO_CSTM)


def _check_tax(det: Mapping[str, Any], new: dict[str, Any], act: Mapping[str, Any],
               day: dt.date | None, masters: Masters, err: _Say, info: _Say) -> None:
    rate, reduce = det.get("cmtxrate", 0), det.get("is_reduce_cmtxrate", 0)
    if act.get("catcmtx") == 2:
        # みなし処理 (the reference's own example: 税率・税額 on 現金 / 当座預金 are zeroed).
        numbers = [k for k in ("cmtxrate", "amnt_cmtx", "is_reduce_cmtxrate")
                   if _is_num(det.get(k, 0)) and det.get(k, 0) != 0]
        # "0" is the empty value of a 区分 in the reference's own example (tptn "0" on 現金).
        texts = [k for k in ("tptn", "tbptn") if _str(det, k) not in ("", "0", None)]
        for k in numbers:
            new[k] = 0
        for k in texts:
            new[k] = ""
        if numbers or texts:
            info(INFO_NO_TAX)
        return
    if act.get("catcmtx") not in (1, 3, 4):
        return
    _check_rate(rate, reduce, day, masters, err)
    if act.get("catcmtx") == 1:
        _check_tax_required(det, rate, masters, err)
        _check_autocalc(det, new, rate, info)


def _check_rate(rate: Any, reduce: Any, day: dt.date | None, masters: Masters,
                err: _Say) -> None:
    """Reference §cmtxrate: "「税率テーブル」で登録されている消費税のみ入力が可能" — on every
    account where tax arises (catcmtx 1, and 3/4 仮払・仮受消費税), for the rates in force on
    the slip's date (consumptiontaxrates ymd_b..ymd_e) and its 軽減税率 flag. 0 = no rate."""
    if not (_is_int(rate) and rate != 0 and day is not None):
        return
    if not _is_num(reduce) or reduce not in (0, 1):
        return
    if not any(r["cmtxrate"] == rate and r["is_reduce_cmtxrate"] == reduce
               for r in masters.rates_on(day)):
        err(MSG_RATE)


def _check_tax_required(det: Mapping[str, Any], rate: Any, masters: Masters, err: _Say) -> None:
    """Company-dependent 必須入力 of the reference, on accounts where tax arises (catcmtx 1):
    §tptn — 消費税申告書を作成する; §tbptn — 主たる事業区分を管理する and tptn 1 or 11;
    §amnt_cmtx — 申告書を作成する, 税抜経理, and tax arises (here: a non-zero cmtxrate).
    Silent in the reference: which 課税区分 make tax arise (別表 not included), so
    is_reduce_cmtxrate / cmtxrate / cat_purday "必須入力" cannot be told from tptn; their
    documented defaults (0, 0, 9) are accepted as given."""
    company = masters.company
    tptn = _str(det, "tptn")
    if company.makes_tax_return and tptn == "":
        err(msg_bad("tptn"))
    if company.manages_main_business and tptn in ("1", "11") and _str(det, "tbptn") == "":
        err(msg_bad("tbptn"))
    if (company.makes_tax_return and company.tax_excluded and _is_num(rate) and rate != 0
            and det.get("amnt_cmtx", 0) == 0):
        err(msg_bad("amnt_cmtx"))


def _check_autocalc(det: Mapping[str, Any], new: dict[str, Any], rate: Any, info: _Say) -> None:
    """Reference §is_autocalccmtx: "「1: 消費税額自動計算」であっても、取引金額と税率から求めた
    消費税額と、指定された消費税額が不一致であれば、0として更新する". The amount includes the
    tax (§cmtxrate: 取引金額 110000, 消費税額 10000, 税率 1000). The rounding is a company
    setting the reference does not give: the emulator accepts the value rounded down or up."""
    amount, tax = det.get("amnt_tr"), det.get("amnt_cmtx", 0)
    if det.get("is_autocalccmtx") != 1 or not (_is_int(amount) and _is_int(rate)
                                               and _is_int(tax)):
        return
    exact = Fraction(int(amount) * int(rate), 10000 + int(rate))
    if int(tax) not in (math.floor(exact), math.ceil(exact)):
        new["amnt_cmtx"] = 0
        info(OWN_MESSAGES["info_autocalc"])
