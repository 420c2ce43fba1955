// SPDX-License-Identifier: GPL-2.0

//! The module's PCI driver, `pte_attrs`, and the BARs of the devices bound
//! to it: the only BARs the module ever maps.
//!
//! The driver matches no device by itself: its ID table is empty (and
//! `new_id` refuses every ID, since none has a `driver_data` of the
//! table). A user hands it a device:
//!
//! ```text
//! echo pte_attrs > /sys/bus/pci/devices/0000:00:05.0/driver_override
//! echo 0000:00:05.0 > /sys/bus/pci/drivers_probe
//! ```
//!
//! (`driver_override` stays on the device, so the driver binds it again
//! whenever the module registers it.) For such a binding the PCI core
//! passes `pci_device_id_any`, whose `driver_data` is 0: upstream's Rust
//! adapter reads it as "no ID info" (`info_unchecked_opt()` gives `None`),
//! and [`Driver`]'s probe needs none. Probe enables the device's memory
//! decoding (`pci_enable_device_mem()`); nothing else of the device is
//! touched: no register is ever read or written.
//!
//! A use of a BAR is a [`ClaimedBar`], taken under the device lock (so
//! never during a probe or a removal): while any use of a BAR lives, its
//! region is requested as `pte_attrs` in `/proc/iomem`, and the last use
//! gives it back. Removal (unbind, `echo 1 > .../remove`, hot unplug,
//! `rmmod` with a device bound) ends every use: no new one is taken, each
//! holder is told ([`OnRemove`]: a run stops, a GEM BAR hold is undone),
//! and the removal waits until every [`ClaimedBar`] is dropped, which
//! unmaps what was mapped and releases the regions. Only then does the
//! device go, so nothing maps a BAR that is no longer there.
//!
//! On 7.x the driver is upstream's [`kernel::pci::Driver`], registered
//! with [`kernel::driver::Registration`]; probe uses
//! [`kernel::pci::Device`] (`enable_device_mem()`, the name) and holds an
//! `ARef` of it. Upstream's [`kernel::pci::Bar`] (`iomap_region()`) is not
//! used: it maps the BAR with `pci_iomap()`, UC-, and PAT hands every later
//! mapping of a range the memtype it already has, so the WC mappings the
//! module exists to check (`ioremap_wc()`, the io_mapping, `memremap` WC)
//! would be UC- too; nor does it say whether a BAR is prefetchable. So the
//! region and the WC mappings stay ours (`sys::io`, `sys::gem_bar`), and
//! `pci_glue.c` checks the BAR. On 6.12 (no `kernel::pci`) the driver is a
//! `struct pci_driver` in `pci_glue.c` whose probe and remove call
//! `bind()` and `unbind()` here.

use core::sync::atomic::{AtomicBool, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use kernel::error::{code::*, Error, Result};
use kernel::ffi::{c_char, c_int, c_void};
use kernel::prelude::*;
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::{new_condvar, new_mutex};

use crate::pure::parse::cstr_field;

#[allow(improper_ctypes)]
extern "C" {
    /// `pci_glue.c`: finds the device `want` (empty: the first `auto`
    /// candidate) bound to this driver whose BAR `bar` qualifies and calls
    /// `take` under its device lock; 0 or an `enum pte_attrs_bar_why`.
    fn pte_attrs_pci_find_bound(
        want: *const c_char,
        bar: c_int,
        take: unsafe extern "C" fn(*mut c_void, c_int, u64, u64, *mut c_void) -> c_int,
        ctx: *mut c_void,
    ) -> c_int;
    /// `pci_glue.c`: `request_mem_region(start, size, "pte_attrs")`.
    fn pte_attrs_pci_request_region(start: u64, size: u64) -> bool;
    /// `pci_glue.c`: `release_mem_region(start, size)`.
    fn pte_attrs_pci_release_region(start: u64, size: u64);
}

#[cfg(not(kernel_7))]
#[allow(improper_ctypes)]
extern "C" {
    /// `pci_glue.c` (6.12): registers the driver, whose probe calls `bind`
    /// and whose remove calls `unbind`.
    fn pte_attrs_pci_register(
        bind: unsafe extern "C" fn(*mut kernel::bindings::pci_dev, *const c_char) -> *mut c_void,
        unbind: unsafe extern "C" fn(*mut c_void),
    ) -> c_int;
    /// `pci_glue.c` (6.12): unregisters it (removing every binding).
    fn pte_attrs_pci_unregister();
}

/// The standard BARs of a PCI device.
const BARS: usize = 6;

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
    /// Another driver is bound to the device.
    Bound,
    /// Someone else requested the region.
    Claimed,
    /// No device bound to pte_attrs has a BAR that `auto` may pick.
    NoneAuto,
    /// The device has no driver: it is not bound to pte_attrs.
    NotBound,
    /// The device's removal has begun.
    Removing,
    /// No memory to record the use.
    NoMemory,
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
            11 => NotBound,
            12 => Removing,
            13 => NoMemory,
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
            NoneAuto => (
                ENODEV,
                "no display device bound to pte_attrs has a BAR that qualifies (3D controllers must be named)",
            ),
            NotBound => (
                ENODEV,
                "the device is not bound to pte_attrs (write pte_attrs to its driver_override, then its name to /sys/bus/pci/drivers_probe)",
            ),
            Removing => (ENODEV, "the device is being removed"),
            Unassigned => (EINVAL, "the BAR is unassigned"),
            Disabled => (EINVAL, "the BAR is disabled"),
            NotPrefetch => (EINVAL, "the BAR is not prefetchable"),
            DecodeOff => (EINVAL, "the device does not decode memory"),
            Bound => (EBUSY, "another driver is bound to the device"),
            Claimed => (EBUSY, "the BAR's region is claimed"),
            NoMemory => (ENOMEM, "no memory to record the use"),
            Unknown => (EINVAL, "the BAR was refused"),
        }
    }
}

