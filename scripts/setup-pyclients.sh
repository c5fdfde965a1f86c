#!/usr/bin/env bash
# The official Python `openai` and `ollama` clients, pinned, in a venv outside the repo, for the
# tests that drive the agent the way Python tools do. Prints the venv's python as the last line.
# A second run only compares a stamp.
#
#   EDGECODER_CACHE   cache root (default ~/.cache/edgecoder); the venv is $EDGECODER_CACHE/pyclients
set -euo pipefail
CACHE="${EDGECODER_CACHE:-$HOME/.cache/edgecoder}"
VENV="$CACHE/pyclients"
REQS="openai==3.57.0 ollama==0.6.3"
stamp="$VENV/.edgecoder-reqs"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$REQS" ]; then
  echo "edgecoder: installing the Python openai and ollama clients into $VENV" >&2
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install --quiet --disable-pip-version-check $REQS >&2
  echo "$REQS" >"$stamp"
fi
echo "$VENV/bin/python"
