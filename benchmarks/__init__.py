"""Performance measurements (never timed assertions): see benchmarks/README.md."""
