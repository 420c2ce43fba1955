// SPDX-License-Identifier: GPL-2.0

//! The debugfs files of `/sys/kernel/debug/pte_attrs/`.

pub(crate) mod accessor;
pub(crate) mod audit;
pub(crate) mod exerciser;
