// SPDX-License-Identifier: GPL-2.0

//! The one check of a page's cache mode: what the kernel really gives a
//! requested mode (the live PAT table at the index `cachemode2protval()`
//! picks: UC- for WC under `nopat`), and whether an entry has it, read
//! through the accessor. The exerciser's verification, the GEM object
//! pages and the BAR paths all check with [`Expect`]; [`mode_at`] answers
//! what mode an address has, for reports.

use crate::pure::attrs::{mode_bits, pat_index, CacheMode, Level, PteAttrs};
use crate::sys::accessor::{self, Found};
use crate::sys::page::Block;
use crate::sys::{cpa, time};

/// A page whose entry is not what a transition should have left.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Mismatch {
    /// The page's direct-map address.
    pub(crate) addr: usize,
    /// The entry through the paravirt hook (0 if not mapped).
    pub(crate) pv: u64,
    /// The entry as stored (0 if not mapped).
    pub(crate) raw: u64,
    /// The mode the transition asked for.
    pub(crate) want: CacheMode,
}

/// The mode the kernel really gives a `req` mapping: the PAT entry at the
/// index its own translation (`cachemode2protval()`) picks.
pub(crate) fn effective(req: CacheMode) -> Option<CacheMode> {
    accessor::pat().mode(pat_index(cpa::protval(req), Level::K4))
}

/// What a check expects of every entry it reads: computed once per batch,
/// so that a page costs only its lookup and decoding.
pub(crate) struct Expect {
    want: CacheMode,
    /// Bit `i` is set when PAT index `i` is the mode the kernel gives
    /// `want`: a page then costs a few bit operations.
    ok_indices: u8,
    /// The present and cache bits ([`mode_bits`]) the kernel writes in a
    /// 4K entry for `want` (`cachemode2protval()`), if they pass
    /// [`Self::ok`] (`None`: every entry is checked one by one).
    canon_4k: Option<u64>,
}

impl Expect {
    /// Entries that should have the mode the kernel gives `want`.
    pub(crate) fn new(want: CacheMode) -> Self {
        let pat = accessor::pat();
        let mode = effective(want);
        let ok_indices = (0..8u8)
            .filter(|&i| mode.is_some() && pat.mode(i) == mode)
            .fold(0, |bits, i| bits | (1 << i));
        let mut e = Expect {
            want,
            ok_indices,
            canon_4k: None,
        };
        let canon = (cpa::protval(want) | 1) & mode_bits(Level::K4);
        if e.ok(canon, Level::K4) {
            e.canon_4k = Some(canon);
        }
        e
    }

    /// Checks through the accessor that the entry mapping `addr` is
    /// present and has the expected cache mode.
    pub(crate) fn check(&self, addr: usize) -> Result<(), Mismatch> {
        match accessor::lookup(addr as u64) {
            Some(found) => self.check_raw(addr, &found, found.raw),
            None => Err(self.mismatch(addr, 0, 0)),
        }
    }

    fn mismatch(&self, addr: usize, pv: u64, raw: u64) -> Mismatch {
        Mismatch {
            addr,
            pv,
            raw,
            want: self.want,
        }
    }

    /// Whether the paravirt view `pv` of an entry at `level` is present
    /// with an expected PAT index.
    #[inline(always)]
    fn ok(&self, pv: u64, level: Level) -> bool {
        pv & 1 != 0 && self.ok_indices & (1 << pat_index(pv, level)) != 0
    }

    /// Checks the entry value `raw` of `found`'s level, mapping `addr`.
    fn check_raw(&self, addr: usize, found: &Found, raw: u64) -> Result<(), Mismatch> {
        let pv = accessor::pv_val(raw, found.level);
        if self.ok(pv, found.level) {
            Ok(())
        } else {
            Err(self.mismatch(addr, pv, raw))
        }
    }

