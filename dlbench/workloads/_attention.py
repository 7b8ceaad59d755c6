"""Scaled dot-product attention written once against the array API: forward and backward.

Arrays are (batch·heads, seq, head_dim). Each block of heads and query rows is one
batched GEMM for the scores, a numerically stable softmax (the row maximum subtracted
before exp), and one batched GEMM with V, so the work is GEMM-bound. Two things keep it
an honest competitor of a fused (flash) kernel without leaving the array API:

- **Blocks that fit the cache (CPU).** The scores of all heads at S = 512 are
  B·H·S² values (100 MB for B = 8, H = 12 in float32); the softmax passes over them
  five times, from memory. Processed a few heads at a time, about BLOCK_BYTES of scores,
  they stay in cache. Measured on the development VM (torch CPU, B=8, H=12, S=512,
  D=64): all heads at once 43–54 GFLOP/s, blocks of two heads 143–164, torch's fused
  SDPA 96–157. A GPU streams whole batches at once; there blocks (GPU_BLOCK_BYTES) only
  bound the memory of long sequences.
- **Causal blocks skip what the mask removes.** With a causal mask, query rows
  [r0, r1) only see keys [0, r1): the keys after r1 are never multiplied, as a flash
  kernel skips masked tiles; only the block's diagonal square is masked. With
  CAUSAL_ROW_BLOCKS blocks the products cost (1 + 1/CAUSAL_ROW_BLOCKS)/2 of the
  unmasked ones.

The softmax is normalised after the product with V (one division of S·D values, not
S·S), unless the probabilities are kept for the backward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dlbench.workloads._arrayapi import add_at, device_of, set_at

# Scores per block on a CPU: a few MiB stays in a core's L2 and the shared L3.
BLOCK_BYTES = 2 * 2**20
# On a GPU blocks only bound the memory: 1 GiB of scores keeps every batched GEMM large
# (S = 8192, 12 heads: 2 heads a block in float32) where the whole batch would need
# three arrays of B·H·S² (77 GB for B = 8).
GPU_BLOCK_BYTES = 2**30
CAUSAL_ROW_BLOCKS = 8


@dataclass(frozen=True)
class Block:
    heads: slice
    rows: slice
    keys: int  # keys 0 … keys-1 are seen by these rows


def plan_blocks(batch_heads: int, seq: int, causal: bool, itemsize: int, budget: int
                ) -> tuple[Block, ...]:
    """The blocks covering every (head, query row), in order, each with about `budget`
    bytes of scores at most (one head at least)."""
    n_rows = min(CAUSAL_ROW_BLOCKS, seq) if causal else 1
    edges = [round(i * seq / n_rows) for i in range(n_rows + 1)]
    blocks = []
    for r0, r1 in zip(edges, edges[1:], strict=False):
        keys = r1 if causal else seq
        per = max(1, min(batch_heads, budget // ((r1 - r0) * keys * itemsize)))
        blocks += [Block(slice(h, min(h + per, batch_heads)), slice(r0, r1), keys)
                   for h in range(0, batch_heads, per)]
    return tuple(blocks)


def on_cpu(x: Any) -> bool:
    return str(device_of(x)).split(":")[0] == "cpu"


class Attention:
    """softmax(q·kᵀ/√D [+ causal mask])·v over (batch·heads, seq, head_dim) arrays, with
    the blocks and masks planned once for a shape."""

    def __init__(self, xp: Any, like: Any, batch_heads: int, seq: int, head_dim: int,
                 causal: bool) -> None:
        self.xp, self.causal, self.scale = xp, causal, 1.0 / math.sqrt(head_dim)
        itemsize = xp.finfo(like.dtype).bits // 8
        budget = BLOCK_BYTES if on_cpu(like) else GPU_BLOCK_BYTES
        self.blocks = plan_blocks(batch_heads, seq, causal, itemsize, budget)
        self.shape = (batch_heads, seq, head_dim)
        dtype, device = like.dtype, device_of(like)
        # −inf above the diagonal of each block's last (rows × rows) square; exp(−inf) = 0
        # and every row keeps its diagonal, so no row is all −inf.
        sizes = {b.rows.stop - b.rows.start for b in self.blocks} if causal else set()
        self.masks = {n: xp.triu(xp.full((n, n), -math.inf, dtype=dtype, device=device), k=1)
                      for n in sizes}

    def _scores(self, qs: Any, kt: Any, b: Block) -> Any:
        """exp(scores − row max) of one block, and the row sums."""
        xp = self.xp
        s = xp.matmul(qs[b.heads, b.rows], kt[b.heads, :, :b.keys])
        if self.causal:
            s = add_at(s, (slice(None), slice(None), b.rows),
                       self.masks[b.rows.stop - b.rows.start])
        s -= xp.max(s, axis=-1, keepdims=True)
        e = xp.exp(s)
        return e, xp.sum(e, axis=-1, keepdims=True)

    def forward(self, q: Any, k: Any, v: Any, keep: bool = False) -> tuple[Any, list[Any]]:
        """The output, and (keep=True) the probabilities of each block for backward."""
        xp = self.xp
        qs, kt = q * self.scale, xp.matrix_transpose(k)
        probs: list[Any] = []
        if len(self.blocks) == 1 and not keep:
            e, total = self._scores(qs, kt, self.blocks[0])
            out = xp.matmul(e, v)
            out /= total
            return out, probs
        out = xp.empty(self.shape, dtype=q.dtype, device=device_of(q))
        for b in self.blocks:
            e, total = self._scores(qs, kt, b)
            if keep:
                e /= total
                probs.append(e)
                out = set_at(out, (b.heads, b.rows), xp.matmul(e, v[b.heads, :b.keys]))
            else:
                part = xp.matmul(e, v[b.heads, :b.keys])
                part /= total
                out = set_at(out, (b.heads, b.rows), part)
        return out, probs

    def backward(self, dout: Any, q: Any, k: Any, v: Any, out: Any, probs: list[Any]
                 ) -> tuple[Any, Any, Any]:
        """∂q, ∂k, ∂v from ∂out. Per block, with P the probabilities and
        δ = rowsum(∂out ⊙ out): ∂S = P ⊙ (∂out·vᵀ − δ), ∂q = ∂S·k/√D, ∂k += ∂Sᵀ·q/√D,
        ∂v += Pᵀ·∂out."""
        xp = self.xp
        device = device_of(q)
        dq = xp.empty(self.shape, dtype=q.dtype, device=device)
        dk = xp.zeros(self.shape, dtype=q.dtype, device=device)
        dv = xp.zeros(self.shape, dtype=q.dtype, device=device)
        qs, vt = q * self.scale, xp.matrix_transpose(v)
        delta = xp.sum(dout * out, axis=-1, keepdims=True)
        for b, p in zip(self.blocks, probs, strict=True):
            g = dout[b.heads, b.rows]
            ds = xp.matmul(g, vt[b.heads, :, :b.keys])
            ds -= delta[b.heads, b.rows]
            ds *= p
            keys = (b.heads, slice(0, b.keys))
            dq = set_at(dq, (b.heads, b.rows), xp.matmul(ds, k[keys]) * self.scale)
            dk = add_at(dk, keys, xp.matmul(xp.matrix_transpose(ds), qs[b.heads, b.rows]))
            dv = add_at(dv, keys, xp.matmul(xp.matrix_transpose(p), g))
        return dq, dk, dv
