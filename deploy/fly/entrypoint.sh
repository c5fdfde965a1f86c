#!/bin/sh
# Starts the image's command as the unprivileged edgecoder user. Started as root, it first hands
# the data dir to that user: a volume the host mounts (Fly mounts its volumes as root) is
# otherwise unwritable to it. The process itself never runs as root.
set -eu
if [ "$(id -u)" = 0 ]; then
  dir="${EDGECODER_DATA_DIR:-${EDGECODER_PORTAL_DATA_DIR:-/data}}"
  mkdir -p "$dir"
  if [ "$(stat -c %u "$dir")" != 10001 ]; then chown -R 10001:10001 "$dir"; fi
  chmod 0700 "$dir"
  exec setpriv --reuid=10001 --regid=10001 --init-groups --inh-caps=-all -- "$@"
fi
exec "$@"
