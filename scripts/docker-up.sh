#!/usr/bin/env bash
# Starts the Docker daemon the image tests use, once: no bridge network and no iptables rules
# (containers run with --network host). Quick when a daemon already answers. Needs root.
set -euo pipefail
docker_cli="${DOCKER:-docker}"
if "$docker_cli" info >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "edgecoder: the Docker daemon is not running and starting it needs root" >&2
  exit 1
fi
command -v dockerd >/dev/null 2>&1 || { echo "edgecoder: dockerd not found (apt-get install -y docker.io)" >&2; exit 1; }
log="${EDGECODER_CACHE:-$HOME/.cache/edgecoder}/dockerd.log"
mkdir -p "$(dirname "$log")"
# setsid: the daemon outlives the test run that started it, and is not in its process group.
setsid dockerd --bridge=none --iptables=false --ip-masq=false >>"$log" 2>&1 </dev/null &
for _ in $(seq 1 120); do
  "$docker_cli" info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "edgecoder: dockerd did not answer within 60 s; its log: $log" >&2
tail -n 20 "$log" >&2
exit 1
