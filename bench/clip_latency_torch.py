"""PyTorch half of bench/clip_latency.py: runs in the refs env (Python 3.11, torch CPU).

Usage (started by clip_latency.py, not by hand): ``python clip_latency_torch.py WEIGHTS CONFIG_JSON``.
Loads openai/CLIP's ``CLIP`` (clip-anytorch's ``clip/model.py``, imported without the
package ``__init__``, which needs torchvision) with the safetensors weights, then serves
requests on stdin, one JSON object per line:
``{"image": "<path.npy>", "iters": N, "threads": T}`` -> ``{"times": [seconds...], "features": [[...]]}``
(``threads`` 0 keeps torch's default).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file


def _clip_model_module() -> object:
    clip_dir = Path(importlib.util.find_spec("clip").submodule_search_locations[0])  # type: ignore[index]
    spec = importlib.util.spec_from_file_location("clip_ref_model", clip_dir / "model.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def main() -> int:
    weights, config = sys.argv[1], json.loads(sys.argv[2])
    model = _clip_model_module().CLIP(**config).eval()
    model.load_state_dict(load_file(weights))
    print(json.dumps({"ready": True, "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("threads"):
            torch.set_num_threads(request["threads"])
        image = torch.from_numpy(np.load(request["image"]))
        times = []
        with torch.no_grad():
            for _ in range(request["iters"]):
                start = time.perf_counter()
                features = model.encode_image(image)
                times.append(time.perf_counter() - start)
        print(json.dumps({"times": times, "features": features.numpy().tolist()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
