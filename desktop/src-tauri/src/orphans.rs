//! An agent left behind by an earlier crash of the app (it outlives a kill -9 of the app for up
//! to a second, or forever if started by a version without --parent-pid) would hold the data dir
//! lock and port 4301. Found by its PID file or by its command line, and stopped.
//!
//! The process table comes from `sysinfo`, which reads it the way each OS offers it (procfs on
//! Linux, libproc/sysctl on macOS), so the same code finds orphans on both.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

/// What was found and done, one line each, for the log.
pub fn reap(data_dir: &Path, entry: &Path, port: u16, grace: Duration) -> Vec<String> {
    let mut notes = Vec::new();
    let table = ProcessTable::read();
    let mut orphans = BTreeSet::new();
    if let Some(pid) = read_pid_file(&data_dir.join("agent.pid")) {
        match table.cmd(pid) {
            Some(cmd) if runs_start_on(cmd, data_dir) => {
                orphans.insert(pid);
            }
            Some(cmd) => notes.push(format!(
                "ignoring agent.pid: pid {pid} is another program ({})",
                shown(cmd)
            )),
            None => notes.push(format!("ignoring stale agent.pid (pid {pid} is gone)")),
        }
    }
    // Also those that never wrote the PID file (still starting, or stuck before the store opened).
    orphans.extend(table.find(|cmd| is_app_agent(cmd, entry, data_dir)));
    for pid in orphans {
        notes.push(format!("stopping agent pid {pid} left from an earlier run"));
        notes.push(stop(pid, grace));
    }
    if port_in_use(port) {
        notes.push(format!(
            "port {port} is used by another program; the agent cannot start until it is freed"
        ));
    }
    notes
}

/// The processes of this machine with their command lines, read once.
struct ProcessTable(System);

impl ProcessTable {
    fn read() -> Self {
        Self::of(ProcessesToUpdate::All)
    }

    fn of(which: ProcessesToUpdate<'_>) -> Self {
        let mut system = System::new();
        system.refresh_processes_specifics(
            which,
            true,
            // Without tasks: on Linux each thread would be listed as a process of its own.
            ProcessRefreshKind::nothing()
                .without_tasks()
                .with_cmd(UpdateKind::Always),
        );
        ProcessTable(system)
    }

    /// The command line of a live process; None when it is gone or already a zombie.
    fn cmd(&self, pid: u32) -> Option<&[OsString]> {
        let p = self.0.process(Pid::from_u32(pid))?;
        (p.status() != sysinfo::ProcessStatus::Zombie).then(|| p.cmd())
    }

    fn find(&self, matches: impl Fn(&[OsString]) -> bool) -> Vec<u32> {
        let me = std::process::id();
        self.0
            .processes()
            .iter()
            .filter(|(_, p)| p.thread_kind().is_none())
            .map(|(pid, _)| pid.as_u32())
            .filter(|&pid| pid != me && self.cmd(pid).is_some_and(&matches))
            .collect()
    }
}

