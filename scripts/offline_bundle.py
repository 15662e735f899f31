#!/usr/bin/env python3
"""Build nianbao's offline install bundles: ``python scripts/offline_bundle.py -o DIR``.

Writes ``DIR/nianbao-offline-<version>-<platform>.zip`` for Windows x86-64, Linux x86-64 and
Linux aarch64.  Each zip holds one folder with nianbao's wheel and every runtime dependency as
PyPI wheels for CPython 3.11-3.14 on that platform (``wheels/``), the installer and launcher
scripts, and a short 使用说明.txt.  The clerk's machine needs Python but no network.

Dependencies are resolved for the *target* platform with ``uv pip compile --python-platform``
(so markers such as typer's ``colorama; sys_platform == "win32"`` are honoured), then each pin
is fetched with ``pip download --no-deps --only-binary=:all: --platform ...``.  After the
download the script resolves ``nianbao`` again against the bundle's folder alone, for every
Python version, so a bundle with a missing wheel is never written.

The scripts' text lives in ``scripts/bundle_files/*.in`` (UTF-8, LF); here it is encoded the way
each reader needs it: .bat files GBK with CRLF (cmd.exe reads a batch file in the console's code
page, 936 on Chinese Windows), 使用说明.txt UTF-8 with BOM and CRLF (Notepad), shell scripts
UTF-8 with LF.  In the Windows zip, entry names are GBK with an Info-ZIP Unicode Path extra
field (UTF-8), which both the old Explorer (reads the code page) and 7-Zip/Bandizip/WinRAR/
libarchive (read the extra field) show correctly; the Linux zips use the UTF-8 name flag.

Needs uv (``pip install '.[bundle]'``) and access to the package index.
"""

from __future__ import annotations

import argparse
import codecs
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = Path(__file__).resolve().parent / "bundle_files"
PYTHONS = ("3.11", "3.12", "3.13", "3.14")
GLIBC_MINOR = 28  # manylinux_2_28: 统信 UOS 20, 麒麟 V10, Debian 10+, RHEL 8+


@dataclass(frozen=True)
class Target:
    key: str  # platform part of the zip name
    uv_platform: str  # uv's --python-platform
    arch: str
    windows: bool


TARGETS = {
    t.key: t
    for t in (
        Target("windows-x86_64", "x86_64-pc-windows-msvc", "x86_64", True),
        Target("linux-x86_64", f"x86_64-manylinux_2_{GLIBC_MINOR}", "x86_64", False),
        Target("linux-aarch64", f"aarch64-manylinux_2_{GLIBC_MINOR}", "aarch64", False),
    )
}


class BundleError(Exception):
    """A step of the build failed; the message is for the person running the script."""


# ---------------------------------------------------------------- pure parts


def bundle_name(version: str, key: str) -> str:
    return f"nianbao-offline-{version}-{key}"


def zip_name(version: str, key: str) -> str:
    return bundle_name(version, key) + ".zip"


def pip_platform_tags(target: Target) -> list[str]:
    """The wheel platform tags ``pip download --platform`` may take for ``target``, best first."""
    if target.windows:
        return ["win_amd64"]
    lowest = 5 if target.arch == "x86_64" else 17
    tags = [f"manylinux_2_{minor}_{target.arch}" for minor in range(GLIBC_MINOR, lowest - 1, -1)]
    tags.append(f"manylinux2014_{target.arch}")
    if target.arch == "x86_64":
        tags += ["manylinux2010_x86_64", "manylinux1_x86_64"]
    return tags


def crlf(text: str) -> str:
    return "".join(line + "\r\n" for line in text.splitlines())


def bat_bytes(text: str) -> bytes:
    """A batch file as cmd.exe on a Chinese Windows reads it: GBK (code page 936), CRLF."""
    return crlf(text).encode("gbk")


def txt_bytes(text: str) -> bytes:
    """A text file Notepad opens correctly on any Windows: UTF-8 with BOM, CRLF."""
    return codecs.BOM_UTF8 + crlf(text).encode("utf-8")


def sh_bytes(text: str) -> bytes:
    return "".join(line + "\n" for line in text.splitlines()).encode("utf-8")


def _fill(name: str, version: str, target: Target) -> str:
    text = (FILES / name).read_text(encoding="utf-8")
    return text.replace("@VERSION@", version).replace("@ARCH@", target.arch)


def bundle_files(version: str, target: Target) -> dict[str, tuple[bytes, bool]]:
    """The bundle's own files: name -> (bytes, executable)."""
    if target.windows:
        return {
            "安装.bat": (bat_bytes(_fill("安装.bat.in", version, target)), False),
            "启动年报助手.bat": (bat_bytes(_fill("启动年报助手.bat.in", version, target)), False),
            "使用说明.txt": (txt_bytes(_fill("使用说明-windows.txt.in", version, target)), False),
        }
    return {
        "install.sh": (sh_bytes(_fill("install.sh.in", version, target)), True),
        "start.sh": (sh_bytes(_fill("start.sh.in", version, target)), True),
        "使用说明.txt": (txt_bytes(_fill("使用说明-linux.txt.in", version, target)), False),
    }


