// SPDX-License-Identifier: GPL-2.0

//! The debugfs files of `/sys/kernel/debug/pte_attrs/`, one type per file
//! (or per small family of files), each implementing
//! [`crate::sys::debugfs::File`] or [`crate::sys::debugfs::StatefulFile`];
//! the module root creates the directory and registers them.
//!
//! - [`accessor`]: `accessor` and `lookup`, the accessor's view of page
//!   tables;
//! - [`config`]: the settings of the next run (`scenario`, `pages`,
//!   `max_order`, `iterations`, `threads`, `verify`, `bar`, `hold`,
//!   `inject_miss`);
//! - [`control`]: the actions (`run`, `stop`, `reset`, `evict`);
//! - [`report`]: `results` and `bench`.
//!
//! This layer makes no raw kernel call and has no block that needs a
//! `SAFETY` comment (the lint of `make check` refuses them here); it uses only `crate::exerciser`,
//! `crate::bench`, `crate::sys` and `crate::pure`.

pub(crate) mod accessor;
pub(crate) mod audit;
pub(crate) mod config;
pub(crate) mod control;
pub(crate) mod report;
pub(crate) mod user_lookup;