/// A holder of [`ClaimedBar`]s, told when their device is being removed.
pub(crate) trait OnRemove: Send + Sync {
    /// The device named `dev` (NUL-padded) is being removed: end every use
    /// of its BARs this holder has, soon. The removal waits until each
    /// [`ClaimedBar`] is dropped, so this may drop them or ask the threads
    /// that hold them to stop ([`ClaimedBar::revoked`] is already true).
    /// Called with the device lock held and no lock of this module: take
    /// no device lock here. May come just after the use ended: then it
    /// does nothing.
    fn removed(&self, dev: &[u8; 32]);
}

/// The uses of one BAR.
#[derive(Copy, Clone, Default)]
struct BarUse {
    /// Live [`ClaimedBar`]s of it; its region is requested while nonzero.
    users: u32,
    start: u64,
    size: u64,
}

/// What a [`Binding`] keeps under its lock.
struct Uses {
    /// The removal has begun: no new use.
    removing: bool,
    bars: [BarUse; BARS],
    /// Live [`ClaimedBar`]s, of all BARs.
    live: u32,
    /// The holder of each live use, by the use's id (slots are reused).
    /// The removal takes them all at once.
    holders: KVec<Option<(u64, Arc<dyn OnRemove>)>>,
    next_id: u64,
}

/// A device bound to the driver: the uses of its BARs.
///
/// # Invariants
///
/// `bars[i].users` counts the live [`ClaimedBar`]s of BAR `i`; while it is
/// nonzero, the region `bars[i].start`, `bars[i].size` is requested for
/// this binding. `live` is the sum of `users`. `removing` (the atomic)
/// is set under `uses`, with `Uses::removing`, and never cleared.
#[pin_data]
struct Binding {
    name: [u8; 32],
    removing: AtomicBool,
    #[pin]
    uses: Mutex<Uses>,
    /// Notified when `live` drops to 0.
    #[pin]
    idle: CondVar,
}

impl Binding {
    fn new(name: &[u8]) -> Result<Arc<Binding>> {
        let mut n = [0u8; 32];
        let len = name.len().min(n.len() - 1);
        n[..len].copy_from_slice(&name[..len]);
        Arc::pin_init(
            pin_init!(Binding {
                name: n,
                removing: AtomicBool::new(false),
                uses <- new_mutex!(
                    Uses {
                        removing: false,
                        bars: [BarUse::default(); BARS],
                        live: 0,
                        holders: KVec::new(),
                        next_id: 1,
                    },
                    "pte_attrs::pci_uses"
                ),
                idle <- new_condvar!("pte_attrs::pci_idle"),
            }),
            GFP_KERNEL,
        )
    }

