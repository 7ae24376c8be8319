"""BigGAN-deep generator on MegEngine, compatible with pytorch-pretrained-biggan 0.1.1.

Module and tensor names follow the reference's state-dict keys (``generator.layers.3.bn_1
.scale.weight_orig`` ...). Spectrally normalised layers keep the three tensors that
``torch.nn.utils.spectral_norm`` stores (``weight_orig``, ``weight_u``, ``weight_v``) and
compute, as the reference does in eval mode (no power iteration):

    sigma  = weight_u . (W @ weight_v)        W = weight_orig as a (out, in*kh*kw) matrix
    weight = weight_orig / sigma

Layouts: images NCHW float32; latents ``z`` (N, z_dim); class vectors (N, num_classes)
(one-hot or soft); outputs in [-1, 1].
"""

from __future__ import annotations

import math

import megengine as mge
import megengine.functional as F
import megengine.module as M
import numpy as np

from megforge.errors import InvalidArgumentError
from megforge.models.biggan.config import BigGANConfig


class _SpectralNorm(M.Module):
    """Base of the spectrally normalised layers; ``normalised=False`` uses a plain stored ``weight``."""

    def __init__(self, weight_shape: tuple[int, ...], bias: bool) -> None:
        super().__init__()
        out_features = weight_shape[0]
        self.weight_orig = mge.Parameter(np.zeros(weight_shape, np.float32))
        self.weight_u = mge.Tensor(np.zeros(out_features, np.float32))
        self.weight_v = mge.Tensor(np.zeros(int(np.prod(weight_shape[1:])), np.float32))
        self.bias = mge.Parameter(np.zeros(out_features, np.float32)) if bias else None
        self.normalised = True

    def weight(self) -> mge.Tensor:
        if not self.normalised:
            return self.weight_orig
        w_mat = self.weight_orig.reshape(self.weight_orig.shape[0], -1)  # (out, in*kh*kw)
        sigma = (self.weight_u * F.matmul(w_mat, self.weight_v)).sum()
        return self.weight_orig / sigma


class SNLinear(_SpectralNorm):
    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__((out_features, in_features), bias)

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        return F.linear(x, self.weight(), self.bias)


class SNConv2d(_SpectralNorm):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0,
                 bias: bool = True) -> None:
        super().__init__((out_channels, in_channels, kernel_size, kernel_size), bias)
        self.padding = padding

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        bias = None if self.bias is None else self.bias.reshape(1, -1, 1, 1)
        return F.conv2d(x, self.weight(), bias, padding=self.padding)


def upsample_nearest2x(x: mge.Tensor) -> mge.Tensor:
    """(N, C, H, W) -> (N, C, 2H, 2W), each pixel copied into a 2x2 square."""
    return F.repeat(F.repeat(x, 2, axis=2), 2, axis=3)


