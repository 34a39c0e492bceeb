"""python -m bftools.stack {up,down,status,report,snapshot,demo}: the local stack behind the Makefile's targets."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bftools.dashboard.snapshot import write_snapshot
from bftools.runtime.paths import ROOT, MissingTool
from bftools.runtime.ports import PortTaken
from bftools.runtime.process import NotReady
from bftools.stack.demo import run_demo
from bftools.stack.stack import Stack, StackError, endpoints, valkey_env
from blackfriday.valkeyconn import Login, connect_as


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bftools.stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start Valkey, Kafka and the four services in the background")
    up.add_argument("--fresh", action="store_true", help="wipe the stack's data first")
    sub.add_parser("down", help="stop everything `up` started")
    sub.add_parser("status", help="show what runs")
    sub.add_parser("report", help="print the dashboard's figures as JSON")
    demo = sub.add_parser("demo", help="fresh stack + bounded Locust run + summary, then stop")
    demo.add_argument("--seconds", type=_positive, default=int(os.environ.get("BF_DEMO_SECONDS", "30")))
    demo.add_argument("--users", type=_positive, default=int(os.environ.get("BF_DEMO_USERS", "50")))
    demo.add_argument("--spawn-rate", type=float, default=25.0)
    demo.add_argument("--png", type=Path, default=Path(os.environ.get("BF_SNAPSHOT") or ROOT / "out" / "dashboard.png"))
    snapshot = sub.add_parser("snapshot", help="draw the sales dashboard from the running stack into a PNG")
    snapshot.add_argument("--png", type=Path, default=ROOT / "out" / "dashboard.png")
    args = parser.parse_args(argv)
    stack = Stack()
    try:
        if args.command == "up":
            done = stack.up(os.environ, fresh=args.fresh)
            if done.started:
                print("black-friday is up:")
            elif done.restarted:
                print(f"black-friday was partly down; restarted: {', '.join(done.restarted)}")
            else:
                print("black-friday is already running:")
            print(endpoints(done.ports))
            print(f"  logs      {stack.logs}/\nStop it with: make down")
        elif args.command == "down":
            stopped = stack.down()
            print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
        elif args.command == "status":
            rows = stack.status()
            if all(state == "not started" for _, state, _ in rows):
                print("not running")
            for name, state, proc in rows:
                where = f"pid {proc.pid:<8} {proc.log}" if proc else ""
                print(f"{name:<10} {state:<12} {where}".rstrip())
            dead = [name for name, state, _ in rows if state == "dead"]
            if dead:
                print(f"dead: {', '.join(dead)} (make up starts them again)")
        elif args.command == "report":
            return subprocess.call([sys.executable, "-m", "blackfriday.report"], env=valkey_env(stack, os.environ))
        elif args.command == "snapshot":
            if not stack.running():
                raise StackError("the local stack is not running: start it with make up")
            env = valkey_env(stack, os.environ)
            with connect_as(env["VALKEY_ADDR"], Login.from_env(env)) as client:
                write_snapshot(
                    client, args.png, {"categoria": env["FOCUS_CATEGORY"], "carnet": os.environ.get("BF_CARNET", "")}
                )
            print(f"wrote {args.png}")
        elif args.command == "demo":
            print(f"demo: starting a fresh local stack, then {args.users} Locust users for {args.seconds}s ...")
            sys.stdout.flush()
            code, text = run_demo(
                os.environ, seconds=args.seconds, users=args.users, spawn_rate=args.spawn_rate, png=args.png
            )
            print(text)
            print("demo: stack stopped")
            return code
    except (StackError, PortTaken, MissingTool, NotReady) as exc:
        print(f"localstack {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        stack.down()
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
