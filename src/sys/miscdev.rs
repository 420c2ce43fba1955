// SPDX-License-Identifier: GPL-2.0

//! A root-only misc device that user space can map, as a GEM driver's
//! device node is: `ioctl`, `mmap` of PFN maps filled on fault, `release`.
//!
//! 6.12's kernel crate has no miscdevice abstraction, so this is a small
//! one, shaped like the 6.13 `kernel::miscdevice` (a registration that owns
//! the device and a vtable built from a trait), plus what a GEM device
//! needs on top: a [`MapFile`] handle to zap mappings with, and a
//! [`Fault`] into which `gem_pages::ObjPages` inserts a page.
//! The C side (`src/gem_glue.c`) holds `struct miscdevice`, which bindgen
//! was not asked for, and the mm headers' static inlines.
//!
//! Why not 7.x's `kernel::miscdevice` (checked in 7.3.4), on the kernel
//! that has it: its `mmap` hands the driver a `VmaNew`, which can set
//! `VM_IO`/`VM_DONTEXPAND`/`VM_DONTDUMP` or turn the VMA into a mixed map
//! for `vm_insert_page`, but has no way to make it `VM_PFNMAP`, set its
//! `vm_page_prot` or install `vm_operations_struct` with a fault handler;
//! and `kernel::mm` has no `vmf_insert_pfn_prot`. A GEM-style device maps
//! its objects WC or UC- on fault, refaults after eviction and answers a
//! destroyed object with SIGBUS: all of that is outside what the upstream
//! trait reaches, and reaching past it (`VmaRef::as_ptr` into our glue)
//! would leave two registrations to keep sound instead of one. Its
//! per-open `Ptr` would also replace the device-wide state every fault
//! finds through the file. So the registration stays ours on both kernels,
//! with the same shape (a vtable built from a trait, `owner` set).
//!
//! Lifetimes. The file operations carry the module as `owner`, so an open
//! file (and every mapping: a VMA holds its file) pins the module: while
//! `/dev/pte_attrs` is open or mapped, `rmmod` is refused, and the
//! [`Registration`] (dropped only at unload) outlives every callback.

use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use kernel::alloc::{flags::GFP_KERNEL, KBox};
use kernel::bindings;
use kernel::error::{code::*, Error, Result};
use kernel::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void};
use kernel::str::CStr;
// 7.x's `CStr` is `core::ffi::CStr`, with `as_char_ptr` from this trait.
#[cfg(kernel_7)]
use kernel::str::CStrExt as _;
use kernel::ThisModule;

use crate::pure::attrs::CacheMode;

/// Opaque `struct pte_attrs_gem_misc` of gem_glue.c.
#[repr(C)]
struct GlueMisc {
    _p: [u8; 0],
}

// `compat_ptr_ioctl()` (fs/ioctl.c, exported with CONFIG_COMPAT), declared
// here with the exact type of `file_operations.compat_ioctl`: bindgen's
// view of it differs between configs (an `Option` static on some).
#[cfg(CONFIG_COMPAT)]
#[allow(improper_ctypes)]
extern "C" {
    fn compat_ptr_ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long;
}

// Kernel structs are opaque (`c_void`) in these prototypes: bindgen's
// versions of them hold zero-sized fields that `improper_ctypes` rejects.
extern "C" {
    fn pte_attrs_gem_misc_register(
        name: *const c_char,
        fops: *const c_void,
        data: *mut c_void,
    ) -> *mut GlueMisc;
    fn pte_attrs_gem_misc_deregister(m: *mut GlueMisc);
    fn pte_attrs_gem_file_data(file: *mut c_void) -> *mut c_void;
    fn pte_attrs_gem_mapping_get(file: *mut c_void) -> *mut c_void;
    fn pte_attrs_gem_mapping_put(mapping: *mut c_void);
    fn pte_attrs_gem_vma_info(
        vma: *mut c_void,
        pgoff: *mut c_ulong,
        pages: *mut c_ulong,
        shared: *mut bool,
        file: *mut *mut c_void,
    );
    fn pte_attrs_gem_vma_set_pfnmap(vma: *mut c_void, ops: *const c_void);
    fn pte_attrs_gem_vmf_info(vmf: *mut c_void, pgoff: *mut c_ulong, file: *mut *mut c_void);
    fn pte_attrs_gem_insert_pfn(vmf: *mut c_void, pfn: c_ulong, mode: c_int, raw: bool) -> c_uint;
    fn pte_attrs_gem_privileged(what: c_int) -> c_int;
}

