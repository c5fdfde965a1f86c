#!/usr/bin/env bash
# The desktop app built ahead of its check, so that scripts/test can compile it while the suite
# runs. Two steps:
#   ui    the build packages, the app's npm packages and its UI (desktop/dist), in the foreground:
#         the suite's agents serve that UI, so it must not change under them
#   rust  the Rust tests compiled (release profile) and the .deb built with that UI; prints the
#         .deb's path on its last line. scripts/test runs it under `chrt --idle`, so the compiler
#         takes only the CPU the tests leave.
#
# usage: scripts/desktop-prebuild.sh ui|rust
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/desktop-env.sh"
app="$desktop_root/desktop"
case "${1:-}" in
  ui)
    desktop_ensure_system build
    desktop_ensure_npm
    desktop_say "building the UI"
    (cd "$app" && npm run build >&2)
    ;;
  rust)
    desktop_ensure_system build
    desktop_say "compiling the Rust tests (release profile, shared with the .deb)"
    start=$(date +%s)
    (cd "$app/src-tauri" && cargo test --release --locked --no-run >&2)
    desktop_say "compiled in $(($(date +%s) - start)) s"
    "$desktop_root/scripts/desktop-build.sh" --ui-built | tail -n 1
    ;;
  *) desktop_fail "usage: scripts/desktop-prebuild.sh ui|rust" ;;
esac
