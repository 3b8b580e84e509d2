"""nvidia-python: PyTorch for CUDA 13 on nvidia's CUDA libraries, computing on the CPU here."""

from __future__ import annotations

import json

from images.harness import Pod


def test_torch_is_a_cuda_13_build(pod: Pod) -> None:
    out = pod.run("python", "-c", "import torch; print(torch.__version__); print(torch.version.cuda)").stdout
    version, cuda = out.split()
    assert version.startswith("2.")
    assert cuda.startswith("13"), cuda


def test_tensor_computation_on_cpu(pod: Pod) -> None:
    script = (
        "import torch\n"
        "a = torch.arange(6, dtype=torch.float32).reshape(2, 3)\n"
        "b = torch.ones(3, 2)\n"
        "print((a @ b).tolist())\n"
    )
    assert pod.run("python", "-c", script).stdout.strip() == "[[3.0, 3.0], [12.0, 12.0]]"


def test_torchvision_and_torchaudio_import(pod: Pod) -> None:
    script = (
        "import torchvision, torchaudio, torch\n"
        "from torchvision.ops import nms\n"
        "boxes = torch.tensor([[0., 0., 1., 1.], [0., 0., 1., 1.]])\n"
        "print(nms(boxes, torch.tensor([0.9, 0.8]), 0.5).tolist())\n"
    )
    assert pod.run("python", "-c", script).stdout.strip() == "[0]"


def test_cuda_wheels_are_installed_once(pod: Pod) -> None:
    """torch uses nvidia's CUDA wheels; nothing installed them a second time."""
    script = (
        "import importlib.metadata as m, json, collections\n"
        "names = collections.Counter(d.metadata['Name'].lower() for d in m.distributions())\n"
        "print(json.dumps({n: c for n, c in names.items() if c > 1}))\n"
    )
    assert json.loads(pod.run("python", "-c", script).stdout) == {}


def test_torch_finds_the_cuda_runtime_nvidia_installed(pod: Pod) -> None:
    script = (
        "import torch, ctypes, os\n"
        "torch.cuda.is_available()\n"
        "maps = open('/proc/self/maps').read()\n"
        "print(any('nvidia/cu13/lib/libcudart' in line for line in maps.splitlines()))\n"
    )
    assert pod.run("python", "-c", script).stdout.strip() == "True"
