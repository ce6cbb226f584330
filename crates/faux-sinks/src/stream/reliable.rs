//! At-least-once publishing over a broker connection that may go away.
//!
//! [`Reliable`] keeps every message from the first unconfirmed one on, in order, in a bounded
//! window. A message leaves the window only when the broker has confirmed it (a RabbitMQ
//! publisher confirm, a JetStream publish ack) *and* every message before it has been
//! confirmed, so "the last confirmed seq" is always a safe resume point. When the connection
//! is lost, [`Reliable`] reconnects with exponential back-off and re-sends the whole window
//! in order: nothing is lost, and a consumer may see the messages after the resume point a
//! second time (recognisable by their `seq`), each table still in order.
//!
//! Brokers plug in through [`Connector`] (connect and declare the exchange or stream) and
//! [`Link`] (send one message, returning a future of its confirmation).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;

use super::message::Message;
use super::{Publisher, StreamError};

/// The broker's confirmation of one message, resolved when the broker has it safe.
pub type Confirm = Pin<Box<dyn Future<Output = Result<(), LinkError>>>>;

/// Why a broker operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// The connection (or channel) went away or did not answer: reconnect and re-send.
    Lost(String),
    /// The broker refuses the request and would refuse it again (bad credentials, an
    /// exchange or stream declared differently): stop.
    Fatal(String),
}

/// Opens links to one broker target.
// crate-internal plumbing on a single-threaded runtime: no `Send` bound wanted
#[allow(async_fn_in_trait)]
pub trait Connector {
    type Link: Link;
    /// Connects and declares what the stream publishes to (exchange, stream).
    async fn connect(&mut self) -> Result<Self::Link, LinkError>;
    /// Closes a link whose messages are all confirmed.
    async fn close(&mut self, link: Self::Link);
    /// The target as shown to the user (no password).
    fn target(&self) -> &str;
}

/// One live connection to a broker.
#[allow(async_fn_in_trait)]
pub trait Link {
    /// Sends `msg`; the returned future resolves when the broker confirms it.
    async fn send(&mut self, msg: &Message) -> Result<Confirm, LinkError>;
}

/// How reconnection backs off, and when it gives up.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    /// Stop after failing to reconnect for this long.
    pub give_up: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_secs(5),
            give_up: Duration::from_secs(120),
        }
    }
}

/// A publisher with a bounded window of unconfirmed messages that survives connection loss.
pub struct Reliable<C: Connector> {
    connector: C,
    link: Option<C::Link>,
    /// Every message from the first unconfirmed one on, oldest first; the first `sent` have
    /// been sent on the current link and carry their confirmation.
    window: VecDeque<(Message, Option<Confirm>)>,
    sent: usize,
    capacity: usize,
    backoff: Backoff,
    confirmed: Option<i64>,
    reconnects: u64,
    /// Since when no message has been confirmed while recovering: a broker that accepts the
    /// connection but refuses every message must not keep the stream retrying forever.
    trouble_since: Option<Instant>,
}

impl<C: Connector + std::fmt::Debug> std::fmt::Debug for Reliable<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reliable")
            .field("connector", &self.connector)
            .field("connected", &self.link.is_some())
            .field("unconfirmed", &self.window.len())
            .field("capacity", &self.capacity)
            .field("confirmed", &self.confirmed)
            .field("reconnects", &self.reconnects)
            .finish()
    }
}

impl<C: Connector> Reliable<C> {
    /// Connects once: a broker that cannot be reached at the start is an error, not a retry.
    pub async fn open(
        mut connector: C,
        capacity: usize,
        backoff: Backoff,
    ) -> Result<Reliable<C>, StreamError> {
        let link = connector
            .connect()
            .await
            .map_err(|e| StreamError::Connect {
                target: connector.target().to_string(),
                reason: match e {
                    LinkError::Lost(r) | LinkError::Fatal(r) => r,
                },
            })?;
        Ok(Reliable {
            connector,
            link: Some(link),
            window: VecDeque::with_capacity(capacity + 1),
            sent: 0,
            capacity: capacity.max(1),
            backoff,
            confirmed: None,
            reconnects: 0,
            trouble_since: None,
        })
    }

    fn fatal(&self, reason: String) -> StreamError {
        StreamError::Broker {
            target: self.connector.target().to_string(),
            reason,
            confirmed: self.confirmed,
        }
    }

    /// Sends every message of the window not yet sent on the current link.
    async fn send_pending(&mut self) -> Result<(), LinkError> {
        let link = self
            .link
            .as_mut()
            .ok_or_else(|| LinkError::Lost("not connected".into()))?;
        while self.sent < self.window.len() {
            let (msg, confirm) = &mut self.window[self.sent];
            *confirm = Some(link.send(msg).await?);
            self.sent += 1;
        }
        Ok(())
    }

