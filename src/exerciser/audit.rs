// SPDX-License-Identifier: GPL-2.0

//! The audit of the whole kernel half (`audit` file) and the module's
//! deliberate aliases: a WC alias of a RAM page (`alias` file) and a WC/UC
//! alias of a page of a claimed PCI BAR (`mmio_alias` file).
//!
//! A run walks the kernel's tables in steps ([`kmap::drive`]) with the
//! pure [`Audit`] as the visitor, in buffers allocated up front (the
//! findings list and the MMIO index: their sizes bound the audit's
//! memory, whatever the size of RAM), then keeps the rendered report for
//! reads. One run at a time (`-EBUSY`); a fatal signal ends a run
//! between two steps (`-EINTR`), keeping the partial report.

use core::fmt::{self, Write};
use core::ops::ControlFlow;
use core::sync::atomic::{AtomicBool, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::error::{code::*, Result};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use crate::pure::audit::{Audit, Finding, MmioRange, RegionKind};
use crate::pure::kwalk::{KernelWalk, Step};
use crate::pure::parse::cstr_field;
use crate::sys::accessor;
use crate::sys::io::MmioAlias;
use crate::sys::kmap::{self, KernelFrames, WcAlias, STEP_BUDGET};
use crate::sys::log::pr_info_rl;
use crate::sys::pci::{BarRefusal, ClaimedBar, OnRemove};
use crate::sys::time::Instant;

/// Lines the findings list holds; more are counted (`left_out`).
pub(crate) const MAX_FINDINGS: usize = 128;

/// MMIO ranges the index holds; more are counted (`mmio_dropped`) and
/// not checked against later mappings.
pub(crate) const MAX_MMIO: usize = 256;

/// The audit's state: the last report and the alias.
#[pin_data]
pub(crate) struct Auditor {
    /// A run is in progress.
    running: AtomicBool,
    /// The rendered report of the last run (`None` before the first).
    #[pin]
    report: Mutex<Option<KVec<u8>>>,
    /// The deliberate alias, while it exists.
    #[pin]
    alias: Mutex<Option<WcAlias>>,
    /// The deliberate MMIO alias, while it exists. Never claimed under
    /// this lock: the claim takes the device lock, under which a removal
    /// calls [`OnRemove::removed`], which takes this one.
    #[pin]
    mmio: Mutex<Option<MmioAlias>>,
}

/// Frees the `running` flag when a run ends, however it ends.
struct Running<'a>(&'a AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A report being rendered; an allocation failure is a `fmt::Error`.
struct Text(KVec<u8>);

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| fmt::Error)
    }
}

/// Where an alias is, for the `alias` file.
pub(crate) struct AliasInfo {
    /// The WC mapping's address.
    pub(crate) addr: u64,
    /// The page's frame.
    pub(crate) pfn: u64,
    /// The page's direct-map address.
    pub(crate) dmap: u64,
}

/// Where the MMIO alias is, for the `mmio_alias` file.
pub(crate) struct MmioInfo {
    /// The BAR's device (NUL-padded).
    pub(crate) dev: [u8; 32],
    /// The page's frame.
    pub(crate) pfn: u64,
    /// The WC mapping's address.
    pub(crate) wc: u64,
    /// The UC mapping's address.
    pub(crate) uc: u64,
}

