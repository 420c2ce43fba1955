// SPDX-License-Identifier: GPL-2.0

//! The audit: what every leaf of the kernel's tables adds up to, and what
//! is wrong with them.
//!
//! [`Audit`] is a [`Visitor`] of [`KernelWalk`](crate::pure::kwalk::KernelWalk)
//! (through [`Audit::visitor`]) that keeps, with memory fixed up front:
//!
//! - a census per region (entries per level and per cache mode, and the
//!   direct map's 4K/2M/1G counts, `/proc/meminfo`'s `DirectMap*`);
//! - RAM aliases: a RAM frame mapped outside the direct map in another
//!   cache mode than its direct-map entry (found from the frame: no index);
//! - MMIO aliases: a frame that is not RAM mapped twice in two modes (a
//!   bounded index of ranges; what does not fit is counted);
//! - memtype disagreements: a RAM page whose direct-map mode differs from
//!   the kernel's record of it (`get_page_memtype()`), and, for reference,
//!   the RAM pages whose entry and record agree on a mode other than WB;
//! - paravirt disagreements: a leaf present raw but not through the
//!   paravirt hook, or whose flags differ between the two views.
//!
//! Findings of one kind that continue each other (next frame, next page
//! of both addresses, same modes) are one line with a frame count; the
//! list is bounded and counts the lines it left out. [`Audit::render`]
//! writes `key=value` totals, then one line per finding.
//!
//! The kernel side gives the regions, and answers three questions about a
//! frame ([`Frames`]); each answer covers a run of frames, which the
//! audit remembers, so that the frames of a large page or of consecutive
//! pages cost one question.
//!
//! The kernel side runs the walk in steps with preemption disabled
//! ([`Audit::visitor_limited`]). A step ends after a number of leaves and
//! questions, and after at most [`STEP_PAGES`] `struct page`s read for
//! memtype records: the record of a large page's frames is read frame by
//! frame (262,144 of them for a 1G page), so a step may stop inside a leaf
//! and the next one goes on from the frame it stopped at.

use core::fmt;
use core::ops::ControlFlow;

use crate::pure::attrs::{CacheMode, Level, PatTable, PteAttrs, PteMasks};
use crate::pure::kwalk::{Leaf, Visitor, WalkStats};

/// The parts of the kernel address space the census is kept for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum RegionKind {
    /// The direct map of all physical memory (`page_offset_base`).
    Direct,
    /// vmalloc, vmap and ioremap space (`vmalloc_base` .. `VMALLOC_END`).
    Vmalloc,
    /// The `struct page` array (`vmemmap_base`).
    Vmemmap,
    /// `CPU_ENTRY_AREA_BASE` and up.
    CpuEntry,
    /// The fixmap (`FIXADDR_START` .. `FIXADDR_TOP`).
    Fixmap,
    /// `MODULES_VADDR` .. `MODULES_END`.
    Modules,
    /// The kernel image (`__START_KERNEL_map` .. `MODULES_VADDR`).
    Text,
    /// Anything else (LDT remap, ESPFIX, EFI, KASAN shadow, ...).
    Other,
}

/// Number of region kinds.
const NKINDS: usize = 8;

impl RegionKind {
    /// All kinds, in the order of their `as usize`.
    pub(crate) const ALL: [RegionKind; NKINDS] = [
        RegionKind::Direct,
        RegionKind::Vmalloc,
        RegionKind::Vmemmap,
        RegionKind::CpuEntry,
        RegionKind::Fixmap,
        RegionKind::Modules,
        RegionKind::Text,
        RegionKind::Other,
    ];

    /// The name in keys (`region.<name>.4K`) and in the `audit` file.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RegionKind::Direct => "direct",
            RegionKind::Vmalloc => "vmalloc",
            RegionKind::Vmemmap => "vmemmap",
            RegionKind::CpuEntry => "cpu_entry",
            RegionKind::Fixmap => "fixmap",
            RegionKind::Modules => "modules",
            RegionKind::Text => "text",
            RegionKind::Other => "other",
        }
    }

    /// The kind named `name`.
    pub(crate) fn from_name(name: &str) -> Option<RegionKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A region of the kernel address space: `[start, end)`, `end == 0` for
/// the end of the address space.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Region {
    /// What it is.
    pub(crate) kind: RegionKind,
    /// First address.
    pub(crate) start: u64,
    /// First address after it (0: the end of the address space).
    pub(crate) end: u64,
}

impl Region {
    fn contains(&self, addr: u64) -> bool {
        addr >= self.start && (self.end == 0 || addr < self.end)
    }
}

/// At most this many regions are told apart; more go to `other`.
pub(crate) const MAX_REGIONS: usize = 16;

/// A run of frames from a question's frame on, with one answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Run<T> {
    /// The first frame of the run.
    pub(crate) first: u64,
    /// How many frames (at least 1).
    pub(crate) frames: u64,
    /// The answer for every one of them.
    pub(crate) what: T,
}

impl<T: Copy> Run<T> {
    fn covers(&self, pfn: u64) -> bool {
        pfn >= self.first && pfn - self.first < self.frames
    }

    /// Frames from `pfn` (covered) to the end of the run.
    fn left(&self, pfn: u64) -> u64 {
        self.frames - (pfn - self.first)
    }
}

/// The direct-map entry of a RAM frame: its cache mode and level.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct DirectEntry {
    /// The cache mode of the entry's paravirt view (`None`: the PAT index
    /// is unknown).
    pub(crate) mode: Option<CacheMode>,
    /// The entry's level.
    pub(crate) level: Level,
}

/// What the kernel side answers about frames. Every answer is a [`Run`]
/// that holds `pfn`; the longer, the fewer the questions.
pub(crate) trait Frames {
    /// Whether `pfn` is RAM (`walk_system_ram_range()`'s "System RAM").
    fn ram(&mut self, pfn: u64) -> Run<bool>;
    /// The present direct-map entry of RAM frame `pfn` (`None`: not
    /// mapped there, or unreadable). A 2M/1G entry's run is the whole
    /// page; a 4K entry's may go on over the next entries of its table
    /// while their mode and frames continue (see [`pte_run`]), but need
    /// not read more than `want` entries (at least 1).
    fn direct(&mut self, pfn: u64, want: u64) -> Run<Option<DirectEntry>>;
    /// The kernel's memtype record of RAM page `pfn` (`None`: it keeps
    /// none: PAT off, or no `struct page`), for a run of at most `max`
    /// frames from `pfn` on. Reads at most `max` `struct page`s: the
    /// run's, and the one after it that ends it.
    fn record(&mut self, pfn: u64, max: u64) -> Run<Option<CacheMode>>;
}

/// Whether `pfn` is in one of `ranges` (sorted, disjoint `[first, end)`
/// frame ranges, as the kernel side collects "System RAM"), as a run up
/// to the next boundary.
pub(crate) fn ram_run(ranges: &[(u64, u64)], pfn: u64) -> Run<bool> {
    let mut next = u64::MAX;
    for &(lo, hi) in ranges {
        if pfn < lo {
            next = lo;
            break;
        }
        if pfn < hi {
            return Run {
                first: pfn,
                frames: hi - pfn,
                what: true,
            };
        }
    }
    Run {
        first: pfn,
        frames: next - pfn,
        what: false,
    }
}

/// The run of a 4K direct-map entry for frame `pfn`: `pvs` are the
/// paravirt views of its entry and the ones after it in its table. The
/// run goes on while the entries are present, map the next frame and
/// have the same cache mode. `None` if the first is not present or maps
/// another frame.
pub(crate) fn pte_run(
    pfn: u64,
    pvs: &[u64],
    pat: &PatTable,
    masks: PteMasks,
) -> Run<Option<DirectEntry>> {
    let one = |pv: u64| {
        let a = PteAttrs::decode_in(pv, Level::K4, pat, masks);
        a.present().then(|| (a.pfn(), a.cache_mode()))
    };
    let mut frames = 0u64;
    let mut mode = None;
    for &pv in pvs {
        match one(pv) {
            Some((p, m)) if p == pfn + frames && (frames == 0 || m == mode) => {
                mode = m;
                frames += 1;
            }
            _ => break,
        }
    }
    if frames == 0 {
        return Run {
            first: pfn,
            frames: 1,
            what: None,
        };
    }
    Run {
        first: pfn,
        frames,
        what: Some(DirectEntry {
            mode,
            level: Level::K4,
        }),
    }
}

/// Entries per level and per cache mode of one region.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Census {
    /// Leaves per level (4K, 2M, 1G), not-present ones included.
    pub(crate) levels: [u64; 3],
    /// Present leaves per cache mode of their paravirt view (as
    /// [`CacheMode::ALL`]), then unknown.
    pub(crate) modes: [u64; 7],
    /// Leaves that are not present but not empty (visited on request).
    pub(crate) not_present: u64,
}

/// The kinds of findings.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A RAM frame mapped outside the direct map in another mode.
    Alias,
    /// A frame that is not RAM, mapped twice in two modes.
    MmioAlias,
    /// A RAM page whose direct-map mode differs from its memtype record.
    Memtype,
    /// A RAM page whose direct-map mode and record agree, not on WB.
    NonWb,
    /// Present raw, not present through the paravirt hook.
    PvNotPresent,
    /// A flag differs between the raw and the paravirt view.
    PvFlags,
}

const NFINDINGS: usize = 6;

