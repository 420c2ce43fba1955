// SPDX-License-Identifier: GPL-2.0

//! `make bench`: the cost of the accessor and of CPA.

pub(crate) mod measure;
