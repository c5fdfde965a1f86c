#!/usr/bin/env bash
# Retires the four Fly apps the seed node and the portal replace (coordinator-2, inference,
# control-plane, docs) and the stale Postgres attachment of control-plane.
#
#   scripts/fly-teardown.sh             dry run: prints every flyctl command, runs none
#   scripts/fly-teardown.sh --execute   asks for a typed confirmation, checks that the seed
#                                       node and the portal are deployed, then runs them in order
#
# The list is fixed here on purpose: edgecoder-seed, edgecoder-portal, edgecoder-coordinator
# (the rollback target until the seed has proven itself) and the databases are never touched.
set -euo pipefail

RETIRED_APPS=(edgecoder-coordinator-2 edgecoder-inference edgecoder-control-plane edgecoder-docs)
KEPT_APPS=(edgecoder-seed edgecoder-portal)
CONFIRMATION="tear down ${#RETIRED_APPS[@]} apps"
FLYCTL="${FLYCTL:-flyctl}"

execute=0
for arg in "$@"; do
  case "$arg" in
    --execute) execute=1 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fly-teardown: unknown argument $arg (only --execute)" >&2; exit 2 ;;
  esac
done

# The plan, in order: detach before the app holding the attachment is destroyed.
plan=(
  "postgres detach edgecoder-postgres --app edgecoder-control-plane"
)
for app in "${RETIRED_APPS[@]}"; do plan+=("apps destroy $app --yes"); done

if [ "$execute" = 0 ]; then
  echo "# dry run: nothing is changed. With --execute these run, in this order:"
  for step in "${plan[@]}"; do echo "$FLYCTL $step"; done
  exit 0
fi

printf 'This destroys %s and detaches edgecoder-postgres from edgecoder-control-plane.\n' "${RETIRED_APPS[*]}"
printf 'Type "%s" to go on: ' "$CONFIRMATION"
read -r answer || answer=""
if [ "$answer" != "$CONFIRMATION" ]; then
  echo "fly-teardown: not confirmed; nothing changed" >&2
  exit 1
fi
command -v "$FLYCTL" >/dev/null 2>&1 || { echo "fly-teardown: $FLYCTL not found" >&2; exit 1; }
for app in "${KEPT_APPS[@]}"; do
  if ! "$FLYCTL" status --app "$app" >/dev/null; then
    echo "fly-teardown: $app is not deployed; deploy it first (docs/operating.md)" >&2
    exit 1
  fi
done
for step in "${plan[@]}"; do
  echo "+ $FLYCTL $step"
  # shellcheck disable=SC2086 # each step is a fixed, space-separated argument list
  "$FLYCTL" $step
done
echo "fly-teardown: done; the Fly apps left: ${KEPT_APPS[*]} (and edgecoder-coordinator until it is retired)"
