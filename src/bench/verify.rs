// SPDX-License-Identifier: GPL-2.0

//! What the check after a CPA call costs, taken apart: the check as the
//! exerciser runs it, first after the call, against the same check of the
//! same pages repeated at once. The first one also pays for refilling the
//! TLB that the call's flush emptied (its code, its stack, the page-table
//! pages it reads); the repeat does not. Under TCG that refill is most of
//! the first check: a flush of one kernel page inside a range QEMU has
//! seen mapped by large pages drops the vCPU's whole software TLB, and
//! every page touched afterwards is walked again in C.

use core::fmt::Write;

use kernel::error::{code::*, Result};

use crate::exerciser::page_set::{Api, PageSet};
use crate::pure::attrs::CacheMode;
use crate::pure::config::MAX_ORDER;
use crate::pure::samples::{ratio_milli, Milli, Samples};
use crate::sys::accessor;
use crate::sys::debugfs::Output;
use crate::sys::log::{pr_err_rl, Show};
use crate::sys::time::{self, Instant};

/// The pages of the set, one block of [`MAX_ORDER`] taken as the
/// exerciser's `set_memory` runs take theirs. The exerciser's block may
/// still be mapped by two 2M entries, and its check then reads two
/// entries; here the block is split first ([`PageSet::split_large`]), so
/// that the check reads all 1024 4K entries whatever memory the allocator
/// hands out.
const PAGES: usize = 1024;
/// `set_memory` round trips a round (four calls each).
const ITERATIONS: usize = 8;
/// Rounds: each gives one ratio; the median is reported.
const ROUNDS: usize = 9;

/// Times, in one loop, each `set_memory_*` call of the exerciser's
/// `set_memory` scenario (WC, WB, UC-, WB on 1024 contiguous pages, each
/// mapped by a 4K entry), the check of every page right after it, and the
/// same check again. Fails with `EIO` if a check finds a page not in the
/// mode just set: a time is only reported for a check that agreed. Says
/// which level of entry maps the set's first and last page.
pub(crate) fn verify_cost(out: &mut Output) -> Result {
    let modes = [
        CacheMode::Wc,
        CacheMode::Wb,
        CacheMode::UcMinus,
        CacheMode::Wb,
    ];
    let mut set = PageSet::alloc_object(PAGES as u64, MAX_ORDER)?;
    set.split_large(Api::Memory)?;
    let mut first = Samples::new();
    let mut again = Samples::new();
    let mut first_over_again = Samples::new();
    let mut ns = [Samples::new(); 3];
    for _ in 0..ROUNDS {
        let mut t = [0u64; 3];
        for _ in 0..ITERATIONS {
            for &mode in &modes {
                let start = Instant::now();
                set.set(Api::Memory, mode)?;
                t[0] += start.elapsed_ns();
                let mut bad = 0;
                for slot in &mut t[1..] {
                    let start = Instant::now();
                    bad = bad.max(set.verify(mode).0);
                    *slot += start.elapsed_ns();
                }
                if bad != 0 {
                    pr_err_rl!(
                        "bench: the check found {} page(s) not {} after set_memory\n",
                        bad,
                        Show(mode)
                    );
                    return Err(EIO);
                }
            }
            time::resched();
        }
        first.push(ratio_milli(t[1], t[0]).unwrap_or(0));
        again.push(ratio_milli(t[2], t[0]).unwrap_or(0));
        first_over_again.push(ratio_milli(t[1], t[2]).unwrap_or(0));
        for (s, &v) in ns.iter_mut().zip(&t) {
            s.push(v);
        }
    }
    let leaf = |addr: usize| accessor::lookup(addr as u64).map_or("no", |f| f.level.name());
    let _ = writeln!(
        out,
        "# verify: set_memory WC, WB, UC-, WB on {PAGES} contiguous pages (first page mapped by a {} entry, last by a {}), {ITERATIONS} x 4 calls a round, each checked twice, {ROUNDS} rounds",
        leaf(set.first_addr()),
        leaf(set.last_addr())
    );
    for (key, s) in [
        ("verify_first_over_cpa", &first),
        ("verify_again_over_cpa", &again),
        ("verify_first_over_again", &first_over_again),
    ] {
        let _ = writeln!(out, "{key}={}", Milli(s.median().unwrap_or(0)));
    }
    for (key, s) in ["verify_cpa_ns", "verify_first_ns", "verify_again_ns"]
        .iter()
        .zip(&ns)
    {
        let (lo, hi) = s.range().unwrap_or((0, 0));
        let _ = writeln!(out, "{key}={} (range {lo}..{hi})", s.median().unwrap_or(0));
    }
    Ok(())
}
