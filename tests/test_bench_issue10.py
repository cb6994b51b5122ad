"""Issue 10's whole-process benchmarks: their measuring helpers, their verdicts, and each
benchmark run end to end on a tiny corpus (so the harness cannot rot unnoticed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import bench_queries  # noqa: E402 - scripts beside the project, not a package
import bench_service  # noqa: E402
import bench_wholescan  # noqa: E402
import verdicts  # noqa: E402
import wholeproc  # noqa: E402

MIB = 1024 * 1024


# -- verdicts and RESULTS.md sections -------------------------------------------------------

def test_at_most_meets_the_limit_itself_and_misses_above_it():
    assert verdicts.at_most("x", 1.25, 1.25) == ("x 1.25x (target <= 1.25x)", True)
    assert verdicts.at_most("rss", 60.04, 60, unit=" MiB", digits=1)[1] is False


def test_report_prints_a_line_per_verdict_and_check_fails_on_a_miss(capsys):
    results = [("a 1x", True), ("b 9x", False)]
    assert verdicts.report(results) is False
    assert capsys.readouterr().out.splitlines() == ["met    a 1x", "MISSED b 9x"]
    assert verdicts.exit_status(results, check=True) == 1
    assert verdicts.exit_status(results, check=False) == 0
    assert verdicts.exit_status(results[:1], check=True) == 0


def test_replace_section_keeps_the_other_sections(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\n## Scan\n\nold scan\n\n"
                    "## Scan: where the time goes\n\nnotes\n\n## Service\n\nold service\n")
    verdicts.replace_section("Scan", "new scan", path)
    verdicts.replace_section("Service", "new service\n", path)
    verdicts.replace_section("Issue 10 targets", "all of them", path)
    assert path.read_text() == (
        "# Benchmark results\n\n## Scan\n\nnew scan\n\n"
        "## Scan: where the time goes\n\nnotes\n\n## Service\n\nnew service\n\n"
        "## Issue 10 targets\n\nall of them\n")
    verdicts.replace_section("Issue 10 targets", "again", path)
    assert path.read_text().endswith("## Service\n\nnew service\n\n## Issue 10 targets\n\nagain\n")


# -- whole-process measurement ----------------------------------------------------------------

def test_run_reports_the_childs_own_peak_rss_and_exit_status():
    # Measured from a small parent: on Linux a forked child starts with its parent's peak RSS
    # (ru_maxrss survives exec), and the pytest process may be larger than 80 MiB.
    probe = f"""
import json, sys
sys.path.insert(0, {str(BENCH)!r})
import wholeproc
big = wholeproc.run([sys.executable, "-c",
                     "import sys; b = b'x' * (80 * 1024 * 1024); sys.exit(3)"])
