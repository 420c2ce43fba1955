// SPDX-License-Identifier: GPL-2.0

//! The bodies of the scenarios, run by each worker thread.
//!
//! Every transition is timed and, with `verify` on, every page it touched
//! is checked through the accessor. Errors leave nothing behind: pages are
//! held by [`PageSet`]s and pool [`Entry`]s, which restore WB on drop.

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::bindings;
use kernel::error::{code::*, Result};
use kernel::ffi::{c_char, c_ulong, c_void};
use kernel::prelude::*;

use crate::attrs::CacheMode;
use crate::cpa::{self, Api, Mismatch, PageSet};
use crate::exerciser::{cstr_field, Bar, Exerciser, IoremapFacts};
use crate::ffi;
use crate::pool::{Entry, Why};
use crate::report::RunStats;
use crate::scenario::{object_orders, Config, Op, Scenario, XorShift, MAX_ORDER, POOL_OBJECTS};

/// Runs `cfg.scenario` for one worker, counting into `st`.
pub(crate) fn run(ex: &Exerciser, cfg: &Config, bar: Bar, id: u32, st: &mut RunStats) {
    let mut w = Worker { ex, cfg, st };
    let r = match cfg.scenario {
        Scenario::SetPages => w.set_pages(),
        Scenario::PagesArray => w.pages_array(),
        Scenario::SetMemory => w.set_memory(),
        Scenario::Ioremap => w.ioremap(bar, id),
        Scenario::GemEvict => w.gem_evict(id),
        Scenario::WcWbFree => w.wc_wb_free(),
    };
    if let Err(e) = r {
        w.st.errors += 1;
        pr_err!("worker {}: {} stopped early: {:?}\n", id, cfg.scenario, e);
    }
}

fn now() -> i64 {
    // SAFETY: ktime_get() has no preconditions.
    unsafe { bindings::ktime_get() }
}

struct Worker<'a> {
    ex: &'a Exerciser,
    cfg: &'a Config,
    st: &'a mut RunStats,
}

