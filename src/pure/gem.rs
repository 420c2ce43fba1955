// SPDX-License-Identifier: GPL-2.0

//! The GEM device's pure logic: its ioctl interface
//! (`include/pte_attrs_gem.h`), where each object lives in the device's
//! mmap space, what an mmap request may map, the counters, and the report
//! of `lookup user ADDR`.
//!
//! Object `h` (handles start at 1 and are never reused) is mapped at byte
//! offset `h << OBJ_SHIFT`: each object has its own range of the file, so
//! zapping one object's range never touches another's mappings.

use core::fmt;

use crate::pure::attrs::{CacheMode, Level, PatTable, PteAttrs, PteMasks};
use crate::pure::parse::ParseError;

/// Log2 of the bytes of mmap space each object gets (4 GiB).
pub(crate) const OBJ_SHIFT: u32 = 32;
/// The same in pages.
pub(crate) const OBJ_SHIFT_PAGES: u32 = OBJ_SHIFT - 12;
/// Most pages in one object (`PTE_ATTRS_GEM_MAX_PAGES`).
pub(crate) const MAX_PAGES: u64 = 1024;
/// Most pages in all objects at once (`PTE_ATTRS_GEM_MAX_TOTAL`).
pub(crate) const MAX_TOTAL: u64 = 16384;
/// Highest handle: its offset must fit in a signed 64-bit `loff_t`.
pub(crate) const MAX_HANDLE: u64 = (1 << (63 - OBJ_SHIFT)) - 1;

/// The ioctl type letter.
pub(crate) const IOC_MAGIC: u32 = b'G' as u32;
/// `_IOC_NR` of `PTE_ATTRS_GEM_CREATE`.
pub(crate) const NR_CREATE: u32 = 1;
/// `_IOC_NR` of `PTE_ATTRS_GEM_EVICT`.
pub(crate) const NR_EVICT: u32 = 2;
/// `_IOC_NR` of `PTE_ATTRS_GEM_DESTROY`.
pub(crate) const NR_DESTROY: u32 = 3;
/// `_IOC_NR` of `PTE_ATTRS_GEM_PFNS`.
pub(crate) const NR_PFNS: u32 = 4;
/// `_IOC_NR` of `PTE_ATTRS_GEM_STATS`.
pub(crate) const NR_STATS: u32 = 5;

/// Size of `struct pte_attrs_gem_create`.
pub(crate) const CREATE_SIZE: usize = 32;
/// Size of `struct pte_attrs_gem_handle`.
pub(crate) const HANDLE_SIZE: usize = 8;
/// Size of `struct pte_attrs_gem_pfns`.
pub(crate) const PFNS_SIZE: usize = 24;
/// Number of counters in `struct pte_attrs_gem_stats`.
pub(crate) const STATS_N: usize = 23;
/// Size of `struct pte_attrs_gem_stats`.
pub(crate) const STATS_SIZE: usize = STATS_N * 8;

/// Whether a `PTE_ATTRS_GEM_STATS` command of `size` bytes (its
/// `_IOC_SIZE`) is answered: any size from one counter up to the whole
/// struct, whose leading bytes it gets (counters are only appended, so a
/// program built against an older header keeps working).
pub(crate) fn stats_size_ok(size: usize) -> bool {
    (8..=STATS_SIZE).contains(&size)
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(s) = b.get(i..i + 8) {
        v.copy_from_slice(s);
    }
    u64::from_ne_bytes(v)
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    let mut v = [0u8; 4];
    if let Some(s) = b.get(i..i + 4) {
        v.copy_from_slice(s);
    }
    u32::from_ne_bytes(v)
}

/// `PTE_ATTRS_GEM_CREATE_TEST_PROT_WB`.
pub(crate) const CREATE_TEST_PROT_WB: u32 = 1 << 0;
/// `PTE_ATTRS_GEM_CREATE_TEST_RAW_PTE`.
pub(crate) const CREATE_TEST_RAW_PTE: u32 = 1 << 1;