    /// A use of BAR `bar` (`start`, `size`) for `holder`; its region is
    /// requested if it is the BAR's first.
    fn take(
        self: &Arc<Self>,
        bar: c_int,
        start: u64,
        size: u64,
        holder: &Arc<dyn OnRemove>,
    ) -> Result<ClaimedBar, BarRefusal> {
        let index = usize::try_from(bar)
            .ok()
            .filter(|&i| i < BARS)
            .ok_or(BarRefusal::BadIndex)?;
        let mut u = self.uses.lock();
        if u.removing {
            return Err(BarRefusal::Removing);
        }
        let slot = match u.holders.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                u.holders
                    .push(None, GFP_KERNEL)
                    .map_err(|_| BarRefusal::NoMemory)?;
                u.holders.len() - 1
            }
        };
        let b = &mut u.bars[index];
        if b.users == 0 {
            // SAFETY: a memory BAR of a device bound to this driver; the
            // region is released when its last use goes.
            if !unsafe { pte_attrs_pci_request_region(start, size) } {
                return Err(BarRefusal::Claimed);
            }
            b.start = start;
            b.size = size;
        }
        b.users += 1;
        let (start, size) = (b.start, b.size);
        let id = u.next_id;
        u.next_id += 1;
        u.holders[slot] = Some((id, holder.clone()));
        u.live += 1;
        // INVARIANT: counted in `users` and `live`, the region requested.
        Ok(ClaimedBar {
            binding: self.clone(),
            id,
            index: index as u8,
            start,
            size,
        })
    }

    /// The end of use `id` of BAR `index`.
    fn leave(&self, id: u64, index: u8) {
        let holder = {
            let mut u = self.uses.lock();
            let holder = u
                .holders
                .iter_mut()
                .find(|h| h.as_ref().is_some_and(|(i, _)| *i == id))
                .and_then(Option::take);
            let b = &mut u.bars[usize::from(index)];
            b.users -= 1;
            if b.users == 0 {
                // SAFETY: requested by the first of the BAR's uses, which
                // all ended now (type invariant).
                unsafe { pte_attrs_pci_release_region(b.start, b.size) };
            }
            u.live -= 1;
            if u.live == 0 {
                self.idle.notify_all();
            }
            holder
        };
        // The holder's reference goes with no lock held.
        drop(holder);
    }

    /// The removal: no new use, every holder told, then wait until every
    /// use has ended (their regions are released by then).
    fn remove(&self) {
        let name = cstr_field(&self.name);
        let holders = {
            let mut u = self.uses.lock();
            u.removing = true;
            self.removing.store(true, Ordering::Relaxed);
            core::mem::take(&mut u.holders)
        };
        let told = holders.iter().flatten().count();
        if told > 0 {
            pr_info!("{name}: removed: ending {told} use(s) of its BARs\n");
        }
        for (_, h) in holders.iter().flatten() {
            h.removed(&self.name);
        }
        drop(holders);
        let mut u = self.uses.lock();
        while u.live > 0 {
            self.idle.wait(&mut u);
        }
        drop(u);
        pr_info!("{name}: unbound from pte_attrs\n");
    }
}

/// The driver data of a bound device: what the device lock guards and the
/// glue hands to `take_use`.
pub(crate) struct Bound {
    binding: Arc<Binding>,
    /// The device, enabled by probe and disabled again on drop (7.x; 6.12's
    /// glue does both).
    #[cfg(kernel_7)]
    _enabled: upstream::Enabled,
}

/// A use of a memory BAR of a device bound to the driver: its region is
/// requested as `pte_attrs` while any use of the BAR lives, and the
/// device's removal waits until this value is dropped.
///
/// # Invariants
///
/// This value is counted in `binding`'s uses of BAR `index`, whose region
/// `start`, `size` is requested; `id` names its holder there. The BAR
/// passed the checks of `pci_glue.c` (memory, assigned, enabled,
/// prefetchable, memory decoding on) when the use was taken.
pub(crate) struct ClaimedBar {
    binding: Arc<Binding>,
    id: u64,
    index: u8,
    start: u64,
    size: u64,
}

/// What `take_use` works with: the holder to record, the use it took.
struct TakeCtx {
    holder: Arc<dyn OnRemove>,
    out: Option<ClaimedBar>,
}

