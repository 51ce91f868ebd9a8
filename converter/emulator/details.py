"""The detail-line rules of the emulator's slips/import: codes against the masters, tax, 仕入れ日.

Called by :func:`converter.emulator.slips.check_request` for every detail line of a slip.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from converter.emulator.fields import (
    AMOUNT_LIMIT,
    DETAIL_CODES,
    INFO_NO_AUX,
    INFO_NO_CSTM,
    INFO_NO_DEP,
    INFO_NO_TAX,
    LABELS,
    MSG_RATE,
    OWN_MESSAGES,
    error_entry,
    is_int,
    is_num,
    locate,
    msg_bad,
    msg_range,
    msg_width,
    str_field,
    text_width,
)
from converter.emulator.masters import Additions, Masters, parse_ymd


def check_detail(g: int, det: dict[str, Any], new: dict[str, Any], day: dt.date | None,
                  flags: Mapping[str, bool], masters: Masters, adds: Additions,
                  infos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Limits and master rules of one line; みなし changes go into ``new`` and ``infos``."""
    dc, line = locate(det)
    errs: list[dict[str, Any]] = []

    def err(content: str) -> None:
        errs.append(error_entry(g, content, dc, line))

    def info(content: str) -> None:
        infos.append({"groupno": g, "lineno": line, "content": content})

    pos = det.get("pos_dsp")
    if is_num(pos) and not (is_int(pos) and 1 <= pos <= 60):
        err(msg_range("pos_dsp", "1~60の整数"))
    if is_num(det.get("is_ocr_dc")) and dc is None:
        err(msg_range("is_ocr_dc", "1:借方, 0:貸方"))
    codes: dict[str, str | None] = {}
    for key, pattern in DETAIL_CODES.items():
        v = codes[key] = str_field(det, key) if key != "cd_act" or key in det else None
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
        v = str_field(det, key)
        if v and not re.fullmatch(r"[0-9]{1,2}", v):
            err(msg_range(key, "半角数字2桁以内"))
    for key in ("amnt_tr", "amnt_cmtx"):
        v = det.get(key, 0)
        if is_num(v) and not (is_int(v) and -AMOUNT_LIMIT <= v <= AMOUNT_LIMIT):
            err(msg_range(key, "-99999999999~99999999999の整数"))
    for key in ("is_reduce_cmtxrate", "is_autocalccmtx"):
        if is_num(det.get(key, 0)) and det.get(key, 0) not in (0, 1):
            err(msg_range(key, "0または1"))
    rate = det.get("cmtxrate", 0)
    if is_num(rate) and not (is_int(rate) and 0 <= rate <= 9999):
        err(msg_range("cmtxrate", "0~9999の整数"))
    cat = det.get("cat_purday", 9)
    if is_num(cat) and cat not in (0, 1, 2, 3, 4, 9):
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
        v = str_field(det, key)
        if v is None:
            continue
        when = parse_ymd(v) if v else None
        if (v and when is None) or (not v and cat in cats):
            err(msg_bad(key))
        elif when is not None and cat in (3, 4) and when.day != 1:
            err(msg_range(key, "月分の仕入れ日は1日で入力"))
        elif v and is_num(cat) and cat not in cats:
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
                   if is_num(det.get(k, 0)) and det.get(k, 0) != 0]
        # "0" is the empty value of a 区分 in the reference's own example (tptn "0" on 現金).
        texts = [k for k in ("tptn", "tbptn") if str_field(det, k) not in ("", "0", None)]
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
    if not (is_int(rate) and rate != 0 and day is not None):
        return
    if not is_num(reduce) or reduce not in (0, 1):
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
    tptn = str_field(det, "tptn")
    if company.makes_tax_return and tptn == "":
        err(msg_bad("tptn"))
    if company.manages_main_business and tptn in ("1", "11") and str_field(det, "tbptn") == "":
        err(msg_bad("tbptn"))
    if (company.makes_tax_return and company.tax_excluded and is_num(rate) and rate != 0
            and det.get("amnt_cmtx", 0) == 0):
        err(msg_bad("amnt_cmtx"))


def _check_autocalc(det: Mapping[str, Any], new: dict[str, Any], rate: Any, info: _Say) -> None:
    """Reference §is_autocalccmtx: "「1: 消費税額自動計算」であっても、取引金額と税率から求めた
    消費税額と、指定された消費税額が不一致であれば、0として更新する". The amount includes the
    tax (§cmtxrate: 取引金額 110000, 消費税額 10000, 税率 1000). The rounding is a company
    setting the reference does not give: the emulator accepts the value rounded down or up."""
    amount, tax = det.get("amnt_tr"), det.get("amnt_cmtx", 0)
    if det.get("is_autocalccmtx") != 1 or not (is_int(amount) and is_int(rate)
                                               and is_int(tax)):
        return
    exact = Fraction(int(amount) * int(rate), 10000 + int(rate))
    if int(tax) not in (math.floor(exact), math.ceil(exact)):
        new["amnt_cmtx"] = 0
        info(OWN_MESSAGES["info_autocalc"])
