"""Every LITE_* function of libmegforge_lite on an error path, in fork mode with the official
library: python lite_errors.py (LITE_LIB_PATH, LITE_FORK_MODE=1, MEGFORGE_LITE_REAL_LIB set).
Prints JSON {"calls": {name: [rc, message, code]}, "cleared": [message, code]}; the test checks
that each call failed with a message and an error code.

First with a worker running: NULL and forged handles, NULL out-pointers, calls fork mode cannot
serve. Then the calls that cannot fail that way, with no usable official library."""

from __future__ import annotations

import ctypes
import json
import os
from ctypes import POINTER, Structure, byref, c_char_p, c_int, c_size_t, c_uint, c_void_p

MAX_DIM = 7


class Layout(Structure):
    _fields_ = [("shapes", c_size_t * MAX_DIM), ("ndim", c_size_t), ("data_type", c_int)]


class Desc(Structure):
    _fields_ = [("is_pinned_host", c_int), ("layout", Layout), ("device_type", c_int), ("device_id", c_int)]


class Options(Structure):
    _fields_ = [(f"o{i}", c_int) for i in range(20)]


class Config(Structure):
    _fields_ = [("has_compression", c_int), ("device_id", c_int), ("device_type", c_int), ("backend", c_int),
                ("bare_model_cryption_name", c_char_p), ("options", Options), ("auto_optimize_inference", c_int),
                ("discrete_input_name", c_char_p)]


class NetworkIO(Structure):
    _fields_ = [("inputs", c_void_p), ("outputs", c_void_p), ("input_size", c_size_t), ("output_size", c_size_t)]


class Extra(Structure):
    _fields_ = [("disable_configure_by_model_info", c_int)]


lib = ctypes.CDLL(os.environ["LITE_LIB_PATH"])
lib.LITE_get_last_error.restype = c_char_p
forged = ctypes.create_string_buffer(64)  # ordinary memory posing as a handle
bad = ctypes.cast(forged, c_void_p)
out = c_void_p()
num = c_size_t()
i = c_int()
buf = ctypes.create_string_buffer(16)
key = (ctypes.c_uint8 * 2)(1, 2)
CB = ctypes.CFUNCTYPE(c_int)
cb = CB(lambda: 0)
layout = Layout()
layout.ndim = 1
layout.shapes[0] = 4

