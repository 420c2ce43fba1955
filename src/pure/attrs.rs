// SPDX-License-Identifier: GPL-2.0

//! Decoding of x86-64 page-table entry attributes.
//!
//! Bit layout as in `arch/x86/include/asm/pgtable_types.h` (Linux 6.12).
//! Bit 7 is `_PAGE_PAT` on 4K entries but `_PAGE_PSE` on 2M/1G entries, whose
//! PAT bit is bit 12 (`_PAGE_PAT_LARGE`). Nothing here touches the kernel: the
//! caller reads entry values and the PAT configuration and passes them in.

use core::fmt;

const PRESENT: u32 = 0;
const RW: u32 = 1;
const USER: u32 = 2;
const PWT: u32 = 3;
const PCD: u32 = 4;
const ACCESSED: u32 = 5;
const DIRTY: u32 = 6;
const PSE: u32 = 7;
const GLOBAL: u32 = 8;
const SOFTW1: u32 = 9;
const SOFTW4: u32 = 57;
const PKEY: u32 = 59;
const NX: u32 = 63;

/// The frame field of an entry as the running kernel defines it:
/// `PTE_PFN_MASK` (`PAGE_MASK & __PHYSICAL_MASK`), whose complement is
/// `PTE_FLAGS_MASK`.
///
/// Under SME/SEV the kernel clears the encryption bit (the C-bit, e.g. bit
/// 47 or 51) from `physical_mask`, so that bit counts as a flag; under TDX
/// the shared bit likewise. The module reads the mask at load
/// (`accessor::init`) instead of assuming 52 physical bits.
///
/// # Invariants
///
/// `pfn` is non-zero and lies within bits 12..51 (the architectural frame
/// field).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct PteMasks {
    pfn: u64,
}

impl PteMasks {
    /// 52 physical address bits, no encryption bit: bits 12..51.
    pub(crate) const ARCH: PteMasks = PteMasks {
        pfn: 0x000f_ffff_ffff_f000,
    };

    /// The masks of a kernel whose `PTE_PFN_MASK` is `pfn`; `None` unless
    /// it is non-zero and within bits 12..51.
    pub(crate) fn from_pfn_mask(pfn: u64) -> Option<PteMasks> {
        (pfn != 0 && pfn & !Self::ARCH.pfn == 0).then_some(PteMasks { pfn })
    }

    /// `PTE_PFN_MASK`.
    pub(crate) fn pfn_mask(self) -> u64 {
        self.pfn
    }

    /// `PTE_FLAGS_MASK`: every bit outside the frame field of a 4K entry.
    pub(crate) fn flags_mask(self) -> u64 {
        !self.pfn
    }

    /// The frame field of an entry at `level` (`pXd_pfn_mask()` of a leaf):
    /// the 4K frame field without the offset bits of a 2M or 1G page.
    pub(crate) fn frame_mask(self, level: Level) -> u64 {
        self.pfn & !(level.size() - 1)
    }
}

/// `pte_attrs()` of the C API: the flags of an entry value `pv` read
/// through the paravirt hook, `pte_val(pte) & PTE_FLAGS_MASK`.
pub(crate) fn pte_attrs_flags(pv: u64, masks: PteMasks) -> u64 {
    pv & masks.flags_mask()
}

/// Page-table level an entry maps at.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// A 4 KiB page (PTE).
    K4,
    /// A 2 MiB page (large PMD).
    M2,
    /// A 1 GiB page (large PUD).
    G1,
}

impl Level {
    /// Short name: `"4K"`, `"2M"` or `"1G"`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Level::K4 => "4K",
            Level::M2 => "2M",
            Level::G1 => "1G",
        }
    }

    /// Size in bytes of a page mapped at this level.
    pub(crate) fn size(self) -> u64 {
        match self {
            Level::K4 => 1 << 12,
            Level::M2 => 1 << 21,
            Level::G1 => 1 << 30,
        }
    }

    /// Bit number of the PAT bit at this level: 7 for 4K, 12 for 2M/1G.
    pub(crate) fn pat_bit(self) -> u32 {
        match self {
            Level::K4 => 7,
            Level::M2 | Level::G1 => 12,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A cache mode, numbered as the kernel's `enum page_cache_mode`.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum CacheMode {
    /// Write-back.
    Wb = 0,
    /// Write-combining.
    Wc = 1,
    /// Uncached, overridable by MTRRs (UC-).
    UcMinus = 2,
    /// Strongly uncached.
    Uc = 3,
    /// Write-through.
    Wt = 4,
    /// Write-protected.
    Wp = 5,
}

impl CacheMode {
    /// All modes, in kernel order (so `ALL[m as usize] == m`).
    pub(crate) const ALL: [CacheMode; 6] = [
        CacheMode::Wb,
        CacheMode::Wc,
        CacheMode::UcMinus,
        CacheMode::Uc,
        CacheMode::Wt,
        CacheMode::Wp,
    ];

    /// Converts an `enum page_cache_mode` value.
    pub(crate) fn from_kernel(v: u32) -> Option<CacheMode> {
        usize::try_from(v)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    /// Name as the kernel prints it: `"WB"`, `"WC"`, `"UC-"`, `"UC"`, `"WT"`, `"WP"`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            CacheMode::Wb => "WB",
            CacheMode::Wc => "WC",
            CacheMode::UcMinus => "UC-",
            CacheMode::Uc => "UC",
            CacheMode::Wt => "WT",
            CacheMode::Wp => "WP",
        }
    }

    /// Decodes a PAT MSR memory type as the kernel's `pat_get_cache_mode()`
    /// does: reserved types (2, 3) are treated as WB.
    fn from_memtype(t: u8) -> CacheMode {
        match t & 7 {
            0 => CacheMode::Uc,
            1 => CacheMode::Wc,
            4 => CacheMode::Wt,
            5 => CacheMode::Wp,
            7 => CacheMode::UcMinus,
            _ => CacheMode::Wb,
        }
    }
}

impl fmt::Display for CacheMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn bit(val: u64, n: u32) -> bool {
    (val >> n) & 1 != 0
}

/// The bits of an entry at `level` that say whether it is present and
/// give its PAT index ([`pat_index`]): all that a check of its cache mode
/// reads.
pub(crate) fn mode_bits(level: Level) -> u64 {
    1 << PRESENT | 1 << PWT | 1 << PCD | 1 << level.pat_bit()
}

/// PAT index `(PAT << 2) | (PCD << 1) | PWT` of an entry value at `level`.
pub(crate) fn pat_index(val: u64, level: Level) -> u8 {
    (u8::from(bit(val, level.pat_bit())) << 2)
        | (u8::from(bit(val, PCD)) << 1)
        | u8::from(bit(val, PWT))
}

/// The 8-entry PAT table as the kernel uses it; an entry may be unknown (`None`).
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct PatTable {
    modes: [Option<CacheMode>; 8],
}

impl PatTable {
    /// Decodes a PAT MSR value as the kernel's `init_cache_modes()` does.
    pub(crate) fn from_msr(msr: u64) -> PatTable {
        let bytes = msr.to_le_bytes();
        PatTable {
            modes: bytes.map(|b| Some(CacheMode::from_memtype(b))),
        }
    }

