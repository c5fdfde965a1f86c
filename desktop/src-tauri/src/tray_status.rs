//! What the tray shows, decided from the supervisor's snapshot and the agent's `/status`.

use serde::Deserialize;

use crate::supervisor::{Phase, Snapshot};

/// The parts of `GET /status` the tray needs.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct AgentStatus {
    #[serde(default)]
    pub peers: u32,
    #[serde(default)]
    pub tasks: TaskCounts,
    /// Absent from older agents: then the settings route says.
    pub contributing: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct TaskCounts {
    #[serde(default)]
    pub running: u32,
    #[serde(default)]
    pub queued: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayState {
    Starting,
    Running,
    Paused,
    Error,
}

impl TrayState {
    pub fn of(snapshot: &Snapshot, status: Option<&AgentStatus>) -> Self {
        match snapshot.phase {
            Phase::Starting | Phase::Stopping => TrayState::Starting,
            Phase::Restarting | Phase::Stopped => TrayState::Error,
            Phase::Running => match status.and_then(|s| s.contributing) {
                Some(false) => TrayState::Paused,
                _ => TrayState::Running,
            },
        }
    }
}

/// The one-line status in the tray menu and tooltip.
pub fn status_line(snapshot: &Snapshot, status: Option<&AgentStatus>) -> String {
    match (TrayState::of(snapshot, status), status) {
        (TrayState::Starting, _) if snapshot.phase == Phase::Stopping => "Agent stopping…".into(),
        (TrayState::Starting, _) => "Agent starting…".into(),
        (TrayState::Error, _) => match &snapshot.problem {
            Some(p) => format!("Agent down: {}", truncate(p, 60)),
            None => "Agent stopped".into(),
        },
        (state, Some(s)) => {
            let headline = if state == TrayState::Paused {
                "Paused"
            } else {
                "Running"
            };
            let peers = plural(s.peers, "peer");
            format!(
                "{headline} · {peers} · {} running",
                plural(s.tasks.running, "task")
            )
        }
        (_, None) => "Running".into(),
    }
}

fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(phase: Phase) -> Snapshot {
        Snapshot {
            phase,
            pid: None,
            ready: None,
            restarts: 0,
            problem: None,
            restart_at_ms: None,
        }
    }

    fn status(json: &str) -> AgentStatus {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn reads_the_agent_status_body() {
        let s = status(
            r#"{"tasks":{"completed":3,"failed":0,"running":2,"queued":1},"queueDepth":1,"earnings":{"credits":0,"placeholder":true},"peers":4,"uptimeSec":12.5,"contributing":false}"#,
        );
        assert_eq!(s.peers, 4);
        assert_eq!(s.tasks.running, 2);
        assert_eq!(s.contributing, Some(false));
    }

    #[test]
    fn shows_peers_and_running_tasks_while_running() {
        let s = status(r#"{"tasks":{"running":1},"peers":3,"contributing":true}"#);
        assert_eq!(
            TrayState::of(&snap(Phase::Running), Some(&s)),
            TrayState::Running
        );
        assert_eq!(
            status_line(&snap(Phase::Running), Some(&s)),
            "Running · 3 peers · 1 task running"
        );
    }

    #[test]
    fn a_node_that_stopped_contributing_is_paused() {
        let s = status(r#"{"tasks":{"running":0},"peers":1,"contributing":false}"#);
        assert_eq!(
            TrayState::of(&snap(Phase::Running), Some(&s)),
            TrayState::Paused
        );
        assert_eq!(
            status_line(&snap(Phase::Running), Some(&s)),
            "Paused · 1 peer · 0 tasks running"
        );
    }

    #[test]
    fn a_crash_shows_as_an_error_with_its_cause() {
        let mut s = snap(Phase::Restarting);
        s.problem = Some("agent exited with code 1: port 4301 is already in use".into());
        assert_eq!(TrayState::of(&s, None), TrayState::Error);
        assert_eq!(
            status_line(&s, None),
            "Agent down: agent exited with code 1: port 4301 is already in use"
        );
        s.problem = Some(format!(
            "agent failed 3 health checks in a row ({})",
            "x".repeat(80)
        ));
        let line = status_line(&s, None);
        assert!(
            line.ends_with('…') && line.chars().count() == "Agent down: ".len() + 61,
            "{line}"
        );
    }

    #[test]
    fn starting_until_the_ready_line() {
        assert_eq!(
            TrayState::of(&snap(Phase::Starting), None),
            TrayState::Starting
        );
        assert_eq!(status_line(&snap(Phase::Starting), None), "Agent starting…");
    }
}