impl Kind {
    /// The first word of the kind's lines.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Alias => "alias",
            Kind::MmioAlias => "mmio_alias",
            Kind::Memtype => "memtype",
            Kind::NonWb => "nonwb",
            Kind::PvNotPresent => "pv_not_present",
            Kind::PvFlags => "pv_flags",
        }
    }
}

/// One line of the listing: a run of `frames` frames from `pfn`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    /// What was found.
    pub(crate) kind: Kind,
    /// The first frame (the raw frame for the paravirt kinds).
    pub(crate) pfn: u64,
    /// Frames in the run.
    pub(crate) frames: u64,
    /// The mapping's address (the direct map's for `Memtype`/`NonWb`).
    pub(crate) addr: u64,
    /// The mapping's level.
    pub(crate) level: Level,
    /// The mapping's mode.
    pub(crate) mode: Option<CacheMode>,
    /// The other address: the direct map's (`Alias`), the other
    /// mapping's (`MmioAlias`); 0 for the others.
    pub(crate) other: u64,
    /// The other mode: the direct map's, the other mapping's, or the
    /// record's.
    pub(crate) other_mode: Option<CacheMode>,
    /// Paravirt view of the first entry (paravirt kinds).
    pub(crate) pv: u64,
    /// Raw view of the first entry (paravirt kinds).
    pub(crate) raw: u64,
}

impl Finding {
    /// An empty slot, to fill a finding buffer with.
    pub(crate) const EMPTY: Finding = Finding {
        kind: Kind::Alias,
        pfn: 0,
        frames: 0,
        addr: 0,
        level: Level::K4,
        mode: None,
        other: 0,
        other_mode: None,
        pv: 0,
        raw: 0,
    };

    /// Whether `f` continues this run: same kind, modes, level and flag
    /// difference, and the next frame at the next page of both addresses.
    fn continued_by(&self, f: &Finding) -> bool {
        let step = self.frames << 12;
        f.kind == self.kind
            && f.mode == self.mode
            && f.other_mode == self.other_mode
            && f.level == self.level
            && (f.pv ^ f.raw) & FLAG_BITS == (self.pv ^ self.raw) & FLAG_BITS
            && Some(f.pfn) == self.pfn.checked_add(self.frames)
            && f.addr == self.addr.wrapping_add(step)
            && (self.other == 0 || f.other == self.other.wrapping_add(step))
    }
}

/// The bits outside any frame field (12..51), to compare the flags two
/// paravirt findings disagree on.
const FLAG_BITS: u64 = 0xfff0_0000_0000_0fff;

/// A range of frames that are not RAM, mapped at `addr` in `mode`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct MmioRange {
    /// First frame.
    pub(crate) pfn: u64,
    /// Frames.
    pub(crate) frames: u64,
    /// Where the first is mapped.
    pub(crate) addr: u64,
    /// The mapping's cache mode.
    pub(crate) mode: Option<CacheMode>,
}

impl MmioRange {
    /// An empty slot, to fill an index buffer with.
    pub(crate) const EMPTY: MmioRange = MmioRange {
        pfn: 0,
        frames: 0,
        addr: 0,
        mode: None,
    };
}

/// Totals of the findings, in frames (entries for the paravirt kinds).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    /// RAM frames aliased outside the direct map in another mode.
    pub(crate) ram_aliases: u64,
    /// Frames of MMIO mapped twice in two modes.
    pub(crate) mmio_aliases: u64,
    /// RAM pages whose direct-map mode differs from their record.
    pub(crate) memtype_mismatches: u64,
    /// RAM pages whose direct-map mode and record agree on a non-WB mode.
    pub(crate) memtype_nonwb: u64,
    /// RAM pages of the direct map checked against their record.
    pub(crate) memtype_checked: u64,
    /// RAM pages of the direct map without a record (PAT off).
    pub(crate) memtype_unrecorded: u64,
    /// RAM frames outside the direct map checked for an alias.
    pub(crate) alias_checked: u64,
    /// RAM frames outside the direct map whose direct-map entry is
    /// missing (not mapped or unreadable): not checked.
    pub(crate) alias_no_direct: u64,
    /// Leaves present raw but not through the paravirt hook.
    pub(crate) pv_not_present: u64,
    /// Leaves whose flags differ between the views.
    pub(crate) pv_flag_diffs: u64,
    /// Questions asked of [`Frames`]: ram, direct, record.
    pub(crate) questions: [u64; 3],
    /// `struct page`s the record questions read (at most the frames of
    /// each answer and the one after: [`Frames::record`]).
    pub(crate) record_pages: u64,
    /// The most of them one step read ([`Audit::visitor_limited`]).
    pub(crate) step_pages_max: u64,
    /// MMIO ranges that did not fit in the index (not checked against
    /// later ones).
    pub(crate) mmio_dropped: u64,
    /// Findings lines, listed or not.
    pub(crate) lines: u64,
    /// Lines left out of the listing.
    pub(crate) left_out: u64,
}

/// Records asked for at once: the frames of a PTE table, so that a
/// direct map of 4K pages costs one question per table.
const RECORD_AHEAD: u64 = 512;

/// The 4K direct-map entries asked for at once when a question goes on
/// where the last run ended (the frames of a leaf outside the direct map
/// continue, as a contiguous buffer's do): the run may then serve the
/// next questions. Otherwise a question asks only for the frames its
/// leaf still has to check: outside the direct map most 4K leaves map
/// frames that have nothing to do with each other (12,065 of 12,107
/// alias checks in a 2 GiB VM were questions of their own), and reading
/// and decoding 64 entries for one was most of the audit's time.
pub(crate) const DIRECT_AHEAD: u64 = 64;

/// `struct page`s one step may read for memtype records: those of 128 MiB
/// of RAM, about what a step bounded by its 4096 entries and questions
/// (`kmap::STEP_BUDGET`) costs.
///
/// Measured in a 4 GiB VM under TCG (7.3, `echo <region> > audit`, each
/// step timed in `max_step_ns`; hardware is about ten times faster): the
/// records cost about 14 ns a page (the direct map's 1,048,576 pages in
/// 14.4 ms over 33 steps), so a step of 32768 pages about 0.45 ms. The
/// steps that end on their 4096 entries and questions took up to 0.35 ms
/// (vmalloc, 27,704 entries in 7 steps) and 1.3 ms (the kernel image:
/// 1795 entries, one step). Without this bound one step read 785,919
/// pages (3 GiB of RAM) in 10 ms or more; with 1G pages, 4096 units are
/// 2048 leaves and questions: the records of 2 TiB of RAM in one step.
pub(crate) const STEP_PAGES: u64 = 1 << 15;

// Fewer than a 1G page's frames: its records take several steps.
const _: () = assert!(STEP_PAGES < 1 << 18);

/// The nonwb lines may take at most this share (1/n) of the listing:
/// they are for reference, the other kinds are problems.
const NONWB_SHARE: usize = 4;

/// A leaf a step left before all its frames were checked: its next visit
/// goes on at frame `next` of it, if it is still the same entry.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Partial {
    addr: u64,
    level: Level,
    raw: u64,
    pv: u64,
    /// The first frame (from the leaf's first) not yet checked.
    next: u64,
}

impl Partial {
    fn of(&self, l: &Leaf) -> bool {
        self.addr == l.addr && self.level == l.level && self.raw == l.raw && self.pv == l.pv
    }
}

/// The audit's state: census, totals, the findings list and the MMIO
/// index, in buffers the caller allocated up front.
///
/// # Invariants
///
/// `nfind <= findings.len()`, `nmmio <= mmio.len()`, `nregions <=
/// MAX_REGIONS`, and `last[k]` is the index of a listed finding of kind
/// `k` when set.
pub(crate) struct Audit<'a> {
    pat: PatTable,
    masks: PteMasks,
    page_offset: u64,
    regions: [Region; MAX_REGIONS],
    nregions: usize,
    /// Index of the region the last leaf was in.
    hint: usize,
    census: [Census; NKINDS],
    totals: Totals,
    findings: &'a mut [Finding],
    nfind: usize,
    nnonwb: usize,
    last: [Option<usize>; NFINDINGS],
    mmio: &'a mut [MmioRange],
    nmmio: usize,
    open: Option<MmioRange>,
    ram: Option<Run<bool>>,
    direct: Option<Run<Option<DirectEntry>>>,
    record: Option<Run<Option<CacheMode>>>,
    /// 2M blocks of the kernel-image mapping mapped by 4K entries, and
    /// the last one counted (leaves come in address order).
    text_4k_blocks: u64,
    last_text_block: Option<u64>,
    finished: bool,
    /// The leaf the last step left unfinished.
    partial: Option<Partial>,
    /// Leaves counted and questions asked so far: [`Audit::work`], kept
    /// as one count because every leaf asks for it (summing the census
    /// each time was a sixth of the audit's time).
    work: u64,
    /// The current step ends once [`Audit::work`] reaches `until` or
    /// `totals.record_pages` reaches `pages_until`; it began with
    /// `pages_from` pages read.
    until: u64,
    pages_until: u64,
    pages_from: u64,
    /// Pages a step may read for records ([`STEP_PAGES`]).
    step_pages: u64,
}

