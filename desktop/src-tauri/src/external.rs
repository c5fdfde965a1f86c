//! Opening portal pages in the system browser, where the operator's passkeys live.

use std::process::{Command, Stdio};

/// Only web pages: a page in the app must not make the shell open files or other schemes.
pub fn check_url(url: &str) -> Result<&str, String> {
    let lower = url.to_ascii_lowercase();
    let scheme_ok = lower.starts_with("https://") || lower.starts_with("http://");
    if !scheme_ok {
        return Err(format!(
            "only http(s) pages open in the browser, not {url:?}"
        ));
    }
    if url.len() > 2048 || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("not a URL the browser should be handed".into());
    }
    Ok(url)
}

/// The system's opener for a URL on this OS.
fn opener() -> (&'static str, &'static [&'static str]) {
    if cfg!(target_os = "macos") {
        ("open", &[])
    } else if cfg!(target_os = "windows") {
        ("rundll32", &["url.dll,FileProtocolHandler"])
    } else {
        ("xdg-open", &[])
    }
}

/// Hands the URL to the system browser; the opener is not waited for beyond its start.
pub fn open(url: &str) -> Result<(), String> {
    let url = check_url(url)?;
    let (program, args) = opener();
    Command::new(program)
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| format!("could not start {program} to open {url}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn web_pages_pass() {
        assert!(check_url("https://portal.example/#/signin").is_ok());
        assert!(check_url("http://127.0.0.1:4310/#/wallet").is_ok());
    }

    #[test]
    fn other_schemes_and_odd_urls_are_refused() {
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "ssh://host",
            "/usr/bin/xterm",
            "https://a.example/ -e sh",
            "https://a.example/\nx",
        ] {
            assert!(check_url(bad).is_err(), "{bad} should be refused");
        }
    }
}
