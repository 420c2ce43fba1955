// SPDX-License-Identifier: GPL-2.0

//! The wrapper layer: one safe type per kernel object.
//!
//! This is the only layer (with the module root and `export.rs`, the C API
//! boundary) that holds `unsafe` blocks, `bindings::` and C prototypes.
//! Each type owns one kernel object, states its `# Invariants`, gives it
//! back in `Drop`, and justifies every `unsafe` block where it stands, so
//! that a reviewer can check each file on its own. It may use the pure
//! layer (`crate::pure`) and nothing above it. From the bottom up:
//!
//! - `ffi`: the C prototypes `bindings` lacks (glue and exported kernel
//!   functions), with their C types;
//! - `time`: the monotonic clock, `cond_resched()`, `msleep()`;
//! - `log`: rate-limited `pr_err`/`pr_info`;
//! - `mem`: zeroed counters off the stack, `si_mem_available()`;
//! - `page`: `Block` (pages from the allocator) and `Pages` (blocks with
//!   their `struct page` array);
//! - `kmap`: the whole kernel half: regions, "System RAM", the walk in
//!   steps, the direct map's answers, `WcAlias` (the audit's own alias);
//! - `cpa`: `set_pages_*`, `set_pages_array_*`, `set_memory_*` on those;
//! - `expect`: the one check of a page's cache mode (the mode the kernel
//!   really gives a request, read back through the accessor);
//! - `accessor`: the patched paravirt `pte_val` call site, the live PAT
//!   table, the no-fault walk of the kernel's tables;
//! - `c_loops`: the C loops the accessor benchmark compares against;
//! - `pci`: the module's PCI driver `pte_attrs` (on 7.x upstream's
//!   `kernel::pci::Driver`) and `ClaimedBar`, a use of a BAR of a device
//!   bound to it, which the device's removal ends;
//! - `io`: `IoMapping`, an `ioremap_*` of a claimed BAR;
//! - `gem_pages`, `gem_bar`, `user_pte`, `miscdev`: the GEM device's
//!   pages, its BAR paths (`io_mapping`, `memremap`), the user PTEs of its
//!   mappings, and `/dev/pte_attrs`;
//! - `shrinker`: `Shrinker<T>`, memory pressure reaching a `T`;
//! - `task`: `Task`, a kernel thread running a closure, joined on drop;
//! - `debugfs`: a directory that owns its root-only files.

/// `module!` with the keys of the kernel it is built for: 6.12 takes
/// `author: "..."`, 7.x `authors: ["..."]`. The module root states its
/// metadata once, through this. (Token trees, not `ty`/`literal`
/// fragments: 6.12's `module!` parses raw tokens and cannot see into the
/// groups those become.)
#[cfg(not(kernel_7))]
macro_rules! declare_module {
    (type: $t:ident, name: $n:tt, author: $a:tt, description: $d:tt,
     license: $l:tt $(,)?) => {
        kernel::prelude::module! {
            type: $t,
            name: $n,
            author: $a,
            description: $d,
            license: $l,
        }
    };
}
#[cfg(kernel_7)]
macro_rules! declare_module {
    (type: $t:ident, name: $n:tt, author: $a:tt, description: $d:tt,
     license: $l:tt $(,)?) => {
        kernel::prelude::module! {
            type: $t,
            name: $n,
            authors: [$a],
            description: $d,
            license: $l,
        }
    };
}
pub(crate) use declare_module;

pub(crate) mod accessor;
pub(crate) mod c_loops;
pub(crate) mod cpa;
pub(crate) mod debugfs;
pub(crate) mod expect;
pub(crate) mod ffi;
pub(crate) mod gem_bar;
pub(crate) mod gem_pages;
pub(crate) mod io;
pub(crate) mod kmap;
pub(crate) mod log;
pub(crate) mod mem;
pub(crate) mod miscdev;
pub(crate) mod page;
pub(crate) mod pci;
pub(crate) mod shrinker;
pub(crate) mod task;
pub(crate) mod time;
pub(crate) mod user_pte;
