#!/usr/bin/env bash
# The desktop app's tests: lint and types of the UI, its unit tests and the Dashboard in
# Chromium against a real agent (vitest), and the Rust shell's tests (supervisor, tray, HTTP).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/desktop-env.sh"
desktop_ensure_system
"$desktop_root/scripts/setup.sh" --quiet
desktop_ensure_npm
app="$desktop_root/desktop"

desktop_say "lint (biome) and types (tsc)"
(cd "$desktop_root" && npx biome ci desktop)
(cd "$app" && npx tsc --noEmit -p .)

desktop_say "UI tests: unit, and the Dashboard in Chromium against a real agent"
(cd "$app" && npx vitest run)

desktop_say "Rust tests (release profile: shares its build with the .deb)"
# The shell embeds the built UI at compile time; the vitest run above built it.
(cd "$app/src-tauri" && cargo test --release --locked)
