// SPDX-License-Identifier: GPL-2.0

//! CPA throughput per interface and batch size, and how `cpa_lock`
//! scales with threads.

use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::c_str;
use kernel::error::{code::*, Result};
use kernel::sync::Arc;

use crate::exerciser::page_set::{Api, PageSet};
use crate::pure::attrs::CacheMode;
use crate::pure::config::object_orders;
use crate::pure::samples::{per_second, ratio_milli, Milli, Samples};
use crate::sys::debugfs::Output;
use crate::sys::log::pr_err_rl;
use crate::sys::task::Task;
use crate::sys::time::{self, Instant};

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
    // 32 and 34: both sides of `tlb_single_page_flush_ceiling` (33), where
    // `cpa_flush()` switches from flushing page by page to flushing all.
    for batch in [1usize, 16, 32, 34, 256, 4096] {
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
                let start = Instant::now();
                for _ in 0..TOTAL / batch {
                    round_trip(&mut sets[i], apis[i].1)?;
                    // Up to 4096 CPA calls a sample: let others run (a
                    // check of a flag unless something waits).
                    time::resched();
                }
                samples[i].push(start.elapsed_ns());
                time::resched();
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
    // The array calls on scattered order-0 pages against set_memory on
    // contiguous blocks, the same number of pages, side by side.
    let _ = writeln!(
        out,
        "cpa_array_over_contiguous={}",
        Milli(ratio_milli(best[1], best[2]).unwrap_or(0))
    );
    Ok(())
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
            time::resched();
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
    let failed = Arc::new(AtomicBool::new(false), GFP_KERNEL)?;
    let mut sets = KVec::with_capacity(n, GFP_KERNEL)?;
    for _ in 0..n {
        sets.push(PageSet::alloc((0..pages).map(|_| 0))?, GFP_KERNEL)?;
    }
    let mut tasks = KVec::with_capacity(n, GFP_KERNEL)?;
    let start = Instant::now();
    for (id, mut set) in (0u32..).zip(sets) {
        let flag = failed.clone();
        let task = Task::spawn(c_str!("pte_attrs-bench"), id, move || {
            for _ in 0..rounds {
                if round_trip(&mut set, Api::Array).is_err() {
                    flag.store(true, Ordering::Relaxed);
                    break;
                }
                time::resched();
            }
        });
        match task {
            // Within the capacity reserved above: cannot fail.
            Ok(t) => tasks.push(t, GFP_KERNEL)?,
            Err(e) => {
                failed.store(true, Ordering::Relaxed);
                pr_err_rl!("bench: cannot start a thread: {:?}\n", e);
                break;
            }
        }
    }
    // Each join waits for its thread's rounds.
    for t in tasks {
        t.join();
    }
    let ns = start.elapsed_ns();
    if failed.load(Ordering::Relaxed) {
        return Err(EIO);
    }
    Ok(ns)
}
