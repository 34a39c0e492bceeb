"""The api: the public entry point. Validates POST /purchase and forwards the sale to the bridge."""