class SelfAttn(M.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.snconv1x1_theta = SNConv2d(in_channels, in_channels // 8, 1, bias=False)
        self.snconv1x1_phi = SNConv2d(in_channels, in_channels // 8, 1, bias=False)
        self.snconv1x1_g = SNConv2d(in_channels, in_channels // 2, 1, bias=False)
        self.snconv1x1_o_conv = SNConv2d(in_channels // 2, in_channels, 1, bias=False)
        self.gamma = mge.Parameter(np.zeros(1, np.float32))

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        n, ch, h, w = x.shape
        theta = self.snconv1x1_theta(x).reshape(n, ch // 8, h * w)
        phi = F.max_pool2d(self.snconv1x1_phi(x), 2, 2).reshape(n, ch // 8, h * w // 4)
        attn = F.softmax(F.matmul(theta.transpose(0, 2, 1), phi), axis=-1)  # (n, h*w, h*w/4)
        g = F.max_pool2d(self.snconv1x1_g(x), 2, 2).reshape(n, ch // 2, h * w // 4)
        attn_g = F.matmul(g, attn.transpose(0, 2, 1)).reshape(n, ch // 2, h, w)
        return x + self.gamma * self.snconv1x1_o_conv(attn_g)


class BigGANBatchNorm(M.Module):
    """Batch norm with stored statistics for ``n_stats`` truncation values in [0, 1].

    Conditional: per-sample scale ``1 + scale(c)`` and offset ``offset(c)`` from the
    condition vector c. Statistics between grid points mix neighbours exactly as the
    reference does (``coef`` weights the lower index).
    """

    def __init__(self, num_features: int, condition_vector_dim: int | None = None, n_stats: int = 51,
                 eps: float = 1e-4, conditional: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.conditional = conditional
        self.running_means = mge.Tensor(np.zeros((n_stats, num_features), np.float32))
        self.running_vars = mge.Tensor(np.ones((n_stats, num_features), np.float32))
        self.step_size = 1.0 / (n_stats - 1)
        if conditional:
            assert condition_vector_dim is not None
            self.scale = SNLinear(condition_vector_dim, num_features, bias=False)
            self.offset = SNLinear(condition_vector_dim, num_features, bias=False)
        else:
            self.weight = mge.Parameter(np.ones(num_features, np.float32))
            self.bias = mge.Parameter(np.zeros(num_features, np.float32))

    def statistics(self, truncation: float) -> tuple[mge.Tensor, mge.Tensor]:
        """Running (mean, var), each (C,), for this truncation."""
        coef, start = math.modf(truncation / self.step_size)
        start = int(start)
        if coef != 0.0:
            mean = self.running_means[start] * coef + self.running_means[start + 1] * (1 - coef)
            var = self.running_vars[start] * coef + self.running_vars[start + 1] * (1 - coef)
            return mean, var
        return self.running_means[start], self.running_vars[start]

    def forward(self, x: mge.Tensor, truncation: float, condition_vector: mge.Tensor | None = None) -> mge.Tensor:
        mean, var = self.statistics(truncation)
        mean, var = mean.reshape(1, -1, 1, 1), var.reshape(1, -1, 1, 1)
        if self.conditional:
            weight = 1 + self.scale(condition_vector).reshape(x.shape[0], -1, 1, 1)
            bias = self.offset(condition_vector).reshape(x.shape[0], -1, 1, 1)
            return (x - mean) / F.sqrt(var + self.eps) * weight + bias
        inv_std = 1.0 / F.sqrt(var + self.eps)
        return (x - mean) * inv_std * self.weight.reshape(1, -1, 1, 1) + self.bias.reshape(1, -1, 1, 1)


class GenBlock(M.Module):
    """Bottleneck residual block: bn-relu-conv1x1, bn-relu-(up)-conv3x3, bn-relu-conv3x3, bn-relu-conv1x1."""

    def __init__(self, in_size: int, out_size: int, condition_vector_dim: int, reduction_factor: int = 4,
                 up_sample: bool = False, n_stats: int = 51, eps: float = 1e-4) -> None:
        super().__init__()
        self.up_sample = up_sample
        self.drop_channels = in_size != out_size
        middle_size = in_size // reduction_factor
        bn = dict(condition_vector_dim=condition_vector_dim, n_stats=n_stats, eps=eps)
        self.bn_0 = BigGANBatchNorm(in_size, **bn)
        self.conv_0 = SNConv2d(in_size, middle_size, 1)
        self.bn_1 = BigGANBatchNorm(middle_size, **bn)
        self.conv_1 = SNConv2d(middle_size, middle_size, 3, padding=1)
        self.bn_2 = BigGANBatchNorm(middle_size, **bn)
        self.conv_2 = SNConv2d(middle_size, middle_size, 3, padding=1)
        self.bn_3 = BigGANBatchNorm(middle_size, **bn)
        self.conv_3 = SNConv2d(middle_size, out_size, 1)

    def forward(self, x: mge.Tensor, cond_vector: mge.Tensor, truncation: float) -> mge.Tensor:
        x0 = x
        x = self.conv_0(F.relu(self.bn_0(x, truncation, cond_vector)))
        x = F.relu(self.bn_1(x, truncation, cond_vector))
        if self.up_sample:
            x = upsample_nearest2x(x)
        x = self.conv_1(x)
        x = self.conv_2(F.relu(self.bn_2(x, truncation, cond_vector)))
        x = self.conv_3(F.relu(self.bn_3(x, truncation, cond_vector)))
        if self.drop_channels:
            x0 = x0[:, : x0.shape[1] // 2]
        if self.up_sample:
            x0 = upsample_nearest2x(x0)
        return x + x0


class Generator(M.Module):
    def __init__(self, config: BigGANConfig) -> None:
        super().__init__()
        self.config = config
        ch = config.channel_width
        condition_vector_dim = config.z_dim * 2
        self.gen_z = SNLinear(condition_vector_dim, 4 * 4 * 16 * ch)
        layers: list[M.Module] = []
        for i, (up_sample, c_in, c_out) in enumerate(config.layers):
            if i == config.attention_layer_position:
                layers.append(SelfAttn(ch * c_in))
            layers.append(GenBlock(ch * c_in, ch * c_out, condition_vector_dim, up_sample=up_sample,
                                   n_stats=config.n_stats, eps=config.eps))
        self.layers = layers
        self.bn = BigGANBatchNorm(ch, n_stats=config.n_stats, eps=config.eps, conditional=False)
        self.conv_to_rgb = SNConv2d(ch, ch, 3, padding=1)

    def forward(self, cond_vector: mge.Tensor, truncation: float) -> mge.Tensor:
        """cond_vector: (N, 2*z_dim), the same for every block."""
        return self.run([cond_vector] * (len(self.config.layers) + 1), truncation)

    def run(self, cond_vectors: list[mge.Tensor], truncation: float) -> mge.Tensor:
        """cond_vectors[0] feeds gen_z, cond_vectors[k] the k-th GenBlock; each (N, 2*z_dim)."""
        ch = self.config.channel_width
        z = self.gen_z(cond_vectors[0])
        z = z.reshape(-1, 4, 4, 16 * ch).transpose(0, 3, 1, 2)  # TF layout NHWC -> NCHW
        k = 1
        for layer in self.layers:
            if isinstance(layer, GenBlock):
                z = layer(z, cond_vectors[k], truncation)
                k += 1
            else:
                z = layer(z)
        z = self.conv_to_rgb(F.relu(self.bn(z, truncation)))
        return F.tanh(z[:, :3])


class ClassEmbedding(M.Module):
    """``embeddings`` of the reference: nn.Linear(num_classes, z_dim, bias=False); weight (z_dim, num_classes)."""

    def __init__(self, num_classes: int, z_dim: int) -> None:
        super().__init__()
        self.weight = mge.Parameter(np.zeros((z_dim, num_classes), np.float32))

    def forward(self, class_label: mge.Tensor) -> mge.Tensor:
        return F.matmul(class_label, self.weight, transpose_b=True)  # (N, z_dim)


class BigGAN(M.Module):
    """BigGAN-deep generator: ``model(z, class_label, truncation)`` -> images (N, 3, H, W) in [-1, 1]."""

    def __init__(self, config: BigGANConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = ClassEmbedding(config.num_classes, config.z_dim)
        self.generator = Generator(config)

    def _inputs(self, z: mge.Tensor | np.ndarray, class_label: mge.Tensor | np.ndarray,
                truncation: float) -> mge.Tensor:
        """Checked inputs -> condition vectors (N, 2*z_dim) = [z, class embedding]."""
        if not isinstance(truncation, (int, float)) or not 0 < truncation <= 1:
            raise InvalidArgumentError(f"truncation must be a number in (0, 1], got {truncation!r}")
        z, class_label = mge.Tensor(z, dtype="float32"), mge.Tensor(class_label, dtype="float32")
        n = z.shape[0] if z.ndim == 2 else -1
        if z.ndim != 2 or z.shape[1] != self.config.z_dim:
            raise InvalidArgumentError(f"z must be (N, {self.config.z_dim}), got {tuple(z.shape)}")
        if tuple(class_label.shape) != (n, self.config.num_classes):
            raise InvalidArgumentError(f"class_label must be ({n}, {self.config.num_classes}), "
                                       f"got {tuple(class_label.shape)}")
        return F.concat([z, self.embeddings(class_label)], axis=1)

    def forward(self, z: mge.Tensor | np.ndarray, class_label: mge.Tensor | np.ndarray,
                truncation: float) -> mge.Tensor:
        """z: (N, z_dim); class_label: (N, num_classes); truncation in (0, 1] picks the BN statistics."""
        cond_vector = self._inputs(z, class_label, truncation)
        return self.generator(cond_vector, truncation)

    def forward_layerwise(self, z: mge.Tensor | np.ndarray, class_label: mge.Tensor | np.ndarray,
                          truncation: float) -> mge.Tensor:
        """BigSleep's variant: one latent per stage -> a single image (1, 3, H, W).

        z: (L+1, z_dim), class_label: (L+1, num_classes) with L = len(config.layers); row 0
        feeds gen_z, row k the k-th GenBlock.
        """
        cond_vector = self._inputs(z, class_label, truncation)
        stages = len(self.config.layers) + 1
        if cond_vector.shape[0] != stages:
            raise InvalidArgumentError(f"forward_layerwise needs {stages} latents (one per stage), "
                                       f"got {cond_vector.shape[0]}")
        return self.generator.run([cond_vector[k : k + 1] for k in range(stages)], truncation)
