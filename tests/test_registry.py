"""Registries: lazy loading, refusal of duplicate names, clear unknown-name errors."""

import pytest

from dlbench import backends, workloads
from dlbench.errors import UsageError
from dlbench.registry import Registry


class Thing:
    name = "thing"


def test_register_and_refuse_a_different_class_under_the_same_name():
    reg = Registry("widget", modules=())
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
