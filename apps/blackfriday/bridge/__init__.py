"""The bridge: HTTP/JSON in, gRPC out to the writer over one long-lived channel."""
