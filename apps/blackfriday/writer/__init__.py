"""The writer: a gRPC server that produces each sale to Kafka and answers after the broker's ack."""
