"""Text reports of the commands: a conversion, an upload, a check's findings, CI formats."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from converter.cli import ci_formats
from converter.cli.table import table
from converter.convert.pipeline import Conversion
from converter.errors import Problem
from converter.fx.answers import MessageKind
from converter.keys import REVERSAL, document_of, parse
from converter.ledger.unresolved import ORIGIN_LABELS
from converter.messages import (
    CHANGED,
    CHANGED_WHY,
    CORRECTED,
    DELETED,
    DELETED_WHY,
    UNRESOLVED_BY_REQUEST,
    UNRESOLVED_NEXT_STEP,
    number_ranges,
)
from converter.sync.report import UploadReport

#: 要確認 documents listed in the upload summary (all of them: history, the workbook's 要確認 sheet).
UNRESOLVED_SHOWN = 20

#: Lines of one kind a text report shows before "… ほか N 件": a month can skip 561 documents or
#: break a rule on 10⁶ rows, and a screen of them hides the summary. The full lists are in
#: ``--format json`` (check) and the review workbook (preview / upload ``-o``).
SHOWN_LINES = 20
IN_JSON = "全件は --format json で出力できます"
IN_CHECK_JSON = "全件は converter check --format json で出力できます"


def in_workbook(sheet: str) -> str:
    """Where the full list of a preview / upload report is."""
    return f"全件は -o で書き出す確認用ブックの「{sheet}」シートにあります"


def first_lines(lines: Sequence[str], total: int, where: str, indent: str = "") -> list[str]:
    """``lines`` (the first SHOWN_LINES of ``total``), then how many more there are and where."""
    shown = list(lines[:SHOWN_LINES])
    if total > len(shown):
        shown.append(f"{indent}… ほか {total - len(shown):,} 件 ({where})")
    return shown


def render(fmt: str, suite: str, files: list[str], problems: Sequence[Problem], notices: Sequence[Problem],
           unchecked: Problem | None, summary: dict[str, int]) -> str:
    """The json, github or junit report (text has its own formatter per command)."""
    if fmt == "json":
        return json.dumps({
            "problems": [p.as_dict() for p in problems],
            "notices": [p.as_dict() for p in notices],
            "unchecked": [unchecked.as_dict()] if unchecked else [],
            "summary": summary,
        }, ensure_ascii=False, indent=2)
    if fmt == "github":
        return ci_formats.github(problems, notices, unchecked)
    return ci_formats.junit(suite, files, problems)


def format_upload(report: UploadReport, where: str = in_workbook("FX応答")) -> str:
    """What an upload sent or would send. Counts are of documents (a corrected document's reversal
    and new version are one document, as in 送信対象); the slips of corrections are counted apart."""
    head = "送信予定 (--dry-run、何も送信・記録していません)" if report.dry_run else "送信結果"
    lines = [f"{head}: 送信対象 {len(report.to_send)} 件 / 送信 {report.requests} 回"]
    if not report.dry_run:
        failed = {document_of(k) for k in (*report.errors, *report.unknown)}
        errors = {document_of(k) for k in report.errors}
        done = {document_of(k) for k in report.sent} - failed
        slips = [k for k in report.sent if k != document_of(k)]
        reversals = sum(parse(k).correction.startswith(REVERSAL) for k in slips)
        detail = f" (訂正の仕訳: 取消 {reversals} 件・訂正後 {len(slips) - reversals} 件)" if slips else ""
        lines.append(f"連携完了 {len(done)} 件 / エラー {len(errors)} 件 / "
                     f"要確認 {unresolved_count(report)} 件{detail}")
    lines.append(f"連携済みのためスキップ {len(report.already_done)} 件")
    lines += unresolved_lines(report)
    lines += first_lines([f"{CHANGED}: {key} — {CHANGED_WHY}。再送していません"
                          " (--corrections で取消と訂正後の仕訳を送れます)" for key in report.changed[:SHOWN_LINES]],
                         len(report.changed), where="converter history で確認できます")
    lines += first_lines([f"{DELETED}: {key} — {DELETED_WHY} (--corrections で取消仕訳を送れます)"
                          for key in report.deleted[:SHOWN_LINES]], len(report.deleted),
                         where="converter history で確認できます")
    for key in report.duplicates:
        lines.append(f"二重登録の疑い: {key} — 台帳の形式更新で、取引日だけが違う同じ帳票の 2 件目として"
                     "残した記録です。FX に同じ帳票の仕訳が二重にある可能性があります (--corrections でこの記録の"
                     "取消仕訳を送れます。converter history で経緯を確認できます)")
    sent_slips = {key: "取消仕訳" if key in report.withdrawn else "取消仕訳と訂正後の仕訳" for key in report.corrected}
    lines += first_lines([f"{CORRECTED}: {key} — {sent_slips[key]}を送信しました"
                          for key in report.corrected[:SHOWN_LINES]], len(report.corrected),
                         where="converter history で確認できます")
    shown = []
    for m in report.messages[:SHOWN_LINES]:
        at = f" ({m.file}:{m.row}行)" if m.row else ""
        label = "FX エラー" if m.kind == MessageKind.ERROR else "FX みなし処理"
        doc_no = m.doc_no or (parse(m.doc).doc_no if m.doc else "")
        shown.append(f"{label}: {doc_no} 連携番号 {m.journo_read}{at}: {m.content}")
    lines += first_lines(shown, len(report.messages), where)
    if report.held is not None:
        lines.append(("(--dry-run: 送信するときは次のとおり保留されます) " if report.dry_run else "")
                     + report.held.message())
    if report.stop is not None:
        lines += format_stop(report)
    return "\n".join(lines)


def unresolved_count(report: UploadReport) -> int:
    """要確認 after the run: this run's, a killed run's and those left from earlier runs."""
    return len(report.unknown) + len(report.recovered) + len(report.still_unknown)


def unresolved_lines(report: UploadReport, limit: int = UNRESOLVED_SHOWN) -> list[str]:
    """The 要確認 documents (the first ``limit``, then how many more) and the next step in one line."""
    total = unresolved_count(report)
    if not total:
        return []
    origins: Counter[str] = Counter(u.origin for u in report.attention)
    where = "・".join(f"{label} {origins[o]} 件" for o, label in ORIGIN_LABELS.items() if origins[o])
    lines = [f"要確認 {total} 件{f' ({where})' if where else ''} — FX に登録されたか分からないため、"
             "自動では再送しません:"]
    if report.attention:
        rows = [[u.key, str(u.number), str(u.journo or "-"), u.ymd or "-", f"{u.amount:,}",
                 u.reason.split("。")[0]]
                for u in report.attention[:limit]]
        lines += table(["帳票キー", "連携番号", "伝票番号", "取引日", "金額", "何が起きたか"], rows,
                       ["<", ">", ">", "<", ">", "<"], indent=2)
        lines = lines[:1] + ["  " + line for line in lines[1:]]
    else:
        lines += [f"  {key}" for key in [*report.unknown, *report.recovered, *report.still_unknown][:limit]]
    if total > limit:
        lines.append(f"  … ほか {total - limit} 件 (全件: converter history --status 要確認、"
                     "確認用ブック (-o) の要確認シート)")
    requests: dict[int, list[int]] = {}
    for u in report.attention:
        if u.request:
            requests.setdefault(u.request, []).append(u.number)
    if requests and len(requests) < total:  # fewer looks in FX than documents
        shown = [f"#{r} ({len(n)} 件: 連携番号 {number_ranges(n, 3)})" for r, n in list(requests.items())[:5]]
        more = f" ほか {len(requests) - 5} 要求" if len(requests) > 5 else ""
        lines.append(UNRESOLVED_BY_REQUEST.format(requests="、".join(shown) + more))
    lines.append(UNRESOLVED_NEXT_STEP)
    return lines


def format_stop(report: UploadReport) -> list[str]:
    """Why the run ended early, what it left 連携待ち and what to fix."""
    stop = report.stop
    assert stop is not None
    left = f"未送信のまま連携待ちの帳票 {len(report.left_pending)} 件"
    if stop.kind == "storm":
        return [f"送信を中止しました: FX が同じ理由で {stop.requests} 回続けて要求を拒否しました — {stop.reason}",
                f"FX が指摘した帳票はエラーにしました。{left}。",
                "直し方: converter masters pull で FX のマスターを取り込み、converter check でコードを確認し、"
                "mappings の表を直してから converter upload を再実行してください (エラーの帳票も送り直します)"]
    if stop.kind == "silent":
        return [f"送信を中止しました: {stop.reason}",
                f"それまでの送信結果は上のとおりです。{left}。FX が応答するようになってから converter upload を"
                "再実行してください (要確認の帳票は FX で確かめて converter resolve してください)"]
    return [f"送信を中止しました: FX が要求を拒否しました — {stop.reason}",
            f"それまでの送信結果は上のとおりです。{left}。トークン・権限を確かめてから再実行してください"]


def format_problem(p: Problem) -> str:
    """One finding as the accountant reads it: where, the value, what to do. The rule id (e.g.
    ``needless_cd_cstm``) is for tools: it is in ``--format json`` and the workbook's ルール column."""
    value = f" 値「{p.value}」" if p.value else ""
    return f"{p.location()}{value}: {p.message}"