impl<'a> Audit<'a> {
    /// An audit with the live PAT table and frame mask, `page_offset`
    /// (`__va(0)`: the direct map's address of a frame), the regions (at
    /// most [`MAX_REGIONS`], the rest is `other`), and the buffers of the
    /// findings list and of the MMIO index (their lengths are the bounds).
    pub(crate) fn new(
        pat: PatTable,
        masks: PteMasks,
        page_offset: u64,
        regions: &[Region],
        findings: &'a mut [Finding],
        mmio: &'a mut [MmioRange],
    ) -> Audit<'a> {
        let mut r = [Region {
            kind: RegionKind::Other,
            start: 0,
            end: 0,
        }; MAX_REGIONS];
        let n = regions.len().min(MAX_REGIONS);
        for (d, s) in r.iter_mut().zip(regions) {
            *d = *s;
        }
        Audit {
            pat,
            masks,
            page_offset,
            regions: r,
            nregions: n,
            hint: 0,
            census: [Census::default(); NKINDS],
            totals: Totals::default(),
            findings,
            nfind: 0,
            nnonwb: 0,
            last: [None; NFINDINGS],
            mmio,
            nmmio: 0,
            open: None,
            ram: None,
            direct: None,
            record: None,
            text_4k_blocks: 0,
            last_text_block: None,
            finished: false,
            partial: None,
            work: 0,
            until: u64::MAX,
            pages_until: u64::MAX,
            pages_from: 0,
            step_pages: STEP_PAGES,
        }
    }

    /// The audit with another bound on the pages a step reads (at least
    /// 1) than [`STEP_PAGES`].
    // Used by the host tests, whose tables are small.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn with_step_pages(mut self, pages: u64) -> Self {
        self.step_pages = pages.max(1);
        self
    }

    /// The visitor that audits each leaf, asking `frames` about frames,
    /// with no limit: the whole walk in one step.
    // Used by the host tests (the kernel side reads the rendering).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn visitor<'b, F: Frames>(
        &'b mut self,
        frames: &'b mut F,
    ) -> AuditVisitor<'b, 'a, F> {
        self.until = u64::MAX;
        self.pages_until = u64::MAX;
        self.pages_from = self.totals.record_pages;
        AuditVisitor {
            audit: self,
            frames,
            unfinished: false,
        }
    }

    /// The visitor of one step, which stops the walk ([`Step::Stopped`])
    /// once `limit` units of work were done (one a leaf, one a question)
    /// or [`STEP_PAGES`] `struct page`s were read for records, whichever
    /// comes first: so that a step's time under disabled preemption is
    /// bounded by more than its count of entries. Large pages make few
    /// leaves and questions but many pages to read: a step may stop
    /// inside a leaf ([`Visitor::unfinished`]), and the next one goes on
    /// where it stopped. Each step does some work, so that the walk ends.
    ///
    /// [`Step::Stopped`]: crate::pure::kwalk::Step::Stopped
    pub(crate) fn visitor_limited<'b, F: Frames>(
        &'b mut self,
        frames: &'b mut F,
        limit: u64,
    ) -> AuditVisitor<'b, 'a, F> {
        self.until = self.work().saturating_add(limit.max(1));
        self.pages_from = self.totals.record_pages;
        self.pages_until = self.pages_from.saturating_add(self.step_pages);
        AuditVisitor {
            audit: self,
            frames,
            unfinished: false,
        }
    }

    /// Whether the current step has done all the work it may.
    fn spent(&self) -> bool {
        self.work() >= self.until || self.totals.record_pages >= self.pages_until
    }

    /// Ends the audit: the last MMIO range is checked. Call it once the
    /// walk is done; [`Audit::render`] says `complete=0` before.
    pub(crate) fn finish(&mut self) {
        self.close_mmio();
        self.finished = true;
    }

    /// The census of a region kind.
    pub(crate) fn census(&self, kind: RegionKind) -> &Census {
        &self.census[kind as usize]
    }

    /// The totals.
    // Used by the host tests (the kernel side reads the rendering).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn totals(&self) -> &Totals {
        &self.totals
    }

    /// The listed findings.
    pub(crate) fn findings(&self) -> &[Finding] {
        self.findings.get(..self.nfind).unwrap_or(&[])
    }

    /// MMIO ranges in the index.
    // Used by the host tests (the kernel side reads the rendering).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn mmio_ranges(&self) -> usize {
        self.nmmio
    }

    /// 2M blocks of the kernel-image mapping (`Text`) mapped by 4K
    /// entries. CPA counts a split there as a direct-map split
    /// (`virt_addr_valid()` holds for the image), so natively
    /// `/proc/meminfo` says `DirectMap4k` = 4 KiB x (`direct_map.4K` +
    /// 512 x this) and `DirectMap2M` = 2 MiB x (`direct_map.2M` - this).
    // Used by the host tests (the kernel side reads the rendering).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn text_4k_blocks(&self) -> u64 {
        self.text_4k_blocks
    }

    /// Work done so far: leaves audited and questions asked.
    pub(crate) fn work(&self) -> u64 {
        self.work
    }

    /// The memory the audit's state takes: itself and its two buffers.
    pub(crate) fn memory_bytes(&self) -> usize {
        core::mem::size_of::<Self>()
            + core::mem::size_of_val(&*self.findings)
            + core::mem::size_of_val(&*self.mmio)
    }

    fn region_of(&mut self, addr: u64) -> RegionKind {
        let regions = self.regions.get(..self.nregions).unwrap_or(&[]);
        if let Some(r) = regions.get(self.hint) {
            if r.contains(addr) {
                return r.kind;
            }
        }
        match regions.iter().position(|r| r.contains(addr)) {
            Some(i) => {
                self.hint = i;
                regions[i].kind
            }
            None => RegionKind::Other,
        }
    }

    fn decode(&self, v: u64, level: Level) -> PteAttrs {
        PteAttrs::decode_in(v, level, &self.pat, self.masks)
    }

    /// Audits one leaf, or goes on with the one the last step left
    /// unfinished. `false` if the step's work ran out before every frame
    /// of the leaf was checked (the next visit of the leaf goes on).
    fn leaf(&mut self, l: &Leaf, frames: &mut impl Frames) -> bool {
        let kind = self.region_of(l.addr);
        let a = self.decode(l.pv, l.level);
        let mut i = match self.partial.take() {
            Some(p) if p.of(l) => p.next,
            // A leaf the last step left and the walk does not come back
            // to (the tables changed in between) is not finished.
            _ => {
                if !self.count(l, kind, &a) {
                    return true;
                }
                0
            }
        };
        let mode = a.cache_mode();
        let first = a.pfn();
        let n = l.level.size() >> 12;
        while i < n {
            if self.spent() {
                self.partial = Some(Partial {
                    addr: l.addr,
                    level: l.level,
                    raw: l.raw,
                    pv: l.pv,
                    next: i,
                });
                return false;
            }
            let pfn = first + i;
            let ram = self.ram_at(pfn, frames);
            let k = ram.left(pfn).min(n - i);
            let addr = l.addr + (i << 12);
            i += if !ram.what {
                self.mmio(pfn, k, addr, mode);
                k
            } else if kind == RegionKind::Direct {
                self.check_record(pfn, k, addr, l.level, mode, frames)
            } else {
                self.check_alias(pfn, k, addr, l.level, mode, frames)
            };
        }
        true
    }

    /// Counts leaf `l` (decoded `a`) in the census of `kind`, and its
    /// paravirt disagreements; `false` if its frames are not to be
    /// checked (not present in either view).
    fn count(&mut self, l: &Leaf, kind: RegionKind, a: &PteAttrs) -> bool {
        if kind == RegionKind::Text && l.level == Level::K4 {
            let block = l.addr >> 21;
            if self.last_text_block != Some(block) {
                self.last_text_block = Some(block);
                self.text_4k_blocks += 1;
            }
        }
        let c = &mut self.census[kind as usize];
        c.levels[level_index(l.level)] += 1;
        self.work += 1;
        if !l.present() {
            c.not_present += 1;
            return false;
        }
        c.modes[a.cache_mode().map_or(6, |m| m as usize)] += 1;
        if !a.present() {
            self.totals.pv_not_present += 1;
            self.pv_finding(Kind::PvNotPresent, l);
            return false;
        }
        if (l.pv ^ l.raw) & !self.masks.frame_mask(l.level) != 0 {
            self.totals.pv_flag_diffs += 1;
            self.pv_finding(Kind::PvFlags, l);
        }
        true
    }

    fn ram_at(&mut self, pfn: u64, frames: &mut impl Frames) -> Run<bool> {
        match self.ram {
            Some(r) if r.covers(pfn) => r,
            _ => {
                self.totals.questions[0] += 1;
                self.work += 1;
                let r = sane(frames.ram(pfn), pfn);
                self.ram = Some(r);
                r
            }
        }
    }

    /// The direct-map run of `pfn`, asked for (see [`DIRECT_AHEAD`]) if
    /// the last one does not cover it; `need` frames from `pfn` on are
    /// still to be checked.
    fn direct_at(
        &mut self,
        pfn: u64,
        need: u64,
        frames: &mut impl Frames,
    ) -> Run<Option<DirectEntry>> {
        match self.direct {
            Some(r) if r.covers(pfn) => r,
            last => {
                self.totals.questions[1] += 1;
                self.work += 1;
                let sequential = last.is_some_and(|r| r.first.wrapping_add(r.frames) == pfn);
                let want = if sequential {
                    need.max(DIRECT_AHEAD)
                } else {
                    need.max(1)
                };
                let r = sane(frames.direct(pfn, want), pfn);
                self.direct = Some(r);
                r
            }
        }
    }

    /// RAM frames `pfn..pfn + n` of the direct map, at `addr`, in `mode`:
    /// their records. Returns how many were checked before the step's
    /// work ran out (all `n` if it did not).
    fn check_record(
        &mut self,
        pfn: u64,
        n: u64,
        addr: u64,
        level: Level,
        mode: Option<CacheMode>,
        frames: &mut impl Frames,
    ) -> u64 {
        let mut i = 0;
        while i < n {
            let r = match self.record {
                Some(r) if r.covers(pfn + i) => r,
                _ => {
                    if self.spent() {
                        break;
                    }
                    // Not more pages than the step has left (at least 1:
                    // not spent).
                    let left = self.pages_until - self.totals.record_pages;
                    let max = (n - i).max(RECORD_AHEAD).min(left);
                    self.totals.questions[2] += 1;
                    self.work += 1;
                    let r = sane(frames.record(pfn + i, max), pfn + i);
                    // What the kernel side read: the run's pages and the
                    // one that ended it, within `max`.
                    let read = r.left(pfn + i).saturating_add(1).min(max);
                    self.totals.record_pages += read;
                    let step = self.totals.record_pages - self.pages_from;
                    self.totals.step_pages_max = self.totals.step_pages_max.max(step);
                    self.record = Some(r);
                    r
                }
            };
            let k = r.left(pfn + i).min(n - i);
            match r.what {
                None => self.totals.memtype_unrecorded += k,
                Some(rec) => {
                    self.totals.memtype_checked += k;
                    let kind = if Some(rec) != mode {
                        self.totals.memtype_mismatches += k;
                        Some(Kind::Memtype)
                    } else if rec != CacheMode::Wb {
                        self.totals.memtype_nonwb += k;
                        Some(Kind::NonWb)
                    } else {
                        None
                    };
                    if let Some(kind) = kind {
                        self.add(Finding {
                            kind,
                            pfn: pfn + i,
                            frames: k,
                            addr: addr + (i << 12),
                            level,
                            mode,
                            other: 0,
                            other_mode: Some(rec),
                            pv: 0,
                            raw: 0,
                        });
                    }
                }
            }
            i += k;
        }
        i
    }

    /// RAM frames `pfn..pfn + n` mapped at `addr` outside the direct map,
    /// in `mode`: their direct-map entries. Returns how many were checked
    /// before the step's work ran out (all `n` if it did not).
    fn check_alias(
        &mut self,
        pfn: u64,
        n: u64,
        addr: u64,
        level: Level,
        mode: Option<CacheMode>,
        frames: &mut impl Frames,
    ) -> u64 {
        let mut i = 0;
        while i < n {
            let p = pfn + i;
            if !self.direct.is_some_and(|r| r.covers(p)) && self.spent() {
                break;
            }
            let d = self.direct_at(p, n - i, frames);
            let k = d.left(p).min(n - i);
            match d.what {
                None => self.totals.alias_no_direct += k,
                Some(e) => {
                    self.totals.alias_checked += k;
                    if e.mode != mode {
                        self.totals.ram_aliases += k;
                        self.add(Finding {
                            kind: Kind::Alias,
                            pfn: p,
                            frames: k,
                            addr: addr + (i << 12),
                            level,
                            mode,
                            other: self.page_offset.wrapping_add(p << 12),
                            other_mode: e.mode,
                            pv: 0,
                            raw: 0,
                        });
                    }
                }
            }
            i += k;
        }
        i
    }

    /// Frames `pfn..pfn + n`, not RAM, mapped at `addr` in `mode`.
    fn mmio(&mut self, pfn: u64, n: u64, addr: u64, mode: Option<CacheMode>) {
        if let Some(o) = &mut self.open {
            if o.mode == mode
                && o.pfn + o.frames == pfn
                && o.addr.wrapping_add(o.frames << 12) == addr
            {
                o.frames += n;
                return;
            }
        }
        self.close_mmio();
        self.open = Some(MmioRange {
            pfn,
            frames: n,
            addr,
            mode,
        });
    }

    /// Checks the open MMIO range against the index, then keeps it there.
    fn close_mmio(&mut self) {
        let Some(o) = self.open.take() else {
            return;
        };
        for i in 0..self.nmmio {
            let Some(&s) = self.mmio.get(i) else {
                break;
            };
            let lo = o.pfn.max(s.pfn);
            let hi = (o.pfn + o.frames).min(s.pfn + s.frames);
            if lo >= hi || s.mode == o.mode {
                continue;
            }
            self.totals.mmio_aliases += hi - lo;
            self.add(Finding {
                kind: Kind::MmioAlias,
                pfn: lo,
                frames: hi - lo,
                addr: o.addr.wrapping_add((lo - o.pfn) << 12),
                level: Level::K4,
                mode: o.mode,
                other: s.addr.wrapping_add((lo - s.pfn) << 12),
                other_mode: s.mode,
                pv: 0,
                raw: 0,
            });
        }
        match self.mmio.get_mut(self.nmmio) {
            Some(slot) => {
                *slot = o;
                self.nmmio += 1;
            }
            None => self.totals.mmio_dropped += 1,
        }
    }

    fn pv_finding(&mut self, kind: Kind, l: &Leaf) {
        let raw_pfn = self.decode(l.raw, l.level).pfn();
        self.add(Finding {
            kind,
            pfn: raw_pfn,
            frames: l.level.size() >> 12,
            addr: l.addr,
            level: l.level,
            mode: self.decode(l.pv, l.level).cache_mode(),
            other: 0,
            other_mode: self.decode(l.raw, l.level).cache_mode(),
            pv: l.pv,
            raw: l.raw,
        });
    }

    /// Lists `f`, or extends the last line of its kind, or counts it out.
    fn add(&mut self, f: Finding) {
        let k = f.kind as usize;
        if let Some(last) = self.last.get(k).copied().flatten() {
            if let Some(prev) = self.findings.get_mut(last) {
                if prev.continued_by(&f) {
                    prev.frames += f.frames;
                    return;
                }
            }
        }
        self.totals.lines += 1;
        let room = if f.kind == Kind::NonWb {
            self.nnonwb < self.findings.len() / NONWB_SHARE
        } else {
            true
        };
        match self.findings.get_mut(self.nfind).filter(|_| room) {
            Some(slot) => {
                *slot = f;
                if let Some(l) = self.last.get_mut(k) {
                    *l = Some(self.nfind);
                }
                self.nfind += 1;
                if f.kind == Kind::NonWb {
                    self.nnonwb += 1;
                }
            }
            None => self.totals.left_out += 1,
        }
    }

    /// Writes the totals as `key=value` lines (with the walk's counters
    /// `walk`), then one line per listed finding.
    pub(crate) fn render(&self, w: &mut impl fmt::Write, walk: &WalkStats) -> fmt::Result {
        let t = &self.totals;
        writeln!(w, "complete={}", u8::from(self.finished))?;
        writeln!(w, "tables={}", walk.tables)?;
        writeln!(w, "entries={}", walk.entries)?;
        writeln!(w, "unreadable_tables={}", walk.unreadable)?;
        writeln!(w, "repeated_tables={}", walk.repeated)?;
        writeln!(w, "steps={}", walk.steps)?;
        writeln!(w, "revisits={}", walk.revisits)?;
        writeln!(w, "max_step_ns={}", walk.max_step_ns)?;
        let d = self.census(RegionKind::Direct);
        for (i, l) in LEVELS.iter().enumerate() {
            writeln!(w, "direct_map.{}={}", l.name(), d.levels[i])?;
        }
        writeln!(w, "direct_map.not_present={}", d.not_present)?;
        writeln!(w, "text_4K_blocks={}", self.text_4k_blocks)?;
        for kind in RegionKind::ALL {
            let c = self.census(kind);
            let n = kind.name();
            for (i, l) in LEVELS.iter().enumerate() {
                writeln!(w, "region.{n}.{}={}", l.name(), c.levels[i])?;
            }
            for (i, key) in MODE_KEYS.iter().enumerate() {
                writeln!(w, "region.{n}.{key}={}", c.modes[i])?;
            }
            writeln!(w, "region.{n}.not_present={}", c.not_present)?;
        }
        for (key, v) in [
            ("ram_aliases", t.ram_aliases),
            ("mmio_aliases", t.mmio_aliases),
            ("memtype_mismatches", t.memtype_mismatches),
            ("memtype_nonwb", t.memtype_nonwb),
            ("memtype_checked", t.memtype_checked),
            ("memtype_unrecorded", t.memtype_unrecorded),
            ("alias_checked", t.alias_checked),
            ("alias_no_direct", t.alias_no_direct),
            ("pv_not_present", t.pv_not_present),
            ("pv_flag_diffs", t.pv_flag_diffs),
            ("questions.ram", t.questions[0]),
            ("questions.direct", t.questions[1]),
            ("questions.record", t.questions[2]),
            ("record_pages", t.record_pages),
            ("step_pages_max", t.step_pages_max),
            ("step_pages_bound", self.step_pages),
            ("mmio_ranges", self.nmmio as u64),
            ("mmio_capacity", self.mmio.len() as u64),
            ("mmio_dropped", t.mmio_dropped),
            ("memory_bytes", self.memory_bytes() as u64),
            ("findings", t.lines),
            ("listed", self.nfind as u64),
            ("left_out", t.left_out),
        ] {
            writeln!(w, "{key}={v}")?;
        }
        for f in self.findings() {
            write_finding(w, f)?;
        }
        Ok(())
    }
}

