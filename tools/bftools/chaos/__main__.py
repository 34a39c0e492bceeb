"""python -m bftools.chaos: the fault matrix under load on a stack of its own (make chaos); --short is the
form make test runs, --write-doc writes the table and its totals into docs/reliability.md."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from bftools.chaos.dashboard import report
from bftools.chaos.matrix import run, summary, write_doc
from bftools.runtime.paths import ROOT, MissingTool
from bftools.runtime.ports import PortTaken
from bftools.runtime.process import NotReady
from bftools.stack.stack import StackError

SHORT = {"hold": 2.0, "broker_hold": 7.0, "settle": 3.0, "rate": 100.0}
FULL = {"hold": 5.0, "broker_hold": 10.0, "settle": 6.0, "rate": 150.0}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bftools.chaos", description=__doc__)
    parser.add_argument("--short", action="store_true", help="short holds and settle times (the form make test runs)")
    parser.add_argument("--write-doc", action="store_true", help="write the table into docs/reliability.md")
    args = parser.parse_args(argv)
    timings = SHORT if args.short else FULL
    started = time.monotonic()
    try:
        code, results, dashboard = run(
            os.environ,
            say=lambda line: print(line, flush=True),
            warn=lambda line: print(line, file=sys.stderr, flush=True),
            **timings,
        )
    except (StackError, PortTaken, MissingTool, NotReady, RuntimeError) as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the run's own stack is stopped by run()
        return 130
    text = summary(results, time.monotonic() - started, timings["rate"])
    print(text)
    print(report(dashboard))
    if args.write_doc:
        write_doc(ROOT / "docs" / "reliability.md", text)
        print("wrote the table and its totals into docs/reliability.md")
    return code


if __name__ == "__main__":
    sys.exit(main())
