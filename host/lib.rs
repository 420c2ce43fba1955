//! Host build of the `pte_attrs` module's pure-logic files.
//!
//! These files have no `kernel::` dependency: the module compiles them as
//! `mod`s of its crate, and this crate compiles the very same files for the
//! host so that `cargo test` covers them in seconds. Items are `pub(crate)`
//! because that is what the kernel crate needs; the tests live in each file.
#![allow(dead_code)]

/// The files of `src/pure/`, which the kernel crate compiles too
/// (`src/pure.rs` lists them there).
#[path = "../src/pure"]
mod pure {
    pub(crate) mod attrs;
    pub(crate) mod audit;
    pub(crate) mod config;
    pub(crate) mod kwalk;
    pub(crate) mod latency;
    pub(crate) mod parse;
    pub(crate) mod ratelimit;
    pub(crate) mod run_stats;
    pub(crate) mod samples;
}
