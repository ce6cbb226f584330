//! The servers the tests talk to, where CI (`.ci/run`) starts them.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::Missing;

/// A server on a fixed local address.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    pub name: &'static str,
    /// `host:port`.
    pub addr: &'static str,
    /// How clients connect (credentials included).
    pub url: &'static str,
    pub setup: &'static str,
}

pub const POSTGRES: Service = Service {
    name: "PostgreSQL",
    addr: "127.0.0.1:5432",
    url: "postgres://postgres@127.0.0.1:5432",
    setup: "start it (user postgres, trust): pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
};

pub const RABBITMQ: Service = Service {
    name: "RabbitMQ",
    addr: "127.0.0.1:5672",
    url: "amqp://guest:guest@127.0.0.1:5672/%2f",
    setup: "rabbitmq-server -detached (see .ci/run)",
};

pub const NATS: Service = Service {
    name: "NATS JetStream",
    addr: "127.0.0.1:4222",
    url: "nats://127.0.0.1:4222",
    setup: "nats-server -js -a 127.0.0.1 -p 4222 (see .ci/run)",
};

impl Service {
    /// The service's URL when something accepts connections on its address.
    pub fn reachable(&self) -> Result<&'static str, Missing> {
        let sock: SocketAddr = self.addr.parse().expect("a socket address");
        match TcpStream::connect_timeout(&sock, Duration::from_secs(2)) {
            Ok(_) => Ok(self.url),
            Err(e) => Err(Missing::new(
                format!("{} is not reachable on {}: {e}", self.name, self.addr),
                self.setup,
            )),
        }
    }

    /// [`Service::reachable`] under the CI/SKIP policy of [`crate::require`].
    pub fn require(&self, test: &str) -> Option<&'static str> {
        crate::require(test, self.reachable())
    }
}
