#!/bin/bash
# Entry point of the githubrunner pod: register with GitHub from environment variables,
# then run the agent. The token is never echoed: it goes to config.sh only.
#   RUNNER_URL      repository or organisation URL (required)
#   RUNNER_TOKEN    registration token (required; or RUNNER_TOKEN_FILE, a mounted secret)
#   RUNNER_LABELS   comma-separated extra labels (optional)
#   RUNNER_NAME     runner name (optional; default: the container's hostname)
set -euo pipefail

fail() { echo "githubrunner: $*" >&2; exit 64; }

if [[ -z "${RUNNER_TOKEN:-}" && -n "${RUNNER_TOKEN_FILE:-}" ]]; then
  [[ -r "$RUNNER_TOKEN_FILE" ]] || fail "RUNNER_TOKEN_FILE=$RUNNER_TOKEN_FILE is not readable"
  RUNNER_TOKEN="$(<"$RUNNER_TOKEN_FILE")"
fi
[[ -n "${RUNNER_URL:-}" ]] || fail "RUNNER_URL is not set: give the repository or organisation URL to register with (-e RUNNER_URL=https://github.com/OWNER/REPO)"
[[ -n "${RUNNER_TOKEN:-}" ]] || fail "RUNNER_TOKEN is not set: give a registration token (-e RUNNER_TOKEN=... or RUNNER_TOKEN_FILE=/run/secrets/...)"

RUNNER_HOME=/opt/pods/vendor/actions-runner
if [[ ! -x "$RUNNER_HOME/config.sh" ]]; then
  fail "the Actions runner agent is not in this image (excluded at build time: $(cat /usr/share/pods/excluded 2>/dev/null | tr '\n' ' '))"
fi

cd "$RUNNER_HOME"
./config.sh --unattended --replace \
  --url "$RUNNER_URL" \
  --token "$RUNNER_TOKEN" \
  --name "${RUNNER_NAME:-$(hostname)}" \
  --labels "${RUNNER_LABELS:-bazzite-ai-pod}" \
  --work /workspace/_work >/dev/null
unset RUNNER_TOKEN
exec ./run.sh "$@"
