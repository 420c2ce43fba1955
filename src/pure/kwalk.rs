// SPDX-License-Identifier: GPL-2.0

//! The walk over every mapping of the kernel half, in resumable chunks.
//!
//! [`attrs::walk`] follows one address down to its entry; [`KernelWalk`]
//! visits every leaf entry (4K, 2M, 1G) whose first address lies in a range
//! `[from, to)`, top-down and in address order, with the same rules: every
//! entry is read through [`Tables`] (no-fault reads), a table pointer is
//! the paravirt view of its entry masked with `PTE_PFN_MASK`, a table is
//! followed only if [`Tables::table_ok`] says so, and a PUD or PMD with
//! `_PAGE_PSE` is a leaf. A table that cannot be read is counted and
//! skipped: the walk goes on with the next entry of the table above.
//!
//! The user half, the non-canonical hole and the hypervisor's guard hole
//! are never read. An entry that points to the same table as the entry
//! just before it is not followed again (KASAN's early shadow maps
//! terabytes through one table per level; ptdump skips it likewise).
//!
//! The kernel side reads the tables with preemption disabled under a root
//! taken from CR3, so the walk runs in chunks: [`KernelWalk::step`] stops
//! after a budget of entries and keeps only the address to resume at. The
//! next step walks down from the root again (the caller may have slept in
//! between, so no table pointer is kept across steps). As long as the
//! tables do not change, the chunks visit exactly what one pass would.
//!
//! A visitor may also stop inside a leaf ([`Visitor::unfinished`]): the
//! audit asks about every frame of a leaf, 262,144 of them for a 1G page,
//! which is too much work for one step. The next step then starts at that
//! leaf and visits it again, and the walk counts it once.
//!
//! [`attrs::walk`]: crate::pure::attrs::walk

use core::ops::ControlFlow;

use crate::pure::attrs::{AddrClass, Level, PteMasks, TableLevel, Tables, VaLayout};

const PRESENT: u64 = 1;
const PSE: u64 = 1 << 7;

/// Entries read in one no-fault copy: a run of a table, small enough to
/// sit on a kernel stack once per level (5 x 256 bytes).
const RUN: usize = 32;

/// What a full walk needs beyond [`Tables`]: runs of entries at once, and
/// the paravirt view of a leaf.
pub(crate) trait Leaves: Tables {
    /// The `out.len()` entries from kernel virtual address `slot` on (all
    /// in one table page), read without faulting; `false` if they cannot
    /// be read. By default one [`Tables::read`] each.
    fn read_run(&mut self, slot: u64, out: &mut [u64]) -> bool {
        for (i, v) in (0u64..).zip(out.iter_mut()) {
            match self.read(slot.wrapping_add(8 * i)) {
                Some(x) => *v = x,
                None => return false,
            }
        }
        true
    }

    /// The leaf entry `raw` at `level` as the paravirt layer sees it
    /// (`pte_val`/`pmd_val`/`pud_val`: `accessor::pv_val(raw, level)` on
    /// the kernel side). By default [`Tables::pv`] at the leaf's table
    /// level, which is the same hook.
    fn leaf_pv(&self, raw: u64, level: Level) -> u64 {
        self.pv(raw, table_level(level))
    }
}

/// The table level whose entries map at `level`.
pub(crate) fn table_level(level: Level) -> TableLevel {
    match level {
        Level::K4 => TableLevel::Pte,
        Level::M2 => TableLevel::Pmd,
        Level::G1 => TableLevel::Pud,
    }
}

/// One leaf entry the walk found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Leaf {
    /// The first virtual address it maps.
    pub(crate) addr: u64,
    /// What it maps: 4K, 2M or 1G.
    pub(crate) level: Level,
    /// The entry as stored (`native_pte_val()`).
    pub(crate) raw: u64,
    /// The entry through the paravirt hook of its level.
    pub(crate) pv: u64,
}

impl Leaf {
    /// `_PAGE_PRESENT` in the raw entry.
    pub(crate) fn present(&self) -> bool {
        self.raw & PRESENT != 0
    }
}

/// What the walk calls for each leaf. `Break` stops the walk after this
/// leaf ([`Step::Stopped`]); a later step resumes after it, or at it if
/// the visitor says the leaf is [unfinished](Visitor::unfinished).
pub(crate) trait Visitor {
    /// One leaf, in address order.
    fn leaf(&mut self, leaf: &Leaf) -> ControlFlow<()>;

    /// Asked after [`Visitor::leaf`] returned `Break`: whether the leaf is
    /// not done with, so that the next step visits it again (first) rather
    /// than resume after it. A visitor that says so must get further with
    /// the leaf on each visit, or the walk never ends.
    fn unfinished(&self) -> bool {
        false
    }
}

