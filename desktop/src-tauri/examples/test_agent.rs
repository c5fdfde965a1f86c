//! A stand-in for the agent in the supervisor's tests: speaks the same ready line and health
//! route, and misbehaves on purpose.
//!
//! usage: test_agent <behaviour> <record-file>
//!   serve         answer /healthz, exit 0 on SIGTERM
//!   crash         become ready, then exit with code 3 after 300 ms
//!   fail-start    print an error and exit with code 1 before becoming ready
//!   ignore-term   answer /healthz and ignore SIGTERM
//!   go-silent     become ready, then stop answering /healthz
//!   slow-stop     answer /healthz; on SIGTERM take EDGECODER_TEST_STOP_MS (default 1000) to exit 0
//!   stale-stderr  first start: leave a process holding its stderr that writes an error line once
//!                 <record-file>.release exists, then crash; later starts: become ready and exit
//!                 with code 4, printing no error, once <record-file>.crash exists
//! Each start appends its pid to <record-file>.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;
use std::{env, fs, process, thread};

extern "C" fn exit_cleanly(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(0) }
}

static STOP_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1000);

extern "C" fn exit_slowly(_: libc::c_int) {
    let ms = STOP_MS.load(std::sync::atomic::Ordering::Relaxed);
    let t = libc::timespec {
        tv_sec: (ms / 1000) as libc::time_t,
        tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long,
    };
    // SAFETY: nanosleep and _exit are async-signal-safe.
    unsafe {
        libc::nanosleep(&t, std::ptr::null_mut());
        libc::_exit(0)
    }
}

/// Waits for a file the test creates to move this fixture on.
fn wait_for_file(path: &str) {
    while !std::path::Path::new(path).exists() {
        thread::sleep(Duration::from_millis(10));
    }
}

fn main() {
    let args: Vec<String> = env::args().collect();
    let behaviour = args.get(1).map(String::as_str).unwrap_or("serve");
    if behaviour == "linger" {
        // The first stale-stderr run's leftover: its stderr is that run's pipe.
        let release = format!("{}.release", args[2]);
        while !std::path::Path::new(&release).exists() {
            // The test is over (its folder is gone): nothing left to write to.
            if !std::path::Path::new(&args[2]).exists() {
                process::exit(0);
            }
            thread::sleep(Duration::from_millis(10));
        }
        eprintln!(r#"{{"level":50,"msg":"stale error from run 1"}}"#);
        process::exit(0);
    }
    let mut starts = 0;
    if let Some(record) = args.get(2) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(record)
            .unwrap();
        writeln!(f, "{}", process::id()).unwrap();
        starts = fs::read_to_string(record).unwrap().lines().count();
    }

    // SAFETY: installing a handler that only calls _exit, or ignoring the signal.
    unsafe {
        if behaviour == "ignore-term" {
            libc::signal(libc::SIGTERM, libc::SIG_IGN);
        } else if behaviour == "slow-stop" {
            if let Some(ms) = env::var("EDGECODER_TEST_STOP_MS")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                STOP_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
            }
            libc::signal(
                libc::SIGTERM,
                exit_slowly as *const () as libc::sighandler_t,
            );
        } else {
            libc::signal(
                libc::SIGTERM,
                exit_cleanly as *const () as libc::sighandler_t,
            );
        }
    }

    if behaviour == "fail-start" {
        eprintln!(r#"{{"level":50,"msg":"port 4301 is already in use"}}"#);
        process::exit(1);
    }

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    eprintln!(r#"{{"level":30,"msg":"test agent listening"}}"#);
    println!(
        r#"EDGECODER_READY {{"peerId":"12D3KooWtest","apiUrl":"http://127.0.0.1:{port}","p2pAddrs":[],"pid":{},"version":"0.0.0-test","dataDir":"/tmp"}}"#,
        process::id()
    );

    match behaviour {
        "stale-stderr" if starts == 1 => {
            process::Command::new(&args[0])
                .arg("linger")
                .arg(&args[2])
                .stdin(process::Stdio::null())
                .spawn()
                .unwrap();
            eprintln!(r#"{{"level":60,"msg":"run 1 crashed"}}"#);
            process::exit(3);
        }
        "stale-stderr" => {
            wait_for_file(&format!("{}.crash", args[2]));
            process::exit(4);
        }
        "crash" => {
            thread::sleep(Duration::from_millis(300));
            eprintln!(r#"{{"level":60,"msg":"simulated crash"}}"#);
            process::exit(3);
        }
        "go-silent" => {
            // The process lives on but its API is gone, as when the agent's server has died.
            drop(listener);
            thread::sleep(Duration::from_secs(3600));
            process::exit(0);
        }
        _ => {}
    }

    for stream in listener.incoming() {
        let Ok(mut s) = stream else { continue };
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let body = r#"{"status":"ok"}"#;
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}
