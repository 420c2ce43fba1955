// SPDX-License-Identifier: GPL-2.0

//! `lookup user ADDR`: the user PTE that maps `ADDR` in the process that
//! reads `lookup`, next to the direct-map entry of the same frame.
//!
//! Write `user 0x7f...` to `lookup`, then read it from the same process
//! (the GEM helper does both through one open file): the entry is read at
//! that read, in the reader's own address space, under its mmap lock and
//! page-table lock (`follow_pfnmap_start()`), so only PFN maps are served
//! (`VM_IO`/`VM_PFNMAP` VMAs such as `/dev/pte_attrs` mappings; any other
//! VMA reads `mapped=0 why=not_pfnmap`). The report has the kernel
//! lookup's lines for the entry (both views, flags, the entry's own
//! `user=`, `rw=`, `nx=`, `cache=`), then `lookup=user`, `special=`,
//! `vm_pfnmap=`, `direct_map_cache=` (read under the same page-table lock)
//! and `agrees=1|0`.

use kernel::error::{code::*, Result};

use crate::pure::attrs::AddrClass;
use crate::pure::gem;
use crate::pure::parse;
use crate::sys::accessor;
use crate::sys::debugfs::{Output, Rejected};
use crate::sys::user_pte;

/// `Some(addr)` if `input` is `user ADDR` with a user-half address, `None`
/// if it does not start with `user` (a kernel lookup), refused otherwise.
pub(crate) fn parse(input: &[u8]) -> Result<Option<u64>, Rejected> {
    let Some(rest) = input.strip_prefix(b"user") else {
        return Ok(None);
    };
    if !rest.first().is_some_and(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let start = rest
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(rest.len());
    let addr = parse::parse_addr(&rest[start..])?;
    if accessor::layout().classify(addr) != AddrClass::User {
        return Err(Rejected::new(
            EINVAL,
            "lookup user: the address is not in the user half",
        ));
    }
    Ok(Some(addr))
}

/// Whether a stored `lookup` address is a user one (only `user ADDR`
/// stores one).
pub(crate) fn is_user(addr: u64) -> bool {
    accessor::layout().classify(addr) == AddrClass::User
}

/// Renders the report of the user address `addr` in the reading process.
pub(crate) fn show(addr: u64, out: &mut Output) -> Result {
    let (entry, dm) = user_pte::read(addr)?;
    gem::write_user_report(out, addr, entry, dm, &accessor::pat(), accessor::masks())
        .map_err(|_| ENOMEM)
}