impl<F: FnMut(&Leaf) -> ControlFlow<()>> Visitor for F {
    fn leaf(&mut self, leaf: &Leaf) -> ControlFlow<()> {
        self(leaf)
    }
}

/// Counters of a walk, over all its steps.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct WalkStats {
    /// Entries read (each also one unit of a step's budget).
    pub(crate) entries: u64,
    /// Tables whose entries were read (a table read again by a later
    /// step counts again).
    pub(crate) tables: u64,
    /// Tables that could not be read, or were refused by
    /// [`Tables::table_ok`]: skipped.
    pub(crate) unreadable: u64,
    /// Leaves visited, 4K, 2M and 1G.
    pub(crate) leaves: [u64; 3],
    /// Steps taken.
    pub(crate) steps: u64,
    /// Visits of a leaf again, after a step left it unfinished (not
    /// counted in `leaves`).
    pub(crate) revisits: u64,
    /// The longest step, in nanoseconds, as the caller measured it (the
    /// walk itself has no clock; 0 if not measured).
    pub(crate) max_step_ns: u64,
    /// Table entries not followed because they point to the same table
    /// as the entry just before them (KASAN's early shadow): the leaves
    /// of such a table are visited once, for its first entry.
    pub(crate) repeated: u64,
}

/// How a step ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The budget ran out; call [`KernelWalk::step`] again.
    More,
    /// The visitor asked to stop; a further step resumes after the leaf.
    Stopped,
    /// The whole range has been walked.
    Done,
}

/// How a table's loop ended.
enum Flow {
    /// Go on with the next entry of the table above.
    Continue,
    /// Past the end of the range.
    End,
    /// Out of budget: resume at this address.
    Pause(u64),
    /// The visitor stopped: resume at this address (`None`: the end of
    /// the address space).
    Stop(Option<u64>),
}

/// Index of a leaf level in [`WalkStats::leaves`].
fn level_index(level: Level) -> usize {
    match level {
        Level::K4 => 0,
        Level::M2 => 1,
        Level::G1 => 2,
    }
}

/// A walk of every leaf of the kernel half whose first address lies in
/// `[from, to)`, in resumable steps.
///
/// # Invariants
///
/// `next`, when set, is an address of the kernel half, at or after where
/// the previous step stopped: the walk only moves forward.
#[derive(Clone, Debug)]
pub(crate) struct KernelWalk {
    layout: VaLayout,
    masks: PteMasks,
    next: Option<u64>,
    to: u64,
    not_present: bool,
    /// Per level, the table the last table entry pointed to and that
    /// entry's address; kept across steps, so that a step resuming
    /// after a repeated table knows it.
    last_table: [Option<(u64, u64)>; 5],
    /// The leaf (address, level, raw entry) the last step left
    /// unfinished: when the next step's first leaf is that one, it is not
    /// counted again.
    again: Option<(u64, Level, u64)>,
    /// Counters so far.
    pub(crate) stats: WalkStats,
}

impl KernelWalk {
    /// A walk of `[from, to)`; `to == 0` means the end of the address
    /// space. `from` is raised to the start of the kernel half (the user
    /// half and the non-canonical hole are not walked).
    pub(crate) fn new(layout: VaLayout, masks: PteMasks, from: u64, to: u64) -> KernelWalk {
        let from = from.max(kernel_half(layout));
        let empty = to != 0 && from >= to;
        KernelWalk {
            layout,
            masks,
            next: (!empty).then_some(from),
            to,
            not_present: false,
            last_table: [None; 5],
            again: None,
            stats: WalkStats::default(),
        }
    }

    /// Also visit leaves that are not present but not empty: a PTE that is
    /// not zero, or a PMD/PUD with `_PAGE_PSE`. The direct map has such
    /// entries where `set_memory_np()`/`set_direct_map_invalid_noflush()`
    /// or DEBUG_PAGEALLOC unmapped a page, and the kernel still counts
    /// them in `/proc/meminfo`'s `DirectMap4k`.
    pub(crate) fn with_not_present(mut self) -> KernelWalk {
        self.not_present = true;
        self
    }

    /// Where the next step starts; `None` once the walk is done.
    pub(crate) fn resume_at(&self) -> Option<u64> {
        self.next
    }

