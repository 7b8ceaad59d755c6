"""dlbench: honest deep-learning compute benchmarks across NumPy, PyTorch, TensorFlow, JAX
and CuPy."""

__version__ = "0.1.0"
