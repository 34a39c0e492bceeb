"""The bridge's one long-lived gRPC channel to the writers, and the check of their readiness."""

from __future__ import annotations

from typing import Final

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from blackfriday.grpcwire import SERVICE_NAME
from blackfriday.pb import product_sale_pb2_grpc

# Round-robin over every address the target resolves to (a headless Service gives one per writer pod);
# keepalive notices a dead writer without waiting for a call to fail.
CHANNEL_OPTIONS: Final = [
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.max_receive_message_length", 8 * 1024 * 1024),
]


class WriterLink:
    def __init__(self, target: str) -> None:
        self._target = target
        self._channel: grpc.aio.Channel | None = None

    def open(self) -> product_sale_pb2_grpc.ProductSaleServiceAsyncStub:
        """Open the channel (inside the running event loop) and return the service's stub."""
        self._channel = grpc.aio.insecure_channel(self._target, options=CHANNEL_OPTIONS)
        return product_sale_pb2_grpc.ProductSaleServiceStub(self._channel)

    async def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close(grace=None)

    async def ready(self) -> tuple[bool, str]:
        """The writers' own readiness (SERVING only while they can produce to Kafka)."""
        if self._channel is None:
            return False, "not started"
        try:
            reply = await health_pb2_grpc.HealthStub(self._channel).Check(
                health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=1.0
            )
        except grpc.aio.AioRpcError as exc:
            return False, f"writer unreachable: {exc.code().name}"
        serving = reply.status == health_pb2.HealthCheckResponse.SERVING
        return serving, "writer serving" if serving else "writer not serving (Kafka unreachable?)"
