//! The parts of `scripts/bench` and `scripts/soak`.
//!
//! # Layout
//! - [`data`]: the source stacks, generated once and cached;
//! - [`jobs`]: the cases and the configs both clients run;
//! - [`sim`]: a fresh boss-sim per run;
//! - [`measure`]: a client's CPU and peak RSS over its whole process tree;
//! - [`floor`]: the in-process floor;
//! - [`run`]: one client on one case, with the simulator's request accounting;
//! - [`report`]: the table and the targets;
//! - [`machine`]: the machine and the time stamp a result file carries.

pub mod data;
pub mod floor;
pub mod jobs;
pub mod machine;
pub mod measure;
pub mod report;
pub mod run;
pub mod sim;