/// How the fault handler inserts an object's pages: the selftests' flags
/// of CREATE (none for real objects).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Insert {
    /// Ask for WB (the VMA's own pgprot) instead of the object's mode.
    pub(crate) prot_wb: bool,
    /// Write the user PTE directly (as i915's `remap_io_mapping()` does),
    /// with no memtype lookup to correct the pgprot.
    pub(crate) raw_pte: bool,
}

impl Insert {
    /// Whether these are the selftests' flags (CAP_SYS_ADMIN only).
    pub(crate) fn is_test(self) -> bool {
        self.prot_wb || self.raw_pte
    }

    /// Whether the user PTE would disagree with the page's memtype: a WB
    /// alias of WC/UC- pages (refused unless aliases are allowed).
    pub(crate) fn makes_alias(self) -> bool {
        self.prot_wb && self.raw_pte
    }

    /// The mode the handler asks for, for an object of mode `mode`.
    pub(crate) fn mode(self, mode: CacheMode) -> CacheMode {
        if self.prot_wb {
            CacheMode::Wb
        } else {
            mode
        }
    }
}

/// A CREATE request, checked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Create {
    /// Pages in the object.
    pub(crate) pages: u64,
    /// Its cache mode: WC or UC-.
    pub(crate) mode: CacheMode,
    /// How its pages are inserted on fault.
    pub(crate) insert: Insert,
}

impl Create {
    /// Decodes and checks `struct pte_attrs_gem_create`.
    pub(crate) fn decode(b: &[u8; CREATE_SIZE]) -> Result<Create, ParseError> {
        let pages = u64_at(b, 0);
        if pages == 0 || pages > MAX_PAGES {
            return Err(ParseError::OutOfRange {
                min: 1,
                max: MAX_PAGES,
            });
        }
        let mode = match u32_at(b, 8) {
            1 => CacheMode::Wc,
            2 => CacheMode::UcMinus,
            _ => return Err(ParseError::Invalid),
        };
        let flags = u32_at(b, 12);
        if flags & !(CREATE_TEST_PROT_WB | CREATE_TEST_RAW_PTE) != 0 {
            return Err(ParseError::Invalid);
        }
        let insert = Insert {
            prot_wb: flags & CREATE_TEST_PROT_WB != 0,
            raw_pte: flags & CREATE_TEST_RAW_PTE != 0,
        };
        Ok(Create {
            pages,
            mode,
            insert,
        })
    }

    /// The answer: `b` with the handle and offset filled in.
    pub(crate) fn answer(b: &mut [u8; CREATE_SIZE], handle: u64) {
        b[16..24].copy_from_slice(&handle.to_ne_bytes());
        b[24..32].copy_from_slice(&offset_of(handle).to_ne_bytes());
    }
}

/// Decodes `struct pte_attrs_gem_handle`.
pub(crate) fn decode_handle(b: &[u8; HANDLE_SIZE]) -> u64 {
    u64_at(b, 0)
}

/// Decodes `struct pte_attrs_gem_pfns`: (handle, room, user pointer).
pub(crate) fn decode_pfns(b: &[u8; PFNS_SIZE]) -> (u64, u64, u64) {
    (u64_at(b, 0), u64_at(b, 8), u64_at(b, 16))
}

/// `b` with the object's page count stored as the answer's `count`.
pub(crate) fn answer_pfns(b: &mut [u8; PFNS_SIZE], pages: u64) {
    b[8..16].copy_from_slice(&pages.to_ne_bytes());
}

/// The byte offset at which object `handle` is mapped.
pub(crate) fn offset_of(handle: u64) -> u64 {
    handle << OBJ_SHIFT
}

/// The byte range `(start, len)` of the device file that object `handle`
/// of `pages` pages may occupy in a mapping: what a zap must cover.
pub(crate) fn zap_range(handle: u64, pages: u64) -> (u64, u64) {
    (offset_of(handle), pages << 12)
}

/// Where a file page offset falls: (handle, page within the object).
pub(crate) fn locate(pgoff: u64) -> (u64, u64) {
    (
        pgoff >> OBJ_SHIFT_PAGES,
        pgoff & ((1 << OBJ_SHIFT_PAGES) - 1),
    )
}

