"benet benchmarks as a package: `harness`, `baselines`, `sections/*` (one per section), `targets`, `plots`; `bench.py` runs them."
