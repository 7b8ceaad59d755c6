"""pytest fixtures and hooks shared by every test file; nothing else.

Plain helpers (builders of results and runs, the one-line-error assertion, the committed
data files) live in tests/helpers.py and are imported by name.
"""

import pytest

from dlbench import backends, i18n

GPU_LIBRARIES = ("torch", "cupy")


@pytest.fixture(scope="session")
def cuda_probes():
    """What each GPU library says about CUDA here, asked once per session and only when a
    test needs it (the probe starts child processes that import torch and CuPy)."""
    return {library: backends.probe(library) for library in GPU_LIBRARIES}


@pytest.fixture(params=GPU_LIBRARIES)
def gpu_library(request, cuda_probes):
    """Each GPU library in turn, skipped with its probe's own reason where it has no GPU."""
    probe = cuda_probes[request.param]
    if not probe.ok:
        pytest.skip(f"no usable GPU for {request.param}: {probe.reason}")
    return request.param


@pytest.fixture
def no_gpu(cuda_probes):
    """For the tests of what a machine without a GPU says: skipped where one is usable."""
    if any(probe.ok for probe in cuda_probes.values()):
        pytest.skip("a CUDA GPU is usable here")


@pytest.fixture(autouse=True)
def _outside_the_repository(tmp_path, monkeypatch):
    """Every test runs in its own empty folder: a `dlbench run` that a test did not
    expect to succeed writes its default results/ there, never into the repository."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _in_english(monkeypatch):
    """Every test starts in English, whatever the machine's locale: the tests of another
    language switch to it themselves (tests/test_i18n.py)."""
    monkeypatch.setenv(i18n.ENV_VAR, "en")
    i18n.use()
    yield
    i18n.use("en")
