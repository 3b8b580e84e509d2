#!/bin/sh
# Default command of the jupyter pod: JupyterLab on 0.0.0.0:8888 serving /workspace.
# A token is always required: JUPYTER_TOKEN, or the contents of JUPYTER_TOKEN_FILE (for
# secrets mounted as files); with neither, Jupyter makes a random one and logs the URL.
set -eu
if [ -z "${JUPYTER_TOKEN:-}" ] && [ -n "${JUPYTER_TOKEN_FILE:-}" ]; then
  JUPYTER_TOKEN="$(cat "$JUPYTER_TOKEN_FILE")"
  export JUPYTER_TOKEN
fi
exec jupyter lab --ip=0.0.0.0 --port=8888 --no-browser \
  --ServerApp.root_dir=/workspace \
  --IdentityProvider.token_is_required=True "$@"
