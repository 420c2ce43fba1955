// SPDX-License-Identifier: GPL-2.0

//! The whole kernel half, for the audit and `pte_attrs_walk()`: the
//! regions' bounds, "System RAM", the walk in chunks, the direct map's
//! answers about a frame, and [`WcAlias`], the module's deliberate WC
//! alias of one of its own pages.
//!
//! The walk ([`drive`]) runs [`KernelWalk::step`] under the top-level
//! table of this CPU (CR3) with preemption disabled for one step, then
//! yields (`cond_resched()`) and checks for a fatal signal before the next
//! one: a step keeps no table pointer, so nothing read under one step is
//! used after it. How long the longest step kept preemption disabled is
//! in the walk's counters (`max_step_ns`).

use core::ops::ControlFlow;
use core::ptr::NonNull;

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::error::{code::*, Result};
use kernel::ffi::{c_int, c_void};

use crate::pure::attrs::{CacheMode, Level, PatTable, PteMasks};
use crate::pure::audit::{self, DirectEntry, Frames, Region, RegionKind, Run, DIRECT_AHEAD};
use crate::pure::kwalk::{KernelWalk, Leaf, Step};
use crate::sys::accessor::{self, KernelPgd, KernelTables};
use crate::sys::page::Block;
use crate::sys::{ffi, mem, time};

/// The regions of `pte_attrs_glue_regions()`, in the order of its `enum
/// PTE_ATTRS_R_*` (glue.h): LDT remap, KASAN shadow, ESPFIX and EFI are
/// `other`.
const REGION_KINDS: [RegionKind; 11] = [
    RegionKind::Direct,
    RegionKind::Vmalloc,
    RegionKind::Vmemmap,
    RegionKind::CpuEntry,
    RegionKind::Fixmap,
    RegionKind::Modules,
    RegionKind::Text,
    RegionKind::Other,
    RegionKind::Other,
    RegionKind::Other,
    RegionKind::Other,
];

/// Entries one step reads (and, for the audit, units of work: a leaf or
/// a question about frames) before it yields. The audit's steps are also
/// bounded by the `struct page`s they read for memtype records
/// ([`audit::STEP_PAGES`]), which a count of entries does not bound: one
/// 1G entry is 262,144 pages. What one step costs is measured there.
pub(crate) const STEP_BUDGET: u64 = 4096;

/// The regions of the running kernel (those it has), in the order of
/// [`REGION_KINDS`].
pub(crate) fn regions() -> KVec<Region> {
    let mut b = [0u64; 2 * REGION_KINDS.len()];
    // SAFETY: `b` holds the `2 * PTE_ATTRS_R_NR` values the glue writes.
    unsafe { ffi::pte_attrs_glue_regions(b.as_mut_ptr()) };
    let mut out = KVec::new();
    for (i, kind) in REGION_KINDS.iter().enumerate() {
        let (start, end) = (b[2 * i], b[2 * i + 1]);
        if start == 0 && end == 0 {
            continue;
        }
        // Regions are few (11): a failed push only loses a name.
        let _ = out.push(
            Region {
                kind: *kind,
                start,
                end,
            },
            GFP_KERNEL,
        );
    }
    out
}

/// The range `[start, end)` of the first region of `kind` (`None` for
/// `other`, which is several, or a region this kernel has not).
pub(crate) fn region_range(kind: RegionKind) -> Option<(u64, u64)> {
    if kind == RegionKind::Other {
        return None;
    }
    regions()
        .iter()
        .find(|r| r.kind == kind)
        .map(|r| (r.start, r.end))
}

/// "System RAM" as sorted pfn ranges `[first, end)`. The number of ranges
/// is that of the firmware's RAM entries, not the size of RAM.
pub(crate) fn ram_ranges() -> Result<KVec<(u64, u64)>> {
    let mut want = 64usize;
    for _ in 0..3 {
        let mut pairs = KVec::from_elem(0u64, 2 * want, GFP_KERNEL)?;
        let max = c_int::try_from(want).map_err(|_| ENOMEM)?;
        // SAFETY: `pairs` holds `2 * want` values.
        let n = unsafe { ffi::pte_attrs_glue_ram_ranges(pairs.as_mut_ptr(), max) };
        let n = usize::try_from(n).map_err(|_| EINVAL)?;
        if n <= want {
            let mut out = KVec::with_capacity(n, GFP_KERNEL)?;
            for i in 0..n {
                let (Some(&lo), Some(&hi)) = (pairs.get(2 * i), pairs.get(2 * i + 1)) else {
                    break;
                };
                out.push((lo, hi), GFP_KERNEL)?;
            }
            return Ok(out);
        }
        // Resources were added in between: ask again with room for them.
        want = n + 16;
    }
    Err(EAGAIN)
}

