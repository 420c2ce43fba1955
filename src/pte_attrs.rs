// SPDX-License-Identifier: GPL-2.0

//! pte_attrs: page-table entry attributes as the paravirt layer sees them.
//!
//! The module reads kernel page-table entries through the paravirt
//! `pte_val` hook (so that they are right under Xen PV, at no cost on native
//! kernels), decodes them with the live PAT table, exports that to other
//! modules (`include/pte_attrs.h`) and shows it in
//! `/sys/kernel/debug/pte_attrs/`.

use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::Arc;

use bench::Bench;
use exerciser::audit::Auditor;
use exerciser::Exerciser;
use knobs::{config, control, report};
use sys::accessor;
use sys::debugfs::{self, Access};
use sys::shrinker::Shrinker;

mod bench;
mod exerciser;
mod export;
mod knobs;
mod pure;
mod sys;

sys::declare_module! {
    type: PteAttrsModule,
    name: "pte_attrs",
    author: "pte_attrs developers",
    description: "Paravirt-correct PTE attributes and a CPA exerciser",
    license: "GPL",
}

struct PteAttrsModule {
    /// `/dev/pte_attrs`; no file of it is open at unload (an open file
    /// pins the module).
    gem: Option<sys::miscdev::Registration<exerciser::gem_mmap::GemDevice>>,
    /// Dropped first: no file can start anything once it is gone.
    dir: Option<debugfs::Dir>,
    ex: Arc<Exerciser>,
    bench: Arc<Bench>,
    auditor: Arc<Auditor>,
    /// Holds a reference on `ex`, given up after the shrinker is freed.
    shrinker: Option<Shrinker<Exerciser>>,
    /// The PCI driver `pte_attrs`: the devices whose BARs `ioremap` and
    /// the GEM BAR hold may use. Unregistered after the run has stopped
    /// (each removal waits for the uses of its BARs).
    pci: Option<sys::pci::Driver>,
}

impl kernel::Module for PteAttrsModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let live = accessor::init()?;
        pr_info!(
            "loaded: reading entries through the {} path, PAT table {}\n",
            if accessor::paravirt_live() {
                "paravirt"
            } else {
                "native"
            },
            sys::log::Show(live.pat)
        );
        let ex = Exerciser::new()?;
        let shrinker = Shrinker::register(c_str!("pte_attrs-pool"), ex.clone())?;
        let bench = Bench::new()?;
        let auditor = Auditor::new()?;
        // From here on a failure goes through `Drop` (which stops a run a
        // file may already have started); `dir`, declared after it, is
        // dropped first.
        let mut this = PteAttrsModule {
            gem: None,
            dir: None,
            ex,
            bench,
            auditor,
            shrinker: Some(shrinker),
            pci: None,
        };
        let gem = exerciser::gem_mmap::GemDevice::new()?;
        let mut dir = debugfs::Dir::new(c_str!("pte_attrs"), module)?;
        dir.file(
            c_str!("accessor"),
            Access::Read,
            knobs::accessor::Accessor { live },
        )?;
        dir.file(
            c_str!("lookup"),
            Access::ReadWrite,
            knobs::accessor::Lookup::new(),
        )?;
        let ex = &this.ex;
        dir.file(
            c_str!("scenario"),
            Access::ReadWrite,
            config::ScenarioFile { ex: ex.clone() },
        )?;
        dir.file(
            c_str!("pages"),
            Access::ReadWrite,
            config::NumberFile::pages(ex.clone()),
        )?;
        dir.file(
            c_str!("max_order"),
            Access::ReadWrite,
            config::NumberFile::max_order(ex.clone()),
        )?;
        dir.file(
            c_str!("iterations"),
            Access::ReadWrite,
            config::NumberFile::iterations(ex.clone()),
        )?;
        dir.file(
            c_str!("threads"),
            Access::ReadWrite,
            config::NumberFile::threads(ex.clone()),
        )?;
        dir.file(
            c_str!("verify"),
            Access::ReadWrite,
            config::FlagFile::verify(ex.clone()),
        )?;
        dir.file(
            c_str!("scatter"),
            Access::ReadWrite,
            config::FlagFile::scatter(ex.clone()),
        )?;
        dir.file(
            c_str!("bar"),
            Access::ReadWrite,
            config::BarFile { ex: ex.clone() },
        )?;
        dir.file(
            c_str!("hold"),
            Access::ReadWrite,
            config::HoldFile { ex: ex.clone() },
        )?;
        dir.file(
            c_str!("inject_miss"),
            Access::ReadWrite,
            config::InjectMissFile { ex: ex.clone() },
        )?;
        dir.file(
            c_str!("inject_fail"),
            Access::ReadWrite,
            config::InjectFailFile { ex: ex.clone() },
        )?;
        dir.file(
            c_str!("run"),
            Access::Write,
            control::RunFile { ex: ex.clone() },
        )?;
        dir.file(
            c_str!("stop"),
            Access::Write,
            control::StopFile { ex: ex.clone() },
        )?;
        dir.file(
            c_str!("reset"),
            Access::Write,
            control::ResetFile { ex: ex.clone() },
        )?;
        dir.file(
            c_str!("evict"),
            Access::Write,
            control::EvictFile { ex: ex.clone() },
        )?;
        dir.file(
            c_str!("results"),
            Access::Read,
            report::ResultsFile { ex: ex.clone() },
        )?;
        dir.file(
            c_str!("bench"),
            Access::ReadWrite,
            report::BenchFile {
                bench: this.bench.clone(),
            },
        )?;
        dir.file(
            c_str!("gem"),
            Access::Read,
            report::GemFile {
                gem: gem.stats_view(),
            },
        )?;
        let auditor = this.auditor.clone();
        dir.file(
            c_str!("audit"),
            Access::ReadWrite,
            knobs::audit::AuditFile { auditor },
        )?;
        let auditor = this.auditor.clone();
        dir.file(
            c_str!("alias"),
            Access::ReadWrite,
            knobs::audit::AliasFile { auditor },
        )?;
        let auditor = this.auditor.clone();
        dir.file(
            c_str!("mmio_alias"),
            Access::ReadWrite,
            knobs::audit::MmioAliasFile { auditor },
        )?;
        // Devices handed to pte_attrs (driver_override) are bound now.
        this.pci = Some(sys::pci::Driver::register(module)?);
        // The last step that can fail: opens of /dev/pte_attrs may start
        // once it is registered, so nothing may fail after it (a failure
        // here drops `dir` with no file of it ever opened).
        this.gem = Some(sys::miscdev::Registration::new(
            c_str!("pte_attrs"),
            module,
            gem,
        )?);
        // Every file exists and nothing below can fail: only now may they
        // be opened.
        dir.publish();
        this.dir = Some(dir);
        Ok(this)
    }
}

impl Drop for PteAttrsModule {
    fn drop(&mut self) {
        // Files first (removal waits for callbacks in flight), then the run
        // (its workers restore and free what they changed), then the pool,
        // then the shrinker that could still be evicting it.
        drop(self.gem.take());
        drop(self.dir.take());
        self.auditor.drop_alias();
        // Before the PCI driver goes: the alias holds a use of a BAR (and
        // through it a reference on the auditor, which this breaks).
        self.auditor.drop_mmio_alias();
        let (evicted, not_wb) = self.ex.shutdown();
        drop(self.pci.take());
        drop(self.shrinker.take());
        pr_info!(
            "unloaded: {} pool pages evicted; {} evicted pages found not WB\n",
            evicted,
            not_wb
        );
    }
}