    /// Checks the `pages` pages from `addr` on; returns how many failed and
    /// the first failure. One page-table walk serves every page the found
    /// entry's table covers: the following 4K entries are read in place,
    /// a 2M or 1G entry stands for all of its pages.
    pub(crate) fn check_range(&self, addr: usize, pages: usize) -> (u64, Option<Mismatch>) {
        let mut bad = 0;
        let mut first = None;
        let mut i = 0;
        let mut misses = 0usize;
        while i < pages {
            let at = addr + (i << 12);
            let Some(found) = accessor::lookup(at as u64) else {
                bad += 1;
                first.get_or_insert(self.mismatch(at, 0, 0));
                i += 1;
                misses += 1;
                // A page at a time here: yield as often as per table.
                if misses % 512 == 0 {
                    time::resched();
                }
                continue;
            };
            // Pages up to the end of what this walk's table (4K: 512
            // entries, 2 MiB) or entry (2M, 1G) maps.
            let span = match found.level {
                Level::K4 => 512 << 12,
                l => l.size() as usize,
            };
            let left_in_table = (span - (at & (span - 1))) >> 12;
            let n = left_in_table.min(pages - i);
            if found.level == Level::K4 {
                let (b, f) = self.check_run(at, &found, n);
                bad += b;
                first = first.or(f);
            } else if let Err(m) = self.check_raw(at, &found, found.raw) {
                // One entry maps all `n` pages.
                bad += n as u64;
                first.get_or_insert(m);
            }
            i += n;
            // One page-table page (or large entry) at a time.
            time::resched();
        }
        (bad, first)
    }

    /// Checks the `n` 4K entries from `found`'s on (`n` stays within its
    /// table), mapping the pages from `at` on. Entries that all have
    /// exactly the bits the kernel writes for the mode (`canon_4k`, as
    /// after a CPA call) cost one no-fault load each, the whole run in one
    /// pass ([`Found::diff_run`]). Otherwise the entries are read again,
    /// RUN at a time in one no-fault copy each, and checked one by one (an
    /// unreadable RUN reads as not present).
    fn check_run(&self, at: usize, found: &Found, n: usize) -> (u64, Option<Mismatch>) {
        const RUN: usize = 64;
        let all_canon = self
            .canon_4k
            .and_then(|canon| found.diff_run(0, n, canon))
            .is_some_and(|diff| diff & mode_bits(Level::K4) == 0);
        if all_canon {
            return (0, None);
        }
        let mut run = [0u64; RUN];
        let mut bad = 0;
        let mut first = None;
        let mut j = 0;
        while j < n {
            let chunk = &mut run[..RUN.min(n - j)];
            if !found.raw_run(j, chunk) {
                chunk.fill(0);
            }
            for (k, &raw) in chunk.iter().enumerate() {
                let pv = accessor::pv_val(raw, Level::K4);
                if !self.ok(pv, Level::K4) {
                    bad += 1;
                    first.get_or_insert(self.mismatch(at + ((j + k) << 12), pv, raw));
                }
            }
            j += chunk.len();
        }
        (bad, first)
    }

    /// Checks every page of `block`: its mode and, where the paravirt
    /// hook is live, its frame.
    pub(crate) fn check_block(&self, block: &Block) -> (u64, Option<Mismatch>) {
        let (mut bad, mut first) = self.check_range(block.addr(), block.len());
        // Under Xen PV the raw and paravirt views agree on the cache bits
        // (Xen 4.17 translates only the frame), so a skipped hook would
        // pass the mode check: the frame the hook gives must also be the
        // block's own pseudo-physical one (the raw entry holds a machine
        // frame). Native kernels skip this (the views are one).
        if accessor::paravirt_live() {
            let (b, f) = self.check_frames(block);
            bad += b;
            first = first.or(f);
        }
        (bad, first)
    }

    /// Checks that each present 4K entry of `block`'s pages gives, through
    /// the accessor, the page's own frame; a page whose entry is missing
    /// was already counted by [`Self::check_range`].
    fn check_frames(&self, block: &Block) -> (u64, Option<Mismatch>) {
        let mut bad = 0;
        let mut first = None;
        for i in 0..block.len() {
            let at = block.addr() + (i << 12);
            if let Some(found) = accessor::lookup(at as u64) {
                let pv = accessor::pv_val(found.raw, found.level);
                let frame = accessor::decode(pv, found.level).pfn();
                if found.level == Level::K4 && frame != block.pfn() + i as u64 {
                    bad += 1;
                    first.get_or_insert(self.mismatch(at, pv, found.raw));
                }
            }
            if i % 512 == 511 {
                time::resched();
            }
        }
        (bad, first)
    }
}

/// The cache mode of the present entry mapping `addr`, through the
/// accessor (`None` if nothing maps it).
pub(crate) fn mode_at(addr: usize) -> Option<CacheMode> {
    let found = accessor::lookup(addr as u64)?;
    let pv = accessor::pv_val(found.raw, found.level);
    let a = PteAttrs::decode(pv, found.level, &accessor::pat());
    if a.present() {
        a.cache_mode()
    } else {
        None
    }
}