/// The `audit` listing line of a finding.
pub(crate) fn write_finding(w: &mut impl fmt::Write, f: &Finding) -> fmt::Result {
    let name = |m: Option<CacheMode>| m.map_or("?", CacheMode::name);
    write!(w, "{} ", f.kind.name())?;
    match f.kind {
        Kind::Alias | Kind::MmioAlias => writeln!(
            w,
            "pfn={:#x} frames={} addr={:#018x} level={} mode={} {}={:#018x} {}_mode={}",
            f.pfn,
            f.frames,
            f.addr,
            f.level,
            name(f.mode),
            if f.kind == Kind::Alias {
                "dmap"
            } else {
                "other"
            },
            f.other,
            if f.kind == Kind::Alias {
                "dmap"
            } else {
                "other"
            },
            name(f.other_mode),
        ),
        Kind::Memtype | Kind::NonWb => writeln!(
            w,
            "pfn={:#x} frames={} dmap={:#018x} level={} mode={} record={}",
            f.pfn,
            f.frames,
            f.addr,
            f.level,
            name(f.mode),
            name(f.other_mode),
        ),
        Kind::PvNotPresent | Kind::PvFlags => writeln!(
            w,
            "addr={:#018x} frames={} level={} pv={:#018x} raw={:#018x} raw_pfn={:#x} diff={:#018x} pv_mode={} raw_mode={}",
            f.addr,
            f.frames,
            f.level,
            f.pv,
            f.raw,
            f.pfn,
            f.pv ^ f.raw,
            name(f.mode),
            name(f.other_mode),
        ),
    }
}

