"""python -m bftools.chartgen [--check]: write the generated files, or (--check) name those out of date."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bftools.chartgen.generate import stale, write
from bftools.runtime.paths import ROOT


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bftools.chartgen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report files that are out of date (exit 1)")
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale()
        for path in out_of_date:
            print(f"out of date: {path.relative_to(ROOT)} (run make generate)", file=sys.stderr)
        return 1 if out_of_date else 0
    changed = write()
    for path in changed:
        print(f"wrote {path.relative_to(ROOT)}")
    if not changed:
        print("every generated file is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
