// SPDX-License-Identifier: GPL-2.0

//! The counters of one run and their `key=value` rendering. Kernel-free,
//! host-tested.

use core::fmt::{self, Write};

use crate::pure::config::{Op, Scenario, RUN_STATS_BYTES};
use crate::pure::latency::OpStats;

/// The most transitions a scenario times (see [`Scenario::ops`]).
pub(crate) const MAX_OPS: usize = 5;

// The run's memory pre-check counts this much per set of counters.
const _: () = assert!(core::mem::size_of::<RunStats>() as u64 <= RUN_STATS_BYTES);

/// What one thread (or, merged, a whole run) counted.
///
/// Only integers, and all-zero bytes are the empty value ([`RunStats::new`]):
/// the kernel allocates these zeroed instead of building 39 KB values on
/// its stacks (a test below holds this).
#[derive(Clone)]
pub(crate) struct RunStats {
    /// Per transition, indexed like the scenario's [`Scenario::ops`].
    pub(crate) ops: [OpStats; MAX_OPS],
    /// Calls that failed where success was expected (and the run's own
    /// failures: allocation, mapping).
    pub(crate) errors: u64,
    /// Pages whose entry was not what the transition should have left.
    pub(crate) verify_failures: u64,
    /// Pages checked through the accessor.
    pub(crate) verified_pages: u64,
    /// Time spent in the timed CPA calls.
    pub(crate) cpa_ns: u64,
    /// Time spent checking pages after them.
    pub(crate) verify_ns: u64,
    /// The first verification failure: address (0: none yet), paravirt
    /// and raw entry.
    pub(crate) first_failure: [u64; 3],
    /// The page whose CPA call the `inject_miss` knob skipped (0: none).
    pub(crate) inject_addr: u64,
    /// Pages about to be freed whose memtype record (the page flags
    /// `memtype_reserve()` keeps) was not WB; also in `verify_failures`.
    pub(crate) record_failures: u64,
}

impl RunStats {
    /// Nothing counted yet (the kernel allocates this zeroed instead).
    #[cfg(test)]
    pub(crate) const fn new() -> Self {
        RunStats {
            ops: [const { OpStats::new() }; MAX_OPS],
            errors: 0,
            verify_failures: 0,
            verified_pages: 0,
            cpa_ns: 0,
            verify_ns: 0,
            first_failure: [0; 3],
            inject_addr: 0,
            record_failures: 0,
        }
    }

    /// The counters of `op` in `scenario` (`None` if it does not time it).
    pub(crate) fn op(&mut self, scenario: Scenario, op: Op) -> Option<&mut OpStats> {
        let i = scenario.ops().iter().position(|&o| o == op)?;
        self.ops.get_mut(i)
    }

    /// Records the first failure seen (later ones are only counted).
    pub(crate) fn first(&mut self, addr: u64, pv: u64, raw: u64) {
        if self.first_failure[0] == 0 {
            self.first_failure = [addr, pv, raw];
        }
    }

    /// Adds `other`'s counts.
    pub(crate) fn merge(&mut self, other: &RunStats) {
        for (a, b) in self.ops.iter_mut().zip(other.ops.iter()) {
            a.merge(b);
        }
        self.errors += other.errors;
        self.verify_failures += other.verify_failures;
        self.verified_pages += other.verified_pages;
        self.cpa_ns += other.cpa_ns;
        self.verify_ns += other.verify_ns;
        if self.first_failure[0] == 0 {
            self.first_failure = other.first_failure;
        }
        self.record_failures += other.record_failures;
        if self.inject_addr == 0 {
            self.inject_addr = other.inject_addr;
        }
    }