/// Why the MMIO alias was not made: the errno and the reason in words.
pub(crate) type MmioRefusal = (kernel::error::Error, &'static str);

impl Auditor {
    /// No report, no alias.
    pub(crate) fn new() -> Result<Arc<Auditor>> {
        Arc::pin_init(
            pin_init!(Auditor {
                running: AtomicBool::new(false),
                report <- new_mutex!(None, "pte_attrs::audit"),
                alias <- new_mutex!(None, "pte_attrs::alias"),
                mmio <- new_mutex!(None, "pte_attrs::mmio_alias"),
            }),
            GFP_KERNEL,
        )
    }

    /// Runs the audit over the whole kernel half (`None`) or one region
    /// and keeps its report. Process context; sleeps between steps.
    /// `-EBUSY` if a run is in progress, `-EINVAL` for a region that is
    /// not one range, `-EINTR` on a fatal signal (the partial report,
    /// `complete=0`, is kept).
    pub(crate) fn run(&self, region: Option<RegionKind>) -> Result {
        if self
            .running
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(EBUSY);
        }
        let _running = Running(&self.running);
        let (from, to) = match region {
            None => (0, 0),
            Some(kind) => kmap::region_range(kind).ok_or(EINVAL)?,
        };
        let mut findings = KVec::from_elem(Finding::EMPTY, MAX_FINDINGS, GFP_KERNEL)?;
        let mut mmio = KVec::from_elem(MmioRange::EMPTY, MAX_MMIO, GFP_KERNEL)?;
        let ram = kmap::ram_ranges()?;
        let regions = kmap::regions();
        let mut audit = Audit::new(
            accessor::pat(),
            accessor::masks(),
            accessor::page_offset(),
            &regions,
            &mut findings,
            &mut mmio,
        );
        let mut frames = KernelFrames::new(&ram);
        let mut walk =
            KernelWalk::new(accessor::layout(), accessor::masks(), from, to).with_not_present();
        let start = Instant::now();
        let r = kmap::drive(&mut walk, |w, root, t| {
            let mut v = audit.visitor_limited(&mut frames, STEP_BUDGET);
            match w.step(root, t, &mut v, STEP_BUDGET) {
                Step::Done => ControlFlow::Break(()),
                // `Stopped` is the work limit: go on, as after `More`.
                Step::More | Step::Stopped => ControlFlow::Continue(()),
            }
        });
        if r.is_ok() {
            audit.finish();
        }
        let elapsed = start.elapsed_ns();
        let mut text = Text(KVec::new());
        writeln!(text, "elapsed_ns={elapsed}")
            .and_then(|()| audit.render(&mut text, &walk.stats))
            .map_err(|_| ENOMEM)?;
        *self.report.lock() = Some(text.0);
        if r == Err(EINTR) {
            pr_info_rl!(
                "audit: interrupted (EINTR) by a fatal signal after {} steps: the partial report (complete=0) is kept\n",
                walk.stats.steps
            );
        }
        r
    }

    /// The last report; `None` before the first run.
    pub(crate) fn with_report<T>(&self, f: impl FnOnce(Option<&[u8]>) -> T) -> T {
        let g = self.report.lock();
        f(g.as_deref())
    }

    /// Makes the deliberate alias (a no-op if it exists). May sleep.
    pub(crate) fn make_alias(&self) -> Result {
        let mut g = self.alias.lock();
        if g.is_none() {
            *g = Some(WcAlias::new()?);
        }
        Ok(())
    }

    /// Drops the deliberate alias, if any. May sleep.
    pub(crate) fn drop_alias(&self) {
        let old = self.alias.lock().take();
        drop(old);
    }

    /// Makes the MMIO alias (a no-op if it exists) on the last page of BAR
    /// `index` of the device `dev` (NUL-padded; empty: the first display
    /// device bound to pte_attrs), which it claims. May sleep; takes the
    /// device lock.
    pub(crate) fn make_mmio_alias(
        self: &Arc<Self>,
        dev: &[u8; 32],
        index: u8,
    ) -> Result<(), MmioRefusal> {
        if self.mmio.lock().is_some() {
            return Ok(());
        }
        // Claimed with no lock of ours held (see `mmio`).
        let bar = ClaimedBar::claim(dev, index, self.clone()).map_err(|why| match why {
            BarRefusal::NotPrefetch => (EINVAL, "the BAR is not prefetchable: no WC mapping of it"),
            why => why.errno(),
        })?;
        let alias = MmioAlias::new(bar).map_err(|e| {
            let why = if e == EPERM {
                "an MMIO alias is for test VMs only: load with allow_alias=1"
            } else if e == EBUSY {
                "the BAR's last page is mapped in another mode than WC"
            } else if e == ENODEV {
                "the device is being removed"
            } else {
                "cannot map the BAR's last page"
            };
            (e, why)
        })?;
        let mut g = self.mmio.lock();
        // A removal that began before this lock found nothing to undo.
        if g.is_some() || alias.revoked() {
            let revoked = alias.revoked();
            drop(g);
            drop(alias);
            return if revoked {
                Err((ENODEV, "the device is being removed"))
            } else {
                Ok(())
            };
        }
        *g = Some(alias);
        Ok(())
    }

    /// Drops the MMIO alias, if any: both mappings unmapped, the BAR given
    /// back. May sleep.
    pub(crate) fn drop_mmio_alias(&self) {
        let old = self.mmio.lock().take();
        drop(old);
    }

    /// Where the MMIO alias is, if it exists.
    pub(crate) fn mmio_alias(&self) -> Option<MmioInfo> {
        self.mmio.lock().as_ref().map(|a| MmioInfo {
            dev: *a.dev(),
            pfn: a.pfn(),
            wc: a.wc_addr(),
            uc: a.uc_addr(),
        })
    }

    /// Where the alias is, if it exists.
    pub(crate) fn alias(&self) -> Option<AliasInfo> {
        self.alias.lock().as_ref().map(|a| AliasInfo {
            addr: a.addr(),
            pfn: a.pfn(),
            dmap: a.dmap(),
        })
    }
}

/// The removal of a device drops the MMIO alias made on its BAR.
impl OnRemove for Auditor {
    fn removed(&self, dev: &[u8; 32]) {
        let mut g = self.mmio.lock();
        if g.as_ref().is_some_and(|a| a.dev() == dev) {
            let old = g.take();
            drop(g);
            drop(old);
            pr_info_rl!(
                "audit: {} is being removed: the MMIO alias on its BAR is undone\n",
                cstr_field(dev)
            );
        }
    }
}
