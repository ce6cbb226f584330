//! `--out -`: messages as JSON Lines on standard output.
//!
//! Lines are buffered while records come faster than the clock and flushed whenever the
//! stream waits, so a reader of a paced stream sees each line when it is due. A reader that
//! goes away (`aladdin stream | head`) ends the stream normally.

use std::io::{BufWriter, ErrorKind, Write};

use super::message::Message;
use super::{Publisher, StreamError};

#[derive(Debug)]
pub struct Stdout<W: Write = std::io::Stdout> {
    out: BufWriter<W>,
    written: Option<i64>,
    flushed: Option<i64>,
}

impl Stdout {
    pub fn new() -> Stdout {
        Stdout::to(std::io::stdout())
    }
}

impl Default for Stdout {
    fn default() -> Stdout {
        Stdout::new()
    }
}

impl<W: Write> Stdout<W> {
    pub fn to(w: W) -> Stdout<W> {
        Stdout {
            out: BufWriter::with_capacity(64 * 1024, w),
            written: None,
            flushed: None,
        }
    }

    fn io(e: std::io::Error) -> StreamError {
        if e.kind() == ErrorKind::BrokenPipe {
            StreamError::ReaderGone
        } else {
            StreamError::Io(e)
        }
    }

    pub fn into_inner(self) -> Option<W> {
        self.out.into_inner().ok()
    }
}

impl<W: Write> Publisher for Stdout<W> {
    async fn publish(&mut self, msg: Message) -> Result<(), StreamError> {
        self.out.write_all(&msg.body).map_err(Self::io)?;
        self.out.write_all(b"\n").map_err(Self::io)?;
        self.written = Some(msg.seq);
        Ok(())
    }

    async fn idle(&mut self) -> Result<(), StreamError> {
        self.out.flush().map_err(Self::io)?;
        self.flushed = self.written;
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), StreamError> {
        self.idle().await
    }

    fn confirmed(&self) -> Option<i64> {
        self.flushed
    }

    fn reconnects(&self) -> u64 {
        0
    }
}
