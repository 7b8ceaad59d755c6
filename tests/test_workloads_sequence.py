"""Speech and language workloads — lstm, lstm_train_step, attention, transformer_train_step:
every implementation verifies on every CPU backend, the FLOP formulas count the products
the portable kernels do, the float64 references agree with torch autograd, wrong kernels
and subtly wrong gradients fail, bad parameters are refused, training learns a task
that needs the recurrence or the attention, and the report's epoch extrapolation counts
their data in tokens and seconds of audio."""

import importlib.util
import math

import numpy as np
import pytest

from dlbench import backends, stats, workloads
from dlbench.errors import UsageError
from dlbench.report import epoch
from dlbench.results import CaseSpec, Result
from dlbench.workloads import _attention, attention, lstm, transformer
from dlbench.workloads._transformer_reference import reference_step as transformer_reference
from tests.helpers import assert_one_line_error, cli, fast_impls

HAVE_TORCH = importlib.util.find_spec("torch") is not None
BACKENDS = ["numpy", pytest.param("torch", marks=pytest.mark.skipif(
    not HAVE_TORCH, reason="torch is not installed"))]
SMALL = {
    "lstm": {"hidden": 12, "batch": 3, "timesteps": 5, "input": 7},
    "lstm_train_step": {"hidden": 12, "batch": 16, "timesteps": 6, "input": 8, "classes": 4},
    "attention": {"batch": 2, "seq": 13, "heads": 3, "head_dim": 8},
    "transformer_train_step": {"batch": 8, "seq": 8, "d_model": 16, "heads": 2, "classes": 4},
}
CAUSAL = [("attention", {"causal": 1}), ("transformer_train_step", {"causal": 1})]
CASES = [(name, {}) for name in SMALL] + CAUSAL


def case_id(case):
    name, extra = case
    return name + ("-causal" if extra else "")


def prepare(name, backend_name, dtype, impl="portable", seed=workloads.DEFAULT_SEED, **extra):
    if backend_name == "torch":
        pytest.importorskip("torch")
    wl = workloads.get(name)
    be = backends.get(backend_name)
    backends.import_library(be)
    p = wl.resolve(**{**SMALL[name], **extra})
    arrays = {k: be.asarray(v, dtype) for k, v in wl.inputs(p, seed).items()}
    widened = {k: be.to_numpy(v).astype(np.float64) for k, v in arrays.items()}
    return wl, be, p, arrays, widened, wl.kernel(impl, be, arrays, p)


