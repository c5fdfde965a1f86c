#!/usr/bin/env bash
# Installs what the agent needs to run from a checkout: Node >= 22.12 and the npm packages.
# Quick when already done: npm ci runs only when package-lock.json changed since the last install,
# and the agent's bundle is rebuilt only when one of its sources is newer than it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
# shellcheck source=env.sh
source "$root/scripts/env.sh"
edgecoder_ensure_node

stamp="$root/node_modules/.edgecoder-lock-sha"
# The lock file's text and `node --version`'s line (known since edgecoder_ensure_node), hashed.
want="$( (cat "$root/package-lock.json"; echo "$EDGECODER_NODE_SEEN") | sha256sum)"
want="${want%% *}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  [ "$quiet" = 1 ] || echo "edgecoder: installing npm packages" >&2
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$want" >"$stamp"
fi
# The bundle bin/edgecoder runs (scripts/build-agent.ts). A directory's time changes when a file in it
# is added or removed, so a deleted source counts too.
bundle="$root/packages/agent/dist/edgecoder.js"
sources=("$root"/packages/{agent,protocol,sandbox}/src "$root/scripts/build-agent.ts" "$stamp")
if [ ! -f "$bundle" ] || [ -n "$(find "${sources[@]}" -newer "$bundle" -print -quit)" ]; then
  [ "$quiet" = 1 ] || echo "edgecoder: building the agent" >&2
  # V8's cached code of the old build (bin/edgecoder's NODE_COMPILE_CACHE) is of no use again.
  rm -rf "$root/packages/agent/dist/.compile-cache"
  if ! (cd "$root" && node scripts/build-agent.ts >&2); then
    # The TypeScript sources still run (with more memory): a failed build must not stop the node.
    echo "edgecoder: building the agent failed; running its TypeScript sources" >&2
    rm -f "$bundle"
  fi
fi
[ "$quiet" = 1 ] || echo "edgecoder: set up (node $(node --version))" >&2
