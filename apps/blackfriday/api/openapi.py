"""The api's OpenAPI document (GET /openapi.json), built from the sale's own bounds.

The schema of a sale accepts at least every sale the api accepts (it is looser where the api's rule is not
expressible in JSON Schema: "no control characters", prices that round to 0 cents), so a fuzzer that sends
what the schema refuses must only ever get a 4xx.
"""

from __future__ import annotations

from typing import Any, Final

from blackfriday.sale import CATEGORY_NAMES, MAX_PRICE, MAX_PRODUCT_ID_CHARS, MAX_QUANTITY, PUBLIC_FIELDS, Category


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


SALE: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": list(PUBLIC_FIELDS),
    "properties": {
        "categoria": {
            "description": "1 Electronica, 2 Ropa, 3 Hogar, 4 Belleza, or the name in any case",
            "oneOf": [
                {"type": "integer", "minimum": min(Category), "maximum": max(Category)},
                {"type": "string", "pattern": "^(" + "|".join(_any_case(name) for name in CATEGORY_NAMES) + ")$"},
            ],
        },
        "producto_id": {"type": "string", "minLength": 1, "maxLength": MAX_PRODUCT_ID_CHARS},
        "precio": {
            "type": "number",
            "minimum": 0,
            "exclusiveMinimum": True,
            "maximum": MAX_PRICE,
            "description": "kept in cents, rounded half up",
        },
        "cantidad_vendida": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
    },
}

_ERROR: Final = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "reason": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_UNAVAILABLE: Final = {
    "type": "object",
    "required": ["error", "reason", "stored", "retry_after_seconds"],
    "properties": {
        "error": {"type": "string", "enum": ["unavailable"]},
        "reason": {"type": "string"},
        "id": {"type": "string"},
        "stored": {"type": "string", "enum": ["no", "unknown"]},
        "retry_after_seconds": {"type": "integer"},
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    meaning = {
        400: "malformed JSON (NaN, duplicate keys and too deep nesting included)",
        404: "no such path",
        405: "wrong method",
        408: "the body did not arrive in time",
        413: "body too large",
        415: "not application/json",
        422: "bad fields, each named",
    }
    return {str(code): _json(_ERROR, meaning[code]) for code in codes}


OPENAPI: Final[dict[str, Any]] = {
    "openapi": "3.0.3",
    "info": {"title": "black-friday api", "version": "1", "description": "POST a sale; a 201 means it is in Kafka."},
    "paths": {
        "/purchase": {
            "post": {
                "operationId": "purchase",
                "requestBody": {"required": True, "content": {"application/json": {"schema": SALE}}},
                "responses": {
                    "201": _json(
                        {
                            "type": "object",
                            "required": ["id", "status", "accepted_at_ms", "partition", "offset"],
                            "properties": {
                                "id": {"type": "string"},
                                "status": {"type": "string", "enum": ["stored"]},
                                "accepted_at_ms": {"type": "integer"},
                                "partition": {"type": "integer"},
                                "offset": {"type": "integer"},
                            },
                        },
                        "stored in Kafka, acknowledged by all in-sync replicas",
                    ),
                    **_errors(400, 405, 408, 413, 415, 422),
                    "503": _json(_UNAVAILABLE, "not stored now; retry after retry_after_seconds"),
                },
            }
        },
        "/healthz": {"get": {"operationId": "healthz", "responses": {"200": _json({"type": "object"}, "alive")}}},
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "responses": {
                    "200": _json({"type": "object"}, "ready: the bridge answers"),
                    "503": _json({"type": "object"}, "not ready"),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "responses": {"200": {"description": "Prometheus", "content": {"text/plain": {"schema": {}}}}},
            }
        },
    },
}
