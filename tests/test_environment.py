"""The environment record's judgements: CPU peak derivation and notes on the BLAS kernel."""

import pytest

from dlbench import environment


def record(kernel, flags=("avx2", "avx512f", "fma"), coretype=None, api="openblas"):
    return {"cpu": {"flags": list(flags)},
            "blas": [{"internal_api": api, "architecture": kernel, "num_threads": 2}],
            "env_vars": {"OPENBLAS_CORETYPE": coretype} if coretype else {}}


@pytest.mark.parametrize(("rec", "notes"), [
    (record("Haswell", coretype="Haswell"),
     ["OPENBLAS_CORETYPE=Haswell is set: NumPy's OpenBLAS runs its Haswell kernel, which "
      "uses no AVX-512 although this CPU has it"]),
    (record("SkylakeX", coretype="SkylakeX"),
     ["OPENBLAS_CORETYPE=SkylakeX is set: NumPy's OpenBLAS runs its SkylakeX kernel"]),
    (record("Zen"), ["NumPy's OpenBLAS runs its Zen kernel, which uses no AVX-512 although "
                     "this CPU has it"]),
    (record("SkylakeX"), []),  # chosen by OpenBLAS for this CPU: nothing to say
    (record("Haswell", flags=("avx2", "fma")), []),  # the best this CPU has
    (record("Haswell", coretype="Haswell", api="mkl"), []),
])
def test_blas_notes(rec, notes):
    assert environment.blas_notes(rec) == notes


def test_peak_unknown_without_a_maximum_clock():
    cpu = {"vendor": "AuthenticAMD", "family": 0x1A, "flags": ["avx512f", "fma"],
           "usable_cores": 2, "mhz_max": None}
    peak = environment.peak_flops(cpu, env={})
    assert set(peak) == {"unknown"} and environment.CPU_GHZ_ENV in peak["unknown"]
    # Zen 5: two 512-bit FMA pipes, 32 float32 FMAs (64 FLOP) per cycle and core.
    peak = environment.peak_flops(cpu, env={environment.CPU_GHZ_ENV: "3.5"})
    assert peak["float32"]["flops"] == pytest.approx(2 * 3.5e9 * 64)