    /// Rebuilds the table from `cachemode2protval()` results (indexed by
    /// `CacheMode as u8`) and, when available, the PAT MSR.
    ///
    /// For each mode `m`, the index encoded in `protvals[m]` (4K layout: bits
    /// 3, 4 and 7) maps to `m`: that is the kernel's own translation and wins.
    /// Indices that no mode names are filled from the MSR decode (`None`
    /// without an MSR). When several modes name one index (modes missing from
    /// the table fall back to the UC- slot), the MSR decode decides if it is
    /// one of them, else UC- if it is one of them, else the index is unknown.
    ///
    /// Fails when the MSR decode disagrees with the kernel at an index a mode
    /// names while that mode is present somewhere in the MSR table (a mode
    /// absent from it legitimately falls back to another index).
    pub(crate) fn from_protvals(
        protvals: &[u64; 6],
        msr: Option<u64>,
    ) -> Result<PatTable, PatMismatch> {
        let hw = msr.map(PatTable::from_msr);
        let claims = protvals.map(|v| pat_index(v, Level::K4));
        let names = |i: u8, m: CacheMode| claims[usize::from(m as u8)] == i;
        let mut modes = [None; 8];
        for (i, slot) in (0u8..).zip(modes.iter_mut()) {
            let hw_mode = hw.and_then(|t| t.mode(i));
            let mut named = CacheMode::ALL.into_iter().filter(|&m| names(i, m));
            *slot = match (named.next(), named.next()) {
                (None, _) => hw_mode,
                (Some(m), None) => Some(m),
                (Some(_), Some(_)) => hw_mode
                    .filter(|&h| names(i, h))
                    .or_else(|| names(i, CacheMode::UcMinus).then_some(CacheMode::UcMinus)),
            };
        }
        if let Some(hw) = hw {
            for (m, index) in CacheMode::ALL.into_iter().zip(claims) {
                match hw.mode(index) {
                    Some(h) if h != m && hw.index_of(m).is_some() => {
                        return Err(PatMismatch {
                            index,
                            kernel: m,
                            msr: h,
                        });
                    }
                    _ => {}
                }
            }
        }
        Ok(PatTable { modes })
    }

    /// Packs the table into a `u64` (one byte an index, `0xff` for an
    /// unknown mode), so that it can live in an atomic.
    pub(crate) fn pack(&self) -> u64 {
        u64::from_le_bytes(self.modes.map(|m| m.map_or(0xff, |m| m as u8)))
    }

    /// The inverse of [`PatTable::pack`]; bytes that name no mode are unknown.
    pub(crate) fn unpack(bits: u64) -> PatTable {
        PatTable {
            modes: bits
                .to_le_bytes()
                .map(|b| CacheMode::from_kernel(u32::from(b))),
        }
    }

    /// Mode at `index & 7`, if known.
    pub(crate) fn mode(&self, index: u8) -> Option<CacheMode> {
        self.modes[usize::from(index & 7)]
    }

    /// Index the kernel uses for `mode` (lowest index holding it), if any.
    pub(crate) fn index_of(&self, mode: CacheMode) -> Option<u8> {
        (0u8..)
            .zip(self.modes)
            .find_map(|(i, m)| (m == Some(mode)).then_some(i))
    }
}

impl fmt::Display for PatTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, m) in self.modes.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(m.map_or("?", CacheMode::name))?;
        }
        Ok(())
    }
}

/// The kernel's cache-mode translation contradicts the PAT MSR.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct PatMismatch {
    /// PAT index in question.
    pub(crate) index: u8,
    /// Mode the kernel maps to this index.
    pub(crate) kernel: CacheMode,
    /// Mode the PAT MSR holds at this index.
    pub(crate) msr: CacheMode,
}

impl fmt::Display for PatMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PAT index {}: kernel uses it for {} but the MSR says {}",
            self.index, self.kernel, self.msr
        )
    }
}

/// Decoded attributes of one entry value at one level.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct PteAttrs {
    val: u64,
    level: Level,
    cache: Option<CacheMode>,
    masks: PteMasks,
}

impl PteAttrs {
    /// Decodes `val`, an entry at `level`, resolving its cache mode with
    /// `pat`, with the architectural frame field ([`PteMasks::ARCH`]).
    /// Right for the cache mode and every flag on any kernel; where the
    /// frame and flags fields matter use [`PteAttrs::decode_in`] with the
    /// running kernel's masks (`accessor::decode`).
    pub(crate) fn decode(val: u64, level: Level, pat: &PatTable) -> PteAttrs {
        Self::decode_in(val, level, pat, PteMasks::ARCH)
    }

    /// Decodes `val`, an entry at `level`, with the PAT table `pat` and the
    /// frame field of `masks`.
    pub(crate) fn decode_in(val: u64, level: Level, pat: &PatTable, masks: PteMasks) -> PteAttrs {
        PteAttrs {
            val,
            level,
            cache: pat.mode(pat_index(val, level)),
            masks,
        }
    }

    /// Raw entry value.
    #[cfg(test)]
    pub(crate) fn val(&self) -> u64 {
        self.val
    }

    /// Level of the entry.
    #[cfg(test)]
    pub(crate) fn level(&self) -> Level {
        self.level
    }

    /// All bits outside the level's frame mask.
    pub(crate) fn flags(&self) -> u64 {
        self.val & !self.masks.frame_mask(self.level)
    }

    /// Number of the first 4K frame mapped by the entry.
    pub(crate) fn pfn(&self) -> u64 {
        (self.val & self.masks.frame_mask(self.level)) >> 12
    }

    /// `_PAGE_PRESENT`.
    pub(crate) fn present(&self) -> bool {
        bit(self.val, PRESENT)
    }

    /// `_PAGE_RW`: writable.
    pub(crate) fn rw(&self) -> bool {
        bit(self.val, RW)
    }

    /// `_PAGE_USER`: accessible from user mode.
    pub(crate) fn user(&self) -> bool {
        bit(self.val, USER)
    }

    /// `_PAGE_PWT`: page write-through.
    pub(crate) fn pwt(&self) -> bool {
        bit(self.val, PWT)
    }

    /// `_PAGE_PCD`: page cache disable.
    pub(crate) fn pcd(&self) -> bool {
        bit(self.val, PCD)
    }

    /// The PAT bit of this level (bit 7 on 4K, bit 12 on 2M/1G).
    pub(crate) fn pat(&self) -> bool {
        bit(self.val, self.level.pat_bit())
    }

    /// `_PAGE_ACCESSED`.
    pub(crate) fn accessed(&self) -> bool {
        bit(self.val, ACCESSED)
    }

    /// `_PAGE_DIRTY`.
    pub(crate) fn dirty(&self) -> bool {
        bit(self.val, DIRTY)
    }

    /// `_PAGE_PSE`: large page; always false on 4K, where bit 7 is PAT.
    pub(crate) fn pse(&self) -> bool {
        self.level != Level::K4 && bit(self.val, PSE)
    }

    /// `_PAGE_GLOBAL`.
    pub(crate) fn global(&self) -> bool {
        bit(self.val, GLOBAL)
    }

    /// `_PAGE_NX`: not executable.
    pub(crate) fn nx(&self) -> bool {
        bit(self.val, NX)
    }

