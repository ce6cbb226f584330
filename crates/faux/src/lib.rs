//! # faux — the Faux Genie engine
//!
//! Faux turns `(scenario, seed, model version, day)` into typed rows. It is pure: no I/O, no
//! async, no global state, no wall clock. Sinks (`faux-sinks`) and shells (`aladdin`, later
//! `genie`) call [`Scenario::generate`] and never contain generation logic.
//!
//! Modules:
//! - [`rng`]: keyed, counter-based random streams ([`Key`], [`Stream`]) and categorical draws.
//! - [`time`]: calendar days and UTC timestamps with exact integer arithmetic.
//! - [`table`](mod@table): table definitions ([`TableDef`]), the [`Row`] / [`FieldVisitor`]
//!   contract every sink is written against, [`table!`] (a table's struct, definition and
//!   visitor declared once), [`scenario_tables!`] and day [`Shard`]s.
//! - [`scenario`]: the scenario registry and the generation entry point.
//! - [`view`]: the daily extract, snapshot and changes views.
//! - [`feed`]: the change feed ([`Scenario::changes`]): every version of every row of a day,
//!   all tables, typed, in sequence order — what the changes view, the stream and Genie read.
//! - [`shiny_rocks`]: the Shiny Rocks scenario, faithful to the Kestra blog's generator.
//! - [`ecommerce`]: the e-commerce simulation (customers, sessions, events, orders that
//!   change over days, payments, shipments, refunds, marketing spend).
//! - [`simulation`]: scenarios defined outside faux ([`Simulation`]): a change feed, from
//!   which every view is derived.
//! - [`dirty`]: dirty data — defects planted over a day's rows (`--dirty`), and their
//!   manifest.
//! - [`truth`]: the answer key (counts, sums, digests per table and day).
//!
//! Determinism: every value is drawn from a stream keyed by `(seed, scenario, table, day,
//! entity index)`, so a day — or a shard of a day — generates alone, in any order, on any
//! thread, with the same result.

pub mod dirty;
pub mod ecommerce;
pub mod feed;
pub mod pool;
pub mod rng;
pub mod scenario;
pub mod shiny_rocks;
pub mod simulation;
pub mod table;
pub mod time;
pub mod truth;
pub mod view;

pub use feed::{ChangeRecord, Op, Record, first_seq};
pub use rng::{Key, Stream, Uuid};
pub use scenario::{SCENARIOS, Scenario, ScenarioError, ScenarioSpec, Tunable};
pub use simulation::Simulation;
pub use table::{Column, FieldVisitor, Keep, LogicalType, Parent, Row, RowSink, Shard, TableDef};
pub use time::{Date, DateError, DateRange, DateRangeError, Timestamp, TimestampError};
pub use view::View;

/// Version of the generation model. Any deliberate change of generated values bumps it; it is
/// written into every output manifest so a dataset says which model made it.
pub const MODEL_VERSION: u32 = 5;

/// The seed used when none is given, so two runs with no flags agree.
pub const DEFAULT_SEED: u64 = 42;
