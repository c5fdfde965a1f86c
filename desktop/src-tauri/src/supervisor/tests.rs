//! The supervisor against `examples/test_agent.rs`, a child that crashes, hangs or ignores
//! SIGTERM on purpose.

use super::*;
use std::path::PathBuf;
use std::sync::Condvar;

fn test_agent() -> PathBuf {
    // Test binaries live in target/<profile>/deps; cargo builds examples into target/<profile>/examples.
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let bin = deps.parent().unwrap().join("examples").join("test_agent");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo test`, which builds the examples",
        bin.display()
    );
    bin
}

/// Records every snapshot and log line so a test can wait for a phase or a line.
#[derive(Default)]
struct Recorder {
    snapshots: Mutex<Vec<Snapshot>>,
    changed: Condvar,
    logs: Mutex<Vec<String>>,
    logged: Condvar,
}

impl Observer for Arc<Recorder> {
    fn snapshot(&self, s: &Snapshot) {
        self.snapshots.lock().unwrap().push(s.clone());
        self.changed.notify_all();
    }
    fn log(&self, line: &LogLine) {
        self.logs.lock().unwrap().push(line.text.clone());
        self.logged.notify_all();
    }
}

impl Recorder {
    fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut logs = self.logs.lock().unwrap();
        while !logs.iter().any(|l| l.contains(needle)) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for log line {needle:?}; saw {logs:#?}"
            );
            logs = self.logged.wait_timeout(logs, left).unwrap().0;
        }
    }

    fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Snapshot) -> bool,
    ) -> Snapshot {
        let deadline = Instant::now() + timeout;
        let mut snaps = self.snapshots.lock().unwrap();
        loop {
            if let Some(s) = snaps.iter().rev().find(|s| pred(s)) {
                return s.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; saw {:#?}",
                snaps.last()
            );
            snaps = self.changed.wait_timeout(snaps, left).unwrap().0;
        }
    }
}

struct Harness {
    supervisor: Supervisor,
    recorder: Arc<Recorder>,
    record: PathBuf,
    _dir: TempDir,
}

fn start(behaviour: &'static str, options: Options) -> Harness {
    start_after(Box::new(Vec::new), behaviour, options)
}

fn start_after(prepare: Prepare, behaviour: &'static str, options: Options) -> Harness {
    let dir = TempDir::new();
    let record = dir.0.join("starts");
    let recorder = Arc::new(Recorder::default());
    let (bin, rec) = (test_agent(), record.clone());
    let launcher: Launcher = Box::new(move || {
        let mut c = Command::new(&bin);
        c.arg(behaviour).arg(&rec);
        c
    });
    let supervisor = Supervisor::start_after(prepare, launcher, options, recorder.clone());
    Harness {
        supervisor,
        recorder,
        record,
        _dir: dir,
    }
}

impl Harness {
    fn started_pids(&self) -> Vec<u32> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect()
    }
}

fn fast() -> Options {
    Options {
        health_interval: Duration::from_millis(100),
        max_failed_polls: 3,
        health_timeout: Duration::from_millis(200),
        ready_timeout: Duration::from_secs(10),
        stop_grace: Duration::from_secs(2),
        backoff: Backoff::new(
            Duration::from_millis(100),
            Duration::from_secs(1),
            Duration::from_secs(300),
        ),
    }
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

struct TempDir(PathBuf);
impl TempDir {
    fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p =
            std::env::temp_dir().join(format!("edgecoder-supervisor-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn reports_running_once_the_agent_prints_its_ready_line() {
    let h = start("serve", fast());
    let s = h
        .recorder
        .wait_for("running", Duration::from_secs(10), |s| {
            s.phase == Phase::Running
        });
    let ready = s.ready.expect("ready info");
    assert!(ready.api_url.starts_with("http://127.0.0.1:"));
    assert_eq!(Some(ready.pid), s.pid);
    assert_eq!(s.restarts, 0);
}

#[test]
fn restarts_a_crashed_agent_with_a_new_process() {
    let h = start("crash", fast());
    let s = h
        .recorder
        .wait_for("a restart", Duration::from_secs(10), |s| s.restarts >= 1);
    assert_eq!(s.phase, Phase::Restarting);
    let problem = s.problem.unwrap();
    assert!(problem.contains("exited with code 3"), "{problem}");
    assert!(
        problem.contains("simulated crash"),
        "the last log line says why: {problem}"
    );
    h.recorder
        .wait_for("second run", Duration::from_secs(10), |s| {
            s.restarts >= 1 && s.phase == Phase::Running
        });
    let pids = h.started_pids();
    assert!(pids.len() >= 2 && pids[0] != pids[1], "{pids:?}");
    assert!(!alive(pids[0]));
}

#[test]
fn waits_longer_after_each_crash_in_a_row() {
    let h = start("fail-start", fast());
    h.recorder
        .wait_for("four restarts", Duration::from_secs(10), |s| {
            s.restarts >= 4
        });
    let delays: Vec<u64> = {
        let snaps = h.recorder.snapshots.lock().unwrap();
        let mut seen = Vec::new();
        let mut last_restarts = 0;
        for s in snaps.iter().filter(|s| s.phase == Phase::Restarting) {
            if s.restarts != last_restarts {
                last_restarts = s.restarts;
                seen.push(s.restart_at_ms.unwrap());
            }
        }
        seen.windows(2).map(|w| w[1] - w[0]).collect()
    };
    // Backoff 100, 200, 400 ms on top of each start: every gap must grow.
    assert!(delays.len() >= 3, "{delays:?}");
    assert!(
        delays.windows(2).all(|w| w[1] > w[0]),
        "gaps between restarts grow: {delays:?}"
    );
    assert!(
        delays[2] >= 400,
        "third gap includes the 400 ms backoff: {delays:?}"
    );
}

#[test]
fn restarts_an_agent_that_stops_answering_health_checks() {
    let h = start("go-silent", fast());
    let s = h
        .recorder
        .wait_for("restart after failed polls", Duration::from_secs(10), |s| {
            s.restarts >= 1
        });
    let problem = s.problem.unwrap();
    assert!(problem.contains("3 health checks in a row"), "{problem}");
    let pids = h.started_pids();
    assert!(
        !alive(pids[0]),
        "the hung agent is stopped before the restart"
    );
}

#[test]
fn stops_a_well_behaved_agent_with_sigterm() {
    let mut h = start("serve", fast());
    let s = h
        .recorder
        .wait_for("running", Duration::from_secs(10), |s| {
            s.phase == Phase::Running
        });
    let pid = s.pid.unwrap();
    let t = Instant::now();
    h.supervisor.stop();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "clean exit needs no grace period: {:?}",
        t.elapsed()
    );
    assert!(!alive(pid));
    assert_eq!(h.supervisor.snapshot().phase, Phase::Stopped);
}

#[test]
fn kills_an_agent_that_ignores_sigterm_after_the_grace_period() {
    let mut h = start("ignore-term", fast());
    let pid = h
        .recorder
        .wait_for("running", Duration::from_secs(10), |s| {
            s.phase == Phase::Running
        })
        .pid
        .unwrap();
    let t = Instant::now();
    h.supervisor.stop();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(!alive(pid), "SIGKILL follows the grace period");
}

#[test]
fn a_manual_restart_starts_a_fresh_agent_without_counting_a_crash() {
    let h = start("serve", fast());
    let first = h
        .recorder
        .wait_for("running", Duration::from_secs(10), |s| {
            s.phase == Phase::Running
        })
        .pid
        .unwrap();
    h.supervisor.restart();
    let s = h
        .recorder
        .wait_for("second run", Duration::from_secs(10), |s| {
            s.phase == Phase::Running && s.pid.is_some_and(|p| p != first)
        });
    assert_eq!(s.restarts, 0);
    assert!(!alive(first));
}

#[test]
fn a_stop_during_backoff_returns_at_once() {
    let mut options = fast();
    options.backoff = Backoff::new(
        Duration::from_secs(30),
        Duration::from_secs(60),
        Duration::from_secs(300),
    );
    let mut h = start("fail-start", options);
    h.recorder
        .wait_for("backoff", Duration::from_secs(10), |s| {
            s.phase == Phase::Restarting
        });
    let t = Instant::now();
    h.supervisor.stop();
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[test]
fn the_default_grace_outlasts_the_agents_own_stop_deadline() {
    // The agent's deadline as the agent itself defines it.
    let start_ts = include_str!("../../../../packages/agent/src/cli/start.ts");
    let ms: u64 = start_ts
        .lines()
        .find_map(|l| l.strip_prefix("const STOP_DEADLINE_MS = "))
        .expect("STOP_DEADLINE_MS in packages/agent/src/cli/start.ts")
        .trim()
        .replace('_', "")
        .parse()
        .unwrap();
    assert_eq!(AGENT_STOP_DEADLINE, Duration::from_millis(ms));
    let grace = Options::default().stop_grace;
    assert!(
        grace >= AGENT_STOP_DEADLINE + Duration::from_secs(2),
        "SIGKILL after {grace:?} would race the agent's own {ms} ms deadline"
    );
}

#[test]
fn an_agent_that_uses_its_whole_stop_deadline_is_not_killed() {
    let deadline = Duration::from_millis(1000);
    let dir = TempDir::new();
    let (out_tx, out_rx) = mpsc::channel();
    let mut c = Command::new(test_agent());
    c.arg("slow-stop")
        .arg(dir.0.join("starts"))
        .env("EDGECODER_TEST_STOP_MS", deadline.as_millis().to_string());
    let mut child = process::AgentProcess::spawn(c, 1, out_tx).unwrap();
    // Its ready line comes after its SIGTERM handler is in place.
    loop {
        match out_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("ready line")
        {
            process::Output::Ready { .. } => break,
            process::Output::Line { .. } => {}
        }
    }
    let t = Instant::now();
    let outcome = child.stop(stop_grace_after(deadline));
    assert!(
        matches!(outcome, process::StopOutcome::Exited(s) if s.success()),
        "{outcome:?}"
    );
    assert!(
        t.elapsed() >= deadline,
        "it took its time: {:?}",
        t.elapsed()
    );
}

#[test]
fn a_crash_is_explained_by_its_own_run_never_by_an_earlier_one() {
    let h = start("stale-stderr", fast());
    let first = h
        .recorder
        .wait_for("the first crash", Duration::from_secs(10), |s| {
            s.restarts >= 1
        });
    assert!(first.problem.unwrap().contains("run 1 crashed"));
    h.recorder
        .wait_for("the second run", Duration::from_secs(10), |s| {
            s.restarts >= 1 && s.phase == Phase::Running
        });
    // The first run's pipe, still held by its leftover, now carries an error line...
    std::fs::write(h.record.with_extension("release"), "").unwrap();
    h.recorder
        .wait_for_log("stale error from run 1", Duration::from_secs(10));
    // ...and then the second run exits with code 4 without saying why.
    std::fs::write(h.record.with_extension("crash"), "").unwrap();
    let s = h
        .recorder
        .wait_for("the second crash", Duration::from_secs(10), |s| {
            s.restarts >= 2
        });
    assert_eq!(s.problem.as_deref(), Some("agent exited with code 4"));
}

#[test]
fn preparing_runs_on_the_supervisor_thread_before_the_first_start() {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let prepare: Prepare = Box::new(move || {
        // Stands in for stopping an orphan, which can take the whole grace period.
        go_rx.recv().unwrap();
        vec!["stopping agent pid 1 left from an earlier run".into()]
    });
    let (started_tx, started_rx) = mpsc::channel();
    thread::spawn(move || started_tx.send(start_after(prepare, "serve", fast())).ok());
    let h = started_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("start returns while preparing is still under way");
    assert_eq!(h.supervisor.snapshot().phase, Phase::Starting);
    assert!(
        h.started_pids().is_empty(),
        "no agent before preparing ends"
    );
    go_tx.send(()).unwrap();
    h.recorder
        .wait_for("running", Duration::from_secs(10), |s| {
            s.phase == Phase::Running
        });
    h.recorder.wait_for_log(
        "edgecoder-desktop: stopping agent pid 1 left from an earlier run",
        Duration::from_secs(1),
    );
    assert_eq!(h.started_pids().len(), 1);
}

#[test]
fn a_stop_while_preparing_starts_nothing() {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let prepare: Prepare = Box::new(move || {
        go_rx.recv().unwrap();
        Vec::new()
    });
    let mut h = start_after(prepare, "serve", fast());
    // What stop() sends, queued while preparing is still under way.
    let (done_tx, done_rx) = mpsc::channel();
    h.supervisor
        .tx
        .send(Msg::Control(Control::Stop(done_tx)))
        .unwrap();
    go_tx.send(()).unwrap();
    done_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the stop is answered");
    h.supervisor.stop();
    assert_eq!(h.supervisor.snapshot().phase, Phase::Stopped);
    assert!(h.started_pids().is_empty(), "{:?}", h.started_pids());
}
