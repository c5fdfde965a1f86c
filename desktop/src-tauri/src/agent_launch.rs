//! Where the agent comes from and how it is started: the Node runtime shipped beside the app
//! binary, the bundled agent among the app's resources, and a data dir of the app's own.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The API address the window's CSP allows; the agent is always started on it.
pub const API_HOST: &str = "127.0.0.1";
pub const API_PORT: u16 = 4301;
/// The sidecar's name, as `bundle.externalBin` lists it (without the target triple).
const NODE_SIDECAR: &str = "edgecoder-node";
/// The agent's bundle, as `bin/edgecoder` runs it in a checkout (scripts/build-agent.ts).
const AGENT_ENTRY: &str = "agent/packages/agent/dist/edgecoder.js";
/// How `bin/edgecoder` keeps an idle agent small (bench/RESULTS.md, "Agent start-up"): a young
/// generation of 1 MiB per semi-space, and malloc returning blocks of 32 KiB and more when freed.
const NODE_MEMORY_FLAG: &str = "--max-semi-space-size=1";
const MALLOC_TUNABLE: &str = "glibc.malloc.mmap_threshold=32768";

#[derive(Debug, Clone)]
pub struct AgentLaunch {
    pub node: PathBuf,
    pub entry: PathBuf,
    pub data_dir: PathBuf,
}

impl AgentLaunch {
    /// The packaged layout, overridable for development from a checkout:
    /// `EDGECODER_NODE` (a node binary), `EDGECODER_AGENT_ENTRY` (e.g. packages/agent/dist/edgecoder.js)
    /// and `EDGECODER_DATA_DIR`.
    pub fn resolve(resource_dir: &Path, app_data_dir: &Path) -> Self {
        let beside_exe = env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        AgentLaunch {
            node: env_path("EDGECODER_NODE").unwrap_or_else(|| beside_exe.join(NODE_SIDECAR)),
            entry: env_path("EDGECODER_AGENT_ENTRY")
                .unwrap_or_else(|| resource_dir.join(AGENT_ENTRY)),
            data_dir: env_path("EDGECODER_DATA_DIR").unwrap_or_else(|| app_data_dir.join("agent")),
        }
    }

    pub fn api_url(&self) -> String {
        format!("http://{API_HOST}:{API_PORT}")
    }

    pub fn args(&self, parent_pid: u32) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            NODE_MEMORY_FLAG.into(),
            // node:sqlite and type stripping (the sandbox's sources) print experimental warnings.
            "--disable-warning=ExperimentalWarning".into(),
            self.entry.clone().into(),
            "start".into(),
            "--mode".into(),
            "all-in-one".into(),
            "--data-dir".into(),
            self.data_dir.clone().into(),
            "--api-host".into(),
            API_HOST.into(),
            "--api-port".into(),
        ];
        args.push(API_PORT.to_string().into());
        args.push("--parent-pid".into());
        args.push(parent_pid.to_string().into());
        args
    }

    pub fn command(&self) -> Command {
        let _ = std::fs::create_dir_all(&self.data_dir);
        let mut c = Command::new(&self.node);
        c.args(self.args(std::process::id()));
        c.env(
            "GLIBC_TUNABLES",
            glibc_tunables(env::var("GLIBC_TUNABLES").ok().as_deref()),
        );
        c.current_dir(&self.data_dir);
        c
    }
}

/// The operator's own tunables are kept; ours is added after them.
fn glibc_tunables(existing: Option<&str>) -> String {
    match existing.filter(|t| !t.is_empty()) {
        Some(t)
            if t.split(':')
                .any(|x| x.starts_with("glibc.malloc.mmap_threshold=")) =>
        {
            t.to_string()
        }
        Some(t) => format!("{t}:{MALLOC_TUNABLE}"),
        None => MALLOC_TUNABLE.to_string(),
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_all_in_one_on_loopback_tied_to_the_app() {
        let l = AgentLaunch {
            node: "/usr/lib/EdgeCoder/edgecoder-node".into(),
            entry: "/usr/lib/EdgeCoder/agent/packages/agent/dist/edgecoder.js".into(),
            data_dir: "/home/op/.local/share/io.edgecoder.desktop/agent".into(),
        };
        let args: Vec<String> = l
            .args(77)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(joined.starts_with("--max-semi-space-size=1 "));
        assert!(joined.contains(
            "/usr/lib/EdgeCoder/agent/packages/agent/dist/edgecoder.js start --mode all-in-one"
        ));
        assert!(joined.contains("--data-dir /home/op/.local/share/io.edgecoder.desktop/agent"));
        assert!(joined.contains("--api-host 127.0.0.1 --api-port 4301 --parent-pid 77"));
        assert_eq!(l.api_url(), "http://127.0.0.1:4301");
    }

    #[test]
    fn adds_the_malloc_tunable_and_keeps_the_operators() {
        assert_eq!(glibc_tunables(None), MALLOC_TUNABLE);
        assert_eq!(glibc_tunables(Some("")), MALLOC_TUNABLE);
        assert_eq!(
            glibc_tunables(Some("glibc.malloc.arena_max=2")),
            format!("glibc.malloc.arena_max=2:{MALLOC_TUNABLE}")
        );
        let own = "glibc.malloc.mmap_threshold=65536";
        assert_eq!(glibc_tunables(Some(own)), own);
    }
}
