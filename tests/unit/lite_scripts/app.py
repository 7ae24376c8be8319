"""An ordinary megenginelite program (it knows nothing about megforge): python app.py MODEL.

It is what `LITE_LIB_PATH=... LITE_FORK_MODE=1 python app.py` must run unchanged: model IO info,
global settings, a network with explicit IO config and threads, callbacks around forwards,
inputs by copy and by share, outputs read back. Prints a JSON summary of what it saw."""

from __future__ import annotations

import json
import sys

import numpy as np
from megenginelite import (LiteConfig, LiteGlobal, LiteIO, LiteLayout, LiteNetwork, LiteNetworkIO, LiteTensor,
                           get_model_io_info, set_log_level)

from common import inputs_for

model = sys.argv[1]
set_log_level(2)
summary = {"device_count": LiteGlobal.get_device_count(0)}
info = get_model_io_info(model)
summary["io_info"] = [[io.name for io in info.inputs], [io.name for io in info.outputs]]

io = LiteNetworkIO(inputs=[LiteIO("data", is_host=True)], outputs=[LiteIO("feat", is_host=True)])
net = LiteNetwork(LiteConfig(), io)
net.threads_number = 2
net.load(model)
summary["threads"] = net.threads_number
summary["input_names"] = net.get_all_input_name()
summary["output_names"] = net.get_all_output_name()

# One callback only: megenginelite keeps a single ctypes trampoline alive for all of them.
seen = {"finish": []}
net.set_finish_callback(lambda ios: seen["finish"].append(sorted((io.name, t.layout.shapes) for io, t in ios.items())) or 0)

outputs = []
for step, (batch, hw) in enumerate([(1, 8), (2, 10)]):
    for name, value in inputs_for(batch, hw, seed=20 + step).items():
        net.get_io_tensor(name).set_data_by_copy(value)
    net.forward()
    net.wait()
    outputs.append({name: net.get_io_tensor(name).to_numpy().round(5).tolist() for name in ("logits",)})
    outputs[-1]["feat_sum"] = round(float(net.get_io_tensor("feat").to_numpy().sum()), 3)

# A standalone tensor and copies between tensors.
t = LiteTensor(LiteLayout([2, 3], "float32"))
t.set_data_by_copy(np.arange(6, dtype=np.float32).reshape(2, 3))
u = LiteTensor(LiteLayout([2, 3], "float32"))
u.copy_from(t)
summary["tensor_copy"] = u.to_numpy().tolist()
summary["slice"] = t.slice([1, 0], [2, 3]).to_numpy().tolist()
summary["outputs"] = outputs
summary["callbacks"] = seen
print(json.dumps(summary, sort_keys=True))
