//! Host build of the `pte_attrs` module's pure-logic files.
//!
//! These files have no `kernel::` dependency: the module compiles them as
//! `mod`s of its crate, and this crate compiles the very same files for the
//! host so that `cargo test` covers them in seconds. Items are `pub(crate)`
//! because that is what the kernel crate needs; the tests live in each file.
#![allow(dead_code)]

/// The files of `src/pure/`, which the kernel crate compiles too
/// (`src/pure.rs` lists them there).
#[path = "../src/pure"]
mod pure {
    pub(crate) mod attrs;
    pub(crate) mod audit;
    pub(crate) mod config;
    pub(crate) mod gem;
    pub(crate) mod kwalk;
    pub(crate) mod latency;
    pub(crate) mod parse;
    pub(crate) mod ratelimit;
    pub(crate) mod run_stats;
    pub(crate) mod samples;
}

/// What the kernel side assumes of the pure types it allocates zeroed
/// (`crate::sys::mem::ZeroIsEmpty`): all-zero bytes are their empty value.
/// The check needs `core::mem::zeroed`, which the pure files do without,
/// so it lives here.
#[cfg(test)]
mod zeroed {
    extern crate std;

    use crate::pure::config::{Op, Scenario};
    use crate::pure::latency::OpStats;
    use crate::pure::run_stats::RunStats;
    use std::string::String;

    #[test]
    fn run_stats_all_zero_is_empty() {
        // SAFETY: `RunStats` holds only integers (and arrays and structs of
        // them), for which all-zero bytes are valid.
        let mut z: RunStats = unsafe { core::mem::zeroed() };
        let mut n = RunStats::new();
        let (mut a, mut b) = (String::new(), String::new());
        z.write_kv(&mut a, Scenario::GemEvict).unwrap();
        n.write_kv(&mut b, Scenario::GemEvict).unwrap();
        assert_eq!(a, b);
        for r in [&mut z, &mut n] {
            let o = r.op(Scenario::GemEvict, Op::GemBindUc).unwrap();
            o.record_ok(1, 42);
            o.record_ok(1, 7);
        }
        let (mut a, mut b) = (String::new(), String::new());
        z.write_kv(&mut a, Scenario::GemEvict).unwrap();
        n.write_kv(&mut b, Scenario::GemEvict).unwrap();
        assert_eq!(a, b);
        assert!(a.contains("gem.bind_uc.lat_min_ns=7\n"), "{a}");
    }

    #[test]
    fn op_stats_all_zero_is_empty() {
        // SAFETY: `OpStats` holds only integers and a histogram of them.
        let mut z: OpStats = unsafe { core::mem::zeroed() };
        let mut n = OpStats::new();
        for o in [&mut z, &mut n] {
            o.record_ok(3, 1000);
            o.record_error();
        }
        let (mut a, mut b) = (String::new(), String::new());
        z.write_kv(&mut a, "x").unwrap();
        n.write_kv(&mut b, "x").unwrap();
        assert_eq!(a, b);
        assert!(a.contains("x.lat_max_ns="), "{a}");
    }
}
