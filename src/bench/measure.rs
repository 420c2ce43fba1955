// SPDX-License-Identifier: GPL-2.0

//! `make bench`: the cost of the accessor and of CPA, measured side by
//! side in one run. Variants are interleaved round by round (the order
//! rotates), and each reports the median and range of its rounds: under
//! TCG absolute times mean little, the ratios between variants do.

use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::bindings;
use kernel::error::{code::*, Result};
use kernel::ffi::{c_int, c_void};

use crate::exerciser::page_set::{Api, PageSet};
use crate::pure::attrs::{CacheMode, Level};
use crate::pure::config::object_orders;
use crate::pure::samples::{per_second, ps_per, ratio_milli, Milli, Samples};
use crate::sys::accessor;
use crate::sys::debugfs::Output;
use crate::sys::ffi;
use crate::sys::log::pr_err_rl;

fn now() -> i64 {
    // SAFETY: ktime_get() has no preconditions.
    unsafe { bindings::ktime_get() }
}

/// Lets others run between samples (outside the timed regions): the
/// kernel may be built without preemption, and a long benchmark write
/// would otherwise stall RCU.
fn yield_cpu() {
    // SAFETY: benchmarks run in process context, where sleeping is allowed.
    unsafe { ffi::pte_attrs_glue_cond_resched() };
}

/// Rounds of each benchmark.
const ROUNDS: usize = 15;

/// This module's accessor over `v`: the same loop as the C variants, with
/// the kernel's `PTE_FLAGS_MASK` read once.
#[inline(never)]
fn rust_loop(v: &[u64]) -> u64 {
    let mask = accessor::masks().flags_mask();
    let mut acc = 0;
    for &x in v {
        acc ^= accessor::pv_val(x, Level::K4) & mask;
    }
    acc
}

/// One benchmark loop over entry values.
type Loop = fn(&[u64]) -> u64;

