"""The benchmark runner keeps working: generator, every measurement, the report (no timing targets)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_runner_measures_everything_on_a_small_export(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--sizes", "300", "--repeat", "1", "--no-targets",
         "--workdir", str(tmp_path), "--json", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert run.returncode == 0, run.stderr + run.stdout
    report = json.loads(out.read_text("utf-8"))
    r = report["sizes"]["300"]
    assert 250 < r["rows"] < 350
    assert r["request_files"] >= 1  # the generated export converts without problems
    for name in ("floor", "preview", "check"):
        assert r[name]["wall"] > 0 and r[name]["cpu"] > 0 and r[name]["rss_mb"] > 0
    for mode in ("bare", "review"):
        assert r["review"][mode]["wall"] > 0 and r["review"][mode]["lines"] > 0
    assert r["upload"]["requests"] >= 1 and r["upload"]["ms_per_request"] > 0 and r["upload"]["posts"] >= 1
    assert set(r["ratios"]) >= {"preview", "check", "preview_rss", "review", "upload_ms"}
    assert len(report["targets"]) == 5
    # the Markdown table names every measurement
    for label in ("(a) floor", "(b) preview", "(c) check", "(d) review", "(e) upload"):
        assert label in run.stdout


def test_generated_export_is_deterministic(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = bench  # its dataclasses look their module up
    try:
        spec.loader.exec_module(bench)
    finally:
        del sys.modules["bench_run"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = bench.export_file(tmp_path / "a", 200, seed=3, messy=0.07)
    two = bench.export_file(tmp_path / "b", 200, seed=3, messy=0.07)
    assert one.read_bytes() == two.read_bytes()
    assert one.read_bytes().decode("cp932").startswith("取引日,取引種別,帳票番号")  # CP932, as Jobcan exports


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