/// Why an mmap request is refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum MmapRefusal {
    /// A private (copy-on-write) mapping: a PFN map must be shared.
    Private,
    /// The offset names no object that ever existed (or not this file's).
    NoObject,
    /// The object existed and is destroyed.
    Gone,
    /// The mapping runs past the object's end.
    TooLarge,
}

impl MmapRefusal {
    /// The reason, for the log.
    pub(crate) fn why(self) -> &'static str {
        match self {
            MmapRefusal::Private => "mmap: refused a private mapping (MAP_SHARED only)",
            MmapRefusal::NoObject => "mmap: no object of this file at that offset",
            MmapRefusal::Gone => "mmap: the object at that offset is destroyed",
            MmapRefusal::TooLarge => "mmap: the mapping runs past the object's end",
        }
    }
}

/// Checks that a mapping of `len` pages from page `first` of an object of
/// `pages` pages stays inside it.
pub(crate) fn check_span(first: u64, len: u64, pages: u64) -> Result<(), MmapRefusal> {
    match first.checked_add(len) {
        Some(end) if len > 0 && end <= pages => Ok(()),
        _ => Err(MmapRefusal::TooLarge),
    }
}

/// The device's counters (`struct pte_attrs_gem_stats`, same order).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    /// Objects created.
    pub(crate) created: u64,
    /// Objects destroyed.
    pub(crate) destroyed: u64,
    /// Objects alive.
    pub(crate) live: u64,
    /// mmap calls accepted.
    pub(crate) mmaps: u64,
    /// mmap calls refused.
    pub(crate) mmap_refused: u64,
    /// Faults that inserted a page.
    pub(crate) faults: u64,
    /// Faults that re-populated an evicted object.
    pub(crate) refaults: u64,
    /// Faults answered with SIGBUS because the object is destroyed (or
    /// the fault is past its end).
    pub(crate) sigbus: u64,
    /// `unmap_mapping_range()` calls.
    pub(crate) zaps: u64,
    /// Objects evicted.
    pub(crate) evictions: u64,
    /// Pages verified through the accessor.
    pub(crate) pages_checked: u64,
    /// Pages found in the wrong cache mode.
    pub(crate) pages_wrong: u64,
    /// Pages not WB again, never freed.
    pub(crate) pages_leaked: u64,
    /// Times pages were allocated and bound.
    pub(crate) populations: u64,
    /// Time in the fault handler (all faults), total and longest, ns.
    pub(crate) fault_ns: u64,
    /// Longest fault.
    pub(crate) fault_ns_max: u64,
    /// Time in `unmap_mapping_range()`, total and longest.
    pub(crate) zap_ns: u64,
    /// Longest zap.
    pub(crate) zap_ns_max: u64,
    /// Time populating (allocate, bind, check), total and longest.
    pub(crate) populate_ns: u64,
    /// Longest population.
    pub(crate) populate_ns_max: u64,
    /// Time evicting (zap, WB, check, free), total and longest.
    pub(crate) evict_ns: u64,
    /// Longest eviction.
    pub(crate) evict_ns_max: u64,
    /// Refaults whose re-population failed (out of memory, a CPA error):
    /// answered with SIGBUS, as TTM answers a failed populate, and not
    /// counted in `sigbus`.
    pub(crate) refault_failed: u64,
}

/// Adds one duration to a total and a maximum.
pub(crate) fn add_ns(total: &mut u64, max: &mut u64, ns: u64) {
    *total = total.saturating_add(ns);
    *max = (*max).max(ns);
}

impl Stats {
    fn values(&self) -> [u64; STATS_N] {
        [
            self.created,
            self.destroyed,
            self.live,
            self.mmaps,
            self.mmap_refused,
            self.faults,
            self.refaults,
            self.sigbus,
            self.zaps,
            self.evictions,
            self.pages_checked,
            self.pages_wrong,
            self.pages_leaked,
            self.populations,
            self.fault_ns,
            self.fault_ns_max,
            self.zap_ns,
            self.zap_ns_max,
            self.populate_ns,
            self.populate_ns_max,
            self.evict_ns,
            self.evict_ns_max,
            self.refault_failed,
        ]
    }

