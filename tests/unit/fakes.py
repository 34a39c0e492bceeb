"""Test doubles shared by the unit tests."""

from __future__ import annotations

from typing import Any

import httpx

from blackfriday.api.bridge_client import Answer, BridgeTimeout, BridgeUnreachable


class HttpxBridge:
    """The api's bridge client over an httpx transport: a fake bridge written as an httpx handler
    (``handler(request) -> httpx.Response``, sync or async) answers the api's requests."""

    def __init__(self, handler: Any) -> None:
        self._client = httpx.AsyncClient(base_url="http://bridge", transport=httpx.MockTransport(handler))

    async def _send(self, method: str, path: str, body: bytes | None, timeout: float) -> Answer:
        headers = {"content-type": "application/json"} if body is not None else None
        try:
            response = await self._client.request(method, path, content=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise BridgeTimeout(str(exc)) from exc
        except httpx.HTTPError as exc:
            raise BridgeUnreachable(f"bridge unreachable: {exc}") from exc
        return Answer(response.status_code, response.content)

    async def post_json(self, path: str, body: bytes, timeout: float) -> Answer:
        return await self._send("POST", path, body, timeout)

    async def get(self, path: str, timeout: float) -> Answer:
        return await self._send("GET", path, None, timeout)

    async def aclose(self) -> None:
        await self._client.aclose()
