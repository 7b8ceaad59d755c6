"""Registries: lazy loading, refusal of duplicate names, clear unknown-name errors."""

import pytest

from dlbench import backends, workloads
from dlbench.errors import UsageError
from dlbench.registry import Registry


class Thing:
    name = "thing"


def test_register_and_refuse_a_different_class_under_the_same_name():
    reg = Registry("widget", package="")
    reg.register(Thing)
    reg.register(Thing)  # the same class again is harmless (module re-import)
    other = type("Other", (), {"name": "thing"})
    with pytest.raises(ValueError, match="widget 'thing' is already registered"):
        reg.register(other)
    assert reg.names() == ["thing"] and reg.get("thing") is Thing
    with pytest.raises(UsageError, match=r"unknown widget 'nope' \(known: thing\)"):
        reg.get("nope")


def test_builtin_registries():
    assert {"numpy", "torch", "cupy", "jax", "tensorflow"} <= set(backends.names())
    assert "matmul" in workloads.names()
    with pytest.raises(UsageError, match="unknown backend"):
        backends.get("mxnet")


# -- natives: typed objects, one signature per kind, checked at import ----------------------
class Scale(workloads.Workload):
    """A workload of this test's own (never registered): y = 2·x."""

    name = "scale"
    params = (workloads.Param("n", 4, "elements"),)
    size_params = ("n",)

    def portable(self, xp, arrays, p):
        x = arrays["x"]
        return lambda: 2 * x


def test_a_native_is_registered_with_the_kind_its_backend_takes():
    from dlbench.backends.jax import JaxBackend
    from dlbench.backends.torch import TorchBackend
    from dlbench.kernels import FunctionNative, KernelNative

    class Local(Scale):
        pass

    @Local.native(TorchBackend, devices=("cuda",))
    def torch_scale(backend, arrays, p):
        return lambda: arrays["x"] * 2

    @Local.native(JaxBackend)
    def jax_scale(p):
        return lambda arrays: arrays["x"] * 2

    assert type(Local.natives["torch"]) is KernelNative
    assert type(Local.natives["jax"]) is FunctionNative
    assert Local.natives["torch"].build is torch_scale  # the function itself, not a name
    assert Scale.natives == {}  # the base class keeps none of its subclass's natives
    # torch.compile builds from the native kernel even where that is not measured
    assert Local().impls_for("torch", "cpu") == ("portable", "compiled")
    assert Local().impls_for("torch", "cuda:1") == ("portable", "native", "compiled")
    assert Local().impls_for("tensorflow") == ()  # no portable kernel there, no native


def test_a_native_of_the_wrong_signature_or_a_second_one_is_refused_at_import():
    from dlbench.backends.jax import JaxBackend
    from dlbench.backends.torch import TorchBackend

    class Local(Scale):
        pass

    with pytest.raises(TypeError, match=r"a FunctionNative is build\(p\), not "
                                        r"\(backend, arrays, p\)"):
        Local.native(JaxBackend)(lambda backend, arrays, p: None)
    Local.native(TorchBackend)(lambda backend, arrays, p: None)
    with pytest.raises(TypeError, match="already has a native for torch"):
        Local.native(TorchBackend)(lambda backend, arrays, p: None)


def test_every_builtin_native_is_of_its_backends_kind():
    for name in workloads.names():
        for backend, native in workloads.get(name).natives.items():
            assert type(native) is backends.backend_class(backend).native_kind, (name, backend)
