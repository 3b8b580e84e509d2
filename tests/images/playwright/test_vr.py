"""playwright: the VR stack works headless - OpenXR through Monado's simulated HMD, OpenHMD, OpenCV.

No headset and no GPU here: Monado runs its simulated device behind its null compositor
(Vulkan on lavapipe), and apps built in the pod against the OpenXR loader reach it.
"""

from __future__ import annotations

import json

from images.harness import Pod

XR_PROBE = r"""
#include <openxr/openxr.h>
#include <stdio.h>
#include <string.h>

/* xrResultToString needs an instance, which is exactly what may be missing. */
static const char *result_name(XrResult r) {
  switch (r) {
  case XR_ERROR_RUNTIME_UNAVAILABLE: return "XR_ERROR_RUNTIME_UNAVAILABLE";
  case XR_ERROR_RUNTIME_FAILURE: return "XR_ERROR_RUNTIME_FAILURE";
  case XR_ERROR_EXTENSION_NOT_PRESENT: return "XR_ERROR_EXTENSION_NOT_PRESENT";
  case XR_ERROR_FORM_FACTOR_UNAVAILABLE: return "XR_ERROR_FORM_FACTOR_UNAVAILABLE";
  default: return "other";
  }
}

static int fail(const char *call, XrResult r) {
  printf("%s: %s (%d)\n", call, result_name(r), (int)r);
  return 1;
}

int main(void) {
  const char *extensions[] = {XR_MND_HEADLESS_EXTENSION_NAME};
  XrInstanceCreateInfo info = {.type = XR_TYPE_INSTANCE_CREATE_INFO};
  strncpy(info.applicationInfo.applicationName, "pods-xr-probe", XR_MAX_APPLICATION_NAME_SIZE - 1);
  info.applicationInfo.apiVersion = XR_MAKE_VERSION(1, 0, 0);
  info.enabledExtensionCount = 1;
  info.enabledExtensionNames = extensions;
  XrInstance instance;
  XrResult r = xrCreateInstance(&info, &instance);
  if (r != XR_SUCCESS) return fail("xrCreateInstance", r);

  XrInstanceProperties props = {.type = XR_TYPE_INSTANCE_PROPERTIES};
  xrGetInstanceProperties(instance, &props);
  printf("runtime: %s\n", props.runtimeName);

  XrSystemGetInfo want = {.type = XR_TYPE_SYSTEM_GET_INFO, .formFactor = XR_FORM_FACTOR_HEAD_MOUNTED_DISPLAY};
  XrSystemId system;
  if ((r = xrGetSystem(instance, &want, &system)) != XR_SUCCESS) return fail("xrGetSystem", r);
  XrSystemProperties sys = {.type = XR_TYPE_SYSTEM_PROPERTIES};
  r = xrGetSystemProperties(instance, system, &sys);
  if (r != XR_SUCCESS) return fail("xrGetSystemProperties", r);
  printf("system: %s\n", sys.systemName);

  /* XR_MND_headless: a session with no graphics binding in its next chain. */
  XrSessionCreateInfo session_info = {.type = XR_TYPE_SESSION_CREATE_INFO, .systemId = system};
  XrSession session;
  r = xrCreateSession(instance, &session_info, &session);
  if (r != XR_SUCCESS) return fail("xrCreateSession", r);
  printf("session: created\n");
  xrDestroySession(session);
  xrDestroyInstance(instance);
  return 0;
}
"""

HMD_PROBE = r"""
#include <openhmd/openhmd.h>
#include <stdio.h>

int main(void) {
  ohmd_context *ctx = ohmd_ctx_create();
  if (!ctx) return 2;
  int count = ohmd_ctx_probe(ctx);
  printf("devices: %d\n", count);
  for (int i = 0; i < count; i++)
    printf("device: %s|%s\n", ohmd_list_gets(ctx, i, OHMD_PRODUCT), ohmd_list_gets(ctx, i, OHMD_PATH));
  ohmd_ctx_destroy(ctx);
  return count < 0;
}
"""

# Build the C source on stdin in the pod, against the library pkg-config names in $1.
BUILD = (
    'dir=$(mktemp -d) && cat >"$dir/probe.c"'
    ' && gcc -Wall -Werror -o "$dir/probe" "$dir/probe.c" $(pkg-config --cflags --libs "$1")'
)