    /// Walks on from [`KernelWalk::resume_at`] with the top-level table at
    /// kernel virtual address `root`, reading at most about `budget`
    /// entries (at least the ones on the way down and one more, so that
    /// every step makes progress).
    pub(crate) fn step(
        &mut self,
        root: u64,
        t: &mut impl Leaves,
        v: &mut impl Visitor,
        budget: u64,
    ) -> Step {
        let Some(start) = self.next else {
            return Step::Done;
        };
        self.stats.steps += 1;
        let shift = self.layout.levels()[0].shift();
        // Slot 256 of the top level maps the first address of the kernel
        // half: slot 0 maps "kernel half - 256 slots", wrapping.
        let base = kernel_half(self.layout).wrapping_sub(256 << shift);
        let mut left = budget;
        let mut cx = Cx {
            start,
            left: &mut left,
        };
        match self.table(0, root, base, start, &mut cx, t, v) {
            Flow::Continue | Flow::End => {
                self.next = None;
                Step::Done
            }
            Flow::Pause(at) => {
                self.next = Some(at);
                Step::More
            }
            Flow::Stop(at) => {
                self.next = at.filter(|&a| self.to == 0 || a < self.to);
                if self.next.is_some() {
                    Step::Stopped
                } else {
                    Step::Done
                }
            }
        }
    }

    /// Runs steps until the walk is done or the visitor stops it, calling
    /// `between` after each step that ran out of budget; `root` is asked
    /// for again before each step.
    // The kernel side steps by hand (preemption is disabled per step):
    // used by the host tests.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn run<T: Leaves, V: Visitor>(
        &mut self,
        mut root: impl FnMut() -> u64,
        t: &mut T,
        v: &mut V,
        budget: u64,
        mut between: impl FnMut(),
    ) -> Step {
        loop {
            match self.step(root(), t, v, budget) {
                Step::More => between(),
                other => return other,
            }
        }
    }

    fn past_end(&self, addr: u64) -> bool {
        self.to != 0 && addr >= self.to
    }

    /// The entries of the table at `table` (level `levels()[depth]`, slot 0
    /// mapping `base`) from the one holding `start` on.
    #[allow(clippy::too_many_arguments)]
    fn table(
        &mut self,
        depth: usize,
        table: u64,
        base: u64,
        start: u64,
        cx: &mut Cx<'_>,
        t: &mut impl Leaves,
        v: &mut impl Visitor,
    ) -> Flow {
        let levels = self.layout.levels();
        let Some(&lvl) = levels.get(depth) else {
            return Flow::Continue;
        };
        let shift = lvl.shift();
        let first = start.wrapping_sub(base) >> shift;
        let mut buf = [0u64; RUN];
        let mut i = first;
        let mut counted = false;
        while i < 512 {
            let n = (512 - i).min(RUN as u64);
            let slot = table.wrapping_add(8 * i);
            let Some(run) = buf.get_mut(..n as usize) else {
                return Flow::Continue;
            };
            if !counted {
                self.stats.tables += 1;
                counted = true;
            }
            if !t.read_run(slot, run) {
                self.stats.unreadable += 1;
                return Flow::Continue;
            }
            for &raw in run.iter() {
                let addr = base.wrapping_add(i << shift);
                i += 1;
                if self.past_end(addr) {
                    return Flow::End;
                }
                if depth == 0 && self.layout.classify(addr) == AddrClass::HypervisorHole {
                    continue;
                }
                // Entries on the way down to `cx.start` never pause, so
                // that every step gets past where it started.
                if *cx.left == 0 && addr > cx.start {
                    return Flow::Pause(addr);
                }
                *cx.left = cx.left.saturating_sub(1);
                self.stats.entries += 1;
                let leaf = match lvl {
                    TableLevel::Pte => Some(Level::K4),
                    TableLevel::Pmd if raw & PSE != 0 => Some(Level::M2),
                    TableLevel::Pud if raw & PSE != 0 => Some(Level::G1),
                    _ => None,
                };
                let present = raw & PRESENT != 0;
                if let Some(level) = leaf {
                    // A leaf that begins before `start` was passed already
                    // (or begins before the range).
                    if addr < start || !(present || (self.not_present && raw != 0)) {
                        continue;
                    }
                    // The first leaf of a step may be the one the last
                    // step left unfinished (unless the tables changed).
                    if self.again.take() == Some((addr, level, raw)) {
                        self.stats.revisits += 1;
                    } else {
                        self.stats.leaves[level_index(level)] += 1;
                    }
                    let l = Leaf {
                        addr,
                        level,
                        raw,
                        pv: t.leaf_pv(raw, level),
                    };
                    if v.leaf(&l).is_break() {
                        if v.unfinished() {
                            self.again = Some((addr, level, raw));
                            return Flow::Stop(Some(addr));
                        }
                        return Flow::Stop(addr.checked_add(1 << shift));
                    }
                    continue;
                }
                if !present {
                    continue;
                }
                let phys = t.pv(raw, lvl) & self.masks.pfn_mask();
                // The same table as the entry just before: KASAN's early
                // shadow maps terabytes with one table per level. Walked
                // once, as ptdump does (`note_kasan_page_table()`).
                let prev = self.last_table.get(depth).copied().flatten();
                if let Some(l) = self.last_table.get_mut(depth) {
                    *l = Some((phys, addr));
                }
                if prev.is_some_and(|(p, a)| p == phys && a.wrapping_add(1 << shift) == addr) {
                    self.stats.repeated += 1;
                    continue;
                }
                if !t.table_ok(phys) {
                    self.stats.unreadable += 1;
                    continue;
                }
                match self.table(depth + 1, t.va(phys), addr, start.max(addr), cx, t, v) {
                    Flow::Continue => {}
                    other => return other,
                }
            }
        }
        Flow::Continue
    }
}

