//! Keeps the agent running: starts it, waits for its ready line, polls its health, restarts it
//! with backoff when it crashes or stops answering, and stops it cleanly on quit.

mod backoff;
mod process;

pub use backoff::Backoff;
pub use process::{describe_exit, terminate, ReadyInfo, Stream};

use std::collections::VecDeque;
use std::process::Command;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::http;
use process::{AgentProcess, Output};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Spawned, waiting for the ready line.
    Starting,
    /// Ready and answering health checks.
    Running,
    /// Crashed or unhealthy; a restart is scheduled.
    Restarting,
    Stopping,
    Stopped,
}

/// The supervisor's view of the agent, as the window and tray show it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub phase: Phase,
    pub pid: Option<u32>,
    pub ready: Option<ReadyInfo>,
    /// Restarts after a crash or failed health checks since the app started.
    pub restarts: u32,
    /// Why the last run ended, or why the agent is not running.
    pub problem: Option<String>,
    /// When the next restart happens (ms since the epoch) while restarting.
    pub restart_at_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    pub stream: Stream,
    pub text: String,
}

/// Where the supervisor reports; the app forwards to the window and tray, tests record.
pub trait Observer: Send + Sync + 'static {
    fn snapshot(&self, snapshot: &Snapshot);
    fn log(&self, line: &LogLine);
}

#[derive(Debug, Clone)]
pub struct Options {
    pub health_interval: Duration,
    /// Failed health polls in a row that count as a hung agent.
    pub max_failed_polls: u32,
    pub health_timeout: Duration,
    pub ready_timeout: Duration,
    pub stop_grace: Duration,
    pub backoff: Backoff,
}

/// How long the agent gives its parts to stop after SIGTERM before it exits on its own
/// (`STOP_DEADLINE_MS` in packages/agent/src/cli/start.ts).
pub const AGENT_STOP_DEADLINE: Duration = Duration::from_secs(10);

/// The wait after SIGTERM before SIGKILL: the agent's own deadline and then some, so an agent
/// that uses its whole deadline (and then closes its store) is never killed in the middle.
pub fn stop_grace_after(agent_deadline: Duration) -> Duration {
    agent_deadline + (agent_deadline / 2).max(Duration::from_secs(2))
}

impl Default for Options {
    fn default() -> Self {
        Options {
            health_interval: Duration::from_secs(5),
            max_failed_polls: 3,
            health_timeout: Duration::from_secs(3),
            // First start loads an identity, the store and the mesh; give slow disks room.
            ready_timeout: Duration::from_secs(120),
            stop_grace: stop_grace_after(AGENT_STOP_DEADLINE),
            backoff: Backoff::default(),
        }
    }
}

/// Builds the command for each run; called again for every restart.
pub type Launcher = Box<dyn Fn() -> Command + Send>;

/// Runs once on the supervisor's thread before the first start (e.g. stopping an orphan agent
/// that holds the port); its notes go to the log. It may block: the caller's thread does not wait.
pub type Prepare = Box<dyn FnOnce() -> Vec<String> + Send>;

enum Control {
    Restart,
    Stop(Sender<()>),
}

enum Msg {
    Control(Control),
    Output(Output),
}

const LOG_KEEP: usize = 500;
/// How often a running child is checked for exit between messages.
const TICK: Duration = Duration::from_millis(100);

pub struct Supervisor {
    tx: Sender<Msg>,
    state: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    snapshot: Mutex<Snapshot>,
    logs: Mutex<VecDeque<LogLine>>,
    observer: Box<dyn Observer>,
}

