// SPDX-License-Identifier: GPL-2.0

//! A shrinker: memory pressure asks an object to give memory back.
//!
//! The kernel crate has no shrinker abstraction (6.12 nor 7.3.4).

use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::{code::*, Result};
use kernel::ffi::{c_int, c_ulong};
use kernel::str::CStr;
// 7.x's `CStr` is `core::ffi::CStr`, with `as_char_ptr` from this trait.
#[cfg(kernel_7)]
use kernel::str::CStrExt as _;
use kernel::sync::Arc;

/// What a shrinker evicts from.
pub(crate) trait Shrink: Send + Sync + 'static {
    /// How many objects could be freed now (cheap, no lock needed).
    fn count(&self) -> u64;

    /// Frees up to `want` objects; returns how many were freed. Called
    /// from reclaim: it may sleep, and must not allocate with a lock held
    /// that this callback takes.
    fn scan(&self, want: u64) -> u64;
}

/// A registered shrinker whose callbacks reach a `T`.
///
/// # Invariants
///
/// `ptr` is a shrinker made by `shrinker_alloc()` and registered, whose
/// `private_data` points to the `T` of `target`: the `T` lives at least as
/// long as this value, which frees the shrinker (waiting for callbacks in
/// flight) in `drop` before it drops `target`.
pub(crate) struct Shrinker<T: Shrink> {
    ptr: NonNull<bindings::shrinker>,
    /// Kept alive, not read: the callbacks reach it through `ptr`.
    _target: Arc<T>,
}

// SAFETY: the shrinker is only handed to `shrinker_free`, from any thread;
// `T` is `Send + Sync`.
unsafe impl<T: Shrink> Send for Shrinker<T> {}
// SAFETY: `&Shrinker` exposes nothing.
unsafe impl<T: Shrink> Sync for Shrinker<T> {}

impl<T: Shrink> Shrinker<T> {
    /// Registers a shrinker named `name` that evicts from `target`.
    pub(crate) fn register(name: &'static CStr, target: Arc<T>) -> Result<Self> {
        // SAFETY: `"%s"` with one string argument, NUL-terminated.
        let ptr = unsafe {
            bindings::shrinker_alloc(0, kernel::c_str!("%s").as_char_ptr(), name.as_char_ptr())
        };
        let Some(ptr) = NonNull::new(ptr) else {
            kernel::pr_err!("cannot allocate the shrinker {}\n", name);
            return Err(ENOMEM);
        };
        let s = ptr.as_ptr();
        // SAFETY: `s` is a fresh, unregistered shrinker we own; `target`
        // outlives its registration (type invariant, established here).
        unsafe {
            (*s).count_objects = Some(count::<T>);
            (*s).scan_objects = Some(scan::<T>);
            (*s).seeks = bindings::DEFAULT_SEEKS as c_int;
            (*s).private_data = core::ptr::from_ref::<T>(&target).cast_mut().cast();
            bindings::shrinker_register(s);
        }
        Ok(Shrinker {
            ptr,
            _target: target,
        })
    }
}

impl<T: Shrink> Drop for Shrinker<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` is registered (type invariant); `shrinker_free`
        // unregisters it and waits for callbacks in flight, so none
        // reaches the `T` after it returns (`_target` drops after this).
        unsafe { bindings::shrinker_free(self.ptr.as_ptr()) };
    }
}

/// The target of a shrinker's callback.
///
/// # Safety
///
/// `s` must be a shrinker made by [`Shrinker::<T>::register`], in one of
/// its callbacks.
unsafe fn target_of<'a, T: Shrink>(s: *mut bindings::shrinker) -> &'a T {
    // SAFETY: `private_data` is the `T`, alive while the shrinker is
    // registered (invariant of `Shrinker`); callbacks end before
    // `shrinker_free` returns.
    unsafe { &*(*s).private_data.cast::<T>() }
}

/// `count_objects`.
///
/// # Safety
///
/// Called by the shrinker core for a shrinker of [`Shrinker::<T>::register`].
unsafe extern "C" fn count<T: Shrink>(
    s: *mut bindings::shrinker,
    _sc: *mut bindings::shrink_control,
) -> c_ulong {
    // SAFETY: called by the shrinker core for our shrinker.
    let n = unsafe { target_of::<T>(s) }.count();
    if n == 0 {
        bindings::SHRINK_EMPTY as c_ulong
    } else {
        n as c_ulong
    }
}

/// `scan_objects`.
///
/// # Safety
///
/// Called by the shrinker core for a shrinker of
/// [`Shrinker::<T>::register`], with a valid control.
unsafe extern "C" fn scan<T: Shrink>(
    s: *mut bindings::shrinker,
    sc: *mut bindings::shrink_control,
) -> c_ulong {
    // SAFETY: called by the shrinker core for our shrinker with its control.
    let (target, want) = unsafe { (target_of::<T>(s), (*sc).nr_to_scan) };
    let freed = target.scan(want as u64);
    if freed == 0 {
        bindings::SHRINK_STOP as c_ulong
    } else {
        freed as c_ulong
    }
}