fn read_pid_file(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `… start … --data-dir <data_dir> …`: an agent on this data dir, however it was started.
fn runs_start_on(cmd: &[OsString], data_dir: &Path) -> bool {
    let data_dir = data_dir.as_os_str();
    cmd.iter().any(|a| a == "start")
        && cmd
            .windows(2)
            .any(|w| w[0] == "--data-dir" && w[1] == data_dir)
}

/// An agent the app itself starts: the bundled entry point, then `start`, on this data dir.
fn is_app_agent(cmd: &[OsString], entry: &Path, data_dir: &Path) -> bool {
    cmd.windows(2)
        .any(|w| w[0] == entry.as_os_str() && w[1] == "start")
        && runs_start_on(cmd, data_dir)
}

fn shown(cmd: &[OsString]) -> String {
    let line: Vec<_> = cmd.iter().map(|a| a.to_string_lossy()).collect();
    line.join(" ").chars().take(120).collect()
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let exists = unsafe { libc::kill(pid as libc::pid_t, 0) == 0 };
    // A zombie has exited already; only its parent's wait is missing.
    exists
        && ProcessTable::of(ProcessesToUpdate::Some(&[Pid::from_u32(pid)]))
            .cmd(pid)
            .is_some()
}

fn stop(pid: u32, grace: Duration) -> String {
    crate::supervisor::terminate(pid);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !alive(pid) {
            return format!("pid {pid} stopped");
        }
        thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: as above; the process ignored SIGTERM for the whole grace period.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
    format!("pid {pid} killed after {} s", grace.as_secs())
}

fn port_in_use(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};

    fn os(args: &str) -> Vec<OsString> {
        args.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn recognises_an_agent_by_its_data_dir() {
        let dir = Path::new("/home/op/.local/share/io.edgecoder.desktop/agent");
        let entry = Path::new("/usr/lib/EdgeCoder/agent/packages/agent/src/cli/main.ts");
        let cmd = os("/usr/lib/EdgeCoder/edgecoder-node --disable-warning=ExperimentalWarning /usr/lib/EdgeCoder/agent/packages/agent/src/cli/main.ts start --mode all-in-one --data-dir /home/op/.local/share/io.edgecoder.desktop/agent --api-port 4301");
        assert!(runs_start_on(&cmd, dir));
        assert!(is_app_agent(&cmd, entry, dir));
        assert!(!runs_start_on(&cmd, Path::new("/home/other/agent")));
        assert!(!is_app_agent(&cmd, Path::new("/opt/other/main.ts"), dir));
        assert!(!runs_start_on(
            &os("vim /home/op/.local/share/io.edgecoder.desktop/agent/agent.pid"),
            dir
        ));
        assert!(
            !runs_start_on(
                &os("edgecoder start --data-dir /home/op/.local/share/io.edgecoder.desktop/agent/sub"),
                dir
            ),
            "another data dir below this one is not this one"
        );
    }

    /// A stand-in orphan: the test agent with an agent's command line. Nobody waits for it while
    /// the test runs, so once stopped it is a zombie, as under an init that is slow to reap.
    struct Orphan {
        pid: u32,
        child: Child,
        _dir: Dir,
    }

    impl Drop for Orphan {
        /// One the test failed to stop must not outlive it (std never signals a reaped child).
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn test_agent() -> PathBuf {
        let deps = std::env::current_exe().unwrap();
        deps.parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("examples")
            .join("test_agent")
    }

    fn spawn_orphan(behaviour: &str, name: &str) -> (Orphan, PathBuf, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("edgecoder-orphan-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let entry = dir.join("main.ts");
        let data_dir = dir.join("agent");
        let mut child: Child = Command::new(test_agent())
            .arg(behaviour)
            .arg(dir.join("starts"))
            .arg(&entry)
            .arg("start")
            .arg("--data-dir")
            .arg(&data_dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // Its ready line comes after its signal handling is set up.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("EDGECODER_READY "), "{line}");
        let orphan = Orphan {
            pid,
            child,
            _dir: Dir(dir),
        };
        (orphan, entry, data_dir)
    }

    fn unused_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    fn wait_until(what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn stops_an_orphan_found_by_its_command_line_alone() {
        // No agent.pid and no port: an agent killed while still starting up.
        let (orphan, entry, data_dir) = spawn_orphan("serve", "cmdline");
        let notes = reap(&data_dir, &entry, unused_port(), Duration::from_secs(5));
        assert!(
            notes.contains(&format!(
                "stopping agent pid {} left from an earlier run",
                orphan.pid
            )),
            "{notes:?}"
        );
        assert!(
            notes.contains(&format!("pid {} stopped", orphan.pid)),
            "{notes:?}"
        );
        assert!(!alive(orphan.pid));
    }

    #[test]
    fn stops_the_agent_named_by_agent_pid_and_kills_it_if_it_ignores_sigterm() {
        let (orphan, _entry, data_dir) = spawn_orphan("ignore-term", "pidfile");
        fs::create_dir_all(&data_dir).unwrap();
        fs::write(data_dir.join("agent.pid"), format!("{}\n", orphan.pid)).unwrap();
        // Another entry point: found through agent.pid, not the app's own command line.
        let notes = reap(
            &data_dir,
            Path::new("/elsewhere/main.ts"),
            unused_port(),
            Duration::from_secs(1),
        );
        assert!(
            notes.contains(&format!("pid {} killed after 1 s", orphan.pid)),
            "{notes:?}"
        );
        wait_until("the kill", || !alive(orphan.pid));
    }

    #[test]
    fn leaves_alone_a_program_that_reuses_the_recorded_pid() {
        let dir =
            std::env::temp_dir().join(format!("edgecoder-orphan-{}-reused", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let _cleanup = Dir(dir.clone());
        fs::write(dir.join("agent.pid"), format!("{}\n", std::process::id())).unwrap();
        let notes = reap(
            &dir,
            Path::new("/x/main.ts"),
            unused_port(),
            Duration::from_secs(1),
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with(&format!(
            "ignoring agent.pid: pid {} is another program",
            std::process::id()
        )));
    }

    #[test]
    fn lists_processes_not_their_threads() {
        // This test binary runs its tests on several threads: none may pass for a process.
        let me: Vec<OsString> = std::env::args_os().collect();
        let helpers: Vec<_> = (0..3)
            .map(|_| thread::spawn(|| thread::sleep(Duration::from_millis(500))))
            .collect();
        let found = ProcessTable::read().find(|cmd| cmd == me.as_slice());
        assert_eq!(
            found,
            Vec::<u32>::new(),
            "threads of pid {}",
            std::process::id()
        );
        for h in helpers {
            h.join().unwrap();
        }
    }

    #[test]
    fn says_when_another_program_holds_the_port() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let notes = reap(
            Path::new("/nonexistent/agent"),
            Path::new("/x/main.ts"),
            port,
            Duration::from_secs(1),
        );
        assert_eq!(
            notes,
            vec![format!(
                "port {port} is used by another program; the agent cannot start until it is freed"
            )]
        );
    }
}
