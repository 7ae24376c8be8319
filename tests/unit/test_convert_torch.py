"""megforge.convert on torch files built by hand (no torch needed): zip, legacy, TorchScript, modules."""

from __future__ import annotations

import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from torch_writer import (Global, ModuleClass, NewObj, Pid, Reduce, Storages, Tensor, dumps, tensor, write_legacy,
                          write_zip)

from megforge.convert import detect_format, load_checkpoint, read_torch
from megforge.errors import CheckpointError

RNG = np.random.default_rng(0)
DTYPES = ["<f4", "<f8", "<f2", "<i8", "<i4", "<i2", "|i1", "|u1", "|b1", "<c8", "<c16"]


def _sample(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    values = RNG.standard_normal(shape) * 50
    if np.dtype(dtype).kind == "c":
        return (values + 1j * values[::-1]).astype(dtype)
    return (values > 0) if dtype == "|b1" else values.astype(dtype)


def _state_dict(storages: Storages) -> tuple[dict, dict[str, np.ndarray]]:
    expected: dict[str, np.ndarray] = {}
    obj: dict = {}
    for i, dtype in enumerate(DTYPES):
        expected[f"t{i}"] = _sample(dtype, (3, 2))
        obj[f"t{i}"] = tensor(storages, str(i), expected[f"t{i}"])
    base = RNG.standard_normal((4, 5)).astype(np.float32)  # shared storage: transpose, offset view, scalar
    obj["base"] = tensor(storages, "base", base)
    obj["transposed"] = Tensor("base", "FloatStorage", 20, 0, (5, 4), (1, 5))
    obj["row_slice"] = Tensor("base", "FloatStorage", 20, 6, (2, 3), (5, 1))
    obj["scalar"] = Tensor("base", "FloatStorage", 20, 7, (), ())
    obj["empty"] = Tensor("base", "FloatStorage", 20, 0, (0, 3), (3, 1))
    obj["param"] = Reduce(Global("torch._utils", "_rebuild_parameter"), (obj["t0"], True, OrderedDict()))
    expected.update(base=base, transposed=base.T, row_slice=base[1:3, 1:4], scalar=base[1, 2],
                    empty=np.zeros((0, 3), np.float32), param=expected["t0"])
    return obj, expected


def _assert_same(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert list(got) == list(expected)
    for key, value in expected.items():
        assert got[key].dtype == value.dtype, key
        assert got[key].shape == value.shape, key
        np.testing.assert_array_equal(got[key], value, err_msg=key)
        assert got[key].flags.c_contiguous and got[key].flags.owndata or got[key].size == 0


@pytest.mark.parametrize("top", ["archive", "my_model-v2"])
def test_zip_all_dtypes_strides_shared_storage(tmp_path: Path, top: str) -> None:
    storages = Storages()
    obj, expected = _state_dict(storages)
    ordered = Reduce(Global("collections", "OrderedDict"), ([(k, v) for k, v in obj.items()],))
    path = write_zip(tmp_path / "sd.pt", ordered, storages, top=top)
    assert detect_format(path) == "zip"
    _assert_same(load_checkpoint(path), expected)


def test_legacy_file_with_views(tmp_path: Path) -> None:
    storages = Storages()
    obj, expected = _state_dict(storages)
    base = expected["base"]
    obj["legacy_view"] = Tensor("base", "FloatStorage", 20, 1, (2, 2), (2, 1), view=("base_v", 10, 6))
    expected["legacy_view"] = base.reshape(-1)[11:15].reshape(2, 2)
    path = write_legacy(tmp_path / "sd.pt", obj, storages)
    assert detect_format(path) == "legacy"
    _assert_same(load_checkpoint(path), expected)


def test_bfloat16_is_widened_exactly_and_big_endian_is_swapped(tmp_path: Path) -> None:
    values = np.array([1.0, -2.5, 3.140625, 2.0**100], np.float32)
    bits = (values.view(np.uint32) >> 16).astype("<u2")  # exactly representable in bf16
    storages = Storages()
    obj = {"bf": tensor(storages, "0", bits, storage="BFloat16Storage")}
    got = load_checkpoint(write_zip(tmp_path / "bf.pt", obj, storages))["bf"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, values)

    storages = Storages()
    obj = {"w": tensor(storages, "0", values.astype(">f4"), storage="FloatStorage")}
    got = load_checkpoint(write_zip(tmp_path / "be.pt", obj, storages, byteorder="big"))["w"]
    assert got.dtype == np.dtype("=f4")
    np.testing.assert_array_equal(got, values)


def test_rebuild_tensor_v3_and_tensor_subclass(tmp_path: Path) -> None:
    storages = Storages()
    data = np.arange(6, dtype=np.int32)
    tensor(storages, "0", data)
    v3 = Reduce(Global("torch._utils", "_rebuild_tensor_v3"),
                (Pid("0", "UntypedStorage", 24), 0, (2, 3), (3, 1), False, {}, Global("torch", "int32")))
    sub = Reduce(Global("torch._tensor", "_rebuild_from_type_v2"),
                 (Global("torch._utils", "_rebuild_tensor_v2"), Global("torch.nn.parameter", "Parameter"),
                  (Pid("0", "IntStorage", 6), 2, (4,), (1,), False, {}), {}))
    got = load_checkpoint(write_zip(tmp_path / "v3.pt", {"v3": v3, "sub": sub}, storages))
    np.testing.assert_array_equal(got["v3"], data.reshape(2, 3))
    np.testing.assert_array_equal(got["sub"], data[2:])


def _module(cls: str, params: dict, buffers: dict | None = None, modules: dict | None = None,
            non_persistent: tuple[str, ...] = ()) -> NewObj:
    mod, name = cls.rsplit(".", 1)
    state = {"training": False,
             "_parameters": Reduce(Global("collections", "OrderedDict"), ([(k, v) for k, v in params.items()],)),
             "_buffers": dict(buffers or {}),
             "_non_persistent_buffers_set": Reduce(Global("__builtin__", "set"), (list(non_persistent),)),
             "_modules": dict(modules or {}), "in_features": 3, "device": Reduce(Global("torch", "device"), ("cpu",))}
    return NewObj(Global(mod, name), state)


def test_pickled_modules_flatten_like_state_dict(tmp_path: Path) -> None:
    storages = Storages()
    w, b, m = (RNG.standard_normal(s).astype(np.float32) for s in ((4, 3), (4,), (4,)))
    lin = _module("torch.nn.modules.linear.Linear", {"weight": tensor(storages, "0", w), "bias": None})
    norm = _module("dall_e.utils.Norm", {"w": tensor(storages, "1", b)},
                   {"mean": tensor(storages, "2", m), "mask": tensor(storages, "3", m)}, non_persistent=("mask",))
    root = _module("dall_e.encoder.Encoder", {}, modules={"blocks": _module(
        "torch.nn.modules.container.Sequential", {}, modules={"0": lin, "1": norm, "2": None}), "tied": lin})
    path = write_zip(tmp_path / "encoder.pkl", root, storages)
    with pytest.raises(CheckpointError, match="dall_e.encoder.Encoder"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="torch.nn.modules.container.Sequential"):
        load_checkpoint(path, placeholders=["dall_e"])
    sd = load_checkpoint(path, placeholders=["dall_e", "torch.nn"])
    assert list(sd) == ["blocks.0.weight", "blocks.1.w", "blocks.1.mean", "tied.weight"]
    np.testing.assert_array_equal(sd["tied.weight"], w)
    np.testing.assert_array_equal(sd["blocks.1.mean"], m)
    tree = read_torch(path, placeholders=["dall_e", "torch.nn"])
    assert tree.pickled_class == "dall_e.encoder.Encoder"
    assert tree.attributes["device"] == "cpu" and tree.attributes["in_features"] == 3


def test_legacy_pickled_modules_name_their_classes_by_persistent_id(tmp_path: Path) -> None:
    # legacy torch.save (OpenAI's dVAE files re-saved by older torch) names each module class
    # once as ("module", cls, source_file, source); only placeholder classes are accepted there
    storages = Storages()
    w = RNG.standard_normal((4, 3)).astype(np.float32)
    conv = _module("dall_e.utils.Conv2d", {"w": tensor(storages, "0", w)})
    conv.cls = ModuleClass(conv.cls, "utils.py", "class Conv2d(nn.Module): ...")
    root = _module("torch.nn.modules.container.Sequential", {}, modules={"input": conv})
    root.cls = ModuleClass(root.cls)
    path = write_legacy(tmp_path / "encoder.pkl", root, storages)
    sd = load_checkpoint(path, placeholders=["dall_e", "torch.nn"])
    assert list(sd) == ["input.w"]
    np.testing.assert_array_equal(sd["input.w"], w)
    with pytest.raises(CheckpointError, match="dall_e.utils.Conv2d"):
        load_checkpoint(path, placeholders=["torch.nn"])
    forged = NewObj(ModuleClass(Global("torch", "FloatStorage")), {})   # an allowed global, but no class
    with pytest.raises(CheckpointError, match="not a placeholder"):
        load_checkpoint(write_legacy(tmp_path / "forged.pkl", forged, Storages()))


def test_extension_point_flatteners(tmp_path: Path) -> None:
    storages = Storages()
    w = np.ones((2, 2), np.float32)
    obj = NewObj(Global("odd.pkg", "Holder"), {"tensors": {"kernel": tensor(storages, "0", w)}})
    path = write_zip(tmp_path / "odd.pt", obj, storages)
    sd = load_checkpoint(path, placeholders=["odd"],
                         flatteners={"odd.pkg.Holder": lambda o: o.attributes["tensors"]})
    assert list(sd) == ["kernel"]


def test_torchscript_archive_uses_declared_parameters_and_buffers(tmp_path: Path) -> None:
    storages = Storages()
    w, mask, res = np.ones((4, 3), np.float32), np.zeros((2, 2), np.float32), np.array(224, np.int64)
    lin = NewObj(Global("__torch__.torch.nn.modules.linear", "Linear"),
                 {"weight": tensor(storages, "0", w), "training": False, "_is_full_backward_hook": None})
    blk = NewObj(Global("__torch__.clip.model.___torch_mangle_3", "Block"),
                 {"attn_mask": tensor(storages, "1", mask), "lin": lin, "training": False})
    root = NewObj(Global("__torch__", "M"), {"input_resolution": tensor(storages, "2", res), "blk": blk})
    code = {"code/__torch__.py": "class M(Module):\n  __parameters__ = []\n  __buffers__ = [\"input_resolution\", ]\n",
            "code/__torch__/torch/nn/modules/linear.py": "class Linear(Module):\n  __parameters__ = [\"weight\", ]\n"
                                                         "  __buffers__ = []\n  weight : Tensor\n",
            "code/__torch__/clip/model/___torch_mangle_3.py": "class Block(Module):\n  __parameters__ = []\n"
                                                               "  __buffers__ = []\n",
            "constants.pkl": dumps(())}
    path = write_zip(tmp_path / "jit.pt", root, storages, top="ViT-B-32",
                     extra={k: v.encode() if isinstance(v, str) else v for k, v in code.items()})
    sd = load_checkpoint(path)
    assert list(sd) == ["input_resolution", "blk.lin.weight"]  # attn_mask is no parameter or buffer
    assert sd["input_resolution"] == 224


def test_lightning_checkpoint_needs_key(tmp_path: Path) -> None:
    storages = Storages()
    w = np.full((2,), 3.0, np.float32)
    ckpt = {"epoch": 3, "global_step": 10, "pytorch-lightning_version": "2.1.0",
            "state_dict": {"model.w": tensor(storages, "0", w)},
            "optimizer_states": [{"state": {0: {"step": 1.0}}, "param_groups": [{"lr": 0.1, "params": [0]}]}],
            "hyper_parameters": {"lr": 1e-3, "name": "vq"}}
    path = write_zip(tmp_path / "last.ckpt", ckpt, storages)
    with pytest.raises(CheckpointError, match="key='state_dict'"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no entry 'model'"):
        load_checkpoint(path, key="model")
    sd = load_checkpoint(path, key="state_dict")
    np.testing.assert_array_equal(sd["model.w"], w)


@pytest.mark.parametrize("writer", [write_zip, write_legacy])
def test_entries_keep_only_what_is_asked(tmp_path: Path, writer) -> None:
    storages = Storages()
    w = RNG.standard_normal((2, 3)).astype(np.float32)
    ckpt = {"state_dict": {"w": tensor(storages, "0", w)}, "epoch": 3,
            "optimizer_states": [{"exp_avg": tensor(storages, "1", w)}]}
    path = writer(tmp_path / "model.ckpt", ckpt, storages)
    assert read_torch(path, entries=("absent",)).keys() == ckpt.keys()   # nothing named: the whole file
    if writer is write_zip:   # the optimizer's storage is never read: a missing one goes unnoticed
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp_path / "cut.ckpt", "w") as dst:
            for item in src.infolist():
                if not item.filename.endswith("data/1"):
                    dst.writestr(item, src.read(item))
        path = tmp_path / "cut.ckpt"
    kept = read_torch(path, entries=("state_dict",))
    assert list(kept) == ["state_dict"]
    np.testing.assert_array_equal(load_checkpoint(path, key="state_dict")["w"], w)
