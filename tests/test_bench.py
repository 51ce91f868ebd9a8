"""The benchmark runner keeps working: both months' generator, every measurement, the report (no timing targets)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str) -> Any:
    """A bench/ script imported as a module (it puts bench/ on the path to import its neighbours)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"bench_{name}"] = module  # its dataclasses look their module up
    path = list(sys.path)
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[f"bench_{name}"]
        sys.path[:] = path
    return module


@pytest.mark.slow
def test_runner_measures_everything_on_a_small_export_of_both_months(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--sizes", "300", "--repeat", "1", "--no-targets",
         "--workdir", str(tmp_path), "--json", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=240,
    )
    assert run.returncode == 0, run.stderr + run.stdout
    report = json.loads(out.read_text("utf-8"))
    assert set(report["months"]) == {"standard", "unique"}
    for month, sizes in report["months"].items():
        r = sizes["300"]
        assert 250 < r["rows"] < 350
        assert r["request_files"] >= 1  # the generated export converts without problems
        for name in ("floor", "bound", "preview", "preview_ledger", "check"):
            assert r[name]["wall"] > 0 and r[name]["cpu"] > 0 and r[name]["rss_mb"] > 0
        for mode in ("bare", "review"):
            assert r["review"][mode]["wall"] > 0 and r["review"][mode]["lines"] > 0
        u = r["upload"]
        assert u["complete"] and u["requests"] == u["total_requests"] == u["posts"] == 1, u
        assert 0 < u["convert_wall"] < u["setup_wall"] and u["setup_rss_mb"] > 0 and u["bodies_cpu"] > 0
        assert u["ms_amortised"] == pytest.approx(1000 * u["bodies_cpu"] + u["ms_per_request"])
        assert set(r["ratios"]) >= {"preview", "preview_bound", "check", "preview_rss", "review", "upload_ms",
                                    "upload_setup", "upload_rss"}, month
        assert f"Month `{month}`" in run.stdout
    s = report["startup"]
    assert s["rows"] == 537 and s["help"]["wall"] > 0 and s["check_sample"]["wall"] > 0
    assert len(report["targets"]) == 2 * 8 + 2
    # the Markdown tables name every measurement
    for label in ("(a) floor", "(p) lower_bound.py", "(b) preview", "(c) check", "(d) review",
                  "(e) upload set-up", "(e) per request, building its body included", "converter --help",
                  'python -c "import pandas"'):
        assert label in run.stdout, label
    # the bench's mappings have the FX master cache, so the timed conversions run the masters check
    assert (tmp_path / "mappings" / "masters" / "tc09999001.json").exists()


def test_generated_exports_are_deterministic(tmp_path: Path) -> None:
    months = _load("months")
    for month in ("standard", "unique"):
        (tmp_path / month / "a").mkdir(parents=True)
        (tmp_path / month / "b").mkdir()
        one = months.export_file(tmp_path / month / "a", 200, seed=3, messy=0.07, month=month)
        two = months.export_file(tmp_path / month / "b", 200, seed=3, messy=0.07, month=month)
        assert one.read_bytes() == two.read_bytes()
        assert one.read_bytes().decode("cp932").startswith("取引日,取引種別,帳票番号")  # CP932, as Jobcan exports


def test_unique_month_has_one_memo_per_document_within_fx_width(tmp_path: Path) -> None:
    """The unique month is the standard month's documents, only 摘要 rewritten: led by 帳票番号 and 取引先."""
    months = _load("months")
    def read(path: Path) -> pd.DataFrame:
        return pd.read_csv(path, encoding="cp932", dtype=str, keep_default_na=False)

    standard = read(months.export_file(tmp_path, 3000, seed=1, messy=0.07))
    unique = read(months.export_file(tmp_path, 3000, seed=1, messy=0.07, month="unique"))
    assert standard.drop(columns="摘要").equals(unique.drop(columns="摘要"))
    numbers = unique["帳票番号"].str.strip()
    assert (unique["摘要"].str.split(" ").str[0] == numbers).all()
    assert [m.split(" ")[1] for m in unique["摘要"]] == [n.split(" ")[0] for n in unique["取引先名"]]
    documents = numbers.nunique()
    assert unique["摘要"].nunique() >= documents > 2000  # at least one distinct memo per document
    assert standard["摘要"].nunique() < 200  # the standard month's small vocabulary, for contrast
    assert unique["摘要"].map(lambda m: len(m.encode("cp932"))).max() <= 80  # FX rcj_slip: 全角40 / 半角80
    with pytest.raises(ValueError, match="unknown month"):
        months.export_file(tmp_path, 10, seed=1, messy=0.07, month="weekly")


@pytest.mark.slow
def test_lower_bound_measures_and_writes_real_bodies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "lower_bound.py"), "--sizes", "300", "--repeat", "1",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert run.returncode == 0, run.stderr + run.stdout
    rows = {line.split()[1]: line.split() for line in run.stdout.splitlines()[1:]}
    assert set(rows) == {"floor", "read", "minimum", "bodies"}
    assert all(float(r[2]) > 0 for r in rows.values())
    # The bound times real work: its bodies are JSON with one object per detail line, every field in it.
    spec = importlib.util.spec_from_file_location("lower_bound", ROOT / "bench" / "lower_bound.py")
    assert spec is not None and spec.loader is not None
    bound = importlib.util.module_from_spec(spec)
    monkeypatch.setattr(sys, "path", list(sys.path))  # it puts bench/ on the path to import run.py
    spec.loader.exec_module(bound)
    monkeypatch.delitem(sys.modules, "run")
    export = next(tmp_path.glob("jobcan-300-*.csv"))
    (tmp_path / "bodies").mkdir()
    subprocess.run([sys.executable, "-c", bound.MINIMUM_CODE, str(export), "bodies", str(tmp_path / "bodies")],
                   check=True, cwd=ROOT, timeout=60)
    objects = [o for f in sorted((tmp_path / "bodies").glob("*.json")) for o in json.loads(f.read_bytes())]
    assert 300 < len(objects) < 500  # ~1.34 lines per row
    assert all(len(o) == 12 for o in objects)
    assert {o["f2"] for o in objects} <= set(export.read_bytes().decode("cp932").split(","))  # 帳票番号 as read
