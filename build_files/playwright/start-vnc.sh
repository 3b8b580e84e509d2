#!/bin/bash
# Start a headless Sway desktop and serve it over VNC on port 5900 (or $VNC_PORT).
# A password is required: VNC_PASSWORD, or the contents of VNC_PASSWORD_FILE.
#
# wayvnc's password auth runs over RSA-AES, and a VNC client (TigerVNC) asks the user to
# trust the server's RSA key by its fingerprint. A key made afresh at each start would
# train users to click "yes" on any fingerprint, so the key lives with the user's data:
#   - VNC_RSA_KEY_FILE, if set: a key the user owns (e.g. a mounted secret); never written.
#   - otherwise ${XDG_CONFIG_HOME:-~/.config}/wayvnc/rsa_key.pem, made once (mode 0600)
#     when missing; mount a volume on /home/jovian to keep it across containers.
# The fingerprint is printed at every start, in the form TigerVNC shows, so a user can
# check it; a fingerprint that changes means the key changed (or the home was lost).
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

# Made in the key's own directory and renamed into place, so a start killed halfway never
# leaves a truncated key that every later start would fail on.
make_key() {
  local dir tmp
  dir="$(dirname "$1")"
  mkdir -p "$dir" && chmod 700 "$dir"
  tmp="$(mktemp "$dir/.rsa_key.XXXXXX")"
  # wayvnc (nettle) reads PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), not PKCS#8: -traditional.
  (umask 077 && openssl genrsa -traditional -out "$tmp" 3072 2>/dev/null) || {
    rm -f "$tmp"
    fail "could not write a VNC key in $dir: is it writable by $(id -un)?"
  }
  chmod 600 "$tmp"
  mv "$tmp" "$1"
  echo "start-vnc: made a new VNC key $1" >&2
}

# TigerVNC's fingerprint: the first 8 bytes of SHA-1 over the key's bit length (4 bytes),
# then modulus and exponent, each padded to the key's byte length, as the RFB wire sends them.
fingerprint() {
  local bits n e size
  bits="$(openssl rsa -in "$1" -noout -text 2>/dev/null | sed -n 's/^Private-Key: (\([0-9]*\) bit.*/\1/p')"
  n="$(openssl rsa -in "$1" -noout -modulus 2>/dev/null | sed 's/^Modulus=//')"
  e="$(openssl rsa -in "$1" -noout -text 2>/dev/null | sed -n 's/^publicExponent: \([0-9]*\).*/\1/p')"
  size=$(((bits + 7) / 8 * 2))
  while ((${#n} < size)); do n="0$n"; done
  printf '%08X%s%0*X' "$bits" "$n" "$size" "$e" | basenc --base16 -d | sha1sum | cut -c1-16 | sed 's/\(..\)/\1-/g; s/-$//'
}

if [[ -n "${VNC_RSA_KEY_FILE:-}" ]]; then
  [[ -r "$VNC_RSA_KEY_FILE" ]] || fail "VNC_RSA_KEY_FILE=$VNC_RSA_KEY_FILE: no readable file there; mount the key there, or unset VNC_RSA_KEY_FILE to keep one under ~/.config/wayvnc"
  key="$VNC_RSA_KEY_FILE"
else
  key="${XDG_CONFIG_HOME:-$HOME/.config}/wayvnc/rsa_key.pem"
  [[ -s "$key" ]] || make_key "$key"
fi
openssl rsa -in "$key" -check -noout >/dev/null 2>&1 || fail "$key: not an RSA private key in PEM; make one with: openssl genrsa -traditional -out $key 3072"
# A PKCS#8 key (what openssl genpkey writes) is handed to wayvnc as a PKCS#1 copy.
if ! grep -q '^-----BEGIN RSA PRIVATE KEY-----' "$key"; then
  (umask 077 && openssl rsa -in "$key" -traditional -out "$conf/rsa_key" 2>/dev/null)
  key="$conf/rsa_key"
fi
echo "start-vnc: VNC key fingerprint $(fingerprint "$key") (RSA-AES, as TigerVNC shows it)" >&2

cat >"$conf/wayvnc.conf" <<CONF
address=0.0.0.0
port=${VNC_PORT:-5900}
enable_auth=true
username=${VNC_USER:-jovian}
password=${VNC_PASSWORD}
rsa_private_key_file=$key
CONF
chmod 600 "$conf/wayvnc.conf"
unset VNC_PASSWORD
cat >"$conf/sway.conf" <<CONF
xwayland disable
output HEADLESS-1 resolution ${VNC_RESOLUTION:-1280x800}
exec wayvnc --config $conf/wayvnc.conf
CONF
exec sway --config "$conf/sway.conf"