/// Called by `pte_attrs_pci_find_bound()` under the device lock of a
/// device bound to the driver, with its driver data.
///
/// # Safety
///
/// `drvdata` is the driver data of a device bound to this driver, whose
/// device lock is held; `ctx` is the `TakeCtx` of the running
/// [`ClaimedBar::claim`].
unsafe extern "C" fn take_use(
    drvdata: *mut c_void,
    bar: c_int,
    start: u64,
    size: u64,
    ctx: *mut c_void,
) -> c_int {
    if drvdata.is_null() || ctx.is_null() {
        return BarRefusal::Unknown as c_int;
    }
    // SAFETY: `ctx` is the `TakeCtx` of `ClaimedBar::claim`, which is
    // borrowed by nothing else while the glue runs.
    let ctx = unsafe { &mut *ctx.cast::<TakeCtx>() };
    // The driver data is the `Bound` that probe made (7.x: the adapter's
    // `Pin<KBox<Bound>>`; 6.12: `bind()`'s `KBox<Bound>`).
    // SAFETY: the device is bound to this driver, its device lock held; the
    // data is freed only after a removal, which runs under that lock.
    let bound = unsafe { &*drvdata.cast::<Bound>() };
    match bound.binding.take(bar, start, size, &ctx.holder) {
        Ok(c) => {
            // A second candidate's use is never taken: the glue stops at
            // the first success.
            ctx.out = Some(c);
            0
        }
        Err(why) => why as c_int,
    }
}

impl ClaimedBar {
    /// Takes a use of BAR `index` of the device named `dev` (NUL-padded;
    /// empty: the first display device bound to pte_attrs, other than a 3D
    /// controller, whose BAR `index` qualifies) for `holder`, which is told
    /// if the device is removed while the use lives. Takes the device
    /// lock: call it with no lock held that [`OnRemove::removed`] takes.
    pub(crate) fn claim(
        dev: &[u8; 32],
        index: u8,
        holder: Arc<dyn OnRemove>,
    ) -> Result<ClaimedBar, BarRefusal> {
        let mut want = *dev;
        // Always NUL-terminated for C.
        want[want.len() - 1] = 0;
        let mut ctx = TakeCtx { holder, out: None };
        // SAFETY: `want` is NUL-terminated; `ctx` lives across the call and
        // `take_use` is the callback it is for.
        let r = unsafe {
            pte_attrs_pci_find_bound(
                want.as_ptr().cast(),
                c_int::from(index),
                take_use,
                core::ptr::from_mut(&mut ctx).cast(),
            )
        };
        match (r, ctx.out) {
            (0, Some(c)) => Ok(c),
            (0, None) => Err(BarRefusal::Unknown),
            (r, _) => Err(BarRefusal::from_c(r)),
        }
    }

    /// The device's name, NUL-padded.
    pub(crate) fn dev(&self) -> &[u8; 32] {
        &self.binding.name
    }

    /// The BAR's physical start.
    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    /// The BAR's length in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Whether the device's removal has begun: the holder must drop this
    /// value soon (the removal waits for it).
    pub(crate) fn revoked(&self) -> bool {
        self.binding.removing.load(Ordering::Relaxed)
    }
}

impl Drop for ClaimedBar {
    fn drop(&mut self) {
        self.binding.leave(self.id, self.index);
    }
}

/// The driver, registered while this value lives; dropping it unbinds
/// every device (each removal waits for the uses of its BARs).
pub(crate) struct Driver {
    #[cfg(kernel_7)]
    _reg: Pin<KBox<kernel::driver::Registration<kernel::pci::Adapter<upstream::PteAttrsPci>>>>,
    #[cfg(not(kernel_7))]
    _registered: (),
}

impl Driver {
    /// Registers the driver `pte_attrs` of `module`: devices whose
    /// `driver_override` names it are bound at once.
    #[cfg(kernel_7)]
    pub(crate) fn register(module: &'static ThisModule) -> Result<Driver> {
        let reg = KBox::pin_init(
            kernel::driver::Registration::new(kernel::c_str!("pte_attrs"), module),
            GFP_KERNEL,
        )?;
        Ok(Driver { _reg: reg })
    }

