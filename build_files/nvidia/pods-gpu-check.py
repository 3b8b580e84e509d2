#!/opt/pods/venv/bin/python3
"""pods-gpu-check: what GPU this pod sees: driver, CUDA runtime, devices, and torch's view.

Exits 0 with or without a GPU (it says plainly `no GPU visible`); with --require it exits 1
when no GPU is visible, for scripts and the GPU-only tests.
Run the pod with a GPU: podman --device nvidia.com/gpu=all, docker --gpus all, apptainer --nv.
"""

from __future__ import annotations

import ctypes
import glob
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

PROC_VERSION = Path("/proc/driver/nvidia/version")
DEVICE_GLOB = "/dev/nvidia[0-9]*"


def driver() -> str | None:
    """The host driver the container was given, or None."""
    if shutil.which("nvidia-smi"):
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip().splitlines()[0]
    if PROC_VERSION.is_file():
        return PROC_VERSION.read_text().splitlines()[0].strip()
    return None


def cuda_runtime() -> str:
    """The CUDA runtime the pod ships (its nvidia-cuda-runtime wheel)."""
    try:
        return importlib.metadata.version("nvidia-cuda-runtime")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cuda_device_count() -> int | None:
    """Devices the CUDA runtime can use (None: the runtime or driver library is missing)."""
    try:
        cudart = ctypes.CDLL("libcudart.so.13")
    except OSError:
        return None
    count = ctypes.c_int(0)
    return count.value if cudart.cudaGetDeviceCount(ctypes.byref(count)) == 0 else 0


def torch_view() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return f"torch {torch.__version__}: CUDA not available"
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    return f"torch {torch.__version__}: CUDA available on {names}"


def report() -> tuple[list[str], bool]:
    """The lines to print, and whether a GPU is visible."""
    found_driver, nodes, count = driver(), sorted(glob.glob(DEVICE_GLOB)), cuda_device_count()
    lines = [
        f"driver: {found_driver or 'none (no nvidia-smi, no ' + str(PROC_VERSION) + ')'}",
        f"CUDA runtime: {cuda_runtime()}",
        f"devices: {', '.join(nodes) or 'none'}"
        + ("" if count is None else f"; CUDA sees {count}"),
    ]
    view = torch_view()
    if view:
        lines.append(view)
    # count None: libcudart could not be loaded here, so the driver and device nodes decide.
    visible = bool(found_driver and nodes and count != 0)
    if not visible:
        lines.append("no GPU visible")
    return lines, visible


def main(argv: list[str]) -> int:
    if argv not in ([], ["--require"]):
        print("usage: pods-gpu-check [--require]", file=sys.stderr)
        return 2
    lines, visible = report()
    print("\n".join(lines))
    return 1 if argv == ["--require"] and not visible else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
