"""Sales to and from their protobuf form (the writer's gRPC contract in protos/)."""

from __future__ import annotations

from blackfriday.ids import new_sale_id, now_ms
from blackfriday.pb import product_sale_pb2
from blackfriday.sale import Sale, sale_from_wire


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