    /// Software bits: SOFTW1..3 as bits 0..2, SOFTW4 as bit 3, SOFTW5 as bit 4.
    pub(crate) fn soft_bits(&self) -> u8 {
        // Bits 9..11 and 57..58 each hold a run of software bits.
        (((self.val >> SOFTW1) & 0x7) | (((self.val >> SOFTW4) & 0x3) << 3)) as u8
    }

    /// Protection key (bits 59..62).
    pub(crate) fn pkey(&self) -> u8 {
        ((self.val >> PKEY) & 0xf) as u8
    }

    /// Cache mode selected by the entry's PAT index, if the table knows it.
    pub(crate) fn cache_mode(&self) -> Option<CacheMode> {
        self.cache
    }

    /// PAT index of the entry.
    pub(crate) fn pat_index(&self) -> u8 {
        pat_index(self.val, self.level)
    }
}

impl fmt::Display for PteAttrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.level.name())?;
        if !self.present() {
            return f.write_str(" not-present");
        }
        f.write_str(" present")?;
        f.write_str(if self.rw() { " rw" } else { " ro" })?;
        if self.user() {
            f.write_str(" user")?;
        }
        f.write_str(if self.nx() { " nx" } else { " x" })?;
        for (set, name) in [
            (self.global(), " global"),
            (self.accessed(), " accessed"),
            (self.dirty(), " dirty"),
            (self.pse(), " pse"),
        ] {
            if set {
                f.write_str(name)?;
            }
        }
        if self.pkey() != 0 {
            write!(f, " pkey={}", self.pkey())?;
        }
        if self.soft_bits() != 0 {
            write!(f, " soft={:#x}", self.soft_bits())?;
        }
        match self.cache {
            Some(m) => write!(f, " {m}"),
            None => f.write_str(" cache?"),
        }
    }
}

/// Writes the full report of a lookup at `addr` as `key=value` lines, given
/// the entry value read through the paravirt hook (`pv`) and the raw native
/// value (`raw`). The first line is a human summary of `pv`.
pub(crate) fn write_report(
    w: &mut impl fmt::Write,
    addr: u64,
    level: Level,
    pv: u64,
    raw: u64,
    pat: &PatTable,
    masks: PteMasks,
) -> fmt::Result {
    let a = PteAttrs::decode_in(pv, level, pat, masks);
    let raw_pfn = PteAttrs::decode_in(raw, level, pat, masks).pfn();
    writeln!(w, "{addr:#018x}: {a}")?;
    writeln!(w, "addr={addr:#018x}")?;
    writeln!(w, "mapped=1")?;
    writeln!(w, "level={level}")?;
    writeln!(w, "pv={pv:#018x}")?;
    writeln!(w, "raw={raw:#018x}")?;
    writeln!(w, "flags={:#018x}", a.flags())?;
    writeln!(w, "pfn={:#x}", a.pfn())?;
    writeln!(w, "raw_pfn={raw_pfn:#x}")?;
    writeln!(w, "views={}", if pv == raw { "same" } else { "differ" })?;
    for (name, set) in [
        ("present", a.present()),
        ("rw", a.rw()),
        ("user", a.user()),
        ("pwt", a.pwt()),
        ("pcd", a.pcd()),
        ("pat", a.pat()),
        ("accessed", a.accessed()),
        ("dirty", a.dirty()),
        ("pse", a.pse()),
        ("global", a.global()),
        ("nx", a.nx()),
    ] {
        writeln!(w, "{name}={}", u8::from(set))?;
    }
    writeln!(w, "pkey={}", a.pkey())?;
    writeln!(w, "soft={:#x}", a.soft_bits())?;
    writeln!(w, "pat_index={}", a.pat_index())?;
    writeln!(w, "cache={}", a.cache.map_or("?", CacheMode::name))
}

/// Writes the report for an address that has no present mapping.
pub(crate) fn write_unmapped(w: &mut impl fmt::Write, addr: u64) -> fmt::Result {
    writeln!(w, "{addr:#018x}: not mapped")?;
    writeln!(w, "addr={addr:#018x}")?;
    writeln!(w, "mapped=0")
}

/// What a kernel virtual address is, before any table is read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum AddrClass {
    /// Bits 63 down to the top bit of the live virtual-address width (47
    /// or 56) are not all equal: the table index would alias a canonical
    /// address (`pgd_index()` masks the high bits).
    NonCanonical,
    /// The lower (user) half: not the kernel's tables to answer for.
    User,
    /// The hypervisor's guard hole (`GUARD_HOLE_BASE_ADDR` ..
    /// `GUARD_HOLE_END_ADDR`): Xen's own top-level entries under PV.
    HypervisorHole,
    /// Any other upper-half address: walked.
    Kernel,
}

impl AddrClass {
    /// Why `lookup` refuses an address of this class, in words (no
    /// address: the log never shows one).
    pub(crate) fn refusal(self) -> &'static str {
        match self {
            AddrClass::NonCanonical => "refused a non-canonical address",
            AddrClass::User => "refused a user-half address: only kernel addresses are looked up",
            AddrClass::HypervisorHole => "refused an address in the hypervisor guard hole",
            AddrClass::Kernel => "a kernel address is not refused",
        }
    }
}

/// A table level of x86-64 paging, top down.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum TableLevel {
    /// The top level under 5-level paging.
    Pgd,
    /// The top level under 4-level paging (the PGD page itself).
    P4d,
    /// May map 1 GiB.
    Pud,
    /// May map 2 MiB.
    Pmd,
    /// Maps 4 KiB.
    Pte,
}

impl TableLevel {
    /// The address bit the level's index starts at.
    pub(crate) fn shift(self) -> u32 {
        match self {
            TableLevel::Pgd => 48,
            TableLevel::P4d => 39,
            TableLevel::Pud => 30,
            TableLevel::Pmd => 21,
            TableLevel::Pte => 12,
        }
    }

    /// The slot of `addr` in a table of this level.
    pub(crate) fn index(self, addr: u64) -> u64 {
        (addr >> self.shift()) & 511
    }
}

/// The virtual-address layout of the running kernel: 4- or 5-level.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct VaLayout {
    l5: bool,
}

impl VaLayout {
    /// 4-level paging: 48-bit virtual addresses, `PGDIR_SHIFT` 39.
    pub(crate) const L4: VaLayout = VaLayout { l5: false };
    /// 5-level paging (LA57): 57-bit virtual addresses, `PGDIR_SHIFT` 48.
    pub(crate) const L5: VaLayout = VaLayout { l5: true };

    /// The layout of a kernel that says `pgtable_l5_enabled()` is `l5` and
    /// `PGDIR_SHIFT` is `pgdir_shift`; `None` when the two disagree.
    pub(crate) fn from_kernel(l5: bool, pgdir_shift: u32) -> Option<VaLayout> {
        let layout = if l5 { Self::L5 } else { Self::L4 };
        (layout.pgdir_shift() == pgdir_shift).then_some(layout)
    }

    /// 5-level paging.
    pub(crate) fn l5(self) -> bool {
        self.l5
    }

    /// `PGDIR_SHIFT`.
    pub(crate) fn pgdir_shift(self) -> u32 {
        if self.l5 {
            48
        } else {
            39
        }
    }

    /// Virtual-address width in bits (`__VIRTUAL_MASK_SHIFT` + 1).
    pub(crate) fn va_bits(self) -> u32 {
        if self.l5 {
            57
        } else {
            48
        }
    }

