"""dlbench: honest deep-learning compute benchmarks across NumPy, CuPy and PyTorch."""

__version__ = "0.1.0"
