// SPDX-License-Identifier: GPL-2.0

//! The pure layer: the module's logic with no kernel dependency.
//!
//! Nothing here uses `kernel::`, `bindings::` or raw pointers, and nothing
//! here imports from another layer: the module compiles these files as its
//! own, and `host/` compiles the very same files for the host, where
//! `cargo test` covers them in seconds. A file here may use only `core`
//! and its siblings.

pub(crate) mod attrs;
pub(crate) mod audit;
pub(crate) mod config;
pub(crate) mod gem;
pub(crate) mod kwalk;
pub(crate) mod latency;
pub(crate) mod parse;
pub(crate) mod ratelimit;
pub(crate) mod run_stats;
pub(crate) mod samples;