    /// `GUARD_HOLE_BASE_ADDR` and `GUARD_HOLE_END_ADDR` (exclusive) of
    /// arch/x86/include/asm/pgtable_64_types.h: 16 top-level slots from
    /// slot 256 (`-256UL << PGDIR_SHIFT`).
    pub(crate) fn guard_hole(self) -> (u64, u64) {
        let base = 256u64.wrapping_neg() << self.pgdir_shift();
        (base, base.wrapping_add(16 << self.pgdir_shift()))
    }

    /// The top-down table levels of a walk.
    pub(crate) fn levels(self) -> &'static [TableLevel] {
        use TableLevel::*;
        if self.l5 {
            &[Pgd, P4d, Pud, Pmd, Pte]
        } else {
            &[P4d, Pud, Pmd, Pte]
        }
    }

    /// Classifies `addr`: non-canonical first, then the user half, then the
    /// guard hole.
    pub(crate) fn classify(self, addr: u64) -> AddrClass {
        let unused = 64 - self.va_bits();
        if (((addr << unused) as i64) >> unused) as u64 != addr {
            return AddrClass::NonCanonical;
        }
        if addr >> 63 == 0 {
            return AddrClass::User;
        }
        let (lo, hi) = self.guard_hole();
        if (lo..hi).contains(&addr) {
            return AddrClass::HypervisorHole;
        }
        AddrClass::Kernel
    }
}

/// How a walk reaches the page tables: the caller's no-fault reads, its
/// paravirt view of an entry and its physical-to-virtual translation.
pub(crate) trait Tables {
    /// The 8-byte entry at kernel virtual address `slot`, read without
    /// faulting; `None` if it cannot be read.
    fn read(&mut self, slot: u64) -> Option<u64>;
    /// The entry `raw` of a table at `level` as the paravirt layer sees it
    /// (`pXd_val()`): the kernel derives table pointers from that view.
    fn pv(&self, raw: u64, level: TableLevel) -> u64;
    /// `__va(phys)`.
    fn va(&self, phys: u64) -> u64;
    /// Whether the table at physical `phys` is RAM in the direct map, so
    /// that `va(phys)` is a direct-map address: a walk that races with a
    /// freed and reused table page may be handed any frame, and must not
    /// read through `__va()` of one past RAM (vmalloc or ioremap space).
    fn table_ok(&self, phys: u64) -> bool;
}

/// The present entry a walk ended on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Walked {
    /// What the entry maps.
    pub(crate) level: Level,
    /// The entry as stored.
    pub(crate) raw: u64,
    /// Its kernel virtual address.
    pub(crate) slot: u64,
}

/// Why a walk did not get to an answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum WalkError {
    /// The address is not one to walk (`-EINVAL`).
    Refused(AddrClass),
    /// An entry of a table at this level could not be read (`-EFAULT`).
    Unreadable(TableLevel),
}

const PSE_BIT: u64 = 1 << PSE;

/// Walks the tables from the top-level table at `root` down to the entry
/// that maps `addr`, as `lookup_address()` does but refusing what is not a
/// kernel address and reading every entry through `t`.
///
/// `Ok(None)`: an entry on the way is not present. A present PUD or PMD
/// with `_PAGE_PSE` is a 1G or 2M leaf. The next table is
/// `__va(pv & PTE_PFN_MASK)` with `pv` the level's paravirt view, as
/// `pXd_pgtable()`/`pXd_page_vaddr()` compute it, followed only if
/// [`Tables::table_ok`] says so (else that table is unreadable).
pub(crate) fn walk(
    layout: VaLayout,
    masks: PteMasks,
    root: u64,
    addr: u64,
    t: &mut impl Tables,
) -> Result<Option<Walked>, WalkError> {
    let class = layout.classify(addr);
    if class != AddrClass::Kernel {
        return Err(WalkError::Refused(class));
    }
    let mut table = root;
    // The physical address of `table`, once an entry pointed to it.
    let mut phys = None;
    for &lvl in layout.levels() {
        if phys.is_some_and(|p| !t.table_ok(p)) {
            return Err(WalkError::Unreadable(lvl));
        }
        let slot = table.wrapping_add(lvl.index(addr) * 8);
        let raw = t.read(slot).ok_or(WalkError::Unreadable(lvl))?;
        if raw & (1 << PRESENT) == 0 {
            return Ok(None);
        }
        let leaf = match lvl {
            TableLevel::Pte => Some(Level::K4),
            TableLevel::Pmd if raw & PSE_BIT != 0 => Some(Level::M2),
            TableLevel::Pud if raw & PSE_BIT != 0 => Some(Level::G1),
            _ => None,
        };
        if let Some(level) = leaf {
            return Ok(Some(Walked { level, raw, slot }));
        }
        let next = t.pv(raw, lvl) & masks.pfn_mask();
        phys = Some(next);
        table = t.va(next);
    }
    // The last level is `Pte`, a leaf.
    Ok(None)
}