/// `VM_FAULT_SIGBUS`.
const VM_FAULT_SIGBUS: c_uint = 0x2;

/// What a privileged ioctl of the device hands out or takes
/// (`PTE_ATTRS_GEM_PRIV_*` of gem_glue.h).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Privileged {
    /// Physical frame numbers (`PTE_ATTRS_GEM_PFNS`).
    Frames = 1,
    /// A PCI BAR, claimed and mapped (`PTE_ATTRS_GEM_BAR_HOLD`).
    Bar = 2,
    /// The selftests' ways of inserting pages (`PTE_ATTRS_GEM_CREATE_TEST_*`).
    TestInsert = 3,
}

/// Whether the calling task may do `what`: `CAP_SYS_ADMIN` of its own
/// (the device file's 0600 mode says nothing about who holds an open file:
/// one can be passed to any process), and a kernel not locked down for it
/// (`security_locked_down()`: `LOCKDOWN_DEV_MEM` for frames and test
/// inserts, `LOCKDOWN_PCI_ACCESS` for a BAR). `EPERM` otherwise.
pub(crate) fn require(what: Privileged) -> Result {
    // SAFETY: reads the calling task's credentials and the lockdown state;
    // no preconditions.
    let r = unsafe { pte_attrs_gem_privileged(what as c_int) };
    if r == 0 {
        Ok(())
    } else {
        Err(Error::from_errno(r))
    }
}

/// Which open file a callback is about: its identity only, never
/// dereferenced (a key to find the objects the file owns).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileKey(usize);

/// An open file of the device, for the duration of one callback.
///
/// # Invariants
///
/// `file` is an open file of a [`Registration`]'s device, valid for `'a`.
pub(crate) struct OpenFile<'a> {
    file: *mut bindings::file,
    _life: PhantomData<&'a ()>,
}

impl OpenFile<'_> {
    /// The file's identity.
    pub(crate) fn key(&self) -> FileKey {
        FileKey(self.file as usize)
    }

    /// A handle on the address space this file's mappings live in, which
    /// outlives the file. `EINVAL` if the file has none (an open file
    /// always has one).
    pub(crate) fn map_file(&self) -> Result<MapFile> {
        // SAFETY: `file` is open (type invariant): its `f_mapping` and the
        // inode behind it are live; the glue takes an inode reference.
        let m = unsafe { pte_attrs_gem_mapping_get(self.file.cast()) };
        // INVARIANT: the glue returned the mapping with its inode held
        // (it returns NULL only for a file without one, holding nothing).
        Ok(MapFile {
            mapping: NonNull::new(m.cast()).ok_or(EINVAL)?,
        })
    }
}

/// The address space of the device file that user mappings of objects
/// live in, with a reference on its inode.
///
/// # Invariants
///
/// `mapping` is the `f_mapping` of a file of the device, whose inode holds
/// one reference (`ihold()`) owned by this value.
pub(crate) struct MapFile {
    mapping: NonNull<bindings::address_space>,
}

// SAFETY: the inode reference may be dropped from any thread, and
// `unmap_mapping_range()` may be called from any process context.
unsafe impl Send for MapFile {}
// SAFETY: `zap` takes `&self` and the kernel serializes it internally.
unsafe impl Sync for MapFile {}

impl MapFile {
    /// `unmap_mapping_range()` of the bytes `[start, start + len)` of the
    /// file, private copies included: every user PTE of that range, in
    /// every process, is gone when it returns. May sleep.
    pub(crate) fn zap(&self, start: u64, len: u64) {
        let (Ok(s), Ok(l)) = (i64::try_from(start), i64::try_from(len)) else {
            return;
        };
        // SAFETY: `mapping` is live (type invariant); the call takes the
        // mapping's `i_mmap` lock and the page-table locks itself.
        unsafe { bindings::unmap_mapping_range(self.mapping.as_ptr(), s, l, 1) };
    }

