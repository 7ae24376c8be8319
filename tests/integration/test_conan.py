"""Conan: the root recipe builds and its test_package runs; the binary cache round-trips through a
conan_server on loopback (upload, wipe the local cache, install back without building)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

SERVER_VERSION = "2.33.0"  # conan-server is released separately from conan; the protocol is shared


def conan(home: Path, *args: str, cwd: Path) -> str:
    """Run conan with CONAN_HOME=home; returns stdout + stderr (Conan logs to stderr)."""
    env = dict(os.environ, CONAN_HOME=str(home))
    result = subprocess.run([sys.executable, "-m", "conans.conan", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        pytest.fail(f"conan {' '.join(args)} failed:\n{result.stdout[-4000:]}")
    return result.stdout


@pytest.fixture(scope="module")
def home(root, tmp_path_factory):
    home = tmp_path_factory.mktemp("conan-home")
    conan(home, "profile", "detect", "--exist-ok", cwd=root)
    conan(home, "remote", "disable", "conancenter", cwd=root)
    conan(home, "create", "recipes/simde/all", "--version", "0.8.2", cwd=root)
    return home


@pytest.fixture(scope="module")
def server_python(root) -> Path:
    """A venv holding conan_server (it cannot share an environment with the conan client)."""
    env_dir = root / "build" / f"conan-server-{SERVER_VERSION}"
    py = env_dir / "bin" / "python"
    if not py.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", f"conan-server=={SERVER_VERSION}"], check=True)
    return py


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_create_runs_test_package(home, root):
    out = conan(home, "create", ".", cwd=root)
    assert "megforge deconv" in out and "1x1 -> 2x2 = [3 3 3 3]" in out
    assert "megforge lite: mode 0, LITE_get_version -> " in out
    assert "100% tests passed" in out and "out of 2" in out


def test_static_deconv_links_into_test_package(home, root):
    out = conan(home, "create", ".", "-o", "megforge/*:shared=False", cwd=root)
    assert "1x1 -> 2x2 = [3 3 3 3]" in out and "100% tests passed" in out and "out of 2" in out
    assert "shared: False" in conan(home, "list", "megforge/0.1.0:*", cwd=root)


@pytest.mark.needs_qemu
def test_cross_aarch64_test_package_runs_under_qemu(home, root):
    out = conan(home, "create", ".", "-pr:h", "toolchains/profiles/linux-aarch64", "-pr:b", "default", cwd=root)
    assert "arch=armv8" in out and "1x1 -> 2x2 = [3 3 3 3]" in out
    assert "100% tests passed" in out and "out of 2" in out


@pytest.mark.needs_zig
def test_cross_macos_builds_and_says_it_needs_a_mac(home, root):
    if sys.platform == "darwin":
        pytest.skip("on a Mac the macos-arm64 test_package runs natively (tox -e macos-arm64)")
    out = conan(home, "create", ".", "-pr:h", "toolchains/profiles/macos-arm64", "-pr:b", "default", cwd=root)
    assert "os=Macos" in out and "os.version=11.0" in out
    assert "test_package built for Macos/armv8 but not run" in out and "needs a Mac (Apple Silicon)" in out


def test_binary_cache_round_trip(home, root, server_python, tmp_path):
    port = free_port()
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    (server_dir / "server.conf").write_text(
        "[server]\njwt_secret: megforge-test-secret\njwt_expire_minutes: 120\nssl_enabled: False\n"
        f"port: {port}\npublic_port:\nhost_name: 127.0.0.1\nauthorize_timeout: 1800\n"
        "disk_storage_path: ./data\ndisk_authorize_timeout: 1800\nupdown_secret: megforge-updown\n"
        "[write_permissions]\n*/*@*/*: demo\n[read_permissions]\n*/*@*/*: *\n[users]\ndemo: demo\n"
    )
    server = subprocess.Popen([str(server_python), "-m", "conans.conan_server", "-d", str(server_dir)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    pytest.fail(f"conan_server did not start:\n{server.stdout.read() if server.poll() is not None else ''}")
                time.sleep(0.3)
        conan(home, "create", ".", cwd=root)
        conan(home, "remote", "add", "local", f"http://127.0.0.1:{port}", "--force", cwd=root)
        conan(home, "remote", "login", "local", "demo", "-p", "demo", cwd=root)
        conan(home, "upload", "megforge/*", "-r", "local", "--confirm", cwd=root)
        conan(home, "upload", "simde/*", "-r", "local", "--confirm", cwd=root)
        conan(home, "remove", "megforge/*", "--confirm", cwd=root)
        conan(home, "remove", "simde/*", "--confirm", cwd=root)
        assert "megforge/" not in conan(home, "list", "*", cwd=root)
        # install writes generator scripts into its working directory: keep them out of the checkout
        out = conan(home, "install", "--requires", "megforge/0.1.0", "-r", "local", "--build", "never", cwd=tmp_path)
        assert "megforge/0.1.0" in out and "Downloaded" in out, out[-2000:]
        listed = conan(home, "list", "megforge/0.1.0:*", cwd=root)
        assert "shared: True" in listed
    finally:
        subprocess.run([sys.executable, "-m", "conans.conan", "remote", "remove", "local"],
                       env=dict(os.environ, CONAN_HOME=str(home)), capture_output=True)
        server.terminate()
        server.wait(timeout=10)