/// `s` split around the first `sep`: `str::split_once` without its
/// panicking slice path (objtool does not know the 1.96 panic helpers).
pub(crate) fn cut<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let i = s.find(sep)?;
    Some((s.get(..i)?, s.get(i + sep.len()..)?))
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::String;

    /// `x86/PAT: Configuration [0-7]: WB  WC  UC- UC  WB  WP  UC- WT`.
    const NATIVE_MSR: u64 = 0x0407_0506_0007_0106;
    /// Xen PV: `WB  WT  UC- UC  WC  WP  UC  UC`.
    const XEN_MSR: u64 = 0x0000_0501_0007_0406;
    /// The table the kernel builds when PAT is disabled.
    const NOPAT_MSR: u64 = 0x0007_0406_0007_0406;

    const LEVELS: [Level; 3] = [Level::K4, Level::M2, Level::G1];

    /// 4K-layout protval for PAT index `i` (PWT = bit 3, PCD = bit 4, PAT = bit 7).
    fn idx_bits(i: u8, level: Level) -> u64 {
        (u64::from(i & 1) << PWT)
            | (u64::from((i >> 1) & 1) << PCD)
            | (u64::from((i >> 2) & 1) << level.pat_bit())
    }

    /// What `cachemode2protval()` returns for each mode with `table` loaded;
    /// a mode missing from the table gets the kernel's static default (PCD).
    fn protvals(table: &PatTable) -> [u64; 6] {
        CacheMode::ALL.map(|m| idx_bits(table.index_of(m).unwrap_or(2), Level::K4))
    }

    fn show(x: impl fmt::Display) -> String {
        std::format!("{x}")
    }

    #[test]
    fn mode_bits_are_all_a_mode_check_reads() {
        for level in [Level::K4, Level::M2, Level::G1] {
            let m = mode_bits(level);
            assert_eq!(m.count_ones(), 4);
            for v in [
                0u64,
                1,
                0x8000_0000_0000_0163,
                0x18f,
                0x1f7,
                u64::MAX,
                0x1098,
            ] {
                let masked = v & m;
                assert_eq!(pat_index(v, level), pat_index(masked, level), "{v:#x}");
                assert_eq!(bit(v, PRESENT), bit(masked, PRESENT), "{v:#x}");
                // The bits outside do not matter.
                assert_eq!(pat_index(v | !m, level), pat_index(masked | !m, level));
            }
        }
        assert_eq!(mode_bits(Level::K4), 0x99);
        assert_eq!(mode_bits(Level::M2), 0x1019);
    }

    #[test]
    fn levels() {
        let names = LEVELS.map(Level::name);
        assert_eq!(names, ["4K", "2M", "1G"]);
        assert_eq!(LEVELS.map(Level::size), [4096, 2 << 20, 1 << 30]);
        let m = PteMasks::ARCH;
        assert_eq!(m.frame_mask(Level::K4), 0x000f_ffff_ffff_f000);
        assert_eq!(m.frame_mask(Level::M2), 0x000f_ffff_ffe0_0000);
        assert_eq!(m.frame_mask(Level::G1), 0x000f_ffff_c000_0000);
        assert_eq!(m.flags_mask(), 0xfff0_0000_0000_0fff);
        assert_eq!(LEVELS.map(Level::pat_bit), [7, 12, 12]);
    }

    #[test]
    fn cache_modes() {
        for (i, m) in CacheMode::ALL.into_iter().enumerate() {
            assert_eq!(m as usize, i);
            assert_eq!(CacheMode::from_kernel(i as u32), Some(m));
            assert_eq!(show(m), m.name());
        }
        assert_eq!(CacheMode::from_kernel(6), None);
        assert_eq!(CacheMode::from_kernel(u32::MAX), None);
    }

    #[test]
    fn every_bit_at_every_level() {
        let pat = PatTable::from_msr(NATIVE_MSR);
        for level in LEVELS {
            for n in 0..64 {
                let val = 1u64 << n;
                let a = PteAttrs::decode(val, level, &pat);
                let ctx = std::format!("{level:?} bit {n}");
                let in_frame = (12..52).contains(&n) && n >= level.size().trailing_zeros();
                assert_eq!(a.pfn(), if in_frame { val >> 12 } else { 0 }, "{ctx}");
                assert_eq!(a.flags(), if in_frame { 0 } else { val }, "{ctx}");
                assert_eq!(a.val(), val, "{ctx}");
                assert_eq!(a.level(), level, "{ctx}");
                assert_eq!(a.present(), n == 0, "{ctx}");
                assert_eq!(a.rw(), n == 1, "{ctx}");
                assert_eq!(a.user(), n == 2, "{ctx}");
                assert_eq!(a.pwt(), n == 3, "{ctx}");
                assert_eq!(a.pcd(), n == 4, "{ctx}");
                assert_eq!(a.accessed(), n == 5, "{ctx}");
                assert_eq!(a.dirty(), n == 6, "{ctx}");
                assert_eq!(a.pse(), n == 7 && level != Level::K4, "{ctx}");
                assert_eq!(a.pat(), n == level.pat_bit(), "{ctx}");
                assert_eq!(a.global(), n == 8, "{ctx}");
                assert_eq!(a.nx(), n == 63, "{ctx}");
                let soft = match n {
                    9..=11 => 1 << (n - 9),
                    57 | 58 => 1 << (n - 54),
                    _ => 0,
                };
                assert_eq!(a.soft_bits(), soft, "{ctx}");
                let pkey = if (59..63).contains(&n) {
                    1 << (n - 59)
                } else {
                    0
                };
                assert_eq!(a.pkey(), pkey, "{ctx}");
                let idx = match n {
                    3 => 1,
                    4 => 2,
                    _ if n == level.pat_bit() => 4,
                    _ => 0,
                };
                assert_eq!(a.pat_index(), idx, "{ctx}");
                assert_eq!(pat_index(val, level), idx, "{ctx}");
                assert_eq!(a.cache_mode(), pat.mode(idx), "{ctx}");
            }
        }
    }

    #[test]
    fn bit7_and_bit12_depend_on_level() {
        let pat = PatTable::from_msr(NATIVE_MSR);
        let b7 = PteAttrs::decode(1 << 7, Level::K4, &pat);
        assert!(b7.pat() && !b7.pse());
        assert_eq!(b7.cache_mode(), Some(CacheMode::Wb));
        let b7 = PteAttrs::decode(1 << 7, Level::M2, &pat);
        assert!(!b7.pat() && b7.pse());
        assert_eq!(b7.pat_index(), 0);
        let b12 = PteAttrs::decode(1 << 12, Level::K4, &pat);
        assert!(!b12.pat() && b12.pfn() == 1 && b12.flags() == 0);
        for level in [Level::M2, Level::G1] {
            let b12 = PteAttrs::decode(1 << 12, level, &pat);
            assert!(b12.pat() && b12.pfn() == 0 && b12.flags() == 1 << 12);
            assert_eq!(b12.pat_index(), 4);
        }
    }

    #[test]
    fn pfn_per_level() {
        let pat = PatTable::from_msr(NATIVE_MSR);
        let val = 0x8000_0001_2345_6163;
        let pfn = |l| PteAttrs::decode(val, l, &pat).pfn();
        assert_eq!(pfn(Level::K4), 0x12_3456);
        assert_eq!(pfn(Level::M2), 0x12_3400);
        assert_eq!(pfn(Level::G1), 0x10_0000);
        assert_eq!(
            PteAttrs::decode(val, Level::M2, &pat).flags(),
            0x8000_0000_0005_6163
        );
        // Bits 52..63 are never part of the frame.
        assert_eq!(
            PteAttrs::decode(u64::MAX, Level::K4, &pat).pfn(),
            0xff_ffff_ffff
        );
    }

    #[test]
    fn msr_tables() {
        let native = PatTable::from_msr(NATIVE_MSR);
        let xen = PatTable::from_msr(XEN_MSR);
        assert_eq!(show(native), "WB WC UC- UC WB WP UC- WT");
        assert_eq!(show(xen), "WB WT UC- UC WC WP UC UC");
        // Reserved memory types 2 and 3 read as WB.
        assert_eq!(show(PatTable::from_msr(0x0302)), "WB WB UC UC UC UC UC UC");
        use CacheMode::*;
        assert_eq!(native.index_of(Wb), Some(0));
        assert_eq!(native.index_of(Wt), Some(7));
        assert_eq!(xen.index_of(Uc), Some(3));
        assert_eq!(xen.index_of(Wc), Some(4));
        assert_eq!(PatTable::from_msr(NOPAT_MSR).index_of(Wc), None);
        assert_eq!(native.mode(8 + 5), Some(Wp));
    }

    #[test]
    fn every_pat_index() {
        use CacheMode::*;
        let cases = [
            (NATIVE_MSR, [Wb, Wc, UcMinus, Uc, Wb, Wp, UcMinus, Wt]),
            (XEN_MSR, [Wb, Wt, UcMinus, Uc, Wc, Wp, Uc, Uc]),
        ];
        for (msr, want) in cases {
            let pat = PatTable::from_msr(msr);
            for level in LEVELS {
                for i in 0..8u8 {
                    let val = idx_bits(i, level) | 1;
                    let a = PteAttrs::decode(val, level, &pat);
                    assert_eq!(a.pat_index(), i);
                    assert_eq!(a.cache_mode(), Some(want[usize::from(i)]));
                    assert_eq!(
                        show(a).rsplit(' ').next(),
                        Some(want[usize::from(i)].name())
                    );
                }
            }
        }
    }

    #[test]
    fn pack_round_trips() {
        for msr in [NATIVE_MSR, XEN_MSR] {
            let table = PatTable::from_msr(msr);
            assert_eq!(PatTable::unpack(table.pack()), table);
        }
        let partial =
            PatTable::from_protvals(&protvals(&PatTable::from_msr(NATIVE_MSR)), None).unwrap();
        assert_eq!(PatTable::unpack(partial.pack()), partial);
        assert_eq!(PatTable::unpack(u64::MAX).mode(3), None);
    }

    #[test]
    fn from_protvals_matches_msr() {
        for msr in [NATIVE_MSR, XEN_MSR] {
            let table = PatTable::from_msr(msr);
            let pv = protvals(&table);
            assert_eq!(PatTable::from_protvals(&pv, Some(msr)), Ok(table));
            // Without the MSR only the indices the kernel uses are known.
            let t = PatTable::from_protvals(&pv, None).unwrap();
            for i in 0..8 {
                let used = CacheMode::ALL
                    .into_iter()
                    .any(|m| table.index_of(m) == Some(i));
                let want = if used { table.mode(i) } else { None };
                assert_eq!(t.mode(i), want, "{msr:#x} index {i}");
            }
        }
        let native = protvals(&PatTable::from_msr(NATIVE_MSR));
        let t = PatTable::from_protvals(&native, None).unwrap();
        assert_eq!(show(t), "WB WC UC- UC ? WP ? WT");
        let xen = protvals(&PatTable::from_msr(XEN_MSR));
        let t = PatTable::from_protvals(&xen, None).unwrap();
        assert_eq!(show(t), "WB WT UC- UC WC WP ? ?");
        assert_eq!(t.mode(6), None);
        let a = PteAttrs::decode(idx_bits(6, Level::G1) | 1, Level::G1, &t);
        assert_eq!(a.cache_mode(), None);
        assert_eq!(show(a), "1G present ro x cache?");
    }

    #[test]
    fn from_protvals_with_absent_modes() {
        // PAT disabled: WC and WP are absent and fall back to the UC- slot.
        let table = PatTable::from_msr(NOPAT_MSR);
        let pv = protvals(&table);
        assert_eq!(pv[CacheMode::Wc as usize], 1 << PCD);
        assert_eq!(pv[CacheMode::Wp as usize], 1 << PCD);
        assert_eq!(PatTable::from_protvals(&pv, Some(NOPAT_MSR)), Ok(table));
        let t = PatTable::from_protvals(&pv, None).unwrap();
        assert_eq!(show(t), "WB WT UC- UC ? ? ? ?");
    }

    #[test]
    fn from_protvals_mismatch() {
        // The kernel maps WC to index 1 but the MSR holds WT there (Xen) while
        // WC is present at index 4.
        let mut pv = protvals(&PatTable::from_msr(NATIVE_MSR));
        let err = PatTable::from_protvals(&pv, Some(XEN_MSR)).unwrap_err();
        assert_eq!(
            err,
            PatMismatch {
                index: 1,
                kernel: CacheMode::Wc,
                msr: CacheMode::Wt,
            }
        );
        assert_eq!(
            show(err),
            "PAT index 1: kernel uses it for WC but the MSR says WT"
        );
        // WC pointing at the UC- slot although the MSR has WC at index 1.
        pv[CacheMode::Wc as usize] = 1 << PCD;
        let err = PatTable::from_protvals(&pv, Some(NATIVE_MSR)).unwrap_err();
        assert_eq!(
            (err.index, err.kernel, err.msr),
            (2, CacheMode::Wc, CacheMode::UcMinus)
        );
        // Without an MSR there is nothing to disagree with; UC- keeps its slot.
        let t = PatTable::from_protvals(&pv, None).unwrap();
        assert_eq!(t.mode(2), Some(CacheMode::UcMinus));
        assert_eq!(t.mode(1), None);
    }

    #[test]
    fn colliding_modes_without_uc_minus() {
        // WT and WP both claim index 5 and UC- sits elsewhere: unknown.
        let mut pv = protvals(&PatTable::from_msr(NATIVE_MSR));
        pv[CacheMode::Wt as usize] = idx_bits(5, Level::K4);
        let t = PatTable::from_protvals(&pv, None).unwrap();
        assert_eq!(t.mode(5), None);
        assert_eq!(show(t), "WB WC UC- UC ? ? ? ?");
    }

    #[test]
    fn display() {
        let pat = PatTable::from_msr(NATIVE_MSR);
        let d = |v, l| show(PteAttrs::decode(v, l, &pat));
        assert_eq!(
            d(0x8000_0000_0123_4163, Level::K4),
            "4K present rw nx global accessed dirty WB"
        );
        assert_eq!(
            d(0x0000_0000_0120_0181, Level::M2),
            "2M present ro x global pse WB"
        );
        assert_eq!(d(0x0000_0000_0120_0000, Level::M2), "2M not-present");
        assert_eq!(d(0x0000_0000_0000_0002, Level::K4), "4K not-present");
        assert_eq!(
            d(0x1a00_0000_4000_1e9f, Level::G1),
            "1G present rw user x pse pkey=3 soft=0xf WT"
        );
        assert_eq!(d(0x0000_0000_0000_0019, Level::K4), "4K present ro x UC");
    }

    #[test]
    fn report() {
        let pat = PatTable::from_msr(NATIVE_MSR);
        let pte = 0x8000_0001_2345_6163;
        let mut s = String::new();
        write_report(
            &mut s,
            0xffff_ffff_8100_0000,
            Level::K4,
            pte,
            pte,
            &pat,
            PteMasks::ARCH,
        )
        .unwrap();
        assert_eq!(
            s,
            "0xffffffff81000000: 4K present rw nx global accessed dirty WB\n\
             addr=0xffffffff81000000\n\
             mapped=1\n\
             level=4K\n\
             pv=0x8000000123456163\n\
             raw=0x8000000123456163\n\
             flags=0x8000000000000163\n\
             pfn=0x123456\n\
             raw_pfn=0x123456\n\
             views=same\n\
             present=1\n\
             rw=1\n\
             user=0\n\
             pwt=0\n\
             pcd=0\n\
             pat=0\n\
             accessed=1\n\
             dirty=1\n\
             pse=0\n\
             global=1\n\
             nx=1\n\
             pkey=0\n\
             soft=0x0\n\
             pat_index=0\n\
             cache=WB\n"
        );

        // Xen PV: the hook shows the pseudo-physical frame, the raw view the
        // machine frame; index 6 is unknown in a table rebuilt without MSR.
        let xen = protvals(&PatTable::from_msr(XEN_MSR));
        let pat = PatTable::from_protvals(&xen, None).unwrap();
        let pv = 0x0000_0000_0040_11f1;
        let raw = 0x0000_0000_7fe0_11f1;
        let mut s = String::new();
        write_report(
            &mut s,
            0xffff_8880_0040_0000,
            Level::M2,
            pv,
            raw,
            &pat,
            PteMasks::ARCH,
        )
        .unwrap();
        assert!(
            s.starts_with("0xffff888000400000: 2M present ro x global accessed dirty pse cache?\n")
        );
        for line in [
            "level=2M\n",
            "pfn=0x400\n",
            "raw_pfn=0x7fe00\n",
            "flags=0x00000000000011f1\n",
            "views=differ\n",
            "pse=1\n",
            "pat=1\n",
            "pat_index=6\n",
            "cache=?\n",
        ] {
            assert!(s.contains(line), "{line:?} missing in {s}");
        }
        assert_eq!(s.lines().count(), 25);
        assert!(s.ends_with('\n'));
    }

    /// `physical_mask` under SME with the C-bit at `c`: 52 bits without it.
    fn sme_masks(c: u32) -> PteMasks {
        let physical_mask = ((1u64 << 52) - 1) & !(1 << c);
        // PTE_PFN_MASK = PAGE_MASK & __PHYSICAL_MASK.
        PteMasks::from_pfn_mask(physical_mask & !0xfff).unwrap()
    }

    #[test]
    fn masks() {
        assert_eq!(
            PteMasks::from_pfn_mask(0x000f_ffff_ffff_f000),
            Some(PteMasks::ARCH)
        );
        for bad in [0, 0x1000_0000_0000_0000, 0x000f_ffff_ffff_f800, u64::MAX] {
            assert_eq!(PteMasks::from_pfn_mask(bad), None, "{bad:#x}");
        }
        // A 46-bit machine without encryption.
        let m = PteMasks::from_pfn_mask(0x0000_3fff_ffff_f000).unwrap();
        assert_eq!(m.flags_mask(), 0xffff_c000_0000_0fff);
        assert_eq!(m.frame_mask(Level::M2), 0x0000_3fff_ffe0_0000);
    }

    #[test]
    fn encryption_bit_is_a_flag() {
        let pat = PatTable::from_msr(NATIVE_MSR);
        for c in [47u32, 51] {
            let m = sme_masks(c);
            let cbit = 1u64 << c;
            // The kernel's PTE_FLAGS_MASK under SME, computed independently:
            // ~(PAGE_MASK & physical_mask).
            let kernel_flags_mask = !(((1u64 << 52) - 1) & !cbit & !0xfff);
            assert_eq!(m.flags_mask(), kernel_flags_mask);
            assert_ne!(m.flags_mask() & cbit, 0);
            // An encrypted 4K mapping of frame 0x1234, NX, global, WB.
            let pte = 0x8000_0000_0123_4163 | cbit;
            assert_eq!(pte_attrs_flags(pte, m), pte & kernel_flags_mask);
            assert_eq!(pte_attrs_flags(pte, m), 0x8000_0000_0000_0163 | cbit);
            // The 52-bit assumption would call the C-bit part of the frame.
            assert_ne!(
                pte_attrs_flags(pte, PteMasks::ARCH),
                pte & kernel_flags_mask
            );
            for level in LEVELS {
                let a = PteAttrs::decode_in(pte, level, &pat, m);
                assert_eq!(a.flags() & cbit, cbit, "{level:?} bit {c}");
                assert_eq!(a.pfn() << 12, pte & m.frame_mask(level), "{level:?}");
                assert_eq!(a.pfn() & (cbit >> 12), 0);
            }
            let mut s = String::new();
            write_report(&mut s, 0xffff_ffff_8100_0000, Level::K4, pte, pte, &pat, m).unwrap();
            assert!(s.contains("pfn=0x1234\n"), "{s}");
            let want = std::format!("flags={:#018x}\n", 0x8000_0000_0000_0163u64 | cbit);
            assert!(s.contains(&want), "{s}");
        }
    }

    #[test]
    fn layouts() {
        assert_eq!(VaLayout::from_kernel(false, 39), Some(VaLayout::L4));
        assert_eq!(VaLayout::from_kernel(true, 48), Some(VaLayout::L5));
        assert_eq!(VaLayout::from_kernel(true, 39), None);
        assert_eq!(VaLayout::from_kernel(false, 48), None);
        assert_eq!(VaLayout::L4.va_bits(), 48);
        assert_eq!(VaLayout::L5.va_bits(), 57);
        // The values of arch/x86/include/asm/pgtable_64_types.h.
        assert_eq!(
            VaLayout::L4.guard_hole(),
            (0xffff_8000_0000_0000, 0xffff_8800_0000_0000)
        );
        assert_eq!(
            VaLayout::L5.guard_hole(),
            (0xff00_0000_0000_0000, 0xff10_0000_0000_0000)
        );
        assert_eq!(VaLayout::L4.levels().len(), 4);
        assert_eq!(VaLayout::L5.levels()[0], TableLevel::Pgd);
        assert_eq!(TableLevel::P4d.index(0xffff_8880_0000_0000), 273);
        assert_eq!(TableLevel::Pgd.index(0xff11_0000_0000_0000), 273);
    }

    #[test]
    fn classify_every_boundary() {
        use AddrClass::*;
        let l4 = VaLayout::L4;
        let l5 = VaLayout::L5;
        let cases: [(VaLayout, u64, AddrClass); 30] = [
            (l4, 0, User),
            (l4, 0x1000, User),
            (l4, 0x0000_7fff_ffff_ffff, User),
            (l4, 0x0000_8000_0000_0000, NonCanonical),
            (l4, 0x0000_8880_0000_0000, NonCanonical),
            (l4, 0x00ff_ffff_ffff_f000, NonCanonical),
            (l4, 0xff00_0000_0000_0000, NonCanonical),
            (l4, 0xffff_7fff_ffff_ffff, NonCanonical),
            (l4, 0x7fff_ffff_ffff_ffff, NonCanonical),
            (l4, 0x8000_0000_0000_0000, NonCanonical),
            (l4, 0xffff_8000_0000_0000, HypervisorHole),
            (l4, 0xffff_87ff_ffff_ffff, HypervisorHole),
            (l4, 0xffff_8800_0000_0000, Kernel),
            (l4, 0xffff_8880_0000_0000, Kernel),
            (l4, 0xffff_ffff_8100_0000, Kernel),
            (l4, u64::MAX, Kernel),
            (l5, 0, User),
            (l5, 0x00ff_ffff_ffff_ffff, User),
            (l5, 0x0000_8880_0000_0000, User),
            (l5, 0x0100_0000_0000_0000, NonCanonical),
            (l5, 0x7fff_ffff_ffff_ffff, NonCanonical),
            (l5, 0x8000_0000_0000_0000, NonCanonical),
            (l5, 0xfeff_ffff_ffff_ffff, NonCanonical),
            (l5, 0xff00_0000_0000_0000, HypervisorHole),
            (l5, 0xff0f_ffff_ffff_ffff, HypervisorHole),
            (l5, 0xff10_0000_0000_0000, Kernel),
            (l5, 0xff11_0000_0000_0000, Kernel),
            // 4-level's hole is an ordinary kernel address under 5 levels.
            (l5, 0xffff_8000_0000_0000, Kernel),
            (l5, 0xffff_ffff_8100_0000, Kernel),
            (l5, u64::MAX, Kernel),
        ];
        for (layout, addr, want) in cases {
            assert_eq!(layout.classify(addr), want, "{layout:?} {addr:#x}");
        }
        assert_eq!(NonCanonical.refusal(), "refused a non-canonical address");
        assert!(User.refusal().starts_with("refused a user-half address"));
        assert_eq!(
            HypervisorHole.refusal(),
            "refused an address in the hypervisor guard hole"
        );
    }

    /// Page tables in a map from slot address to entry; the direct map at
    /// `DMAP`; the paravirt view adds `XEN_DELTA` to the frame of a table
    /// entry (a machine frame in the raw value, as under Xen PV). RAM ends
    /// at physical `ram_end`.
    struct FakeTables {
        mem: std::collections::BTreeMap<u64, u64>,
        unreadable: Option<u64>,
        pv_delta: u64,
        reads: usize,
        ram_end: u64,
    }

    const DMAP: u64 = 0xffff_8880_0000_0000;

    impl Tables for FakeTables {
        fn read(&mut self, slot: u64) -> Option<u64> {
            self.reads += 1;
            if Some(slot & !0xfff) == self.unreadable {
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

    impl FakeTables {
        fn new(pv_delta: u64) -> Self {
            FakeTables {
                mem: std::collections::BTreeMap::new(),
                unreadable: None,
                pv_delta,
                reads: 0,
                ram_end: 1 << 32,
            }
        }
        /// Sets the entry of `addr` at `lvl` in the table at physical `table`.
        fn set(&mut self, table: u64, lvl: TableLevel, addr: u64, val: u64) {
            self.mem.insert(DMAP + table + lvl.index(addr) * 8, val);
        }
    }

    #[test]
    fn walk_4k_2m_1g_and_holes() {
        use TableLevel::*;
        let masks = PteMasks::ARCH;
        for (layout, delta) in [
            (VaLayout::L4, 0),
            (VaLayout::L5, 0),
            (VaLayout::L4, 0x1_0000_0000),
        ] {
            let a4k = 0xffff_c900_0000_5000u64;
            let a2m = 0xffff_c900_0020_0000u64;
            let a1g = 0xffff_c901_0000_0000u64;
            let mut t = FakeTables::new(delta);
            // Tables at physical 0x1000 (top), 0x2000 (p4d under 5
            // levels), 0x3000 (pud), 0x4000 (pmd), 0x5000 (pte); the raw
            // table entries hold "machine" frames: +delta.
            let tab = |phys: u64| (phys + delta) | 0x63;
            let top = 0x1000;
            let p4d = if layout.l5() {
                t.set(top, Pgd, a4k, tab(0x2000));
                0x2000
            } else {
                top
            };
            t.set(p4d, P4d, a4k, tab(0x3000));
            t.set(0x3000, Pud, a4k, tab(0x4000));
            t.set(0x4000, Pmd, a4k, tab(0x5000));
            let leaf4k = 0x8000_0000_0777_7163;
            t.set(0x5000, Pte, a4k, leaf4k);
            let leaf2m = 0x8000_0000_4000_01e3;
            t.set(0x4000, Pmd, a2m, leaf2m);
            let leaf1g = 0x8000_0000_c000_01e3;
            t.set(0x3000, Pud, a1g, leaf1g);
            let root = DMAP + top;
            let w = walk(layout, masks, root, a4k, &mut t).unwrap().unwrap();
            assert_eq!((w.level, w.raw), (Level::K4, leaf4k));
            assert_eq!(w.slot, DMAP + 0x5000 + 5 * 8);
            assert_eq!(t.reads, layout.levels().len());
            let w = walk(layout, masks, root, a2m + 0x1234, &mut t)
                .unwrap()
                .unwrap();
            assert_eq!((w.level, w.raw), (Level::M2, leaf2m));
            let w = walk(layout, masks, root, a1g + 0x20_0000, &mut t)
                .unwrap()
                .unwrap();
            assert_eq!((w.level, w.raw), (Level::G1, leaf1g));
            // Not present at some level: unmapped.
            assert_eq!(walk(layout, masks, root, a4k + 0x1000, &mut t), Ok(None));
            assert_eq!(walk(layout, masks, root, a4k + (1 << 39), &mut t), Ok(None));
            // A table page that cannot be read.
            t.unreadable = Some(DMAP + 0x4000);
            assert_eq!(
                walk(layout, masks, root, a4k, &mut t),
                Err(WalkError::Unreadable(Pmd))
            );
            t.unreadable = Some(DMAP + top);
            let top_level = layout.levels()[0];
            assert_eq!(
                walk(layout, masks, root, a4k, &mut t),
                Err(WalkError::Unreadable(top_level))
            );
            t.unreadable = None;
            // A table pointer past RAM (a raced, reused table): refused
            // before reading `__va()` of it, whatever it holds.
            let beyond = t.ram_end + 0x4000;
            t.set(beyond, Pmd, a4k, tab(0x5000));
            t.set(0x3000, Pud, a4k, tab(beyond));
            let reads = t.reads;
            assert_eq!(
                walk(layout, masks, root, a4k, &mut t),
                Err(WalkError::Unreadable(Pmd))
            );
            assert_eq!(t.reads, reads + layout.levels().len() - 2);
            // A table in RAM's last page is followed.
            t.ram_end = beyond + 0x1000;
            let w = walk(layout, masks, root, a4k, &mut t).unwrap().unwrap();
            assert_eq!((w.level, w.raw), (Level::K4, leaf4k));
            t.ram_end = 1 << 32;
            t.set(0x3000, Pud, a4k, tab(0x4000));
            // Refused before any read.
            let reads = t.reads;
            let (hole, _) = layout.guard_hole();
            for (addr, class) in [
                (0x1000, AddrClass::User),
                (hole, AddrClass::HypervisorHole),
                (a4k ^ (1 << 60), AddrClass::NonCanonical),
            ] {
                let want = if layout.l5() && addr == 0x1000 {
                    AddrClass::User
                } else {
                    class
                };
                assert_eq!(
                    walk(layout, masks, root, addr, &mut t),
                    Err(WalkError::Refused(want)),
                    "{addr:#x}"
                );
            }
            assert_eq!(t.reads, reads);
        }
    }

    #[test]
    fn walk_masks_the_table_pointer() {
        // An encryption bit set in a table entry is not part of the frame.
        let m = sme_masks(47);
        let mut t = FakeTables::new(0);
        let addr = 0xffff_c900_0000_0000u64;
        let cbit = 1u64 << 47;
        t.set(0x1000, TableLevel::P4d, addr, 0x3000 | cbit | 0x63);
        t.set(0x3000, TableLevel::Pud, addr, 0x4000 | cbit | 0x63);
        t.set(0x4000, TableLevel::Pmd, addr, 0x8000_0000_0020_01e3 | cbit);
        let w = walk(VaLayout::L4, m, DMAP + 0x1000, addr, &mut t)
            .unwrap()
            .unwrap();
        assert_eq!(w.level, Level::M2);
        // With the 52-bit mask the walk would follow the C-bit into
        // another table: past RAM here, else one that reads as empty.
        assert_eq!(
            walk(VaLayout::L4, PteMasks::ARCH, DMAP + 0x1000, addr, &mut t),
            Err(WalkError::Unreadable(TableLevel::Pud))
        );
        t.ram_end = u64::MAX;
        assert_eq!(
            walk(VaLayout::L4, PteMasks::ARCH, DMAP + 0x1000, addr, &mut t),
            Ok(None)
        );
    }

    #[test]
    fn unmapped() {
        let mut s = String::new();
        write_unmapped(&mut s, 0xffff_c900_0000_1000).unwrap();
        assert_eq!(
            s,
            "0xffffc90000001000: not mapped\naddr=0xffffc90000001000\nmapped=0\n"
        );
    }
}
