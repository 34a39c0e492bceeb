"""python -m bftools.soak: make soak. Millions of sales through the consumer, the pipeline taking sales
beside; Valkey's memory and each service's RSS from start to end. Writes docs/soak.csv, docs/soak.png and
the table in docs/reliability.md (--write-doc); exits 1 when the store or a service grows past its bound,
or a sale is not counted exactly once."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bftools.runtime.docs import write_section
from bftools.runtime.paths import ROOT, MissingTool
from bftools.runtime.process import NotReady, die_with_this_process
from bftools.soak.run import Plan, plot, run, summary_json, table, write_csv


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bftools.soak", description=__doc__)
    defaults = Plan()
    parser.add_argument(
        "--sales", type=int, default=defaults.sales, help=f"sales in the topic (default {defaults.sales:,})"
    )
    parser.add_argument("--interval", type=float, default=defaults.interval, help="seconds between samples")
    parser.add_argument("--budget", type=float, default=defaults.budget, help="seconds before the run gives up")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "soak", help="CSV and PNG path without suffix")
    parser.add_argument("--write-doc", action="store_true", help="write the table into docs/reliability.md")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "reliability.md", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sales < 1000:
        print("soak: --sales must be at least 1000", file=sys.stderr)
        return 2
    plan = Plan(sales=args.sales, interval=args.interval, budget=args.budget)
    die_with_this_process()  # the soak's broker, Valkey and services are its own: they never outlive it
    try:
        with tempfile.TemporaryDirectory(prefix="bf-soak-") as home:
            verdict = run(plan, Path(home), lambda line: print(line, flush=True))
    except (MissingTool, NotReady, RuntimeError) as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    text = table(verdict, plan)
    print(text)
    write_csv(verdict.samples, args.out.with_suffix(".csv"))
    plot(verdict, args.out.with_suffix(".png"))
    print(f"wrote {args.out.with_suffix('.csv')} and {args.out.with_suffix('.png')}")
    print(f"SOAK {summary_json(verdict)}")
    if args.write_doc:
        write_section(args.doc, "soak", text)
        print(f"wrote the table into {args.doc}")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