    /// Sends what is pending, reconnecting as often as it takes.
    async fn flush_sends(&mut self) -> Result<(), StreamError> {
        match self.send_pending().await {
            Ok(()) => Ok(()),
            Err(LinkError::Lost(reason)) => self.recover(reason).await,
            Err(LinkError::Fatal(reason)) => Err(self.fatal(reason)),
        }
    }

    /// Waits for the oldest message's confirmation and drops it from the window.
    async fn confirm_oldest(&mut self) -> Result<(), StreamError> {
        loop {
            let Some((_, confirm)) = self.window.front_mut() else {
                return Ok(());
            };
            let outcome = match confirm.take() {
                Some(c) => c.await,
                None => Err(LinkError::Lost("message not sent".into())),
            };
            match outcome {
                Ok(()) => {
                    let (msg, _) = self.window.pop_front().expect("a message");
                    self.sent -= 1;
                    self.confirmed = Some(msg.seq);
                    self.trouble_since = None;
                    return Ok(());
                }
                // recovery re-sends the whole window; then the oldest is awaited again
                Err(LinkError::Lost(reason)) => self.recover(reason).await?,
                Err(LinkError::Fatal(reason)) => return Err(self.fatal(reason)),
            }
        }
    }

    /// Reconnects with back-off and re-sends the window from its first message.
    async fn recover(&mut self, mut reason: String) -> Result<(), StreamError> {
        // the old link's confirmations mean nothing any more: start the window over
        self.link = None;
        for (_, confirm) in self.window.iter_mut() {
            *confirm = None;
        }
        self.sent = 0;
        let began = *self.trouble_since.get_or_insert_with(Instant::now);
        let mut delay = self.backoff.first;
        let mut attempt = 0u32;
        loop {
            if began.elapsed() >= self.backoff.give_up {
                return Err(StreamError::Lost {
                    target: self.connector.target().to_string(),
                    reason,
                    secs: began.elapsed().as_secs(),
                    confirmed: self.confirmed,
                });
            }
            tracing::warn!(
                "connection to {} lost ({reason}); reconnecting in {} ms{}",
                self.connector.target(),
                delay.as_millis(),
                self.resume_hint()
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
            let failure = match self.connector.connect().await {
                Ok(link) => {
                    self.link = Some(link);
                    match self.send_pending().await {
                        Ok(()) => {
                            self.reconnects += 1;
                            tracing::warn!(
                                "reconnected to {} (attempt {attempt}); re-sent {} unconfirmed message{}{}",
                                self.connector.target(),
                                self.window.len(),
                                if self.window.len() == 1 { "" } else { "s" },
                                self.window
                                    .front()
                                    .map(|(m, _)| format!(" from seq {}", m.seq))
                                    .unwrap_or_default()
                            );
                            return Ok(());
                        }
                        Err(e) => {
                            self.link = None;
                            for (_, confirm) in self.window.iter_mut() {
                                *confirm = None;
                            }
                            self.sent = 0;
                            e
                        }
                    }
                }
                Err(e) => e,
            };
            match failure {
                LinkError::Fatal(r) => return Err(self.fatal(r)),
                LinkError::Lost(r) => reason = r,
            }
            delay = (delay * 2).min(self.backoff.max);
        }
    }

    fn resume_hint(&self) -> String {
        match self.confirmed {
            Some(seq) => format!("; confirmed up to seq {seq}"),
            None => String::new(),
        }
    }
}

impl<C: Connector> Publisher for Reliable<C> {
    async fn publish(&mut self, msg: Message) -> Result<(), StreamError> {
        self.window.push_back((msg, None));
        self.flush_sends().await?;
        while self.window.len() > self.capacity {
            self.confirm_oldest().await?;
        }
        Ok(())
    }

