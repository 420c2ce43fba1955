// SPDX-License-Identifier: GPL-2.0

//! `gem_mmap`: GEM objects that user space maps, as TTM maps buffer
//! objects, evicted under live mappings.
//!
//! The device `/dev/pte_attrs` (root only) creates objects with an ioctl
//! (`include/pte_attrs_gem.h`): pages bound WC or UC-, each object at its
//! own offset of the device file. `mmap(MAP_SHARED)` at that offset gives a
//! PFN map that the fault handler fills page by page with the object's
//! caching. What happens to a mapping when its object changes:
//!
//! - **evict** (`PTE_ATTRS_GEM_EVICT`): the object's range is zapped in
//!   every process first, then its pages are made WB, checked and freed.
//!   The object stays; the next access to a mapping of it *refaults*: the
//!   fault handler allocates and binds new pages (checked again) and maps
//!   them, as TTM moves an evicted object back on fault.
//! - **destroy** (`PTE_ATTRS_GEM_DESTROY`, or closing the file): zapped and
//!   freed the same way, and the object is gone: a later access to a
//!   mapping of it gets `SIGBUS`.
//!
//! A refault that cannot get its pages (out of memory: the allocation is
//! `__GFP_NORETRY`; or a CPA error) is answered with `SIGBUS`, as TTM
//! answers a failed populate, and counted in `refault_failed`, apart from
//! the `sigbus` of destroyed objects. `VM_FAULT_OOM` would not do: for
//! an allocation that never retries hard the OOM killer does not run,
//! `pagefault_out_of_memory()` only logs "VM_FAULT_OOM leaked out" and the
//! fault is retried, forever while memory stays short.
//!
//! So no user PTE ever maps a page the module freed: pages are zapped
//! before they change or go, and a fault inserts only pages of a live
//! object, under the same lock that eviction holds.
//!
//! Pages are allocated, zeroed, bound and checked (a population: at most
//! [`gem::MAX_PAGES`] pages, 4 MiB) with the table unlocked, so that
//! other faults and the ioctls go on meanwhile: a create before its object
//! is in the table, a refault under `refill`, which lets one population
//! run at a time (a fault waits for at most the populations queued ahead
//! of it, each bounded) and makes the others find the object populated.
//!
//! Lock order: the mmap lock (or VMA lock) of a faulting process, then
//! `refill`, then the table's mutex, then what CPA and
//! `unmap_mapping_range()` take. The mutex is never held while user memory
//! is touched (a copy to user space could fault on a mapping of this very
//! device).

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::error::{code::*, Result};
use kernel::ioctl::{_IOC_DIR, _IOC_NR, _IOC_SIZE, _IOC_TYPE};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use crate::pure::attrs::CacheMode;
use crate::pure::gem::{self, Create, Insert, MmapRefusal, Stats};
use crate::pure::parse::cstr_field;
use crate::sys::gem_bar::BarPaths;
use crate::sys::gem_pages::{Checked, ObjPages, Released};
use crate::sys::log::{pr_err_rl, pr_info_rl};
use crate::sys::mem::{self, user_slice};
use crate::sys::miscdev::{
    self, Fault, FaultResult, FileKey, MapFile, MiscFile, MmapRequest, OpenFile, Privileged,
};
use crate::sys::pci::{ClaimedBar, OnRemove};
use crate::sys::time::now_ns;

/// One object.
struct Object {
    handle: u64,
    /// The file that created it: the only one that may map or change it.
    owner: FileKey,
    pages: u64,
    mode: CacheMode,
    /// How the fault handler inserts its pages (the selftests' flags).
    insert: Insert,
    /// Where its mappings live (the owner's address space).
    map: MapFile,
    /// Its pages; `None` once evicted, until a fault re-populates it.
    backing: Option<ObjPages>,
}

struct Table {
    /// Slots of objects; a destroyed object's slot is `None` until reused.
    objects: KVec<Option<Object>>,
    /// The next handle (handles start at 1 and are never reused).
    next: u64,
    /// Pages of all objects (evicted ones included: they come back).
    total: u64,
    stats: Stats,
}

