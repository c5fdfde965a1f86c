//! The EdgeCoder desktop shell: a window for the UI, a tray, and a supervised agent.

mod agent_launch;
mod external;
mod http;
mod orphans;
mod single_instance;
mod supervisor;
mod tray;
mod tray_status;

use std::sync::mpsc::{self, Sender};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, RunEvent, State, WindowEvent, Wry};

use agent_launch::AgentLaunch;
use supervisor::{LogLine, Observer, Options, Snapshot, Supervisor};
use tray::Tray;
use tray_status::{status_line, AgentStatus, TrayState};

pub use supervisor::Backoff;

const SNAPSHOT_EVENT: &str = "agent://snapshot";
const LOG_EVENT: &str = "agent://log";
const STATUS_POLL: Duration = Duration::from_secs(5);
const API_TIMEOUT: Duration = Duration::from_secs(3);

/// Where tray updates are sent (see `start_tray_updates`).
struct TrayFeed(Mutex<Sender<TrayNudge>>);

/// The agent as the app holds it.
struct Agent {
    supervisor: Mutex<Option<Supervisor>>,
    status: Mutex<Option<AgentStatus>>,
    api_url: String,
}

impl Agent {
    fn snapshot(&self) -> Option<Snapshot> {
        self.supervisor
            .lock()
            .unwrap()
            .as_ref()
            .map(Supervisor::snapshot)
    }

    /// The API's base URL while the agent is ready.
    fn live_api(&self) -> Option<String> {
        self.snapshot()?.ready.map(|r| r.api_url)
    }
}

/// Forwards the supervisor's reports to the window (events) and the tray.
struct AppObserver {
    app: AppHandle,
    tray: Sender<TrayNudge>,
}

impl Observer for AppObserver {
    fn snapshot(&self, snapshot: &Snapshot) {
        let _ = self.app.emit(SNAPSHOT_EVENT, snapshot);
        let _ = self.tray.send(TrayNudge::Snapshot(snapshot.clone()));
    }
    fn log(&self, line: &LogLine) {
        let _ = self.app.emit(LOG_EVENT, line);
    }
}

/// Something the tray should reflect: a new supervisor state, or fresh `/status` numbers.
enum TrayNudge {
    Snapshot(Snapshot),
    Status,
}

/// Tray calls wait for the main thread. They run on a thread of their own so the supervisor
/// never waits on the main thread, which itself waits on the supervisor while quitting.
fn start_tray_updates(app: AppHandle) -> Sender<TrayNudge> {
    let (tx, rx) = mpsc::channel::<TrayNudge>();
    thread::spawn(move || {
        let mut snapshot: Option<Snapshot> = None;
        while let Ok(first) = rx.recv() {
            // Only the newest state matters; skip what queued up meanwhile.
            for nudge in std::iter::once(first).chain(rx.try_iter()) {
                if let TrayNudge::Snapshot(s) = nudge {
                    snapshot = Some(s);
                }
            }
            let (Some(snap), Some(tray)) = (&snapshot, app.try_state::<Tray<Wry>>()) else {
                continue;
            };
            let status = app.state::<Agent>().status.lock().unwrap().clone();
            let state = TrayState::of(snap, status.as_ref());
            let _ = tray.show(state, &status_line(snap, status.as_ref()));
        }
    });
    tx
}

/// Reads `/status` for the tray every few seconds; the window has its own live feed.
fn poll_status(app: AppHandle, tray: Sender<TrayNudge>) {
    thread::spawn(move || loop {
        let agent = app.state::<Agent>();
        let status = agent.live_api().and_then(|api| read_status(&api));
        *agent.status.lock().unwrap() = status;
        if tray.send(TrayNudge::Status).is_err() {
            return;
        }
        thread::sleep(STATUS_POLL);
    });
}

/// `/status`, with `contributing` from the settings route when the status body lacks it.
fn read_status(api: &str) -> Option<AgentStatus> {
    let r = http::get(&format!("{api}/status"), API_TIMEOUT).ok()?;
    let mut status: AgentStatus = serde_json::from_str(&r.body).ok()?;
    if status.contributing.is_none() {
        let settings = http::get(&format!("{api}/orchestration/settings"), API_TIMEOUT).ok()?;
        let v: serde_json::Value = serde_json::from_str(&settings.body).ok()?;
        status.contributing = v.get("contributing").and_then(serde_json::Value::as_bool);
    }
    Some(status)
}

