// SPDX-License-Identifier: GPL-2.0

//! The bodies of the scenarios, run by each worker thread.
//!
//! Every transition is timed and, with `verify` on, every page it touched
//! is checked through the accessor. Errors leave nothing behind: pages are
//! held by [`PageSet`]s and [`PoolBlock`]s, which restore WB on drop.

use kernel::alloc::{flags::GFP_KERNEL, KVVec};
use kernel::error::{code::*, Result};

use crate::exerciser::control::{Control, Held};
use crate::exerciser::page_set::{Api, PageSet};
use crate::exerciser::pool::{Evictor, Pool, PoolBlock};
use crate::exerciser::verify::{self, Expect, Mismatch};
use crate::pure::attrs::CacheMode;
use crate::pure::config::{
    object_blocks, object_orders, wc_again_due, Config, Inject, Op, Scenario, XorShift, MAX_ORDER,
    POOL_OBJECTS,
};
use crate::pure::run_stats::RunStats;
use crate::sys::io::IoMapping;
use crate::sys::log::{pr_err_rl, Show};
use crate::sys::page::Block;
use crate::sys::pci::ClaimedBar;
use crate::sys::time::{self, Instant};
use crate::sys::{accessor, expect};

/// What the `ioremap` scenario found; shown in `results`.
#[derive(Copy, Clone, Default)]
pub(crate) struct IoremapFacts {
    /// The device mapped.
    pub(crate) dev: [u8; 32],
    /// The BAR's physical start.
    pub(crate) start: u64,
    /// How much of it each worker mapped.
    pub(crate) size: u64,
    /// What `ioremap_uc` over a live WC mapping gave: `None` if refused,
    /// else the mode its PTEs have.
    pub(crate) conflict: Option<Option<CacheMode>>,
    /// Whether the conflict case ran.
    pub(crate) conflict_tried: bool,
}

/// The bytes of the BAR each of `threads` workers maps (0: too small).
/// Each maps its own slice of at most 2 MiB: enough pages to check, cheap
/// to map, and no thread's mapping is another's conflict (a range has one
/// memtype at a time).
pub(crate) fn ioremap_slice(size: u64, threads: u64) -> u64 {
    (size / threads.max(1)).min(2 << 20) & !0xfff
}

/// Runs `cfg.scenario` for one worker, counting into `st`, steered by
/// `ctl`, with the exerciser's `pool`. `bar` is the run's claimed BAR
/// (`ioremap`); with `inject`, this worker makes the run's first non-WB
/// transition wrong on purpose (`inject_miss`), or fails right after it
/// (`inject_fail`). Returns what the
/// `ioremap` scenario found, from worker 0.
pub(crate) fn run(
    ctl: &Control,
    pool: &Pool,
    cfg: &Config,
    bar: Option<&ClaimedBar>,
    id: u32,
    inject: Inject,
    st: &mut RunStats,
) -> Option<IoremapFacts> {
    let mut w = Worker {
        ctl,
        pool,
        cfg,
        st,
        id,
        inject,
        hold_done: false,
    };
    let r = match (cfg.scenario, bar) {
        (Scenario::SetPages, _) => w.set_pages(),
        (Scenario::PagesArray, _) => w.pages_array(),
        (Scenario::SetMemory, _) => w.set_memory(),
        (Scenario::Ioremap, Some(bar)) => match w.ioremap(bar) {
            Ok(facts) => return (id == 0).then_some(facts),
            Err(e) => Err(e),
        },
        (Scenario::Ioremap, None) => Err(ENODEV),
        (Scenario::GemEvict, _) => w.gem_evict(),
        (Scenario::WcWbFree, _) => w.wc_wb_free(),
    };
    if let Err(e) = r {
        w.st.errors += 1;
        pr_err_rl!(
            "worker {}: {} stopped early: {:?}\n",
            id,
            Show(cfg.scenario),
            e
        );
    }
    None
}

struct Worker<'a> {
    ctl: &'a Control,
    pool: &'a Pool,
    cfg: &'a Config,
    st: &'a mut RunStats,
    id: u32,
    /// The `inject_*` transitions still to be made by this worker.
    inject: Inject,
    /// Whether this worker's page set for the `hold` knob has come.
    hold_done: bool,
}

