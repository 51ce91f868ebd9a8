"""The slips/import rules of the FX emulator: request schema, documented limits, みなし処理.

Pure functions over plain dicts. :mod:`converter.emulator` owns state, locking and HTTP; this
module only answers "what would FX say about this request body?" given the company's masters.

Entry point: :func:`check_request` → :class:`ImportOutcome` (errors, or normalised slips plus
informations plus the master records a successful import would add).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import jsonschema

from converter.emulator_masters import Additions, Masters, parse_ymd

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

MSG_PARSE = "JSONを解析できません"
MSG_TOO_MANY = "1回に送信できる仕訳明細は2000明細までです(送信された明細: {}明細)"
MSG_NO_DETAIL = "仕訳明細が入力されていません"
MSG_DUPLICATE = "同一の貸借・同一の表示位置に複数の明細が入力されています"
MSG_UNBALANCED = "借方合計と貸方合計が一致しません(借方合計: {}, 貸方合計: {})"
MSG_RATE = "取引年月日に適用できない消費税率が入力されています"
MSG_CSTM_REQUIRED = "取引先別管理している科目です。取引先コードまたは取引先名を入力してください"
INFO_NO_TAX = "消費税が発生しない科目です。税率・税額を0として読込みました"
INFO_NO_DEP = "部門コードが不要な取引です。部門コードを消去して読込みました"
INFO_NO_AUX = "口座コードが不要な取引です。口座コードを消去して読込みました"
INFO_NO_CSTM = "取引先が不要な取引です。取引先を消去して読込みました"


def msg_bad(key: str) -> str:
    """The reference's wording for a missing or wrong code (勘定科目コードが入力されていないか…)."""
    label = LABELS[key]
    return f"{label}が入力されていないか、誤った{label}が入力されています"


def msg_range(key: str, rule: str) -> str:
    return f"{LABELS[key]}に誤った値が入力されています({rule})"


def msg_width(key: str, limit: int) -> str:
    return f"{LABELS[key]}は全角{limit // 2}文字・半角{limit}文字以内で入力してください"


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
            out += [_error(g, f"{LABELS.get(k, k)}が入力されていません", dc, line) for k in missing]
        else:
            key = next((p for p in reversed(path) if isinstance(p, str)), "slips")
            kind = _TYPE_NAMES.get(str(err.validator_value), str(err.validator_value))
            text = f"{LABELS.get(key, key)}の形式が正しくありません({kind}で入力してください)"
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
    if out.errors:
        # Request-level errors first, then by slip; stable, so each slip keeps its own order.
        out.errors.sort(key=lambda e: -1 if e["groupno"] is None else e["groupno"])
        out.slips, out.informations, out.additions = [], [], Additions()
    return out


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
    out.errors += errors
    if not errors:
        normal = copy.deepcopy(slip)
        normal["detail"] = stored
        out.slips.append(normal)
        out.informations.append(infos)


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
                err(f"{LABELS[key]}の形式が正しくありません(文字列で入力してください)")
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
    for key, cats in (("ymd_purday1", (1, 2, 3, 4)), ("ymd_purday2", (2, 4))):
        v = _str(det, key)
        if v is None:
            continue
        when = parse_ymd(v) if v else None
        if (v and when is None) or (not v and cat in cats):
            err(msg_bad(key))
        elif when is not None and cat in (3, 4) and when.day != 1:
            err(msg_range(key, "月分の仕入れ日は1日で入力"))
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
                adds.auxacts[(cd_act, aux)] = str(det.get("nm_auxact", ""))
            else:
                err(msg_bad("cd_auxact"))
    elif aux:
        new["cd_auxact"] = ""
        new.pop("nm_auxact", None)
        info(INFO_NO_AUX)
    if act.get("is_usedep") == 1:
        if dep == "":
            err(msg_bad("cd_dep"))
        elif dep and masters.department(dep) is None and dep not in adds.departments:
            if flags["is_add_depmaster"]:
                adds.departments[dep] = str(det.get("nm_dep", ""))
            else:
                err(msg_bad("cd_dep"))
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
        elif cstm == "" and not name:
            err(MSG_CSTM_REQUIRED)
    elif cstm or (isinstance(name, str) and name):
        new["cd_cstm"] = ""
        new["nm_cstm"] = ""
        info(INFO_NO_CSTM)


def _check_tax(det: Mapping[str, Any], new: dict[str, Any], act: Mapping[str, Any],
               day: dt.date | None, masters: Masters, err: _Say, info: _Say) -> None:
    rate, reduce = det.get("cmtxrate", 0), det.get("is_reduce_cmtxrate", 0)
    if act.get("catcmtx") == 2:
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
    elif act.get("catcmtx") == 1 and _is_int(rate) and rate != 0 and day is not None:
        if not _is_num(reduce) or reduce not in (0, 1):
            return
        ok = any(r["cmtxrate"] == rate and r["is_reduce_cmtxrate"] == reduce
                 for r in masters.rates_on(day))
        if not ok:
            err(MSG_RATE)