    /// The `key=value` names of [`Stats::values`], in the same order.
    const KEYS: [&'static str; STATS_N] = [
        "created",
        "destroyed",
        "live",
        "mmaps",
        "mmap_refused",
        "faults",
        "refaults",
        "sigbus",
        "zaps",
        "evictions",
        "pages_checked",
        "pages_wrong",
        "pages_leaked",
        "populations",
        "fault_ns",
        "fault_ns_max",
        "zap_ns",
        "zap_ns_max",
        "populate_ns",
        "populate_ns_max",
        "evict_ns",
        "evict_ns_max",
        "refault_failed",
    ];

    /// The counters as `gem.<name>=<value>` lines (the `gem` debugfs file).
    pub(crate) fn write_kv(&self, w: &mut impl fmt::Write) -> fmt::Result {
        for (k, v) in Self::KEYS.iter().zip(self.values()) {
            writeln!(w, "gem.{k}={v}")?;
        }
        Ok(())
    }

    /// `struct pte_attrs_gem_stats`.
    pub(crate) fn encode(&self) -> [u8; STATS_SIZE] {
        let mut b = [0u8; STATS_SIZE];
        for (i, v) in self.values().iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
        }
        b
    }
}

/// `_IOC_NR` of `PTE_ATTRS_GEM_BAR_HOLD`.
pub(crate) const NR_BAR_HOLD: u32 = 6;
/// `_IOC_NR` of `PTE_ATTRS_GEM_BAR_RELEASE`.
pub(crate) const NR_BAR_RELEASE: u32 = 7;
/// Size of `struct pte_attrs_gem_bar`.
pub(crate) const BAR_SIZE: usize = 32 + 8 + 8 * 12;

/// Pages of one BAR path checked through the accessor, and how many were
/// not WC.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PathCheck {
    /// Pages checked.
    pub(crate) pages: u64,
    /// Of those, not mapped WC.
    pub(crate) wrong: u64,
}

/// What `PTE_ATTRS_GEM_BAR_HOLD` did (`struct pte_attrs_gem_bar`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct BarReport {
    /// The BAR's physical start and length.
    pub(crate) start: u64,
    /// Its length.
    pub(crate) size: u64,
    /// `arch_phys_wc_add()`'s return: 0 with PAT (nothing to do), an MTRR
    /// handle without it, or a negative errno.
    pub(crate) phys_wc: i64,
    /// The `io_mapping_init_wc()` mapping (one `ioremap_wc()` of the BAR).
    pub(crate) iomap: PathCheck,
    /// `io_mapping_map_local_wc()`, page by page.
    pub(crate) local: PathCheck,
    /// `io_mapping_map_wc()` of the whole BAR.
    pub(crate) map_wc: PathCheck,
    /// `memremap(MEMREMAP_WC)` of the whole BAR.
    pub(crate) memremap: PathCheck,
}

impl BarReport {
    /// `struct pte_attrs_gem_bar` after its 32-byte device name.
    pub(crate) fn encode_into(&self, b: &mut [u8; BAR_SIZE]) {
        let v = [
            self.start,
            self.size,
            self.phys_wc as u64,
            self.iomap.pages,
            self.iomap.wrong,
            self.local.pages,
            self.local.wrong,
            self.map_wc.pages,
            self.map_wc.wrong,
            self.memremap.pages,
            self.memremap.wrong,
        ];
        for (i, x) in v.iter().enumerate() {
            let o = 40 + i * 8;
            b[o..o + 8].copy_from_slice(&x.to_ne_bytes());
        }
    }
}

/// The device name and BAR index of a `struct pte_attrs_gem_bar` request
/// (an empty name: the first display device with a free prefetchable BAR).
pub(crate) fn decode_bar(b: &[u8; BAR_SIZE]) -> ([u8; 32], u32) {
    let mut dev = [0u8; 32];
    dev.copy_from_slice(&b[0..32]);
    dev[31] = 0;
    (dev, u32_at(b, 32))
}

