//! Host build of the `pte_attrs` module's pure-logic files.
//!
//! These files have no `kernel::` dependency: the module compiles them as
//! `mod`s of its crate, and this crate compiles the very same files for the
//! host so that `cargo test` covers them in seconds. Items are `pub(crate)`
//! because that is what the kernel crate needs; the tests live in each file.
#![allow(dead_code)]

#[path = "../src/attrs.rs"]
mod attrs;
#[path = "../src/benchstat.rs"]
mod benchstat;
#[path = "../src/parse.rs"]
mod parse;
#[path = "../src/ratelimit.rs"]
mod ratelimit;
#[path = "../src/report.rs"]
mod report;
#[path = "../src/scenario.rs"]
mod scenario;
#[path = "../src/stats.rs"]
mod stats;
