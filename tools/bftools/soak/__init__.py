"""`make soak` (python -m bftools.soak): millions of sales through the consumer while the whole pipeline
takes sales too; Valkey's memory and every service's RSS sampled from start to end (bftools.soak.run)."""
