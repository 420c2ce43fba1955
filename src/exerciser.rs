// SPDX-License-Identifier: GPL-2.0

//! The CPA exerciser: run control, the scenarios' bodies, the GEM pool,
//! and the pages they own.
//!
//! Built on the wrapper layer (`crate::sys`) and the pure layer only, with
//! no `unsafe` of its own.

pub(crate) mod gem_mmap;
pub(crate) mod page_set;
pub(crate) mod pool;
pub(crate) mod run;
pub(crate) mod worker;
