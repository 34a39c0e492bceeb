"""The sections of `make bench`, one module each (`--only SECTION`); each function returns its rows.

ingest        the product end to end under wrk, with Hypercorn and with Granian
baselines     the bare HTTP servers, the seed-style chain, Kafka's own producer tool
comparisons   the bridge -> writer leg over gRPC and HTTP/JSON, two writers
drain         the consumer draining a pre-filled topic, against the seed-style consumer and the store's limit
flash         Locust's flash-sale shape
common        what they share: the services, a wrk row with its CPU and memory
"""
