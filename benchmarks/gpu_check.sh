#!/usr/bin/env bash
# The GPU checks in one prepared run, for a session that is lent a GPU machine (Python
# 3.12 with torch, CuPy, triton and pytest there; no package index). The packages that
# image lacks travel as wheels in .whl/ (ignored by git), fetched here first:
#
#   echo /.whl/ >> .git/info/exclude
#   for p in array-api-compat==1.16.0 array-api-extra==0.11.5 jsonschema==4.26.0 \
#            jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1; do
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       -d .whl "$p"; done
#
# then, with the device tool: run(command="bash benchmarks/gpu_check.sh", carry=[".whl"]).
# Logs and the default run's result file land in $OUT (or ./gpu-check without it).
set -uo pipefail
out="${OUT:-gpu-check}"
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
python3 -m pytest -q -p no:cacheprovider -n 8 tests 2>&1 | tee "$out/tests.log"
python3 -m pytest -q -p no:cacheprovider benchmarks/bench_gpu_truth.py --benchmark-only -s \
  2>&1 | tee "$out/truth.log"
python3 -m dlbench run --device cpu,cuda -o "$out/default.json" --force 2>&1 \
  | tee "$out/default.log"
python3 -m dlbench run --device cuda --workload matmul --size 256,4096 --graph \
  -o "$out/graph.json" --force 2>&1 | tee "$out/graph.log"
# NCCL across the GPUs there are (one on a single-GPU machine: the path, not the scaling).
ngpu=$(nvidia-smi -L | wc -l)
python3 -m dlbench run --nproc "$ngpu" --device cuda --workload allreduce --size 8..64M:x8 \
  -o "$out/nccl.json" --force 2>&1 | tee "$out/nccl.log"
# torch.compile on the GPU (Inductor's Triton kernels need triton, which the image has):
# default mode beside eager, then reduce-overhead, whose CUDA graphs replay the compiled
# step (the "cudagraph_skips" in each compiler record say where Inductor declined to).
python3 -m dlbench run --device cuda --backend torch --compile --wide \
  --workload matmul,conv2d,mlp_train_step,transformer_train_step \
  -o "$out/compiled.json" --force 2>&1 | tee "$out/compiled.log"
python3 -m dlbench run --device cuda --backend torch --compile --compile-mode reduce-overhead \
  --wide --workload matmul,mlp_train_step,transformer_train_step \
  -o "$out/compiled-reduce-overhead.json" --force 2>&1 | tee "$out/compiled-reduce-overhead.log"
