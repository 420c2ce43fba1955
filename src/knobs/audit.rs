// SPDX-License-Identifier: GPL-2.0

//! The audit's debugfs files: `audit`, `alias` and `mmio_alias`.

use core::fmt::Write;

use kernel::error::{code::*, Result};
use kernel::sync::Arc;

use crate::exerciser::audit::Auditor;
use crate::pure::audit::RegionKind;
use crate::pure::parse::{self, cstr_field, ParseError};
use crate::sys::debugfs::{File, Output, Rejected};
use crate::sys::mem;

/// `audit` (0600): write `1` (or `all`) to audit the whole kernel half,
/// or a region name (`direct`, `vmalloc`, `vmemmap`, `cpu_entry`,
/// `fixmap`, `modules`, `text`) to audit that region; the write returns
/// when the audit is done. Read the last report: `key=value` totals, then
/// one line per finding (README, "audit").
pub(crate) struct AuditFile {
    /// The audit's state.
    pub(crate) auditor: Arc<Auditor>,
}

impl File for AuditFile {
    fn show(&self, out: &mut Output) -> Result {
        self.auditor.with_report(|r| match r {
            Some(text) => {
                out.write_bytes(text);
                Ok(())
            }
            None => out
                .write_str("write 1 (or a region name) to run the audit\n")
                .map_err(|_| ENOMEM),
        })
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        let tok = parse::token(input)?;
        let region = match tok {
            "1" | "all" => None,
            name => match RegionKind::from_name(name) {
                Some(RegionKind::Other) | None => return Err(Rejected::new(
                    EINVAL,
                    "write 1, all, or one of direct vmalloc vmemmap cpu_entry fixmap modules text",
                )),
                Some(kind) => Some(kind),
            },
        };
        self.auditor.run(region).map_err(|e| {
            let why = if e == EBUSY {
                "an audit is running"
            } else if e == EINTR {
                "interrupted by a fatal signal (partial report kept)"
            } else if e == EINVAL {
                "this kernel has no such region"
            } else {
                "the audit failed (out of memory?)"
            };
            Rejected::new(e, why)
        })
    }
}

/// `alias` (0600): `1` maps one page the module owns a second time,
/// write-combining, with `vmap()` (its direct-map entry stays WB); `0`
/// drops it (it is also dropped at unload). Read: `alias=0`, or `alias=1`
/// and the `addr=` (the WC mapping), `pfn=` and `dmap=` (the direct map's
/// address) lines, formatted as in the audit's listing.
pub(crate) struct AliasFile {
    /// The audit's state.
    pub(crate) auditor: Arc<Auditor>,
}

impl File for AliasFile {
    fn show(&self, out: &mut Output) -> Result {
        match self.auditor.alias() {
            None => writeln!(out, "alias=0"),
            Some(a) => writeln!(out, "alias=1")
                .and_then(|()| writeln!(out, "addr={:#018x}", a.addr))
                .and_then(|()| writeln!(out, "pfn={:#x}", a.pfn))
                .and_then(|()| writeln!(out, "dmap={:#018x}", a.dmap)),
        }
        .map_err(|_| ENOMEM)
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        if parse::parse_bool(input)? {
            if !mem::alias_allowed() {
                return Err(Rejected::new(
                    EPERM,
                    "a WB/WC alias of RAM is undefined on real hardware: load with allow_alias=1 (test VMs only)",
                ));
            }
            self.auditor
                .make_alias()
                .map_err(|e| Rejected::new(e, "cannot allocate or map the page"))
        } else {
            self.auditor.drop_alias();
            Ok(())
        }
    }
}

/// `mmio_alias` (0600): maps the last page of a PCI BAR the module claims
/// twice, WC with `ioremap_wc()` and UC (the same, its PTE rewritten): a
/// deliberate MMIO alias for the audit to find (`mmio_alias` lines), both
/// modes uncached. Write `1` or `auto` (BAR 0 of the first display device
/// bound to pte_attrs, as the `bar` knob's `auto`), `DEV` or `DEV/BAR`
/// (a device bound to pte_attrs); `0` drops it (a removal of the device
/// and unload drop it too). Needs the `allow_alias` module parameter (test
/// VMs only). Read: `mmio_alias=0`, or `mmio_alias=1` and `device=`,
/// `pfn=`, `wc=` and `uc=` (the two mappings' addresses).
pub(crate) struct MmioAliasFile {
    /// The audit's state.
    pub(crate) auditor: Arc<Auditor>,
}

impl File for MmioAliasFile {
    fn show(&self, out: &mut Output) -> Result {
        match self.auditor.mmio_alias() {
            None => writeln!(out, "mmio_alias=0"),
            Some(a) => writeln!(out, "mmio_alias=1")
                .and_then(|()| writeln!(out, "device={}", cstr_field(&a.dev)))
                .and_then(|()| writeln!(out, "pfn={:#x}", a.pfn))
                .and_then(|()| writeln!(out, "wc={:#018x}", a.wc))
                .and_then(|()| writeln!(out, "uc={:#018x}", a.uc)),
        }
        .map_err(|_| ENOMEM)
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        let t = parse::token(input)?;
        if t == "0" {
            self.auditor.drop_mmio_alias();
            return Ok(());
        }
        let (dev, index) = match crate::pure::attrs::cut(t, "/") {
            Some((d, i)) => (d, parse::parse_u64_in(i.as_bytes(), 0, 5)?),
            None => (t, 0),
        };
        let dev = if dev == "1" || dev == "auto" { "" } else { dev };
        let mut name = [0u8; 32];
        if dev.len() >= name.len() {
            return Err(ParseError::Invalid.into());
        }
        name[..dev.len()].copy_from_slice(dev.as_bytes());
        if !mem::alias_allowed() {
            return Err(Rejected::new(
                EPERM,
                "an MMIO alias is for test VMs only: load with allow_alias=1",
            ));
        }
        self.auditor
            .make_mmio_alias(&name, index as u8)
            .map_err(|(e, why)| Rejected::new(e, why))
    }
}
