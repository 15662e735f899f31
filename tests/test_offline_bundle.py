"""The offline install bundles of scripts/offline_bundle.py.

The fast tests check the script's pure parts (names, platform tags, encodings, zip entries).
The slow ones (markers ``slow`` and ``bundle``; ``make bundle-test``) build all three bundles once
from the package index, install the Linux x86-64 one with no network and run ``nianbao demo`` and
the launcher, and resolve every platform and Python version against each bundle's folder alone.
"""

from __future__ import annotations

import codecs
import importlib.util
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zipfile
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("offline_bundle", ROOT / "scripts" / "offline_bundle.py")
ob = importlib.util.module_from_spec(_spec)
sys.modules["offline_bundle"] = ob
_spec.loader.exec_module(ob)

VERSION = ob.project_version()
WIN, LINUX_X64, LINUX_ARM = (ob.TARGETS[k] for k in ("windows-x86_64", "linux-x86_64", "linux-aarch64"))
# Bytes that mean something to cmd.exe and could appear as the second byte of a GBK character.
CMD_SPECIAL = set(b"\\^|")


# ---------------------------------------------------------------- checks shared by both kinds of test


def assert_crlf(data: bytes, name: str) -> None:
    assert data.endswith(b"\r\n"), name
    assert data.count(b"\n") == data.count(b"\r\n"), f"{name}: bare LF"
    assert data.count(b"\r") == data.count(b"\r\n"), f"{name}: bare CR"


def assert_bat(data: bytes, name: str) -> str:
    """CRLF, GBK-encoded Chinese (no BOM, no chcp), no GBK trail byte that cmd.exe could misread."""
    assert_crlf(data, name)
    assert not data.startswith(codecs.BOM_UTF8), name
    text = data.decode("gbk")
    assert re.search(r"[\u4e00-\u9fff]", text), f"{name}: no Chinese message"
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really GBK, not UTF-8 that happens to decode
    assert "chcp" not in text.lower(), name
    for ch in set(text) - set(map(chr, range(128))):
        assert ch.encode("gbk")[1] not in CMD_SPECIAL, f"{name}: {ch!r} has a cmd.exe special trail byte"
    return text


def assert_notepad_txt(data: bytes, name: str) -> str:
    assert data.startswith(codecs.BOM_UTF8), f"{name}: Notepad needs the BOM"
    assert_crlf(data, name)
    text = data[len(codecs.BOM_UTF8) :].decode("utf-8")
    assert "年报助手" in text and "Python 3.11" in text
    return text


def assert_sh(data: bytes, name: str, tmp: Path) -> str:
    assert b"\r" not in data, name
    assert data.startswith(b"#!/bin/sh\n"), name
    script = tmp / name
    script.write_bytes(data)
    subprocess.run(["sh", "-n", str(script)], check=True)  # parses as a POSIX shell script
    return data.decode("utf-8")


def real_name(info: zipfile.ZipInfo) -> str:
    """An entry's name as archivers read it: UTF-8 when flagged, else the Chinese code page (GBK)."""
    if info.flag_bits & 0x800:
        return info.filename
    return info.orig_filename.encode("cp437").decode("gbk")