    /// Nothing is due for a while: collect the confirmations, so the resume point is current.
    async fn idle(&mut self) -> Result<(), StreamError> {
        // a publish interrupted by a signal may have left a message unsent
        self.flush_sends().await?;
        while !self.window.is_empty() {
            self.confirm_oldest().await?;
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), StreamError> {
        self.idle().await?;
        if let Some(link) = self.link.take() {
            self.connector.close(link).await;
        }
        Ok(())
    }

    fn confirmed(&self) -> Option<i64> {
        self.confirmed
    }

    fn reconnects(&self) -> u64 {
        self.reconnects
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use faux::Timestamp;

    /// A broker in memory: it stores what it receives, and loses the connection on demand.
    #[derive(Debug, Default)]
    struct Broker {
        stored: Vec<i64>,
        /// Fail the connection when this many more messages have been sent.
        fail_after: Option<usize>,
        /// Refuse this many connection attempts.
        refuse: usize,
        connects: usize,
        generation: usize,
        /// Nack every message (it arrives, but is never confirmed).
        nack_all: bool,
    }

    #[derive(Debug)]
    struct FakeConnector(Rc<RefCell<Broker>>);
    #[derive(Debug)]
    struct FakeLink(Rc<RefCell<Broker>>, usize);

    impl Connector for FakeConnector {
        type Link = FakeLink;
        async fn connect(&mut self) -> Result<FakeLink, LinkError> {
            let mut b = self.0.borrow_mut();
            b.connects += 1;
            if b.refuse > 0 {
                b.refuse -= 1;
                return Err(LinkError::Lost("connection refused".into()));
            }
            b.generation += 1;
            Ok(FakeLink(self.0.clone(), b.generation))
        }
        async fn close(&mut self, _: FakeLink) {}
        fn target(&self) -> &str {
            "fake://"
        }
    }

    impl Link for FakeLink {
        async fn send(&mut self, msg: &Message) -> Result<Confirm, LinkError> {
            let mut b = self.0.borrow_mut();
            if b.generation != self.1 {
                return Err(LinkError::Lost("stale link".into()));
            }
            match b.fail_after {
                Some(0) => {
                    // the connection drops: this message and the confirmations still
                    // outstanding are lost
                    b.fail_after = None;
                    b.generation += 1;
                    return Err(LinkError::Lost("connection reset".into()));
                }
                Some(n) => b.fail_after = Some(n - 1),
                None => {}
            }
            b.stored.push(msg.seq);
            let (broker, generation) = (self.0.clone(), self.1);
            Ok(Box::pin(async move {
                if broker.borrow().nack_all {
                    Err(LinkError::Lost("message nacked".into()))
                } else if broker.borrow().generation == generation {
                    Ok(())
                } else {
                    Err(LinkError::Lost("connection reset".into()))
                }
            }))
        }
    }

    fn msg(seq: i64) -> Message {
        Message {
            table: "t",
            op: "insert",
            seq,
            ts: Timestamp(seq),
            body: bytes::Bytes::new(),
        }
    }

    fn run<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn quick() -> Backoff {
        Backoff {
            first: Duration::from_millis(1),
            max: Duration::from_millis(4),
            give_up: Duration::from_millis(200),
        }
    }

    #[test]
    fn re_sends_the_window_after_a_lost_connection() {
        let broker = Rc::new(RefCell::new(Broker::default()));
        run(async {
            let mut p = Reliable::open(FakeConnector(broker.clone()), 4, quick())
                .await
                .unwrap();
            // the connection drops at the 8th message, and the next two attempts are refused
            broker.borrow_mut().fail_after = Some(7);
            broker.borrow_mut().refuse = 2;
            for seq in 1..=20 {
                p.publish(msg(seq)).await.unwrap();
            }
            p.finish().await.unwrap();
            assert_eq!(p.confirmed(), Some(20));
            assert_eq!(p.reconnects(), 1);
        });
        let b = broker.borrow();
        assert_eq!(b.connects, 4);
        // everything arrived; what was re-sent is a contiguous, ordered replay
        let mut seen = b.stored.clone();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, (1..=20).collect::<Vec<_>>());
        assert!(b.stored.len() > 20, "{:?}", b.stored);
        let restart = b.stored.windows(2).position(|w| w[1] <= w[0]).unwrap() + 1;
        assert!(b.stored[..restart].windows(2).all(|w| w[1] == w[0] + 1));
        assert!(b.stored[restart..].windows(2).all(|w| w[1] == w[0] + 1));
        assert_eq!(*b.stored.last().unwrap(), 20);
    }

    #[test]
    fn gives_up_and_names_the_resume_point() {
        let broker = Rc::new(RefCell::new(Broker::default()));
        let err = run(async {
            let mut p = Reliable::open(FakeConnector(broker.clone()), 2, quick())
                .await
                .unwrap();
            for seq in 1..=5 {
                p.publish(msg(seq)).await.unwrap();
            }
            {
                let mut b = broker.borrow_mut();
                b.fail_after = Some(0);
                b.refuse = usize::MAX;
            }
            p.publish(msg(6)).await.unwrap_err()
        });
        match err {
            StreamError::Lost { confirmed, .. } => assert_eq!(confirmed, Some(3)),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_broker_refusing_every_message_is_given_up_on() {
        let broker = Rc::new(RefCell::new(Broker {
            nack_all: true,
            ..Broker::default()
        }));
        let err = run(async {
            let mut p = Reliable::open(FakeConnector(broker.clone()), 2, quick())
                .await
                .unwrap();
            for seq in 1.. {
                if let Err(e) = p.publish(msg(seq)).await {
                    return e;
                }
            }
            unreachable!()
        });
        match err {
            StreamError::Lost {
                confirmed, reason, ..
            } => {
                assert_eq!(confirmed, None);
                assert!(reason.contains("nacked"), "{reason}");
            }
            other => panic!("{other}"),
        }
        assert!(broker.borrow().connects > 2);
    }

    #[test]
    fn an_unreachable_broker_fails_at_once() {
        let broker = Rc::new(RefCell::new(Broker {
            refuse: 1,
            ..Broker::default()
        }));
        let err = run(Reliable::open(FakeConnector(broker.clone()), 2, quick())).unwrap_err();
        assert!(matches!(err, StreamError::Connect { .. }), "{err}");
        assert_eq!(broker.borrow().connects, 1);
    }
}
