#!/usr/bin/env bash
# The desktop app end to end on this machine: tests, the .deb built and installed with dpkg,
# the installed app launched under Xvfb, its agent checked on the API, a screenshot of the window,
# a kill -9 of the agent (the app must restart it), a graceful quit (no agent may be left), and
# the app in a live mesh of agents from this checkout: it joins through Settings, pulls and swaps
# the test model, runs a task another agent sent it and shows the credits it earned, with a
# screenshot of every panel (tests/desktop/installed-app.check.ts).
# Exits non-zero on the first failure, saying which check failed.
#
# usage: scripts/desktop-ci.sh [--skip-tests] [--installed] [--deb FILE] [--runs N]
#   --installed  check the app as installed now (no tests, build or dpkg -i)
#   --deb FILE   install and check this .deb instead of building one (scripts/test builds it
#                while the suite runs, with scripts/desktop-prebuild.sh)
#   --runs N     launches measured for the launch-to-Dashboard time (default 3)
# Results (screenshots, logs, summary.json) go to $DESKTOP_CI_OUT (default /tmp/edgecoder-desktop-ci);
# the panel screenshots to its panels/ folder (the CI artifact) and to bench/screenshots/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/desktop-env.sh"
skip_tests=0
installed=0
prebuilt=""
runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-tests) skip_tests=1 ;;
    --installed) installed=1 skip_tests=1 ;;
    --deb) prebuilt="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    *) desktop_fail "unknown argument $1" ;;
  esac
  shift
done
out="${DESKTOP_CI_OUT:-/tmp/edgecoder-desktop-ci}"
rm -rf "$out" && mkdir -p "$out"
API=http://127.0.0.1:4301
APP_BIN=/usr/bin/edgecoder-desktop
AGENT_DIR=/usr/lib/EdgeCoder/agent
ci_start=$(date +%s)

desktop_ensure_system
[ "$(id -u)" = 0 ] || desktop_fail "run as root: the check installs the .deb with dpkg -i"

if [ "$skip_tests" = 0 ]; then
  "$desktop_root/scripts/desktop-test.sh"
fi
# The mesh check's agents run from this checkout; the app pulls the test model from it.
"$desktop_root/scripts/setup.sh" --quiet
test_model="$("$desktop_root/scripts/fetch-model.sh" | tail -n 1)"

if [ "$installed" = 0 ]; then
  if [ -n "$prebuilt" ]; then
    [ -f "$prebuilt" ] || desktop_fail "--deb $prebuilt: no such file"
    deb="$prebuilt"
  else
    deb="$("$desktop_root/scripts/desktop-build.sh" | tail -n 1)"
  fi
  desktop_say "installing $deb"
  dpkg -i "$deb" >&2 || desktop_fail "dpkg -i $deb"
else
  deb="$(ls -t "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb | head -n 1)"
fi
[ -x "$APP_BIN" ] || desktop_fail "$APP_BIN missing after install"

# --- helpers -------------------------------------------------------------------------------
now_ms() { date +%s%3N; }
healthy() { curl -fsS -m 2 "$API/healthz" 2>/dev/null | grep -q '"ok"'; }
alive() { kill -0 "$1" 2>/dev/null; }
# Agents started from the installed app, found by their command line (pids only; nothing is killed by name).
installed_agents() {
  local p
  for p in /proc/[0-9]*; do
    tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q "$AGENT_DIR/packages/agent/dist/edgecoder.js start" && echo "${p#/proc/}"
  done
  return 0
}
wait_for() { # seconds, description, command...
  local secs="$1" what="$2" deadline
  shift 2
  deadline=$(($(date +%s) + secs))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || desktop_fail "timed out after ${secs}s waiting for $what"
    sleep 0.2
  done
}

