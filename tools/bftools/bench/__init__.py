"""bftools.bench: `make bench`, the pipeline's numbers side by side with the baselines the seed compared.

  python -m bftools.bench [--quick] [--only SECTION ...]

Every load goes to 127.0.0.1 only, every run is bounded in time and count, and every component is the
project's own (the local stack's pieces on free ports). Results: a table on stdout, CSV and PNG plots in
out/bench/, and docs/performance.md and docs/scaling.md written from the run.
"""