/// What `lookup user ADDR` found in the calling process.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum UserEntry {
    /// No VMA covers the address.
    NoVma,
    /// The VMA is not a PFN map (only `VM_IO`/`VM_PFNMAP` VMAs are read).
    NotPfnMap,
    /// A PFN map with nothing present at the address.
    NotPresent,
    /// A present 4K entry: its raw value and its paravirt view.
    Present {
        /// As stored: the kernel's own `pfn_pte()` of the frame and flags
        /// `follow_pfnmap_start()` gave, through the paravirt hook.
        raw: u64,
        /// The paravirt view: the frame `pte_pfn()` reads through the
        /// `pte_val` hook, and the entry's flags.
        pv: u64,
        /// A special entry (`pte_special()`): a PFN map's, no struct page
        /// refcounted.
        special: bool,
    },
}

/// The direct-map entry of the frame a user entry maps.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum DirectMap {
    /// The frame is not RAM the kernel maps (no `struct page`).
    NotRam,
    /// The frame's direct-map address maps nothing (a freed page under
    /// `DEBUG_PAGEALLOC`).
    Unmapped,
    /// The entry that maps it, through the paravirt view.
    Entry {
        /// Its level.
        level: Level,
        /// Its paravirt view.
        pv: u64,
    },
}

/// Writes the report of `lookup user ADDR`: for a present entry the same
/// lines as a kernel lookup (both views, flags with the entry's own
/// `user=`, `rw=`, `nx=`, cache mode), then `lookup=user`, `special=`,
/// `vm_pfnmap=`, and the direct map's cache mode for the same frame with
/// `agrees=1|0`.
pub(crate) fn write_user_report(
    w: &mut impl fmt::Write,
    addr: u64,
    entry: UserEntry,
    dm: DirectMap,
    pat: &PatTable,
    masks: PteMasks,
) -> fmt::Result {
    let (raw, pv, special) = match entry {
        UserEntry::Present { raw, pv, special } => (raw, pv, special),
        other => {
            writeln!(w, "{addr:#018x}: user, not mapped")?;
            writeln!(w, "addr={addr:#018x}")?;
            writeln!(w, "lookup=user")?;
            writeln!(w, "mapped=0")?;
            let why = match other {
                UserEntry::NoVma => "no_vma",
                UserEntry::NotPfnMap => "not_pfnmap",
                _ => "not_present",
            };
            writeln!(w, "why={why}")?;
            return writeln!(w, "vm_pfnmap={}", u8::from(other == UserEntry::NotPresent));
        }
    };
    crate::pure::attrs::write_report(w, addr, Level::K4, pv, raw, pat, masks)?;
    writeln!(w, "lookup=user")?;
    writeln!(w, "special={}", u8::from(special))?;
    writeln!(w, "vm_pfnmap=1")?;
    let user = PteAttrs::decode_in(pv, Level::K4, pat, masks).cache_mode();
    let (dm_cache, agrees) = match dm {
        DirectMap::NotRam => ("not_ram", None),
        DirectMap::Unmapped => ("unmapped", None),
        DirectMap::Entry { level, pv } => {
            let m = PteAttrs::decode_in(pv, level, pat, masks).cache_mode();
            (
                m.map_or("?", CacheMode::name),
                Some(m.is_some() && m == user),
            )
        }
    };
    writeln!(w, "direct_map_cache={dm_cache}")?;
    match agrees {
        Some(a) => writeln!(w, "agrees={}", u8::from(a)),
        None => writeln!(w, "agrees=-"),
    }
}

/// A BAR of at most this many pages (64 MiB) is checked page by page.
pub(crate) const CHECK_ALL: u64 = 16384;
/// On a bigger BAR: the first and the last this many pages ...
pub(crate) const CHECK_EDGE: u64 = 4096;
/// ... and this many spread evenly over the pages between them.
pub(crate) const CHECK_SPREAD: u64 = CHECK_ALL - 2 * CHECK_EDGE;

