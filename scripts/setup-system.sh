#!/usr/bin/env bash
# Debian packages the test suite needs (browser for UI tests, Python for the model fetch, the
# desktop build chain, PostgreSQL for the portal, Docker and debootstrap for the seed node and
# portal images). Installs only what is missing, and only as root; otherwise says what to install.
set -euo pipefail
packages=(
  ca-certificates curl git python3 python3-pip python3-venv npm bubblewrap util-linux
  chromium xvfb xauth imagemagick procps iproute2 iptables iputils-ping postgresql docker.io debootstrap prometheus
  build-essential pkg-config libssl-dev libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev file
)
# Where python3/pip or npm come from elsewhere (pyenv, a Node install), the Debian package isn't needed.
command -v pip3 >/dev/null 2>&1 && packages=("${packages[@]/python3-pip/}")
python3 -c "import ensurepip" >/dev/null 2>&1 && packages=("${packages[@]/python3-venv/}")
command -v npm >/dev/null 2>&1 && packages=("${packages[@]/npm/}")

missing=()
for p in "${packages[@]}"; do
  [ -z "$p" ] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "edgecoder: missing Debian packages: ${missing[*]}" >&2
  echo "edgecoder: install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "edgecoder: installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/lists/.edgecoder-updated
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
  apt-get update -qq && touch "$stamp"
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
