//! One app per user: the first instance takes an exclusive lock on a file and listens on a Unix
//! socket beside it; a later one finds the lock taken, asks the first through the socket to show
//! its window (on a panel, with `--panel <id>`), and exits. Two apps would fight over the agent's
//! data dir.
//!
//! The lock (flock) is what decides, atomically, even for launches in the same instant; the OS
//! drops it when its holder dies, so a crash never blocks the next start. The socket only
//! carries the "show" request.

use std::env;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// How long a later instance tries to reach a first one that holds the lock but is still
/// between taking it and listening.
const REACH_FIRST: Duration = Duration::from_secs(5);

pub enum Claim {
    First(InstanceLock),
    /// Another instance runs (and was asked to show itself when it could be reached).
    AlreadyRunning,
}

pub struct InstanceLock {
    listener: UnixListener,
    path: PathBuf,
    /// Held open for the app's life: closing it releases the lock.
    _lock: File,
}

pub fn socket_path() -> PathBuf {
    let dir = env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // SAFETY: getuid cannot fail.
            env::temp_dir().join(format!("edgecoder-{}", unsafe { libc::getuid() }))
        });
    let _ = std::fs::create_dir_all(&dir);
    dir.join("edgecoder-desktop.sock")
}

fn lock_path(socket: &Path) -> PathBuf {
    socket.with_extension("lock")
}

/// A panel id as the UI names them in its URL hash (`#/mesh`): short, lowercase, no quoting needed.
pub fn panel_id(id: &str) -> Option<&str> {
    let ok = (1..=32).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    ok.then_some(id)
}

/// `show` or `show <panel>`; None for anything else.
fn parse_show(line: &str) -> Option<Option<String>> {
    match line.trim().split_once(' ') {
        None if line.trim() == "show" => Some(None),
        Some(("show", panel)) => panel_id(panel).map(|p| Some(p.to_string())),
        _ => None,
    }
}

/// Claims the app for this process; when another has it, asks it to show itself (on `panel`).
pub fn claim(path: PathBuf, panel: Option<&str>) -> io::Result<Claim> {
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(lock_path(&path))?;
    // SAFETY: flock on a descriptor we own; LOCK_NB makes it return at once.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(err);
        }
        if let Err(e) = ask_to_show(&path, panel) {
            eprintln!("edgecoder-desktop: the running instance did not answer: {e}");
        }
        return Ok(Claim::AlreadyRunning);
    }
    // The lock is ours, so a socket file left here belongs to a crashed instance.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    Ok(Claim::First(InstanceLock {
        listener,
        path,
        _lock: lock,
    }))
}

fn ask_to_show(path: &Path, panel: Option<&str>) -> io::Result<()> {
    let request = match panel.and_then(panel_id) {
        Some(p) => format!("show {p}\n"),
        None => "show\n".to_string(),
    };
    let deadline = Instant::now() + REACH_FIRST;
    loop {
        match UnixStream::connect(path) {
            Ok(mut s) => return s.write_all(request.as_bytes()),
            // The first instance took the lock an instant ago and binds next.
            Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e),
        }
    }
}

impl InstanceLock {
    /// Calls `on_show` (with the panel asked for, if any) each time a later instance starts.
    pub fn serve(&self, on_show: impl Fn(Option<String>) + Send + 'static) -> io::Result<()> {
        let listener = self.listener.try_clone()?;
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let mut line = String::new();
                if BufReader::new(conn).take(256).read_line(&mut line).is_ok() {
                    if let Some(panel) = parse_show(&line) {
                        on_show(panel);
                    }
                }
            }
        });
        Ok(())
    }
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        // Before the lock goes (fields drop after this): the next holder binds a fresh socket.
        // The lock file stays: removing it would let two instances lock two different files.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{mpsc, Arc, Barrier};

    fn temp_socket(name: &str) -> PathBuf {
        env::temp_dir().join(format!("edgecoder-{name}-{}.sock", std::process::id()))
    }

    #[test]
    fn a_second_instance_asks_the_first_to_show_itself() {
        let path = temp_socket("single");
        let Claim::First(lock) = claim(path.clone(), None).unwrap() else {
            panic!("first claim")
        };
        let (tx, rx) = mpsc::channel();
        lock.serve(move |panel| tx.send(panel).unwrap()).unwrap();
        assert!(matches!(
            claim(path.clone(), None).unwrap(),
            Claim::AlreadyRunning
        ));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(2))
                .expect("the first instance heard it"),
            None
        );
        assert!(matches!(
            claim(path.clone(), Some("models")).unwrap(),
            Claim::AlreadyRunning
        ));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(2)).unwrap().as_deref(),
            Some("models")
        );
        drop(lock);
        assert!(
            matches!(claim(path, None).unwrap(), Claim::First(_)),
            "free again once the first exits"
        );
    }

    #[test]
    fn a_socket_file_left_by_a_crash_does_not_block_start() {
        let path = temp_socket("stale");
        drop(UnixListener::bind(&path).unwrap()); // bound, then gone: the file stays
        assert!(path.exists());
        assert!(matches!(claim(path, None).unwrap(), Claim::First(_)));
    }

    #[test]
    fn simultaneous_launches_elect_exactly_one_first_instance() {
        let path = temp_socket("race");
        const LAUNCHES: usize = 8;
        for round in 0..30 {
            let barrier = Arc::new(Barrier::new(LAUNCHES));
            let launches: Vec<_> = (0..LAUNCHES)
                .map(|_| {
                    let (barrier, path) = (barrier.clone(), path.clone());
                    thread::spawn(move || {
                        barrier.wait();
                        claim(path, None).unwrap()
                    })
                })
                .collect();
            let claims: Vec<Claim> = launches.into_iter().map(|t| t.join().unwrap()).collect();
            let firsts = claims
                .iter()
                .filter(|c| matches!(c, Claim::First(_)))
                .count();
            assert_eq!(
                firsts, 1,
                "round {round}: {firsts} instances think they are the first"
            );
        }
    }

    #[test]
    fn only_a_plain_panel_id_reaches_the_window() {
        assert_eq!(parse_show("show\n"), Some(None));
        assert_eq!(parse_show("show mesh\n"), Some(Some("mesh".into())));
        assert_eq!(
            parse_show("show credits-2\n"),
            Some(Some("credits-2".into()))
        );
        for bad in [
            "show '; alert(1)",
            "show Mesh",
            "show ../x",
            "shows",
            "hide mesh",
            "",
        ] {
            assert_eq!(parse_show(bad), None, "{bad:?}");
        }
    }
}
