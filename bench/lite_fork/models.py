"""The benchmark's models, dumped by MegEngine with seeded random weights.

* tiny:     one 3x3 conv (3 -> 8 channels) + ReLU on a (1, 3, 16, 16) input, output (1, 8, 16, 16).
* resnet18: ResNet-18 (11.7 M parameters; BasicBlocks [2, 2, 2, 2], widths 64..512), input
            (1, 3, 224, 224), 1000 logits; batch norms folded by optimize_for_inference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Tuple

import numpy as np

SHAPES: Dict[str, Tuple[int, ...]] = {"tiny": (1, 3, 16, 16), "resnet18": (1, 3, 224, 224)}


def _modules():
    import megengine.functional as F
    import megengine.module as M

    class Tiny(M.Module):
        def __init__(self):
            super().__init__()
            self.conv = M.Conv2d(3, 8, 3, padding=1)

        def forward(self, x):
            return F.relu(self.conv(x))

    class BasicBlock(M.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = M.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = M.BatchNorm2d(cout)
            self.conv2 = M.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = M.BatchNorm2d(cout)
            self.downsample = (M.Sequential(M.Conv2d(cin, cout, 1, stride, bias=False), M.BatchNorm2d(cout))
                               if stride != 1 or cin != cout else None)

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            x = F.relu(self.bn1(self.conv1(x)))
            return F.relu(self.bn2(self.conv2(x)) + identity)

    class ResNet18(M.Module):
        def __init__(self, classes=1000):
            super().__init__()
            self.conv1 = M.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = M.BatchNorm2d(64)
            blocks, cin = [], 64
            for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
                blocks += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
                cin = cout
            self.layers = M.Sequential(*blocks)
            self.fc = M.Linear(512, classes)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)  # (N, 64, 56, 56)
            x = F.mean(self.layers(x), axis=(2, 3))  # (N, 512)
            return self.fc(x)

    return {"tiny": Tiny, "resnet18": ResNet18}


def dump(name: str, path: Path) -> Path:
    """Dump model `name` with seeded random weights to path (.mge)."""
    import megengine as mge
    from megengine.jit import trace

    mge.random.seed(0)
    net = _modules()[name]()
    net.eval()

    @trace(symbolic=True, capture_as_const=True)
    def infer(x):
        return net(x)

    infer(mge.tensor(np.zeros(SHAPES[name], np.float32)))
    infer.dump(str(path), arg_names=["data"], output_names=["out"], optimize_for_inference=True)
    return path