def entry_names(path: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as zf:
        return {real_name(info): info for info in zf.infolist()}


def unicode_path(info: zipfile.ZipInfo) -> tuple[int, str] | None:
    """(CRC of the header name, UTF-8 name) from an Info-ZIP Unicode Path extra field."""
    extra = info.extra
    while len(extra) >= 4:
        tag, size = struct.unpack("<HH", extra[:4])
        if tag == 0x7075:
            version, crc = struct.unpack("<BI", extra[4:9])
            assert version == 1
            return crc, extra[9 : 4 + size].decode("utf-8")
        extra = extra[4 + size :]
    return None


# ---------------------------------------------------------------- fast: the script's pure parts


def test_names_and_platform_tags():
    assert ob.zip_name("0.1.0", "windows-x86_64") == "nianbao-offline-0.1.0-windows-x86_64.zip"
    assert VERSION and ob.zip_name(VERSION, "linux-aarch64").endswith(f"-{VERSION}-linux-aarch64.zip")
    assert set(ob.TARGETS) == {"windows-x86_64", "linux-x86_64", "linux-aarch64"}
    assert ob.pip_platform_tags(WIN) == ["win_amd64"]
    arm = ob.pip_platform_tags(LINUX_ARM)
    assert arm[0] == "manylinux_2_28_aarch64" and "manylinux2014_aarch64" in arm
    assert "manylinux_2_17_aarch64" in arm and "manylinux_2_16_aarch64" not in arm
    assert all(t.endswith("_aarch64") for t in arm)
    x64 = ob.pip_platform_tags(LINUX_X64)
    assert {"manylinux_2_28_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64"} <= set(x64)
    assert not any(re.match(r"manylinux_2_(29|3\d)_", t) for t in x64 + arm)  # glibc 2.28 is the floor
    assert WIN.uv_platform == "x86_64-pc-windows-msvc" and LINUX_ARM.uv_platform == "aarch64-manylinux_2_28"


def test_encoders():
    assert ob.crlf("a\nb\r\nc") == "a\r\nb\r\nc\r\n"
    assert ob.bat_bytes("echo 安装完成\n") == "echo 安装完成\r\n".encode("gbk")
    assert ob.txt_bytes("说明\n") == codecs.BOM_UTF8 + "说明\r\n".encode()
    assert ob.sh_bytes("echo 好\r\n") == "echo 好\n".encode()


def test_windows_files(tmp_path):
    files = ob.bundle_files(VERSION, WIN)
    assert set(files) == {"安装.bat", "启动年报助手.bat", "使用说明.txt"}
    install = assert_bat(files["安装.bat"][0], "安装.bat")
    for needed in ("py -3.14", "py -3.11", "call :try python", "-m venv", "--no-index", "--find-links"):
        assert needed in install
    assert "(3, 11) <= sys.version_info[:2] <= (3, 14)" in install and "calcsize('P') == 8" in install
    assert "Python 3.11" in install and "官方" in install and "信息技术人员" in install
    assert 'if not exist "%~dp0wheels\\nianbao-*.whl" goto notextracted' in install
    start = assert_bat(files["启动年报助手.bat"][0], "启动年报助手.bat")
    assert 'python.exe" -m nianbao.cli serve --open' in start and "关闭本窗口" in start
    assert "Windows" in assert_notepad_txt(files["使用说明.txt"][0], "使用说明.txt")
    assert "@" not in install.replace("@echo", "")  # every placeholder filled


def test_linux_files(tmp_path):
    files = ob.bundle_files(VERSION, LINUX_ARM)
    assert set(files) == {"install.sh", "start.sh", "使用说明.txt"}
    assert files["install.sh"][1] and files["start.sh"][1] and not files["使用说明.txt"][1]
    install = assert_sh(files["install.sh"][0], "install.sh", tmp_path)
    assert "--no-index" in install and "--find-links" in install and "-m venv" in install
    assert "serve --open" in assert_sh(files["start.sh"][0], "start.sh", tmp_path)
    assert "aarch64" in assert_notepad_txt(files["使用说明.txt"][0], "使用说明.txt")


def _install_sh(tmp_path: Path, with_wheels: bool) -> subprocess.CompletedProcess:
    """Run the Linux installer where the only python3 on PATH is a stand-in reporting Python 3.8."""
    folder = tmp_path / "包"
    (folder / "wheels").mkdir(parents=True)
    if with_wheels:
        (folder / "wheels" / f"nianbao-{VERSION}-py3-none-any.whl").write_bytes(b"")
    (folder / "install.sh").write_bytes(ob.bundle_files(VERSION, LINUX_X64)["install.sh"][0])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "ls"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    old = bin_dir / "python3"
    old.write_text('#!/bin/sh\n[ "$1" = --version ] && echo "Python 3.8.10"\nexit 1\n')
    old.chmod(0o755)
    env = {"PATH": str(bin_dir), "LANG": "C.UTF-8"}
    return subprocess.run(
        [shutil.which("sh"), str(folder / "install.sh")], env=env, capture_output=True, text=True
    )


def test_install_sh_messages(tmp_path):
    proc = _install_sh(tmp_path / "a", with_wheels=False)
    assert proc.returncode == 1 and "请先把整个压缩包解压" in proc.stdout
    proc = _install_sh(tmp_path / "b", with_wheels=True)
    assert proc.returncode == 1
    assert "没有找到可用的 Python" in proc.stdout and "Python 3.8.10" in proc.stdout
    assert "Python 3.11" in proc.stdout and not (tmp_path / "b" / "包" / "venv").exists()


def test_pin_keys_and_pure_wheels():
    assert ob.pin_key("pdfminer-six==20260107") == ob.pin_key("pdfminer_six-20260107-py3-none-any.whl")
    assert (
        ob.pin_key("PyYAML==6.0.4") == "pyyaml==6.0.4" == ob.pin_key("pyyaml-6.0.4-cp312-cp312-win_amd64.whl")
    )
    assert ob.is_pure("colorama-0.4.6-py2.py3-none-any.whl") and ob.is_pure("anyio-4.16.0-py3-none-any.whl")
    assert not ob.is_pure("pypdfium2-5.15.2-py3-none-win_amd64.whl")
    assert not ob.is_pure("cryptography-50.0.2-cp311-abi3-manylinux_2_28_aarch64.whl")
    assert not ob.is_pure("old-1.0-py2-none-any.whl")


def test_parse_pins():
    text = "# comment\nanyio==4.16.0\n    # via starlette\ncolorama==0.4.6\n\n--index-url x\n"
    assert ob.parse_pins(text) == ["anyio==4.16.0", "colorama==0.4.6"]
    with pytest.raises(ob.BundleError):
        ob.parse_pins("anyio>=4\n")


@pytest.mark.parametrize("target", [WIN, LINUX_X64], ids=lambda t: t.key)
def test_zip_entries(tmp_path, target):
    wheel = tmp_path / "demo_pkg-1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK-not-really")
    path = tmp_path / "b.zip"
    files = ob.bundle_files(VERSION, target)
    ob.write_zip(path, "top", target, files, [wheel])
    names = entry_names(path)
    assert set(names) == {"top/", "top/wheels/", "top/wheels/" + wheel.name} | {f"top/{n}" for n in files}
    with zipfile.ZipFile(path) as zf:
        assert zf.read(names["top/使用说明.txt"]) == files["使用说明.txt"][0]
    info = names["top/使用说明.txt"]
    if target.windows:
        # GBK header name without the UTF-8 flag, plus the UTF-8 name in the Unicode Path field.
        assert not info.flag_bits & 0x800 and info.create_system == 0
        stored = "top/使用说明.txt".encode("gbk")
        assert unicode_path(info) == (zlib.crc32(stored), "top/使用说明.txt")
        with zipfile.ZipFile(path, metadata_encoding="gbk") as zf:
            assert "top/安装.bat" in zf.namelist()
    else:
        assert info.flag_bits & 0x800 and unicode_path(info) is None
        assert names["top/install.sh"].external_attr >> 16 == 0o100755
        assert names["top/使用说明.txt"].external_attr >> 16 == 0o100644
    assert names["top/wheels/" + wheel.name].compress_type == zipfile.ZIP_STORED
    assert names["top/wheels/"].is_dir()


