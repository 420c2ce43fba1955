// SPDX-License-Identifier: GPL-2.0

//! The accessor against the C ways of reading an entry's flags.

use core::fmt::Write;

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::error::{code::*, Result};

use crate::exerciser::page_set::PageSet;
use crate::pure::attrs::Level;
use crate::pure::samples::{ps_per, ratio_milli, Milli, Samples};
use crate::sys::accessor;
use crate::sys::c_loops;
use crate::sys::debugfs::Output;
use crate::sys::log::pr_err_rl;
use crate::sys::time::{self, Instant};

/// Rounds of each benchmark.
const ROUNDS: usize = 15;

/// This module's accessor over `v`: the same loop as the C variants, with
/// the kernel's `PTE_FLAGS_MASK` read once.
#[inline(never)]
fn rust_loop(v: &[u64]) -> u64 {
    let mask = accessor::masks().flags_mask();
    let mut acc = 0;
    // Indexed, as the C loops are: the same instructions as theirs, not
    // just the same work (a pointer-stepping loop, `add $8` where C has
    // `inc`, read 6 to 12 % slower under TCG than both C copies).
    #[allow(clippy::needless_range_loop)]
    for i in 0..v.len() {
        acc ^= accessor::pv_val(v[i], Level::K4) & mask;
    }
    acc
}

/// One benchmark loop over entry values.
type Loop = fn(&[u64]) -> u64;

/// The accessor against the C ways of reading flags.
pub(crate) fn accessor_cost(out: &mut Output) -> Result {
    // Real entries: those that map the module's own pages, 4096 of them,
    // read again and again (they stay in the cache: the loop is measured,
    // not memory).
    let set = PageSet::alloc((0..64).map(|_| 6))?;
    let mut v = KVec::with_capacity(4096, GFP_KERNEL)?;
    for b in set.blocks() {
        for i in 0..b.len() {
            let raw = accessor::lookup((b.addr() + (i << 12)) as u64).map_or(0, |f| f.raw);
            v.push(raw, GFP_KERNEL)?;
        }
    }
    const REPS: usize = 64;
    let calls = (v.len() * REPS) as u64;
    // Without `CONFIG_PARAVIRT_XXL` there is no hook to call: the indirect
    // variant is absent (not a plain mask under the name of an indirect
    // call).
    let variants: [(&str, Option<Loop>); 5] = [
        ("pte_flags", Some(c_loops::pte_flags as Loop)),
        ("c_pte_attrs", Some(c_loops::pte_val as Loop)),
        ("indirect", c_loops::INDIRECT),
        ("rust", Some(rust_loop as Loop)),
        ("c_pte_attrs_twin", Some(c_loops::pte_val_twin as Loop)),
    ];
    let mut samples = [Samples::new(); 5];
    let mut sums = [None; 5];
    for round in 0..ROUNDS {
        for k in 0..variants.len() {
            let i = (round + k) % variants.len();
            let Some(f) = variants[i].1 else {
                continue;
            };
            let start = Instant::now();
            let mut acc = 0;
            for _ in 0..REPS {
                acc ^= f(core::hint::black_box(&v));
            }
            samples[i].push(start.elapsed_ns());
            sums[i] = Some(core::hint::black_box(acc));
            time::resched();
        }
    }
    // Every variant computes the same flags: a check that they do.
    if sums.iter().flatten().any(|&s| Some(s) != sums[0]) {
        pr_err_rl!("bench: the accessor variants disagree (they read the same entries)\n");
        return Err(EIO);
    }
    let med = |i: usize| samples[i].median().unwrap_or(0);
    let _ = writeln!(
        out,
        "# accessor: ps per entry read, {calls} reads a round, {ROUNDS} rounds"
    );
    let _ = writeln!(
        out,
        "# path={}",
        if accessor::paravirt_live() {
            "paravirt"
        } else {
            "native"
        }
    );
    for (i, (name, f)) in variants.iter().enumerate() {
        if f.is_none() {
            let _ = writeln!(
                out,
                "# accessor_{name}: absent: no CONFIG_PARAVIRT_XXL, so no pv_ops pte_val hook to call"
            );
            continue;
        }
        let (lo, hi) = samples[i].range().unwrap_or((0, 0));
        let _ = writeln!(
            out,
            "accessor_{name}_ps={} (range {}..{})",
            ps_per(med(i), calls),
            ps_per(lo, calls),
            ps_per(hi, calls)
        );
    }
    let r = |a: usize, b: usize| Milli(ratio_milli(med(a), med(b)).unwrap_or(0));
    let _ = writeln!(out, "accessor_rust_over_c_pte_attrs={}", r(3, 1));
    // The same C loop twice: what the comparison above can resolve.
    let _ = writeln!(out, "accessor_c_twin_over_c_pte_attrs={}", r(4, 1));
    let _ = writeln!(out, "accessor_rust_over_pte_flags={}", r(3, 0));
    if variants[2].1.is_some() {
        let _ = writeln!(out, "accessor_indirect_over_pte_flags={}", r(2, 0));
    }
    Ok(())
}
