//! An agent left behind by an earlier crash of the app (it outlives a kill -9 of the app for up
//! to a second, or forever if started by a version without --parent-pid) would hold the data dir
//! lock and port 4301. Found by its PID file or by the listening socket, and stopped.

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// What was found and done, one line each, for the log.
pub fn reap(data_dir: &Path, entry: &Path, port: u16, grace: Duration) -> Vec<String> {
    let mut notes = Vec::new();
    let data_dir_text = data_dir.to_string_lossy();
    if let Some(pid) = read_pid_file(&data_dir.join("agent.pid")) {
        match cmdline(pid) {
            Some(cmd) if is_agent_for(&cmd, &data_dir_text) => {
                notes.push(format!("stopping agent pid {pid} left from an earlier run"));
                notes.push(stop(pid, grace));
            }
            Some(_) => notes.push(format!("ignoring agent.pid: pid {pid} is another program")),
            None => notes.push(format!("ignoring stale agent.pid (pid {pid} is gone)")),
        }
    }
    if port_in_use(port) {
        match listener_pid(port) {
            Some(pid) => match cmdline(pid) {
                Some(cmd) if cmd.contains(&*entry.to_string_lossy()) && cmd.contains(" start") => {
                    notes.push(format!("stopping app-started agent pid {pid} that holds port {port}"));
                    notes.push(stop(pid, grace));
                }
                Some(cmd) => notes.push(format!(
                    "port {port} is used by pid {pid} ({}); the agent cannot start until it is freed",
                    cmd.chars().take(120).collect::<String>()
                )),
                None => notes.push(format!("port {port} is used by pid {pid}")),
            },
            None => notes.push(format!("port {port} is used by another user's process")),
        }
    }
    notes
}

fn read_pid_file(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The process's command line with NULs as spaces, or None when it is gone.
fn cmdline(pid: u32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        String::from_utf8_lossy(&raw)
            .replace('\0', " ")
            .trim()
            .to_string(),
    )
}

fn is_agent_for(cmd: &str, data_dir: &str) -> bool {
    cmd.contains(" start") && cmd.contains(&format!("--data-dir {data_dir}"))
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
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

/// The pid listening on `port`: the socket's inode from /proc/net/tcp{,6}, then the process
/// holding a descriptor for it. Linux only; elsewhere None.
fn listener_pid(port: u16) -> Option<u32> {
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| fs::read_to_string(f).ok())
        .find_map(|table| listening_inode(&table, port))?;
    let target = format!("socket:[{inode}]");
    for proc_entry in fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = proc_entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = fs::read_dir(proc_entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == target) {
                return Some(pid);
            }
        }
    }
    None
}

/// Finds the inode of the socket in LISTEN state (0A) on `port` in a /proc/net/tcp table.
fn listening_inode(table: &str, port: u16) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let local_port = u16::from_str_radix(cols.get(1)?.rsplit(':').next()?, 16).ok()?;
        (local_port == port && *cols.get(3)? == "0A").then(|| cols.get(9)?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_listening_socket_in_proc_net_tcp() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:10CD 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 424242 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:10CD 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 515151 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(listening_inode(table, 4301), Some(424242));
        assert_eq!(listening_inode(table, 4302), None);
    }

    #[test]
    fn recognises_an_agent_by_its_data_dir() {
        let cmd = "/usr/lib/EdgeCoder/edgecoder-node --disable-warning=ExperimentalWarning /usr/lib/EdgeCoder/agent/packages/agent/src/cli/main.ts start --mode all-in-one --data-dir /home/op/.local/share/io.edgecoder.desktop/agent --api-port 4301";
        assert!(is_agent_for(
            cmd,
            "/home/op/.local/share/io.edgecoder.desktop/agent"
        ));
        assert!(!is_agent_for(cmd, "/home/other/agent"));
        assert!(!is_agent_for(
            "vim /home/op/.local/share/io.edgecoder.desktop/agent/agent.pid",
            "/home/op/.local/share/io.edgecoder.desktop/agent"
        ));
    }

    #[test]
    fn finds_a_real_listener_and_its_process() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(port_in_use(port));
        assert_eq!(listener_pid(port), Some(std::process::id()));
    }
}