/// The leaves of the kernel's tables in `walk`'s range, in steps: `step`
/// gets the walk, the top-level table (valid only during the call) and
/// the tables, and runs one [`KernelWalk::step`]; it returns `Break` to
/// end the walk (done, or its visitor stopped it). Between steps the CPU
/// is yielded; `-EINTR` if a fatal signal is pending then. The longest
/// step's time goes to `walk.stats.max_step_ns`.
///
/// `step` runs with preemption disabled: it must not sleep.
pub(crate) fn drive(
    walk: &mut KernelWalk,
    mut step: impl FnMut(&mut KernelWalk, u64, &mut KernelTables) -> ControlFlow<()>,
) -> Result {
    loop {
        let mut tables = KernelTables::for_walk();
        let pgd = KernelPgd::get();
        // Timed inside the guard: its drop may schedule.
        let start = time::Instant::now();
        let flow = step(walk, pgd.addr(), &mut tables);
        let ns = start.elapsed_ns();
        drop(pgd);
        walk.stats.max_step_ns = walk.stats.max_step_ns.max(ns);
        if flow.is_break() || walk.resume_at().is_none() {
            return Ok(());
        }
        time::resched();
        if fatal_signal() {
            return Err(EINTR);
        }
    }
}

/// `fatal_signal_pending(current)`.
pub(crate) fn fatal_signal() -> bool {
    // SAFETY: reads the current task's pending signals; no preconditions.
    unsafe { ffi::pte_attrs_glue_fatal_signal() }
}

/// `VMALLOC_START`: the end of the direct map's region.
fn vmalloc_start() -> u64 {
    // SAFETY: reads one kernel variable (`vmalloc_base`); no preconditions.
    unsafe { ffi::pte_attrs_glue_vmalloc_start() as u64 }
}

/// The direct map's leaves, 4K, 2M and 1G, not-present ones included, as
/// `/proc/meminfo`'s `DirectMap4k/2M/1G` count them (but for CPA's
/// accounting of the kernel image's splits, see README): one walk of
/// `[PAGE_OFFSET, VMALLOC_START)`, which reads each of the direct map's
/// entries once (one 4K table per 2 MiB mapped by 4K pages), in steps of
/// [`STEP_BUDGET`] entries. May sleep; `-EINTR` on a fatal signal.
pub(crate) fn direct_map_census() -> Result<[u64; 3]> {
    let mut walk = KernelWalk::new(
        accessor::layout(),
        accessor::masks(),
        accessor::page_offset(),
        vmalloc_start(),
    )
    .with_not_present();
    drive(&mut walk, |w, root, t| {
        let mut none = |_: &Leaf| ControlFlow::Continue(());
        match w.step(root, t, &mut none, STEP_BUDGET) {
            Step::Done => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        }
    })?;
    Ok(walk.stats.leaves)
}

/// The answers of the kernel about frames, for the audit: "System RAM"
/// from a snapshot, the direct map through the accessor's walk, the
/// memtype record from the page flags.
pub(crate) struct KernelFrames<'a> {
    ram: &'a [(u64, u64)],
    pat: PatTable,
    masks: PteMasks,
    page_offset: u64,
}

impl<'a> KernelFrames<'a> {
    /// Answers with the RAM ranges `ram` (from [`ram_ranges`]).
    pub(crate) fn new(ram: &'a [(u64, u64)]) -> Self {
        KernelFrames {
            ram,
            pat: accessor::pat(),
            masks: accessor::masks(),
            page_offset: accessor::page_offset(),
        }
    }
}

/// Entries of a 4K direct-map table read at most at once for a run.
const DIRECT_RUN: usize = DIRECT_AHEAD as usize;