impl Table {
    fn find(&self, handle: u64, owner: FileKey) -> Option<usize> {
        self.objects.iter().position(|o| {
            o.as_ref()
                .is_some_and(|o| o.handle == handle && o.owner == owner)
        })
    }

    /// Object `i` (a slot [`Table::find`] returned).
    fn obj(&self, i: usize) -> Result<&Object> {
        self.objects.get(i).and_then(Option::as_ref).ok_or(ENOENT)
    }

    fn obj_mut(&mut self, i: usize) -> Result<&mut Object> {
        self.objects
            .get_mut(i)
            .and_then(Option::as_mut)
            .ok_or(ENOENT)
    }

    fn count_check(&mut self, c: Checked) {
        self.stats.pages_checked += c.pages;
        self.stats.pages_wrong += c.wrong;
        if c.wrong > 0 {
            pr_err_rl!(
                "gem: {} of {} page(s) not in the expected cache mode (see the device's stats)\n",
                c.wrong,
                c.pages
            );
        }
    }

    fn count_release(&mut self, r: Released) {
        self.stats.zaps += r.zaps;
        let s = &mut self.stats;
        gem::add_ns(&mut s.zap_ns, &mut s.zap_ns_max, r.zap_ns);
        self.stats.pages_leaked += r.leaked;
        self.count_check(r.checked);
    }

    /// Counts a population (pages allocated, bound and checked) that took
    /// `ns`.
    fn count_population(&mut self, ns: u64, checked: Checked) {
        let s = &mut self.stats;
        gem::add_ns(&mut s.populate_ns, &mut s.populate_ns_max, ns);
        self.stats.populations += 1;
        self.count_check(checked);
    }

    /// Zaps, unbinds and frees object `i`'s pages, if it has any.
    fn evict(&mut self, i: usize) {
        if let Some(p) = self.obj_mut(i).ok().and_then(|o| o.backing.take()) {
            let t0 = now_ns();
            let r = p.evict();
            let s = &mut self.stats;
            gem::add_ns(&mut s.evict_ns, &mut s.evict_ns_max, now_ns() - t0);
            self.stats.evictions += 1;
            self.count_release(r);
        }
    }

    /// A fault at page `idx` of object `handle` of `file`: `Ok` with the
    /// answer (the page inserted, or `SIGBUS` for an object destroyed under
    /// a live mapping), or `Err` with what a population of the evicted
    /// object needs.
    fn try_fault(
        &mut self,
        file: FileKey,
        handle: u64,
        idx: u64,
        f: &mut Fault<'_>,
    ) -> core::result::Result<FaultResult, Refill> {
        let Some(o) = self.find(handle, file).and_then(|i| self.obj(i).ok()) else {
            // Destroyed under a live mapping: the designed SIGBUS.
            self.stats.sigbus += 1;
            return Ok(FaultResult::SIGBUS);
        };
        let Some(p) = o.backing.as_ref() else {
            let (start, len) = gem::zap_range(o.handle, o.pages);
            return Err(Refill {
                pages: o.pages,
                mode: o.mode,
                map: o.map.clone_ref(),
                start,
                len,
            });
        };
        let r = if (idx as usize) < p.len() {
            p.insert(f, idx as usize, o.insert.mode(o.mode), o.insert.raw_pte)
        } else {
            FaultResult::SIGBUS
        };
        if r.inserted() {
            self.stats.faults += 1;
        } else if r == FaultResult::SIGBUS {
            self.stats.sigbus += 1;
        }
        Ok(r)
    }

    /// Gives object `handle` of `file` the `pages` populated for it while
    /// the table was unlocked, if it is still there and still evicted;
    /// otherwise gives them back (nothing maps them: they were never
    /// inserted).
    fn install(&mut self, file: FileKey, handle: u64, pages: ObjPages) {
        let slot = self
            .find(handle, file)
            .and_then(|i| self.objects.get_mut(i))
            .and_then(Option::as_mut)
            .filter(|o| o.backing.is_none());
        match slot {
            Some(o) => {
                o.backing = Some(pages);
                self.stats.refaults += 1;
            }
            None => {
                let r = pages.evict();
                self.count_release(r);
            }
        }
    }

