//! A minimal HTTP/1.1 client for the agent's loopback API. The shell needs three small calls
//! (health, status, settings); a full client with TLS would double the binary for nothing.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    pub fn is_ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

pub fn get(url: &str, timeout: Duration) -> io::Result<Response> {
    request("GET", url, None, timeout)
}

pub fn put_json(url: &str, body: &str, timeout: Duration) -> io::Result<Response> {
    request("PUT", url, Some(body), timeout)
}

/// `http://host:port/path` → (host:port, /path). Only plain http: the API is on loopback.
fn split_url(url: &str) -> io::Result<(&str, &str)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid(format!("not an http URL: {url}")))?;
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}

fn request(method: &str, url: &str, body: Option<&str>, timeout: Duration) -> io::Result<Response> {
    let (authority, path) = split_url(url)?;
    let addr: SocketAddr = authority
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| invalid(format!("no address for {authority}")))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;

    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n"
    );
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some(body) = body {
        stream.write_all(body.as_bytes())?;
    }
    read_response(BufReader::new(stream))
}

fn read_response(mut reader: impl BufRead) -> io::Result<Response> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| invalid(format!("bad status line: {}", line.trim())))?;

    let mut chunked = false;
    let mut length: Option<usize> = None;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().ok(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                _ => {}
            }
        }
    }

    let bytes = if chunked {
        read_chunked(&mut reader)?
    } else if let Some(n) = length {
        let mut buf = vec![0; n];
        reader.read_exact(&mut buf)?;
        buf
    } else {
        let mut buf = Vec::new();
        reader.read_to_end(&mut buf)?;
        buf
    };
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let size_text = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid(format!("bad chunk size: {size_text}")))?;
        if size == 0 {
            return Ok(out);
        }
        let start = out.len();
        out.resize(start + size, 0);
        reader.read_exact(&mut out[start..])?;
        line.clear();
        reader.read_line(&mut line)?;
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn reads_a_body_by_content_length() {
        let raw = "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}";
        let r = read_response(Cursor::new(raw)).unwrap();
        assert_eq!(
            r,
            Response {
                status: 200,
                body: "{\"status\":\"ok\"}".into()
            }
        );
    }

    #[test]
    fn reads_a_chunked_body() {
        let raw = "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        let r = read_response(Cursor::new(raw)).unwrap();
        assert_eq!(r.status, 503);
        assert_eq!(r.body, "{\"a\":1}");
        assert!(!r.is_ok());
    }

    #[test]
    fn refuses_anything_but_plain_http() {
        assert!(split_url("https://127.0.0.1:4301/healthz").is_err());
        assert_eq!(
            split_url("http://127.0.0.1:4301").unwrap(),
            ("127.0.0.1:4301", "/")
        );
    }
}
