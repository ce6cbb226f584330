pub mod chart;
pub mod common;
pub mod generate;
pub mod load;
pub mod scenario;
pub mod stream;
pub mod truth;
pub mod verify;
