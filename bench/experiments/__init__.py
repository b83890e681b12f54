"""Point-in-time experiments: changed copies of the artifact for `python -m bench.run --candidate DIR`."""
