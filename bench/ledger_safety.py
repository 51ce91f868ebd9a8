"""What the ledger's safety costs on a big ledger: integrity_check, its own rules, a backup.

    .venv/bin/python bench/ledger_safety.py --sizes 100000,999999

A ledger of N 連携完了 documents (each with one history line, and one request of ~400 KB kept per
1000 documents, as a month of requests leaves them) is built with SQL in seconds (N ≤ 999,999: the
journo_read ceiling), then each step is timed on its
own (wall seconds, best of ``--repeat``). Every command that writes pays ``check`` (integrity_check
+ own rules) once when it opens the ledger; an upload that sends pays two backups more.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from converter.ledger.ledger import Ledger  # noqa: E402
from converter.ledger.safety import make_backup, own_problems  # noqa: E402

OCODE = "tc09999001"


def build(path: Path, n: int) -> None:
    Ledger.create(path, ocode=OCODE)
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("BEGIN")
        conn.execute(
            "WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < ?)"
            " INSERT INTO documents (key, journo_read, content_hash, status, attempts, journo, kind, doc_no, ymd,"
            " amount, created_at, updated_at, operator)"
            " SELECT '売上|INV-' || printf('%07d', x) || '|2026-10-' || printf('%02d', 1 + x % 28), x,"
            " printf('%064x', x), 'done', 1, 1 + x % 99999, '売上', 'INV-' || printf('%07d', x),"
            " '2026-10-' || printf('%02d', 1 + x % 28), 1100, 't', 't', 'bench' FROM i", (n,))
        conn.execute("INSERT INTO events (key, at, action, status, operator) SELECT key, 't', 'register', 'pending',"
                     " 'bench' FROM documents")
        # one request per 1000 documents, its body as sent (~400 KB) kept: most of a real ledger's bytes
        conn.execute(
            "WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < ?)"
            " INSERT INTO batches (id, status, folded, sent_at, sent_by, sent_event)"
            " SELECT x, 'done', 1, 't', 'bench', 0 FROM i", (max(1, n // 1000),))
        conn.execute("INSERT INTO batch_docs (batch, keys, body) SELECT id, '[]', randomblob(400000) FROM batches")
        conn.execute("UPDATE meta SET value = ? WHERE name = 'next_journo_read'", (str(n + 1),))
        conn.execute("COMMIT")
    conn.close()


def best(repeat: int, step: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    return min(times)


def measure(n: int, repeat: int, folder: Path) -> dict[str, float]:
    path = folder / f"l{n}.sqlite"
    began = time.perf_counter()
    build(path, n)
    built = time.perf_counter() - began
    result = {"documents": n, "build_s": built, "size_mb": path.stat().st_size / 1e6}
    with Ledger.open(path, ocode=OCODE, lock=True) as book:
        conn = book._conn
        result["integrity_check_s"] = best(repeat, lambda: conn.execute("PRAGMA integrity_check(20)").fetchall())
        result["own_rules_s"] = best(repeat, lambda: own_problems(conn))
        result["ledger_rules_s"] = best(repeat, book._rules)
        result["check_s"] = best(repeat, book.check)
        result["backup_s"] = best(repeat, lambda: make_backup(conn, path, keep=1))
    result["open_locked_s"] = best(repeat, lambda: Ledger.open(path, ocode=OCODE, lock=True).close())
    shutil.rmtree(folder / "backups", ignore_errors=True)
    for p in folder.glob(path.name + "*"):
        p.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,999999")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
        for n in map(int, args.sizes.split(",")):
            r = measure(n, args.repeat, Path(tmp))
            print(" | ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()), flush=True)


if __name__ == "__main__":
    main()
