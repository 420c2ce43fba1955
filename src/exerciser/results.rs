// SPDX-License-Identifier: GPL-2.0

//! The `results` file: `key=value` lines of the last run and of the pool.

use core::fmt::{self, Write};

use crate::exerciser::run::Exerciser;
use crate::pure::attrs::CacheMode;
use crate::pure::config::Scenario;
use crate::pure::latency::OpStats;
use crate::pure::parse::cstr_field;
use crate::sys::mem;

impl Exerciser {
    /// Writes the `results` file.
    pub(crate) fn write_results(&self, w: &mut impl Write) -> fmt::Result {
        let runs = self.runs.lock();
        let c = &runs.cfg;
        writeln!(w, "state={}", runs.state.name())?;
        writeln!(w, "scenario={}", c.scenario)?;
        writeln!(
            w,
            "config=pages={} max_order={} iterations={} threads={} verify={} scatter={}",
            c.pages,
            c.max_order,
            c.iterations,
            c.threads,
            u8::from(c.verify),
            u8::from(c.scatter)
        )?;
        writeln!(w, "elapsed_ns={}", runs.elapsed_ns)?;
        match runs.stats.as_ref() {
            Some(s) => s.write_kv(w, c.scenario)?,
            None => writeln!(w, "ops=0")?,
        }
        for (when, counts) in ["before", "after"].iter().zip(runs.dmap) {
            if let Some([k4, m2, g1]) = counts {
                writeln!(w, "direct_map.{when}=4K={k4} 2M={m2} 1G={g1}")?;
            }
        }
        if let [Some(before), Some(after)] = &runs.dmap_events {
            before.since(after).write_kv(w)?;
        }
        if c.scenario == Scenario::Ioremap && runs.stats.is_some() {
            let f = &runs.ioremap;
            writeln!(w, "ioremap.device={}", cstr_field(&f.dev))?;
            writeln!(w, "ioremap.start={:#x}", f.start)?;
            writeln!(w, "ioremap.size={:#x}", f.size)?;
            if let Some(h) = self.ctl.held() {
                writeln!(w, "ioremap.held={:#x}", h.addr)?;
            }
            if f.conflict_tried {
                let got = match f.conflict {
                    None => "refused",
                    Some(None) => "mapped-unknown",
                    Some(Some(m)) => m.name(),
                };
                writeln!(w, "ioremap.conflict_uc_over_wc={got}")?;
            }
        }
        // The page set a `pages_array` or `wc_wb_free` run holds WC (UC-
        // without PAT) for inspection (the `hold` knob): its first and
        // last page (direct-map addresses) and its size.
        if matches!(c.scenario, Scenario::PagesArray | Scenario::WcWbFree) {
            if let Some(h) = self.ctl.held() {
                let s = c.scenario;
                writeln!(w, "{s}.held={:#x}", h.addr)?;
                writeln!(w, "{s}.held_last={:#x}", h.last)?;
                writeln!(w, "{s}.held_pages={}", h.pages)?;
            }
        }
        drop(runs);
        writeln!(w, "pool_pages={}", self.pool.pages())?;
        for (key, mode) in [("wc", CacheMode::Wc), ("uc", CacheMode::UcMinus)] {
            if let Some(addr) = self.pool.sample(mode) {
                writeln!(w, "pool.sample_{key}={addr:#x}")?;
            }
        }
        // Copied out first, into memory allocated before the lock:
        // formatting allocates, an allocation may enter reclaim, and the
        // shrinker takes this lock from there.
        let mut evict = mem::zeroed::<OpStats>().map_err(|_| fmt::Error)?;
        let (scans, pages, failures, records, first) = self.pool.with_evictions(|e| {
            evict.copy_from(&e.stats);
            (
                e.shrinker_scans,
                e.shrinker_pages,
                e.verify_failures,
                e.record_failures,
                e.first_failure,
            )
        });
        writeln!(w, "pool.shrinker_scans={scans}")?;
        writeln!(w, "pool.shrinker_pages={pages}")?;
        writeln!(w, "pool.verify_failures={failures}")?;
        writeln!(w, "pool.memtype_record_failures={records}")?;
        let [addr, pv, raw] = first;
        if addr != 0 {
            writeln!(
                w,
                "pool.first_failure=addr={addr:#x} pv={pv:#018x} raw={raw:#018x}"
            )?;
        }
        evict.write_kv(w, "pool.evict")
    }
}
