#!/bin/bash
# Start a headless Sway desktop and serve it over VNC on port 5900 (or $VNC_PORT).
# A password is required: VNC_PASSWORD, or the contents of VNC_PASSWORD_FILE. wayvnc's
# password auth runs over RSA-AES, so a throwaway RSA key is made for each start.
set -euo pipefail
fail() { echo "start-vnc: $*" >&2; exit 64; }

if [[ -z "${VNC_PASSWORD:-}" && -n "${VNC_PASSWORD_FILE:-}" ]]; then
  VNC_PASSWORD="$(<"$VNC_PASSWORD_FILE")"
fi
[[ -n "${VNC_PASSWORD:-}" ]] || fail "VNC_PASSWORD is not set: the VNC server never runs without a password (-e VNC_PASSWORD=... or VNC_PASSWORD_FILE=...)"

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/xdg.XXXXXX)}"
chmod 700 "$XDG_RUNTIME_DIR"
# No GPU, no input devices, no seat: the headless backend with the software renderer.
export WLR_BACKENDS=headless WLR_RENDERER=pixman WLR_LIBINPUT_NO_DEVICES=1

conf="$XDG_RUNTIME_DIR/vnc"
mkdir -p "$conf"
# wayvnc (nettle) reads PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), not PKCS#8.
ssh-keygen -q -t rsa -b 2048 -m PEM -N "" -f "$conf/rsa_key" >/dev/null
cat >"$conf/wayvnc.conf" <<CONF
address=0.0.0.0
port=${VNC_PORT:-5900}
enable_auth=true
username=${VNC_USER:-jovian}
password=${VNC_PASSWORD}
rsa_private_key_file=$conf/rsa_key
CONF
chmod 600 "$conf/wayvnc.conf"
unset VNC_PASSWORD
cat >"$conf/sway.conf" <<CONF
xwayland disable
output HEADLESS-1 resolution ${VNC_RESOLUTION:-1280x800}
exec wayvnc --config $conf/wayvnc.conf
CONF
exec sway --config "$conf/sway.conf"