impl Frames for KernelFrames<'_> {
    fn ram(&mut self, pfn: u64) -> Run<bool> {
        audit::ram_run(self.ram, pfn)
    }

    fn direct(&mut self, pfn: u64, want: u64) -> Run<Option<DirectEntry>> {
        let none = Run {
            first: pfn,
            frames: 1,
            what: None,
        };
        let addr = self.page_offset.wrapping_add(pfn << 12);
        let Some(found) = accessor::walk(addr).ok().flatten() else {
            return none;
        };
        let pv = accessor::pv_val(found.raw, found.level);
        if found.level != Level::K4 {
            let a = accessor::decode(pv, found.level);
            if !a.present() {
                return none;
            }
            let frames = found.level.size() >> 12;
            // The page's first frame: the entry's frame, or (should the
            // entry not map this address's frame) just this frame.
            let first = a.pfn();
            if pfn < first || pfn - first >= frames {
                return none;
            }
            return Run {
                first,
                frames,
                what: Some(DirectEntry {
                    mode: a.cache_mode(),
                    level: found.level,
                }),
            };
        }
        let index = (found.entry as usize >> 3) & 511;
        let n = DIRECT_RUN.min(512 - index).min(want.max(1) as usize);
        let mut buf = [0u64; DIRECT_RUN];
        let Some(run) = buf.get_mut(..n) else {
            return none;
        };
        if !found.raw_run(0, run) {
            return none;
        }
        for v in run.iter_mut() {
            *v = accessor::pv_val(*v, Level::K4);
        }
        audit::pte_run(pfn, run, &self.pat, self.masks)
    }

    fn record(&mut self, pfn: u64, max: u64) -> Run<Option<CacheMode>> {
        let (what, frames) = mem::page_memtype(pfn, max);
        Run {
            first: pfn,
            frames,
            what,
        }
    }
}

/// A second mapping of one page the module owns, write-combining, by
/// `vmap()`, while its direct-map entry stays WB: the attribute alias the
/// audit must list. Owns the page, so the mapping cannot outlive it.
///
/// # Invariants
///
/// `addr` is the address `vmap()` returned for the only page of `block`
/// (order 0), mapped until `drop`, which unmaps it before the block is
/// freed. Nothing is ever written or read through `addr`.
pub(crate) struct WcAlias {
    addr: NonNull<c_void>,
    block: Block,
}

// SAFETY: the mapping and the page are owned; `vunmap()` may be called
// from any task in process context.
unsafe impl Send for WcAlias {}
// SAFETY: `&WcAlias` only gives addresses.
unsafe impl Sync for WcAlias {}

impl WcAlias {
    /// Allocates a page and maps it a second time WC. May sleep.
    pub(crate) fn new() -> Result<WcAlias> {
        let block = Block::alloc(0)?;
        let page = block.page(0).ok_or(EINVAL)?;
        // SAFETY: `page` is the page of `block`, which this value will own
        // and free only after `vunmap()` (type invariant).
        let addr = unsafe { ffi::pte_attrs_glue_vmap_wc(page.as_ptr()) };
        let addr = NonNull::new(addr).ok_or(ENOMEM)?;
        // INVARIANT: the mapping of the block's only page, ours.
        Ok(WcAlias { addr, block })
    }

    /// The WC mapping's address.
    pub(crate) fn addr(&self) -> u64 {
        self.addr.as_ptr() as usize as u64
    }

    /// The page's frame.
    pub(crate) fn pfn(&self) -> u64 {
        self.block.pfn()
    }

    /// The page's direct-map address (WB).
    pub(crate) fn dmap(&self) -> u64 {
        self.block.addr() as u64
    }
}

impl Drop for WcAlias {
    fn drop(&mut self) {
        // SAFETY: the mapping `vmap()` made (type invariant), unmapped once;
        // the block is freed after this, as its field is dropped.
        unsafe { ffi::vunmap(self.addr.as_ptr()) };
        // `vunmap()` frees the area lazily: the WC translation may stay in
        // TLBs (and the page table) until a purge. Purge now, before the
        // page goes back to the allocator, so no WC alias outlives it.
        // SAFETY: process context (the type is dropped where it may sleep).
        unsafe { ffi::vm_unmap_aliases() };
    }
}
