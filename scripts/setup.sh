#!/usr/bin/env bash
# Installs what the agent needs to run from a checkout: Node >= 22.12 and the npm packages.
# Quick when already done: npm ci runs only when package-lock.json changed since the last install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
# shellcheck source=env.sh
source "$root/scripts/env.sh"
edgecoder_ensure_node

stamp="$root/node_modules/.edgecoder-lock-sha"
want="$( (cat "$root/package-lock.json"; node --version) | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  [ "$quiet" = 1 ] || echo "edgecoder: installing npm packages" >&2
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$want" >"$stamp"
fi
[ "$quiet" = 1 ] || echo "edgecoder: set up (node $(node --version))" >&2