def unicode_path_extra(name: str, stored: bytes) -> bytes:
    """Info-ZIP Unicode Path extra field (0x7075): UTF-8 name, tied to the stored name by CRC."""
    utf8 = name.encode("utf-8")
    return struct.pack("<HHBI", 0x7075, 5 + len(utf8), 1, zlib.crc32(stored)) + utf8


class _GbkZipInfo(zipfile.ZipInfo):
    """An entry whose header name is GBK (no UTF-8 flag), for Windows' code-page readers."""

    def _encodeFilenameFlags(self):  # zipfile's hook for the header name bytes and flags
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def zip_entry(name: str, windows: bool, mode: int) -> zipfile.ZipInfo:
    """A zip entry for ``name`` (a file, or a folder when it ends with '/')."""
    stamp = time.localtime()[:6]
    if windows and not name.isascii():
        info: zipfile.ZipInfo = _GbkZipInfo(name, stamp)
        info.extra = unicode_path_extra(name, name.encode("gbk"))
    else:
        info = zipfile.ZipInfo(name, stamp)
    folder = name.endswith("/")
    info.create_system = 0 if windows else 3
    info.external_attr = ((0o40755 if folder else mode) << 16) | (0x10 if folder else 0)
    info.compress_type = zipfile.ZIP_STORED if folder or name.endswith(".whl") else zipfile.ZIP_DEFLATED
    return info


def write_zip(path: Path, top: str, target: Target, files: dict[str, tuple[bytes, bool]], wheels: list[Path]):
    tmp = path.with_suffix(".part")
    with zipfile.ZipFile(tmp, "w") as zf:
        zf.writestr(zip_entry(top + "/", target.windows, 0), b"")
        for name, (data, executable) in files.items():
            zf.writestr(
                zip_entry(f"{top}/{name}", target.windows, 0o100755 if executable else 0o100644), data
            )
        zf.writestr(zip_entry(f"{top}/wheels/", target.windows, 0), b"")
        for wheel in sorted(wheels):
            zf.writestr(zip_entry(f"{top}/wheels/{wheel.name}", target.windows, 0o100644), wheel.read_bytes())
    tmp.replace(path)


def parse_pins(text: str) -> list[str]:
    """``name==version`` lines of a compiled requirements file (comments and options dropped)."""
    pins = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[^\s;]+", line):
            pins.append(line)
        elif line and not line.startswith("-"):
            raise BundleError(f"无法识别的依赖行：{raw}")
    return pins


def pin_key(pin_or_wheel: str) -> str:
    """``name==version`` with the name normalised, from a pin or a wheel's file name."""
    if pin_or_wheel.endswith(".whl"):
        name, version = pin_or_wheel.split("-")[:2]
    else:
        name, version = pin_or_wheel.split("==")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


def is_pure(wheel: str) -> bool:
    """A wheel for every Python 3 on every platform (``py3-none-any``, ``py2.py3-none-any``)."""
    python, abi, platform = wheel[: -len(".whl")].split("-")[-3:]
    return "py3" in python.split(".") and abi == "none" and platform == "any"


# ---------------------------------------------------------------- steps that run tools


def project_version(root: Path = ROOT) -> str:
    with open(root / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def uv_bin() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise BundleError("需要 uv：请先运行 pip install '.[bundle]'（或 pip install uv）。")


def _run(cmd: list[str], what: str) -> str:
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never", PIP_DISABLE_PIP_VERSION_CHECK="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace", env=env)
    if proc.returncode:
        raise BundleError(
            f"{what}失败（{' '.join(cmd[:4])} …）：\n{proc.stderr.strip() or proc.stdout.strip()}"
        )
    return proc.stdout


def build_wheel(out: Path, root: Path = ROOT) -> Path:
    _run(
        [uv_bin(), "build", "--wheel", "--python", sys.executable, "--out-dir", str(out), str(root)],
        "构建 wheel",
    )
    wheels = sorted(out.glob("nianbao-*.whl"))
    if len(wheels) != 1:
        raise BundleError(f"构建 wheel 后在 {out} 中找到 {len(wheels)} 个 nianbao wheel，应为 1 个。")
    return wheels[0]


def compile_pins(target: Target, python: str, root: Path = ROOT) -> list[str]:
    """Runtime requirements of the project, pinned for ``target`` and ``python`` (wheels only)."""
    out = _run(
        [uv_bin(), "pip", "compile", str(root / "pyproject.toml"), "--python-platform", target.uv_platform,
         "--python-version", python, "--only-binary", ":all:", "--no-header", "--no-annotate", "--quiet"],
        f"解析 {target.key} / Python {python} 的依赖",
    )  # fmt: skip
    return parse_pins(out)


def download(pins: list[str], target: Target, python: str, dest: Path, work: Path) -> None:
    reqs = work / f"requirements-{target.key}-{python}.txt"
    reqs.write_text("\n".join(pins) + "\n", encoding="utf-8")
    nodot = python.replace(".", "")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "-r",
        str(reqs),
    ]
    cmd += ["-d", str(dest), "--implementation", "cp", "--python-version", python]
    cmd += ["--abi", f"cp{nodot}", "--abi", "abi3", "--abi", "none"]
    for tag in pip_platform_tags(target):
        cmd += ["--platform", tag]
    _run(cmd, f"下载 {target.key} / Python {python} 的 wheel")


