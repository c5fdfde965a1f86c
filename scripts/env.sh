# Sourced by the project's scripts: puts a Node.js >= 22.12 first on PATH.
# When the machine's Node is older, Node 24 is installed once from the npm registry
# (the node-linux-<arch> package carries the official binary) into a cache outside the repo.
EDGECODER_CACHE="${EDGECODER_CACHE:-$HOME/.cache/edgecoder}"
EDGECODER_NODE_VERSION="24.21.0"

# Once a Node is found good, EDGECODER_NODE (its path) and EDGECODER_NODE_SEEN (`node --version`)
# are exported: the scripts it then runs (bin/edgecoder runs setup.sh) ask it nothing again.
edgecoder_node_ok() {
  local path
  path="$(command -v node)" || return 1
  [ -n "${EDGECODER_NODE_SEEN:-}" ] && [ "${EDGECODER_NODE:-}" = "$path" ] && return 0
  # `node --version` prints and exits before starting V8: a few ms, where `node -e` takes ~50.
  local v major minor
  v="$(node --version 2>/dev/null)" || return 1
  major="${v#v}"
  minor="${major#*.}"
  major="${major%%.*}"
  minor="${minor%%.*}"
  case "$major$minor" in *[!0-9]* | '') return 1 ;; esac
  [ "$major" -gt 22 ] || { [ "$major" -eq 22 ] && [ "$minor" -ge 12 ]; } || return 1
  export EDGECODER_NODE="$path" EDGECODER_NODE_SEEN="$v"
}

edgecoder_ensure_node() {
  edgecoder_node_ok && return 0
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "edgecoder: unsupported CPU $(uname -m)" >&2; return 1 ;;
  esac
  local os
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) echo "edgecoder: unsupported OS $(uname -s)" >&2; return 1 ;;
  esac
  local dir="$EDGECODER_CACHE/node-$EDGECODER_NODE_VERSION"
  local bin="$dir/node_modules/node-$os-$arch/bin"
  if [ ! -x "$bin/node" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      # A bare Debian: its own npm (with an older Node) is enough to fetch Node 24 once.
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "edgecoder: installing Debian's npm to fetch Node $EDGECODER_NODE_VERSION" >&2
        (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends npm >/dev/null) || return 1
      else
        echo "edgecoder: npm is needed once to fetch Node $EDGECODER_NODE_VERSION (sudo apt-get install npm)" >&2
        return 1
      fi
    fi
    echo "edgecoder: installing Node $EDGECODER_NODE_VERSION into $dir" >&2
    mkdir -p "$dir"
    (cd "$dir" && npm install --no-save --no-audit --no-fund --loglevel=error "node-$os-$arch@$EDGECODER_NODE_VERSION" >&2) || return 1
  fi
  export PATH="$bin:$PATH"
  edgecoder_node_ok
}
