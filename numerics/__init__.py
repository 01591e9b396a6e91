"""The bridge between theory, kernels and torch: tolerances, op counting, gradient checks."""
