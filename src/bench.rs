// SPDX-License-Identifier: GPL-2.0

//! `make bench`: the cost of the accessor and of CPA, measured side by
//! side in one run. Variants are interleaved round by round (the order
//! rotates), and each reports the median and range of its rounds: under
//! TCG absolute times mean little, the ratios between variants do.
//!
//! Above the exerciser (it uses its page sets) and the wrapper layer, with
//! no unchecked code of its own:
//!
//! - `accessor`: the accessor against the C ways of reading flags;
//! - `cpa`: CPA throughput per interface and batch, and per thread count;
//! - `verify`: the check after a CPA call, first after the call and
//!   repeated at once.

use core::sync::atomic::{AtomicBool, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::error::{code::*, Result};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use crate::sys::debugfs::Output;

mod accessor;
mod cpa;
mod verify;

/// The `bench` file's state: its last output, and whether one runs.
#[pin_data]
pub(crate) struct Bench {
    /// The last output.
    #[pin]
    out: Mutex<KVec<u8>>,
    /// A benchmark is running.
    busy: AtomicBool,
}

impl Bench {
    /// No output yet.
    pub(crate) fn new() -> Result<Arc<Bench>> {
        Arc::pin_init(
            pin_init!(Bench {
                out <- new_mutex!(KVec::new(), "pte_attrs::bench"),
                busy: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )
    }

    /// Runs the benchmarks named `what` (`accessor`, `cpa`, `threads`,
    /// `verify` or `all`) and keeps their output for the `bench` file.
    pub(crate) fn run(&self, what: &str) -> Result<(), (Error, &'static str)> {
        let parts: &[fn(&mut Output) -> Result] = match what {
            "accessor" => &[accessor::accessor_cost],
            "cpa" => &[cpa::cpa_throughput],
            "threads" => &[cpa::cpa_threads],
            "verify" => &[verify::verify_cost],
            "all" => &[
                accessor::accessor_cost,
                cpa::cpa_throughput,
                cpa::cpa_threads,
                verify::verify_cost,
            ],
            _ => return Err((EINVAL, "one of accessor, cpa, threads, verify, all")),
        };
        if self.busy.swap(true, Ordering::Acquire) {
            return Err((EBUSY, "a benchmark is running"));
        }
        let mut out = Output::new();
        let mut r = Ok(());
        for part in parts {
            r = part(&mut out);
            if r.is_err() {
                break;
            }
        }
        let text = out.into_bytes();
        self.busy.store(false, Ordering::Release);
        r.map_err(|e| (e, "the benchmark failed"))?;
        *self.out.lock() = text.map_err(|e| (e, "no memory for the output"))?;
        Ok(())
    }

    /// The last benchmark output.
    pub(crate) fn write(&self, out: &mut Output) {
        out.write_bytes(&self.out.lock());
    }
}
