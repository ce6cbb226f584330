//! The HTTP/1 server loop. `axum::serve` sets no timer, so a client that sends its headers
//! slowly, or opens connections and sends nothing, holds them for as long as it likes (an
//! outside test held 200 for 75 s). Here every connection must deliver a request's headers
//! within [`HEADER_READ_TIMEOUT`], including the wait for the next request of a kept-alive
//! connection.
//!
//! A request head hyper cannot take — a request target over [`MAX_URI_BYTES`] (414), more
//! than [`MAX_HEADERS`] header fields or a head over hyper's read buffer (431), or one that
//! is not HTTP (400) — is answered by hyper itself, before any service runs, with an empty
//! body. [`ProblemBodies`] gives those answers the problem+json body every other error has.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;

use crate::problem::Problem;

/// hyper's fixed limit on a request target (path and query).
pub const MAX_URI_BYTES: usize = 65_534;
/// Header fields a request may have (hyper's default, set here so the 431 can say it).
pub const MAX_HEADERS: usize = 100;

/// Time a client has to send a request's headers once it may send one.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
) -> std::io::Result<()> {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // out of file descriptors and the like: the listener itself is fine; wait
                // for connections to close rather than spin or stop serving
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let stream = ProblemBodies {
            io: stream,
            rewrite: None,
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_headers(MAX_HEADERS)
                .keep_alive(true);
            // a client that goes away or times out is not the server's error
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// A connection whose bare error answers from hyper (see the module docs) are rewritten, as
/// they are written, into problem+json with the same status. Everything else passes through.
struct ProblemBodies<S> {
    io: S,
    /// An answer being written in place of the bytes hyper handed over: (bytes, written,
    /// length of hyper's bytes, reported once all of ours are written).
    rewrite: Option<(Vec<u8>, usize, usize)>,
}

/// The problem+json answer replacing `head`, when `head` is all of one of hyper's own error
/// answers: a 400, 414 or 431 head, complete, with no body and no content type (every error
/// the API itself answers is problem+json, so it has one).
fn problem_for(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let rest = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))?;
    if !text.ends_with("\r\n\r\n") || text.matches("\r\n\r\n").count() != 1 {
        return None;
    }
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    if lines[1..]
        .iter()
        .any(|l| l.to_ascii_lowercase().starts_with("content-type:"))
    {
        return None;
    }
    let problem = match rest.get(..3)? {
        "400" => Problem::new(
            "malformed_request",
            "the request is not valid HTTP/1.1: its request line or a header could not be parsed",
        ),
        "414" => Problem::new(
            "uri_too_long",
            format!(
                "the request target (path and query) is over {MAX_URI_BYTES} bytes: send fewer or shorter query parameters"
            ),
        ),
        "431" => Problem::new(
            "header_fields_too_large",
            format!(
                "the request's header fields are too large: at most {MAX_HEADERS} fields, and the request line and headers must fit in about 400 KB"
            ),
        ),
        _ => return None,
    };
    let body = problem.body().to_string();
    let mut out = String::from(lines[0]);
    out.push_str("\r\n");
    for l in &lines[1..] {
        let lower = l.to_ascii_lowercase();
        if !lower.starts_with("content-length:") && !lower.starts_with("connection:") {
            out.push_str(l);
            out.push_str("\r\n");
        }
    }
    // hyper closes the connection after these answers
    out.push_str(&format!(
        "content-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    Some(out.into_bytes())
}

impl<S: AsyncWrite + Unpin> ProblemBodies<S> {
    /// Writes `buf`, or the problem answer that replaces it.
    fn write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.rewrite.is_none() {
            match problem_for(buf) {
                Some(bytes) => self.rewrite = Some((bytes, 0, buf.len())),
                None => return Pin::new(&mut self.io).poll_write(cx, buf),
            }
        }
        let (bytes, written, replaced) = self.rewrite.as_mut().expect("set above");
        while *written < bytes.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        let n = *replaced;
        self.rewrite = None;
        Poll::Ready(Ok(n))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ProblemBodies<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // hyper hands a head over as a slice of its own
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        if this.rewrite.is_some() || problem_for(first).is_some() {
            return this.write(cx, first);
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ProblemBodies<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::problem_for;

    #[test]
    fn only_bare_error_heads_are_rewritten() {
        let bare = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 12:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(problem_for(bare).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(
            head.contains("\r\ndate: Thu, 03 Dec 2026 12:00:00 GMT"),
            "{head}"
        );
        assert!(
            head.contains(&format!("\r\ncontent-length: {}", body.len())),
            "{head}"
        );
        assert!(!head.contains("content-length: 0"), "{head}");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["code"], "uri_too_long");
        assert_eq!(v["status"], 414);
        // the API's own answers have a content type, a 2xx passes, and so does a partial head
        let own = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/problem+json\r\ncontent-length: 2\r\n\r\n";
        assert!(problem_for(own).is_none());
        assert!(problem_for(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(problem_for(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n").is_none());
        assert!(problem_for(b"HTTP/1.1 400 Bad Request\r\n\r\n{}\r\n\r\n").is_none());
    }
}
