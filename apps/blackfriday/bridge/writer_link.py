"""The bridge's one long-lived gRPC channel to the writers, and the check of their readiness."""

from __future__ import annotations

from typing import Final

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from blackfriday.grpcwire import SERVICE_NAME
from blackfriday.pb import product_sale_pb2_grpc

# Round-robin over every address the target resolves to (a headless Service gives one per writer pod);
# keepalive notices a dead writer without waiting for a call to fail. The names are looked up again when a
# writer goes away (its GOAWAY when it drains, or when a connection reaches the writer's maximum age): at
# most once a second instead of gRPC's default 30 s, so a rollout's new writers are found at once. A lost
# connection is tried again within 2 s (gRPC's default backoff grows to 120 s).
CHANNEL_OPTIONS: Final = [
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.max_receive_message_length", 8 * 1024 * 1024),
    ("grpc.dns_min_time_between_resolutions_ms", 1_000),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]
#: Health checks before the bridge calls its writers unready: round-robin sends each to the next writer,
#: so one draining writer (NOT_SERVING) does not make the bridge, and the api behind it, unready.
READY_ATTEMPTS: Final = 3


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

    def connected(self) -> bool:
        """A writer is connected now (the channel is READY)."""
        return self._channel is not None and self._channel.get_state() == grpc.ChannelConnectivity.READY

    async def ready(self) -> tuple[bool, str]:
        """Ready while a writer is (SERVING only while it can produce to Kafka)."""
        if self._channel is None:
            return False, "not started"
        stub = health_pb2_grpc.HealthStub(self._channel)
        reason = ""
        for _ in range(READY_ATTEMPTS):
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=1.0)
            except grpc.aio.AioRpcError as exc:
                reason = f"writer unreachable: {exc.code().name}"
                continue
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return True, "writer serving"
            reason = "writer not serving (Kafka unreachable?)"
        return False, reason
