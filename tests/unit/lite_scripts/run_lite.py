"""Run models/multi_io through megenginelite and save every output: python run_lite.py MODEL OUT.npz

Exercises the paths megenginelite programs use: set_data_by_copy + to_numpy, a changed input
shape (LITE_set_tensor_layout), caller memory (set_data_by_share), and zero-copy access
(get_data_by_share views written and read in place) with the fork-layer copy counter around it.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from megenginelite import LiteLayout, LiteNetwork

from common import inputs_for, stats

model, out_path = sys.argv[1], sys.argv[2]
net = LiteNetwork()
net.load(model)
results = {}
for step, (batch, hw) in enumerate([(1, 8), (2, 12), (3, 6)]):
    for name, value in inputs_for(batch, hw, seed=step).items():
        net.get_io_tensor(name).set_data_by_copy(value)  # sets the layout, then copies
    net.forward()
    net.wait()
    for name in net.get_all_output_name():
        results[f"copy{step}_{name}"] = net.get_io_tensor(name).to_numpy()

# Caller memory (LITE_reset_tensor_memory): the tensors read the arrays themselves.
shared = inputs_for(3, 6, seed=10)
for name, value in shared.items():
    net.get_io_tensor(name).set_data_by_share(value)
net.forward()
net.wait()
for name in net.get_all_output_name():
    results[f"share_{name}"] = net.get_io_tensor(name).to_numpy()

# Zero copy: write inputs into the tensors' own memory, read outputs in place.
for name, value in inputs_for(3, 6, seed=11).items():
    t = net.get_io_tensor(name)
    t.layout = LiteLayout([1], value.dtype)  # a new layout: back to library-owned memory
    t.layout = LiteLayout(list(value.shape), value.dtype)
    t.get_data_by_share()[...] = value
before = stats()
for i in range(20):
    view = net.get_io_tensor("data").get_data_by_share()
    view[0, 0, 0, 0] = float(i)
    net.forward()
    net.wait()
after = stats()
for name in net.get_all_output_name():
    results[f"inplace_{name}"] = np.array(net.get_io_tensor(name).get_data_by_share())
results["steady_bytes_copied"] = np.array(after["bytes_copied"] - before["bytes_copied"])
results["steady_forwards"] = np.array(after["forwards"] - before["forwards"])
results["steady_spin_waits"] = np.array(after["spin_waits"] - before["spin_waits"])
np.savez(out_path, **results)
print(json.dumps({"stats": stats()}))