work="$(mktemp -d /tmp/edgecoder-desktop-ci.XXXXXX)"
xvfb_pid=""
bus_pid=""
app_pid=""
cleanup() {
  local p
  [ -n "$app_pid" ] && alive "$app_pid" && kill -KILL "$app_pid" 2>/dev/null
  for p in $(installed_agents); do kill -KILL "$p" 2>/dev/null || true; done
  [ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null
  rm -rf "$work"
  return 0
}
trap cleanup EXIT

# A home of its own: a fresh data dir and no single-instance socket from anything else.
export HOME="$work/home" XDG_RUNTIME_DIR="$work/run"
unset XDG_DATA_HOME XDG_CONFIG_HOME XDG_CACHE_HOME
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
data_dir="$HOME/.local/share/io.edgecoder.desktop/agent"
healthy && desktop_fail "something already answers on $API; stop it first"

display=":$((90 + RANDOM % 100))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$out/xvfb.log" 2>&1 &
xvfb_pid=$!
export DISPLAY="$display"
wait_for 10 "Xvfb on $display (see $out/xvfb.log)" test -S "/tmp/.X11-unix/X${display#:}"
alive "$xvfb_pid" || desktop_fail "Xvfb did not start (see $out/xvfb.log)"

# A session bus like a desktop's, minus service activation: nothing (portals, accessibility)
# gets spawned behind our back and outlives the check.
cat >"$work/session-bus.conf" <<'XML'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
XML
bus_info="$(dbus-daemon --config-file="$work/session-bus.conf" --fork --print-address=1 --print-pid=1)" ||
  desktop_fail "could not start a D-Bus session bus"
export DBUS_SESSION_BUS_ADDRESS="$(sed -n 1p <<<"$bus_info")"
bus_pid="$(sed -n 2p <<<"$bus_info")"
export NO_AT_BRIDGE=1

launch() { # log file
  "$APP_BIN" >"$1" 2>&1 &
  app_pid=$!
}
dashboard_ms() { sed -n 's/.*dashboard shows a running agent \([0-9]*\) ms after launch.*/\1/p' "$1" | head -n 1; }
dashboard_seen() { [ -n "$(dashboard_ms "$1")" ]; }
quit_app() {
  kill -TERM "$app_pid"
  wait_for 20 "the app to quit after SIGTERM" bash -c "! kill -0 $app_pid 2>/dev/null"
  wait "$app_pid" 2>/dev/null || true
}

# --- 1. launch; the agent answers; the window shows the Dashboard ---------------------------
desktop_say "launching the installed app under Xvfb ($DISPLAY)"
t0=$(now_ms)
launch "$out/app.log"
wait_for 120 "the app's agent to answer on $API (app log: $out/app.log)" healthy
api_ms=$(($(now_ms) - t0))
# The window's page (origin tauri://localhost) can read the API only if the agent allows it.
curl -fsS -o /dev/null -D "$out/cors-headers.txt" -H 'Origin: tauri://localhost' "$API/status" ||
  desktop_fail "GET /status with Origin tauri://localhost was refused"
grep -qi '^access-control-allow-origin: tauri://localhost' "$out/cors-headers.txt" ||
  desktop_fail "the agent sends no Access-Control-Allow-Origin for tauri://localhost, so the app's window cannot read its API (headers: $out/cors-headers.txt)"
wait_for 60 "the Dashboard to show a running agent (app log: $out/app.log)" dashboard_seen "$out/app.log"
first_dashboard_ms="$(dashboard_ms "$out/app.log")"
agent_pid="$(cat "$data_dir/agent.pid")"
[ "$(ps -o ppid= -p "$agent_pid" | tr -d ' ')" != "" ] || desktop_fail "agent pid $agent_pid from agent.pid is not running"
runtime="$(curl -fsS "$API/health/runtime")"
echo "$runtime" | grep -q '"mode":"all-in-one"' || desktop_fail "agent is not in all-in-one mode: $runtime"
echo "app: agent pid $agent_pid answers after ${api_ms} ms; Dashboard running after ${first_dashboard_ms} ms" >&2
# The app runs the agent's bundle, as bin/edgecoder does, and it stays as small (issue: lean agent).
tr '\0' ' ' <"/proc/$agent_pid/cmdline" | grep -q -- "--max-semi-space-size=1 .*$AGENT_DIR/packages/agent/dist/edgecoder.js start" ||
  desktop_fail "the app's agent does not run the bundle: $(tr '\0' ' ' <"/proc/$agent_pid/cmdline")"
agent_rss_kb="$(awk '/^VmRSS:/ {print $2}' "/proc/$agent_pid/status")"
echo "app: its agent (no model, sandbox cold, window polling) holds $((agent_rss_kb * 1024 / 1000000)) MB resident" >&2
[ "$((agent_rss_kb * 1024))" -lt 100000000 ] || desktop_fail "the app's agent holds ${agent_rss_kb} KiB, over the 100 MB an idle agent may"

# --- 2. screenshot of the window, which must not be blank ------------------------------------
wait_for 10 "the EdgeCoder window" bash -c "xdotool search --onlyvisible --name '^EdgeCoder$' >/dev/null"
sleep 1
import -window root "$out/desktop-window.png" || desktop_fail "screenshot failed"
spread="$(convert "$out/desktop-window.png" -colorspace Gray -format '%[fx:standard_deviation*1000]' info: | cut -d. -f1)"
[ "${spread:-0}" -gt 20 ] || desktop_fail "the window looks blank (grey-level spread $spread/1000): $out/desktop-window.png"
echo "app: screenshot $out/desktop-window.png" >&2

# --- 3. a second launch hands over to the first and exits ----------------------------------------
"$APP_BIN" >"$out/second-instance.log" 2>&1 &
second=$!
wait_for 15 "the second instance to exit" bash -c "! kill -0 $second 2>/dev/null"
alive "$app_pid" || desktop_fail "the first instance died when a second one started"
grep -q "already running" "$out/second-instance.log" || desktop_fail "the second instance did not defer to the first (see $out/second-instance.log)"
echo "app: a second launch deferred to the running one" >&2

# --- 4. kill -9 the agent; the app restarts it ------------------------------------------------
desktop_say "kill -9 agent $agent_pid"
kill -KILL "$agent_pid"
t_kill=$(now_ms)
new_agent_after() { local p; p="$(cat "$data_dir/agent.pid" 2>/dev/null)"; [ -n "$p" ] && [ "$p" != "$1" ] && alive "$p" && healthy; }
new_agent() { new_agent_after "$agent_pid"; }
wait_for 60 "the app to restart its agent after kill -9" new_agent
new_pid="$(cat "$data_dir/agent.pid")"
echo "app: restarted the agent as pid $new_pid in $(($(now_ms) - t_kill)) ms" >&2

# --- 5. graceful quit: no agent left ------------------------------------------------------------
desktop_say "quitting the app (SIGTERM)"
quit_app
alive "$new_pid" && desktop_fail "agent pid $new_pid still runs after the app quit"
left="$(installed_agents)"
[ -z "$left" ] || desktop_fail "agent processes left after quit: $left"
healthy && desktop_fail "something still answers on $API after quit"
echo "app: quit cleanly; no agent left" >&2

# --- 6. an agent left running on the app's data dir is stopped at the next launch -----------------
desktop_say "leaving an orphan agent behind, then launching the app"
/usr/bin/edgecoder-node --disable-warning=ExperimentalWarning "$AGENT_DIR/packages/agent/dist/edgecoder.js" \
  start --mode all-in-one --data-dir "$data_dir" --api-host 127.0.0.1 --api-port 4301 >"$out/orphan.log" 2>&1 &
orphan=$!
wait_for 60 "the orphan agent to answer" healthy
launch "$out/app-orphan.log"
wait_for 30 "the app to stop the orphan agent (pid $orphan)" bash -c "! kill -0 $orphan 2>/dev/null"
wait "$orphan" 2>/dev/null || true
wait_for 60 "the app's own agent after the orphan" new_agent_after "$orphan"
grep -q "left from an earlier run" "$out/app-orphan.log" || desktop_fail "the app did not report the orphan (see $out/app-orphan.log)"
quit_app
[ -z "$(installed_agents)" ] || desktop_fail "agent left after the orphan check"
echo "app: stopped an orphan agent at launch and started its own" >&2

# --- 7. launch-to-Dashboard time over more launches ----------------------------------------------
times=("$first_dashboard_ms")
for i in $(seq 2 "$runs"); do
  launch "$out/app-run$i.log"
  wait_for 120 "the Dashboard on launch $i" dashboard_seen "$out/app-run$i.log"
  times+=("$(dashboard_ms "$out/app-run$i.log")")
  quit_app
  [ -z "$(installed_agents)" ] || desktop_fail "agent left after launch $i"
done
median="$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"

# --- 8. tier 4: the app in a live mesh, and a screenshot of every panel ----------------------------
# Last: it leaves a model and a mesh token in the app's data dir, which later launches would load.
desktop_say "the installed app in a live mesh of agents"
mesh_start=$(date +%s)
launch "$out/app-mesh.log"
wait_for 120 "the Dashboard for the mesh check" dashboard_seen "$out/app-mesh.log"
mkdir -p "$out/panels"
(cd "$desktop_root" &&
  DESKTOP_APP_BIN="$APP_BIN" DESKTOP_APP_LOG="$out/app-mesh.log" DESKTOP_PANEL_SHOTS="$out/panels" \
    DESKTOP_BENCH_SHOTS="$desktop_root/bench/screenshots" EDGECODER_TEST_MODEL="$test_model" \
    npx vitest run --config tests/desktop/vitest.config.ts >&2) ||
  desktop_fail "the installed app in a live mesh (tests/desktop/installed-app.check.ts; app log: $out/app-mesh.log)"
quit_app
[ -z "$(installed_agents)" ] || desktop_fail "agent left after the mesh check"
mesh_s=$(($(date +%s) - mesh_start))
echo "app: joined a mesh, pulled and swapped a model, ran a peer's task, earned credits (${mesh_s} s); panels in $out/panels" >&2

# --- sizes ------------------------------------------------------------------------------------------
deb_bytes=$(stat -c %s "$deb")
installed_bytes=$(dpkg -L "$(dpkg-deb -f "$deb" Package)" 2>/dev/null | while read -r f; do [ -f "$f" ] && stat -c %s "$f"; done | awk '{s+=$1} END {print s+0}')
shell_bytes=$(stat -c %s "$APP_BIN")
node_bytes=$(stat -c %s /usr/bin/edgecoder-node)
agent_bytes=$(du -sb "$AGENT_DIR" | cut -f1)
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
cat >"$out/summary.json" <<JSON
{"debBytes":$deb_bytes,"installedBytes":$installed_bytes,"shellBinaryBytes":$shell_bytes,"nodeSidecarBytes":$node_bytes,"agentResourceBytes":$agent_bytes,"launchToDashboardMs":[$(IFS=,; echo "${times[*]}")],"launchToDashboardMedianMs":$median,"launchToApiMs":$api_ms,"meshCheckSeconds":$mesh_s,"ciSeconds":$(($(date +%s) - ci_start))}
JSON
desktop_say "passed in $(($(date +%s) - ci_start)) s"
cat >&2 <<EOF
  .deb                      $(mib "$deb_bytes") MiB   ($deb)
  installed                 $(mib "$installed_bytes") MiB
  shell binary              $(mib "$shell_bytes") MiB   ($APP_BIN)
  Node sidecar              $(mib "$node_bytes") MiB
  agent resource            $(mib "$agent_bytes") MiB
  launch -> Dashboard       median ${median} ms of ${times[*]}
  mesh check                ${mesh_s} s
  panel screenshots         $out/panels (and bench/screenshots)
  results                   $out
EOF
