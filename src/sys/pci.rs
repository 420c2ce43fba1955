// SPDX-License-Identifier: GPL-2.0

//! A PCI memory BAR claimed for the module: the region requested as
//! "pte_attrs", the device held (`src/pci_glue.c` does the checks).

use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::{code::*, Error};
use kernel::ffi::c_int;

use crate::sys::ffi;

/// Why a BAR was refused (`enum pte_attrs_bar_why` of `pci_glue.h`).
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) enum BarRefusal {
    /// No such BAR index.
    BadIndex = 1,
    /// No such PCI device.
    NoDevice,
    /// Not a memory BAR.
    NotMem,
    /// The BAR is unassigned.
    Unassigned,
    /// The BAR is disabled.
    Disabled,
    /// The BAR is not prefetchable.
    NotPrefetch,
    /// The device does not decode memory.
    DecodeOff,
    /// A driver is bound to the device.
    Bound,
    /// Someone else requested the region.
    Claimed,
    /// No display-class device has a BAR that qualifies.
    NoneAuto,
    /// The glue returned something it should not.
    Unknown,
}

impl BarRefusal {
    fn from_c(v: c_int) -> Self {
        use BarRefusal::*;
        match v {
            1 => BadIndex,
            2 => NoDevice,
            3 => NotMem,
            4 => Unassigned,
            5 => Disabled,
            6 => NotPrefetch,
            7 => DecodeOff,
            8 => Bound,
            9 => Claimed,
            10 => NoneAuto,
            _ => Unknown,
        }
    }

    /// The errno of the refusal, and its reason in words.
    pub(crate) fn errno(self) -> (Error, &'static str) {
        use BarRefusal::*;
        match self {
            BadIndex => (EINVAL, "no such BAR index"),
            NoDevice => (ENODEV, "no such PCI device"),
            NotMem => (ENODEV, "that BAR is not a memory BAR"),
            NoneAuto => (ENODEV, "no display device has a free prefetchable BAR"),
            Unassigned => (EINVAL, "the BAR is unassigned"),
            Disabled => (EINVAL, "the BAR is disabled"),
            NotPrefetch => (EINVAL, "the BAR is not prefetchable"),
            DecodeOff => (EINVAL, "the device does not decode memory"),
            Bound => (EBUSY, "a driver is bound to the device"),
            Claimed => (EBUSY, "the BAR's region is claimed"),
            Unknown => (EINVAL, "the BAR was refused"),
        }
    }
}

/// A PCI memory BAR, claimed: no driver can request its region while this
/// value lives, and it is given back on drop.
///
/// # Invariants
///
/// `pdev` is a `struct pci_dev` on which this value holds a reference, and
/// the memory region `start`, `size` (one of its BARs) is requested by
/// this value, both taken by a successful `pte_attrs_pci_claim_bar()`; the
/// BAR passed the checks there (memory, assigned, enabled, prefetchable,
/// memory decoding on, no driver bound when claimed).
pub(crate) struct ClaimedBar {
    pdev: NonNull<bindings::pci_dev>,
    dev: [u8; 32],
    start: u64,
    size: u64,
}

// SAFETY: the reference and the region may be given back from any thread;
// the rest is plain data.
unsafe impl Send for ClaimedBar {}
// SAFETY: `&ClaimedBar` only reads plain data.
unsafe impl Sync for ClaimedBar {}

impl ClaimedBar {
    /// Claims BAR `index` of the device named `dev` (NUL-padded; empty:
    /// the first display-class device whose BAR `index` qualifies).
    pub(crate) fn claim(dev: &[u8; 32], index: u8) -> Result<ClaimedBar, BarRefusal> {
        let mut out: *mut bindings::pci_dev = core::ptr::null_mut();
        let mut name = [0u8; 32];
        let (mut start, mut size) = (0u64, 0u64);
        let mut want = *dev;
        // Always NUL-terminated for C.
        want[want.len() - 1] = 0;
        // SAFETY: `want` is NUL-terminated; every pointer is to a live
        // local, and `name` has room for `len` bytes and a NUL.
        let r = unsafe {
            ffi::pte_attrs_pci_claim_bar(
                want.as_ptr().cast(),
                c_int::from(index),
                &mut out,
                name.as_mut_ptr().cast(),
                name.len() - 1,
                &mut start,
                &mut size,
            )
        };
        match (r, NonNull::new(out)) {
            // INVARIANT: the claim succeeded: `out` holds a reference and
            // the region.
            (0, Some(pdev)) => Ok(ClaimedBar {
                pdev,
                dev: name,
                start,
                size,
            }),
            (0, None) => Err(BarRefusal::NoDevice),
            (r, _) => Err(BarRefusal::from_c(r)),
        }
    }

    /// The device's name, NUL-padded.
    pub(crate) fn dev(&self) -> &[u8; 32] {
        &self.dev
    }

    /// The BAR's physical start.
    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    /// The BAR's length in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }
}

impl Drop for ClaimedBar {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this value holds the reference and
        // the region, given back here once.
        unsafe { ffi::pte_attrs_pci_release_bar(self.pdev.as_ptr(), self.start, self.size) };
    }
}
