// SPDX-License-Identifier: GPL-2.0

//! The accessor's debugfs files: `lookup` and `accessor`.

use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};

use kernel::error::{code::*, Result};

use crate::pure::attrs::{self, WalkError};
use crate::pure::parse;
use crate::sys::accessor;
use crate::sys::debugfs::{File, Output, Rejected, StatefulFile};

/// `lookup`: write a kernel virtual address (hex), read its entry decoded
/// with both views. No address is ever modified through this file.
///
/// Each open file has its own address, starting from the one last
/// written through any open file (so `echo ADDR > lookup; cat lookup`
/// works), and its own snapshot of the report (see [`crate::sys::debugfs`]).
pub(crate) struct Lookup {
    /// The address last written, or [`NOTHING`].
    last: AtomicU64,
}

impl Lookup {
    /// A `lookup` file with no address written yet.
    pub(crate) fn new() -> Self {
        Lookup {
            last: AtomicU64::new(NOTHING),
        }
    }
}

/// No address written yet: a non-canonical address under 4- and 5-level
/// paging, which a write never stores.
const NOTHING: u64 = 1 << 62;

impl StatefulFile for Lookup {
    /// The address of this open file.
    type State = AtomicU64;

    fn open(&self) -> Result<AtomicU64> {
        Ok(AtomicU64::new(self.last.load(Ordering::Relaxed)))
    }

    fn show(&self, state: &AtomicU64, out: &mut Output) -> Result {
        let addr = state.load(Ordering::Relaxed);
        if super::user_lookup::is_user(addr) {
            return super::user_lookup::show(addr, out);
        }
        if addr == NOTHING {
            return out
                .write_str("write a kernel virtual address in hex to look it up\n")
                .map_err(|_| ENOMEM);
        }
        // The address was accepted when written, so the walk can only
        // fail on a table it cannot read (now -EFAULT).
        let r = match accessor::walk(addr) {
            Ok(Some(found)) => {
                let pv = accessor::pv_val(found.raw, found.level);
                attrs::write_report(
                    out,
                    addr,
                    found.level,
                    pv,
                    found.raw,
                    &accessor::pat(),
                    accessor::masks(),
                )
            }
            Ok(None) => attrs::write_unmapped(out, addr),
            Err(e) => return Err(e.errno()),
        };
        r.map_err(|_| ENOMEM)
    }

    fn store(&self, state: &AtomicU64, input: &[u8]) -> Result<(), Rejected> {
        if let Some(addr) = super::user_lookup::parse(input)? {
            state.store(addr, Ordering::Relaxed);
            self.last.store(addr, Ordering::Relaxed);
            return Ok(());
        }
        let addr = parse::parse_addr(input)?;
        // Looked up at once, so that a refusal reaches the writer.
        match accessor::walk(addr) {
            Ok(_) => {}
            Err(WalkError::Refused(class)) => {
                return Err(Rejected::new(EINVAL, class.refusal()));
            }
            Err(WalkError::Unreadable(_)) => {
                return Err(Rejected::new(
                    EFAULT,
                    "a page-table page on the way cannot be read",
                ));
            }
        }
        state.store(addr, Ordering::Relaxed);
        self.last.store(addr, Ordering::Relaxed);
        Ok(())
    }
}

/// `accessor`: which path reads entries and the PAT table in use.
pub(crate) struct Accessor {
    /// What the accessor found at load.
    pub(crate) live: accessor::Live,
}

impl File for Accessor {
    fn show(&self, out: &mut Output) -> Result {
        let live = &self.live;
        let path = if accessor::paravirt_live() {
            "paravirt"
        } else {
            "native"
        };
        writeln!(out, "path={path}")
            .and_then(|()| writeln!(out, "xenpv={}", u8::from(live.xenpv)))
            .and_then(|()| writeln!(out, "paravirt_xxl={}", u8::from(cfg!(CONFIG_PARAVIRT_XXL))))
            .and_then(|()| writeln!(out, "pat_enabled={}", u8::from(live.pat_enabled)))
            .and_then(|()| writeln!(out, "pat_table={}", live.pat))
            .and_then(|()| {
                writeln!(
                    out,
                    "paging_levels={}",
                    if live.layout.l5() { 5 } else { 4 }
                )
            })
            .and_then(|()| writeln!(out, "page_offset={:#x}", accessor::page_offset()))
            .and_then(|()| writeln!(out, "pte_flags_mask={:#018x}", live.masks.flags_mask()))
            .and_then(|()| match accessor::pv_site_bytes() {
                Some(b) => {
                    out.write_str("pv_site=")?;
                    b.iter().try_for_each(|x| write!(out, "{x:02x}"))?;
                    out.write_str("\n")
                }
                None => Ok(()),
            })
            .and_then(|()| match accessor::pv_site_calls_hook() {
                Some(c) => writeln!(out, "pv_site_calls_hook={}", u8::from(c)),
                None => Ok(()),
            })
            .map_err(|_| ENOMEM)
    }
}