# ---------------------------------------------------------------- slow: real bundles from the index


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    """All three bundles, built once per session by the script's command line, each extracted."""
    out = tmp_path_factory.mktemp("bundles")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "offline_bundle.py"), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("已生成") == 3
    assert sorted(p.name for p in out.glob("*.zip")) == sorted(ob.zip_name(VERSION, k) for k in ob.TARGETS)
    return {k: out / ob.zip_name(VERSION, k) for k in ob.TARGETS}


@pytest.fixture(scope="module")
def extracted(bundles, tmp_path_factory) -> dict[str, Path]:
    """Each bundle unpacked once (the folder a clerk gets), under a Chinese path."""
    dest = tmp_path_factory.mktemp("解压")
    return {key: _extract(path, dest) for key, path in bundles.items()}


def _extract(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            name = real_name(info)
            target = dest / name
            if name.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(info))
                target.chmod((info.external_attr >> 16) & 0o777 or 0o644)
    return dest / zip_path.stem


def _wheels(zip_path: Path) -> list[str]:
    return [Path(n).name for n in entry_names(zip_path) if n.endswith(".whl")]


@pytest.mark.parametrize("key", list(ob.TARGETS))
@pytest.mark.parametrize("python", ob.PYTHONS)
@pytest.mark.slow
@pytest.mark.bundle
def test_bundle_resolves_offline(extracted, key, python):
    """nianbao resolves for the platform and Python version from the bundle's folder alone."""
    folder = extracted[key]
    proc = subprocess.run(
        [_uv(), "pip", "compile", "-", "--no-index", "--find-links", str(folder / "wheels"),
         "--python-platform", ob.TARGETS[key].uv_platform, "--python-version", python,
         "--only-binary", ":all:", "--no-header", "--no-annotate"],
        input="nianbao\n", capture_output=True, text=True, env=dict(os.environ, UV_PYTHON_DOWNLOADS="never"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    pins = ob.parse_pins(proc.stdout)
    assert f"nianbao=={VERSION}" in pins and len(pins) > 20
    assert ("colorama==" in proc.stdout) == ob.TARGETS[key].windows


@pytest.mark.slow
@pytest.mark.bundle
def test_bundle_contents(bundles, tmp_path):
    for key, path in bundles.items():
        target = ob.TARGETS[key]
        wheels = _wheels(path)
        assert f"nianbao-{VERSION}-py3-none-any.whl" in wheels
        # The Windows-only dependency is in the Windows bundle, and only there.
        assert any(w.startswith("colorama-") for w in wheels) == target.windows, key
        # Optional dependencies stay optional: nothing of the test or bundle extras.
        assert not [w for w in wheels if re.match(r"(pytest|hypothesis|playwright|ruff|uv|xlwt)-", w)], key
        for wheel in wheels:
            platform_tag = wheel[:-4].split("-")[-1]
            allowed = ["any"] + (["win_amd64"] if target.windows else [f"manylinux.*_{target.arch}"])
            assert any(re.fullmatch(a, p) for p in platform_tag.split(".") for a in allowed), (key, wheel)
        for python in ob.PYTHONS:  # a compiled wheel of lxml (via python-docx) for every version
            nodot = python.replace(".", "")
            assert any(re.match(rf"lxml-[^-]+-cp{nodot}-cp{nodot}-", w) for w in wheels), (key, python)
        names = entry_names(path)
        top = ob.bundle_name(VERSION, key)
        with zipfile.ZipFile(path) as zf:
            if target.windows:
                assert_bat(zf.read(names[f"{top}/安装.bat"]), "安装.bat")
                assert_bat(zf.read(names[f"{top}/启动年报助手.bat"]), "启动年报助手.bat")
            else:
                assert_sh(zf.read(names[f"{top}/install.sh"]), "install.sh", tmp_path)
                assert_sh(zf.read(names[f"{top}/start.sh"]), "start.sh", tmp_path)
            assert_notepad_txt(zf.read(names[f"{top}/使用说明.txt"]), "使用说明.txt")


def _offline_env(home: Path) -> dict[str, str]:
    """No pip configuration or local wheel folders of this machine: only the bundle counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    env.update(PIP_CONFIG_FILE=os.devnull, HOME=str(home), XDG_DATA_HOME=str(home / "data"), BROWSER="true")
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
    return env


def _no_network() -> list[str]:
    """A command prefix cutting the network off (a new network namespace), where allowed."""
    if not shutil.which("unshare"):
        return []
    allowed = subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0
    return ["unshare", "-n"] if allowed else []


@pytest.mark.slow
@pytest.mark.bundle
def test_linux_bundle_installs_offline_and_runs(extracted, tmp_path):
    folder = extracted["linux-x86_64"]
    env = _offline_env(tmp_path / "home")
    env["PYTHON"] = sys.executable
    cmd = [*_no_network(), "sh", str(folder / "install.sh")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "安装完成" in proc.stdout
    venv = folder / "venv"
    assert subprocess.run([venv / "bin" / "python", "-c", "import nianbao"]).returncode == 0
    # colorama is typer's Windows-only dependency: the Linux install leaves it out.
    assert subprocess.run([venv / "bin" / "python", "-c", "import colorama"], capture_output=True).returncode
    demo = subprocess.run(
        [*_no_network(), str(venv / "bin" / "nianbao"), "demo", "演示"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout + demo.stderr
    made = {p.suffix for p in (tmp_path / "演示").rglob("*") if p.is_file()}
    assert {".xlsx", ".docx"} <= made
    _start_and_fetch(folder, env)


def _start_and_fetch(folder: Path, env: dict[str, str]) -> None:
    """start.sh serves the web page (the browser is a no-op here) until the process is stopped."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["sh", str(folder / "start.sh"), "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                    assert resp.status == 200 and "年报" in resp.read().decode("utf-8")
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode("utf-8", "replace")
                assert time.monotonic() < deadline, "start.sh did not serve the page"
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