fn toggle_contributing(app: AppHandle) {
    let tray = app.state::<TrayFeed>().0.lock().unwrap().clone();
    thread::spawn(move || {
        let agent = app.state::<Agent>();
        let Some(api) = agent.live_api() else { return };
        let paused = agent
            .status
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|s| s.contributing)
            == Some(false);
        let body = format!(r#"{{"contributing":{paused}}}"#);
        match http::put_json(&format!("{api}/orchestration/settings"), &body, API_TIMEOUT) {
            Ok(r) if r.is_ok() => {
                if let Some(s) = agent.status.lock().unwrap().as_mut() {
                    s.contributing = Some(paused);
                }
                let _ = tray.send(TrayNudge::Status);
            }
            Ok(r) => log_note(
                &app,
                &format!("could not change contributing: {} {}", r.status, r.body),
            ),
            Err(e) => log_note(&app, &format!("could not change contributing: {e}")),
        }
    });
}

fn log_note(app: &AppHandle, text: &str) {
    eprintln!("edgecoder-desktop: {text}");
    let _ = app.emit(
        LOG_EVENT,
        LogLine {
            stream: supervisor::Stream::Stderr,
            text: format!("edgecoder-desktop: {text}"),
        },
    );
}

/// Brings the window up, on `panel` when one is asked for (`edgecoder-desktop --panel models`).
fn show_window(app: &AppHandle, panel: Option<String>) {
    if let Some(w) = app.get_webview_window("main") {
        if let Some(p) = panel {
            // single_instance::panel_id let through only [a-z0-9-]: nothing here needs quoting.
            let _ = w.eval(format!("window.location.hash = '#/{p}'"));
        }
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AgentView {
    api_url: String,
    snapshot: Option<Snapshot>,
}

#[tauri::command]
fn agent_state(agent: State<'_, Agent>) -> AgentView {
    AgentView {
        api_url: agent.api_url.clone(),
        snapshot: agent.snapshot(),
    }
}

#[tauri::command]
fn agent_logs(agent: State<'_, Agent>) -> Vec<LogLine> {
    agent
        .supervisor
        .lock()
        .unwrap()
        .as_ref()
        .map(Supervisor::recent_logs)
        .unwrap_or_default()
}

/// Logs, once, how long after launch the Dashboard first showed a running agent.
#[tauri::command]
fn dashboard_shown() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let ms = LAUNCHED.get().map(|t| t.elapsed().as_millis()).unwrap_or(0);
        eprintln!("edgecoder-desktop: dashboard shows a running agent {ms} ms after launch");
    });
}

static LAUNCHED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Opens a portal page in the system browser (sign-in with passkeys, deposits, withdrawals).
#[tauri::command]
fn open_external(url: String) -> Result<(), String> {
    external::open(&url)
}

#[tauri::command]
fn restart_agent(agent: State<'_, Agent>) {
    if let Some(s) = agent.supervisor.lock().unwrap().as_ref() {
        s.restart();
    }
}

/// WebKitGTK's DMA-BUF renderer draws a blank window on some GPU drivers (NVIDIA, some VMs
/// and remote X). The shared-memory path always works and costs little for this UI.
fn guard_against_blank_webview() {
    if std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() {
        std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
    }
}

/// Quit cleanly on SIGTERM/SIGINT/SIGHUP (session logout, `kill`), so the agent is stopped too.
fn exit_on_signals(app: AppHandle) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) else {
        return;
    };
    thread::spawn(move || {
        if signals.forever().next().is_some() {
            app.exit(0);
        }
    });
}

/// `--panel <id>`: the panel to open (also in the instance already running).
fn panel_arg(mut args: impl Iterator<Item = String>) -> Result<Option<String>, String> {
    let mut panel = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--panel" => {
                let id = args.next().ok_or("--panel needs a panel id, e.g. --panel models")?;
                let id = single_instance::panel_id(&id)
                    .ok_or_else(|| format!("--panel {id:?} is not a panel id (e.g. mesh, models)"))?;
                panel = Some(id.to_string());
            }
            // Desktop launchers may pass arguments of their own: say so, but start.
            other => eprintln!("edgecoder-desktop: ignoring argument {other:?} (usage: edgecoder-desktop [--panel <id>])"),
        }
    }
    Ok(panel)
}

