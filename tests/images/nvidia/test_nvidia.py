"""nvidia: CUDA 13 runtime, nvcc and cuDNN from NVIDIA's wheels, usable from every shell."""

from __future__ import annotations

import os

import pytest
from images.harness import Pod, skip_if_excluded


def test_cuda_home_and_path_set_for_every_command(pod: Pod) -> None:
    out = pod.run("sh", "-c", 'echo "$CUDA_HOME"; command -v nvcc').stdout.split()
    assert out[0].endswith("/nvidia/cu13")
    assert out[1] == out[0] + "/bin/nvcc"


def test_cuda_runtime_library_loads_and_is_13(pod: Pod) -> None:
    script = (
        "import ctypes\n"
        "lib = ctypes.CDLL('libcudart.so.13')\n"
        "v = ctypes.c_int()\n"
        "assert lib.cudaRuntimeGetVersion(ctypes.byref(v)) == 0\n"
        "print(v.value)\n"
    )
    version = int(pod.run("python3", "-c", script).stdout)
    assert 13000 <= version < 14000, version


def test_cudnn_library_loads(pod: Pod) -> None:
    script = (
        "import ctypes\n"
        "lib = ctypes.CDLL('libcudnn.so.9')\n"
        "lib.cudnnGetVersion.restype = ctypes.c_size_t\n"
        "print(lib.cudnnGetVersion())\n"
    )
    assert int(pod.run("python3", "-c", script).stdout) >= 90000


def test_cublas_library_loads(pod: Pod) -> None:
    pod.run("python3", "-c", "import ctypes; ctypes.CDLL('libcublas.so.13')")


def test_nvcc_compiles_a_kernel_without_a_gpu(pod: Pod) -> None:
    script = (
        "cd $(mktemp -d) && printf '__global__ void add(float *a){a[threadIdx.x] += 1.0f;}\\n"
        "int main(){return 0;}\\n' > k.cu && nvcc -o k k.cu && test -x k && nvcc --version | tail -2"
    )
    out = pod.sh(script)
    assert "release 13." in out, out


@pytest.mark.skipif(not os.path.exists("/dev/nvidia0"), reason="GPU-only: no NVIDIA device on this host")
def test_gpu_visible_to_the_pod(pod: Pod) -> None:
    # The same command a user runs (README, "GPUs"); --require fails without a device.
    out = pod.run("pods-gpu-check", "--require", extra=["--device", "nvidia.com/gpu=all"]).stdout
    assert "no GPU visible" not in out, out


@pytest.mark.skipif(os.path.exists("/dev/nvidia0"), reason="this host has a GPU: the GPU-only test covers it")
def test_gpu_check_says_plainly_when_no_gpu_is_visible(pod: Pod) -> None:
    seen = pod.run("pods-gpu-check")
    assert "no GPU visible" in seen.stdout, seen.stdout
    assert "13." in seen.stdout, seen.stdout  # the CUDA runtime the pod carries is still named
    assert pod.run("pods-gpu-check", "--require", check=False).returncode == 1


def test_tensorrt_libraries_load_at_locked_version(pod: Pod, vendor_versions: dict[str, str]) -> None:
    skip_if_excluded(pod, "tensorrt")
    major, minor, patch = (int(x) for x in vendor_versions["tensorrt"].split(".")[:3])
    script = (
        "import ctypes\n"
        "ctypes.CDLL('libnvinfer_plugin.so.%d')\n"
        "print(ctypes.CDLL('libnvinfer.so.%d').getInferLibVersion())\n" % (major, major)
    )
    # NV_TENSORRT_VERSION: major * 10000 + minor * 100 + patch.
    assert int(pod.run("python3", "-c", script).stdout) == major * 10000 + minor * 100 + patch


def test_import_tensorrt_reports_the_locked_version(pod: Pod, vendor_versions: dict[str, str]) -> None:
    # The bindings (a locked wheel) load the vendor libraries: without them there is
    # nothing for `import tensorrt` to bind, so it is skipped exactly when they are excluded.
    skip_if_excluded(pod, "tensorrt")
    out = pod.run("python3", "-c", "import tensorrt; print(tensorrt.__version__)").stdout.strip()
    assert out == vendor_versions["tensorrt"], out
