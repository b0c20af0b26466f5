"""Data sets: φ⁴ Monte Carlo, Gaussian fields, images; all written and read as one `.npz` format."""