/// What one step carries down the levels.
struct Cx<'a> {
    /// Where the step started.
    start: u64,
    /// Budget left.
    left: &'a mut u64,
}

/// The first address of the kernel half: `-(1 << (va_bits - 1))`.
pub(crate) fn kernel_half(layout: VaLayout) -> u64 {
    u64::MAX << (layout.va_bits() - 1)
}

/// Fake page tables for the host tests of this file and of the audit.
#[cfg(test)]
pub(crate) mod fake {
    extern crate std;

    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    pub(crate) const DMAP: u64 = 0xffff_8880_0000_0000;

    /// Page tables in a map from slot address to entry, the direct map at
    /// `DMAP`; the paravirt view subtracts `pv_delta` from every entry (a
    /// machine frame in the raw value, as under Xen PV).
    pub(crate) struct Fake {
        pub(crate) mem: BTreeMap<u64, u64>,
        pub(crate) unreadable: BTreeSet<u64>,
        pub(crate) pv_delta: u64,
        pub(crate) ram_end: u64,
        pub(crate) reads: u64,
        pub(crate) next_table: u64,
    }

    impl Tables for Fake {
        fn read(&mut self, slot: u64) -> Option<u64> {
            self.reads += 1;
            if self.unreadable.contains(&(slot & !0xfff)) {
                return None;
            }
            Some(self.mem.get(&slot).copied().unwrap_or(0))
        }
        fn pv(&self, raw: u64, _level: TableLevel) -> u64 {
            raw.wrapping_sub(self.pv_delta)
        }
        fn va(&self, phys: u64) -> u64 {
            DMAP.wrapping_add(phys)
        }
        fn table_ok(&self, phys: u64) -> bool {
            phys < self.ram_end
        }
    }

    impl Leaves for Fake {}

    /// Builds tables: `map()` allocates the tables on the way to a leaf.
    pub(crate) struct Builder {
        pub(crate) t: Fake,
        pub(crate) layout: VaLayout,
        pub(crate) root: u64,
    }

    impl Builder {
        pub(crate) fn new(layout: VaLayout, pv_delta: u64) -> Builder {
            let mut t = Fake {
                mem: BTreeMap::new(),
                unreadable: BTreeSet::new(),
                pv_delta,
                ram_end: 1 << 32,
                reads: 0,
                next_table: 0x10_0000,
            };
            let root = t.next_table;
            t.next_table += 0x1000;
            Builder { t, layout, root }
        }

        /// The physical address of the table at `depth` on the way to
        /// `addr`, allocated if missing.
        pub(crate) fn table_for(&mut self, addr: u64, depth: usize) -> u64 {
            let mut table = self.root;
            for &lvl in &self.layout.levels()[..depth] {
                let slot = DMAP + table + lvl.index(addr) * 8;
                let e = self.t.mem.get(&slot).copied().unwrap_or(0);
                table = if e & PRESENT != 0 {
                    (e - self.t.pv_delta) & 0x000f_ffff_ffff_f000
                } else {
                    let new = self.t.next_table;
                    self.t.next_table += 0x1000;
                    self.t.mem.insert(slot, (new + self.t.pv_delta) | 0x63);
                    new
                };
            }
            table
        }

        /// Sets the entry at `level` for `addr` to `val` (creating tables).
        pub(crate) fn set(&mut self, addr: u64, lvl: TableLevel, val: u64) {
            let depth = self.layout.levels().iter().position(|&l| l == lvl).unwrap();
            let table = self.table_for(addr, depth);
            self.t.mem.insert(DMAP + table + lvl.index(addr) * 8, val);
        }

        pub(crate) fn leaf(&mut self, addr: u64, level: Level, pfn: u64) -> u64 {
            let pse = if level == Level::K4 { 0 } else { PSE };
            let raw = 0x8000_0000_0000_0163 | pse | (pfn << 12);
            self.set(addr, table_level(level), raw);
            raw
        }

