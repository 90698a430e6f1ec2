"""Residual VQ: it quantizes better with each level, its codes decode to what it quantized,
its codebooks start from k-means and recover from dead codes."""

from __future__ import annotations

import torch

from lab.nn.rvq import ResidualVQ, VectorQuantizer


def _clusters(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(32, 8, generator=g) * 3
    return centres[torch.randint(0, 32, (n,), generator=g)] + 0.1 * torch.randn(n, 8,
                                                                               generator=g)


def _identity_rvq(levels: int, size: int) -> ResidualVQ:
    """Projections fixed to the identity (in training the encoder learns them), so the
    quantization itself is what is measured."""
    rvq = ResidualVQ(8, levels, size, 8)
    with torch.no_grad():
        for proj in (rvq.proj_in, rvq.proj_out):
            proj.weight.copy_(torch.eye(8))
            proj.bias.zero_()
    return rvq


@torch.no_grad()
def test_error_falls_with_every_level_and_codes_decode_to_the_same():
    torch.manual_seed(0)
    rvq = _identity_rvq(4, 16).train()  # 16 codes for 32 clusters: later levels have work
    for _ in range(30):
        rvq(_clusters(512).view(8, 64, 8))
    rvq.eval()
    z = _clusters(256, seed=9).view(4, 64, 8)
    errors = [float((rvq(z, n).quantized - z).pow(2).mean()) for n in (1, 2, 3, 4)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.5 * errors[0]
    codes = rvq.encode(z)
    assert codes.shape == (4, 4, 64)
    assert torch.allclose(rvq.decode(codes), rvq(z).quantized, atol=1e-5)
    assert torch.allclose(rvq.decode(codes[:, :2]), rvq(z, 2).quantized, atol=1e-5)


def test_codebook_starts_from_kmeans_and_usage_is_reported():
    torch.manual_seed(1)
    vq = VectorQuantizer(32, 8).train()
    q, _, _ = vq(_clusters(200))
    assert not bool(vq.initialized) and not q.any()  # collecting: 200 < 8 * 32 vectors
    vq(_clusters(64, seed=2))
    assert bool(vq.initialized)
    for step in range(20):
        vq(_clusters(512, seed=10 + step))
    perplexity, used = vq.usage()
    assert used > 0.75 and perplexity > 16  # 32 clusters: most codes in use
    assert vq.usage() == (0.0, 0.0)  # counts reset after reading


def test_dead_codes_are_restarted_on_current_data():
    torch.manual_seed(2)
    vq = VectorQuantizer(16, 8, decay=0.5).train()
    vq(_clusters(64))
    vq.codebook[3] = 1e6  # a code nothing will ever pick
    vq.ema_sum[3] = 1e6
    for step in range(8):
        vq(_clusters(256, seed=step))
    assert vq.codebook[3].abs().max() < 100  # replaced by a real vector
