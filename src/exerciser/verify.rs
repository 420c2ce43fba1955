// SPDX-License-Identifier: GPL-2.0

//! The check of every page a transition touched, through the accessor, and
//! of the kernel's memtype record before a page is freed. What a page's
//! entry must be is [`Expect`] (in the wrapper layer, so that the GEM and
//! BAR wrappers check with the same code).

use crate::pure::attrs::CacheMode;
pub(crate) use crate::sys::expect::{Expect, Mismatch};
use crate::sys::page::Block;
use crate::sys::{accessor, mem};

/// Checks every page of `blocks` against `want` (one walk per page-table
/// page, a chance to reschedule after each); how many failed, and the
/// first failure.
pub(crate) fn check_blocks<'a>(
    blocks: impl IntoIterator<Item = &'a Block>,
    want: CacheMode,
) -> (u64, Option<Mismatch>) {
    let expect = Expect::new(want);
    let mut bad = 0;
    let mut first = None;
    for b in blocks {
        let (n, f) = expect.check_block(b);
        bad += n;
        first = first.or(f);
    }
    (bad, first)
}

/// The paravirt and raw views of the entry mapping `addr` (0, 0 if none),
/// for a failure's `first_failure` line.
pub(crate) fn entry_of(addr: usize) -> (u64, u64) {
    accessor::lookup(addr as u64).map_or((0, 0), |f| (accessor::pv_val(f.raw, f.level), f.raw))
}

/// Checks the kernel's memtype record of every page of `block` (the page
/// flags `memtype_reserve()` keeps for RAM) against `want`, before the
/// block is freed: a page recorded as WC, UC- or WT while it goes back to
/// the allocator is a failure like a wrong entry. Pages with no record
/// (PAT off) are not counted. Returns how many failed and the direct-map
/// address of the first.
pub(crate) fn check_record(block: &Block, want: CacheMode) -> (u64, Option<usize>) {
    let (pfn, len) = (block.pfn(), block.len() as u64);
    let mut bad = 0;
    let mut first = None;
    let mut i = 0;
    while i < len {
        let (mode, run) = mem::page_memtype(pfn + i, len - i);
        if mode.is_some_and(|m| m != want) {
            bad += run;
            first.get_or_insert(block.addr() + ((i as usize) << 12));
        }
        i += run;
    }
    (bad, first)
}
