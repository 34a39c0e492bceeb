"""bftools.chaos: `make chaos`, the fault matrix (matrix.py: the faults, the load and its ledger, the
accounting and the table), run on a local stack of its own beside the benchmarks (bftools.bench).

  python -m bftools.chaos [--short] [--write-doc]
"""