/// The pages of a BAR of `pages` pages that the DRM BAR paths check: all
/// of a BAR of at most [`CHECK_ALL`] pages; of a bigger one (a datacenter
/// GPU's 64-128 GiB) the first and the last [`CHECK_EDGE`] and
/// [`CHECK_SPREAD`] spread evenly between them, so that every BAR costs
/// at most [`CHECK_ALL`] checks per path.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Sample {
    pages: u64,
}

impl Sample {
    /// The sample of a BAR of `pages` pages.
    pub(crate) fn of(pages: u64) -> Self {
        Sample { pages }
    }

    /// How many pages are checked.
    pub(crate) fn count(self) -> u64 {
        self.pages.min(CHECK_ALL)
    }

    /// The page (index in the BAR) of check `i` (`i < count()`), in
    /// strictly increasing order.
    pub(crate) fn page(self, i: u64) -> u64 {
        if self.pages <= CHECK_ALL || i < CHECK_EDGE {
            i
        } else if i >= CHECK_EDGE + CHECK_SPREAD {
            // The last CHECK_EDGE pages.
            self.pages - (CHECK_ALL - i)
        } else {
            // Between them, `middle > CHECK_SPREAD` pages: check `k` is
            // page `k * middle / CHECK_SPREAD` of them, computed in two
            // parts so that no product overflows, whatever `pages` is.
            let middle = self.pages - 2 * CHECK_EDGE;
            let k = i - CHECK_EDGE;
            let (q, r) = (middle / CHECK_SPREAD, middle % CHECK_SPREAD);
            CHECK_EDGE + k * q + k * r / CHECK_SPREAD
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::String;

    fn create(pages: u64, caching: u32, pad: u32) -> [u8; CREATE_SIZE] {
        let mut b = [0u8; CREATE_SIZE];
        b[0..8].copy_from_slice(&pages.to_ne_bytes());
        b[8..12].copy_from_slice(&caching.to_ne_bytes());
        b[12..16].copy_from_slice(&pad.to_ne_bytes());
        b
    }

    #[test]
    fn create_checks() {
        assert_eq!(
            Create::decode(&create(4, 1, 0)),
            Ok(Create {
                pages: 4,
                mode: CacheMode::Wc,
                insert: Insert::default(),
            })
        );
        assert_eq!(
            Create::decode(&create(MAX_PAGES, 2, 0)).map(|c| c.mode),
            Ok(CacheMode::UcMinus)
        );
        assert!(Create::decode(&create(0, 1, 0)).is_err());
        assert!(Create::decode(&create(MAX_PAGES + 1, 1, 0)).is_err());
        assert!(Create::decode(&create(1, 0, 0)).is_err());
        assert!(Create::decode(&create(1, 3, 0)).is_err());
        assert!(Create::decode(&create(1, 1, 4)).is_err());
        assert!(Create::decode(&create(1, 1, 1 << 31)).is_err());
        let i = |flags| Create::decode(&create(1, 1, flags)).unwrap().insert;
        assert!(!i(0).is_test());
        assert_eq!(i(1).mode(CacheMode::Wc), CacheMode::Wb);
        assert!(i(1).is_test() && !i(1).makes_alias());
        assert_eq!(i(2).mode(CacheMode::UcMinus), CacheMode::UcMinus);
        assert!(i(2).raw_pte && !i(2).makes_alias());
        assert!(i(3).makes_alias());
        let mut b = create(1, 1, 0);
        Create::answer(&mut b, 3);
        assert_eq!(u64_at(&b, 16), 3);
        assert_eq!(u64_at(&b, 24), 3 << 32);
    }

    #[test]
    fn bar_layout() {
        let mut b = [0u8; BAR_SIZE];
        b[0..4].copy_from_slice(b"0000");
        b[31] = b'x';
        b[32..36].copy_from_slice(&2u32.to_ne_bytes());
        let (dev, bar) = decode_bar(&b);
        assert_eq!(&dev[0..4], b"0000");
        assert_eq!(dev[31], 0);
        assert_eq!(bar, 2);
        let r = BarReport {
            start: 0xfd00_0000,
            phys_wc: -22,
            memremap: PathCheck { pages: 7, wrong: 1 },
            ..BarReport::default()
        };
        r.encode_into(&mut b);
        assert_eq!(u64_at(&b, 40), 0xfd00_0000);
        assert_eq!(u64_at(&b, 56) as i64, -22);
        assert_eq!(u64_at(&b, 40 + 9 * 8), 7);
        assert_eq!(u64_at(&b, 40 + 10 * 8), 1);
        assert_eq!(BAR_SIZE, 40 + 11 * 8 + 8);
    }

    #[test]
    fn offsets() {
        assert_eq!(locate(offset_of(5) >> 12), (5, 0));
        assert_eq!(locate((offset_of(5) >> 12) + 7), (5, 7));
        assert_eq!(zap_range(2, 3), (2 << 32, 3 << 12));
        assert!(offset_of(MAX_HANDLE) <= i64::MAX as u64);
        assert_eq!(check_span(0, 4, 4), Ok(()));
        assert_eq!(check_span(1, 3, 4), Ok(()));
        assert_eq!(check_span(1, 4, 4), Err(MmapRefusal::TooLarge));
        assert_eq!(check_span(0, 0, 4), Err(MmapRefusal::TooLarge));
        assert_eq!(check_span(u64::MAX, 2, 4), Err(MmapRefusal::TooLarge));
    }

    #[test]
    fn stats_encode_in_header_order() {
        let s = Stats {
            created: 1,
            populations: 14,
            ..Stats::default()
        };
        let b = s.encode();
        assert_eq!(u64_at(&b, 0), 1);
        assert_eq!(u64_at(&b, 13 * 8), 14);
        // Appended after the 22 counters of the first header.
        let s = Stats {
            refault_failed: 3,
            ..Stats::default()
        };
        assert_eq!(u64_at(&s.encode(), 22 * 8), 3);
        assert!(stats_size_ok(22 * 8) && stats_size_ok(STATS_SIZE) && stats_size_ok(8));
        assert!(!stats_size_ok(0) && !stats_size_ok(7) && !stats_size_ok(STATS_SIZE + 8));
    }

    fn pat() -> PatTable {
        // Linux's PAT MSR: WB WC UC- UC WB WP UC- WT.
        PatTable::from_msr(0x0407_0501_0007_0106)
    }

    fn masks() -> PteMasks {
        PteMasks::from_pfn_mask(0x000f_ffff_ffff_f000).unwrap()
    }

    #[test]
    fn user_report_agreement() {
        // WC is PAT index 1: PWT set.
        let wc = 0x8000_0000_1234_5067 | 0x8;
        let mut t = String::new();
        let dm = DirectMap::Entry {
            level: Level::K4,
            pv: 0x8000_0000_1234_5163 | 0x8,
        };
        let e = UserEntry::Present {
            raw: wc,
            pv: wc,
            special: true,
        };
        write_user_report(&mut t, 0x7f00_0000_0000, e, dm, &pat(), masks()).unwrap();
        assert!(t.contains("cache=WC\n"), "{t}");
        assert!(t.contains("direct_map_cache=WC\nagrees=1\n"), "{t}");
        // The entry's own bits, once each: U/S, RW, NX.
        assert_eq!(t.matches("\nuser=").count(), 1, "{t}");
        assert!(t.contains("\nuser=1\n") && t.contains("\nrw=1\n"), "{t}");
        assert!(t.contains("\nnx=1\n") && t.contains("\nglobal=0\n"), "{t}");
        assert!(t.contains("lookup=user\nspecial=1\nvm_pfnmap=1\n"), "{t}");

        // A read-only, executable entry, not special: its own bits.
        let ro = 0x1234_5065 | 0x8;
        t.clear();
        let e2 = UserEntry::Present {
            raw: ro,
            pv: ro,
            special: false,
        };
        write_user_report(&mut t, 0x7f00_0000_0000, e2, dm, &pat(), masks()).unwrap();
        assert!(t.contains("\nrw=0\n") && t.contains("\nnx=0\n"), "{t}");
        assert!(t.contains("\nspecial=0\n"), "{t}");

        let wb_dm = DirectMap::Entry {
            level: Level::K4,
            pv: 0x8000_0000_1234_5163,
        };
        t.clear();
        write_user_report(&mut t, 0x7f00_0000_0000, e, wb_dm, &pat(), masks()).unwrap();
        assert!(t.contains("direct_map_cache=WB\nagrees=0\n"), "{t}");

        t.clear();
        write_user_report(&mut t, 0x1000, e, DirectMap::NotRam, &pat(), masks()).unwrap();
        assert!(t.contains("direct_map_cache=not_ram\nagrees=-\n"), "{t}");

        t.clear();
        let n = UserEntry::NotPresent;
        write_user_report(&mut t, 0x1000, n, DirectMap::NotRam, &pat(), masks()).unwrap();
        assert!(
            t.contains("lookup=user\nmapped=0\nwhy=not_present\nvm_pfnmap=1\n"),
            "{t}"
        );
        assert!(!t.contains("\nuser="), "{t}");
    }

    #[test]
    fn stats_lines() {
        let mut st = Stats::default();
        st.faults = 736;
        st.zaps = 25;
        st.evict_ns_max = 9;
        let mut out = std::string::String::new();
        st.write_kv(&mut out).unwrap();
        assert_eq!(out.lines().count(), STATS_N);
        assert!(out.starts_with("gem.created=0\n"), "{out}");
        assert!(out.contains("\ngem.faults=736\n"), "{out}");
        assert!(out.contains("\ngem.zaps=25\n"), "{out}");
        assert!(out.contains("\ngem.evict_ns_max=9\n"), "{out}");
        assert!(out.ends_with("gem.refault_failed=0\n"), "{out}");
    }

    /// The pages a [`Sample`] of a BAR of `pages` pages checks.
    fn sampled(pages: u64) -> std::vec::Vec<u64> {
        let s = Sample::of(pages);
        (0..s.count()).map(|i| s.page(i)).collect()
    }

    #[test]
    fn a_bar_of_at_most_64_mib_is_checked_page_by_page() {
        for pages in [1, 4096, CHECK_ALL] {
            let want: std::vec::Vec<u64> = (0..pages).collect();
            assert_eq!(sampled(pages), want, "{pages} pages");
        }
    }

    #[test]
    fn a_bigger_bar_is_sampled_at_both_ends_and_evenly_between() {
        // Just above the threshold, 128 GiB, and the largest a u64 size
        // gives (no product may overflow).
        for pages in [CHECK_ALL + 1, 3 * CHECK_ALL, 1 << 25, u64::MAX >> 12] {
            let p = sampled(pages);
            assert_eq!(p.len() as u64, CHECK_ALL, "{pages} pages");
            assert!(p.windows(2).all(|w| w[0] < w[1]), "{pages}: not increasing");
            let head = &p[..CHECK_EDGE as usize];
            let tail = &p[(CHECK_ALL - CHECK_EDGE) as usize..];
            assert!(
                head.iter().copied().eq(0..CHECK_EDGE),
                "{pages}: {:?}..",
                &head[..4]
            );
            assert!(
                tail.iter().copied().eq(pages - CHECK_EDGE..pages),
                "{pages}: the last edge is {}..={}",
                tail[0],
                tail[tail.len() - 1]
            );
            // From the first spread page to the first of the last edge,
            // no gap is more than one page longer than another: the
            // spread is even.
            let mid = &p[CHECK_EDGE as usize..=(CHECK_EDGE + CHECK_SPREAD) as usize];
            let gaps: std::vec::Vec<u64> = mid.windows(2).map(|w| w[1] - w[0]).collect();
            let (lo, hi) = (gaps.iter().min().unwrap(), gaps.iter().max().unwrap());
            assert!(hi - lo <= 1, "{pages} pages: gaps {lo}..{hi}");
        }
    }
}
