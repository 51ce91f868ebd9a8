"""The review workbook's サマリー sheet: status, counts and totals cross-checked against the request bodies.

The totals are counted twice — from the converted detail lines and again from the request bodies
as FX will read them — so a converter bug shows as a difference that is not 0 before anything is sent.
Written by :func:`converter.review.workbook.write_review`, on the shared looks of :mod:`converter.review.styles`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from converter.convert.pipeline import Conversion
from converter.convert.validate import fx_width
from converter.fx_rules import DEBIT
from converter.review.styles import NOTICES, PROBLEMS, SKIPPED, SLIPS, SUMMARY, UNMAPPED, Styles, as_cell, page_setup


@dataclass(frozen=True)
class _S:
    """A summary value with its own style (a section title, a difference that is not 0 …)."""

    value: Any
    style: str


def body_details(conversion: Conversion) -> pd.DataFrame:
    """Detail objects of the request bodies as FX reads them (a field left out is FX's default 0)."""
    rows = [(d.get("cd_act", ""), d["is_ocr_dc"], d["amnt_tr"], d.get("amnt_cmtx", 0), d.get("tptn", ""),
             d.get("cmtxrate", 0), d.get("is_reduce_cmtxrate", 0))
            for request in conversion.requests for slip in request.body["slips"] for d in slip["detail"]]
    return pd.DataFrame(rows, columns=list(_DETAIL)).astype(_DETAIL)


_DETAIL: dict[str, Any] = {"cd_act": object, "side": "int64", "amount": "int64", "tax_amount": "int64",
                           "tptn": object, "cmtxrate": "int64", "is_reduce": "int64"}


def _source_details(lines: pd.DataFrame) -> pd.DataFrame:
    """The same columns from the detail lines, plus the source names behind the codes."""
    frame = lines[["cd_act", "side", "amount", "tax_amount", "tptn", "account", "tax"]].assign(
        cmtxrate=lines["cmtxrate"].fillna(0), is_reduce=lines["is_reduce_cmtxrate"].fillna(0))
    return frame.astype(_DETAIL)


def _names(src: pd.DataFrame, keys: list[str], column: str) -> dict[tuple[Any, ...], str]:
    named = src[src[column] != ""]
    groups = named.groupby(keys)[column]
    return {k if isinstance(k, tuple) else (k,): "・".join(dict.fromkeys(v)) for k, v in groups}


def _compare(
    src: pd.DataFrame, body: pd.DataFrame | None, keys: list[str], values: list[str]
) -> pd.DataFrame:
    """Source vs body totals per key: ``<v>``, ``<v>_body`` (NA without bodies), ``<v>_diff``."""
    def totals(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.assign(debit=frame["amount"].where(frame["side"] == DEBIT, 0),
                             credit=frame["amount"].where(frame["side"] != DEBIT, 0))
        return frame.groupby(keys)[values].sum()

    out = totals(src)
    if body is None:
        for v in values:
            out[f"{v}_body"] = pd.NA
            out[f"{v}_diff"] = pd.NA
        return out.reset_index()
    out = out.join(totals(body).add_suffix("_body"), how="outer").fillna(0).astype("int64")
    for v in values:
        out[f"{v}_diff"] = out[v] - out[f"{v}_body"]
    return out.reset_index()


def write_summary(wb: Workbook, styles: Styles, conv: Conversion, body: pd.DataFrame | None,
                  slip_sheets: int) -> None:
    """Column A holds labels and codes, B names, C onwards numbers, so every section lines up."""
    s = conv.summary()
    src = _source_details(conv.lines)
    accounts = _compare(src, body, ["cd_act"], ["debit", "credit"])
    taxes = _compare(src, body, ["tptn", "cmtxrate", "is_reduce", "side"], ["amount", "tax_amount"])
    diffs = [accounts[["debit_diff", "credit_diff"]], taxes[["amount_diff", "tax_amount_diff"]]]
    mismatch = body is not None and any(bool((d.fillna(0) != 0).any().any()) for d in diffs)
    rows: list[list[Any]] = []

    def add(*values: Any) -> None:
        rows.append(list(values))

    def section(title: str, *header: str) -> None:
        add()
        add(_S(title, "section"))
        add(*(_S(h, "header") for h in header))

    def diff(value: int) -> Any:
        return _S(value, "wrong") if value != 0 else value

    if conv.problems:
        status = f"エラー {len(conv.problems)} 件 — 送信できません"
        why = ("「エラー」シートの内容を直して、もう一度 preview してください。エラーがある間は送信内容 "
               "(request body) を作らないため、合計の「送信」欄は — です。")
    elif mismatch:
        status = "合計不一致 — 送信しないでください"
        why = "明細と送信内容の合計が合いません。変換ツールの不具合です。"
    elif not len(conv.lines):
        status, why = "送信する仕訳がありません", f"すべての帳票が対象外です (「{SKIPPED}」シート)。"
    else:
        status = "送信可能"
        why = (f"仕訳 {s['slips']:,} 件 (明細 {s['detail_lines']:,} 行) を {s['requests']} 回に分けて"
               "送信します。下の合計の差額がすべて 0 であることを確認してください。")
    banner = "ng" if conv.problems or mismatch else "ok"
    add(_S(status, banner), *(_S(None, banner) for _ in range(5)))
    add(_S(why, "note"))
    add(_S(f"会社 {conv.settings.ocode} ・ マッピング {conv.mappings.folder} ・ "
           f"プロファイル {conv.profile.name}", "note"))

    section("入力ファイル", "ファイル", "文字コード", "プロファイル", "シート", "行数")
    for f in conv.files:
        add(f.path, f.encoding, f.profile, f.sheet or None, f.rows)

    more = f" ほか {slip_sheets - 1} シート" if slip_sheets > 1 else ""
    section("件数", "項目", "件数", "補足")
    for label, count, note in (
        ("帳票", s["documents"], "取引種別 + 帳票番号 + 取引日 ごと"),
        ("仕訳 (伝票)", s["slips"], "片側 60 行を超える帳票は分割"),
        ("明細行", s["detail_lines"], f"「{SLIPS}」シート{more}"),
        ("送信回数", s["requests"] if conv.ok else "—",
         "1 回 2,000 明細まで" if conv.ok else "エラーがあるため送信内容を作っていません"),
        ("スキップ", s["skipped"], f"うち 0円の帳票 {s['skipped_zero_yen']} 件 (「{SKIPPED}」シート)"),
        ("エラー", s["problems"], f"「{PROBLEMS}」シート"),
        ("お知らせ", len(conv.notices), f"エラーではありません (「{NOTICES}」シート)"),
        ("未設定マッピング", len(conv.unmapped), f"「{UNMAPPED}」シート"),
    ):
        add(label, _S(count, "dash") if count == "—" else count, _S(note, "note"))
    if slip_sheets > 1:
        add(_S(f"明細が 1 シートの上限を超えるため「{SLIPS}」〜「{SLIPS}({slip_sheets})」の {slip_sheets} "
               "シートに分けています。", "note"))

    docs = conv.documents
    if len(docs):
        title = "送信単位" + ("" if conv.ok else " (予定)")
        section(title, "回", "連携番号 (journo_read)", "帳票", "伝票", "明細")
        plan = docs.groupby("request", as_index=False).agg(
            docs=("doc", "size"), slips=("slips", "sum"), lines=("lines", "sum"),
            first=("journo_read", "min"), last=("journo_read", "max"))
        for q in plan.to_dict("records"):
            counts = (int(q[k]) for k in ("docs", "slips", "lines"))
            add(f"{q['request']} 回目", f"{q['first']} 〜 {q['last']}", *counts)

    debit, credit = s["debit_total"], s["credit_total"]
    section("貸借合計", "", "判定", "借方", "貸方", "差額")
    verdict = "一致" if debit == credit else _S("不一致", "wrong")
    add("明細 (変換結果)", verdict, debit, credit, diff(debit - credit))
    if body is None:
        add("送信 (request body)", _S("エラーのため未作成", "note"), *(_S("—", "dash") for _ in range(3)))
    else:
        b_debit, b_credit = int(accounts["debit_body"].sum()), int(accounts["credit_body"].sum())
        same = b_debit == b_credit == debit
        add("送信 (request body)", "一致" if same else _S("不一致", "wrong"), b_debit, b_credit,
            diff(b_debit - b_credit))
    add(_S("明細 = 変換した明細行の合計、送信 = 送信内容 (request body) の amnt_tr / amnt_cmtx を"
           "数え直した合計。差額はすべて 0 のはずです。", "note"))

    account_names = dict(zip(conv.mappings.accounts["cd_act"], conv.mappings.accounts["name"], strict=True))
    source_names = _names(src, ["cd_act"], "account")
    section("勘定科目別 合計", "科目 (cd_act)", "科目名", "借方 明細", "借方 送信", "借方 差額",
            "貸方 明細", "貸方 送信", "貸方 差額")
    for a in accounts.to_dict("records"):
        name = account_names.get(a["cd_act"]) or source_names.get((a["cd_act"],), "")
        add(a["cd_act"] or "(未設定)", name, *_triple(a, "debit", diff), *_triple(a, "credit", diff))

    tax_names = _names(src, ["tptn", "cmtxrate", "is_reduce", "side"], "tax")
    section("税区分別 合計", "課税区分 (tptn)", "税区分", "税率%", "軽減", "貸借", "金額 明細", "金額 送信",
            "金額 差額", "税額 明細", "税額 送信", "税額 差額")
    for t in taxes.to_dict("records"):
        key = (t["tptn"], t["cmtxrate"], t["is_reduce"], t["side"])
        add(t["tptn"] or "(なし)", tax_names.get(key, ""), t["cmtxrate"] / 100 if t["cmtxrate"] else None,
            "軽減" if t["is_reduce"] else None, "借" if t["side"] == DEBIT else "貸",
            *_triple(t, "amount", diff), *_triple(t, "tax_amount", diff))
    if (taxes["tptn"] == "").any():
        # The reference: tptn is optional, default 空文字 (required only where FX makes 消費税申告書).
        add()
        add(_S("(なし) = 元データの税区分が空欄の明細です。課税区分 (tptn) を送らず、FX の既定値 (空文字 = "
               "課税区分なし) になります。", "note"))
    _write_rows(wb, styles, rows)


def _triple(totals: dict[Any, Any], name: str, diff: Any) -> tuple[Any, Any, Any]:
    """明細 / 送信 / 差額 of one total ("—" when there are no bodies to compare with)."""
    if pd.isna(totals[f"{name}_body"]):
        return int(totals[name]), _S("—", "dash"), _S("—", "dash")
    return int(totals[name]), int(totals[f"{name}_body"]), diff(int(totals[f"{name}_diff"]))


_RUN_ON = {"section", "note", "ok", "ng"}


def _write_rows(wb: Workbook, styles: Styles, rows: list[list[Any]]) -> None:
    ws = wb.create_sheet(SUMMARY)
    for i in range(max(len(values) for values in rows)):
        # Titles and notes run on into the empty cells to their right, so only data sets widths.
        shown = [_shown(v[i]) for v in rows
                 if i < len(v) and not (isinstance(v[i], _S) and v[i].style in _RUN_ON)]
        width = int(fx_width(pd.Series(shown, dtype=object)).max()) if shown else 8
        ws.column_dimensions[get_column_letter(i + 1)].width = min(max(width + 2, 10), 50)
    ws.freeze_panes = "A2"  # the status line stays in view
    page_setup(ws)
    named = {"section": styles.section, "header": styles.header, "ok": styles.ok, "ng": styles.ng,
             "wrong": styles.wrong, "note": styles.note, "dash": styles.dash}
    for values in rows:
        cells = []
        for v in values:
            if isinstance(v, _S):
                cells.append(as_cell(ws, v.value, "text", styles, style=named[v.style]))
            else:
                cells.append(as_cell(ws, v, "amount" if isinstance(v, int) else "text", styles))
        ws.append(cells)


def _shown(value: Any) -> str:
    value = value.value if isinstance(value, _S) else value
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) else str(value)