const LEVELS: [Level; 3] = [Level::K4, Level::M2, Level::G1];

/// The census keys of the modes, as [`CacheMode::ALL`], then unknown.
const MODE_KEYS: [&str; 7] = ["wb", "wc", "uc_minus", "uc", "wt", "wp", "unknown"];

fn level_index(level: Level) -> usize {
    match level {
        Level::K4 => 0,
        Level::M2 => 1,
        Level::G1 => 2,
    }
}

/// `r` if it holds `pfn`, else a run of just `pfn` with its answer (a
/// kernel side that answered for another frame is not trusted further).
fn sane<T: Copy>(r: Run<T>, pfn: u64) -> Run<T> {
    if r.frames > 0 && r.covers(pfn) {
        r
    } else {
        Run {
            first: pfn,
            frames: 1,
            what: r.what,
        }
    }
}

/// The visitor of [`Audit::visitor`] and [`Audit::visitor_limited`].
pub(crate) struct AuditVisitor<'b, 'a, F> {
    audit: &'b mut Audit<'a>,
    frames: &'b mut F,
    /// The last leaf was left unfinished.
    unfinished: bool,
}

impl<F: Frames> Visitor for AuditVisitor<'_, '_, F> {
    fn leaf(&mut self, leaf: &Leaf) -> ControlFlow<()> {
        self.unfinished = !self.audit.leaf(leaf, self.frames);
        if self.unfinished || self.audit.spent() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn unfinished(&self) -> bool {
        self.unfinished
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::collections::{BTreeMap, BTreeSet};
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    /// `x86/PAT: Configuration [0-7]: WB  WC  UC- UC  WB  WP  UC- WT`.
    const NATIVE_MSR: u64 = 0x0407_0506_0007_0106;
    const DMAP: u64 = 0xffff_8880_0000_0000;
    const VMALLOC: u64 = 0xffff_c900_0000_0000;
    const TEXT: u64 = 0xffff_ffff_8000_0000;
    const GB: u64 = 1 << 30;

    use CacheMode::*;

    fn regions() -> Vec<Region> {
        vec![
            Region {
                kind: RegionKind::Direct,
                start: DMAP,
                end: DMAP + (64 << 40),
            },
            Region {
                kind: RegionKind::Vmalloc,
                start: VMALLOC,
                end: VMALLOC + (32 << 40),
            },
            Region {
                kind: RegionKind::Text,
                start: TEXT,
                end: TEXT + GB,
            },
        ]
    }

    /// PWT/PCD/PAT bits of `mode` in the native table, at `level`.
    fn mode_bits(mode: CacheMode, level: Level) -> u64 {
        let pat = PatTable::from_msr(NATIVE_MSR);
        let i = u64::from(pat.index_of(mode).unwrap());
        ((i & 1) << 3) | (((i >> 1) & 1) << 4) | (((i >> 2) & 1) << level.pat_bit())
    }

    fn entry(level: Level, pfn: u64, mode: CacheMode) -> u64 {
        let pse = if level == Level::K4 { 0 } else { 1 << 7 };
        0x8000_0000_0000_0163 | pse | (pfn << 12) | mode_bits(mode, level)
    }

    fn leaf(addr: u64, level: Level, pfn: u64, mode: CacheMode) -> Leaf {
        let raw = entry(level, pfn, mode);
        Leaf {
            addr,
            level,
            raw,
            pv: raw,
        }
    }

    fn dleaf(level: Level, pfn: u64, mode: CacheMode) -> Leaf {
        leaf(DMAP + (pfn << 12), level, pfn, mode)
    }

    /// RAM in `ram`; the direct map as pages (first pfn, level, mode);
    /// records where not WB; `None` records everywhere if `pat_off`.
    struct Fake {
        ram: Vec<(u64, u64)>,
        dmap: Vec<(u64, Level, CacheMode)>,
        records: BTreeMap<u64, CacheMode>,
        pat_off: bool,
        /// Whether 4K direct-map entries come back as runs (as
        /// `pte_run` makes them) or one frame each.
        runs: bool,
        /// The `want` of every direct-map question, in order.
        wants: Vec<u64>,
    }

    impl Fake {
        fn new() -> Fake {
            Fake {
                ram: vec![(0x100, 0x80000), (0x100000, 0x140000)],
                dmap: Vec::new(),
                records: BTreeMap::new(),
                pat_off: false,
                runs: true,
                wants: Vec::new(),
            }
        }
    }

    impl Frames for Fake {
        fn ram(&mut self, pfn: u64) -> Run<bool> {
            ram_run(&self.ram, pfn)
        }
        fn direct(&mut self, pfn: u64, want: u64) -> Run<Option<DirectEntry>> {
            self.wants.push(want);
            let pat = PatTable::from_msr(NATIVE_MSR);
            for &(first, level, mode) in &self.dmap {
                let n = level.size() >> 12;
                if (first..first + n).contains(&pfn) {
                    if level != Level::K4 {
                        return Run {
                            first,
                            frames: n,
                            what: Some(DirectEntry {
                                mode: Some(mode),
                                level,
                            }),
                        };
                    }
                    // The rest of the PTE table as pte_run sees it, at
                    // most `want` entries.
                    let end = if self.runs {
                        ((pfn | 511) + 1).min(pfn + want.max(1))
                    } else {
                        pfn + 1
                    };
                    let pvs: Vec<u64> = (pfn..end)
                        .map(|p| {
                            self.dmap
                                .iter()
                                .find(|d| d.0 == p && d.1 == Level::K4)
                                .map_or(0, |d| entry(Level::K4, p, d.2))
                        })
                        .collect();
                    return pte_run(pfn, &pvs, &pat, PteMasks::ARCH);
                }
            }
            Run {
                first: pfn,
                frames: 1,
                what: None,
            }
        }
        fn record(&mut self, pfn: u64, max: u64) -> Run<Option<CacheMode>> {
            if self.pat_off {
                return Run {
                    first: pfn,
                    frames: max,
                    what: None,
                };
            }
            let what = self.records.get(&pfn).copied().unwrap_or(Wb);
            let mut n = 1;
            while n < max && self.records.get(&(pfn + n)).copied().unwrap_or(Wb) == what {
                n += 1;
            }
            Run {
                first: pfn,
                frames: n,
                what: Some(what),
            }
        }
    }

    struct Bufs {
        f: Vec<Finding>,
        m: Vec<MmioRange>,
    }

    fn bufs(nf: usize, nm: usize) -> Bufs {
        Bufs {
            f: vec![Finding::EMPTY; nf],
            m: vec![MmioRange::EMPTY; nm],
        }
    }

    fn audit(b: &mut Bufs) -> Audit<'_> {
        Audit::new(
            PatTable::from_msr(NATIVE_MSR),
            PteMasks::ARCH,
            DMAP,
            &regions(),
            &mut b.f,
            &mut b.m,
        )
    }

    fn feed(a: &mut Audit<'_>, fr: &mut Fake, leaves: &[Leaf]) {
        let mut v = a.visitor(fr);
        for l in leaves {
            assert!(v.leaf(l).is_continue());
        }
        a.finish();
    }

    fn render(a: &Audit<'_>) -> String {
        let mut s = String::new();
        a.render(&mut s, &WalkStats::default()).unwrap();
        s
    }

    fn get(s: &str, key: &str) -> u64 {
        let p = std::format!("{key}=");
        s.lines()
            .find_map(|l| l.strip_prefix(&p))
            .unwrap_or_else(|| panic!("no {key} in {s}"))
            .parse()
            .unwrap()
    }

    fn listing(s: &str) -> Vec<&str> {
        s.lines()
            .filter(|l| !l.contains("=") || l.contains(' '))
            .collect()
    }

    #[test]
    fn runs_of_ram_and_ptes() {
        let ram = [(0x100, 0x200), (0x300, 0x310)];
        assert!(!ram_run(&ram, 0).what);
        assert_eq!(ram_run(&ram, 0).frames, 0x100);
        assert_eq!(ram_run(&ram, 0x1ff).frames, 1);
        assert!(ram_run(&ram, 0x1ff).what);
        assert_eq!(
            (ram_run(&ram, 0x200).what, ram_run(&ram, 0x200).frames),
            (false, 0x100)
        );
        assert_eq!(ram_run(&ram, 0x310).frames, u64::MAX - 0x310);
        let pat = PatTable::from_msr(NATIVE_MSR);
        let m = PteMasks::ARCH;
        let pvs = [
            entry(Level::K4, 7, Wb),
            entry(Level::K4, 8, Wb),
            entry(Level::K4, 9, Wc),
        ];
        let r = pte_run(7, &pvs, &pat, m);
        assert_eq!((r.first, r.frames), (7, 2));
        assert_eq!(r.what.unwrap().mode, Some(Wb));
        let r = pte_run(9, &pvs[2..], &pat, m);
        assert_eq!((r.frames, r.what.unwrap().mode), (1, Some(Wc)));
        // Not present, or another frame: no entry.
        assert_eq!(pte_run(7, &[0], &pat, m).what, None);
        assert_eq!(pte_run(6, &pvs, &pat, m).what, None);
        // A gap in the frames ends the run.
        let gap = [entry(Level::K4, 7, Wb), entry(Level::K4, 9, Wb)];
        assert_eq!(pte_run(7, &gap, &pat, m).frames, 1);
    }

    #[test]
    fn census_per_region_level_and_mode() {
        let mut b = bufs(8, 8);
        let mut a = audit(&mut b);
        let mut fr = Fake::new();
        let mut np = dleaf(Level::K4, 0x2000, Wb);
        np.raw &= !1;
        np.pv = np.raw;
        feed(
            &mut a,
            &mut fr,
            &[
                dleaf(Level::G1, 0x40000, Wb),
                dleaf(Level::M2, 0x200, Wb),
                dleaf(Level::M2, 0x400, Wb),
                dleaf(Level::K4, 0x1000, Wb),
                np,
                leaf(VMALLOC, Level::K4, 0x1000, Wb),
                leaf(TEXT + (16 << 20), Level::M2, 0x1000, Wb),
                // Two split 2M blocks of the image: 3 pages, 2 blocks.
                leaf(TEXT + (18 << 20), Level::K4, 0x1200, Wb),
                leaf(TEXT + (18 << 20) + 4096, Level::K4, 0x1201, Wb),
                leaf(TEXT + (20 << 20), Level::K4, 0x1400, Wb),
                leaf(0xffff_fe00_0000_0000, Level::K4, 0x1001, Wb),
            ],
        );
        assert_eq!(a.text_4k_blocks(), 2);
        let d = a.census(RegionKind::Direct);
        assert_eq!(d.levels, [2, 2, 1]);
        assert_eq!(d.not_present, 1);
        assert_eq!(d.modes, [4, 0, 0, 0, 0, 0, 0]);
        assert_eq!(a.census(RegionKind::Vmalloc).levels, [1, 0, 0]);
        assert_eq!(a.census(RegionKind::Text).levels, [3, 1, 0]);
        assert_eq!(a.census(RegionKind::Other).levels, [1, 0, 0]);
        assert_eq!(a.census(RegionKind::Modules).levels, [0, 0, 0]);
        let s = render(&a);
        assert_eq!(get(&s, "direct_map.4K"), 2);
        assert_eq!(get(&s, "direct_map.2M"), 2);
        assert_eq!(get(&s, "direct_map.1G"), 1);
        assert_eq!(get(&s, "direct_map.not_present"), 1);
        assert_eq!(get(&s, "region.text.2M"), 1);
        assert_eq!(get(&s, "text_4K_blocks"), 2);
        assert_eq!(get(&s, "region.direct.wb"), 4);
        assert_eq!(get(&s, "region.other.4K"), 1);
        assert_eq!(get(&s, "complete"), 1);
        assert_eq!(get(&s, "ram_aliases"), 0);
        // The WB mapping outside the direct map of WB RAM is no alias: and
        // nothing at all is listed.
        assert_eq!(get(&s, "findings"), 0);
        assert!(listing(&s).is_empty(), "{s}");
        // Every totals line is key=value.
        assert!(s.lines().all(|l| l.split_once('=').is_some()));
    }

    #[test]
    fn ram_alias_found_and_wb_alias_not() {
        let mut fr = Fake::new();
        fr.dmap = vec![
            (0x1000, Level::K4, Wb),
            (0x1001, Level::K4, Wb),
            (0x1002, Level::K4, Wb),
            (0x1003, Level::K4, Wc),
        ];
        let mut b = bufs(8, 8);
        let mut a = audit(&mut b);
        feed(
            &mut a,
            &mut fr,
            &[
                // WB vmalloc of WB RAM: fine.
                leaf(VMALLOC, Level::K4, 0x1000, Wb),
                // WC vmap of WB RAM, two pages: one line of 2 frames.
                leaf(VMALLOC + 0x10000, Level::K4, 0x1001, Wc),
                leaf(VMALLOC + 0x11000, Level::K4, 0x1002, Wc),
                // WC vmap of a page whose direct map is WC: fine.
                leaf(VMALLOC + 0x20000, Level::K4, 0x1003, Wc),
            ],
        );
        let s = render(&a);
        assert_eq!(get(&s, "ram_aliases"), 2);
        assert_eq!(get(&s, "alias_checked"), 4);
        assert_eq!(get(&s, "findings"), 1);
        assert_eq!(
            listing(&s),
            [
                "alias pfn=0x1001 frames=2 addr=0xffffc90000010000 level=4K mode=WC \
              dmap=0xffff888001001000 dmap_mode=WB"
            ]
        );
        // Without the alias check the test above would see nothing: a page
        // whose direct map is missing is counted, not listed.
        let mut fr = Fake::new();
        let mut b = bufs(8, 8);
        let mut a = audit(&mut b);
        feed(&mut a, &mut fr, &[leaf(VMALLOC, Level::K4, 0x1001, Wc)]);
        let s = render(&a);
        assert_eq!((get(&s, "ram_aliases"), get(&s, "alias_no_direct")), (0, 1));
    }

    #[test]
    fn large_pages_cost_one_question() {
        let mut fr = Fake::new();
        // 1G of RAM in the direct map as one 1G page, WB; the kernel text
        // maps 2M of it WB and vmalloc 1G of it UC-.
        fr.dmap = vec![(0x100000, Level::G1, Wb)];
        let mut b = bufs(8, 8);
        let mut a = audit(&mut b);
        feed(
            &mut a,
            &mut fr,
            &[
                leaf(TEXT, Level::M2, 0x100000, Wb),
                leaf(VMALLOC + GB, Level::G1, 0x100000, UcMinus),
            ],
        );
        let t = *a.totals();
        assert_eq!(t.questions[1], 1);
        assert_eq!(t.alias_checked, 512 + (1 << 18));
        assert_eq!(t.ram_aliases, 1 << 18);
        assert_eq!(a.findings().len(), 1);
        assert_eq!(a.findings()[0].frames, 1 << 18);
        // 600 WC pages of a 4K direct map, consecutive: the first
        // question asks for its one frame; the next goes on where that
        // run ended and asks for DIRECT_AHEAD, and so on: 1 + 599 / 64
        // (rounded up) questions, not one per page.
        let mut fr = Fake::new();
        fr.dmap = (0x2000..0x2000 + 600).map(|p| (p, Level::K4, Wb)).collect();
        let leaves: Vec<_> = (0..600)
            .map(|i| leaf(VMALLOC + (i << 12), Level::K4, 0x2000 + i, Wc))
            .collect();
        let mut b = bufs(8, 8);
        let mut a = audit(&mut b);
        feed(&mut a, &mut fr, &leaves);
        assert_eq!(a.totals().questions[1], 11);
        assert_eq!(fr.wants[..2], [1, DIRECT_AHEAD]);
        assert!(fr.wants[1..].iter().all(|&w| w == DIRECT_AHEAD));
        assert_eq!(a.totals().ram_aliases, 600);
        assert_eq!(a.findings().len(), 1);
        // Without runs, one question per page: the cache is what saves.
        fr.runs = false;
        let mut b = bufs(8, 8);
        let mut a = audit(&mut b);
        feed(&mut a, &mut fr, &leaves);
        assert_eq!(a.totals().questions[1], 600);
        assert_eq!(a.totals().ram_aliases, 600);
    }

    #[test]
    fn work_is_the_leaves_counted_and_the_questions_asked() {
        let mut fr = Fake::new();
        fr.dmap = vec![(0x200, Level::M2, Wb), (0x2000, Level::K4, Wb)];
        let mut b = bufs(8, 8);
        let mut a = audit(&mut b);
        feed(
            &mut a,
            &mut fr,
            &[
                dleaf(Level::M2, 0x200, Wb),
                dleaf(Level::K4, 0x2000, Wb),
                leaf(VMALLOC, Level::K4, 0x2000, Wc),
                leaf(VMALLOC + 0x1000, Level::K4, 0x250, Wb),
                leaf(VMALLOC + 0x2000, Level::K4, 0x90000, UcMinus),
            ],
        );
        let leaves: u64 = RegionKind::ALL
            .iter()
            .map(|&k| a.census(k).levels.iter().sum::<u64>())
            .sum();
        let questions: u64 = a.totals().questions.iter().sum();
        assert_eq!(leaves, 5);
        assert!(questions >= 3, "{questions}");
        assert_eq!(a.work(), leaves + questions);
    }

    #[test]
    fn scattered_frames_ask_for_what_their_leaf_needs() {
        // Scattered 4K leaves (every other frame, backwards) ask for one
        // entry each; a 2M leaf outside the direct map over 4K entries
        // asks for all its frames at once.
        let mut fr = Fake::new();
        fr.dmap = (0x2000..0x2400).map(|p| (p, Level::K4, Wb)).collect();
        let mut leaves: Vec<_> = (0..8)
            .map(|i| leaf(VMALLOC + (i << 12), Level::K4, 0x21f0 - 2 * i, Wc))
            .collect();
        leaves.push(leaf(TEXT, Level::M2, 0x2200, Wb));
        let mut b = bufs(8, 8);
        let mut a = audit(&mut b);
        feed(&mut a, &mut fr, &leaves);
        assert_eq!(fr.wants, [1, 1, 1, 1, 1, 1, 1, 1, 512]);
        assert_eq!(a.totals().questions[1], 9);
        assert_eq!(a.totals().ram_aliases, 8);
        assert_eq!(a.totals().alias_checked, 8 + 512);
    }

    #[test]
    fn memtype_record_against_direct_map() {
        let mut fr = Fake::new();
        // A WC pool block, consistent: direct map WC, record WC.
        for p in 0x3000..0x3004 {
            fr.records.insert(p, Wc);
        }
        // A page freed with its record still WC: direct map WB.
        fr.records.insert(0x3100, Wc);
        // A page made UC- whose record is WB.
        let mut b = bufs(8, 8);
        let mut a = audit(&mut b);
        let mut leaves: Vec<_> = (0x3000..0x3004).map(|p| dleaf(Level::K4, p, Wc)).collect();
        leaves.push(dleaf(Level::K4, 0x3100, Wb));
        leaves.push(dleaf(Level::K4, 0x3200, UcMinus));
        leaves.push(dleaf(Level::M2, 0x3400, Wb));
        feed(&mut a, &mut fr, &leaves);
        let s = render(&a);
        assert_eq!(get(&s, "memtype_mismatches"), 2);
        assert_eq!(get(&s, "memtype_nonwb"), 4);
        assert_eq!(get(&s, "memtype_checked"), 4 + 2 + 512);
        // The 2M page's 512 records, all WB: one question.
        // Records come in runs: the 4 WC pages are one question, the
        // lone WC page one, the UC- page's run of WB records reaches into
        // the 2M page but not past it: 4 in all.
        assert_eq!(get(&s, "questions.record"), 4);
        assert_eq!(
            listing(&s),
            [
                "nonwb pfn=0x3000 frames=4 dmap=0xffff888003000000 level=4K mode=WC record=WC",
                "memtype pfn=0x3100 frames=1 dmap=0xffff888003100000 level=4K mode=WB record=WC",
                "memtype pfn=0x3200 frames=1 dmap=0xffff888003200000 level=4K mode=UC- record=WB",
            ]
        );
        // PAT off: no record, nothing to disagree with.
        fr.pat_off = true;
        let mut b = bufs(8, 8);
        let mut a = audit(&mut b);
        feed(&mut a, &mut fr, &leaves);
        let t = a.totals();
        assert_eq!(
            (t.memtype_mismatches, t.memtype_unrecorded),
            (0, 4 + 2 + 512)
        );
        assert!(a.findings().is_empty());
    }

    #[test]
    fn mmio_mapped_twice() {
        let mut fr = Fake::new();
        let bar = 0xfd000u64;
        let mut b = bufs(8, 2);
        let mut a = audit(&mut b);
        let mut leaves = Vec::new();
        // The BAR's 16 pages WC at one place, 4 of them UC- at another,
        // and 4 WC again at a third (same mode: fine).
        for i in 0..16 {
            leaves.push(leaf(VMALLOC + (i << 12), Level::K4, bar + i, Wc));
        }
        for i in 0..4 {
            leaves.push(leaf(
                VMALLOC + 0x100000 + (i << 12),
                Level::K4,
                bar + 8 + i,
                UcMinus,
            ));
        }
        for i in 0..4 {
            leaves.push(leaf(VMALLOC + 0x200000 + (i << 12), Level::K4, bar + i, Wc));
        }
        // A third range does not fit in the index of two: dropped.
        leaves.push(leaf(VMALLOC + 0x300000, Level::K4, 0xfe000, Uc));
        feed(&mut a, &mut fr, &leaves);
        let s = render(&a);
        assert_eq!(get(&s, "mmio_aliases"), 4);
        assert_eq!(get(&s, "mmio_ranges"), 2);
        assert_eq!(get(&s, "mmio_capacity"), 2);
        assert_eq!(get(&s, "mmio_dropped"), 2);
        assert_eq!(
            listing(&s),
            [
                "mmio_alias pfn=0xfd008 frames=4 addr=0xffffc90000100000 level=4K mode=UC- \
              other=0xffffc90000008000 other_mode=WC"
            ]
        );
        // The memory does not depend on what was mapped.
        let mut b2 = bufs(8, 2);
        assert_eq!(audit(&mut b2).memory_bytes(), a.memory_bytes());
    }

    #[test]
    fn paravirt_disagreements() {
        let mut fr = Fake::new();
        fr.dmap = vec![(0x1000, Level::K4, Wb)];
        let mut b = bufs(8, 8);
        let mut a = audit(&mut b);
        // Xen PV: the raw frame is a machine frame, the pv one a
        // pseudo-physical one: no disagreement.
        let mut xen = leaf(VMALLOC, Level::K4, 0x1000, Wb);
        xen.raw = entry(Level::K4, 0x7fe00, Wb);
        // A grant frame: no pseudo-physical frame, pte_val clears PRESENT.
        let mut grant = leaf(VMALLOC + 0x1000, Level::K4, 0, Wb);
        grant.raw = entry(Level::K4, 0x8_0000, Wb);
        grant.pv = grant.raw & !0x000f_ffff_ffff_f001;
        // A flag that differs.
        let mut flag = leaf(VMALLOC + 0x3000, Level::K4, 0x1000, Wb);
        flag.raw |= 1 << 4;
        // The next grant frame, next page: the same line, 2 frames.
        let mut grant2 = grant;
        grant2.addr += 0x1000;
        grant2.raw += 0x1000;
        feed(&mut a, &mut fr, &[xen, grant, grant2, flag]);
        let s = render(&a);
        assert_eq!(get(&s, "pv_not_present"), 2);
        assert_eq!(get(&s, "pv_flag_diffs"), 1);
        assert_eq!(get(&s, "ram_aliases"), 0);
        assert_eq!(
            listing(&s),
            [
                "pv_not_present addr=0xffffc90000001000 frames=2 level=4K pv=0x8000000000000162 \
                 raw=0x8000000080000163 raw_pfn=0x80000 diff=0x0000000080000001 pv_mode=WB raw_mode=WB",
                "pv_flags addr=0xffffc90000003000 frames=1 level=4K pv=0x8000000001000163 \
                 raw=0x8000000001000173 raw_pfn=0x1000 diff=0x0000000000000010 pv_mode=WB raw_mode=UC-",
            ]
        );
        // A 2M page: bit 12 is the PAT bit, a flag, not part of the frame.
        let mut b = bufs(8, 8);
        let mut a = audit(&mut b);
        let mut big = leaf(TEXT, Level::M2, 0x1000, Wb);
        big.raw |= 1 << 12;
        feed(&mut a, &mut fr, &[big]);
        assert_eq!(a.totals().pv_flag_diffs, 1);
    }

    #[test]
    fn listing_is_bounded() {
        let mut fr = Fake::new();
        fr.dmap = (0x1000..0x1100).map(|p| (p, Level::K4, Wb)).collect();
        for p in 0x2000..0x2100 {
            fr.records.insert(p, Wc);
        }
        let mut b = bufs(8, 8);
        let mut a = audit(&mut b);
        // 20 nonwb lines (every other page), then 20 alias lines.
        let mut leaves: Vec<_> = (0..20)
            .map(|i| dleaf(Level::K4, 0x2000 + 2 * i, Wc))
            .collect();
        leaves.extend((0..20).map(|i| leaf(VMALLOC + (i << 13), Level::K4, 0x1000 + 2 * i, Wc)));
        feed(&mut a, &mut fr, &leaves);
        let s = render(&a);
        assert_eq!(get(&s, "findings"), 40);
        assert_eq!(get(&s, "listed"), 8);
        assert_eq!(get(&s, "left_out"), 32);
        assert_eq!(get(&s, "ram_aliases"), 20);
        assert_eq!(get(&s, "memtype_nonwb"), 20);
        let l = listing(&s);
        assert_eq!(l.len(), 8);
        // nonwb lines take at most a quarter: the aliases still get in.
        assert_eq!(l.iter().filter(|x| x.starts_with("nonwb ")).count(), 2);
        assert_eq!(l.iter().filter(|x| x.starts_with("alias ")).count(), 6);
    }

    /// Leaves of a small kernel: (address, level, frame, mode).
    fn kernel() -> Vec<(u64, Level, u64, CacheMode)> {
        let mut v = vec![
            (DMAP + (0x40000 << 12), Level::G1, 0x40000, Wb),
            (DMAP + (0x200 << 12), Level::M2, 0x200, Wb),
            (VMALLOC + 0x10000, Level::K4, 0x1001, Wc),
            (VMALLOC + 0x11000, Level::K4, 0x1002, Wb),
            (VMALLOC + (2 << 20), Level::M2, 0xfd000, Wc),
            (VMALLOC + (8 << 20), Level::K4, 0xfd008, UcMinus),
            (TEXT + (16 << 20), Level::M2, 0x1000, Wb),
        ];
        for p in 0x1000..0x1000 + 700 {
            let mode = if p == 0x1280 || p == 0x1281 { Wc } else { Wb };
            v.push((DMAP + (p << 12), Level::K4, p, mode));
        }
        v
    }

    #[test]
    fn chunked_walk_audits_like_one_pass() {
        use crate::pure::attrs::VaLayout;
        use crate::pure::kwalk::fake::{Builder, DMAP as TABLES};
        use crate::pure::kwalk::{table_level, KernelWalk, Step};
        assert_eq!(TABLES, DMAP);
        let mut b = Builder::new(VaLayout::L4, 0);
        let mut fr = Fake::new();
        for (addr, level, pfn, mode) in kernel() {
            b.set(addr, table_level(level), entry(level, pfn, mode));
            if (DMAP..VMALLOC).contains(&addr) {
                fr.dmap.push((pfn, level, mode));
            }
        }
        // 0x1280 is WC with a WC record; 0x1281 WC with a WB record (and
        // both outside the text mapping of 0x1000..0x1200, which would
        // alias them).
        fr.records.insert(0x1280, Wc);
        let root = b.root_va();
        let run = |budget: u64, limit: u64, pages: u64, b: &mut Builder, fr: &mut Fake| {
            let mut fb = bufs(16, 8);
            let mut a = audit(&mut fb).with_step_pages(pages);
            let mut w = KernelWalk::new(VaLayout::L4, PteMasks::ARCH, 0, 0).with_not_present();
            loop {
                let step = w.step(root, &mut b.t, &mut a.visitor_limited(fr, limit), budget);
                if step == Step::Done {
                    break;
                }
            }
            a.finish();
            let mut s = String::new();
            a.render(&mut s, &w.stats).unwrap();
            let total: u64 = RegionKind::ALL
                .iter()
                .map(|&k| a.census(k).levels.iter().sum::<u64>())
                .sum();
            assert_eq!(total, w.stats.leaves.iter().sum::<u64>());
            assert!(a.totals().step_pages_max <= pages);
            (s, w.stats.steps)
        };
        let (one, steps) = run(u64::MAX, u64::MAX, u64::MAX, &mut b, &mut fr);
        assert_eq!(steps, 1);
        assert_eq!(get(&one, "direct_map.4K"), 700);
        assert_eq!(get(&one, "direct_map.2M"), 1);
        assert_eq!(get(&one, "direct_map.1G"), 1);
        assert_eq!(get(&one, "region.vmalloc.wc"), 2);
        assert_eq!(
            listing(&one),
            [
                "nonwb pfn=0x1280 frames=1 dmap=0xffff888001280000 level=4K mode=WC record=WC",
                "memtype pfn=0x1281 frames=1 dmap=0xffff888001281000 level=4K mode=WC record=WB",
                "alias pfn=0x1001 frames=1 addr=0xffffc90000010000 level=4K mode=WC \
                 dmap=0xffff888001001000 dmap_mode=WB",
                "mmio_alias pfn=0xfd008 frames=1 addr=0xffffc90000800000 level=4K mode=UC- \
                 other=0xffffc90000208000 other_mode=WC",
            ]
        );
        // What differs between chunked and one pass: how much was read.
        let same = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| {
                    ![
                        "tables=",
                        "entries=",
                        "steps=",
                        "revisits=",
                        "questions.",
                        "record_pages=",
                        "step_pages_",
                    ]
                    .iter()
                    .any(|k| l.starts_with(k))
                })
                .map(String::from)
                .collect()
        };
        // The 1G page's records in 8 steps or more; the 2M page's too
        // with 7 pages a step (a step stops inside both).
        for (budget, limit, pages) in [
            (1, u64::MAX, u64::MAX),
            (3, 2, u64::MAX),
            (40, 5, u64::MAX),
            (u64::MAX, 1, u64::MAX),
            (u64::MAX, u64::MAX, STEP_PAGES),
            (u64::MAX, u64::MAX, 7),
            (5, 3, 100),
        ] {
            let (chunked, steps) = run(budget, limit, pages, &mut b, &mut fr);
            let what = std::format!("budget {budget} limit {limit} pages {pages}");
            assert!(steps > 7, "{what}: {steps}");
            assert_eq!(same(&chunked), same(&one), "{what}");
            assert_eq!(get(&chunked, "step_pages_bound"), pages, "{what}");
            assert!(get(&chunked, "revisits") > 0 || pages == u64::MAX, "{what}");
        }
    }

    /// A direct map of 4 TiB in 1G pages, as a big server has it: all
    /// RAM, WB records but for a few WC pages (each ends a run), and what
    /// each record question reads, as the kernel's loop reads it (the run,
    /// and the page that ends it).
    struct Big {
        frames: u64,
        wc: BTreeSet<u64>,
        /// The runs answered, `(first, frames)`.
        asked: Vec<(u64, u64)>,
        /// `struct page`s read since the test last cleared it.
        reads: u64,
    }

    impl Frames for Big {
        fn ram(&mut self, pfn: u64) -> Run<bool> {
            ram_run(&[(0, self.frames)], pfn)
        }
        fn direct(&mut self, pfn: u64, _want: u64) -> Run<Option<DirectEntry>> {
            Run {
                first: pfn & !((1 << 18) - 1),
                frames: 1 << 18,
                what: Some(DirectEntry {
                    mode: Some(Wb),
                    level: Level::G1,
                }),
            }
        }
        fn record(&mut self, pfn: u64, max: u64) -> Run<Option<CacheMode>> {
            let end = pfn.saturating_add(max);
            let wc = self.wc.contains(&pfn);
            let stop = if wc {
                (pfn + 1..end).find(|p| !self.wc.contains(p)).unwrap_or(end)
            } else {
                self.wc.range(pfn..end).next().copied().unwrap_or(end)
            };
            let frames = stop - pfn;
            self.reads += (frames + 1).min(max);
            self.asked.push((pfn, frames));
            Run {
                first: pfn,
                frames,
                what: Some(if wc { Wc } else { Wb }),
            }
        }
    }

    #[test]
    fn a_4tib_direct_map_of_1g_pages_is_read_in_bounded_steps() {
        use crate::pure::attrs::{TableLevel, VaLayout};
        use crate::pure::kwalk::fake::Builder;
        use crate::pure::kwalk::{KernelWalk, Step};
        // The kernel side's step: 4096 entries and units of work.
        const STEP: u64 = 4096;
        const LEAVES: u64 = 4096;
        let frames = LEAVES << 18;
        let mut b = Builder::new(VaLayout::L4, 0);
        for g in 0..LEAVES {
            b.set(
                DMAP + (g << 30),
                TableLevel::Pud,
                entry(Level::G1, g << 18, Wb),
            );
        }
        // WC pages: at the start, at both sides of a leaf's end, inside a
        // leaf, and the last frame.
        let wc: BTreeSet<u64> = [5, 6, (1 << 18) - 1, 1 << 18, (77 << 18) + 12345, frames - 1]
            .into_iter()
            .collect();
        let mut fr = Big {
            frames,
            wc,
            asked: Vec::new(),
            reads: 0,
        };
        let mut fb = bufs(16, 8);
        let mut a = audit(&mut fb);
        let mut w = KernelWalk::new(VaLayout::L4, PteMasks::ARCH, 0, 0).with_not_present();
        let root = b.root_va();
        let (mut worst, mut steps) = (0, 0u64);
        loop {
            fr.reads = 0;
            let step = w.step(root, &mut b.t, &mut a.visitor_limited(&mut fr, STEP), STEP);
            worst = worst.max(fr.reads);
            steps += 1;
            if step == Step::Done {
                break;
            }
        }
        a.finish();
        std::println!("{steps} steps, at most {worst} struct pages read in one");
        assert!(
            worst <= STEP_PAGES,
            "a step read {worst} struct pages (bound {STEP_PAGES}), {steps} steps in all"
        );
        assert!(steps >= frames / STEP_PAGES, "{steps} steps");
        assert_eq!(a.totals().step_pages_max, worst);
        // Every frame asked once: the runs answered tile the frames.
        fr.asked.sort_unstable();
        let mut next = 0;
        for &(first, n) in &fr.asked {
            assert_eq!(first, next, "frames {next}..{first} asked not once");
            next = first + n;
        }
        assert!(next >= frames, "frames from {next} never asked");
        let t = a.totals();
        assert_eq!((t.memtype_checked, t.memtype_mismatches), (frames, 6));
        assert_eq!(a.census(RegionKind::Direct).levels, [0, 0, LEAVES]);
        assert_eq!(w.stats.leaves, [0, 0, LEAVES]);
    }

    #[test]
    fn regions_and_names() {
        for k in RegionKind::ALL {
            assert_eq!(RegionKind::from_name(k.name()), Some(k));
            assert_eq!(RegionKind::ALL[k as usize], k);
        }
        assert_eq!(RegionKind::from_name("nope"), None);
        // A region up to the end of the address space.
        let r = Region {
            kind: RegionKind::Fixmap,
            start: 0xffff_ffff_ff00_0000,
            end: 0,
        };
        assert!(r.contains(u64::MAX));
        assert!(!r.contains(0xffff_ffff_fe00_0000));
        // Before finish(): complete=0.
        let mut b = bufs(1, 1);
        let a = audit(&mut b);
        assert_eq!(get(&render(&a), "complete"), 0);
    }
}
