# Sourced by the desktop scripts: system packages, Node, Rust, and the paths they share.
# shellcheck shell=bash
desktop_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=env.sh
source "$desktop_root/scripts/env.sh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$EDGECODER_CACHE/cargo-target}"
DESKTOP_TRIPLE="x86_64-unknown-linux-gnu"

# Debian packages to build the app (webkit2gtk 4.1, appindicator, rsvg)...
DESKTOP_BUILD_PACKAGES=(
  ca-certificates build-essential pkg-config file curl libssl-dev libxdo-dev
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev
)
# ...and to test it: Chromium for the UI test, Xvfb, xdotool and imagemagick to run the installed
# app headless and screenshot it, a D-Bus session for the tray.
DESKTOP_TEST_PACKAGES=(chromium xvfb xauth xdotool imagemagick procps dbus dbus-x11)

desktop_say() { printf '\n== desktop: %s\n' "$*" >&2; }
desktop_fail() {
  printf 'desktop: FAILED: %s\n' "$*" >&2
  exit 1
}

# usage: desktop_ensure_system [build|test]   (test = build + test packages)
desktop_ensure_system() {
  local missing=() p wanted=("${DESKTOP_BUILD_PACKAGES[@]}")
  [ "${1:-test}" = test ] && wanted+=("${DESKTOP_TEST_PACKAGES[@]}")
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || desktop_fail "missing Debian packages: ${missing[*]} (sudo apt-get install -y ${missing[*]})"
    desktop_say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  [ -f "$HOME/.cargo/env" ] && source "$HOME/.cargo/env"
  command -v cargo >/dev/null 2>&1 || desktop_fail "cargo is missing: install Rust with rustup (Tauri 2 needs Rust >= 1.80; Debian's cargo is too old)"
  edgecoder_ensure_node || desktop_fail "no Node >= 22.12"
}

# The app's own npm packages (not a workspace of the root), installed when the lock changed.
desktop_ensure_npm() {
  local stamp="$desktop_root/desktop/node_modules/.edgecoder-lock-sha" want
  want="$( (cat "$desktop_root/desktop/package-lock.json"; node --version) | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    desktop_say "installing the desktop app's npm packages"
    npm ci --prefix "$desktop_root/desktop" --no-audit --no-fund --loglevel=error >&2
    echo "$want" >"$stamp"
  fi
}