    /// Writes the run's lines: totals, then each transition's counters.
    pub(crate) fn write_kv(&self, w: &mut impl Write, scenario: Scenario) -> fmt::Result {
        let ops: u64 = self.ops.iter().map(|o| o.ops).sum();
        writeln!(w, "ops={ops}")?;
        writeln!(w, "errors={}", self.errors)?;
        writeln!(w, "verified_pages={}", self.verified_pages)?;
        writeln!(w, "verify_failures={}", self.verify_failures)?;
        writeln!(w, "cpa_ns={}", self.cpa_ns)?;
        writeln!(w, "verify_ns={}", self.verify_ns)?;
        let [addr, pv, raw] = self.first_failure;
        if addr != 0 {
            writeln!(
                w,
                "first_failure=addr={addr:#x} pv={pv:#018x} raw={raw:#018x}"
            )?;
        }
        if self.inject_addr != 0 {
            writeln!(w, "inject.addr={:#x}", self.inject_addr)?;
        }
        writeln!(w, "memtype_record_failures={}", self.record_failures)?;
        for (op, stats) in scenario.ops().iter().zip(self.ops.iter()) {
            stats.write_kv(w, op.key())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::String;

    #[test]
    fn direct_map_events_are_the_difference_and_say_none_without_collapses() {
        let before = DirectMapEvents {
            splits: [3, 1],
            collapses: Some([0, 0]),
        };
        let after = DirectMapEvents {
            splits: [7, 1],
            collapses: Some([2, 0]),
        };
        let mut out = String::new();
        before.since(&after).write_kv(&mut out).unwrap();
        assert_eq!(
            out,
            "direct_map.splits=2M=4 1G=0\ndirect_map.collapses=2M=2 1G=0\n"
        );
        let old = DirectMapEvents {
            splits: [0, 0],
            collapses: None,
        };
        let mut out = String::new();
        old.since(&after).write_kv(&mut out).unwrap();
        assert_eq!(
            out,
            "direct_map.splits=2M=7 1G=1\ndirect_map.collapses=none\n"
        );
    }

    #[test]
    fn op_slots_follow_the_scenario() {
        let mut r = RunStats::new();
        assert!(r.op(Scenario::SetPages, Op::ArrayWc).is_none());
        r.op(Scenario::SetPages, Op::SetPagesWb)
            .unwrap()
            .record_ok(4, 100);
        assert_eq!(r.ops[1].ops, 1);
        for s in Scenario::ALL {
            assert!(s.ops().len() <= MAX_OPS, "{s}");
        }
    }

    #[test]
    fn merge_and_render() {
        let mut a = RunStats::new();
        a.op(Scenario::SetPages, Op::SetPagesUc)
            .unwrap()
            .record_ok(2, 50);
        a.verified_pages = 2;
        let mut b = RunStats::new();
        b.op(Scenario::SetPages, Op::SetPagesUc)
            .unwrap()
            .record_ok(2, 70);
        b.errors = 1;
        b.verify_failures = 1;
        b.first(0x1000, 0x8000_0000_0000_0173, 0x8000_0000_0000_0173);
        b.inject_addr = 0x1000;
        a.merge(&b);
        let mut s = String::new();
        a.write_kv(&mut s, Scenario::SetPages).unwrap();
        assert!(
            s.starts_with("ops=2\nerrors=1\nverified_pages=2\nverify_failures=1\n"),
            "{s}"
        );
        assert!(
            s.contains("first_failure=addr=0x1000 pv=0x8000000000000173 raw=0x8000000000000173\n")
        );
        assert!(s.contains("\ninject.addr=0x1000\n"), "{s}");
        let mut none = String::new();
        RunStats::new()
            .write_kv(&mut none, Scenario::SetPages)
            .unwrap();
        assert!(!none.contains("inject"), "{none}");
        assert!(
            s.contains("set_pages.uc.ops=2\nset_pages.uc.pages=4\n"),
            "{s}"
        );
        assert!(s.contains("set_pages.uc.lat_min_ns=50\n"), "{s}");
        assert!(s.contains("set_pages.wb.ops=0\n"), "{s}");
    }
}

/// The direct map's split and collapse events (`/proc/vmstat`'s
/// `direct_map_level{2,3}_{splits,collapses}`), as the kernel counts them
/// for the whole machine. `collapses` is `None` on a kernel that never
/// collapses split pages back (before 6.15).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DirectMapEvents {
    /// Splits of a 2M page into 4K pages, and of a 1G page into 2M pages.
    pub(crate) splits: [u64; 2],
    /// Collapses of 4K pages into a 2M page, and of 2M pages into a 1G page.
    pub(crate) collapses: Option<[u64; 2]>,
}

impl DirectMapEvents {
    /// What happened between `self` (before) and `after`, machine-wide.
    pub(crate) fn since(&self, after: &DirectMapEvents) -> DirectMapEvents {
        let d = |a: [u64; 2], b: [u64; 2]| [b[0].wrapping_sub(a[0]), b[1].wrapping_sub(a[1])];
        DirectMapEvents {
            splits: d(self.splits, after.splits),
            collapses: match (self.collapses, after.collapses) {
                (Some(a), Some(b)) => Some(d(a, b)),
                _ => None,
            },
        }
    }

    /// `direct_map.splits=2M=.. 1G=..` and `direct_map.collapses=...`
    /// (`none` where the kernel does not collapse).
    pub(crate) fn write_kv(&self, w: &mut impl Write) -> fmt::Result {
        let [s2, s1] = self.splits;
        writeln!(w, "direct_map.splits=2M={s2} 1G={s1}")?;
        match self.collapses {
            Some([c2, c1]) => writeln!(w, "direct_map.collapses=2M={c2} 1G={c1}"),
            None => writeln!(w, "direct_map.collapses=none"),
        }
    }
}