    /// Removes object `i`, zapping and freeing its pages.
    fn destroy(&mut self, i: usize) {
        self.evict(i);
        if let Some(o) = self.objects.get_mut(i).and_then(Option::take) {
            self.total -= o.pages;
            self.stats.destroyed += 1;
            self.stats.live -= 1;
        }
    }
}

/// What re-populating an evicted object takes, read under the table lock
/// and used without it.
struct Refill {
    pages: u64,
    mode: CacheMode,
    map: MapFile,
    start: u64,
    len: u64,
}

/// The state behind `/dev/pte_attrs`.
#[pin_data]
pub(crate) struct GemState {
    #[pin]
    table: Mutex<Table>,
    /// Held by the one refault that populates an evicted object, with the
    /// table unlocked (taken before `table`).
    #[pin]
    refill: Mutex<()>,
    /// The DRM BAR paths held for inspection, and the file that holds
    /// them (at most one at a time). Apart from `table`: setting them up
    /// checks thousands of pages, and faults must not wait for that. Not
    /// held while a BAR is claimed or set up: the device's removal takes
    /// it ([`OnRemove`]) under the device lock that a claim takes.
    #[pin]
    bar: Mutex<Option<(FileKey, BarPaths)>>,
}

/// The device's counters, readable while the device lives and after.
pub(crate) struct GemStats {
    state: Arc<GemState>,
}

impl GemStats {
    /// The counters now.
    pub(crate) fn get(&self) -> Stats {
        self.state.table.lock().stats
    }
}

/// The device: what [`crate::sys::miscdev::Registration`] calls.
pub(crate) struct GemDevice {
    state: Arc<GemState>,
}

impl GemDevice {
    /// A device with no object.
    pub(crate) fn new() -> Result<GemDevice> {
        let state = Arc::pin_init(
            pin_init!(GemState {
                table <- new_mutex!(
                    Table {
                        objects: KVec::new(),
                        next: 1,
                        total: 0,
                        stats: Stats::default(),
                    },
                    "pte_attrs::gem"
                ),
                refill <- new_mutex!((), "pte_attrs::gem_refill"),
                bar <- new_mutex!(None, "pte_attrs::gem_bar"),
            }),
            GFP_KERNEL,
        )?;
        Ok(GemDevice { state })
    }

    /// The counters now.
    pub(crate) fn stats(&self) -> Stats {
        self.state.table.lock().stats
    }

    /// A reader of the counters that shares the device's state (for the
    /// `gem` debugfs file).
    pub(crate) fn stats_view(&self) -> GemStats {
        GemStats {
            state: self.state.clone(),
        }
    }

    fn create(&self, file: &OpenFile<'_>, arg: usize) -> Result<isize> {
        let (mut r, mut w) = user_slice(arg, gem::CREATE_SIZE).reader_writer();
        let mut b = [0u8; gem::CREATE_SIZE];
        r.read_slice(&mut b)?;
        let req = Create::decode(&b).map_err(|_| {
            pr_err_rl!(
                "gem: create: pages must be 1..=1024, caching WC (1) or UC- (2), flags 0 (or the tests' 1, 2, 3)\n"
            );
            EINVAL
        })?;
        if req.insert.is_test() {
            miscdev::require(Privileged::TestInsert)?;
            if req.insert.makes_alias() && !mem::alias_allowed() {
                pr_err_rl!(
                    "gem: create: a raw WB insert over WC/UC- pages is an alias: load with allow_alias=1 (test VMs only)\n"
                );
                return Err(EPERM);
            }
        }
        let map = file.map_file()?;
        // The handle and the pages are reserved first; the pages are
        // populated with the table unlocked (the object is not in it yet).
        let handle = {
            let mut t = self.state.table.lock();
            if t.total + req.pages > gem::MAX_TOTAL || t.next > gem::MAX_HANDLE {
                pr_err_rl!("gem: create: the device holds its most pages (16384) already\n");
                return Err(ENOSPC);
            }
            let handle = t.next;
            t.next += 1;
            t.total += req.pages;
            handle
        };
        let (start, len) = gem::zap_range(handle, req.pages);
        let t0 = now_ns();
        let populated =
            ObjPages::populate(req.pages as usize, req.mode, map.clone_ref(), start, len);
        let ns = now_ns() - t0;
        let mut t = self.state.table.lock();
        let (pages, checked) = match populated {
            Ok(p) => p,
            Err(e) => {
                t.total -= req.pages;
                return Err(e);
            }
        };
        t.count_population(ns, checked);
        let o = Object {
            handle,
            owner: file.key(),
            pages: req.pages,
            mode: req.mode,
            insert: req.insert,
            map,
            backing: Some(pages),
        };
        match t.objects.iter().position(Option::is_none) {
            Some(i) => t.objects[i] = Some(o),
            None => {
                if let Err(e) = t.objects.push(Some(o), GFP_KERNEL) {
                    // The object (and its pages, never mapped) goes.
                    t.total -= req.pages;
                    return Err(e.into());
                }
            }
        }
        t.stats.created += 1;
        t.stats.live += 1;
        drop(t);
        Create::answer(&mut b, handle);
        w.write_slice(&b)?;
        Ok(0)
    }