    /// Registers the driver `pte_attrs` (the glue's `THIS_MODULE` is
    /// `module`): devices whose `driver_override` names it are bound at
    /// once.
    #[cfg(not(kernel_7))]
    pub(crate) fn register(module: &'static ThisModule) -> Result<Driver> {
        let _ = module;
        // A second registration of the glue's one driver fails (-EBUSY)
        // without touching the first.
        // SAFETY: `bind` and `unbind` are what the glue's probe and remove
        // call; the driver is unregistered in `Drop`.
        kernel::error::to_result(unsafe { pte_attrs_pci_register(bind, unbind) })?;
        Ok(Driver { _registered: () })
    }
}

#[cfg(not(kernel_7))]
impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: registered by `register` (this value exists).
        unsafe { pte_attrs_pci_unregister() };
    }
}

/// 6.12: the glue's probe, after `pci_enable_device_mem()`: the driver
/// data of the new binding, or null (the glue then fails the probe).
///
/// # Safety
///
/// `name` is a NUL-terminated string, live for the call.
#[cfg(not(kernel_7))]
unsafe extern "C" fn bind(
    _pdev: *mut kernel::bindings::pci_dev,
    name: *const c_char,
) -> *mut c_void {
    // SAFETY: the glue passes `pci_name()`, NUL-terminated and live for
    // the call.
    let name = unsafe { kernel::str::CStr::from_char_ptr(name) };
    let bound = Binding::new(name.as_bytes())
        .and_then(|binding| KBox::new(Bound { binding }, GFP_KERNEL).map_err(|_| ENOMEM));
    match bound {
        Ok(b) => {
            pr_info!("{}: bound to pte_attrs\n", cstr_field(&b.binding.name));
            KBox::into_raw(b).cast()
        }
        Err(_) => core::ptr::null_mut(),
    }
}

/// 6.12: the glue's remove: every use ends, then the driver data goes.
///
/// # Safety
///
/// `data` is what `bind` returned for a device, given back once, by its
/// removal.
#[cfg(not(kernel_7))]
unsafe extern "C" fn unbind(data: *mut c_void) {
    if data.is_null() {
        return;
    }
    // SAFETY: `data` is what `bind` returned for this device, given back
    // once, by its removal.
    let bound = unsafe { KBox::from_raw(data.cast::<Bound>()) };
    bound.binding.remove();
}

/// 7.x: the driver on upstream's `kernel::pci`.
#[cfg(kernel_7)]
mod upstream {
    use kernel::device::Core;
    use kernel::device_id::IdArray;
    use kernel::pci;
    use kernel::prelude::*;
    use kernel::sync::aref::ARef;

    use super::{Binding, Bound};
    use crate::pure::parse::cstr_field;

    /// The driver.
    pub(crate) struct PteAttrsPci;

    /// No ID: the driver binds only devices handed to it through
    /// `driver_override` (see the module's doc).
    static IDS: IdArray<pci::DeviceId, (), 0> = IdArray::new([]);

    /// A device enabled by probe (`pci_enable_device_mem()`), disabled
    /// again on drop.
    ///
    /// # Invariants
    ///
    /// `0` was enabled once by this value's probe, which this value undoes
    /// once.
    pub(crate) struct Enabled(ARef<pci::Device>);

    impl Drop for Enabled {
        fn drop(&mut self) {
            // `pci::Device` is a transparent wrapper of `struct pci_dev`.
            let pdev = core::ptr::from_ref::<pci::Device>(&self.0)
                .cast::<kernel::bindings::pci_dev>()
                .cast_mut();
            // SAFETY: the `ARef` keeps the device alive; it was enabled by
            // probe (type invariant). Upstream has no `disable_device()`.
            unsafe { kernel::bindings::pci_disable_device(pdev) };
        }
    }

    impl pci::Driver for PteAttrsPci {
        type IdInfo = ();
        type Data<'bound> = Bound;
        const ID_TABLE: pci::IdTable<Self::IdInfo> = &IDS;

        fn probe<'bound>(
            pdev: &'bound pci::Device<Core<'_>>,
            _info: Option<&'bound Self::IdInfo>,
        ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
            pdev.enable_device_mem()?;
            // INVARIANT: enabled just above; from here a failure drops it.
            let enabled = Enabled(pdev.into());
            let binding = Binding::new(pdev.as_ref().name().to_bytes())?;
            pr_info!("{}: bound to pte_attrs\n", cstr_field(&binding.name));
            Ok(Bound {
                binding,
                _enabled: enabled,
            })
        }

        fn unbind<'bound>(_pdev: &'bound pci::Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
            this.binding.remove();
        }
    }
}
