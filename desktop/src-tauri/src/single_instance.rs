//! One app per user: the first instance listens on a Unix socket; a second one finds it,
//! asks it to show its window, and exits. Two apps would fight over the agent's data dir.

use std::env;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::thread;

pub enum Claim {
    First(InstanceLock),
    /// Another instance runs and was asked to show itself.
    AlreadyRunning,
}

pub struct InstanceLock {
    listener: UnixListener,
    path: PathBuf,
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

pub fn claim(path: PathBuf) -> std::io::Result<Claim> {
    if let Ok(mut s) = UnixStream::connect(&path) {
        s.write_all(b"show\n")?;
        return Ok(Claim::AlreadyRunning);
    }
    // Nobody answers: the file, if any, is left from a crash.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    Ok(Claim::First(InstanceLock { listener, path }))
}

impl InstanceLock {
    /// Calls `on_show` each time a later instance starts.
    pub fn serve(&self, on_show: impl Fn() + Send + 'static) -> std::io::Result<()> {
        let listener = self.listener.try_clone()?;
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let mut line = String::new();
                if BufReader::new(conn).read_line(&mut line).is_ok() && line.trim() == "show" {
                    on_show();
                }
            }
        });
        Ok(())
    }
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_second_instance_asks_the_first_to_show_itself() {
        let path = env::temp_dir().join(format!("edgecoder-single-{}.sock", std::process::id()));
        let Claim::First(lock) = claim(path.clone()).unwrap() else {
            panic!("first claim")
        };
        let (tx, rx) = mpsc::channel();
        lock.serve(move || tx.send(()).unwrap()).unwrap();
        assert!(matches!(
            claim(path.clone()).unwrap(),
            Claim::AlreadyRunning
        ));
        rx.recv_timeout(Duration::from_secs(2))
            .expect("the first instance heard it");
        drop(lock);
        assert!(
            matches!(claim(path).unwrap(), Claim::First(_)),
            "free again once the first exits"
        );
    }

    #[test]
    fn a_socket_file_left_by_a_crash_does_not_block_start() {
        let path = env::temp_dir().join(format!("edgecoder-stale-{}.sock", std::process::id()));
        drop(UnixListener::bind(&path).unwrap()); // bound, then gone: the file stays
        assert!(path.exists());
        assert!(matches!(claim(path).unwrap(), Claim::First(_)));
    }
}