    /// Another handle on the same address space.
    pub(crate) fn clone_ref(&self) -> MapFile {
        // SAFETY: the inode is held by `self` (type invariant), so taking
        // one more reference is valid.
        unsafe { bindings::ihold((*self.mapping.as_ptr()).host) };
        // INVARIANT: one more reference taken for the new value.
        MapFile {
            mapping: self.mapping,
        }
    }
}

impl Drop for MapFile {
    fn drop(&mut self) {
        // SAFETY: this value owns one inode reference (type invariant).
        unsafe { pte_attrs_gem_mapping_put(self.mapping.as_ptr().cast()) };
    }
}

/// An mmap request, as the device sees it.
#[derive(Copy, Clone, Debug)]
pub(crate) struct MmapRequest {
    /// The file's page offset of the mapping's first page.
    pub(crate) pgoff: u64,
    /// Its length in pages.
    pub(crate) pages: u64,
    /// `MAP_SHARED` (a PFN map must not be copy-on-write).
    pub(crate) shared: bool,
}

/// The result of a fault, as the fault handler returns it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct FaultResult(c_uint);

impl FaultResult {
    /// `VM_FAULT_SIGBUS`: the access kills (or signals) the process. Also
    /// the answer to a failed re-population, as TTM answers a failed
    /// populate: `VM_FAULT_OOM` from a fault whose allocation never
    /// retries hard (`__GFP_NORETRY`) would not run the OOM killer, only
    /// retry the fault, forever if memory stays short.
    pub(crate) const SIGBUS: FaultResult = FaultResult(VM_FAULT_SIGBUS);

    /// Whether the page was inserted (`VM_FAULT_NOPAGE` alone).
    pub(crate) fn inserted(self) -> bool {
        self.0 == bindings::vm_fault_reason_VM_FAULT_NOPAGE
    }
}

/// A fault in a mapping of the device, for the duration of the handler.
///
/// # Invariants
///
/// `vmf` is the `struct vm_fault` of a fault in progress in a VMA that
/// [`Registration`]'s mmap set up (`VM_PFNMAP`, shared), valid for `'a`.
pub(crate) struct Fault<'a> {
    vmf: *mut bindings::vm_fault,
    _life: PhantomData<&'a ()>,
}

impl Fault<'_> {
    /// The fault in progress, for the type that owns the pages it may
    /// insert (`gem_pages`).
    pub(in crate::sys) fn vmf(&mut self) -> *mut bindings::vm_fault {
        self.vmf
    }
}

/// `pte_attrs_gem_insert_pfn()` of gem_glue.c: `vmf_insert_pfn_prot()` of
/// `pfn` at the faulting address, with the VMA's protection and the cache
/// mode `mode` (which PAT replaces with the page's memtype); with `raw`,
/// the same special entry written by `apply_to_page_range()` as i915's
/// `remap_io_mapping()` writes it, with `mode`'s cache bits as they are.
///
/// # Safety
///
/// `vmf` is a fault in progress in a VMA that [`Registration`]'s mmap set
/// up, and `pfn` a page whose owner zaps that VMA's range before it changes
/// the page's caching or frees it.
pub(in crate::sys) unsafe fn insert_pfn(
    vmf: *mut bindings::vm_fault,
    pfn: u64,
    mode: CacheMode,
    raw: bool,
) -> FaultResult {
    // SAFETY: by the function's safety contract.
    FaultResult(unsafe { pte_attrs_gem_insert_pfn(vmf.cast(), pfn as c_ulong, mode as c_int, raw) })
}

