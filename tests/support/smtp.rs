//! A real SMTP server over TCP for tests: it takes every message (or refuses recipients when told
//! to) and keeps it, decoded, for the test to read the link out of.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub raw: String,
}

#[derive(Default)]
struct Shared {
    messages: Mutex<Vec<Received>>,
    arrived: Condvar,
    refusing: AtomicBool,
}

pub struct Sink {
    port: u16,
    shared: Arc<Shared>,
}

impl Sink {
    /// Listens on a free port of 127.0.0.1 until the test process ends.
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = session(stream, &s);
                });
            }
        });
        Sink { port, shared }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// From now on, refuse every recipient (550), as a mail server that rejects the address.
    pub fn set_refusing(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::SeqCst);
    }

    /// Takes the oldest message to `to` that arrived (waiting up to `timeout` for one).
    pub fn wait_for(&self, to: &str, timeout: Duration) -> Option<Received> {
        let deadline = Instant::now() + timeout;
        let mut messages = self.shared.messages.lock().unwrap();
        loop {
            if let Some(i) = messages
                .iter()
                .position(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            {
                return Some(messages.remove(i));
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            messages = self.shared.arrived.wait_timeout(messages, left).unwrap().0;
        }
    }

    /// Every message not taken yet.
    pub fn messages(&self) -> Vec<Received> {
        self.shared.messages.lock().unwrap().clone()
    }
}

/// The first set-password or invitation link in a message's text.
pub fn link_in(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|w| w.contains("/account/link/"))
        .map(|w| w.trim_matches(|c: char| c == '<' || c == '>').to_string())
}

fn session(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    out.write_all(b"220 ironstone-test-sink ESMTP\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            out.write_all(b"250-ironstone-test-sink\r\n250 8BITMIME\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&cmd["MAIL FROM:".len()..]);
            to.clear();
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            if shared.refusing.load(Ordering::SeqCst) {
                out.write_all(b"550 5.1.1 mailbox unavailable\r\n")?;
            } else {
                to.push(address(&cmd["RCPT TO:".len()..]));
                out.write_all(b"250 OK\r\n")?;
            }
        } else if upper == "DATA" {
            out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
            let mut raw = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                raw.push_str(
                    line.strip_prefix('.')
                        .filter(|_| line.starts_with(".."))
                        .unwrap_or(&line),
                );
            }
            let received = decode(&from, &to, raw);
            shared.messages.lock().unwrap().push(received);
            shared.arrived.notify_all();
            out.write_all(b"250 OK queued\r\n")?;
        } else if upper == "QUIT" {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            out.write_all(b"250 OK\r\n")?;
        } else {
            out.write_all(b"502 command not implemented\r\n")?;
        }
    }
}

fn address(arg: &str) -> String {
    let a = arg.trim();
    let a = a.split_whitespace().next().unwrap_or("");
    a.trim_matches(|c| c == '<' || c == '>').to_string()
}

fn decode(from: &str, to: &[String], raw: String) -> Received {
    let parsed = mailparse::parse_mail(raw.as_bytes()).expect("a MIME message");
    let subject = parsed
        .headers
        .iter()
        .find(|h| h.get_key().eq_ignore_ascii_case("subject"))
        .map(|h| h.get_value())
        .unwrap_or_default();
    let (mut text, mut html) = (String::new(), String::new());
    let mut parts = vec![&parsed];
    while let Some(p) = parts.pop() {
        if p.subparts.is_empty() {
            let body = p.get_body().unwrap_or_default();
            match p.ctype.mimetype.as_str() {
                "text/html" => html = body,
                _ => text = body,
            }
        } else {
            parts.extend(p.subparts.iter());
        }
    }
    Received {
        from: from.to_string(),
        to: to.to_vec(),
        subject,
        text,
        html,
        raw,
    }
}