small = wholeproc.run([sys.executable, "-c", "print('hi')"])
print(json.dumps([big.code, big.maxrss, small.code, small.maxrss, small.stdout]))
"""
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)
    big_code, big_rss, small_code, small_rss, small_out = json.loads(proc.stdout)
    assert big_code == 3
    assert small_code == 0
    assert small_out == "hi\n"
    assert big_rss >= 80 * MIB > small_rss
    with pytest.raises(RuntimeError, match="exited 3"):
        wholeproc.checked([sys.executable, "-c", "import sys; sys.exit(3)"])


def test_tree_sampling_finds_every_descendant_and_its_memory():
    # The child forks a grandchild that holds 40 MiB; both print their pid, then block on
    # stdin until the test closes it.
    code = ("import os, sys\n"
            "if os.fork() == 0:\n"
            "    data = b'x' * (40 * 1024 * 1024)\n"
            "    print(os.getpid(), flush=True); sys.stdin.read(); os._exit(0)\n"
            "print(os.getpid(), flush=True); sys.stdin.read(); os.wait()\n")
    with subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        try:
            pids = {int(proc.stdout.readline()), int(proc.stdout.readline())}
            assert set(wholeproc._descendants(proc.pid)) == pids
            total = sum(wholeproc._pss_bytes(pid) for pid in pids)
            assert total >= 40 * MIB
        finally:
            proc.stdin.close()
            proc.wait(60)
    assert wholeproc._pss_bytes(proc.pid) == 0  # gone: no figure, no error


def test_folder_bytes_counts_files_folders_and_hard_links_once(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a").write_bytes(b"x" * 5000)
    (tmp_path / "b").write_bytes(b"y" * 10)
    (tmp_path / "b_link").hardlink_to(tmp_path / "b")
    allocated, apparent = wholeproc.folder_bytes(tmp_path)
    dirs = tmp_path.stat().st_size + (tmp_path / "sub").stat().st_size
    assert apparent == dirs + 5010
    assert allocated >= 5010


def test_engine_key_follows_the_engine_source():
    assert wholeproc.engine_key() == wholeproc.engine_key()
    assert len(wholeproc.engine_key()) == 12


# -- verdicts of each benchmark ----------------------------------------------------------------

def query_figures(ratio: float, list_vs_help: float) -> dict[str, dict[str, float]]:
    figures = {"help": {"wall": 0.25, "rss": 32.0 * MIB}}
    for cmd in bench_queries.QUERIES:
        figures[f"small {cmd}"] = {"wall": 0.25, "rss": 32.0 * MIB}
        figures[f"large {cmd}"] = {"wall": 0.25 * ratio, "rss": 32.0 * MIB * ratio}
    figures["large list"]["wall"] = 0.25 * list_vs_help
    return figures


@pytest.mark.parametrize(("ratio", "list_vs_help", "met"), [
    (1.25, 3.0, [True] * 7),
    (1.26, 3.01, [False] * 7),
    (2.54, 1.0, [False] * 6 + [True]),
])
def test_query_targets(ratio, list_vs_help, met):
    results = bench_queries.judge(query_figures(ratio, list_vs_help), 10, 10_000)
    assert [ok for _line, ok in results] == met
    assert "`show` wall time at 10,000 models / at 10" in results[0][0]


@pytest.mark.parametrize(("first", "rescan", "rss_mib", "folder", "met"), [
    (12.0, 0.6, 60.0, 1.5, [True, True, True, True]),
    (12.1, 0.61, 60.1, 1.51, [False, False, False, False]),
    (94.8, 0.47, 65.3, 3.62, [False, True, False, False]),
])
def test_scan_targets(first, rescan, rss_mib, folder, met):
    figures = {"files": 10_000, "floor": 0.25, "first": 0.25 * first, "rescan": 0.25 * rescan,
               "first_rss": rss_mib * MIB, "out_alloc": folder * 1e6, "corpus_alloc": 1e6}
    assert [ok for _line, ok in bench_wholescan.judge(figures)] == met


def test_service_targets_follow_the_settle_window():
    lat = {"saves": 500, "settle_ms": 300, "models": 1, "registry_models": 10_000,
           "p50_ms": 320.0, "p99_ms": 400.1, "idle_rss_mib": 61.0}
    assert [ok for _l, ok in bench_service.latency_verdicts(lat)] == [True, False]
    assert [ok for _l, ok in bench_service.latency_verdicts({**lat, "settle_ms": 500})] == [
        True, True]
    idle = {"registry_models": 10_000, "idle_peak_mib": 60.0}
    assert [ok for _l, ok in bench_service.idle_verdicts(idle, [lat])] == [True, False]
    assert bench_service.idle_verdicts(None, [{**lat, "registry_models": 0}]) == []


def test_percentile_is_nearest_rank():
    ordered = [float(i) for i in range(1, 101)]
    assert bench_service.percentile(ordered, 50) == 50.0
    assert bench_service.percentile(ordered, 99) == 99.0
    assert bench_service.percentile([1.0, 2.0], 99) == 2.0


# -- each benchmark, end to end, on a tiny corpus -----------------------------------------------

@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-cache")


def bench(script: str, *args: str) -> str:
    results = (BENCH / "RESULTS.md").read_text(encoding="utf-8")
    proc = subprocess.run([sys.executable, str(BENCH / script), *args],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (BENCH / "RESULTS.md").read_text(encoding="utf-8") == results
    return proc.stdout


def verdict_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(("met    ", "MISSED "))]


def test_scan_benchmark_runs_on_a_tiny_corpus(cache):
    out = bench("bench_wholescan.py", "--files", "12", "--cache", str(cache))
    assert any(line.startswith("| 12 |") for line in out.splitlines())
    assert len(verdict_lines(out)) == 4
    assert len(list(cache.glob("registry_n12_s1_*.done"))) == 1


def test_query_benchmark_runs_on_tiny_registries(cache):
    out = bench("bench_queries.py", "--small", "3", "--large", "12", "--runs", "1",
                "--cache", str(cache))
    assert "| `list` |" in out
    assert len(verdict_lines(out)) == 7


def test_service_benchmark_starts_from_a_prebuilt_registry(cache):
    out = bench("bench_service.py", "--registry-models", "12", "--saves", "2", "--models", "1",
                "--skip-burst", "--no-write", "--cache", str(cache))
    assert '"registry_models": 12' in out
    lines = verdict_lines(out)
    assert len(lines) == 4
    assert any("idle service over 12 models, peak RSS" in line for line in lines)


def test_issue10_command_runs_every_target_on_a_tiny_corpus(cache):
    out = bench("bench_issue10.py", "--files", "12", "--small", "3", "--runs", "1",
                "--saves", "2", "--no-write", "--cache", str(cache))
    assert "targets met" in out
    summary = out[out.index("== issue 10:"):]
    assert len(verdict_lines(summary)) == 4 + 7 + 4 + 3


def test_issue10_section_is_written_beside_the_others(tmp_path):
    import bench_issue10  # noqa: PLC0415 - only this test needs it

    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\n## Scan\n\nscan table\n")
    body = bench_issue10.section(["### Queries", "", "| table |"],
                                 [("a 1x", True), ("b 9x", False)], "python bench/x.py")
    verdicts.replace_section(bench_issue10.SECTION, body, path)
    text = path.read_text()
    assert text.startswith("# Benchmark results\n\n## Scan\n\nscan table\n\n## Issue 10 targets")
    assert "1 of 2 targets met" in text
    assert "- met: a 1x\n- **MISSED**: b 9x\n" in text
