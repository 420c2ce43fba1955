// SPDX-License-Identifier: GPL-2.0

//! C functions the 6.12 `kernel::bindings` lack.
//!
//! Two kinds: exported kernel functions whose headers bindgen was not asked
//! to read (debugfs), and the helpers of `glue.c`, which wrap what Rust
//! cannot call (static inlines, macros).
//!
//! A `struct dentry` is opaque here (`*mut c_void`): this module only hands
//! the pointers back to debugfs.

use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_void};

extern "C" {
    /// `debugfs_create_dir()` (include/linux/debugfs.h).
    pub(crate) fn debugfs_create_dir(
        name: *const c_char,
        parent: *mut c_void,
    ) -> *mut c_void;

    /// `debugfs_create_file()`: the full-proxy variant, which makes removal
    /// wait for callbacks in flight.
    pub(crate) fn debugfs_create_file(
        name: *const c_char,
        mode: bindings::umode_t,
        parent: *mut c_void,
        data: *mut c_void,
        fops: *const c_void,
    ) -> *mut c_void;

    /// `debugfs_remove()`: recursive; returns once no callback runs.
    pub(crate) fn debugfs_remove(dentry: *mut c_void);

    /// `cpu_feature_enabled(X86_FEATURE_XENPV)`.
    pub(crate) fn pte_attrs_glue_xenpv() -> bool;

    /// `rdmsrl_safe(MSR_IA32_CR_PAT, val)`: 0 or a negative errno.
    pub(crate) fn pte_attrs_glue_pat_msr(val: *mut u64) -> c_int;

    /// `pat_enabled()`.
    pub(crate) fn pte_attrs_glue_pat_enabled() -> bool;
}
