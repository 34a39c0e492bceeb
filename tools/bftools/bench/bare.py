"""Baseline (a): the bare HTTP server the design chose, parsing the same JSON and answering 201.

python -m bftools.bench.bare PORT [hypercorn|granian]
"""

from __future__ import annotations

import json
import sys
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def purchase(request: Request) -> Response:
    json.loads(await request.body())
    return JSONResponse({"id": "0", "status": "stored"}, status_code=201)


APP = Starlette(routes=[Route("/purchase", purchase, methods=["POST"])])


async def serve(port: int, server: str) -> None:
    framework: Any = APP
    if server == "granian":
        from granian.constants import Interfaces
        from granian.server.embed import Server

        await Server(framework, address="127.0.0.1", port=port, interface=Interfaces.ASGI, log_enabled=False).serve()
        return
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    await hypercorn_serve(framework, config)


def main() -> None:
    import uvloop

    uvloop.run(serve(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "hypercorn"))


if __name__ == "__main__":
    main()
