// SPDX-License-Identifier: GPL-2.0

//! The wrapper layer: one safe type per kernel object.
//!
//! This is the only layer (with the module root and `export.rs`, the C API
//! boundary) that holds `unsafe` blocks, `bindings::` and C prototypes.
//! Each type owns one kernel object, states its `# Invariants`, gives it
//! back in `Drop`, and justifies every `unsafe` block where it stands, so
//! that a reviewer can check each file on its own. It may use the pure
//! layer (`crate::pure`) and nothing above it.

pub(crate) mod accessor;
pub(crate) mod debugfs;
pub(crate) mod ffi;
pub(crate) mod gem_bar;
pub(crate) mod gem_pages;
pub(crate) mod log;
pub(crate) mod miscdev;
pub(crate) mod user_pte;