    fn with_handle(
        &self,
        file: &OpenFile<'_>,
        arg: usize,
        act: fn(&mut Table, usize),
    ) -> Result<isize> {
        let mut b = [0u8; gem::HANDLE_SIZE];
        user_slice(arg, gem::HANDLE_SIZE)
            .reader()
            .read_slice(&mut b)?;
        let handle = gem::decode_handle(&b);
        let mut t = self.state.table.lock();
        let i = t.find(handle, file.key()).ok_or(ENOENT)?;
        act(&mut t, i);
        Ok(0)
    }

    fn pfns(&self, file: &OpenFile<'_>, arg: usize) -> Result<isize> {
        miscdev::require(Privileged::Frames)?;
        let (mut r, mut w) = user_slice(arg, gem::PFNS_SIZE).reader_writer();
        let mut b = [0u8; gem::PFNS_SIZE];
        r.read_slice(&mut b)?;
        let (handle, room, ptr) = gem::decode_pfns(&b);
        let mut out = KVec::new();
        let pages = {
            let t = self.state.table.lock();
            let o = t.obj(t.find(handle, file.key()).ok_or(ENOENT)?)?;
            let n = room.min(o.pages) as usize;
            out.reserve(n * 8, GFP_KERNEL)?;
            for i in 0..n {
                let pfn = o.backing.as_ref().and_then(|p| p.pfn(i)).unwrap_or(0);
                out.extend_from_slice(&pfn.to_ne_bytes(), GFP_KERNEL)?;
            }
            o.pages
        };
        user_slice(ptr as usize, out.len())
            .writer()
            .write_slice(&out)?;
        gem::answer_pfns(&mut b, pages);
        w.write_slice(&b)?;
        Ok(0)
    }

    /// `PTE_ATTRS_GEM_BAR_HOLD`: takes a use of a BAR of a device bound to
    /// pte_attrs, sets up the DRM paths on it (checked page by page, a
    /// sample on a huge BAR), and holds them until released, or until the
    /// device is removed.
    fn bar_hold(&self, file: &OpenFile<'_>, arg: usize) -> Result<isize> {
        miscdev::require(Privileged::Bar)?;
        let (mut r, mut w) = user_slice(arg, gem::BAR_SIZE).reader_writer();
        let mut b = [0u8; gem::BAR_SIZE];
        r.read_slice(&mut b)?;
        let (dev, index) = gem::decode_bar(&b);
        let busy = || {
            pr_err_rl!("gem: bar: the BAR paths are held already\n");
            EBUSY
        };
        if self.state.bar.lock().is_some() {
            return Err(busy());
        }
        let index = u8::try_from(index).map_err(|_| EINVAL)?;
        // Neither claimed nor set up under `bar` (see `GemState::bar`).
        let bar = ClaimedBar::claim(&dev, index, self.state.clone()).map_err(|why| {
            let (err, reason) = why.errno();
            pr_err_rl!("gem: bar: no BAR claimed: {}\n", reason);
            err
        })?;
        let (paths, report) = BarPaths::setup(bar).inspect_err(|e| {
            pr_err_rl!("gem: bar: setting up the DRM paths failed ({:?})\n", e);
        })?;
        b[0..32].copy_from_slice(&paths.dev());
        let mut held = self.state.bar.lock();
        if held.is_some() {
            drop(held);
            drop(paths);
            return Err(busy());
        }
        // A removal that began before this lock found nothing to undo.
        if paths.revoked() {
            drop(held);
            drop(paths);
            pr_err_rl!("gem: bar: the device is being removed\n");
            return Err(ENODEV);
        }
        *held = Some((file.key(), paths));
        drop(held);
        report.encode_into(&mut b);
        w.write_slice(&b)?;
        Ok(0)
    }