impl Worker<'_> {
    /// Runs `f` as one `op` over `pages` pages and counts it in the op's
    /// counters (a failure also in the totals, where it is handled: most
    /// end the worker, see [`run`]).
    fn timed(&mut self, op: Op, pages: usize, f: impl FnOnce() -> Result) -> Result {
        let start = now();
        let r = f();
        let ns = (now() - start).max(0) as u64;
        self.st.cpa_ns += ns;
        if let Some(o) = self.st.op(self.cfg.scenario, op) {
            match r {
                Ok(()) => o.record_ok(pages as u64, ns),
                Err(_) => o.record_error(),
            }
        }
        if let Err(e) = r {
            // Counted in the totals by whoever handles the error.
            pr_err!("{}: {} failed: {:?}\n", self.cfg.scenario, op.key(), e);
        }
        r
    }

    /// Counts the outcome of checking `n` pages.
    fn counted(&mut self, n: usize, bad: u64, first: Option<Mismatch>) {
        self.st.verified_pages += n as u64;
        if let Some(m) = first {
            if self.st.verify_failures == 0 {
                pr_err!(
                    "{}: page {:#x} is not {}: pv {:#018x} raw {:#018x}\n",
                    self.cfg.scenario,
                    m.addr,
                    m.want,
                    m.pv,
                    m.raw
                );
            }
            self.st.verify_failures += bad;
            self.st.first(m.addr as u64, m.pv, m.raw);
        }
    }

    /// With `verify` on, checks every page of `set` against `want`, the
    /// mode `op` should have left.
    fn verify(&mut self, op: Op, set: &PageSet, want: CacheMode) {
        if self.cfg.verify {
            let start = now();
            let (bad, first) = set.verify(want);
            self.st.verify_ns += (now() - start).max(0) as u64;
            if let Some(o) = self.st.op(self.cfg.scenario, op) {
                o.record_verify_failures(bad);
            }
            self.counted(set.pages(), bad, first);
        }
    }

    /// One timed change of `set` to `mode`, then its check.
    fn change(&mut self, set: &mut PageSet, op: Op, api: Api, mode: CacheMode) -> Result {
        let pages = set.pages();
        self.timed(op, pages, || set.set(api, mode))?;
        self.verify(op, set, mode);
        Ok(())
    }

    /// Contiguous runs of `pages` pages (blocks of order 10 at most).
    fn contiguous(&self) -> Result<PageSet> {
        PageSet::alloc(object_orders(self.cfg.pages, MAX_ORDER))
    }

    /// AGP cursor and GTT scratch pages: `set_pages_uc`, `set_pages_wb`.
    fn set_pages(&mut self) -> Result {
        let mut set = self.contiguous()?;
        for _ in 0..self.cfg.iterations {
            if self.ex.stopping() {
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
            if self.ex.stopping() {
                break;
            }
            self.change(&mut set, Op::MemoryWc, Api::Memory, CacheMode::Wc)?;
            self.change(&mut set, Op::MemoryWb, Api::Memory, CacheMode::Wb)?;
            self.change(&mut set, Op::MemoryUc, Api::Memory, CacheMode::UcMinus)?;
            self.change(&mut set, Op::MemoryWb, Api::Memory, CacheMode::Wb)?;
        }
        Ok(())
    }

    /// Batches through the array calls, with the refused second WC.
    fn pages_array(&mut self) -> Result {
        let mut set = PageSet::alloc((0..self.cfg.pages).map(|_| 0))?;
        for _ in 0..self.cfg.iterations {
            if self.ex.stopping() {
                break;
            }
            self.change(&mut set, Op::ArrayWc, Api::Array, CacheMode::Wc)?;
            // With PAT on, a page that is not WB cannot be reserved again.
            let pages = set.pages();
            let start = now();
            let again = set.set_again(Api::Array, CacheMode::Wc);
            let ns = (now() - start).max(0) as u64;
            let o = self.st.op(self.cfg.scenario, Op::ArrayWcAgain);
            match (again, o) {
                (Err(_), Some(o)) => o.record_ok(pages as u64, ns),
                (Err(_), None) => {}
                (Ok(()), o) => {
                    if let Some(o) = o {
                        o.record_error();
                    }
                    self.st.errors += 1;
                    pr_err!("pages_array: a second set_pages_array_wc on WC pages was accepted\n");
                }
            }
            self.verify(Op::ArrayWcAgain, &set, CacheMode::Wc);
            self.change(&mut set, Op::ArrayWb, Api::Array, CacheMode::Wb)?;
            self.change(&mut set, Op::ArrayUc, Api::Array, CacheMode::UcMinus)?;
            self.change(&mut set, Op::ArrayWb, Api::Array, CacheMode::Wb)?;
        }
        Ok(())
    }

    /// The seed's regression: WC, `set_pages_array_wb`, and every page
    /// checked WB through the accessor *before* it is freed; a page that
    /// is not is reported with both views and leaked, never freed.
    fn wc_wb_free(&mut self) -> Result {
        for _ in 0..self.cfg.iterations {
            if self.ex.stopping() {
                break;
            }
            let mut set = PageSet::alloc((0..self.cfg.pages).map(|_| 0))?;
            self.change(&mut set, Op::ArrayWc, Api::Array, CacheMode::Wc)?;
            let pages = set.pages();
            self.timed(Op::ArrayWb, pages, || set.set(Api::Array, CacheMode::Wb))?;
            // Always checked, whatever `verify` says: it is the scenario.
            let (bad, first) = set.verify(CacheMode::Wb);
            if let Some(o) = self.st.op(self.cfg.scenario, Op::ArrayWb) {
                o.record_verify_failures(bad);
            }
            self.counted(pages, bad, first);
            if bad > 0 {
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
    /// workers when it holds more than its share.
    fn gem_evict(&mut self, id: u32) -> Result {
        let pool = self.ex.pool();
        let mut rng = XorShift::new(u64::from(id) + 1);
        let limit = self.cfg.pages * POOL_OBJECTS * self.cfg.threads;
        for it in 0..self.cfg.iterations {
            if self.ex.stopping() {
                break;
            }
            let (op, mode) = if it % 2 == 0 {
                (Op::GemBindWc, CacheMode::Wc)
            } else {
                (Op::GemBindUc, CacheMode::UcMinus)
            };
            let size = rng.in_1_to(self.cfg.pages);
            let mut reused = KVec::new();
            let mut fresh = PageSet::new();
            for order in object_orders(size, self.cfg.max_order) {
                match pool.take(order, mode) {
                    Some(e) => reused.push(e, GFP_KERNEL)?,
                    None => fresh.push(cpa::Block::alloc(order)?)?,
                }
            }
            if fresh.pages() > 0 {
                self.change(&mut fresh, op, Api::Array, mode)?;
            }
            for b in fresh.blocks() {
                b.fill(0x5a);
            }
            for e in reused.iter() {
                e.fill(0xa5);
            }
            for b in fresh.release_bound() {
                pool.put(Entry::new(b, mode));
            }
            for e in reused {
                pool.put(e);
            }
            let held = pool.pages();
            if held > limit {
                pool.evict(held - limit, Why::Owner);
            }
        }
        Ok(())
    }

    /// `ioremap_*` of a PCI memory BAR, each mapping's PTEs checked, and
    /// the kernel's memtype bookkeeping read back from `pat_memtype_list`.
    fn ioremap(&mut self, bar: Bar, id: u32) -> Result {
        let mut facts = IoremapFacts::default();
        let mut size = 0u64;
        // SAFETY: all pointers are to valid locals; `dev` is NUL-padded.
        let r = unsafe {
            ffi::pte_attrs_glue_find_bar(
                bar.dev.as_ptr() as *const c_char,
                kernel::ffi::c_int::from(bar.index),
                facts.dev.as_mut_ptr() as *mut c_char,
                facts.dev.len() - 1,
                &mut facts.start,
                &mut size,
            )
        };
        if r != 0 {
            let dev = match cstr_field(&bar.dev) {
                "" => "any display-class PCI device",
                d => d,
            };
            if r == EACCES.to_errno() {
                pr_err!(
                    "ioremap: BAR {} of {} is not prefetchable: a WC or cacheable mapping could let the CPU read device registers speculatively\n",
                    bar.index,
                    dev
                );
                return Err(EACCES);
            }
            pr_err!(
                "ioremap: no prefetchable memory BAR {} on {}\n",
                bar.index,
                dev
            );
            return Err(ENODEV);
        }
        // Each thread maps its own slice of at most 2 MiB: enough pages to
        // check, cheap to map, and no thread's mapping is another's
        // conflict (a range has one memtype at a time).
        let slice = (size / self.cfg.threads.max(1)).min(2 << 20) & !0xfff;
        if slice == 0 {
            pr_err!(
                "ioremap: the BAR is too small for {} threads\n",
                self.cfg.threads
            );
            return Err(EINVAL);
        }
        facts.size = slice;
        if id == 0 {
            self.ex.set_ioremap_facts(facts);
        }
        let base = facts.start + u64::from(id) * slice;
        let len = slice as usize;
        let pages = len >> 12;
        type Map = unsafe extern "C" fn(bindings::resource_size_t, c_ulong) -> *mut c_void;
        let maps: [(Op, CacheMode, Map); 4] = [
            (Op::IoremapWc, CacheMode::Wc, bindings::ioremap_wc),
            (Op::IoremapUc, CacheMode::Uc, bindings::ioremap_uc),
            (Op::IoremapWt, CacheMode::Wt, bindings::ioremap_wt),
            (Op::IoremapCache, CacheMode::Wb, bindings::ioremap_cache),
        ];
        for it in 0..self.cfg.iterations {
            if self.ex.stopping() {
                break;
            }
            for &(op, mode, map) in maps.iter() {
                let mut addr = core::ptr::null_mut();
                let start = base;
                let r = self.timed(op, pages, || {
                    // The range is a prefetchable memory BAR of a PCI device
                    // (`find_bar`): the CPU may read it speculatively through
                    // this mapping, as through any, and we never access it.
                    // SAFETY: mapping such a range has no other effect.
                    addr = unsafe { map(start, len as c_ulong) };
                    if addr.is_null() {
                        Err(ENOMEM)
                    } else {
                        Ok(())
                    }
                });
                if r.is_err() {
                    // Not fatal: the next mode is tried.
                    self.st.errors += 1;
                    continue;
                }
                let Some(mapping) = Mapping::new(addr) else {
                    continue;
                };
                if self.cfg.verify {
                    self.check_mapping(op, &mapping, len, mode);
                }
                if it == 0 && id == 0 && mode == CacheMode::Wc {
                    // Let a test compare the live mapping with the kernel's
                    // page-table dump and pat_memtype_list.
                    self.ex.hold_mapping(mapping.0 as usize);
                }
                drop(mapping);
            }
            if it == 0 {
                facts.conflict_tried = true;
                facts.conflict = self.conflict(base, len, pages)?;
            }
        }
        if id == 0 {
            self.ex.set_ioremap_facts(facts);
        }
        Ok(())
    }

    /// Checks every PTE of a mapping requested as `req`: it carries the
    /// mode the kernel's translation gives `req`, with two documented
    /// exceptions. A WB request may be granted UC- where the MTRRs make the
    /// range uncached (`pat_x_mtrr_type()`). And under Xen PV the
    /// hypervisor forces every cacheable (WB, WT, WP) MMIO mapping of a PV
    /// domain to UC (`get_page_from_l1e()`, "x86: enforce consistent
    /// cachability of MMIO mappings").
    fn check_mapping(&mut self, op: Op, m: &Mapping, len: usize, req: CacheMode) {
        let xen_uc = crate::accessor::paravirt_live()
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
        let first_mode = cpa::Expect::new(accepted[0]);
        let second_mode = accepted.get(1).map(|&m| cpa::Expect::new(m));
        let mut bad = 0;
        let mut first = None;
        for i in 0..len >> 12 {
            let addr = m.0 as usize + (i << 12);
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
        start: u64,
        len: usize,
        pages: usize,
    ) -> Result<Option<Option<CacheMode>>> {
        // SAFETY: as in `ioremap`.
        let Some(wc) = Mapping::new(unsafe { bindings::ioremap_wc(start, len as c_ulong) }) else {
            return Err(ENOMEM);
        };
        let mut second = core::ptr::null_mut();
        self.timed(Op::IoremapConflict, pages, || {
            // SAFETY: as in `ioremap`.
            second = unsafe { bindings::ioremap_uc(start, len as c_ulong) };
            Ok(())
        })?;
        let Some(second) = Mapping::new(second) else {
            return Ok(None);
        };
        let got = accessor_mode(second.0 as usize);
        drop(second);
        drop(wc);
        Ok(Some(got))
    }
}

/// An `ioremap_*` mapping, unmapped on drop.
///
/// # Invariants
///
/// `.0` is a live mapping returned by an `ioremap_*` call.
struct Mapping(*mut c_void);

impl Mapping {
    /// Owns what an `ioremap_*` call returned, if it is a mapping: a null
    /// one must never reach `iounmap()` (it warns: fault injection made
    /// `ioremap_wc` fail and showed it).
    fn new(addr: *mut c_void) -> Option<Mapping> {
        (!addr.is_null()).then_some(Mapping(addr))
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping is live (type invariant) and unused now.
        unsafe { bindings::iounmap(self.0) };
    }
}

/// The cache mode of the entry mapping `addr`, through the accessor.
fn accessor_mode(addr: usize) -> Option<CacheMode> {
    let found = crate::accessor::lookup(addr as u64)?;
    let pv = crate::accessor::pv_val(found.raw, found.level);
    crate::attrs::PteAttrs::decode(pv, found.level, &crate::accessor::pat()).cache_mode()
}
