//! The HTTP/1 server loop. `axum::serve` sets no timer, so a client that sends its headers
//! slowly, or opens connections and sends nothing, holds them for as long as it likes (an
//! outside test held 200 for 75 s). Here every connection must deliver a request's headers
//! within [`HEADER_READ_TIMEOUT`], including the wait for the next request of a kept-alive
//! connection.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

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
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true);
            // a client that goes away or times out is not the server's error
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
