"""The slips/import rules of the FX emulator: request schema, documented limits, みなし処理.

Pure functions over plain dicts. :mod:`converter.emulator.server` owns state, locking and HTTP; this
module only answers "what would FX say about this request body?" given the company's masters.

Entry point: :func:`check_request` → :class:`ImportOutcome` (errors, or normalised slips plus
informations plus the master records a successful import would add).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from converter.emulator.details import check_detail
from converter.emulator.fields import (
    LABELS,
    MSG_DUPLICATE,
    MSG_NO_DETAIL,
    MSG_TOO_MANY,
    MSG_UNBALANCED,
    OWN_MESSAGES,
    TYPE_NAMES,
    error_entry,
    is_int,
    is_num,
    locate,
    msg_bad,
    msg_range,
    str_field,
)
from converter.emulator.masters import Additions, Masters, parse_ymd

MAX_DETAILS_PER_REQUEST = 2000

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

def parse_body(body: bytes) -> Any:
    """JSON as the API would parse it; NaN/Infinity are not JSON, so they are refused too."""

    def _no_constant(name: str) -> Any:
        raise ValueError(name)

    return json.loads(body.decode("utf-8"), parse_constant=_no_constant)


@dataclass
class ImportOutcome:
    errors: list[dict[str, Any]] = field(default_factory=list)
    slips: list[dict[str, Any]] = field(default_factory=list)  # normalised, request order
    informations: list[list[dict[str, Any]]] = field(default_factory=list)  # per slip
    additions: Additions = field(default_factory=Additions)
    forbidden: str | None = None  # a 403 message: the import would add a master it may not



def _schema_errors(doc: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for err in _VALIDATOR.iter_errors(doc):
        path = list(err.absolute_path)
        g = path[1] + 1 if len(path) >= 2 and path[0] == "slips" else None
        dc = line = None
        if g is not None and len(path) >= 4 and path[2] == "detail":
            det = doc["slips"][path[1]]["detail"][path[3]]
            dc, line = locate(det) if isinstance(det, dict) else (None, None)
        if err.validator == "required":
            missing = [k for k in err.validator_value if k not in err.instance]
            out += [error_entry(g, OWN_MESSAGES["required"].format(label=LABELS.get(k, k)), dc, line)
                    for k in missing]
        else:
            key = next((p for p in reversed(path) if isinstance(p, str)), "slips")
            kind = TYPE_NAMES.get(str(err.validator_value), str(err.validator_value))
            text = OWN_MESSAGES["type"].format(label=LABELS.get(key, key), kind=kind)
            out.append(error_entry(g, text, dc, line))
    # jsonschema yields one `required` failure per missing key, each naming the whole list.
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for e in out:
        if (k := tuple(e.values())) not in seen:
            seen.add(k)
            unique.append(e)
    return unique



def check_request(doc: Any, masters: Masters) -> ImportOutcome:
    """Every error FX would report for this body; if none, the slips as FX would store them."""
    out = ImportOutcome(errors=_schema_errors(doc))
    if not isinstance(doc, dict) or not isinstance(doc.get("slips"), list):
        return out
    slips = doc["slips"]
    total = sum(len(s["detail"]) for s in slips
                if isinstance(s, dict) and isinstance(s.get("detail"), list))
    if total > MAX_DETAILS_PER_REQUEST:
        out.errors.append(error_entry(None, MSG_TOO_MANY.format(total)))
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


_SLIP_FORMATS: dict[str, tuple[str, str]] = {
    "journo": (r"[0-9]{0,5}", "半角数字5桁以内"),
    "journo_read": (r"[0-9]{0,6}", "半角数字6桁以内"),
    "vouno": (r"[0-9A-Za-z]{0,6}", "半角英数字6桁以内"),
}
def _check_slip(g: int, slip: dict[str, Any], masters: Masters, out: ImportOutcome) -> None:
    errors: list[dict[str, Any]] = []
    ymd = str_field(slip, "ymd_tr")
    day = parse_ymd(ymd) if ymd is not None else None
    if ymd is not None and "ymd_tr" in slip and day is None:
        errors.append(error_entry(g, msg_bad("ymd_tr")))
    for key, (pattern, rule) in _SLIP_FORMATS.items():
        v = str_field(slip, key)
        if v is not None and not re.fullmatch(pattern, v):
            errors.append(error_entry(g, msg_range(key, rule)))
        elif v and key == "vouno" and masters.company.vouno_digits_only and not v.isdigit():
            # Reference §vouno: "証憑番号を「数字のみ入力」の設定の場合、半角数字".
            errors.append(error_entry(g, msg_range(key, "半角数字6桁以内")))
    coop = str_field(slip, "cd_coopsystem")
    if coop is not None and "cd_coopsystem" in slip and len(coop) != 2:
        errors.append(error_entry(g, msg_bad("cd_coopsystem")))
    for key, top in (("cd_fbcat", 12), ("cd_fbbdcat", 99)):
        v = str_field(slip, key)
        if v and not (re.fullmatch(r"[0-9]{2}", v) and 1 <= int(v) <= top):
            errors.append(error_entry(g, msg_bad(key)))
    flags = {}
    for key in ("is_add_depmaster", "is_add_cstmmaster", "is_add_auxmaster"):
        v = slip.get(key, 0)
        if is_num(v) and v not in (0, 1):
            errors.append(error_entry(g, msg_range(key, "0または1")))
        flags[key] = v == 1
    details = slip.get("detail")
    if not isinstance(details, list):
        out.errors += errors
        return
    if not details:
        errors.append(error_entry(g, MSG_NO_DETAIL))
    stored: list[dict[str, Any]] = []
    infos: list[dict[str, Any]] = []
    seen: set[tuple[int, int]] = set()
    sums = {0: 0, 1: 0}
    balance_ok = True
    for det in details:
        if not isinstance(det, dict):
            balance_ok = False
            continue
        dc, line = locate(det)
        new = copy.deepcopy(det)
        errors += check_detail(g, det, new, day, flags, masters, out.additions, infos)
        if dc is not None and line is not None:
            if (dc, line) in seen:
                errors.append(error_entry(g, MSG_DUPLICATE, dc, line))
            seen.add((dc, line))
        amount = det.get("amnt_tr")
        if dc is None or not is_int(amount):
            balance_ok = False
        else:
            sums[dc] += int(amount)
        stored.append(new)
    if balance_ok and details and sums[0] != sums[1]:
        errors.append(error_entry(g, MSG_UNBALANCED.format(sums[1], sums[0])))
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
    sent = {k: str_field(slip, k) for k in ("cd_fbcat", "cd_fbbdcat")}
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
    errors = [error_entry(g, msg_bad(k)) for k, v in values.items() if not v]
    pairs = {(f["cd_fbcat"], f["cd_fbbdcat"]) for f in masters.fundbalancebreakdowns}
    if not errors and pairs and (values["cd_fbcat"], values["cd_fbbdcat"]) not in pairs:
        errors.append(error_entry(g, OWN_MESSAGES["fund_pair"]))
    return errors, values