# Monado's simulated HMD behind its null compositor. Its stdin must be a pipe (with
# /dev/null it fails in init_epoll); the sleep holds the pipe open for the test's length.
MONADO = """
export XDG_RUNTIME_DIR=$(mktemp -d) XRT_COMPOSITOR_NULL=true SIMULATED_ENABLE=true
sleep 120 | monado-service >"$dir/monado.log" 2>&1 &
for _ in $(seq 150); do [ -S "$XDG_RUNTIME_DIR/monado_comp_ipc" ] && break; sleep 0.2; done
"""


def probe(pod: Pod, source: str, library: str, before: str = "", **kwargs) -> str:
    script = f'set -e; {BUILD}\n{before}\n"$dir/probe" || echo "exit: $?"\n'
    return pod.run("bash", "-c", script, "probe", library, input=source, **kwargs).stdout


def test_openxr_app_gets_a_headless_session_on_monados_simulated_hmd(pod: Pod) -> None:
    out = probe(
        pod,
        XR_PROBE,
        "openxr",
        before=MONADO + '[ -S "$XDG_RUNTIME_DIR/monado_comp_ipc" ] || cat "$dir/monado.log"',
    )
    assert "runtime: Monado" in out, out
    assert "system: Monado: Simulated HMD" in out, out
    assert "session: created" in out, out


def test_openxr_loader_with_no_runtime_reports_runtime_unavailable(pod: Pod) -> None:
    # No runtime to load: the loader's own answer.
    out = probe(pod, XR_PROBE, "openxr", env={"XR_RUNTIME_JSON": "/nonexistent/openxr_runtime.json"})
    assert "xrCreateInstance: XR_ERROR_RUNTIME_UNAVAILABLE (-51)" in out, out


def test_openxr_with_monado_selected_but_not_running_fails_in_the_runtime(pod: Pod) -> None:
    # The loader finds Monado's manifest (the pod's active runtime) and loads its client,
    # which cannot reach monado-service: Monado answers RUNTIME_FAILURE, not the loader's
    # RUNTIME_UNAVAILABLE, and says why on stderr.
    result = pod.run(
        "bash",
        "-c",
        f'set -e; {BUILD}\nexport XDG_RUNTIME_DIR=$(mktemp -d)\n"$dir/probe" || true',
        "probe",
        "openxr",
        input=XR_PROBE,
    )
    assert "xrCreateInstance: XR_ERROR_RUNTIME_FAILURE (-2)" in result.stdout, result
    assert "monado-service" in result.stderr, result.stderr


# OpenHMD always lists its built-in drivers' devices: the "external" driver (for apps that
# feed their own sensor data) and the "null" driver's HMD and two controllers. None has a
# device path. A real headset would add a device with a hidraw/USB path.
BUILT_IN = {
    "External Device",
    "HMD Null Device",
    "Left Controller Null Device",
    "Right Controller Null Device",
}


def test_openhmd_probe_finds_only_its_built_in_devices(pod: Pod) -> None:
    out = probe(pod, HMD_PROBE, "openhmd")
    assert "exit:" not in out, out
    devices = [
        line.removeprefix("device: ").split("|") for line in out.splitlines() if line.startswith("device: ")
    ]
    assert f"devices: {len(devices)}" in out, out
    assert {product for product, _ in devices} == BUILT_IN, out
    assert all(path == "(none)" for _, path in devices), out


OPENCV = """
import json, cv2, numpy as np
h, w = 30, 40
img = np.zeros((h, w, 3), np.uint8)
for y in range(h):
    for x in range(w):
        img[y, x] = (x * 6, y * 8, (x * y) % 256)
ok, png = cv2.imencode(".png", img)
assert ok
decoded = cv2.imdecode(png, cv2.IMREAD_COLOR)
out = cv2.resize(cv2.flip(decoded, 1), (w * 2, h * 2), interpolation=cv2.INTER_NEAREST)
ok, png2 = cv2.imencode(".png", out)
again = cv2.imdecode(png2, cv2.IMREAD_UNCHANGED)
print(json.dumps({"module": cv2.__file__, "magic": png2.tobytes()[:8].hex(), "pixels": again.tolist()}))
"""


def test_opencv_decodes_flips_resizes_and_encodes_a_png(pod: Pod) -> None:
    result = json.loads(pod.run("python", "-c", OPENCV).stdout)
    assert result["module"].startswith("/opt/pods/venv/"), result["module"]
    assert result["magic"] == "89504e470d0a1a0a"
    h, w = 30, 40

    def original(y: int, x: int) -> list[int]:
        return [x * 6, y * 8, (x * y) % 256]

    # Mirrored left-right, then each pixel doubled in both directions (nearest neighbour).
    expected = [[original(y // 2, w - 1 - x // 2) for x in range(2 * w)] for y in range(2 * h)]
    assert result["pixels"] == expected