    /// `PTE_ATTRS_GEM_BAR_RELEASE`: undoes the paths this file holds.
    fn bar_release(&self, file: FileKey) -> Result<isize> {
        let mut held = self.state.bar.lock();
        match held.as_ref() {
            Some((k, _)) if *k == file => {
                // Undone in reverse order, the BAR given back.
                *held = None;
                Ok(0)
            }
            _ => Err(ENOENT),
        }
    }

    /// [`MiscFile::fault`] at page `idx` of object `handle` of `file`.
    fn fault_at(&self, file: FileKey, handle: u64, idx: u64, f: &mut Fault<'_>) -> FaultResult {
        if let Ok(r) = self.state.table.lock().try_fault(file, handle, idx, f) {
            return r;
        }
        // Evicted: back with new pages, as TTM moves an object back. One
        // population at a time; the one before may have been this object's.
        let _refill = self.state.refill.lock();
        let need = match self.state.table.lock().try_fault(file, handle, idx, f) {
            Ok(r) => return r,
            Err(need) => need,
        };
        let t0 = now_ns();
        let populated = ObjPages::populate(
            need.pages as usize,
            need.mode,
            need.map,
            need.start,
            need.len,
        );
        let ns = now_ns() - t0;
        let mut t = self.state.table.lock();
        match populated {
            Ok((pages, checked)) => {
                t.count_population(ns, checked);
                t.install(file, handle, pages);
            }
            Err(e) => {
                t.stats.refault_failed += 1;
                drop(t);
                pr_err_rl!(
                    "gem: a refault could not re-populate an object (errno {}): SIGBUS\n",
                    e.to_errno()
                );
                return FaultResult::SIGBUS;
            }
        }
        // The new pages, or SIGBUS if the object went meanwhile.
        t.try_fault(file, handle, idx, f)
            .unwrap_or(FaultResult::SIGBUS)
    }

    /// The counters' first `size` bytes (a [`gem::stats_size_ok`] size).
    fn write_stats(&self, arg: usize, size: usize) -> Result<isize> {
        let b = self.stats().encode();
        let b = b.get(..size).ok_or(EINVAL)?;
        user_slice(arg, b.len()).writer().write_slice(b)?;
        Ok(0)
    }
}

const fn cmd(nr: u32, size: usize, dir: u32) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (gem::IOC_MAGIC << 8) | nr
}

/// `_IOC_WRITE`, `_IOC_READ`.
const W: u32 = 1;
const R: u32 = 2;