/// What a device that user space maps does on each call.
pub(crate) trait MiscFile: Send + Sync + 'static {
    /// `ioctl(cmd, arg)`; `arg` is a user pointer or a number.
    fn ioctl(&self, file: &OpenFile<'_>, cmd: u32, arg: usize) -> Result<isize>;
    /// Accepts or refuses `mmap`. On success the VMA becomes a PFN map
    /// (`VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP`) filled by
    /// [`MiscFile::fault`].
    fn mmap(&self, file: FileKey, req: MmapRequest) -> Result;
    /// A fault at the file's page offset `pgoff` of a mapping of `file`.
    fn fault(&self, file: FileKey, pgoff: u64, f: &mut Fault<'_>) -> FaultResult;
    /// The last reference to the open file `file` is gone (so are all of
    /// its mappings).
    fn release(&self, file: FileKey);
}

struct Inner<T> {
    fops: bindings::file_operations,
    data: T,
}

/// A registered misc device backed by `T`.
///
/// # Invariants
///
/// `misc` is registered with `inner`'s `fops` and `&data` as its data.
/// `inner` comes from `KBox::into_raw` and is given back to a box only in
/// `Drop`, after deregistering: the C side's pointers into it stay valid,
/// and no `KBox` (whose moves would assert unique access) exists while they
/// are used. It is dropped only when no file of the device is open: at
/// module unload (open files pin the module), or in `init` with nothing
/// after it that could fail.
pub(crate) struct Registration<T: MiscFile> {
    misc: NonNull<GlueMisc>,
    /// Owned here (from `KBox::into_raw`), used by the C side.
    inner: NonNull<Inner<T>>,
}

// SAFETY: `T` is `Send + Sync`; the device pointer is only used to
// deregister it.
unsafe impl<T: MiscFile> Send for Registration<T> {}
// SAFETY: as above; `&Registration` only gives `&T`.
unsafe impl<T: MiscFile> Sync for Registration<T> {}

impl<T: MiscFile> Registration<T> {
    /// Registers `/dev/<name>` (mode 0600) backed by `data`. Opens may
    /// start as soon as this returns: register last.
    pub(crate) fn new(name: &'static CStr, module: &'static ThisModule, data: T) -> Result<Self> {
        let mut fops = Self::FOPS;
        fops.owner = module.as_ptr();
        let inner = KBox::into_raw(KBox::new(Inner { fops, data }, GFP_KERNEL)?);
        // SAFETY: `inner` is valid (just allocated); the field pointers are
        // taken without creating references.
        let (data_ptr, fops) = unsafe {
            (
                core::ptr::addr_of_mut!((*inner).data).cast::<c_void>(),
                core::ptr::addr_of!((*inner).fops).cast::<c_void>(),
            )
        };
        // SAFETY: `name` is static; `inner` stays where it is until `Drop`
        // (or the failure below) has deregistered the device.
        let m = unsafe { pte_attrs_gem_misc_register(name.as_char_ptr(), fops, data_ptr) };
        // The glue returns a device or an `ERR_PTR`, never NULL.
        let e = m as isize;
        match NonNull::new(m) {
            Some(misc) if !(-4095..0).contains(&e) => Ok(Registration {
                misc,
                // SAFETY: from `KBox::into_raw`, never null.
                inner: unsafe { NonNull::new_unchecked(inner) },
            }),
            _ => {
                // SAFETY: not registered: the C side kept no pointer; the
                // box is given back once.
                drop(unsafe { KBox::from_raw(inner) });
                Err(if m.is_null() {
                    ENOMEM
                } else {
                    Error::from_errno(e as i32)
                })
            }
        }
    }

    const VM_OPS: bindings::vm_operations_struct = bindings::vm_operations_struct {
        fault: Some(Self::fault_cb),
        // SAFETY: all-zero is a valid `vm_operations_struct` (no callback).
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };

    const FOPS: bindings::file_operations = bindings::file_operations {
        release: Some(Self::release_cb),
        unlocked_ioctl: Some(Self::ioctl_cb),
        // The ioctl structs have the same layout for 32-bit callers, and
        // `compat_ptr_ioctl` converts the pointer argument (without
        // CONFIG_COMPAT there are no 32-bit callers).
        #[cfg(CONFIG_COMPAT)]
        compat_ioctl: Some(compat_ptr_ioctl),
        mmap: Some(Self::mmap_cb),
        // SAFETY: all-zero is a valid `file_operations` (no callback).
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };

    /// `VM_OPS` as a `'static` (promoted) constant: the VMAs point to it.
    fn vm_ops() -> &'static bindings::vm_operations_struct {
        &Self::VM_OPS
    }

    /// The device data behind an open file.
    ///
    /// # Safety
    ///
    /// `file` is an open file of a registered device of this type; the
    /// reference is used only while it is open.
    unsafe fn data_of<'a>(file: *mut bindings::file) -> &'a T {
        // misc_open() leaves the miscdevice in `private_data`, whose data
        // is `&inner.data`, live while the device is registered.
        // SAFETY: the device is registered while a file is open (type
        // invariant of `Registration`), so the data lives for the call.
        unsafe { &*pte_attrs_gem_file_data(file.cast()).cast::<T>() }
    }

    /// `file_operations.release`.
    ///
    /// # Safety
    ///
    /// Called by the VFS on the last reference of an open file of the
    /// device.
    unsafe extern "C" fn release_cb(
        _inode: *mut bindings::inode,
        file: *mut bindings::file,
    ) -> c_int {
        // SAFETY: the VFS calls release on an open file of this device.
        let data = unsafe { Self::data_of(file) };
        data.release(FileKey(file as usize));
        0
    }

    /// `file_operations.unlocked_ioctl`.
    ///
    /// # Safety
    ///
    /// Called by the VFS on an open file of the device.
    unsafe extern "C" fn ioctl_cb(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
        // SAFETY: the VFS calls ioctl on an open file of this device.
        let data = unsafe { Self::data_of(file) };
        // INVARIANT: `file` is open for the call.
        let f = OpenFile {
            file,
            _life: PhantomData,
        };
        match data.ioctl(&f, cmd, arg) {
            Ok(v) => v as c_long,
            Err(e) => e.to_errno() as c_long,
        }
    }

    /// `file_operations.mmap`.
    ///
    /// # Safety
    ///
    /// Called by the VFS on an open file of the device, with the VMA being
    /// set up under the mmap lock.
    unsafe extern "C" fn mmap_cb(
        file: *mut bindings::file,
        vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        // SAFETY: the VFS calls mmap on an open file of this device.
        let data = unsafe { Self::data_of(file) };
        let (mut pgoff, mut pages, mut shared) = (0, 0, false);
        let mut vfile = core::ptr::null_mut();
        // SAFETY: `vma` is the VMA being set up, under the mmap lock.
        unsafe {
            pte_attrs_gem_vma_info(vma.cast(), &mut pgoff, &mut pages, &mut shared, &mut vfile)
        };
        let req = MmapRequest {
            pgoff: pgoff as u64,
            pages: pages as u64,
            shared,
        };
        match data.mmap(FileKey(file as usize), req) {
            Ok(()) => {
                let ops: *const bindings::vm_operations_struct = Self::vm_ops();
                // SAFETY: `vma` is being set up under the mmap lock; `ops`
                // is a constant of the module, which the VMA's file pins.
                unsafe { pte_attrs_gem_vma_set_pfnmap(vma.cast(), ops.cast()) };
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    /// `vm_operations_struct.fault`.
    ///
    /// # Safety
    ///
    /// Called by the mm on a fault in a VMA that `mmap_cb` set up.
    unsafe extern "C" fn fault_cb(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
        let (mut pgoff, mut file) = (0, core::ptr::null_mut());
        // SAFETY: `vmf` is the fault in progress.
        unsafe { pte_attrs_gem_vmf_info(vmf.cast(), &mut pgoff, &mut file) };
        let file: *mut bindings::file = file.cast();
        // SAFETY: the VMA was set up by `mmap_cb` on a file of this device,
        // and holds the file open while it exists.
        let data = unsafe { Self::data_of(file) };
        // INVARIANT: a fault in progress in a VMA `mmap_cb` set up.
        let mut f = Fault {
            vmf,
            _life: PhantomData,
        };
        data.fault(FileKey(file as usize), pgoff as u64, &mut f).0
    }
}

impl<T: MiscFile> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant); no file is open, so no
        // callback runs or can start once this returns.
        unsafe { pte_attrs_gem_misc_deregister(self.misc.as_ptr()) };
        // SAFETY: from `KBox::into_raw` (type invariant); deregistered, so
        // the C side holds no pointer into it any more.
        drop(unsafe { KBox::from_raw(self.inner.as_ptr()) });
    }
}