pub fn run() {
    LAUNCHED.get_or_init(std::time::Instant::now);
    guard_against_blank_webview();
    let panel = match panel_arg(std::env::args().skip(1)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("edgecoder-desktop: {e}");
            std::process::exit(2);
        }
    };
    let instance = match single_instance::claim(single_instance::socket_path(), panel.as_deref()) {
        Ok(single_instance::Claim::First(lock)) => lock,
        Ok(single_instance::Claim::AlreadyRunning) => {
            eprintln!("edgecoder-desktop: already running; showing its window");
            return;
        }
        Err(e) => {
            eprintln!("edgecoder-desktop: cannot claim the single-instance socket: {e}");
            std::process::exit(1);
        }
    };

    let app = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![
            agent_state,
            agent_logs,
            restart_agent,
            dashboard_shown,
            open_external
        ])
        .setup(move |app| {
            let handle = app.handle().clone();
            let show_handle = handle.clone();
            instance.serve(move |panel| show_window(&show_handle, panel))?;
            if let (Some(p), Some(w)) = (&panel, app.get_webview_window("main")) {
                let mut url = w.url()?;
                url.set_fragment(Some(&format!("/{p}")));
                w.navigate(url)?;
            }
            app.manage(instance);

            let launch =
                AgentLaunch::resolve(&app.path().resource_dir()?, &app.path().app_data_dir()?);
            let options = Options::default();

            app.manage(Tray::create(&handle)?);
            app.manage(Agent {
                supervisor: Mutex::new(None),
                status: Mutex::new(None),
                api_url: launch.api_url(),
            });
            let tray = start_tray_updates(handle.clone());
            app.manage(TrayFeed(Mutex::new(tray.clone())));
            // An orphan can take the whole grace period to stop: that happens on the
            // supervisor's thread while the window and tray come up.
            let (data_dir, entry, grace) = (
                launch.data_dir.clone(),
                launch.entry.clone(),
                options.stop_grace,
            );
            let supervisor = Supervisor::start_after(
                Box::new(move || orphans::reap(&data_dir, &entry, agent_launch::API_PORT, grace)),
                Box::new(move || launch.command()),
                options,
                AppObserver {
                    app: handle.clone(),
                    tray: tray.clone(),
                },
            );
            *app.state::<Agent>().supervisor.lock().unwrap() = Some(supervisor);

            poll_status(handle.clone(), tray);
            exit_on_signals(handle);
            Ok(())
        })
        .on_menu_event(|app, event| match event.id().as_ref() {
            tray::OPEN => show_window(app, None),
            tray::PAUSE => toggle_contributing(app.clone()),
            tray::RESTART => {
                if let Some(s) = app.state::<Agent>().supervisor.lock().unwrap().as_ref() {
                    s.restart();
                }
            }
            tray::QUIT => app.exit(0),
            _ => {}
        })
        .on_window_event(|window, event| {
            // Closing the window keeps the node running in the tray; Quit is in the tray menu.
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .build(tauri::generate_context!())
        .expect("build the EdgeCoder app");

    app.run(|app, event| {
        if let RunEvent::Exit = event {
            // Take the supervisor out first: stop() blocks up to the grace period.
            let supervisor = app.state::<Agent>().supervisor.lock().unwrap().take();
            if let Some(mut s) = supervisor {
                s.stop();
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::panel_arg;

    fn args(a: &[&str]) -> impl Iterator<Item = String> {
        a.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn takes_a_panel_and_refuses_anything_else() {
        assert_eq!(panel_arg(args(&[])), Ok(None));
        assert_eq!(
            panel_arg(args(&["--panel", "models"])),
            Ok(Some("models".into()))
        );
        assert!(panel_arg(args(&["--panel"]))
            .unwrap_err()
            .contains("needs a panel id"));
        assert!(panel_arg(args(&["--panel", "x'y"]))
            .unwrap_err()
            .contains("not a panel id"));
        assert_eq!(
            panel_arg(args(&["--verbose", "--panel", "mesh"])),
            Ok(Some("mesh".into()))
        );
    }
}
