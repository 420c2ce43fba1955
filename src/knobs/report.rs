// SPDX-License-Identifier: GPL-2.0

//! The files that report: `results` (of the last run) and `bench`.

use kernel::error::{code::*, Result};
use kernel::sync::Arc;

use crate::bench::Bench;
use crate::exerciser::gem_mmap::GemStats;
use crate::exerciser::Exerciser;
use crate::pure::parse;
use crate::sys::debugfs::{File, Output, Rejected};

/// `results`: read-only (0400); reads the `key=value` lines of the last
/// run (its state, configuration, counts and times). Writes are refused
/// by the VFS.
pub(crate) struct ResultsFile {
    /// The exerciser.
    pub(crate) ex: Arc<Exerciser>,
}

impl File for ResultsFile {
    fn show(&self, out: &mut Output) -> Result {
        self.ex.write_results(out).map_err(|_| ENOMEM)
    }
}

/// `bench`: write `accessor`, `cpa`, `threads`, `verify` or `all` to run
/// those benchmarks (the write returns when they are done); read their
/// output. Errors: `-EINVAL` for other input ("one of accessor, cpa,
/// threads, verify, all"), `-EBUSY` while a benchmark runs, and the error
/// of a benchmark that failed (`-EIO` from `verify` when a check
/// disagrees) or of the output that could not be kept.
pub(crate) struct BenchFile {
    /// The benchmarks.
    pub(crate) bench: Arc<Bench>,
}

impl File for BenchFile {
    fn show(&self, out: &mut Output) -> Result {
        self.bench.write(out);
        Ok(())
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        let what = parse::token(input)?;
        self.bench
            .run(what)
            .map_err(|(err, why)| Rejected::new(err, why))
    }
}

/// `gem`: read-only (0400); reads the counters of `/dev/pte_attrs` as
/// `gem.<name>=<value>` lines: objects created, destroyed and live, mmaps
/// accepted and refused, faults, refaults (an evicted object populated
/// again), SIGBUS answers for destroyed objects, zaps, evictions, pages
/// checked through the accessor, found in the wrong mode and leaked, the
/// time in faults, zaps, populations and evictions (total and longest,
/// ns), and last the refaults that got no pages (`refault_failed`,
/// answered SIGBUS too).
pub(crate) struct GemFile {
    /// The device's counters.
    pub(crate) gem: GemStats,
}

impl File for GemFile {
    fn show(&self, out: &mut Output) -> Result {
        self.gem.get().write_kv(out).map_err(|_| ENOMEM)
    }
}
