"""The writer's gRPC contract (protos/blackfriday/pb/product_sale.proto): its names, and sales to and from it.

The bridge (client) and the writer (server) take the service name, the health check name and the
conversions from here.
"""

from __future__ import annotations

from typing import Final

from blackfriday.ids import new_sale_id, now_ms
from blackfriday.pb import product_sale_pb2
from blackfriday.sale import Sale, Stored, sale_from_wire

#: The gRPC service, which is also the name its readiness is checked under (grpc.health.v1).
SERVICE_NAME: Final = product_sale_pb2.DESCRIPTOR.services_by_name["ProductSaleService"].full_name
#: The seed's `estado` of a stored sale.
PROCESSED: Final = "Procesado"


def sale_to_proto(sale: Sale) -> product_sale_pb2.ProductSaleRequest:
    return product_sale_pb2.ProductSaleRequest(
        categoria=int(sale.categoria),  # type: ignore[arg-type]
        producto_id=sale.producto_id,
        precio=sale.precio,
        cantidad_vendida=sale.cantidad_vendida,
        sale_id=sale.id,
        accepted_at_ms=sale.accepted_at_ms,
    )


def sale_from_proto(message: product_sale_pb2.ProductSaleRequest) -> Sale:
    """Validate a request; a seed-style request without id or timestamp gets them here.

    Raises InvalidSale naming each bad field.
    """
    return sale_from_wire(
        {
            "id": message.sale_id or new_sale_id(),
            "accepted_at_ms": message.accepted_at_ms or now_ms(),
            "categoria": int(message.categoria),
            "producto_id": message.producto_id,
            "precio": message.precio,
            "cantidad_vendida": message.cantidad_vendida,
        }
    )


def stored_reply(sale: Sale, stored: Stored) -> product_sale_pb2.ProductSaleResponse:
    return product_sale_pb2.ProductSaleResponse(
        estado=PROCESSED, exito=True, sale_id=sale.id, partition=stored.partition, offset=stored.offset
    )
