"""The consumer: reads sales-topic in batches and applies them to Valkey exactly once per sale."""
