// SPDX-License-Identifier: GPL-2.0

//! The exerciser's debugfs files. None of them takes an address: the
//! exerciser only changes pages it allocated and mappings it created.

use core::fmt::Write;

use kernel::error::{code::*, Result};
use kernel::sync::Arc;

use crate::bench::Bench;
use crate::exerciser::Exerciser;
use crate::pure::config::{Scenario, MAX_ITERATIONS, MAX_ORDER, MAX_PAGES, MAX_THREADS};
use crate::pure::parse::cstr_field;
use crate::pure::parse::{self, ParseError};
use crate::sys::debugfs::{Knob, Output, Rejected};

/// Which file.
#[derive(Copy, Clone)]
pub(crate) enum Kind {
    /// `scenario`: one of the scenario names.
    Scenario,
    /// `pages`: pages per batch and thread (1..=2^20).
    Pages,
    /// `max_order`: largest `gem_evict` block order (0..=10).
    MaxOrder,
    /// `iterations`: rounds per thread (1..=10^6).
    Iterations,
    /// `threads`: worker threads (1..=16).
    Threads,
    /// `verify`: check every transition through the accessor (0/1).
    Verify,
    /// `bar`: `auto` or `<pci device>[/<bar>]` for `ioremap`.
    Bar,
    /// `hold`: 1 keeps the `ioremap` scenario's first WC mapping alive
    /// (its address in `results`) until 0 is written.
    Hold,
    /// `inject_miss`: 1 makes the next run's first non-WB transition
    /// (worker 0, its first batch) skip the CPA call for the first page of
    /// the set while the check still expects the new mode: a negative
    /// control of verification (`inject.addr=` in `results`). Cleared by
    /// the run that uses it.
    InjectMiss,
    /// `run`: write 1 to start a run on worker threads, `sync` to run it
    /// in the writing task and return when it is done.
    Run,
    /// `stop`: write 1 to stop the run and wait until it has cleaned up.
    Stop,
    /// `reset`: write 1 to clear the results.
    Reset,
    /// `evict`: write 1 to evict the whole GEM pool.
    Evict,
    /// `results`: `key=value` lines of the last run.
    Results,
    /// `bench`: write `accessor`, `cpa`, `threads` or `all` to run those
    /// benchmarks; read their output.
    Bench,
}

/// A file of the exerciser.
pub(crate) struct ExKnob {
    /// The exerciser.
    pub(crate) ex: Arc<Exerciser>,
    /// The benchmarks.
    pub(crate) bench: Arc<Bench>,
    /// Which file.
    pub(crate) kind: Kind,
}

fn one(input: &[u8]) -> Result<(), Rejected> {
    if parse::token(input)? == "1" {
        Ok(())
    } else {
        Err(Rejected::new(EINVAL, "write 1"))
    }
}

impl Knob for ExKnob {
    fn show(&self, out: &mut Output) -> Result {
        let ex = &self.ex;
        let r = match self.kind {
            Kind::Scenario => {
                let cur = ex.with_cfg(|c| c.scenario);
                Scenario::ALL
                    .iter()
                    .try_for_each(|&s| {
                        if s == cur {
                            write!(out, "[{s}] ")
                        } else {
                            write!(out, "{s} ")
                        }
                    })
                    .and_then(|()| writeln!(out))
            }
            Kind::Pages => writeln!(out, "{}", ex.with_cfg(|c| c.pages)),
            Kind::MaxOrder => writeln!(out, "{}", ex.with_cfg(|c| c.max_order)),
            Kind::Iterations => writeln!(out, "{}", ex.with_cfg(|c| c.iterations)),
            Kind::Threads => writeln!(out, "{}", ex.with_cfg(|c| c.threads)),
            Kind::Verify => writeln!(out, "{}", u8::from(ex.with_cfg(|c| c.verify))),
            Kind::Bar => {
                let bar = ex.with_bar(|b| *b);
                match cstr_field(&bar.dev) {
                    "" => writeln!(out, "auto/{}", bar.index),
                    d => writeln!(out, "{d}/{}", bar.index),
                }
            }
            Kind::Hold => writeln!(out, "{}", u8::from(ex.hold())),
            Kind::InjectMiss => writeln!(out, "{}", u8::from(ex.inject())),
            Kind::Run | Kind::Stop | Kind::Reset | Kind::Evict => Ok(()),
            Kind::Results => ex.write_results(out),
            Kind::Bench => {
                self.bench.write(out);
                Ok(())
            }
        };
        r.map_err(|_| ENOMEM)
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        let ex = &self.ex;
        match self.kind {
            Kind::Scenario => {
                let s = Scenario::from_name(parse::token(input)?).ok_or(Rejected::new(
                    EINVAL,
                    "unknown scenario (read the file for the list)",
                ))?;
                ex.with_cfg(|c| c.scenario = s);
            }
            Kind::Pages => {
                let v = parse::parse_u64_in(input, 1, MAX_PAGES)?;
                ex.with_cfg(|c| c.pages = v);
            }
            Kind::MaxOrder => {
                let v = parse::parse_u64_in(input, 0, MAX_ORDER)?;
                ex.with_cfg(|c| c.max_order = v);
            }
            Kind::Iterations => {
                let v = parse::parse_u64_in(input, 1, MAX_ITERATIONS)?;
                ex.with_cfg(|c| c.iterations = v);
            }
            Kind::Threads => {
                let v = parse::parse_u64_in(input, 1, MAX_THREADS)?;
                ex.with_cfg(|c| c.threads = v);
            }
            Kind::Verify => {
                let v = parse::parse_bool(input)?;
                ex.with_cfg(|c| c.verify = v);
            }
            Kind::Bar => {
                let t = parse::token(input)?;
                let (dev, index) = match crate::pure::attrs::cut(t, "/") {
                    Some((d, i)) => (d, parse::parse_u64_in(i.as_bytes(), 0, 5)?),
                    None => (t, 0),
                };
                let dev = if dev == "auto" { "" } else { dev };
                let mut name = [0u8; 32];
                if dev.len() >= name.len() {
                    return Err(ParseError::Invalid.into());
                }
                name[..dev.len()].copy_from_slice(dev.as_bytes());
                ex.with_bar(|b| {
                    b.dev = name;
                    b.index = index as u8;
                });
            }
            Kind::Hold => ex.set_hold(parse::parse_bool(input)?),
            Kind::InjectMiss => ex.set_inject(parse::parse_bool(input)?),
            Kind::Run => {
                let sync = match parse::token(input)? {
                    "1" => false,
                    "sync" => true,
                    _ => return Err(Rejected::new(EINVAL, "write 1, or sync")),
                };
                ex.start(sync)
                    .map_err(|(err, why)| Rejected::new(err, why))?;
            }
            Kind::Stop => {
                one(input)?;
                ex.stop();
            }
            Kind::Reset => {
                one(input)?;
                ex.reset()
                    .map_err(|e| Rejected::new(e, "a run is in progress"))?;
            }
            Kind::Evict => {
                one(input)?;
                ex.evict_all();
            }
            Kind::Results => return Err(Rejected::new(EPERM, "the file is read-only")),
            Kind::Bench => {
                let what = parse::token(input)?;
                self.bench
                    .run(what)
                    .map_err(|(err, why)| Rejected::new(err, why))?;
            }
        }
        Ok(())
    }
}