        pub(crate) fn root_va(&self) -> u64 {
            DMAP + self.root
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::fake::*;
    use super::*;
    use std::vec::Vec;

    /// A leaf whose paravirt view is computed apart from `pv()`, as the
    /// kernel side's `pv_val()` is: here it also clears PRESENT for one
    /// frame, as Xen's `pte_val` does for a frame without a PFN.
    struct FakeXen(Fake, u64);

    impl Tables for FakeXen {
        fn read(&mut self, slot: u64) -> Option<u64> {
            self.0.read(slot)
        }
        fn pv(&self, raw: u64, level: TableLevel) -> u64 {
            self.0.pv(raw, level)
        }
        fn va(&self, phys: u64) -> u64 {
            self.0.va(phys)
        }
        fn table_ok(&self, phys: u64) -> bool {
            self.0.table_ok(phys)
        }
    }

    impl Leaves for FakeXen {
        fn read_run(&mut self, slot: u64, out: &mut [u64]) -> bool {
            // One "copy" for the run.
            self.0.reads += 1;
            if self.0.unreadable.contains(&(slot & !0xfff)) {
                return false;
            }
            for (i, v) in (0u64..).zip(out.iter_mut()) {
                *v = self.0.mem.get(&(slot + 8 * i)).copied().unwrap_or(0);
            }
            true
        }
        fn leaf_pv(&self, raw: u64, _level: Level) -> u64 {
            if raw & 0x000f_ffff_ffff_f000 == self.1 {
                raw & !PRESENT
            } else {
                raw
            }
        }
    }

    fn collect(w: &mut KernelWalk, b: &mut Builder, budget: u64) -> (Vec<Leaf>, u64) {
        let mut seen = Vec::new();
        let root = b.root_va();
        let mut steps = 0;
        let r = w.run(
            || root,
            &mut b.t,
            &mut |l: &Leaf| {
                seen.push(*l);
                ControlFlow::Continue(())
            },
            budget,
            || steps += 1,
        );
        assert_eq!(r, Step::Done);
        assert_eq!(w.resume_at(), None);
        (seen, steps)
    }

    fn whole(layout: VaLayout) -> KernelWalk {
        KernelWalk::new(layout, PteMasks::ARCH, 0, 0)
    }

    /// A layout with leaves of every size in several top-level slots, some
    /// not-present entries, and the expected visits in order.
    fn sample(layout: VaLayout, delta: u64) -> (Builder, Vec<(u64, Level, u64)>) {
        let mut b = Builder::new(layout, delta);
        let k = kernel_half(layout);
        let dmap = if layout.l5() {
            0xff11_0000_0000_0000
        } else {
            0xffff_8880_0000_0000
        };
        let mut want = Vec::new();
        let mut add = |b: &mut Builder, a: u64, l: Level, pfn: u64| {
            let raw = b.leaf(a, l, pfn);
            want.push((a, l, raw));
        };
        // Direct map: a 1G page, then 2M pages, then a split 2M of 4K pages.
        add(&mut b, dmap, Level::G1, 0);
        add(&mut b, dmap + (1 << 30), Level::M2, 0x40000);
        add(&mut b, dmap + (1 << 30) + (2 << 20), Level::M2, 0x40200);
        for i in 0..600u64 {
            // 600 4K pages: across two PTE tables.
            add(&mut b, dmap + (2 << 30) + i * 4096, Level::K4, 0x80000 + i);
        }
        // A not-present PTE beside them (zero) and a not-present non-zero one.
        b.set(dmap + (2 << 30) + 600 * 4096, TableLevel::Pte, 0);
        b.set(
            dmap + (2 << 30) + 601 * 4096,
            TableLevel::Pte,
            0x8000_0000_8025_9060,
        );
        // vmalloc-like: sparse 4K pages far apart.
        let vm = if layout.l5() {
            0xffa0_0000_0000_0000
        } else {
            0xffff_c900_0000_0000
        };
        add(&mut b, vm + 0x5000, Level::K4, 0x1234);
        add(&mut b, vm + (7 << 30) + 0x1000, Level::K4, 0x1235);
        // The kernel image near the top of the address space and the last
        // page of it.
        add(&mut b, 0xffff_ffff_8100_0000, Level::M2, 0x1000);
        add(&mut b, 0xffff_ffff_ffff_f000, Level::K4, 0x7);
        // The first slot of the kernel half is the guard hole in both
        // layouts: never read. The 4-level guard hole is an ordinary
        // kernel address under 5 levels.
        b.leaf(k, Level::K4, 0x99);
        let hole4 = 0xffff_8000_0000_0000;
        let raw = b.leaf(hole4, Level::K4, 0x98);
        if layout.l5() {
            want.push((hole4, Level::K4, raw));
        }
        want.sort_by_key(|w| w.0);
        // A user-half mapping never visited.
        b.leaf(0x40_0000, Level::K4, 0x5);
        (b, want)
    }

    fn addrs(v: &[Leaf]) -> Vec<(u64, Level, u64)> {
        v.iter().map(|l| (l.addr, l.level, l.raw)).collect()
    }

    #[test]
    fn one_pass_visits_every_leaf() {
        for (layout, delta) in [
            (VaLayout::L4, 0),
            (VaLayout::L5, 0),
            (VaLayout::L4, 0x1_0000_0000),
        ] {
            let (mut b, want) = sample(layout, delta);
            let mut w = whole(layout);
            let (seen, steps) = collect(&mut w, &mut b, u64::MAX);
            assert_eq!(steps, 0);
            assert_eq!(addrs(&seen), want, "{layout:?}");
            for l in &seen {
                assert_eq!(l.pv, l.raw - delta);
                assert!(l.present());
            }
            assert_eq!(w.stats.leaves[0], 600 + 3 + u64::from(layout.l5()));
            assert_eq!(w.stats.leaves[1], 3);
            assert_eq!(w.stats.leaves[2], 1);
            assert_eq!(w.stats.unreadable, 0);
            assert_eq!(w.stats.steps, 1);
        }
    }

    #[test]
    fn resumed_steps_visit_what_one_pass_does() {
        for layout in [VaLayout::L4, VaLayout::L5] {
            let (mut b, want) = sample(layout, 0);
            let (one, _) = collect(&mut whole(layout), &mut b, u64::MAX);
            assert_eq!(addrs(&one), want);
            for budget in [0, 1, 2, 3, 7, 31, 32, 33, 100, 511, 512, 513, 1000] {
                let mut w = whole(layout);
                let (seen, pauses) = collect(&mut w, &mut b, budget);
                assert_eq!(seen, one, "{layout:?} budget {budget}");
                assert!(budget >= 1000 || pauses > 0, "budget {budget}");
                assert_eq!(w.stats.steps, pauses + 1);
            }
            // A tiny budget: one leaf or a few entries a step, never stuck.
            let mut w = whole(layout);
            let (_, pauses) = collect(&mut w, &mut b, 1);
            assert!(pauses as usize >= one.len() - 1, "{pauses}");
        }
    }

    #[test]
    fn unreadable_tables_are_counted_and_skipped() {
        let layout = VaLayout::L4;
        let (mut b, want) = sample(layout, 0);
        // The first PTE table of the split 2M range: 512 pages gone.
        let dmap = 0xffff_8880_0000_0000u64;
        let pte_table = b.table_for(dmap + (2 << 30), 3);
        b.t.unreadable.insert(DMAP + pte_table);
        let mut w = whole(layout);
        let (seen, _) = collect(&mut w, &mut b, u64::MAX);
        let expect: Vec<_> = want
            .iter()
            .copied()
            .filter(|&(a, l, _)| {
                !(l == Level::K4 && (dmap + (2 << 30)..dmap + (2 << 30) + (2 << 20)).contains(&a))
            })
            .collect();
        assert_eq!(addrs(&seen), expect);
        assert_eq!(want.len() - expect.len(), 512);
        assert_eq!(w.stats.unreadable, 1);
        // The same table refused by table_ok (a pointer past RAM).
        b.t.unreadable.clear();
        b.t.ram_end = pte_table;
        let mut w = whole(layout);
        let (seen, _) = collect(&mut w, &mut b, u64::MAX);
        // Every table at or above pte_table is refused: count them.
        assert!(w.stats.unreadable >= 1);
        assert!(seen.len() < want.len());
        assert!(!seen
            .iter()
            .any(|l| (dmap + (2 << 30)..dmap + (2 << 30) + (2 << 20)).contains(&l.addr)));
        // An unreadable root: nothing, counted once, not fatal.
        b.t.ram_end = 1 << 32;
        b.t.unreadable.insert(b.root_va());
        let mut w = whole(layout);
        let (seen, _) = collect(&mut w, &mut b, 5);
        assert!(seen.is_empty());
        assert_eq!(w.stats.unreadable, 1);
    }

    #[test]
    fn ranges_and_holes() {
        let layout = VaLayout::L4;
        let (mut b, want) = sample(layout, 0);
        let dmap = 0xffff_8880_0000_0000u64;
        // The direct map's first 2G + 8 pages.
        let to = dmap + (2 << 30) + 8 * 4096;
        let mut w = KernelWalk::new(layout, PteMasks::ARCH, dmap, to);
        let (seen, _) = collect(&mut w, &mut b, 3);
        let expect: Vec<_> = want
            .iter()
            .copied()
            .filter(|&(a, _, _)| (dmap..to).contains(&a))
            .collect();
        assert_eq!(expect.len(), 3 + 8);
        assert_eq!(addrs(&seen), expect);
        // A range starting inside the 1G page: the page is not visited
        // (it begins before the range).
        let mut w = KernelWalk::new(layout, PteMasks::ARCH, dmap + 4096, dmap + (1 << 30) + 1);
        let (seen, _) = collect(&mut w, &mut b, u64::MAX);
        assert_eq!(addrs(&seen), [want[1]]);
        // From 0 (the user half), through the non-canonical hole: the same
        // as from the kernel half; the user mapping and the guard hole are
        // never read.
        let mut w = KernelWalk::new(layout, PteMasks::ARCH, 0, 0);
        let (seen, _) = collect(&mut w, &mut b, u64::MAX);
        assert_eq!(addrs(&seen), want);
        let mut w = KernelWalk::new(layout, PteMasks::ARCH, 0x0000_9000_0000_0000, 0);
        let (seen2, _) = collect(&mut w, &mut b, u64::MAX);
        assert_eq!(seen2, seen);
        // The top-level entries read: 256 of the kernel half minus the
        // 16 of the guard hole.
        let mut w = KernelWalk::new(layout, PteMasks::ARCH, 0, 0xffff_8880_0000_0000);
        let (seen, _) = collect(&mut w, &mut b, u64::MAX);
        assert!(seen.is_empty());
        assert_eq!(w.stats.entries, 1);
        assert_eq!(w.stats.tables, 1);
        // An empty range.
        let mut w = KernelWalk::new(layout, PteMasks::ARCH, dmap, dmap);
        assert_eq!(w.resume_at(), None);
        let root = b.root_va();
        assert_eq!(
            w.step(root, &mut b.t, &mut |_: &Leaf| ControlFlow::Continue(()), 9),
            Step::Done
        );
        // Under 5 levels the range 0..kernel half is just as empty.
        let mut w = KernelWalk::new(VaLayout::L5, PteMasks::ARCH, 0, 0xff00_0000_0000_0000);
        assert_eq!(w.resume_at(), None);
        assert_eq!(
            w.step(root, &mut b.t, &mut |_: &Leaf| ControlFlow::Continue(()), 9),
            Step::Done
        );
    }

    #[test]
    fn not_present_leaves_on_request() {
        let layout = VaLayout::L4;
        let (mut b, want) = sample(layout, 0);
        let dmap = 0xffff_8880_0000_0000u64;
        // A large page made not present keeps PSE.
        b.set(dmap + (3 << 30), TableLevel::Pud, 0x8000_0000_c000_00e2);
        let (seen, _) = collect(&mut whole(layout), &mut b, u64::MAX);
        assert_eq!(addrs(&seen), want);
        let mut w = whole(layout).with_not_present();
        let (seen, _) = collect(&mut w, &mut b, u64::MAX);
        let np: Vec<_> = seen.iter().filter(|l| !l.present()).collect();
        assert_eq!(np.len(), 2);
        assert_eq!(
            (np[0].addr, np[0].level),
            (dmap + (2 << 30) + 601 * 4096, Level::K4)
        );
        assert_eq!((np[1].addr, np[1].level), (dmap + (3 << 30), Level::G1));
        assert_eq!(seen.len(), want.len() + 2);
    }

    #[test]
    fn visitor_stops_and_resumes_after_the_leaf() {
        let layout = VaLayout::L5;
        let (mut b, want) = sample(layout, 0);
        let root = b.root_va();
        let mut w = whole(layout);
        let mut seen = Vec::new();
        let mut stops = 0;
        loop {
            let mut n = 0;
            let r = w.step(
                root,
                &mut b.t,
                &mut |l: &Leaf| {
                    seen.push(*l);
                    n += 1;
                    if n == 2 {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                },
                u64::MAX,
            );
            match r {
                Step::Stopped => stops += 1,
                Step::Done => break,
                Step::More => panic!("no budget limit"),
            }
        }
        assert_eq!(addrs(&seen), want);
        assert_eq!(stops, (want.len() - 1) / 2);
        // Stopped on the last page of the address space: done, no wrap.
        let mut w = KernelWalk::new(layout, PteMasks::ARCH, 0xffff_ffff_ffff_f000, 0);
        let r = w.step(
            root,
            &mut b.t,
            &mut |_: &Leaf| ControlFlow::Break(()),
            u64::MAX,
        );
        assert_eq!(r, Step::Done);
        assert_eq!(w.stats.leaves[0], 1);
    }

    /// Leaves 4K..1G left unfinished `times` times each, then done.
    struct Slow {
        times: u32,
        visits: u32,
        seen: Vec<Leaf>,
        last: bool,
    }

    impl Visitor for Slow {
        fn leaf(&mut self, leaf: &Leaf) -> ControlFlow<()> {
            self.seen.push(*leaf);
            self.visits += 1;
            self.last = leaf.level != Level::K4 && self.visits <= self.times;
            if self.last {
                return ControlFlow::Break(());
            }
            self.visits = 0;
            ControlFlow::Continue(())
        }
        fn unfinished(&self) -> bool {
            self.last
        }
    }

    #[test]
    fn unfinished_leaves_are_visited_again_and_counted_once() {
        for layout in [VaLayout::L4, VaLayout::L5] {
            let (mut b, want) = sample(layout, 0);
            let (one, _) = collect(&mut whole(layout), &mut b, u64::MAX);
            let root = b.root_va();
            for budget in [1, 7, u64::MAX] {
                let mut w = whole(layout);
                let mut v = Slow {
                    times: 2,
                    visits: 0,
                    seen: Vec::new(),
                    last: false,
                };
                let mut stopped = 0;
                loop {
                    match w.step(root, &mut b.t, &mut v, budget) {
                        Step::Done => break,
                        Step::Stopped => stopped += 1,
                        Step::More => {}
                    }
                }
                // Each 2M and 1G leaf three times in a row, the rest once.
                let mut expect = Vec::new();
                for l in &one {
                    let n = if l.level == Level::K4 { 1 } else { 3 };
                    expect.extend(core::iter::repeat_n(*l, n));
                }
                assert_eq!(v.seen, expect, "{layout:?} budget {budget}");
                let large = want.iter().filter(|w| w.1 != Level::K4).count() as u64;
                assert_eq!(stopped, 2 * large);
                assert_eq!(w.stats.revisits, 2 * large);
                assert_eq!(w.stats.leaves, whole_stats(layout, &mut b).leaves);
            }
        }
    }

    fn whole_stats(layout: VaLayout, b: &mut Builder) -> WalkStats {
        let mut w = whole(layout);
        collect(&mut w, b, u64::MAX);
        w.stats
    }

    #[test]
    fn repeated_tables_are_walked_once() {
        // A KASAN-like shadow: 300 PMD entries that all point to one PTE
        // table, under 3 PUD entries that all point to one PMD table.
        let layout = VaLayout::L4;
        let mut b = Builder::new(layout, 0);
        let shadow = 0xffff_ec00_0000_0000u64;
        let pte_t = b.t.next_table;
        let pmd_t = pte_t + 0x1000;
        b.t.next_table += 0x2000;
        for i in 0..512u64 {
            b.t.mem
                .insert(DMAP + pte_t + i * 8, 0x8000_0000_0000_0161 | (0x77 << 12));
        }
        for i in 0..300u64 {
            b.t.mem.insert(DMAP + pmd_t + i * 8, pte_t | 0x63);
        }
        let pud_t = b.table_for(shadow, 1);
        for i in 0..3u64 {
            b.t.mem.insert(DMAP + pud_t + i * 8, pmd_t | 0x63);
        }
        // A real page after the shadow.
        let after = shadow + (3 << 30);
        let raw = b.leaf(after, Level::K4, 0x1234);
        let mut w = whole(layout);
        let (seen, _) = collect(&mut w, &mut b, u64::MAX);
        assert_eq!(seen.len(), 512 + 1);
        assert!(seen[..512]
            .iter()
            .all(|l| l.raw & !0xfff == 0x8000_0000_0007_7000));
        assert_eq!((seen[512].addr, seen[512].raw), (after, raw));
        assert_eq!(w.stats.repeated, 299 + 2);
        // In chunks: the same, resumes included.
        for budget in [1, 5, 100, 600] {
            let mut w = whole(layout);
            let (chunked, pauses) = collect(&mut w, &mut b, budget);
            assert_eq!(chunked, seen, "budget {budget}");
            assert_eq!(w.stats.repeated, 301, "budget {budget}");
            assert!(pauses > 0);
        }
        // Two entries that point to the same table but are not neighbours
        // are both followed.
        b.t.mem.insert(DMAP + pud_t + 4 * 8, pmd_t | 0x63);
        let mut w = whole(layout);
        let (again, _) = collect(&mut w, &mut b, u64::MAX);
        assert_eq!(again.len(), 2 * 512 + 1);
    }

    #[test]
    fn leaf_view_and_runs_come_from_the_trait() {
        // The kernel side's read_run and leaf_pv are the ones used: runs of
        // at most RUN entries in one read, and Xen's not-present view.
        let layout = VaLayout::L4;
        let (b, want) = sample(layout, 0);
        let root = b.root_va();
        let mut x = FakeXen(b.t, 0x1235 << 12);
        let mut w = whole(layout);
        let mut seen = Vec::new();
        let r = w.step(
            root,
            &mut x,
            &mut |l: &Leaf| {
                seen.push(*l);
                ControlFlow::Continue(())
            },
            u64::MAX,
        );
        assert_eq!(r, Step::Done);
        assert_eq!(addrs(&seen), want);
        let xen: Vec<_> = seen.iter().filter(|l| l.pv & PRESENT == 0).collect();
        assert_eq!(xen.len(), 1);
        assert_eq!(xen[0].pv, xen[0].raw & !PRESENT);
        // Reads are runs: far fewer than entries.
        assert!(
            x.0.reads * 8 < w.stats.entries,
            "{} {}",
            x.0.reads,
            w.stats.entries
        );
    }
}
