"""bf-valkey-exporter: Valkey's INFO figures as Prometheus metrics, from a sidecar beside each Valkey pod
(redis_exporter is not to be had from the registries this project uses)."""