#: A clean conversion without documents (an empty export, or every document filtered or 0円).
NOTHING_TO_SEND = "帳票 0 件 — 送信するものはありません"


def format_report(result: Conversion, where: str = IN_JSON) -> str:
    """A conversion as text; long lists show their first SHOWN_LINES and say ``where`` the rest is
    (``{sheet}`` in it names the workbook sheet of each list: see ``in_workbook``)."""
    s = result.summary()
    lines = []
    for f in result.files:
        lines.append(f"入力: {f.path} ({f.rows} 行, {f.encoding}, プロファイル {f.profile})")
    lines.append(
        f"帳票 {s['documents']} 件 / 仕訳 {s['slips']} 件 / 明細 {s['detail_lines']} 行 / "
        f"送信 {s['requests']} 回分 / スキップ {s['skipped']} 件 (うち 0円 {s['skipped_zero_yen']} 件)"
    )
    lines.append(f"借方合計 {s['debit_total']:,} / 貸方合計 {s['credit_total']:,}")
    skipped = result.skipped.iloc[:SHOWN_LINES]
    lines += first_lines([f"スキップ: {row.kind} {row.doc_no} {row.date} — {row.reason}"
                          for row in skipped.itertuples(index=False)], len(result.skipped),
                         where.replace("{sheet}", "スキップ"))
    lines += findings_lines(result.notices, result.unchecked, result.problems,
                            problems_title=f"エラー {len(result.problems)} 件 — 送信できません:",
                            clean="問題はありません — 送信可能" if s["documents"] else NOTHING_TO_SEND,
                            where=where.replace("{sheet}", "エラー"))
    return "\n".join(lines)


def findings_lines(notices: Sequence[Problem], unchecked: Problem | None, problems: Sequence[Problem], *,
                   problems_title: str, clean: str, where: str = IN_JSON) -> list[str]:
    """What a check found, as every check's text report ends: お知らせ, 未確認, then エラー or ``clean``;
    each list its first SHOWN_LINES, then how many more and ``where`` they all are."""
    lines = first_lines(["お知らせ: " + format_problem(n) for n in notices[:SHOWN_LINES]], len(notices), where)
    if unchecked is not None:
        lines.append(f"未確認: {unchecked.message}")
    if problems:
        lines.append(problems_title)
        lines += first_lines(["  " + format_problem(p) for p in problems[:SHOWN_LINES]], len(problems), where,
                             indent="  ")
    else:
        lines.append(clean)
    return lines
