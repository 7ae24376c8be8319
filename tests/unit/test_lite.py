"""megforge.lite: the drop-in LITE library, in-process and in fork mode.

LITE_FORK_MODE is read once, when the library is loaded, so every configuration runs in its own
subprocess (scripts in lite_scripts/). Tests marked needs_megengine use MegEngine's own Lite
library and models dumped by MegEngine here; the others need only the built library. The IPC
layer is also tested in C against a fake Lite library (native/lite_fork/tests, ctest).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import pytest

import megforge.lite as lite
from megforge.errors import InvalidArgumentError, NativeLibraryError

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "lite_scripts"
NON_INT = {"LITE_get_last_error", "LITE_get_last_error_code", "LITE_clear_last_error"}


def api_names() -> set:
    """The 85 LITE_* functions, from the list that drives the library's exports."""
    text = (ROOT / "native" / "lite_fork" / "src" / "api_list.h").read_text()
    return set(re.findall(r"\bX\((LITE_\w+),", text)) | NON_INT


def run(script: str, *args: str, env: Optional[Dict[str, str]] = None, timeout: float = 240) -> str:
    """Run a lite_scripts/ script with this Python; return its stdout, fail with its stderr."""
    full = dict(os.environ)
    for key in ("LITE_LIB_PATH", "LITE_FORK_MODE", "LITE_FORK_TIMEOUT_MS", "LITE_FORK_SPIN_US",
                "MEGFORGE_LITE_FORK_TEST_HOOK"):
        full.pop(key, None)
    full.update(env or {})
    proc = subprocess.run([sys.executable, str(SCRIPTS / script), *args], env=full, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{script} exited with {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc.stdout


def ctypes_snippet(code: str, env: Dict[str, str], before_load: str = "") -> str:
    """Run Python code with `lib` = our library loaded under env (after `before_load`); return stdout."""
    prologue = (f"import ctypes, os\n{before_load}\nlib = ctypes.CDLL(os.environ['LITE_LIB_PATH'])\n"
                "lib.LITE_get_last_error.restype = ctypes.c_char_p\nlib.mgf_lite_fork_spin_us.restype = ctypes.c_int64\n")
    full = {k: v for k, v in os.environ.items() if not k.startswith("LITE_FORK_")}
    full.update({"LITE_LIB_PATH": str(lite.library_path()), **env})
    proc = subprocess.run([sys.executable, "-c", prologue + code], env=full, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# ---- the library itself ------------------------------------------------------------------------


def test_library_and_worker_are_installed():
    assert lite.library_path().is_file()
    assert os.access(lite.worker_path(), os.X_OK)
    assert lite._is_ours(lite.library_path())
    assert lite.stats().mode == 0  # this process did not ask for fork mode


def test_exports_every_lite_function():
    names = api_names()
    assert len(names) == 85
    out = ctypes_snippet(f"print(sorted(n for n in {sorted(names)!r} if not hasattr(lib, n)))", {})
    assert out.strip() == "[]"


def test_c_error_test_covers_every_function():
    # native/lite_fork/tests/test_lite_errors.c drives each function onto an error path.
    text = (ROOT / "native" / "lite_fork" / "tests" / "test_lite_errors.c").read_text()
    assert api_names() - set(re.findall(r"\b(LITE_\w+)\(", text)) == set()


@pytest.mark.parametrize("name, value", [("LITE_FORK_MODE", "yes"), ("LITE_FORK_TIMEOUT_MS", "soon"),
                                         ("LITE_FORK_SPIN_US", "soon"), ("LITE_FORK_SPIN_US", "-1"),
                                         ("LITE_FORK_SPIN_US", "10001"), ("LITE_FORK_SPIN_US", "2.5")])
def test_invalid_settings_fail_every_call(name, value):
    env = {"LITE_FORK_MODE": "1", name: value}
    out = ctypes_snippet("n = ctypes.c_void_p()\nprint(lib.LITE_make_default_network(ctypes.byref(n)), "
                         "lib.mgf_lite_fork_mode(), lib.LITE_get_last_error().decode())", env)
    rc, mode, message = out.strip().split(" ", 2)
    assert (rc, mode) == ("-1", "-1")
    assert f"{name}='{value}' is invalid" in message
    if name == "LITE_FORK_SPIN_US":
        assert "whole number of microseconds from 0 (always block) to 10000" in message


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@pytest.mark.parametrize("mode, value, expected", [("1", None, 50), ("1", "0", 0), ("1", "300", 300),
                                                   ("1", "10000", 10000), ("0", "300", 0)])
def test_spin_setting_is_read_at_load(mode, value, expected):
    env = {"LITE_FORK_MODE": mode, **({"LITE_FORK_SPIN_US": value} if value is not None else {})}
    code = ("print(lib.mgf_lite_fork_mode(), lib.mgf_lite_fork_spin_us())\n"
            "os.environ['LITE_FORK_SPIN_US'] = '7'\nprint(lib.mgf_lite_fork_spin_us())")
    first, later = ctypes_snippet(code, env).split("\n")[:2]
    want = expected if _cpus() > 1 else 0
    assert first == f"{mode} {want}"
    assert later == str(want), "the window is fixed when the library loads"


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this system")
def test_spin_is_off_on_a_single_cpu():
    # Both processes would share one core: polling would only delay the peer.
    cpu = min(os.sched_getaffinity(0))
    out = ctypes_snippet("print(lib.mgf_lite_fork_spin_us())", {"LITE_FORK_MODE": "1", "LITE_FORK_SPIN_US": "100"},
                         before_load=f"os.sched_setaffinity(0, {{{cpu}}})")
    assert out.strip() == "0"


def test_fork_mode_names_a_missing_official_library():
    env = {"LITE_FORK_MODE": "1", "MEGFORGE_LITE_REAL_LIB": "/nonexistent/liblite.so"}
    out = ctypes_snippet("n = ctypes.c_void_p()\nprint(lib.LITE_make_default_network(ctypes.byref(n)), "
                         "lib.LITE_get_last_error().decode())", env)
    assert out.startswith("-1 LITE_make_default_network: cannot find MegEngine's Lite library")
    assert "MEGFORGE_LITE_REAL_LIB=/nonexistent/liblite.so" in out


def test_environment_checks_its_arguments(monkeypatch, tmp_path):
    official = tmp_path / "liblite_shared_whl.so"  # stands in for MegEngine's library (not loaded)
    official.write_bytes(b"")
    monkeypatch.setenv("MEGFORGE_LITE_REAL_LIB", str(official))
    with pytest.raises(InvalidArgumentError, match="timeout_ms"):
        lite.environment(timeout_ms=-5)
    for bad in (-1, 10001, True, "5", 2.5):
        with pytest.raises(InvalidArgumentError, match="spin_us"):
            lite.environment(spin_us=bad)
    assert lite.environment(spin_us=0)["LITE_FORK_SPIN_US"] == "0"
    assert "LITE_FORK_SPIN_US" not in lite.environment()
    monkeypatch.setenv("MEGFORGE_LITE_REAL_LIB", "/nonexistent/liblite.so")
    with pytest.raises(NativeLibraryError, match="MEGFORGE_LITE_REAL_LIB=/nonexistent"):
        lite.real_library_path()


# ---- with MegEngine's Lite library -------------------------------------------------------------


@pytest.fixture(scope="session")
def model(tmp_path_factory) -> str:
    """A conv net with three inputs (float32 data and bias, uint8 mask) and two outputs, dumped
    by MegEngine with seeded weights; input shapes may change between forwards."""
    import megengine as mge
    import megengine.functional as F
    import megengine.module as M
    from megengine.jit import trace

    class Net(M.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = M.Conv2d(3, 8, 3, padding=1)
            self.conv2 = M.Conv2d(8, 8, 3, padding=1, groups=2)
            self.fc = M.Linear(8, 4)

        def forward(self, data, bias, mask):
            h = F.relu(self.conv1(data)) * mask.astype("float32")  # (N, 8, H, W)
            h = F.relu(self.conv2(h))
            return self.fc(F.mean(h, axis=(2, 3))) + bias, h  # (N, 4), (N, 8, H, W)

    mge.random.seed(0)
    net = Net()
    net.eval()

    @trace(symbolic=True, capture_as_const=True)
    def infer(data, bias, mask):
        return net(data, bias, mask)

    infer(mge.tensor(np.zeros((1, 3, 8, 8), "float32")), mge.tensor(np.zeros((1, 4), "float32")),
          mge.tensor(np.ones((1, 1, 8, 8), "uint8")))
    path = tmp_path_factory.mktemp("lite") / "multi_io.mge"
    infer.dump(str(path), arg_names=["data", "bias", "mask"], output_names=["logits", "feat"],
               optimize_for_inference=False)
    return str(path)


def ours(fork: bool, **extra: str) -> Dict[str, str]:
    return {**lite.environment(fork=fork), **extra}


def exported_functions(path: Path, prefix: str) -> set:
    """Names of the functions `path` defines in its dynamic symbol table (what `nm -D
    --defined-only` lists), read with pyelftools: no binutils needed."""
    try:
        from elftools.elf.elffile import ELFFile
    except ImportError:  # a test dependency (requirements/test.txt): never skip over it
        pytest.fail("pyelftools is not installed: pip install -r requirements/test.txt")
    with open(path, "rb") as f:
        dynsym = ELFFile(f).get_section_by_name(".dynsym")
        assert dynsym is not None, f"{path} has no dynamic symbol table"
        return {s.name for s in dynsym.iter_symbols()
                if s.name.startswith(prefix) and s["st_shndx"] != "SHN_UNDEF"
                and s["st_info"]["type"] in ("STT_FUNC", "STT_GNU_IFUNC")
                and s["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK")}


@pytest.mark.skipif(sys.platform == "darwin", reason="Mach-O: the ELF reader does not apply")
def test_exports_read_from_the_dynamic_symbol_table():
    # Our library alone (no MegEngine needed): exactly the 85 LITE_* functions.
    assert exported_functions(lite.library_path(), "LITE_") == api_names()
    assert {"mgf_lite_fork_mode", "mgf_lite_fork_spin_us"} <= exported_functions(lite.library_path(), "mgf_")


@pytest.mark.needs_megengine
def test_exports_match_the_official_library():
    official = exported_functions(lite.real_library_path(), "LITE_")
    assert len(official) == 85
    assert exported_functions(lite.library_path(), "LITE_") == official == api_names()


@pytest.mark.needs_megengine
def test_outputs_match_in_process_and_fork_mode(model, tmp_path):
    results = {}
    for name, env in [("official", {}), ("pass-through", ours(False)), ("fork", ours(True)),
                      ("fork, always blocking", ours(True, LITE_FORK_SPIN_US="0")),
                      ("fork, 10 ms window", ours(True, LITE_FORK_SPIN_US="10000"))]:
        run("run_lite.py", model, str(tmp_path / f"{name}.npz"), env=env)
        results[name] = np.load(tmp_path / f"{name}.npz")
    official = results["official"]
    assert official["copy1_feat"].shape == (2, 8, 12, 12)  # the changed input shape took effect
    for name in results:
        for key in official.files:
            if not key.startswith("steady_"):
                np.testing.assert_array_equal(results[name][key], official[key], err_msg=f"{name}: {key}")
    for name in ("fork", "fork, always blocking", "fork, 10 ms window"):
        fork = results[name]
        assert int(fork["steady_forwards"]) == 20, name
        assert int(fork["steady_bytes_copied"]) == 0, f"{name}: zero-copy forwards must not copy tensor data"
    assert int(results["fork, always blocking"]["steady_spin_waits"]) == 0


@pytest.mark.needs_megengine
def test_every_function_fails_cleanly_in_fork_mode():
    report = json.loads(run("lite_errors.py", env=ours(True)))
    assert set(report["calls"]) | NON_INT == api_names()
    for name, (rc, message, code) in report["calls"].items():
        assert rc != 0 and message and code != 0, f"{name}: rc={rc} code={code} message={message!r}"
    assert report["cleared"] == ["", 0]


@pytest.mark.needs_megengine
@pytest.mark.parametrize("spin", [None, "0", "10000"], ids=["default", "always-block", "poll-10ms"])
def test_worker_faults_are_reported_and_survived(model, spin):
    # With a 10 ms window the worker dies (or hangs) while the caller polls for the answer.
    extra = {"LITE_FORK_SPIN_US": spin} if spin is not None else {}
    report = json.loads(run("lite_faults.py", model, env=ours(True, LITE_FORK_TIMEOUT_MS="2000", **extra)))
    causes = {"sigkill": "was killed by signal 9 (SIGKILL) during LITE_forward",
              "sigsegv": "was killed by signal 11 (SIGSEGV) during LITE_forward",
              "hang": "did not answer LITE_forward within LITE_FORK_TIMEOUT_MS=2000 ms and was killed",
              # SIGCHLD ignored: the worker reports a catchable fatal signal itself; for SIGKILL the
              # message says why the exit status is unknown.
              "sigsegv_sigchld_ignored": "was killed by signal 11 (SIGSEGV) during LITE_forward",
              "sigkill_sigchld_ignored": "ended during LITE_forward without reporting a fatal signal (so it was killed "
                                         "by SIGKILL, or exited); its exit status could not be read because this "
                                         "process ignores SIGCHLD"}
    for case, cause in causes.items():
        got = report[case]
        assert cause in got["error"], got
        assert "is gone because" in got["again"] and cause in got["again"], got
        assert got["reaped"] and got["new_worker"] and got["recovered"], got
        if spin == "0":
            assert got["polled"] == 0, got
        elif spin == "10000" and _cpus() > 1:
            # The failed forward was waited for by polling, unless other jobs took the CPU and the
            # caller backed off (a busy machine).
            assert got["polled"] == 1 or got["contended"] > 0, got
    assert report["overwrite"] == {"scribbled": True, "same_as_submitted": True}


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")  # a zombie has nothing left running


@pytest.mark.needs_megengine
def test_worker_dies_with_its_caller(model):
    env = {**os.environ, **ours(True)}
    proc = subprocess.Popen([sys.executable, str(SCRIPTS / "lite_orphan.py"), model], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        pid = int(proc.stdout.readline())
        assert pid > 0 and not _gone(pid)
    finally:
        proc.kill()  # SIGKILL: no cleanup runs in the caller
        proc.wait()
    deadline = time.monotonic() + 20
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid), f"worker {pid} outlived its caller"


@pytest.mark.needs_megengine
def test_no_leaks_over_cycles_and_threads(model):
    # 1000 create/load/forward/destroy cycles with MegEngine's Lite (~5 ms each on an idle 2-core
    # machine, ~9 s for the whole test; several times that while other jobs load it), checking
    # descriptors, /dev/shm, shared-memory mappings (both processes) and child processes.
    report = json.loads(run("lite_stress.py", model, "1000", env=ours(True), timeout=600))
    assert report["cycles"] == 1000
    assert report["before"]["children"] == 1, report
    assert report["live"]["shm_maps"] > 0 and report["live"]["worker_shm_maps"] > 0, report  # the counts see blocks
    assert report["after"] == report["before"], report
    assert report["after_threads"] == report["before"], report
    assert report["wrong_cycles"] == 0 and report["thread_errors"] == [0, 0, 0, 0], report
    assert report["same_worker"] and report["stats"]["workers_lost"] == 0, report


@pytest.mark.needs_megengine
def test_megenginelite_program_runs_unchanged(model):
    # The documented command: LITE_LIB_PATH=<library_path()> LITE_FORK_MODE=1 python app.py. An
    # installed megforge finds MegEngine's library in the same site-packages by itself; a build
    # tree (MEGFORGE_LIB_DIR) needs MEGFORGE_LITE_REAL_LIB.
    env = {"LITE_LIB_PATH": str(lite.library_path()), "LITE_FORK_MODE": "1"}
    site = lite.library_path().parents[2]
    if not (site / "megenginelite").is_dir():
        env["MEGFORGE_LITE_REAL_LIB"] = str(lite.real_library_path())
    official = json.loads(run("app.py", model))
    forked = json.loads(run("app.py", model, env=env))
    assert forked == official
    assert official["callbacks"]["finish"] and official["slice"] == [[3.0, 4.0, 5.0]]
