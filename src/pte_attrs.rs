// SPDX-License-Identifier: GPL-2.0

//! pte_attrs: page-table entry attributes as the paravirt layer sees them.
//!
//! The module reads kernel page-table entries through the paravirt
//! `pte_val` hook (so that they are right under Xen PV, at no cost on native
//! kernels), decodes them with the live PAT table, exports that to other
//! modules (`include/pte_attrs.h`) and shows it in
//! `/sys/kernel/debug/pte_attrs/`.

use kernel::c_str;
use kernel::prelude::*;

mod accessor;
#[allow(dead_code)]
mod attrs;
mod debugfs;
mod export;
mod ffi;
mod knobs;
#[allow(dead_code)] // Grows into the exerciser's knob parsing.
mod parse;

module! {
    type: PteAttrsModule,
    name: "pte_attrs",
    author: "pte_attrs developers",
    description: "Paravirt-correct PTE attributes and a CPA exerciser",
    license: "GPL",
}

struct PteAttrsModule {
    _dir: debugfs::Dir,
}

impl kernel::Module for PteAttrsModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let live = accessor::init()?;
        pr_info!(
            "loaded: reading entries through the {} path, PAT table {}\n",
            if accessor::paravirt_live() {
                "paravirt"
            } else {
                "native"
            },
            live.pat
        );
        let mut dir = debugfs::Dir::new(c_str!("pte_attrs"), module)?;
        dir.file(c_str!("accessor"), false, knobs::Accessor { live })?;
        dir.file(c_str!("lookup"), true, knobs::Lookup::new())?;
        Ok(PteAttrsModule { _dir: dir })
    }
}

impl Drop for PteAttrsModule {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