impl Worker<'_> {
    /// Runs `f` as one `op` over `pages` pages and counts it in the op's
    /// counters (a failure also in the totals, where it is handled: most
    /// end the worker, see [`run`]).
    fn timed(&mut self, op: Op, pages: usize, f: impl FnOnce() -> Result) -> Result {
        let start = Instant::now();
        let r = f();
        let ns = start.elapsed_ns();
        self.st.cpa_ns += ns;
        if let Some(o) = self.st.op(self.cfg.scenario, op) {
            match r {
                Ok(()) => o.record_ok(pages as u64, ns),
                Err(_) => o.record_error(),
            }
        }
        if let Err(e) = r {
            // Counted in the totals by whoever handles the error.
            pr_err_rl!(
                "{}: {} failed: {:?}\n",
                Show(self.cfg.scenario),
                op.key(),
                e
            );
        }
        r
    }

    /// Counts the outcome of checking `n` pages.
    fn counted(&mut self, n: usize, bad: u64, first: Option<Mismatch>) {
        self.st.verified_pages += n as u64;
        if let Some(m) = first {
            pr_err_rl!(
                "{}: {} page(s) not {} after a transition (first_failure in results)\n",
                Show(self.cfg.scenario),
                bad,
                Show(m.want)
            );
            self.st.verify_failures += bad;
            self.st.first(m.addr as u64, m.pv, m.raw);
        }
    }

    /// With `verify` on, checks every page of `set` against `want`, the
    /// mode `op` should have left.
    fn verify(&mut self, op: Op, set: &PageSet, want: CacheMode) {
        if self.cfg.verify {
            let start = Instant::now();
            let (bad, first) = set.verify(want);
            self.st.verify_ns += start.elapsed_ns();
            if let Some(o) = self.st.op(self.cfg.scenario, op) {
                o.record_verify_failures(bad);
            }
            self.counted(set.pages(), bad, first);
        }
    }

    /// One timed change of `set` to `mode`, then its check. The worker's
    /// `inject_miss` transition is its first non-WB one: the first page
    /// of the set is left out of the call while the check still expects
    /// `mode` (so exactly that page fails it); `true` when this was it.
    fn change(&mut self, set: &mut PageSet, op: Op, api: Api, mode: CacheMode) -> Result<bool> {
        let pages = set.pages();
        let inject = self.inject.miss && mode != CacheMode::Wb && pages > 0;
        if inject {
            self.inject.miss = false;
            self.st.inject_addr = set.first_addr() as u64;
            self.timed(op, pages, || set.set_skipping_first(api, mode))?;
        } else {
            self.timed(op, pages, || set.set(api, mode))?;
        }
        self.verify(op, set, mode);
        if self.inject.fail && mode != CacheMode::Wb && pages > 0 {
            // The pages are not WB now: the set's drop must restore them.
            self.inject.fail = false;
            pr_err_rl!(
                "{}: inject_fail: failing after {} with {} page(s) not WB\n",
                Show(self.cfg.scenario),
                op.key(),
                pages
            );
            return Err(EIO);
        }
        Ok(inject)
    }

    /// With the `hold` knob set, keeps worker 0's first page set whose
    /// change away from WB covered every page (not the `inject_miss` one)
    /// as it is, changed and checked, for a test to compare with the
    /// kernel's own observers: its first and last page and its size are in
    /// `results` (`<scenario>.held=`, `.held_last=`, `.held_pages=`) until
    /// `hold` is cleared or the run is stopped. Only the module's own
    /// pages are held: the set's. Returns `true` if a stop ended the hold:
    /// the caller returns, and the set's drop restores WB, checks every
    /// page and its memtype record, and frees them.
    fn hold_set(&mut self, set: &PageSet, injected: bool) -> bool {
        if self.id != 0 || self.hold_done || injected || set.pages() == 0 {
            return false;
        }
        self.hold_done = true;
        let what = Held {
            addr: set.first_addr() as u64,
            last: set.last_addr() as u64,
            pages: set.pages() as u64,
        };
        self.ctl.hold_for_inspection(what) && self.ctl.stop_requested()
    }

    /// Contiguous runs of `pages` pages (blocks of order 10 at most).
    fn contiguous(&self) -> Result<PageSet> {
        PageSet::alloc_object(self.cfg.pages, MAX_ORDER)
    }

    /// AGP cursor and GTT scratch pages: `set_pages_uc`, `set_pages_wb`.
    fn set_pages(&mut self) -> Result {
        let mut set = self.contiguous()?;
        for _ in 0..self.cfg.iterations {
            if self.ctl.stopping() {
                break;
            }
            self.change(&mut set, Op::SetPagesUc, Api::Pages, CacheMode::UcMinus)?;
            self.change(&mut set, Op::SetPagesWb, Api::Pages, CacheMode::Wb)?;
        }
        Ok(())
    }

    /// `set_memory_wc/wb/uc/wb` on the direct map of owned pages.
    fn set_memory(&mut self) -> Result {
        let mut set = self.contiguous()?;
        for _ in 0..self.cfg.iterations {
            if self.ctl.stopping() {
                break;
            }
            self.change(&mut set, Op::MemoryWc, Api::Memory, CacheMode::Wc)?;
            self.change(&mut set, Op::MemoryWb, Api::Memory, CacheMode::Wb)?;
            self.change(&mut set, Op::MemoryUc, Api::Memory, CacheMode::UcMinus)?;
            self.change(&mut set, Op::MemoryWb, Api::Memory, CacheMode::Wb)?;
        }
        Ok(())
    }

    /// The run's `pages` single pages: from the allocator as they come,
    /// or, with `scatter`, one from each of as many 2 MiB blocks.
    fn single_pages(&self) -> Result<PageSet> {
        if self.cfg.scatter {
            PageSet::alloc_scattered(self.cfg.pages)
        } else {
            PageSet::alloc_object(self.cfg.pages, 0)
        }
    }

    /// Batches through the array calls, with the refused second WC.
    fn pages_array(&mut self) -> Result {
        let mut set = self.single_pages()?;
        let mut asked = false;
        for _ in 0..self.cfg.iterations {
            if self.ctl.stopping() {
                break;
            }
            let injected = self.change(&mut set, Op::ArrayWc, Api::Array, CacheMode::Wc)?;
            // With PAT on, a page that is not WB cannot be reserved again.
            // The kernel logs each refusal (`reserve_ram_pages_type`), so it
            // is asked once per run, and never right after the injected
            // change (see `wc_again_due`).
            // Without PAT nothing reserves a memtype for RAM, so nothing
            // refuses the second request: it is asked only with PAT.
            if wc_again_due(self.id, asked, injected) && accessor::pat_enabled() {
                asked = true;
                self.wc_again(&mut set);
            }
            if self.hold_set(&set, injected) {
                return Ok(());
            }
            self.change(&mut set, Op::ArrayWb, Api::Array, CacheMode::Wb)?;
            self.change(&mut set, Op::ArrayUc, Api::Array, CacheMode::UcMinus)?;
            self.change(&mut set, Op::ArrayWb, Api::Array, CacheMode::Wb)?;
        }
        Ok(())
    }

    /// A second `set_pages_array_wc` on WC pages, which the kernel must
    /// refuse; then the pages are checked still WC.
    fn wc_again(&mut self, set: &mut PageSet) {
        let pages = set.pages();
        let start = Instant::now();
        let again = set.set_again(Api::Array, CacheMode::Wc);
        let ns = start.elapsed_ns();
        let o = self.st.op(self.cfg.scenario, Op::ArrayWcAgain);
        match (again, o) {
            (Err(_), Some(o)) => o.record_ok(pages as u64, ns),
            (Err(_), None) => {}
            (Ok(()), o) => {
                if let Some(o) = o {
                    o.record_error();
                }
                self.st.errors += 1;
                pr_err_rl!("pages_array: a second set_pages_array_wc on WC pages was accepted\n");
            }
        }
        self.verify(Op::ArrayWcAgain, set, CacheMode::Wc);
    }

    /// The seed's regression: WC, `set_pages_array_wb`, and every page
    /// checked WB through the accessor *before* it is freed; a page that
    /// is not is reported and leaked, never freed.
    fn wc_wb_free(&mut self) -> Result {
        for _ in 0..self.cfg.iterations {
            if self.ctl.stopping() {
                break;
            }
            let mut set = self.single_pages()?;
            let injected = self.change(&mut set, Op::ArrayWc, Api::Array, CacheMode::Wc)?;
            if self.hold_set(&set, injected) {
                return Ok(());
            }
            let pages = set.pages();
            self.timed(Op::ArrayWb, pages, || set.set(Api::Array, CacheMode::Wb))?;
            // Always checked, whatever `verify` says: it is the scenario.
            let (bad, first) = set.verify(CacheMode::Wb);
            if let Some(o) = self.st.op(self.cfg.scenario, Op::ArrayWb) {
                o.record_verify_failures(bad);
            }
            self.counted(pages, bad, first);
            // And the kernel's record of each page, before it is freed.
            let mut records = 0;
            for b in set.blocks() {
                let (n, addr) = verify::check_record(b, CacheMode::Wb);
                records += n;
                if let Some(addr) = addr {
                    let (pv, raw) = verify::entry_of(addr);
                    self.st.first(addr as u64, pv, raw);
                }
            }
            if records > 0 {
                pr_err_rl!(
                    "wc_wb_free: {} page(s) WB in the page table but not in the kernel's memtype record\n",
                    records
                );
                self.st.record_failures += records;
                self.st.verify_failures += records;
                if let Some(o) = self.st.op(self.cfg.scenario, Op::ArrayWb) {
                    o.record_verify_failures(records);
                }
            }
            if bad > 0 || records > 0 {
                if let Some(blocks) = set.into_blocks() {
                    for b in blocks {
                        b.leak();
                    }
                }
            }
        }
        Ok(())
    }

    /// Objects of mixed orders bound WC or UC- with one array call for
    /// their new pages, written, released into the pool, reused from it;
    /// the pool is evicted by the shrinker, the `evict` knob, and by the
    /// workers when it holds more than its share. With `verify` on, every
    /// page of a reused block is checked again when it is rebound.
    fn gem_evict(&mut self) -> Result {
        let pool = self.pool;
        let mut rng = XorShift::new(u64::from(self.id) + 1);
        let limit = self.cfg.pages * POOL_OBJECTS * self.cfg.threads;
        let max_blocks = object_blocks(self.cfg.pages, self.cfg.max_order) as usize;
        for it in 0..self.cfg.iterations {
            if self.ctl.stopping() {
                break;
            }
            let (op, mode) = if it % 2 == 0 {
                (Op::GemBindWc, CacheMode::Wc)
            } else {
                (Op::GemBindUc, CacheMode::UcMinus)
            };
            let size = rng.in_1_to(self.cfg.pages);
            // Exact sizes up front: nothing grows by doubling below.
            let blocks = object_blocks(size, self.cfg.max_order) as usize;
            let mut reused = KVVec::with_capacity(blocks.min(max_blocks), GFP_KERNEL)?;
            let mut fresh = PageSet::with_capacity(size as usize, blocks)?;
            for order in object_orders(size, self.cfg.max_order) {
                match pool.take(order, mode) {
                    Some(e) => reused.push(e, GFP_KERNEL)?,
                    None => fresh.push(Block::alloc(order)?)?,
                }
                time::resched();
            }
            let mut injected = false;
            if fresh.pages() > 0 {
                injected = self.change(&mut fresh, op, Api::Array, mode)?;
            }
            if injected {
                // The skipped page joins the pool as `mode` like the others:
                // its CPA call is made now, after the check saw it missing.
                fresh.repair_first(Api::Array, mode)?;
            }
            if self.cfg.verify {
                self.verify_reused(op, &reused, mode);
            }
            for b in fresh.blocks() {
                b.fill(0x5a);
            }
            for e in reused.iter() {
                e.fill(0xa5);
            }
            for b in fresh.release_bound() {
                pool.put(PoolBlock::new(b, mode));
                time::resched();
            }
            for e in reused {
                pool.put(e);
                time::resched();
            }
            let held = pool.pages();
            if held > limit {
                pool.evict(held - limit, Evictor::Owner);
            }
        }
        Ok(())
    }

    /// Checks every page of the reused blocks against `mode`, counted as
    /// `op`'s checks.
    fn verify_reused(&mut self, op: Op, reused: &[PoolBlock], mode: CacheMode) {
        if reused.is_empty() {
            return;
        }
        let start = Instant::now();
        let expect = Expect::new(mode);
        let (mut bad, mut first, mut pages) = (0, None, 0);
        for b in reused.iter().filter_map(PoolBlock::block) {
            let (n, f) = expect.check_block(b);
            bad += n;
            first = first.or(f);
            pages += b.len();
        }
        self.st.verify_ns += start.elapsed_ns();
        if let Some(o) = self.st.op(self.cfg.scenario, op) {
            o.record_verify_failures(bad);
        }
        self.counted(pages, bad, first);
    }

    /// `ioremap_*` of the run's claimed PCI memory BAR, each mapping's
    /// PTEs checked, and the kernel's memtype bookkeeping read back from
    /// `pat_memtype_list`.
    fn ioremap(&mut self, bar: &ClaimedBar) -> Result<IoremapFacts> {
        let id = self.id;
        let mut facts = IoremapFacts {
            dev: *bar.dev(),
            start: bar.start(),
            ..IoremapFacts::default()
        };
        // Checked at the start of the run to be at least a page.
        let slice = ioremap_slice(bar.size(), self.cfg.threads);
        if slice == 0 {
            return Err(EINVAL);
        }
        facts.size = slice;
        let offset = u64::from(id) * slice;
        let len = slice as usize;
        let pages = len >> 12;
        let maps: [(Op, CacheMode); 4] = [
            (Op::IoremapWc, CacheMode::Wc),
            (Op::IoremapUc, CacheMode::Uc),
            (Op::IoremapWt, CacheMode::Wt),
            (Op::IoremapCache, CacheMode::Wb),
        ];
        for it in 0..self.cfg.iterations {
            if self.ctl.stopping() {
                break;
            }
            for &(op, mode) in maps.iter() {
                // The device is being removed: the run ends here (the
                // removal waits for this worker to drop the BAR).
                if bar.revoked() {
                    return Err(ENODEV);
                }
                let mut mapping = None;
                let r = self.timed(op, pages, || {
                    mapping = Some(IoMapping::new(bar, offset, len, mode)?);
                    Ok(())
                });
                let (Ok(()), Some(mapping)) = (r, mapping) else {
                    // Not fatal: the next mode is tried.
                    self.st.errors += 1;
                    continue;
                };
                if self.cfg.verify {
                    self.check_mapping(op, &mapping, mode);
                }
                if it == 0 && id == 0 && mode == CacheMode::Wc {
                    // Let a test compare the live mapping with the kernel's
                    // page-table dump and pat_memtype_list.
                    self.ctl.hold_for_inspection(Held {
                        addr: mapping.addr() as u64,
                        last: (mapping.addr() + len - 4096) as u64,
                        pages: pages as u64,
                    });
                }
                drop(mapping);
            }
            if it == 0 {
                facts.conflict_tried = true;
                facts.conflict = self.conflict(bar, offset, len, pages)?;
            }
        }
        Ok(facts)
    }

    /// Checks every PTE of a mapping requested as `req`: it carries the
    /// mode the kernel's translation gives `req`, with two documented
    /// exceptions. A WB request may be granted UC- where the MTRRs make the
    /// range uncached (`pat_x_mtrr_type()`). And under Xen PV the
    /// hypervisor forces every cacheable (WB, WT, WP) MMIO mapping of a PV
    /// domain to UC (`get_page_from_l1e()`, "x86: enforce consistent
    /// cachability of MMIO mappings").
    fn check_mapping(&mut self, op: Op, m: &IoMapping<'_>, req: CacheMode) {
        let len = m.len();
        let xen_uc = accessor::paravirt_live()
            && matches!(req, CacheMode::Wb | CacheMode::Wt | CacheMode::Wp);
        let accepted: &[CacheMode] = match (req, xen_uc) {
            (CacheMode::Wb, true) => &[CacheMode::Uc, CacheMode::UcMinus],
            (_, true) => &[CacheMode::Uc],
            (CacheMode::Wb, false) => &[CacheMode::Wb, CacheMode::UcMinus],
            (CacheMode::Wc, false) => &[CacheMode::Wc],
            (CacheMode::Uc, false) => &[CacheMode::Uc],
            (CacheMode::UcMinus, false) => &[CacheMode::UcMinus],
            (CacheMode::Wt, false) => &[CacheMode::Wt],
            (CacheMode::Wp, false) => &[CacheMode::Wp],
        };
        // At most two accepted modes.
        let first_mode = Expect::new(accepted[0]);
        let second_mode = accepted.get(1).map(|&m| Expect::new(m));
        let mut bad = 0;
        let mut first = None;
        for i in 0..len >> 12 {
            if i % 512 == 511 {
                time::resched();
            }
            let addr = m.addr() + (i << 12);
            let r = first_mode.check(addr).or_else(|e| match &second_mode {
                Some(s) => s.check(addr).map_err(|_| e),
                None => Err(e),
            });
            if let Err(e) = r {
                bad += 1;
                first.get_or_insert(e);
            }
        }
        if let Some(o) = self.st.op(self.cfg.scenario, op) {
            o.record_verify_failures(bad);
        }
        self.counted(len >> 12, bad, first);
    }

    /// `ioremap_uc` of a range that has a live WC mapping: what does the
    /// kernel hand back? A range has one memtype at a time: the request
    /// gets the existing type where `is_new_memtype_allowed()` permits it
    /// (UC asked, WC live: the second mapping is WC too), else NULL.
    fn conflict(
        &mut self,
        bar: &ClaimedBar,
        offset: u64,
        len: usize,
        pages: usize,
    ) -> Result<Option<Option<CacheMode>>> {
        let wc = IoMapping::new(bar, offset, len, CacheMode::Wc)?;
        let mut second = None;
        self.timed(Op::IoremapConflict, pages, || {
            second = IoMapping::new(bar, offset, len, CacheMode::Uc).ok();
            Ok(())
        })?;
        let Some(second) = second else {
            return Ok(None);
        };
        let got = expect::mode_at(second.addr());
        drop(second);
        drop(wc);
        Ok(Some(got))
    }
}
