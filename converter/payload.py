"""Payload stage: numbered detail lines → FX slips/import request bodies, ≤2000 lines each.

Bodies follow the reference schema exactly. Optional fields that carry nothing are left out:
the API's みなし処理 asks callers not to send fields a slip does not need. All slips of one
source document go in the same request, so a document's upload state is all-or-nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .config import Settings
from .errors import Problem

MAX_LINES_PER_REQUEST = 2000
JOURNO_READ_MAX = 999_999


@dataclass(frozen=True)
class Request:
    """One POST body and what it carries, so answers can be traced back to documents."""

    number: int
    body: dict[str, Any]
    docs: tuple[str, ...]  # document keys, in order
    slip_keys: tuple[str, ...]  # groupno - 1 → slip key
    lines: int

    def to_json(self) -> bytes:
        """The exact bytes that are POSTed (UTF-8, no ASCII escaping, compact)."""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def plan_chunks(docs: pd.DataFrame) -> tuple[pd.Series, list[Problem]]:
    """Request number per document: greedy packing in document order, never splitting one."""
    number, used = 1, 0
    numbers = []
    problems = []
    for doc, size, file, row in docs[["doc", "lines", "file", "row"]].itertuples(index=False, name=None):
        if size > MAX_LINES_PER_REQUEST:
            problems.append(Problem(str(file), int(row), "", doc.split("|")[1], "request_size",
                                    f"1 帳票の明細が {size} 行あり、1 回の送信上限 {MAX_LINES_PER_REQUEST} "
                                    "明細を超えます。帳票を分けてください", document=doc))
        if used and used + size > MAX_LINES_PER_REQUEST:
            number, used = number + 1, 0
        numbers.append(number)
        used += size
    return pd.Series(numbers, index=docs.index, dtype="int64"), problems


_TEXT_FIELDS = ("cd_dep", "cd_act", "cd_auxact", "cd_cstm", "nm_cstm", "tptn", "tbptn")
_NONZERO_FIELDS = ("is_reduce_cmtxrate", "cmtxrate", "is_autocalccmtx")


def _details(lines: pd.DataFrame) -> list[dict[str, Any]]:
    """Detail objects in line order, with empty optional fields omitted."""
    cols = {name: lines[name].tolist() for name in (*_TEXT_FIELDS, "rcj_slip")}
    ints = {name: lines[name].fillna(0).astype("int64").tolist() for name in _NONZERO_FIELDS}
    cat_purday = lines["cat_purday"].astype("Int64").tolist()
    pos = lines["pos_dsp"].tolist()
    side = lines["side"].tolist()
    amount = lines["amount"].tolist()
    tax = lines["tax_amount"].tolist()
    out = []
    for i in range(len(lines)):
        d: dict[str, Any] = {"pos_dsp": pos[i], "is_ocr_dc": side[i]}
        for name in _TEXT_FIELDS:
            value = cols[name][i]
            if value:
                d[name] = value
        d["amnt_tr"] = amount[i]
        if tax[i]:
            d["amnt_cmtx"] = tax[i]
        for name in _NONZERO_FIELDS:
            if ints[name][i]:
                d[name] = ints[name][i]
        if cat_purday[i] is not pd.NA:
            d["cat_purday"] = int(cat_purday[i])
        if cols["rcj_slip"][i]:
            d["rcj_slip"] = cols["rcj_slip"][i]
        out.append(d)
    return out


def build_requests(
    lines: pd.DataFrame,
    docs: pd.DataFrame,
    settings: Settings,
    journos: Mapping[str, int] | None = None,
) -> list[Request]:
    """Request bodies for the documents in ``docs`` (which carry ``journo_read`` and ``request``)."""
    if docs.empty:
        return []
    keep = lines[lines["doc"].isin(docs["doc"])]
    info = docs.set_index("doc")
    journo_reads = {str(k): int(v) for k, v in info["journo_read"].items()}
    order = keep.assign(_req=keep["doc"].map(info["request"]), _seq=range(len(keep)))
    order = order.sort_values(["_req", "_seq"], kind="stable")
    details = _details(order)
    slip_head: dict[str, Any] = {"cd_coopsystem": settings.cd_coopsystem}
    for flag in ("is_add_depmaster", "is_add_cstmmaster", "is_add_auxmaster"):
        if getattr(settings, flag):
            slip_head[flag] = 1

    requests: list[Request] = []
    slips: list[dict[str, Any]] = []
    slip_keys: list[str] = []
    req_docs: list[str] = []
    current_req = None
    current_slip = None
    n_lines = 0
    columns = order[["_req", "slip_key", "doc", "date"]].itertuples(index=False, name=None)
    for detail, (req, slip_key, doc, date) in zip(details, columns, strict=True):
        if req != current_req:
            if current_req is not None:
                requests.append(Request(int(current_req), {"slips": slips}, tuple(req_docs),
                                        tuple(slip_keys), n_lines))
            slips, slip_keys, req_docs, n_lines, current_req = [], [], [], 0, req
            current_slip = None
        if slip_key != current_slip:
            slip: dict[str, Any] = {"ymd_tr": date}
            if journos is not None and slip_key in journos:
                slip["journo"] = str(journos[slip_key])
            slip["journo_read"] = str(journo_reads[doc])
            slip.update(slip_head)
            slip["detail"] = []
            slips.append(slip)
            slip_keys.append(slip_key)
            if not req_docs or req_docs[-1] != doc:
                req_docs.append(doc)
            current_slip = slip_key
        slips[-1]["detail"].append(detail)
        n_lines += 1
    if current_req is not None:
        requests.append(Request(int(current_req), {"slips": slips}, tuple(req_docs),
                                tuple(slip_keys), n_lines))
    return requests


def write_requests(requests: list[Request], folder: Path) -> list[Path]:
    """``request-0001.json`` … exactly as they would be POSTed; user-only permissions."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("request-*.json"):
        old.unlink()  # a stale request file from an earlier run must never look current
    paths = []
    for request in requests:
        path = folder / f"request-{request.number:04d}.json"
        path.write_bytes(request.to_json())
        path.chmod(0o600)
        paths.append(path)
    return paths
