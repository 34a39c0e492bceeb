"""bf-api: the public HTTP entry point (Starlette on Hypercorn)."""

import sys

from blackfriday.api.app import serve
from blackfriday.api.settings import ApiSettings
from blackfriday.bootstrap import service_main

main = service_main("api", ApiSettings, serve)

if __name__ == "__main__":
    sys.exit(main(None))
