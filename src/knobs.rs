// SPDX-License-Identifier: GPL-2.0

//! The accessor's debugfs files: `lookup` and `accessor`.

use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};

use kernel::error::Result;

use crate::accessor;
use crate::attrs;
use crate::debugfs::{Knob, Output, Rejected};
use crate::parse;

/// `lookup`: write a kernel virtual address (hex), read its entry decoded
/// with both views. No address is ever modified through this file.
pub(crate) struct Lookup {
    /// The address last written; `u64::MAX` is never a mapped address, so
    /// it doubles as "nothing written yet" for the reader's hint.
    addr: AtomicU64,
}

impl Lookup {
    /// A `lookup` file with no address written yet.
    pub(crate) fn new() -> Self {
        Lookup {
            addr: AtomicU64::new(u64::MAX),
        }
    }
}

impl Knob for Lookup {
    fn show(&self, out: &mut Output) -> Result {
        let addr = self.addr.load(Ordering::Relaxed);
        let r = if addr == u64::MAX {
            out.write_str("write a kernel virtual address in hex to look it up\n")
        } else if let Some(found) = accessor::lookup(addr) {
            let pv = accessor::pv_val(found.raw, found.level);
            attrs::write_report(out, addr, found.level, pv, found.raw, &accessor::pat())
        } else {
            attrs::write_unmapped(out, addr)
        };
        r.map_err(|_| kernel::error::code::ENOMEM)
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        let addr = parse::parse_addr(input)?;
        self.addr.store(addr, Ordering::Relaxed);
        Ok(())
    }
}

/// `accessor`: which path reads entries and the PAT table in use.
pub(crate) struct Accessor {
    /// What the accessor found at load.
    pub(crate) live: accessor::Live,
}

impl Knob for Accessor {
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
            .map_err(|_| kernel::error::code::ENOMEM)
    }
}
