"""The writer over HTTP/JSON instead of gRPC, for the seed's comparison of the bridge -> writer leg.

The same producer (SaleProducer: acks=all, idempotent) behind POST /produce {"sales": [...]} on Hypercorn.

    python -m bftools.bench.http_writer   (LISTEN_PORT, KAFKA_BROKERS, KAFKA_TOPIC)
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from blackfriday.sale import sale_from_wire
from blackfriday.writer.producer import SaleProducer
from blackfriday.writer.settings import WriterSettings


def create_app(settings: WriterSettings) -> Starlette:
    producer = SaleProducer(settings)

    async def produce(request: Request) -> Response:
        sales = [sale_from_wire(s) for s in json.loads(await request.body())["sales"]]
        stored = await producer.publish(sales, settings.delivery_timeout_ms / 1000)
        return JSONResponse({"results": [{"partition": s.partition, "offset": s.offset} for s in stored]})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await producer.start()
        yield
        await producer.close(5)

    return Starlette(routes=[Route("/produce", produce, methods=["POST"])], lifespan=lifespan)


async def serve() -> None:
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    settings = WriterSettings.from_env(os.environ)
    config = Config()
    config.bind = [f"127.0.0.1:{settings.listen_port}"]
    config.accesslog = None
    app: Any = create_app(settings)
    await hypercorn_serve(app, config)


if __name__ == "__main__":
    import uvloop

    uvloop.run(serve())
