// SPDX-License-Identifier: GPL-2.0

//! The CPA exerciser: run control, the scenarios' bodies, the GEM pool,
//! and the pages they own.
//!
//! Built on the wrapper layer (`crate::sys`) and the pure layer
//! (`crate::pure`) only, with no unchecked code of its own. Within the
//! folder, from the bottom up (a file uses only those before it):
//!
//! - `verify`: the check of every page through the accessor;
//! - `page_set`: pages owned and changed through one CPA interface, put
//!   back to WB on drop;
//! - `pool`: the TTM-style GEM pool, per (caching, order) lists;
//! - `control`: the stop request and `hold`, shared with the workers;
//! - `worker`: the scenarios' bodies, one worker's share of a run;
//! - `run`: the knobs' values, the run state machine, the worker threads;
//! - `results`: the `results` file;
//! - `audit`: the audit of the kernel half and the deliberate alias.

pub(crate) mod audit;
pub(crate) mod control;
pub(crate) mod gem_mmap;
pub(crate) mod page_set;
pub(crate) mod pool;
pub(crate) mod results;
pub(crate) mod run;
pub(crate) mod verify;
pub(crate) mod worker;

pub(crate) use run::Exerciser;