impl Supervisor {
    /// Starts supervising on a thread of its own, `prepare` first; returns at once.
    pub fn start_after(
        prepare: Prepare,
        launcher: Launcher,
        options: Options,
        observer: impl Observer,
    ) -> Self {
        let (tx, rx) = mpsc::channel();
        let state = Arc::new(Shared {
            snapshot: Mutex::new(Snapshot {
                phase: Phase::Starting,
                pid: None,
                ready: None,
                restarts: 0,
                problem: None,
                restart_at_ms: None,
            }),
            logs: Mutex::new(VecDeque::with_capacity(LOG_KEEP)),
            observer: Box::new(observer),
        });
        let worker = Worker {
            launcher,
            options,
            rx,
            tx: tx.clone(),
            state: state.clone(),
            run: 0,
        };
        let thread = thread::Builder::new()
            .name("agent-supervisor".into())
            .spawn(move || worker.supervise(prepare))
            .expect("spawn supervisor thread");
        Supervisor {
            tx,
            state,
            thread: Some(thread),
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        self.state.snapshot.lock().unwrap().clone()
    }

    pub fn recent_logs(&self) -> Vec<LogLine> {
        self.state.logs.lock().unwrap().iter().cloned().collect()
    }

    /// Stops the running agent (if any) and starts a fresh one now, without backoff.
    pub fn restart(&self) {
        let _ = self.tx.send(Msg::Control(Control::Restart));
    }

    /// Stops the agent (SIGTERM, then SIGKILL after the grace period) and ends supervision.
    /// Blocks until the child is gone.
    pub fn stop(&mut self) {
        let (done_tx, done_rx) = mpsc::channel();
        if self.tx.send(Msg::Control(Control::Stop(done_tx))).is_ok() {
            let _ = done_rx.recv();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Worker {
    launcher: Launcher,
    options: Options,
    rx: Receiver<Msg>,
    tx: Sender<Msg>,
    state: Arc<Shared>,
    run: u64,
}

/// How one run of the agent ended.
enum RunEnd {
    /// Crashed, hung or never became ready: restart after backoff.
    Failed(String),
    /// The operator asked for a restart: start again at once.
    Restart,
    Stop(Sender<()>),
}

impl Worker {
    fn supervise(mut self, prepare: Prepare) {
        for note in prepare() {
            self.note(format!("edgecoder-desktop: {note}"));
        }
        // A quit while preparing: stop before anything starts.
        while let Ok(msg) = self.rx.try_recv() {
            if let Msg::Control(Control::Stop(done)) = msg {
                return self.finish(done);
            }
        }
        loop {
            let end = match self.spawn() {
                Ok(child) => self.watch(child),
                Err(e) => RunEnd::Failed(format!("could not start the agent: {e}")),
            };
            match end {
                RunEnd::Stop(done) => return self.finish(done),
                RunEnd::Restart => continue,
                RunEnd::Failed(problem) => {
                    if let Some(done) = self.wait_before_restart(problem) {
                        return self.finish(done);
                    }
                }
            }
        }
    }

    fn spawn(&mut self) -> std::io::Result<AgentProcess> {
        self.run += 1;
        let out = self.tx.clone();
        let (out_tx, out_rx) = mpsc::channel::<Output>();
        // Output threads send on their own channel; one relay thread funnels it into ours.
        thread::spawn(move || {
            for o in out_rx {
                if out.send(Msg::Output(o)).is_err() {
                    return;
                }
            }
        });
        let child = AgentProcess::spawn((self.launcher)(), self.run, out_tx)?;
        self.update(|s| {
            s.phase = Phase::Starting;
            s.pid = Some(child.pid());
            s.ready = None;
            s.restart_at_ms = None;
        });
        Ok(child)
    }

    fn watch(&mut self, mut child: AgentProcess) -> RunEnd {
        let started = Instant::now();
        let mut ready: Option<ReadyInfo> = None;
        let mut healthy_since: Option<Instant> = None;
        let mut last_poll = Instant::now();
        let mut failed_polls = 0u32;
        let mut last_stderr: Option<String> = None;

        loop {
            match self.rx.recv_timeout(TICK) {
                Ok(Msg::Output(Output::Ready { run, info })) if run == child.run() => {
                    self.update(|s| {
                        s.phase = Phase::Running;
                        s.ready = Some(info.clone());
                        s.problem = None;
                    });
                    ready = Some(info);
                    healthy_since = Some(Instant::now());
                    last_poll = Instant::now();
                }
                Ok(Msg::Output(Output::Line { stream, text, run })) => {
                    // A line of an earlier run (its pipes can outlive it) never explains this one.
                    if run == child.run() && stream == Stream::Stderr && !text.is_empty() {
                        last_stderr = Some(text.clone());
                    }
                    self.log(LogLine { stream, text });
                }
                Ok(Msg::Output(Output::Ready { .. })) => {}
                Ok(Msg::Control(Control::Restart)) => {
                    self.stop_child(&mut child);
                    return RunEnd::Restart;
                }
                Ok(Msg::Control(Control::Stop(done))) => {
                    self.update(|s| s.phase = Phase::Stopping);
                    self.stop_child(&mut child);
                    return RunEnd::Stop(done);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => unreachable!("the worker holds a sender"),
            }

            if let Some(status) = child.exited() {
                self.drain_output(child.run(), &mut last_stderr);
                let mut why = format!("agent {}", describe_exit(status));
                // A signal says it all; an exit code is explained by the agent's last error line.
                let cause = status
                    .code()
                    .and(last_stderr.as_deref())
                    .and_then(error_message);
                if let Some(line) = cause {
                    why.push_str(": ");
                    why.push_str(&line);
                }
                return RunEnd::Failed(why);
            }

            let Some(info) = &ready else {
                if started.elapsed() > self.options.ready_timeout {
                    self.stop_child(&mut child);
                    return RunEnd::Failed(format!(
                        "agent did not report ready within {} s",
                        self.options.ready_timeout.as_secs()
                    ));
                }
                continue;
            };

            if last_poll.elapsed() >= self.options.health_interval {
                last_poll = Instant::now();
                let url = format!("{}/healthz", info.api_url.trim_end_matches('/'));
                match http::get(&url, self.options.health_timeout) {
                    Ok(r) if r.is_ok() => {
                        failed_polls = 0;
                        let since = *healthy_since.get_or_insert_with(Instant::now);
                        self.options.backoff.note_healthy(since.elapsed());
                    }
                    failure => {
                        failed_polls += 1;
                        healthy_since = None;
                        if failed_polls >= self.options.max_failed_polls {
                            let why = match failure {
                                Ok(r) => format!("answered {}", r.status),
                                Err(e) => e.to_string(),
                            };
                            self.stop_child(&mut child);
                            return RunEnd::Failed(format!(
                                "agent failed {failed_polls} health checks in a row ({why})"
                            ));
                        }
                    }
                }
            }
        }
    }

    /// Lines written just before a crash usually say why; read what is already queued.
    fn drain_output(&mut self, run: u64, last_stderr: &mut Option<String>) {
        let deadline = Instant::now() + Duration::from_millis(200);
        while let Ok(msg) = self
            .rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            match msg {
                Msg::Output(Output::Line {
                    stream,
                    text,
                    run: r,
                }) => {
                    if r == run && stream == Stream::Stderr && !text.is_empty() {
                        *last_stderr = Some(text.clone());
                    }
                    self.log(LogLine { stream, text });
                }
                Msg::Output(Output::Ready { .. }) => {}
                // Keep controls for the caller: put them back at the end of the queue.
                Msg::Control(c) => {
                    let _ = self.tx.send(Msg::Control(c));
                    return;
                }
            }
        }
    }

    fn stop_child(&mut self, child: &mut AgentProcess) {
        child.stop(self.options.stop_grace);
        self.update(|s| s.pid = None);
    }

    /// Waits out the backoff delay; returns a stop request if one arrives meanwhile.
    fn wait_before_restart(&mut self, problem: String) -> Option<Sender<()>> {
        let delay = self.options.backoff.next_delay();
        let at = SystemTime::now() + delay;
        self.update(|s| {
            s.phase = Phase::Restarting;
            s.pid = None;
            s.ready = None;
            s.restarts += 1;
            s.problem = Some(problem.clone());
            s.restart_at_ms = at
                .duration_since(UNIX_EPOCH)
                .ok()
                .map(|d| d.as_millis() as u64);
        });
        self.note(format!(
            "edgecoder-desktop: {problem}; restarting in {} ms",
            delay.as_millis()
        ));
        let deadline = Instant::now() + delay;
        loop {
            match self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(Msg::Control(Control::Stop(done))) => return Some(done),
                Ok(Msg::Control(Control::Restart)) => return None,
                Ok(Msg::Output(Output::Line { stream, text, .. })) => {
                    self.log(LogLine { stream, text })
                }
                Ok(Msg::Output(Output::Ready { .. })) => {}
                Err(_) => return None,
            }
        }
    }

    fn finish(&mut self, done: Sender<()>) {
        self.update(|s| {
            s.phase = Phase::Stopped;
            s.pid = None;
            s.ready = None;
            s.restart_at_ms = None;
        });
        let _ = done.send(());
    }

    fn update(&self, change: impl FnOnce(&mut Snapshot)) {
        let snap = {
            let mut s = self.state.snapshot.lock().unwrap();
            change(&mut s);
            s.clone()
        };
        self.state.observer.snapshot(&snap);
    }

    /// The supervisor's own line: in the log and on the app's stderr, so the journal keeps it.
    fn note(&self, text: String) {
        eprintln!("{text}");
        self.log(LogLine {
            stream: Stream::Stderr,
            text,
        });
    }

    fn log(&self, line: LogLine) {
        self.state.observer.log(&line);
        let mut logs = self.state.logs.lock().unwrap();
        if logs.len() == LOG_KEEP {
            logs.pop_front();
        }
        logs.push_back(line);
    }
}

/// The message of an error-level NDJSON log line (pino level 50 and up), or a plain-text line
/// (the CLI prints start-up failures as text); None for routine log lines.
fn error_message(line: &str) -> Option<String> {
    let text = match serde_json::from_str::<serde_json::Value>(line) {
        Ok(v)
            if v.get("level")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
                >= 50 =>
        {
            v.get("msg").and_then(|m| m.as_str()).map(str::to_string)?
        }
        Ok(_) => return None,
        Err(_) => line.to_string(),
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(300).collect())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod error_message_tests {
    use super::error_message;

    #[test]
    fn keeps_errors_and_plain_text_but_not_routine_lines() {
        assert_eq!(
            error_message(r#"{"level":50,"msg":"store failed"}"#).as_deref(),
            Some("store failed")
        );
        assert_eq!(
            error_message(r#"{"level":40,"msg":"no model available yet"}"#),
            None
        );
        assert_eq!(
            error_message("edgecoder: API port 4301 on 127.0.0.1 is already in use").as_deref(),
            Some("edgecoder: API port 4301 on 127.0.0.1 is already in use")
        );
    }
}