# name -> (argtypes, args); handles are forged unless the function takes none.
calls = {
    "LITE_get_version": ([c_void_p] * 3, (None, None, None)),
    "LITE_get_device_count": ([c_int, c_void_p], (0, None)),
    "LITE_register_decryption_and_key": ([c_char_p, c_void_p, c_void_p, c_size_t], (b"x", ctypes.cast(cb, c_void_p), key, 2)),
    "LITE_update_decryption_or_key": ([c_char_p, c_void_p, c_void_p, c_size_t], (None, None, key, 2)),
    "LITE_register_parse_info_func": ([c_char_p, c_void_p], (b"json", ctypes.cast(cb, c_void_p))),
    "LITE_set_loader_lib_path": ([c_char_p], (None,)),
    "LITE_set_persistent_cache": ([c_char_p, c_int], (None, 0)),
    "LITE_set_tensor_rt_cache": ([c_char_p], (None,)),
    "LITE_get_log_level": ([c_void_p], (None,)),
    "LITE_dump_persistent_cache": ([c_char_p], (None,)),
    "LITE_register_memory_pair": ([c_void_p, c_void_p, c_size_t, c_int, c_int], (buf, buf, 16, 0, 0)),
    "LITE_clear_memory_pair": ([c_void_p, c_void_p, c_int, c_int], (buf, buf, 0, 0)),
    "LITE_lookup_physic_ptr": ([c_void_p, c_void_p, c_int, c_int], (buf, byref(out), 0, 0)),
    "LITE_make_tensor": ([Desc, c_void_p], (Desc(), None)),
    "LITE_destroy_tensor": ([c_void_p], (None,)),
    "LITE_set_tensor_layout": ([c_void_p, Layout], (bad, layout)),
    "LITE_reset_tensor_memory": ([c_void_p, c_void_p, c_size_t], (bad, buf, 16)),
    "LITE_reset_tensor": ([c_void_p, Layout, c_void_p], (bad, layout, buf)),
    "LITE_tensor_reshape": ([c_void_p, c_void_p, c_int], (bad, byref(i), 1)),
    "LITE_tensor_slice": ([c_void_p, c_void_p, c_void_p, c_void_p, c_size_t, c_void_p],
                          (bad, byref(num), byref(num), None, 1, byref(out))),
    "LITE_tensor_fill_zero": ([c_void_p], (bad,)),
    "LITE_tensor_copy": ([c_void_p, c_void_p], (bad, bad)),
    "LITE_tensor_share_memory_with": ([c_void_p, c_void_p], (bad, bad)),
    "LITE_get_tensor_memory": ([c_void_p, c_void_p], (bad, byref(out))),
    "LITE_get_tensor_memory_with_index": ([c_void_p, c_void_p, c_size_t, c_void_p], (bad, byref(num), 1, byref(out))),
    "LITE_get_tensor_total_size_in_byte": ([c_void_p, c_void_p], (bad, byref(num))),
    "LITE_get_tensor_layout": ([c_void_p, c_void_p], (bad, byref(layout))),
    "LITE_get_tensor_device_type": ([c_void_p, c_void_p], (bad, byref(i))),
    "LITE_get_tensor_device_id": ([c_void_p, c_void_p], (bad, byref(i))),
    "LITE_is_pinned_host": ([c_void_p, c_void_p], (bad, byref(i))),
    "LITE_is_memory_continue": ([c_void_p, c_void_p], (bad, byref(i))),
    "LITE_tensor_concat": ([c_void_p, c_int, c_int, c_int, c_int, c_void_p], (byref(bad), 1, 0, 0, 0, byref(out))),
    "LITE_make_default_network": ([c_void_p], (None,)),
    "LITE_make_network": ([c_void_p, Config, NetworkIO], (None, Config(), NetworkIO())),
    "LITE_make_network_config": ([c_void_p, Config], (None, Config())),
    "LITE_load_model_from_mem": ([c_void_p, c_void_p, c_size_t], (bad, buf, 16)),
    "LITE_load_model_from_path": ([c_void_p, c_char_p], (bad, b"model.mge")),
    "LITE_shared_weight_with_network": ([c_void_p, c_void_p], (bad, bad)),
    "LITE_destroy_network": ([c_void_p], (None,)),
    "LITE_forward": ([c_void_p], (bad,)),
    "LITE_wait": ([c_void_p], (bad,)),
    "LITE_get_io_tensor": ([c_void_p, c_char_p, c_int, c_void_p], (bad, b"data", 0, byref(out))),
    "LITE_get_discrete_tensor": ([c_void_p, c_char_p, c_size_t, c_int, c_void_p], (bad, b"data", 0, 1, byref(out))),
    "LITE_get_input_name": ([c_void_p, c_size_t, c_void_p], (bad, 0, byref(out))),
    "LITE_get_output_name": ([c_void_p, c_size_t, c_void_p], (bad, 0, byref(out))),
    "LITE_get_all_input_name": ([c_void_p, c_void_p, c_void_p], (bad, byref(num), None)),
    "LITE_get_all_output_name": ([c_void_p, c_void_p, c_void_p], (bad, byref(num), None)),
    "LITE_is_cpu_inplace_mode": ([c_void_p, c_void_p], (bad, byref(i))),
    "LITE_get_cpu_threads_number": ([c_void_p, c_void_p], (bad, byref(num))),
    "LITE_get_device_id": ([c_void_p, c_void_p], (bad, byref(i))),
    "LITE_get_stream_id": ([c_void_p, c_void_p], (bad, byref(i))),
    "LITE_get_device_type": ([c_void_p, c_void_p], (bad, byref(i))),
    "LITE_get_model_extra_info": ([c_void_p, c_void_p, c_void_p], (bad, byref(out), byref(i))),
    "LITE_set_cpu_inplace_mode": ([c_void_p], (bad,)),
    "LITE_set_cpu_threads_number": ([c_void_p, c_size_t], (bad, 2)),
    "LITE_set_device_id": ([c_void_p, c_int], (bad, 0)),
    "LITE_set_stream_id": ([c_void_p, c_int], (bad, 0)),
    "LITE_use_tensorrt": ([c_void_p], (bad,)),
    "LITE_set_network_algo_policy": ([c_void_p, c_int], (bad, 1)),
    "LITE_set_network_algo_fastrun_config": ([c_void_p, c_uint, c_int], (bad, 0, 0)),
    "LITE_set_network_algo_workspace_limit": ([c_void_p, c_size_t], (bad, 0)),
    "LITE_set_async_callback": ([c_void_p, c_void_p], (bad, None)),
    "LITE_set_async_callback_with_userdata": ([c_void_p, c_void_p, c_void_p], (bad, None, None)),
    "LITE_set_start_callback": ([c_void_p, c_void_p], (bad, None)),
    "LITE_set_start_callback_with_userdata": ([c_void_p, c_void_p, c_void_p], (bad, None, None)),
    "LITE_set_finish_callback": ([c_void_p, c_void_p], (bad, None)),
    "LITE_set_finish_callback_with_userdata": ([c_void_p, c_void_p, c_void_p], (bad, None, None)),
    "LITE_set_runtime_thread_affinity": ([c_void_p, c_void_p], (bad, None)),
    "LITE_set_memory_allocator": ([c_void_p, c_void_p, c_void_p], (bad, None, None)),
    "LITE_share_runtime_memroy": ([c_void_p, c_void_p], (bad, bad)),
    "LITE_enable_profile_performance": ([c_void_p, c_char_p], (bad, b"p.json")),
    "LITE_enable_io_txt_dump": ([c_void_p, c_char_p], (bad, b"io.txt")),
    "LITE_enable_io_bin_dump": ([c_void_p, c_char_p], (bad, b"io")),
    "LITE_get_static_memory_alloc_info": ([c_void_p, c_char_p], (bad, b"logs")),
    "LITE_enable_global_layout_transform": ([c_void_p], (bad,)),
    "LITE_dump_layout_transform_model": ([c_void_p, c_char_p], (bad, b"m.mge")),
    "LITE_get_model_io_info_by_path": ([c_char_p, Config, c_void_p], (None, Config(), byref(NetworkIO()))),
    "LITE_get_model_io_info_by_memory": ([c_void_p, c_size_t, Config, c_void_p], (None, 4, Config(), byref(NetworkIO()))),
    "LITE_extra_configure": ([c_void_p, Extra], (bad, Extra())),
}
# No arguments to get wrong: these fail for want of a worker (phase 2).
no_args = {
    "LITE_try_coalesce_all_free_memory": ([], ()),
    "LITE_set_log_level": ([c_int], (1,)),
    "LITE_dump_tensor_rt_cache": ([], ()),
}


def run(table):
    results = {}
    for name, (argtypes, args) in table.items():
        fn = getattr(lib, name)
        fn.argtypes = argtypes
        fn.restype = c_int
        lib.LITE_clear_last_error()
        rc = fn(*args)
        results[name] = [rc, lib.LITE_get_last_error().decode("utf-8", "replace"), int(lib.LITE_get_last_error_code())]
    return results


assert lib.mgf_lite_fork_mode() == 1
results = run(calls)
lib.LITE_clear_last_error()
cleared = [lib.LITE_get_last_error().decode(), int(lib.LITE_get_last_error_code())]
lib.mgf_lite_fork_shutdown()
os.environ["MEGFORGE_LITE_REAL_LIB"] = "/nonexistent/liblite_shared.so"
results.update(run(no_args))
# LITE_get_last_error / _code supplied every message and code above; this checks the third.
print(json.dumps({"calls": results, "cleared": cleared}))
