//! One run of the agent as a child process: its output turned into messages, and a stop that
//! asks politely before it insists.

use std::io::{self, BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::Sender;
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The line the agent prints on stdout once its API answers.
pub const READY_PREFIX: &str = "EDGECODER_READY ";

/// What the agent's ready line tells about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadyInfo {
    pub peer_id: String,
    pub api_url: String,
    #[serde(default)]
    pub p2p_addrs: Vec<String>,
    pub pid: u32,
    pub version: String,
    #[serde(default)]
    pub data_dir: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What a running child reports to its supervisor; `run` tells old runs' late lines apart.
#[derive(Debug)]
pub enum Output {
    Ready {
        run: u64,
        info: ReadyInfo,
    },
    Line {
        run: u64,
        stream: Stream,
        text: String,
    },
}

pub struct AgentProcess {
    child: Child,
    run: u64,
}

impl AgentProcess {
    /// Starts `command` with piped output; every line goes to `out`, tagged with `run`.
    pub fn spawn(mut command: Command, run: u64, out: Sender<Output>) -> io::Result<Self> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        forward_lines(stdout, Stream::Stdout, run, out.clone());
        forward_lines(stderr, Stream::Stderr, run, out);
        Ok(AgentProcess { child, run })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn run(&self) -> u64 {
        self.run
    }

    /// The exit status once the child has exited; never blocks.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM, up to `grace` for a clean exit, then SIGKILL. Always reaps the child.
    pub fn stop(&mut self, grace: Duration) -> StopOutcome {
        if let Some(status) = self.exited() {
            return StopOutcome::AlreadyExited(status);
        }
        terminate(self.pid());
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return StopOutcome::Exited(status);
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        StopOutcome::Killed
    }
}

impl Drop for AgentProcess {
    /// A child must never outlive its handle: a panic elsewhere would otherwise orphan it.
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    AlreadyExited(ExitStatus),
    Exited(ExitStatus),
    Killed,
}

pub fn terminate(pid: u32) {
    // SAFETY: kill(2) with a pid we were given; at worst it fails with ESRCH.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
}

fn forward_lines(pipe: impl Read + Send + 'static, stream: Stream, run: u64, out: Sender<Output>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&buf).trim_end().to_string();
            let msg = match (stream, parse_ready(&text)) {
                (Stream::Stdout, Some(info)) => Output::Ready { run, info },
                _ => Output::Line { run, stream, text },
            };
            if out.send(msg).is_err() {
                return;
            }
        }
    });
}

pub fn parse_ready(line: &str) -> Option<ReadyInfo> {
    serde_json::from_str(line.strip_prefix(READY_PREFIX)?).ok()
}

/// A readable cause for an exit: "exited with code 1" or "killed by signal 9".
pub fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "exited".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ready_line() {
        let line = r#"EDGECODER_READY {"peerId":"12D3KooWabc","apiUrl":"http://127.0.0.1:4301","p2pAddrs":["/ip4/127.0.0.1/tcp/4001"],"pid":42,"version":"0.1.0","dataDir":"/tmp/x"}"#;
        let info = parse_ready(line).unwrap();
        assert_eq!(info.api_url, "http://127.0.0.1:4301");
        assert_eq!(info.pid, 42);
        assert_eq!(info.p2p_addrs.len(), 1);
    }

    #[test]
    fn ignores_other_lines() {
        assert!(parse_ready(r#"{"level":30,"msg":"agent ready"}"#).is_none());
        assert!(parse_ready("EDGECODER_READY not json").is_none());
    }
}
