//! The lab's web server. Answers:
//!
//! - `/`        a greeting
//! - `/healthz` `ok` (the Deployment's probes)
//! - `/host`    `NODE: <node>, POD IP:<ip>`, from `MY_NODE_NAME` and `MY_POD_IP` (the
//!   Deployment sets them from the downward API)
//! - `/data`    whether the postgres database at `DB_HOST:DB_PORT` answers: it opens a TCP
//!   connection and sends PostgreSQL's SSLRequest; a postgres server answers with one byte,
//!   `S` or `N`. 200 when it does, 503 otherwise, with the reason.
//!
//! Listens on `PORT` (default 8080). Standard library only; one thread per connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

fn main() {
    stop_on_sigterm();
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    let listener = match TcpListener::bind(("0.0.0.0", port.parse().unwrap_or(8080))) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("web-server: cannot listen on port {port}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("web-server: listening on port {port}");
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = serve(stream);
        });
    }
}

/// As PID 1 in a container, SIGTERM is ignored unless handled: exit at once instead.
fn stop_on_sigterm() {
    unsafe extern "C" {
        fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
        fn _exit(status: i32) -> !;
    }
    extern "C" fn on_term(_: i32) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { _exit(0) }
    }
    const SIGTERM: i32 = 15;
    const SIGINT: i32 = 2;
    // SAFETY: installing a handler that only calls an async-signal-safe function.
    unsafe {
        signal(SIGTERM, on_term);
        signal(SIGINT, on_term);
    }
}

fn serve(stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Headers are read and ignored.
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target.split('?').next().unwrap_or("/");
    let (status, body) = if method != "GET" && method != "HEAD" {
        (405, "method not allowed\n".to_string())
    } else {
        route(path)
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method != "HEAD" {
        out.write_all(body.as_bytes())?;
    }
    out.flush()
}

fn route(path: &str) -> (u16, String) {
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| "unknown".into());
    match path {
        "/" => (200, "Hello from the lab's web server\n".into()),
        "/healthz" => (200, "ok\n".into()),
        "/host" => (
            200,
            format!(
                "NODE: {}, POD IP:{}\n",
                env("MY_NODE_NAME"),
                env("MY_POD_IP")
            ),
        ),
        "/data" => {
            let host = std::env::var("DB_HOST").unwrap_or_else(|_| "postgres".into());
            let port = std::env::var("DB_PORT").unwrap_or_else(|_| "5432".into());
            match postgres_answers(&host, &port) {
                Ok(()) => (200, "Database Connected\n".into()),
                Err(why) => (503, format!("Database Not Connected: {why}\n")),
            }
        }
        _ => (404, "not found\n".into()),
    }
}

/// Whether a PostgreSQL server answers at `host:port`: the SSLRequest message (length 8,
/// code 80877103) gets exactly one byte back, `S` or `N`, from any postgres.
fn postgres_answers(host: &str, port: &str) -> Result<(), String> {
    let addr = format!("{host}:{port}")
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    s.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
        .map_err(|e| format!("cannot write to {addr}: {e}"))?;
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(1) if b[0] == b'S' || b[0] == b'N' => Ok(()),
        Ok(0) => Err(format!("{addr} closed the connection: not postgres")),
        Ok(_) => Err(format!("{addr} answered {:?}: not postgres", b[0] as char)),
        Err(e) => Err(format!("no answer from {addr}: {e}")),
    }
}