/// The C loop through `pv_ops.mmu.pte_val`, where the hook exists.
#[cfg(CONFIG_PARAVIRT_XXL)]
const C_INDIRECT: Option<Loop> = Some(|v| {
    // SAFETY: `v` is a valid slice.
    unsafe { ffi::pte_attrs_bench_indirect(v.as_ptr(), v.len()) }
});
/// Without `CONFIG_PARAVIRT_XXL` there is no hook to call: the variant is
/// absent (not a plain mask under the name of an indirect call).
#[cfg(not(CONFIG_PARAVIRT_XXL))]
const C_INDIRECT: Option<Loop> = None;

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
    let c_flags: Loop = |v| {
        // SAFETY: `v` is a valid slice.
        unsafe { ffi::pte_attrs_bench_pte_flags(v.as_ptr(), v.len()) }
    };
    let c_pte_val: Loop = |v| {
        // SAFETY: as above.
        unsafe { ffi::pte_attrs_bench_pte_val(v.as_ptr(), v.len()) }
    };
    let variants: [(&str, Option<Loop>); 4] = [
        ("pte_flags", Some(c_flags)),
        ("c_pte_attrs", Some(c_pte_val)),
        ("indirect", C_INDIRECT),
        ("rust", Some(rust_loop as Loop)),
    ];
    let mut samples = [Samples::new(); 4];
    let mut sums = [None; 4];
    for round in 0..ROUNDS {
        for k in 0..variants.len() {
            let i = (round + k) % variants.len();
            let Some(f) = variants[i].1 else {
                continue;
            };
            let start = now();
            let mut acc = 0;
            for _ in 0..REPS {
                acc ^= f(core::hint::black_box(&v));
            }
            samples[i].push((now() - start).max(0) as u64);
            sums[i] = Some(core::hint::black_box(acc));
            yield_cpu();
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
    let _ = writeln!(out, "accessor_rust_over_pte_flags={}", r(3, 0));
    if variants[2].1.is_some() {
        let _ = writeln!(out, "accessor_indirect_over_pte_flags={}", r(2, 0));
    }
    Ok(())
}

/// One WB -> WC (UC- for `set_pages`, which has no WC) -> WB round trip.
fn round_trip(set: &mut PageSet, api: Api) -> Result {
    let mode = if api == Api::Pages {
        CacheMode::UcMinus
    } else {
        CacheMode::Wc
    };
    set.set(api, mode)?;
    set.set(api, CacheMode::Wb)
}

/// CPA throughput for batch sizes 1 to 4096, per interface.
pub(crate) fn cpa_throughput(out: &mut Output) -> Result {
    const TOTAL: usize = 4096;
    const CPA_ROUNDS: usize = 5;
    let apis = [
        ("pages", Api::Pages),
        ("array", Api::Array),
        ("memory", Api::Memory),
    ];
    let _ = writeln!(
        out,
        "# cpa: pages/s of WB->WC->WB round trips (set_pages: UC-), {TOTAL} pages a round, {CPA_ROUNDS} rounds"
    );
    let mut best = [0u64; 3];
    for batch in [1usize, 16, 256, 4096] {
        // One set per interface: order-0 pages for the per-page and array
        // calls, contiguous blocks (order 10 at most) for set_memory.
        let mut sets = KVec::new();
        for &(_, api) in &apis {
            let set = if api == Api::Memory {
                PageSet::alloc(object_orders(batch as u64, 10))?
            } else {
                PageSet::alloc((0..batch).map(|_| 0))?
            };
            sets.push(set, GFP_KERNEL)?;
        }
        let mut samples = [Samples::new(); 3];
        for round in 0..CPA_ROUNDS {
            for k in 0..apis.len() {
                let i = (round + k) % apis.len();
                let start = now();
                for _ in 0..TOTAL / batch {
                    round_trip(&mut sets[i], apis[i].1)?;
                    // Up to 4096 CPA calls a sample: let others run (a
                    // check of a flag unless something waits).
                    yield_cpu();
                }
                samples[i].push((now() - start).max(0) as u64);
                yield_cpu();
            }
        }
        for (i, (name, _)) in apis.iter().enumerate() {
            let pps = per_second(TOTAL as u64, samples[i].median().unwrap_or(0));
            let (lo, hi) = samples[i].range().unwrap_or((0, 0));
            let _ = writeln!(
                out,
                "cpa_{name}_batch{batch}_pages_per_s={pps} (range {}..{})",
                per_second(TOTAL as u64, hi),
                per_second(TOTAL as u64, lo)
            );
            if batch == 4096 {
                best[i] = pps;
            }
        }
    }
    let _ = writeln!(
        out,
        "cpa_array_over_pages_speedup={}",
        Milli(ratio_milli(best[1], best[0]).unwrap_or(0))
    );
    Ok(())
}

/// A thread's share of the `threads` benchmark.
struct Job {
    set: PageSet,
    rounds: usize,
    failed: bool,
    done: *const AtomicUsize,
}

/// # Safety
///
/// `data` points to a `Job` that outlives the thread's work (the spawner
/// waits for `done` before it touches the job again).
unsafe extern "C" fn job_thread(data: *mut c_void) -> c_int {
    // SAFETY: by the function's safety contract; no one else touches the
    // job until `done` counts it.
    let job = unsafe { &mut *data.cast::<Job>() };
    for _ in 0..job.rounds {
        if round_trip(&mut job.set, Api::Array).is_err() {
            job.failed = true;
            break;
        }
        yield_cpu();
    }
    // SAFETY: `done` outlives the thread's work (see above).
    unsafe { (*job.done).fetch_add(1, Ordering::Release) };
    0
}

/// Aggregate `set_pages_array_*` throughput of 1, 2 and 4 threads, each
/// with its own 256 pages: how `cpa_lock` scales.
pub(crate) fn cpa_threads(out: &mut Output) -> Result {
    const PAGES: usize = 256;
    const ROUNDS_PER_THREAD: usize = 8;
    const THREAD_ROUNDS: usize = 3;
    let counts = [1usize, 2, 4];
    let mut samples = [Samples::new(); 3];
    for round in 0..THREAD_ROUNDS {
        for k in 0..counts.len() {
            let i = (round + k) % counts.len();
            samples[i].push(run_threads(counts[i], PAGES, ROUNDS_PER_THREAD)?);
            yield_cpu();
        }
    }
    let _ = writeln!(
        out,
        "# threads: aggregate pages/s of set_pages_array round trips, {PAGES} pages x {ROUNDS_PER_THREAD} rounds per thread"
    );
    let mut pps = [0u64; 3];
    for (i, &n) in counts.iter().enumerate() {
        let pages = (n * PAGES * ROUNDS_PER_THREAD) as u64;
        pps[i] = per_second(pages, samples[i].median().unwrap_or(0));
        let _ = writeln!(out, "cpa_threads{n}_pages_per_s={}", pps[i]);
    }
    let _ = writeln!(
        out,
        "cpa_threads4_over_threads1={}",
        Milli(ratio_milli(pps[2], pps[0]).unwrap_or(0))
    );
    Ok(())
}

/// Runs `n` threads of `rounds` round trips over `pages` pages each;
/// returns the wall time in ns.
fn run_threads(n: usize, pages: usize, rounds: usize) -> Result<u64> {
    let done = AtomicUsize::new(0);
    let mut jobs = KVec::with_capacity(n, GFP_KERNEL)?;
    for _ in 0..n {
        let set = PageSet::alloc((0..pages).map(|_| 0))?;
        jobs.push(
            Job {
                set,
                rounds,
                failed: false,
                done: &done,
            },
            GFP_KERNEL,
        )?;
    }
    let mut tasks = KVec::with_capacity(n, GFP_KERNEL)?;
    let start = now();
    let mut spawned = 0;
    for (id, job) in jobs.iter_mut().enumerate() {
        // SAFETY: `job` stays in place (the vector does not grow) until
        // every spawned thread has counted itself in `done` below.
        let t = unsafe {
            ffi::pte_attrs_glue_kthread_run(
                job_thread,
                (job as *mut Job).cast(),
                c"pte_attrs-bench".as_ptr().cast(),
                id as u32,
            )
        };
        if kernel::error::from_err_ptr(t).is_err() {
            break;
        }
        // Cannot fail: the capacity was reserved.
        tasks.push(t, GFP_KERNEL)?;
        spawned += 1;
    }
    while done.load(Ordering::Acquire) < spawned {
        // SAFETY: the benchmark runs in process context and may sleep.
        unsafe { bindings::msleep(1) };
    }
    let ns = (now() - start).max(0) as u64;
    for t in tasks {
        // SAFETY: each task reference was taken at creation; the thread
        // has finished its work, so this only waits for its exit.
        unsafe { bindings::kthread_stop_put(t.cast()) };
    }
    if spawned < n || jobs.iter().any(|j| j.failed) {
        return Err(EIO);
    }
    Ok(ns)
}
