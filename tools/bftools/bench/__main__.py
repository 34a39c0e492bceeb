"""python -m bftools.bench: run the benchmarks (see the package's docstring); --quick for a smoke run in seconds."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from bftools.bench import docs, report
from bftools.bench.profile import flat_profile
from bftools.bench.rig import Rig
from bftools.bench.rows import Options, Row
from bftools.bench.sections import baselines, comparisons, drain, flash, ingest
from bftools.runtime.paths import ROOT, MissingTool
from bftools.runtime.process import NotReady, die_with_this_process


class OverBudget(BaseException):
    """The run's time bound passed (a BaseException: no section's own error handling swallows it)."""


SECTIONS = ("ingest", "baselines", "comparisons", "drain", "flash")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bftools.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny bounds: checks that everything runs (make test)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--seconds", type=float, help="length of each load row (default 10; --quick 2)")
    parser.add_argument(
        "--budget", type=float, default=600, help="stop (exit 1, nothing written) after this many seconds (600)"
    )
    parser.add_argument("--results", type=Path, default=ROOT / "out" / "bench", help="where CSV, PNG and logs go")
    parser.add_argument("--write-docs", action="store_true", help="write performance.md and scaling.md (see --docs)")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where --write-docs writes (default docs/)")
    parser.add_argument(
        "--rewrite-docs", action="store_true", help="only write the documents again from the last run's results.json"
    )
    args = parser.parse_args(argv)
    if args.rewrite_docs:
        return _rewrite_docs(args.results, args.docs)
    options = Options()
    if args.quick:
        options = Options(
            seconds=2,
            levels=(16, 64),  # 64: the level the targets, the analysis and the CPU plot read
            drain_sales=3000,
            flash_seconds=10,
            flash_users=10,
            kafka_records=20_000,
            profile=False,
        )
    if args.seconds:
        options.seconds = args.seconds
    wanted = set(args.only or SECTIONS)
    results: Path = args.results
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir(parents=True)
    die_with_this_process()  # a bench killed half-way leaves no broker or server behind
    rig = Rig(results / "run")
    rows: list[Row] = []
    started = time.monotonic()

    def step(title: str, run: Callable[[], list[Row]]) -> None:
        print(f"bench: {title} ...", flush=True)
        rows.extend(run())

    def over_budget(signum: int, frame: object) -> None:
        raise OverBudget

    signal.signal(signal.SIGALRM, over_budget)
    signal.setitimer(signal.ITIMER_REAL, args.budget)
    try:
        rig.start()
        profiles = results / "profiles" if options.profile else None
        if "ingest" in wanted:
            step("ingest, Hypercorn", lambda: ingest.ingest(rig, options, "hypercorn", profiles))
            step("ingest, Granian", lambda: ingest.ingest(rig, options, "granian", profiles))
        if "baselines" in wanted:
            step("baseline (a): the bare HTTP server", lambda: baselines.bare(rig, options, "hypercorn"))
            step("baseline (a'): the bare Granian server", lambda: baselines.bare(rig, options, "granian"))
            step("baseline (b): the seed-style chain", lambda: baselines.seed_chain(rig, options))
            step("baseline (c): Kafka's producer tool", lambda: baselines.kafka_tool(rig, options))
        if "comparisons" in wanted:
            step("bridge -> writer over gRPC and HTTP/JSON", lambda: comparisons.leg(rig, options))
            step("two writers", lambda: comparisons.writer_replicas(rig, options))
        if "drain" in wanted:
            step(f"consumer drain of {options.drain_sales} sales", lambda: drain.drain(rig, options))
        if "flash" in wanted:
            step("the flash-sale shape", lambda: flash.flash_sale(rig, options, results))
    except (MissingTool, NotReady, RuntimeError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except OverBudget:
        print(f"bench: stopped at its bound of {args.budget:.0f} s (--budget); nothing written", file=sys.stderr)
        return 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        rig.stop()
    elapsed = time.monotonic() - started
    profile = {}
    if profiles is not None:
        for raw in sorted(profiles.glob("api-*.txt")):
            profile[raw.stem] = flat_profile(raw)
    print(report.table(rows))
    if any(row.stages for row in rows):
        print()
        print(report.stages_table(rows))
    report.write_csv(rows, results / "results.csv")
    report.plot_ingest(rows, results / "ingest.png")
    report.plot_cpu(rows, results / "cpu.png")
    report.plot_drain(rows, results / "drain.png")
    machine = docs.Machine.here()
    (results / "results.json").write_text(
        json.dumps(
            {"seconds": elapsed, "machine": asdict(machine), "rows": [asdict(r) for r in rows], "profile": profile},
            indent=1,
        )
    )
    print(f"\nbench: {len(rows)} rows in {elapsed:.0f} s; CSV, JSON and plots in {results}")
    for name, layers in profile.items():
        print(f"{name}: " + ", ".join(f"{layer} {share:.0f}%" for layer, share in layers[:6]))
    if args.write_docs:
        for path in docs.write(rows, profile, elapsed, results, args.docs, machine):
            print(f"wrote {path}")
    return 0


def _rewrite_docs(results: Path, folder: Path) -> int:
    try:
        saved = json.loads((results / "results.json").read_text())
    except (OSError, ValueError) as exc:
        print(f"bench: no results to write the documents from ({exc}): run make bench first", file=sys.stderr)
        return 1
    try:
        rows = [Row(**row) for row in saved["rows"]]
        profile = {name: [(layer, share) for layer, share in layers] for name, layers in saved["profile"].items()}
        machine = docs.Machine(**saved["machine"])
    except (KeyError, TypeError) as exc:
        print(
            f"bench: {results / 'results.json'} is from another version of the bench ({exc}): run make bench",
            file=sys.stderr,
        )
        return 1
    for path in docs.write(rows, profile, saved["seconds"], results, folder, machine):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
