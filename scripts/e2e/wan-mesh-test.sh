#!/usr/bin/env bash
# Tier 2: the mesh across a WAN.
#
#   scripts/e2e/wan-mesh-test.sh                      # the simulation (root): three regions in network
#                                                     # namespaces over a 50 ms link, and NAT'd nodes
#   scripts/e2e/wan-mesh-test.sh URL[#token] URL ...  # real agents: their API URLs (a token after '#'
#                                                     # when the API is bound beyond loopback)
#
# For real hosts, start agents there first (see docs/mesh.md, "Checking a real WAN"), e.g. the
# seed on Fly and two machines on other networks joining it with --bootstrap or --discovery-url.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source=../env.sh
source "$root/scripts/env.sh"
edgecoder_ensure_node
if [ $# -eq 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "wan-mesh-test: the simulation needs root (network namespaces); or give agent URLs" >&2
    exit 1
  fi
  EDGECODER_TEST_MODEL="${EDGECODER_TEST_MODEL:-$("$root/scripts/fetch-model.sh" | tail -n 1)}"
  export EDGECODER_TEST_MODEL
  exec npx vitest run tests/e2e/wan-regions.test.ts tests/e2e/wan-nat.test.ts
fi
exec node --disable-warning=ExperimentalWarning "$root/scripts/e2e/wan-check.ts" "$@"
