"""bf-bridge: HTTP/JSON to gRPC (Starlette on Hypercorn, grpc.aio client)."""

import sys

from blackfriday.bootstrap import service_main
from blackfriday.bridge.app import serve
from blackfriday.bridge.settings import BridgeSettings

main = service_main("bridge", BridgeSettings, serve)

if __name__ == "__main__":
    sys.exit(main(None))
