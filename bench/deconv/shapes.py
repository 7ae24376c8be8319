"""The benchmark suite: transposed convolutions as they occur in decoders and upsamplers.

Each shape is one layer, batch 1, fp32. Channels 16-256, inputs 7-128 (outputs up to 256),
kernels 2/3/4/5, stride 1/2, dilation 1/2, dense and depthwise.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    name: str
    cin: int
    cout: int
    h: int
    w: int
    k: int
    s: int
    p: int
    d: int = 1
    g: int = 1
    op: int = 0
    n: int = 1

    @property
    def macs(self) -> int:
        """Multiply-accumulates: N*H*W*C_in*(C_out/groups)*K*K (every input pixel x tap)."""
        return self.n * self.h * self.w * self.cin * (self.cout // self.g) * self.k * self.k

    @property
    def out_hw(self) -> tuple[int, int]:
        o = lambda i: (i - 1) * self.s - 2 * self.p + self.d * (self.k - 1) + self.op + 1  # noqa: E731
        return o(self.h), o(self.w)

    def args(self) -> list[str]:
        """Arguments of deconv_count / deconv_anchor after the path name."""
        return [str(v) for v in (self.n, self.cin, self.cout, self.h, self.w, self.k, self.k, self.s, self.p, self.d,
                                 self.g, self.op)]

    @property
    def depthwise(self) -> bool:
        return self.g == self.cin == self.cout


SHAPES = [
    Shape("dcgan-g2 256>128 8x8 k4s2", 256, 128, 8, 8, 4, 2, 1),
    Shape("dcgan-g3 128>64 16x16 k4s2", 128, 64, 16, 16, 4, 2, 1),
    Shape("dcgan-g4 64>32 32x32 k4s2", 64, 32, 32, 32, 4, 2, 1),
    Shape("gan-g 32>16 64x64 k4s2", 32, 16, 64, 64, 4, 2, 1),
    Shape("unet-up 256>128 14x14 k2s2", 256, 128, 14, 14, 2, 2, 0),
    Shape("unet-up 64>32 56x56 k2s2", 64, 32, 56, 56, 2, 2, 0),
    Shape("unet-up 32>16 128x128 k2s2", 32, 16, 128, 128, 2, 2, 0),
    Shape("fcn-dec 128>64 7x7 k3s2 op1", 128, 64, 7, 7, 3, 2, 1, op=1),
    Shape("ae-dec 128>64 28x28 k3s2 op1", 128, 64, 28, 28, 3, 2, 1, op=1),
    Shape("ae-dec 32>16 64x64 k3s2 op1", 32, 16, 64, 64, 3, 2, 1, op=1),
    Shape("refine 64>64 32x32 k3s1", 64, 64, 32, 32, 3, 1, 1),
    Shape("vae-dec 64>32 16x16 k5s2 op1", 64, 32, 16, 16, 5, 2, 2, op=1),
    Shape("aspp-dec 64>64 20x20 k3s1 d2", 64, 64, 20, 20, 3, 1, 2, d=2),
    Shape("dw-bilinear 64 32x32 k4s2", 64, 64, 32, 32, 4, 2, 1, g=64),
    Shape("dw-bilinear 256 7x7 k4s2", 256, 256, 7, 7, 4, 2, 1, g=256),
    Shape("dw-dec 128 28x28 k3s1", 128, 128, 28, 28, 3, 1, 1, g=128),
]