def host(be, output):
    if isinstance(output, tuple):
        return tuple(be.to_numpy(a).astype(np.float64) for a in output)
    return be.to_numpy(output).astype(np.float64)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One BLAS and one torch thread for these tests of tiny arrays: on the shared 2-vCPU
    machine the idle threads of two libraries in one process spin against each other
    (a tiny LSTM forward on torch took 40–100 ms instead of 1 ms, and 40 native LSTM
    steps 0.5–9 s instead of 0.07 s)."""
    from threadpoolctl import threadpool_limits

    torch = pytest.importorskip("torch") if HAVE_TORCH else None
    before = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(1)
    with threadpool_limits(limits=1, user_api="blas"):
        yield
    if torch:
        torch.set_num_threads(before)


# -- every workload ------------------------------------------------------------------------

@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_every_implementation_verifies(case, backend_name):
    name, extra = case
    dtypes = ["float32", "float64"] + (["bfloat16"] if backend_name == "torch" else [])
    for dtype in dtypes:
        for impl in fast_impls(workloads.get(name), backend_name):
            wl, be, p, _, widened, kernel = prepare(name, backend_name, dtype, impl, **extra)
            check = wl.check(host(be, kernel()), widened, p, dtype)
            assert check.ok and check.max_rel_err <= check.tol, (dtype, impl, check)


class CountingXp:
    """An array namespace that counts the FLOPs of every matrix-matrix product it is asked
    for (a matrix-vector product, a row reduction written as one, is not a GEMM)."""

    def __init__(self, xp):
        self.xp, self.flops = xp, 0

    def __getattr__(self, name):
        return getattr(self.xp, name)

    def matmul(self, a, b):
        if a.ndim >= 2 and b.ndim >= 2:
            batch = math.prod(np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2])))
            self.flops += 2 * batch * a.shape[-2] * a.shape[-1] * b.shape[-1]
        return self.xp.matmul(a, b)


def counted_flops(name, **params):
    wl = workloads.get(name)
    be = backends.get("numpy")
    p = wl.resolve(**params)
    arrays = {k: be.asarray(v, "float64") for k, v in wl.inputs(p).items()}
    xp = CountingXp(be.xp)
    wl.portable(xp, arrays, p)()
    return wl, p, xp.flops


@pytest.mark.parametrize("name", list(SMALL))
def test_flop_formula_counts_the_portable_kernels_products(name):
    wl, p, counted = counted_flops(name, **SMALL[name])
    assert counted == wl.flops(p)


def test_causal_flops_are_half_and_the_blocks_do_little_more():
    """FlashAttention's convention: causal attention counts half the products. The
    portable kernel's row blocks skip the keys after each block, so it does
    (1 + 1/8)/2 of the unmasked products, not all of them."""
    extra = 9 / 16 - 1 / 2
    wl, p, counted = counted_flops("attention", batch=1, seq=16, heads=2, head_dim=4, causal=1)
    assert wl.flops(p) == 4 * 16 ** 2 * 2 * 4 / 2
    assert counted == pytest.approx(wl.flops(p) * 9 / 8)
    wl, p, counted = counted_flops("transformer_train_step", batch=2, seq=16, d_model=8,
                                   heads=2, classes=3, causal=1)
    assert counted == pytest.approx(wl.flops(p) + 12 * 2 * 16 * 16 * 8 * extra)


def test_flop_formulas_in_numbers():
    p = workloads.get("lstm").resolve(hidden=512, batch=16, timesteps=25)
    assert p["input"] == 512  # input defaults to hidden
    assert workloads.get("lstm").flops(p) == 2 * 4 * 512 * (512 + 512) * 16 * 25
    step = workloads.get("lstm_train_step")
    p = step.resolve(hidden=2, batch=3, timesteps=5, input=7, classes=11)
    assert step.flops(p) == 8 * 2 * 3 * (2 * 5 * 7 + 3 * 5 * 2 - 2) + 6 * 5 * 3 * 2 * 11
    tr = workloads.get("transformer_train_step")
    p = tr.resolve(batch=2, seq=3, d_model=4, heads=2, classes=5)
    n = 2 * 3
    assert tr.flops(p) == 72 * n * 16 + 12 * n * 3 * 4 + 6 * n * 4 * 5
    assert workloads.get("attention").resolve(size=1024)["seq"] == 1024


@pytest.mark.parametrize(("name", "bad", "rule"), [
    ("transformer_train_step", {"d_model": 10, "heads": 4}, "heads (4) must divide d_model (10)"),
    ("transformer_train_step", {"causal": 2}, "causal must be 0 or 1"),
    ("attention", {"causal": 3}, "causal must be 0 or 1"),
    ("attention", {"seq": 0}, "seq must be an integer >= 1"),
    ("lstm", {"timesteps": 0}, "timesteps must be an integer >= 1"),
    ("lstm", {"input": -1}, "input must be an integer >= 0"),
    ("lstm_train_step", {"classes": 1}, "classes must be an integer >= 2"),
])
def test_bad_parameters_name_the_rule(name, bad, rule):
    with pytest.raises(UsageError) as info:
        workloads.get(name).resolve(**{**SMALL[name], **bad})
    assert rule in str(info.value)


def test_bad_parameters_in_a_suite_file_are_exit_2_with_the_rule(tmp_path):
    suite = tmp_path / "mine.toml"
    suite.write_text('[[benchmark]]\nworkload = "transformer_train_step"\n'
                     'params = {d_model = 100, heads = 12}\n')
    result = cli("run", "--suite", str(suite))
    assert_one_line_error(result, "mine.toml", "heads (12) must divide d_model (100)")


def test_list_shows_the_new_workloads_with_formulas():
    result = cli("list", env={"COLUMNS": "400"})
    assert result.exit_code == 0
    for text in ("lstm_train_step", "transformer_train_step", "4·batch·seq²·heads·head_dim"):
        assert text in result.stdout


LOSSES = {
    "lstm_train_step": lambda a, p: lstm.loss(np, a),
    "transformer_train_step": lambda a, p: transformer.loss(np, a, p["heads"], bool(p["causal"])),
}


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("case", [("lstm_train_step", {}), ("transformer_train_step", {}),
                                  ("transformer_train_step", {"causal": 1})], ids=case_id)
def test_a_few_dozen_steps_learn_what_needs_memory_or_attention(case, backend_name):
    """Labels depend on other positions (the LSTM's on the previous frame, the
    transformer's on the first token), so a model that looks at each position alone
    cannot get below log(C)·(S−1)/S; forty steps on data of another seed do."""
    name, extra = case
    for impl in fast_impls(workloads.get(name), backend_name):
        _, be, p, arrays, widened, step = prepare(name, backend_name, "float32", impl,
                                                  seed=12345, **extra)
        length = p.get("timesteps", p.get("seq"))
        memoryless = math.log(p["classes"]) * (length - 1) / length
        before = LOSSES[name](widened, p)
        for _ in range(40):
            step()
        now = {k: be.to_numpy(v).astype(np.float64) for k, v in arrays.items()}
        after = LOSSES[name](now, p)
        assert after < 0.6 * min(before, memoryless), (impl, before, after, memoryless)


# -- lstm -----------------------------------------------------------------------------------

def test_lstm_reference_agrees_with_torch_autograd():
    """The float64 references (forward and step) against torch.nn.LSTM and autograd."""
    torch = pytest.importorskip("torch")
    wl = workloads.get("lstm_train_step")
    p = wl.resolve(**SMALL["lstm_train_step"])
    a = wl.inputs(p)
    t = {k: torch.tensor(v, requires_grad=k in lstm.WEIGHTS) for k, v in a.items()}
    module = torch.nn.LSTM(p["input"], p["hidden"], dtype=torch.float64)
    for name, key in zip(lstm.TORCH_NAMES, lstm.LSTM_WEIGHTS, strict=True):
        setattr(module, name, torch.nn.Parameter(t[key]))
    out = module(t["x"])[0]
    np.testing.assert_allclose(np.stack(lstm.reference_forward(a).h[1:]),
                               out.detach().numpy(), rtol=1e-12, atol=1e-14)
    frames = p["timesteps"] * p["batch"]
    logits = out.reshape(frames, -1) @ t["w_out"] + t["b_out"]
    torch.nn.functional.cross_entropy(logits, t["y"].reshape(frames, -1)).backward()
    new, _ = lstm.reference_step(a)
    for key in lstm.WEIGHTS:
        grad = (module.get_parameter(lstm.TORCH_NAMES[lstm.LSTM_WEIGHTS.index(key)]).grad
                if key in lstm.LSTM_WEIGHTS else t[key].grad)
        np.testing.assert_allclose(new[key], a[key] - lstm.LEARNING_RATE * grad.numpy(),
                                   rtol=1e-10, atol=1e-13, err_msg=key)


def truncated_step(a, p, detach):
    """A float64 LSTM step by autograd whose backward stops at every timestep (detach):
    truncated backpropagation through time, a classic subtle bug."""
    torch = pytest.importorskip("torch")
    t = {k: torch.tensor(v, requires_grad=k in lstm.WEIGHTS) for k, v in a.items()}
    h = c = torch.zeros(p["batch"], p["hidden"], dtype=torch.float64)
    tops = []
    for x in t["x"]:
        h_in, c_in = (h.detach(), c.detach()) if detach else (h, c)
        z = x @ t["w_ih"].T + h_in @ t["w_hh"].T + t["b_ih"] + t["b_hh"]
        i, f, g, o = z.chunk(4, dim=1)
        c = torch.sigmoid(f) * c_in + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        tops.append(h)
    logits = torch.cat(tops) @ t["w_out"] + t["b_out"]
    torch.nn.functional.cross_entropy(logits, t["y"].reshape(logits.shape)).backward()
    return tuple((t[k] - lstm.LEARNING_RATE * t[k].grad).detach().numpy() for k in lstm.WEIGHTS)


def test_lstm_step_check_catches_truncated_backprop_and_wrong_updates():
    wl, be, p, _, widened, step = prepare("lstm_train_step", "numpy", "float32")
    good = host(be, step())
    assert wl.check(good, widened, p, "float32").ok
    assert wl.check(truncated_step(widened, p, detach=False), widened, p, "float32").ok
    assert not wl.check(truncated_step(widened, p, detach=True), widened, p, "float32").ok
    old = tuple(widened[k] for k in lstm.WEIGHTS)
    ascent = tuple(2 * w - n for w, n in zip(old, good, strict=True))
    b_hh_frozen = tuple(w if k == "b_hh" else n
                        for k, w, n in zip(lstm.WEIGHTS, old, good, strict=True))
    for bad in (ascent, old, b_hh_frozen, good[:-1]):
        assert not wl.check(bad, widened, p, "float32").ok


def test_lstm_forward_check_catches_wrong_recurrences():
    wl, be, p, _, widened, kernel = prepare("lstm", "numpy", "float32")
    out = host(be, kernel())
    assert wl.check(out, widened, p, "float32").ok
    h = p["hidden"]
    swapped = {**widened, "w_ih": np.concatenate([widened["w_ih"][h:2 * h], widened["w_ih"][:h],
                                                  widened["w_ih"][2 * h:]])}
    wrong_inputs = [swapped,  # input and forget gates swapped
                    {**widened, "b_hh": 0 * widened["b_hh"]},  # one bias forgotten
                    {**widened, "w_hh": 0 * widened["w_hh"]}]  # no recurrence
    for inputs in wrong_inputs:
        bad = np.stack(lstm.reference_forward(inputs).h[1:])
        assert not wl.check(bad, widened, p, "float32").ok
    one_step_late = np.concatenate([np.zeros_like(out[:1]), out[:-1]])
    assert not wl.check(one_step_late, widened, p, "float32").ok


@pytest.mark.parametrize("name", ["lstm", "lstm_train_step"])
def test_lstm_portable_and_native_torch_agree_step_after_step(name):
    _, be, _, _, _, portable = prepare(name, "torch", "float64")
    _, _, _, arrays, _, native = prepare(name, "torch", "float64", "native")
    for _ in range(3):
        a, b = host(be, portable()), host(be, native())
        for got, want in zip(a if name.endswith("step") else (a,),
                             b if name.endswith("step") else (b,), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    if name.endswith("step"):  # torch.nn.LSTM's parameters share the caller's arrays
        np.testing.assert_array_equal(host(be, arrays["w_hh"]), b[1])


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_each_lstm_call_is_one_more_step_on_the_callers_arrays(backend_name):
    wl, be, p, arrays, widened, step = prepare("lstm_train_step", backend_name, "float64")
    first = step()
    assert all(got is arrays[k] for got, k in zip(first, lstm.WEIGHTS, strict=True))
    after_one = {**widened, **dict(zip(lstm.WEIGHTS, host(be, first), strict=True))}
    expected, _ = lstm.reference_step(after_one)
    second = host(be, step())
    for got, key in zip(second, lstm.WEIGHTS, strict=True):
        np.testing.assert_allclose(got, expected[key], rtol=1e-10, atol=1e-12)


# -- attention --------------------------------------------------------------------------------

@pytest.mark.parametrize("causal", [0, 1])
def test_attention_blocks_of_every_kind_match_torch_sdpa(causal, monkeypatch):
    """Tiny blocks (one head, rows of 13 split unevenly) exercise what big cases do."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(_attention, "BLOCK_BYTES", 1)
    for backend_name in ("numpy", "torch"):
        wl, be, p, arrays, widened, kernel = prepare("attention", backend_name, "float64",
                                                     causal=causal)
        t = {k: torch.tensor(v) for k, v in widened.items()}
        expected = torch.nn.functional.scaled_dot_product_attention(
            t["q"], t["k"], t["v"], is_causal=bool(causal)).numpy()
        np.testing.assert_allclose(host(be, kernel()), expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("budget", [1, 2000, 10**9])
def test_attention_blocks_cover_every_score_once_within_the_budget(causal, budget):
    heads, seq, itemsize = 7, 21, 4
    blocks = _attention.plan_blocks(heads, seq, causal, itemsize, budget)
    seen = np.zeros((heads, seq), dtype=int)
    for b in blocks:
        seen[b.heads, b.rows] += 1
        assert b.keys == (b.rows.stop if causal else seq)
        n_heads = b.heads.stop - b.heads.start
        assert n_heads == 1 or n_heads * (b.rows.stop - b.rows.start) * b.keys * itemsize <= budget
    assert (seen == 1).all()
    if budget == 10**9:  # a budget above everything: all heads in each block
        assert all(b.heads == slice(0, heads) for b in blocks)


def test_attention_check_catches_classic_bugs():
    wl, be, p, _, widened, kernel = prepare("attention", "numpy", "float32", causal=1)
    q, k, v = widened["q"], widened["k"], widened["v"]
    assert wl.check(kernel(), widened, p, "float32").ok
    unscaled, _ = attention.reference_attention(q * np.sqrt(p["head_dim"]), k, v, True)
    unmasked, _ = attention.reference_attention(q, k, v, False)
    keys_shifted, _ = attention.reference_attention(q, np.roll(k, 1, axis=2), v, True)
    heads_swapped = kernel()[:, [1, 0, 2]]
    for bad in (unscaled, unmasked, keys_shifted, heads_swapped):
        assert not wl.check(bad.astype(np.float32), widened, p, "float32").ok


def test_native_attention_records_the_sdpa_backend_that_ran():
    """torch's dispatcher answer (kept on the kernel) names the op the profiler saw."""
    torch = pytest.importorskip("torch")
    _, _, _, _, _, kernel = prepare("attention", "torch", "float32", "native")
    chosen = kernel.notes()["sdpa_backend"]
    assert chosen in ("flash_attention", "efficient_attention", "cudnn_attention", "math")
    with torch.profiler.profile() as prof:
        kernel()
    ops = " ".join(e.name for e in prof.events())
    expected = {"flash_attention": "flash_attention", "math": "attention_math"}.get(chosen,
                                                                                   chosen)
    assert expected in ops, (chosen, ops)


def test_the_sdpa_backend_reaches_the_result_file():
    """The worker carries what the kernel chose into the result's extra."""
    pytest.importorskip("torch")
    from dlbench.backends import DeviceOptions
    from dlbench.measure import MeasureConfig
    from dlbench.worker import Prepared, Worker

    params = {"batch": 1, "seq": 64, "heads": 2, "head_dim": 16, "causal": 0}
    spec = CaseSpec.make("attention", params, "float32", "torch", "cpu", "native")
    worker = Worker.start("torch", "cpu", 1, DeviceOptions())
    config = MeasureConfig(min_time=0.01, max_time=0.02, warmup_time=0.0, sample_time=0.001)
    prepared = worker.prepare(spec, config, True, workloads.DEFAULT_SEED)
    assert isinstance(prepared, Prepared), prepared
    chosen = prepared.extra["sdpa_backend"]
    assert chosen in ("flash_attention", "efficient_attention", "cudnn_attention", "math")
    written = Result(spec, "ok", kernel_extra=prepared.extra).to_dict()
    assert written["extra"]["sdpa_backend"] == chosen
    assert Result.from_dict(written).kernel_extra == {"sdpa_backend": chosen}
    portable = CaseSpec.make("attention", params, "float32", "torch", "cpu", "portable")
    assert worker.prepare(portable, config, True, workloads.DEFAULT_SEED).extra == {}


# -- transformer ---------------------------------------------------------------------------

@pytest.mark.parametrize("causal", [0, 1])
def test_transformer_reference_agrees_with_torch_autograd(causal):
    """The independent float64 reference step against the native step (torch autograd)."""
    wl, be, p, _, widened, native = prepare("transformer_train_step", "torch", "float64",
                                            "native", causal=causal)
    new, _ = transformer_reference(widened, p["heads"], bool(causal), transformer.learning_rate(p))
    for got, key in zip(host(be, native()), transformer.WEIGHTS, strict=True):
        np.testing.assert_allclose(got, new[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_transformer_check_catches_a_missing_key_gradient_and_wrong_updates(monkeypatch):
    torch = pytest.importorskip("torch")
    wl, be, p, _, widened, step = prepare("transformer_train_step", "torch", "float32",
                                          "native")
    good = host(be, step())
    assert wl.check(good, widened, p, "float32").ok
    sdpa = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention",
                        lambda q, k, v, **kw: sdpa(q, k.detach(), v, **kw))
    _, be, p, _, widened, step = prepare("transformer_train_step", "torch", "float32", "native")
    assert not wl.check(host(be, step()), widened, p, "float32").ok  # ∂k never reaches W_qkv
    old = tuple(widened[k] for k in transformer.WEIGHTS)
    ascent = tuple(2 * w - n for w, n in zip(old, good, strict=True))
    ln1_frozen = tuple(w if k == "ln1_b" else n
                       for k, w, n in zip(transformer.WEIGHTS, old, good, strict=True))
    for bad in (ascent, old, ln1_frozen):
        assert not wl.check(bad, widened, p, "float32").ok
    causal_p = {**p, "causal": 1}  # the mask applied where the case has none
    assert not wl.check(good, widened, causal_p, "float32").ok


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_each_transformer_call_is_one_more_step_on_the_callers_arrays(backend_name):
    for impl in fast_impls(workloads.get("transformer_train_step"), backend_name):
        wl, be, p, arrays, widened, step = prepare("transformer_train_step", backend_name,
                                                   "float64", impl)
        first = step()
        assert all(got is arrays[k] for got, k in zip(first, transformer.WEIGHTS, strict=True))
        after_one = {**widened, **dict(zip(transformer.WEIGHTS, host(be, first), strict=True))}
        assert wl.check(host(be, step()), after_one, p, "float64").ok
        assert not wl.check(host(be, tuple(arrays[k] for k in transformer.WEIGHTS)), widened,
                            p, "float64").ok  # two steps are not one


# -- the report's epoch extrapolation -------------------------------------------------------

def measured(name, params, median):
    spec = CaseSpec.make(name, params, "float32", "torch", "cpu", "native")
    samples = (median * 0.99, median, median * 1.01)
    return Result(spec=spec, status="ok", error=None, samples_s=samples,
                  stats=stats.summarize(samples).to_dict())


def test_epochs_count_tokens_for_language_and_audio_seconds_for_speech():
    speech, language, image = epoch.estimates([("box", r) for r in (
        measured("lstm_train_step", {"hidden": 512, "batch": 16, "timesteps": 25}, 0.05),
        measured("transformer_train_step", {"batch": 8, "seq": 128, "d_model": 256}, 0.1),
        measured("mlp_train_step", {"batch": 128}, 0.01))])
    # 16 sequences of 25 frames of 10 ms: 4 s of audio a step, 80 audio-seconds per second
    assert (speech.unit, speech.per_step, speech.rate) == ("audio-seconds", pytest.approx(4.0),
                                                          pytest.approx(80.0))
    clean100, libri960 = speech.epochs
    assert (libri960.samples, libri960.steps) == (960 * 3600, 864_000)
    assert libri960.seconds == pytest.approx(864_000 * 0.05)  # 12 hours
    assert clean100.steps == 90_000
    # 8 × 128 tokens a step: 10,240 tokens/s; WikiText-103 in ⌈103,227,021 / 1,024⌉ steps
    assert (language.unit, language.per_step, language.rate) == ("tokens", 1024,
                                                                pytest.approx(10_240))
    wikitext, _ = language.epochs
    assert wikitext.steps == math.ceil(103_227_021 / 1024)
    text = "\n".join(epoch.lines(language) + epoch.lines(speech))
    assert "= 10,240 tokens/s" in text and "⌈103,227,021 / 1,024 tokens⌉ = 100,808 steps" in text
    assert "= 80 audio-seconds/s" in text and "960 h of audio" in text
    # the image steps keep their samples, and their dataclass fields (the JSON report's)
    assert (image.rate_unit, image.rate) == ("samples", pytest.approx(12_800))
    assert not isinstance(image, epoch.UnitEpochEstimate)


def test_a_file_without_the_units_parameters_counts_samples_instead_of_failing():
    """A hand-made or older file may lack timesteps/seq: the report still reads it."""
    speech, language = epoch.estimates([("box", r) for r in (
        measured("lstm_train_step", {"batch": 16}, 0.05),
        measured("transformer_train_step", {"batch": 8, "seq": 0}, 0.1))])
    assert (speech.rate_unit, speech.rate) == ("samples", pytest.approx(320))
    assert (language.rate_unit, language.rate) == ("samples", pytest.approx(80))
