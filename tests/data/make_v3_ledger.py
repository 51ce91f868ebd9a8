"""Make ``ledger-v3-dated-keys.sqlite``: a ledger written by the release before document identity
(format version 3, every key 取引種別|帳票番号|取引日, no meta ``identity``).

Run it with THAT release on the path, from a checkout of commit f99de41 (the last one keying by
date), so the file is what users really have::

    git worktree add /tmp/old f99de41
    PYTHONPATH=/tmp/old python tests/data/make_v3_ledger.py tests/data/ledger-v3-dated-keys.sqlite

What it holds (company tc09999001, uploads to the in-process emulator):

* ``売上|A|2026-10-01`` — sent, 連携完了;
* ``売上|B|2026-10-02`` and ``売上|B|2026-10-05`` — B sent on 10-02, then re-dated in Jobcan to
  10-05: that release saw a new document and posted it again (both 連携完了: FX holds B twice);
* ``売上|C|2026-10-03`` — sent, then its amount changed and corrected with ``--corrections``
  (``…|取消1`` reversal and ``…|訂正1`` replacement, both 連携完了; ``--period`` 10-03 only, so
  that B of 10-02 is not reversed as deleted);
* ``売上|D|2026-10-04`` — sent, 連携完了 (its batch is the one the others' keys share).
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # conftest: the CSV builder and mappings

from conftest import make_mappings, sale, to_csv

from converter.convert.pipeline import Options
from converter.emulator.server import Emulator
from converter.sync.upload import upload_files


def main(target: Path) -> None:
    os.environ.setdefault("FX_API_TOKEN", "emulator-token")
    target.unlink(missing_ok=True)
    emu = Emulator()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mappings = make_mappings(folder / "mappings")

        def upload(rows: list[dict[str, str]], **kw: object) -> None:
            path = folder / "in.csv"
            path.write_bytes(to_csv(rows).encode("cp932"))
            upload_files([path], mappings, Options(), ledger_path=target, transport=emu.transport(),
                         **kw)  # type: ignore[arg-type]

        a = sale("A", 11000, 1000, date="2026/10/01")
        c = sale("C", 33000, 3000, date="2026/10/03")
        d = sale("D", 44000, 4000, date="2026/10/04")
        upload([a, sale("B", 22000, 2000, date="2026/10/02"), c, d])
        upload([a, sale("B", 22000, 2000, date="2026/10/05"), c, d])
        upload([a, sale("B", 22000, 2000, date="2026/10/05"), sale("C", 55000, 5000, date="2026/10/03"), d],
               corrections=True, period=(date(2026, 10, 3), date(2026, 10, 3)))
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    Path(f"{target}.lock").unlink(missing_ok=True)
    print(f"{target}: {len(emu.stored_slips())} slips stored")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
