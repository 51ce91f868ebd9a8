"""The upload loop's per-request work: same bytes, same ledger, fewer steps (no timing asserted).

The request bodies are joined from slip texts cut once from :mod:`converter.fx.bodies`'s bodies;
these tests hold them to what ``json.dumps`` of the slip dicts gave before, count the ledger's
commits per request, and check that the 連携中 mark (with the 伝票番号 in the body) is durable
before the POST.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import factories
import httpx
import pandas as pd
import pytest
from fault_helpers import EMULATOR_TOKEN, MAPPINGS
from ledger_helpers import new_ledger

from converter.convert.pipeline import Options
from converter.emulator.server import Emulator
from converter.fx.answers import FXMessage, MessageKind
from converter.fx.bodies import SlipText, document_slips, first_request, iter_requests, join_slips, pack
from converter.ledger.ledger import Ledger
from converter.sync.trace import LineIndex, ledger_texts
from converter.sync.upload import upload_files

OCODE = "tc09999001"
TRICKY_MEMOS = ['引用"符号" と \\円記号\\', ']},{"ymd_tr":"2026-10-01","journo_read":"0"', "タブ\tと改行なし"]


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", EMULATOR_TOKEN)


def _month(path: Path, n_documents: int) -> Path:
    """A realistic month (about 2.4 lines per document), some memos full of JSON syntax."""
    rows = factories.generate_jobcan_rows(n_documents, 7)
    for i, row in enumerate(rows[:: max(1, len(rows) // 40)]):
        row["摘要"] = TRICKY_MEMOS[i % len(TRICKY_MEMOS)]
    factories.write_jobcan_csv(rows, path)
    return path


class Watching(httpx.BaseTransport):
    """Lets the emulator answer; at each POST, notes the body and what a second connection
    to the ledger file sees at that moment (what survives a kill -9 right then). It reads through
    a read-only Ledger: a request's documents are stored as one batch, not row by row."""

    def __init__(self, emu: Emulator, ledger: Path) -> None:
        self.inner, self.ledger = emu.transport(), ledger
        self.bodies: list[bytes] = []
        self.seen: list[tuple[dict[str, tuple[str, int | None]], int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.bodies.append(request.read())
            with Ledger.open(self.ledger, ocode=OCODE, readonly=True) as book:
                rows = [(r.number, r.status, r.journo) for r in book.documents()]  # one fiscal year
                next_journo = book.next_journo(2026)
            self.seen.append(({str(r): (s, j) for r, s, j in rows}, next_journo))
        return self.inner.handle_request(request)


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _month(tmp_path_factory.mktemp("month") / "in.csv", 2000)


def test_bodies_are_the_bytes_json_dumps_gave_and_sending_is_durable_first(month: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = new_ledger(tmp_path / "l.sqlite", OCODE)
    transport = Watching(Emulator(), ledger)
    statements: list[str] = []
    opened = Ledger.open.__func__  # type: ignore[attr-defined]

    def traced(cls: type[Ledger], *args: Any, **kwargs: Any) -> Ledger:
        book: Ledger = opened(cls, *args, **kwargs)
        book._conn.set_trace_callback(statements.append)
        return book

    monkeypatch.setattr(Ledger, "open", classmethod(traced))
    conversion, report = upload_files([month], MAPPINGS, Options(), ledger_path=ledger, transport=transport)
    assert not report.needs_attention and report.requests == len(transport.bodies) >= 3

    # What was sent before this change: json.dumps of the payload's slip dicts, journo_read set per
    # document and the ledger's 伝票番号 put second, numbered in sending order.
    with Ledger.open(ledger, ocode=OCODE, readonly=True) as book:
        ids = {r.key: r.number for r in book.documents()}
        posted = book.posted(ids)
    docs = conversion.documents.assign(request=1, journo_read=0)
    (whole,) = iter_requests(conversion.lines, docs, conversion.settings)
    # The upload's slip texts are the body's bytes, slip by slip (memos full of JSON syntax and all).
    drafts = document_slips(conversion.lines, conversion.documents, conversion.settings)
    assert [k for d in drafts.values() for k in d.keys] == list(whole.slip_keys)
    assert join_slips([t.numbered(0).text(None) for d in drafts.values() for t in d.texts]) == whole.data
    expected = []
    for number, (slip, slip_key) in enumerate(zip(whole.body["slips"], whole.slip_keys, strict=True), start=1):
        slip = {**slip, "journo_read": str(ids[slip_key.rsplit("#", 1)[0]])}
        expected.append({"ymd_tr": slip["ymd_tr"], "journo": str(number),
                         **{k: v for k, v in slip.items() if k not in ("ymd_tr", "journo")}})
    sent, sizes = [], []
    for body in transport.bodies:
        parsed = json.loads(body)
        assert body == json.dumps(parsed, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        sent += parsed["slips"]
        sizes.append(sum(len(slip["detail"]) for slip in parsed["slips"]))
    assert sent == expected
    # Packed as before: whole documents, greedily, up to 2,000 detail lines.
    lines: dict[str, int] = {}
    for slip in expected:
        lines[slip["journo_read"]] = lines.get(slip["journo_read"], 0) + len(slip["detail"])
    packed = [0]
    for size in lines.values():
        if packed[-1] and packed[-1] + size > 2000:
            packed.append(0)
        packed[-1] += size
    assert sizes == packed
    assert any('"ymd_tr"' in line.get("rcj_slip", "") for slip in sent for line in slip["detail"])

    # The ledger keeps each document's slips exactly as sent.
    by_read: dict[str, list[dict[str, Any]]] = {}
    for slip in sent:
        by_read.setdefault(slip["journo_read"], []).append(slip)
    assert {str(ids[k]): v for k, v in posted.items()} == by_read

    # At each POST the whole request is already 連携中 on disk, with the 伝票番号 of the body reserved.
    for body, (rows, next_journo) in zip(transport.bodies, transport.seen, strict=True):
        slips = json.loads(body)["slips"]
        for slip in slips:
            assert rows[slip["journo_read"]][0] == "sending"
        firsts = {s["journo_read"]: int(s["journo"]) for s in reversed(slips)}
        assert {r: rows[r][1] for r in firsts} == firsts
        assert next_journo > max(int(s["journo"]) for s in slips)

    # Two write transactions per request: (伝票番号 + 連携中) before the POST, 連携完了 after it.
    begins = [s for s in statements if s.startswith("BEGIN")]
    commits = [s for s in statements if s == "COMMIT"]
    first_send = next(i for i, s in enumerate(statements) if s.startswith("SAVEPOINT"))
    assert len([s for s in statements[first_send - 1:] if s.startswith("BEGIN")]) == 2 * report.requests
    assert len(begins) == len(commits)


def test_history_lines_keep_the_order_of_the_request(month: Path, tmp_path: Path) -> None:
    ledger = new_ledger(tmp_path / "l.sqlite", OCODE)
    upload_files([month], MAPPINGS, Options(), ledger_path=ledger, transport=Emulator().transport())
    with Ledger.open(ledger, ocode=OCODE, readonly=True) as book:
        order = {r.key: r.journo_read for r in book.documents()}
        for action in ("register", "send", "done"):
            keys = [e.key for e in book.events() if e.action == action]
            assert [order[k] for k in keys] == sorted(order.values())


def test_texts_are_what_json_dumps_wrote() -> None:
    found = [FXMessage("a", "", 1, MessageKind.INFORMATION, 'q"b\\s\n部門\u2028\x01', 1, 1, None, "f.csv", 3),
             FXMessage("a", "", 1, MessageKind.INFORMATION, 'q"b\\s\n部門\u2028\x01', 2, 2, None, "f.csv", 4),
             FXMessage("b", "", 2, MessageKind.ERROR, "x", 1, None, 0, "", None),
             # odd types on purpose: FX's answers are JSON, the texts must survive whatever it sends
             FXMessage("b", "", 2, MessageKind.ERROR, "y", 1, 1.5, True, "g", 0),  # type: ignore[arg-type]
             FXMessage("b", "", 2, MessageKind.ERROR, "z", 1, "3", [1, "a"], "g", 7),  # type: ignore[arg-type]
             FXMessage("", "", 0, MessageKind.ERROR, "no document", None)]
    texts = ledger_texts(found)
    assert set(texts) == {"a", "b"}
    for doc, text in texts.items():
        assert text == json.dumps([{"kind": m.kind, "content": m.content, "lineno": m.lineno, "is_ocr_dc": m.is_ocr_dc,
                                    "source": f"{m.file}:{m.row}" if m.row else ""} for m in found if m.doc == doc],
                                  ensure_ascii=False)


def test_answers_are_traced_to_the_rows_the_old_lookup_found() -> None:
    """The run's line index gives, for any answer, the row the per-request dict lookup gave."""
    rng = random.Random(5)
    keys = [f"D{d}#{s}" for d in range(40) for s in range(rng.randint(1, 3))]
    lines = []
    for key in keys:
        for pos in range(1, rng.randint(1, 4) + 1):
            for side in (1, 0):
                lines.append((key, pos, side, f"f{rng.randint(1, 2)}.csv", rng.randint(2, 999)))
    rng.shuffle(lines)  # a slip's lines need not be together
    frame = pd.DataFrame(lines, columns=["slip_key", "pos_dsp", "side", "_file", "_row"])
    where: dict[tuple[Any, ...], tuple[str, int]] = {}
    for slip_key, pos, side, file, row in lines:
        where.setdefault((slip_key,), (file, row))
        where.setdefault((slip_key, pos), (file, row))
        where.setdefault((slip_key, pos, side), (file, row))
    odd: list[Any] = [None, 0, 1, 2, 3, 9, 1.0, 2.5, True, False, "1", 10**400, float("nan")]
    asked: list[tuple[str, Any, Any]] = [
        (rng.choice([*keys, "", "nowhere#1"]), rng.choice(odd), rng.choice([None, 0, 1, 1.0, True, "0", 2]))
        for _ in range(500)]
    got = LineIndex(frame).rows([a[0] for a in asked], [a[1] for a in asked], [a[2] for a in asked])
    for (source, lineno, side), answer in zip(asked, got, strict=True):
        want: tuple[str, int | None] = ("", None)
        if source and (source,) in where:
            exact = (source, lineno) if side is None else (source, lineno, side)
            want = where.get(exact) or where[(source,)]
        assert answer == want, (source, lineno, side)


def test_one_packing_rule_greedy_whole_items_up_to_2000_lines() -> None:
    rng = random.Random(5)
    for _ in range(200):
        sizes = [rng.choice([0, 1, 2, 3, 7, 60, 400, 1999, 2000, 2001, 4500]) for _ in range(rng.randrange(0, 40))]
        want: list[int] = []
        used = 0  # the rule written out: a new request when the next item does not fit
        for size in sizes:
            if not want or used + size > 2000:
                want.append((want[-1] if want else 0) + 1)
                used = 0
            else:
                want.append(want[-1])
            used += size
        assert pack(sizes).tolist() == want
        assert first_request(iter(sizes)) == want.count(1)
    assert first_request([0] * 5000) == 5000  # zero-line items never end a request


@pytest.mark.parametrize("slip", [
    {"ymd_tr": "2026-10-01", "journo_read": "3", "detail": [{"rcj_slip": '取消:"x" \\'}]},
    {"journo_read": "3", "ymd_tr": "2026-10-01"},  # not ymd_tr first: numbered, it goes first
    {"ymd_tr": "2026-10-01", "journo": "9", "x": 1},
    {"ymd_tr": "2026-10-01"},
])
def test_slip_texts_are_json_dumps_of_the_slip(slip: dict[str, Any]) -> None:
    text = SlipText.of(slip)
    assert text.text(None) == json.dumps(slip, ensure_ascii=False, separators=(",", ":")).encode()
    rest = {k: v for k, v in slip.items() if k not in ("ymd_tr", "journo")}
    numbered = {"ymd_tr": slip["ymd_tr"], "journo": "7", **rest}
    assert text.text(7) == json.dumps(numbered, ensure_ascii=False, separators=(",", ":")).encode()
    assert SlipText.numbered([text, text], 7) == [text.text(7), text.text(8)]