impl MiscFile for GemDevice {
    fn ioctl(&self, file: &OpenFile<'_>, c: u32, arg: usize) -> Result<isize> {
        if _IOC_TYPE(c) != gem::IOC_MAGIC {
            return Err(ENOTTY);
        }
        match _IOC_NR(c) {
            gem::NR_CREATE if c == cmd(gem::NR_CREATE, gem::CREATE_SIZE, R | W) => {
                self.create(file, arg)
            }
            gem::NR_EVICT if c == cmd(gem::NR_EVICT, gem::HANDLE_SIZE, W) => {
                self.with_handle(file, arg, Table::evict)
            }
            gem::NR_DESTROY if c == cmd(gem::NR_DESTROY, gem::HANDLE_SIZE, W) => {
                self.with_handle(file, arg, Table::destroy)
            }
            gem::NR_PFNS if c == cmd(gem::NR_PFNS, gem::PFNS_SIZE, R | W) => self.pfns(file, arg),
            // Any size up to the whole struct: older headers had fewer counters.
            gem::NR_STATS if _IOC_DIR(c) == R && gem::stats_size_ok(_IOC_SIZE(c)) => {
                self.write_stats(arg, _IOC_SIZE(c))
            }
            gem::NR_BAR_HOLD if c == cmd(gem::NR_BAR_HOLD, gem::BAR_SIZE, R | W) => {
                self.bar_hold(file, arg)
            }
            gem::NR_BAR_RELEASE if c == cmd(gem::NR_BAR_RELEASE, 0, 0) => {
                self.bar_release(file.key())
            }
            _ => Err(ENOTTY),
        }
    }

    fn mmap(&self, file: FileKey, req: MmapRequest) -> Result {
        let (handle, first) = gem::locate(req.pgoff);
        let mut t = self.state.table.lock();
        let verdict = if !req.shared {
            Err(MmapRefusal::Private)
        } else {
            match t.find(handle, file) {
                Some(i) => gem::check_span(first, req.pages, t.obj(i).map_or(0, |o| o.pages)),
                // Another file's object is none of this file's business.
                None if t.objects.iter().flatten().any(|o| o.handle == handle) => {
                    Err(MmapRefusal::NoObject)
                }
                None if handle > 0 && handle < t.next => Err(MmapRefusal::Gone),
                None => Err(MmapRefusal::NoObject),
            }
        };
        match verdict {
            Ok(()) => {
                t.stats.mmaps += 1;
                Ok(())
            }
            Err(why) => {
                t.stats.mmap_refused += 1;
                drop(t);
                pr_err_rl!("gem: {}\n", why.why());
                Err(match why {
                    MmapRefusal::Private | MmapRefusal::TooLarge => EINVAL,
                    MmapRefusal::NoObject => ENXIO,
                    MmapRefusal::Gone => ENOENT,
                })
            }
        }
    }

    fn fault(&self, file: FileKey, pgoff: u64, f: &mut Fault<'_>) -> FaultResult {
        let t0 = now_ns();
        let (handle, idx) = gem::locate(pgoff);
        let r = self.fault_at(file, handle, idx, f);
        let mut t = self.state.table.lock();
        let s = &mut t.stats;
        gem::add_ns(&mut s.fault_ns, &mut s.fault_ns_max, now_ns() - t0);
        r
    }

    fn release(&self, file: FileKey) {
        // The BAR paths it holds, if any.
        let _ = self.bar_release(file);
        let mut t = self.state.table.lock();
        while let Some(i) = t
            .objects
            .iter()
            .position(|o| o.as_ref().is_some_and(|o| o.owner == file))
        {
            t.destroy(i);
        }
    }
}

/// The removal of a device undoes the BAR paths held on it: the holder's
/// next `PTE_ATTRS_GEM_BAR_RELEASE` gets `ENOENT`.
impl OnRemove for GemState {
    fn removed(&self, dev: &[u8; 32]) {
        let mut held = self.bar.lock();
        if held.as_ref().is_some_and(|(_, p)| p.dev() == *dev) {
            let paths = held.take();
            drop(held);
            // Undone in reverse order, the use of the BAR ended.
            drop(paths);
            pr_info_rl!(
                "gem: bar: {} is being removed: the BAR paths held on it are undone\n",
                cstr_field(dev)
            );
        }
    }
}

impl Drop for GemDevice {
    fn drop(&mut self) {
        let s = self.stats();
        pr_info_rl!(
            "gem: created={} destroyed={} faults={} refaults={} refault_failed={} sigbus={} zaps={} evictions={} pages_wrong={} pages_leaked={}\n",
            s.created,
            s.destroyed,
            s.faults,
            s.refaults,
            s.refault_failed,
            s.sigbus,
            s.zaps,
            s.evictions,
            s.pages_wrong,
            s.pages_leaked
        );
    }
}
