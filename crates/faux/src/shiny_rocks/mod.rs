//! The Shiny Rocks scenario: the smartphone company of Kestra's "modern data stack" blog.
//!
//! Reproduces the original generator's datasets (`orders`, `payments`, `services`, plus the
//! marketing team's `marketing_investments` sheet) with its exact column names, value formats,
//! probability mixes and daily order curve. Unlike the original it is seeded: every
//! order draws from its own keyed stream, so any day, or any shard of a day, generates alone.
//!
//! Modules: `model` (the original's order curve, mixes and prices), `tables` (rows),
//! `generator` (drawing rows from keyed streams), `views` (a table's rows of a day in a view,
//! and a day's change feed).

mod generator;
mod model;
mod tables;
mod views;

pub use generator::ShinyRocks;
pub use model::*;
pub use tables::*;
