"""black-friday: a real-time sales pipeline (api -> bridge -> writer -> Kafka -> consumer -> Valkey)."""

__version__ = "0.1.0"
