"""How much of the floor any pandas conversion must spend: the budget that (b) and (c) are set against.

Each measurement runs in its own child process, as in ``run.py``, on the same cached export:

  (a) floor     bare ``pandas.read_csv(file, encoding="cp932", dtype=str)``
  (r) read      the converter's read stage alone (``read_inputs``: decoding to tell the encoding and
                name bad bytes, counting fields to report ragged rows, parsing); it imports pandas
                and the converter's config, not pandera, click or httpx
  (m) minimum   the floor plus the least work a conversion of the rows does in pandas: each field the
                converter reads by value (keys, codes, amounts, dates: 18) factorized once, and every
                column laid out as detail lines with one take (plain arrays, not even a DataFrame).
                No parsing of a value, validation, mapping, numbering, document table or problem
                reporting: a lower bound, not a converter
  (p) minimum+  (m) and request bodies: the JSON text of 12 fields made once per distinct value, one
      bodies    fragment per field and line, one join per 2000 lines written to a file (no slips)

(m) is less than ``check`` must do, (p) less than ``preview --payload-dir`` must do: what is left of
the targets' 1.5× and 2.0× after them is what the real stages (parsing values, checks, mapping,
slips, numbering, the document table, problem reports) would have to fit in.

    .venv/bin/python bench/lower_bound.py [--sizes 1000000] [--repeat 2] [--month standard|unique]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from months import MONTHS, export_file
from run import FLOOR_CODE, ROOT, Run, run_child

READ_CODE = """
import sys
from pathlib import Path
from converter.config.settings import load_profile
from converter.convert.read import read_inputs
read_inputs([Path(sys.argv[1])], load_profile("jobcan", Path(sys.argv[2])))
"""

# The fields normalise, mapping and the checks read by value (everything but names, memo and project).
MINIMUM_CODE = """
import json, os, sys
import numpy as np
import pandas as pd
rows = pd.read_csv(sys.argv[1], encoding="cp932", dtype=str, keep_default_na=False)
n = len(rows)
# ~1.34 detail lines per row (a debit and a credit line, less empty sides), as the converter makes
at = np.repeat(np.arange(n), 2)[np.random.default_rng(1).random(2 * n) < 0.67]
lines = {}
for name in rows.columns:
    values = rows[name].to_numpy(dtype=object)  # the converter's fastest factorize path (object)
    codes = np.arange(n)
    if name not in ("取引先名", "摘要", "案件"):
        codes, values = pd.factorize(values)
    lines[name] = (values, codes[at])  # distinct values, and which one each detail line holds
if sys.argv[2] == "bodies":
    # Each field's JSON text made once per distinct value, taken per line, and one join per
    # 2000-line request written to a file (what payload does, less slips, ids and checks).
    # 12 fields a line: about what a detail line of FX carries (the optional ones left out)
    fields = ["取引日", "取引種別", "帳票番号", "取引先コード", "取引先名", "借方勘定科目", "借方補助科目",
              "借方部門", "借方税区分", "借方金額", "借方消費税額", "摘要"]
    grid = np.empty((len(at), len(fields)), dtype=object)
    for j, name in enumerate(fields):
        values, codes = lines[name]
        if len(values) == n:  # names and memos: distinct ones only, as payload does
            distinct, values = pd.factorize(values)
            codes = distinct[codes]
        end = "},{" if j == len(fields) - 1 else ","  # each fragment carries what follows it
        texts = np.array([f'"f{j}":{json.dumps(v, ensure_ascii=False)}{end}' for v in values], dtype=object)
        grid[:, j] = texts.take(codes)
    flat, step = grid.ravel(), 2000 * grid.shape[1]
    for k, lo in enumerate(range(0, len(flat), step)):
        with open(os.path.join(sys.argv[3], f"request-{k}.json"), "wb") as out:
            out.write(("[{" + "".join(flat[lo:lo + step])[:-2] + "]").encode())
"""


def measure(path: Path, repeat: int, bodies: Path) -> dict[str, Run]:
    """Fastest of ``repeat`` interleaved runs of each child, as run.py keeps; the bodies go to ``bodies``."""
    best: dict[str, Run] = {}
    mappings = ROOT / "mappings"
    for _ in range(repeat):
        for name, cmd in (("floor", [sys.executable, "-c", FLOOR_CODE, str(path)]),
                          ("read", [sys.executable, "-c", READ_CODE, str(path), str(mappings)]),
                          ("minimum", [sys.executable, "-c", MINIMUM_CODE, str(path), "lines"]),
                          ("bodies", [sys.executable, "-c", MINIMUM_CODE, str(path), "bodies", str(bodies)])):
            run = run_child(cmd)
            if name not in best or run.wall < best[name].wall:
                best[name] = run
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    ap.add_argument("--sizes", default="1000000", help="source rows per export, comma separated")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--month", choices=MONTHS, default="standard", help="which generated month (bench/months.py)")
    ap.add_argument("--workdir", type=Path, default=ROOT / "bench" / ".work")
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"{'N':>9}  {'what':<8} {'wall s':>7} {'× floor':>8} {'RSS MB':>7}")
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as bodies:
            runs = measure(export_file(args.workdir, n, 1, 0.07, args.month), args.repeat, Path(bodies))
        floor = runs["floor"].wall
        for name, run in runs.items():
            print(f"{n:>9,}  {name:<8} {run.wall:>7.2f} {run.wall / floor:>7.2f}× {run.rss_mb:>7.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
