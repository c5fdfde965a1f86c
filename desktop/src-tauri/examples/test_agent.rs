//! A stand-in for the agent in the supervisor's tests: speaks the same ready line and health
//! route, and misbehaves on purpose.
//!
//! usage: test_agent <behaviour> <record-file>
//!   serve         answer /healthz, exit 0 on SIGTERM
//!   crash         become ready, then exit with code 3 after 300 ms
//!   fail-start    print an error and exit with code 1 before becoming ready
//!   ignore-term   answer /healthz and ignore SIGTERM
//!   go-silent     become ready, then stop answering /healthz
//! Each start appends its pid to <record-file>.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;
use std::{env, fs, process, thread};

extern "C" fn exit_cleanly(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(0) }
}

fn main() {
    let args: Vec<String> = env::args().collect();
    let behaviour = args.get(1).map(String::as_str).unwrap_or("serve");
    if let Some(record) = args.get(2) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(record)
            .unwrap();
        writeln!(f, "{}", process::id()).unwrap();
    }

    // SAFETY: installing a handler that only calls _exit, or ignoring the signal.
    unsafe {
        if behaviour == "ignore-term" {
            libc::signal(libc::SIGTERM, libc::SIG_IGN);
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