def verify(wheels: Path, target: Target, python: str) -> None:
    """Resolve nianbao from the bundle's folder alone, as the clerk's pip will have to."""
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never")
    cmd = [uv_bin(), "pip", "compile", "-", "--no-index", "--find-links", str(wheels), "--python-platform",
           target.uv_platform, "--python-version", python, "--only-binary", ":all:", "--quiet"]  # fmt: skip
    proc = subprocess.run(cmd, input="nianbao\n", capture_output=True, text=True, encoding="utf-8", env=env)
    if proc.returncode:
        raise BundleError(f"{target.key} / Python {python} 的离线安装包不齐全：\n{proc.stderr.strip()}")


def fetch(target: Target, python: str, pins: list[str], work: Path) -> Path:
    """Wheels of ``pins`` for one platform and Python version, in a folder of their own."""
    dest = work / "download" / target.key / python
    dest.mkdir(parents=True, exist_ok=True)
    if pins:
        download(pins, target, python, dest, work)
    return dest


Pair = tuple[Target, str]


def fetch_all(targets: list[Target], work: Path, jobs: int = 4) -> dict[str, list[Path]]:
    """Per platform, the wheels of its pins over all Python versions.

    The first Python version of each platform fetches everything; a pure-Python wheel found then is
    not asked for again by the other versions or platforms, which fetch only the compiled ones."""
    pairs = [(t, py) for t in targets for py in PYTHONS]
    with ThreadPoolExecutor(max_workers=jobs) as pool:  # the wait is mostly the network
        pins: dict[Pair, list[str]] = dict(
            zip(pairs, pool.map(lambda p: compile_pins(*p), pairs), strict=True)
        )
        first = [p for p in pairs if p[1] == PYTHONS[0]]
        folders = dict(zip(first, pool.map(lambda p: fetch(*p, pins[p], work), first), strict=True))
        pure = {pin_key(w.name): w for f in folders.values() for w in f.glob("*.whl") if is_pure(w.name)}
        rest = [p for p in pairs if p not in folders]
        todo = {p: [pin for pin in pins[p] if pin_key(pin) not in pure] for p in rest}
        folders.update(zip(rest, pool.map(lambda p: fetch(*p, todo[p], work), rest), strict=True))
    found: dict[str, dict[str, Path]] = {t.key: {} for t in targets}
    for (target, python), folder in folders.items():
        for wheel in [
            *folder.glob("*.whl"),
            *(pure[k] for k in map(pin_key, pins[target, python]) if k in pure),
        ]:
            found[target.key].setdefault(wheel.name, wheel)
    return {key: sorted(by_name.values()) for key, by_name in found.items()}


def build_bundle(target: Target, version: str, wheels: list[Path], out_dir: Path, work: Path) -> Path:
    """Check that ``wheels`` install offline for every Python version, then write the zip."""
    folder = work / "bundle" / target.key
    folder.mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        shutil.copyfile(wheel, folder / wheel.name)
    for python in PYTHONS:
        verify(folder, target, python)
    path = out_dir / zip_name(version, target.key)
    write_zip(path, bundle_name(version, target.key), target, bundle_files(version, target), sorted(wheels))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="生成年报助手的离线安装包（每个平台一个 zip）。")
    parser.add_argument("-o", "--out", type=Path, required=True, help="输出文件夹")
    parser.add_argument(
        "--platform", action="append", choices=sorted(TARGETS), help="只生成这些平台（可重复；默认全部）"
    )
    args = parser.parse_args(argv)
    version = project_version()
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="nianbao-bundle-") as tmp:
            work = Path(tmp)
            wheel = build_wheel(work / "dist")
            targets = [TARGETS[key] for key in args.platform or TARGETS]
            for target, wheels in zip(targets, fetch_all(targets, work).values(), strict=True):
                path = build_bundle(target, version, [wheel, *wheels], args.out, work)
                with zipfile.ZipFile(path) as zf:
                    count = sum(1 for n in zf.namelist() if n.endswith(".whl"))
                print(f"已生成 {path}（{count} 个 wheel，{path.stat().st_size / 1e6:.1f} MB）")
    except (BundleError, OSError) as e:
        print(f"错误：{e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
