// SPDX-License-Identifier: GPL-2.0

//! A small safe wrapper over debugfs: a directory that owns its files and
//! the data behind them.
//!
//! Modelled on the 6.18 `kernel::debugfs` (RAII directory and files whose
//! data outlives their dentries), reduced to what this module needs: every
//! file is backed by a [`Knob`], which renders the file on read and parses
//! what is written to it. Files are root-only (mode 0400, 0200 or 0600).

use core::fmt;
use core::ptr;
use core::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use kernel::bindings;
use kernel::error::{code::*, Result};
use kernel::ffi::{c_char, c_void};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::uaccess::UserSlice;
use kernel::ThisModule;

use crate::ffi;
use crate::parse::ParseError;

/// The longest write a knob accepts, in bytes; longer ones get `-EINVAL`.
pub(crate) const MAX_WRITE: usize = 256;

/// Refusals logged per [`LOG_WINDOW_NS`] at most, as `printk_ratelimit()`
/// does: a script that writes junk in a loop must not flood the log.
const LOG_BURST: u64 = 20;
/// The window of [`LOG_BURST`].
const LOG_WINDOW_NS: i64 = 5_000_000_000;

/// Start of the current window and the refusals logged in it.
static LOG_WINDOW: AtomicI64 = AtomicI64::new(i64::MIN);
static LOG_COUNT: AtomicU64 = AtomicU64::new(0);
static LOG_SUPPRESSED: AtomicU64 = AtomicU64::new(0);

/// Whether a refusal may be logged now; says how many were not, first.
fn log_allowed() -> bool {
    // SAFETY: ktime_get() has no preconditions.
    let now = unsafe { bindings::ktime_get() };
    let start = LOG_WINDOW.load(Ordering::Relaxed);
    if now.saturating_sub(start) > LOG_WINDOW_NS
        && LOG_WINDOW
            .compare_exchange(start, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        LOG_COUNT.store(0, Ordering::Relaxed);
        let missed = LOG_SUPPRESSED.swap(0, Ordering::Relaxed);
        if missed > 0 {
            pr_err!("{} more refused writes were not logged\n", missed);
        }
    }
    if LOG_COUNT.fetch_add(1, Ordering::Relaxed) < LOG_BURST {
        return true;
    }
    LOG_SUPPRESSED.fetch_add(1, Ordering::Relaxed);
    false
}

/// Why a knob refused a write: the error returned to user space and the
/// reason logged with `pr_err`.
pub(crate) struct Rejected {
    /// The errno the write returns.
    pub(crate) err: Error,
    /// The reason, printed after the knob's name.
    pub(crate) why: Why,
}

/// The reason of a [`Rejected`] write.
pub(crate) enum Why {
    /// The input did not parse.
    Parse(ParseError),
    /// Anything else, said in words.
    Msg(&'static str),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Parse(e) => e.fmt(f),
            Why::Msg(m) => f.write_str(m),
        }
    }
}

impl From<ParseError> for Rejected {
    fn from(e: ParseError) -> Self {
        Rejected {
            err: EINVAL,
            why: Why::Parse(e),
        }
    }
}

impl Rejected {
    /// A refusal with `err` for the reason `why`.
    pub(crate) fn new(err: Error, why: &'static str) -> Self {
        Rejected {
            err,
            why: Why::Msg(why),
        }
    }
}

/// Who may do what with a file: root only, always.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) enum Access {
    /// 0400.
    Read,
    /// 0600.
    ReadWrite,
    /// 0200: an action (`run`, `stop`, ...).
    Write,
}

/// The data behind one debugfs file.
pub(crate) trait Knob: Send + Sync + 'static {
    /// Renders the file's contents into `out` (called for every read).
    fn show(&self, out: &mut Output) -> Result;

    /// Handles one write of at most [`MAX_WRITE`] bytes. The default
    /// refuses: the file is read-only.
    fn store(&self, _input: &[u8]) -> Result<(), Rejected> {
        Err(Rejected::new(EPERM, "the file is read-only"))
    }
}

/// The text a [`Knob`] renders; allocation failures surface as `-ENOMEM`.
pub(crate) struct Output {
    buf: KVec<u8>,
    oom: bool,
}

impl Output {
    /// An empty text.
    pub(crate) fn new() -> Self {
        Output {
            buf: KVec::new(),
            oom: false,
        }
    }

    /// The text; `-ENOMEM` if it could not all be kept.
    pub(crate) fn into_bytes(self) -> Result<KVec<u8>> {
        if self.oom {
            return Err(ENOMEM);
        }
        Ok(self.buf)
    }

    /// Appends `bytes`.
    pub(crate) fn write_bytes(&mut self, bytes: &[u8]) {
        if self.buf.extend_from_slice(bytes, GFP_KERNEL).is_err() {
            self.oom = true;
        }
    }
}

impl fmt::Write for Output {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self
            .buf
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .is_err()
        {
            self.oom = true;
            return Err(fmt::Error);
        }
        Ok(())
    }
}

/// One file's knob, its name and the `file_operations` that reach it.
///
/// # Invariants
///
/// `fops.read`/`fops.write` are `read::<K>`/`write::<K>`, and the file
/// created with `fops` has `&knob` as its data.
struct Entry<K: Knob> {
    fops: bindings::file_operations,
    name: &'static CStr,
    knob: K,
}

/// A type-erased owned [`Entry`], freed by `drop_fn` when dropped.
///
/// # Invariants
///
/// `ptr` comes from `KBox::<Entry<K>>::into_raw` and `drop_fn` is
/// `drop_entry::<K>`; only a [`Dir`] holds one, and drops it after the
/// entry's file has been removed.
struct OwnedEntry {
    ptr: *mut c_void,
    drop_fn: unsafe fn(*mut c_void),
}

impl Drop for OwnedEntry {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the pointer matches `drop_fn`, and
        // the file that reached the entry is gone.
        unsafe { (self.drop_fn)(self.ptr) };
    }
}

/// Frees an `Entry<K>` made by [`KBox::into_raw`].
///
/// # Safety
///
/// `p` must come from `KBox::<Entry<K>>::into_raw` and not be used again;
/// no debugfs callback may be running or start on it.
unsafe fn drop_entry<K: Knob>(p: *mut c_void) {
    // SAFETY: by the function's safety contract.
    drop(unsafe { KBox::from_raw(p.cast::<Entry<K>>()) });
}

/// A debugfs directory and its files.
///
/// # Invariants
///
/// `dentry` is a live debugfs directory until `drop`; every `OwnedEntry`
/// in `entries` backs a file below it. `entries` is declared after
/// nothing that needs it and is dropped (freeing the knobs) only after
/// `Drop::drop` has removed the directory and so every file.
pub(crate) struct Dir {
    dentry: *mut c_void,
    entries: KVec<OwnedEntry>,
    module: &'static ThisModule,
}

// SAFETY: the dentry pointer is only handed to debugfs functions, which may
// be called from any thread; the entries are `Send + Sync` knobs.
unsafe impl Send for Dir {}
// SAFETY: `&Dir` exposes nothing; all mutation takes `&mut self`.
unsafe impl Sync for Dir {}

impl Dir {
    /// Creates `/sys/kernel/debug/<name>/`.
    pub(crate) fn new(name: &'static CStr, module: &'static ThisModule) -> Result<Self> {
        // SAFETY: `name` is a NUL-terminated string; a null parent means the
        // debugfs root.
        let dentry = unsafe { ffi::debugfs_create_dir(name.as_char_ptr(), ptr::null_mut()) };
        check_dentry(dentry, name)?;
        Ok(Dir {
            dentry,
            entries: KVec::new(),
            module,
        })
    }

    /// Adds a root-only file backed by `knob`.
    pub(crate) fn file<K: Knob>(&mut self, name: &'static CStr, access: Access, knob: K) -> Result {
        self.entries.reserve(1, GFP_KERNEL)?;
        // `owner` pins the module while one of its files is open.
        let fops = bindings::file_operations {
            owner: self.module.as_ptr(),
            open: Some(bindings::simple_open),
            llseek: Some(bindings::default_llseek),
            read: (access != Access::Write).then_some(read::<K> as _),
            write: (access != Access::Read).then_some(write::<K> as _),
            ..Default::default()
        };
        let entry = KBox::new(Entry { fops, name, knob }, GFP_KERNEL)?;
        let raw = KBox::into_raw(entry);
        let mode: bindings::umode_t = match access {
            Access::Read => 0o400,
            Access::ReadWrite => 0o600,
            Access::Write => 0o200,
        };
        // SAFETY: `raw` is a valid, pinned-until-drop `Entry<K>` (it is freed
        // only after the directory is removed); `name` is NUL-terminated;
        // `self.dentry` is live by the type invariant.
        let dentry = unsafe {
            ffi::debugfs_create_file(
                name.as_char_ptr(),
                mode,
                self.dentry,
                ptr::addr_of_mut!((*raw).knob).cast(),
                ptr::addr_of!((*raw).fops).cast(),
            )
        };
        if let Err(e) = check_dentry(dentry, name) {
            // SAFETY: the file was not created, so no callback can reach it.
            unsafe { drop_entry::<K>(raw.cast()) };
            return Err(e);
        }
        // Cannot fail: the capacity was reserved above.
        self.entries.push(
            OwnedEntry {
                ptr: raw.cast(),
                drop_fn: drop_entry::<K>,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // `self.dentry` is live by the type invariant. Removal is
        // recursive and waits for read/write/llseek/open in flight, and
        // none can start afterwards, so the knobs may be freed. A file
        // still open keeps the module (its fops `owner`), so `release`,
        // which the proxy calls from our fops, never outlives them: the
        // directory goes at unload, after every file was closed.
        // SAFETY: a live debugfs directory of ours, removed once.
        unsafe { ffi::debugfs_remove(self.dentry) };
        // `self.entries` is dropped next, freeing the knobs.
    }
}

fn check_dentry(dentry: *mut c_void, name: &CStr) -> Result {
    if dentry.is_null() || kernel::error::from_err_ptr(dentry).is_err() {
        pr_err!("cannot create debugfs entry {}\n", name);
        return Err(ENODEV);
    }
    Ok(())
}

/// Recovers the entry of `file`.
///
/// # Safety
///
/// `file` must be a file of an entry created by [`Dir::file`] with `K`,
/// inside one of its callbacks.
unsafe fn entry<'a, K: Knob>(file: *mut bindings::file) -> &'a Entry<K> {
    // SAFETY: `simple_open` set `private_data` to the inode's data, which is
    // `&entry.knob` (type invariant of `Entry`); debugfs keeps the entry
    // alive while a callback runs (the directory's removal waits for it).
    unsafe {
        let knob = (*file).private_data.cast::<K>();
        &*kernel::container_of!(knob, Entry<K>, knob)
    }
}

/// `read` of a knob's file: renders it and copies the part at `*ppos`.
///
/// # Safety
///
/// Called by the VFS with a file created by [`Dir::file`] with `K`.
unsafe extern "C" fn read<K: Knob>(
    file: *mut bindings::file,
    buf: *mut c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: by the function's safety contract.
    let entry = unsafe { entry::<K>(file) };
    let mut out = Output::new();
    if let Err(e) = entry.knob.show(&mut out) {
        return e.to_errno() as isize;
    }
    if out.oom {
        return ENOMEM.to_errno() as isize;
    }
    // SAFETY: the VFS passes a valid position pointer.
    let pos = unsafe { *ppos };
    let Ok(pos) = usize::try_from(pos) else {
        return EINVAL.to_errno() as isize;
    };
    if pos >= out.buf.len() {
        return 0;
    }
    let n = count.min(out.buf.len() - pos);
    let mut writer = UserSlice::new(buf as usize, n).writer();
    if let Err(e) = writer.write_slice(&out.buf[pos..pos + n]) {
        return e.to_errno() as isize;
    }
    // SAFETY: as above; `n` is at most the rendered length, so this fits.
    unsafe { *ppos += n as bindings::loff_t };
    n as isize
}

/// `write` of a knob's file: copies at most [`MAX_WRITE`] bytes in and
/// hands them to the knob; every refusal is logged with its reason.
///
/// # Safety
///
/// Called by the VFS with a file created by [`Dir::file`] with `K`.
unsafe extern "C" fn write<K: Knob>(
    file: *mut bindings::file,
    buf: *const c_char,
    count: usize,
    _ppos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: by the function's safety contract.
    let entry = unsafe { entry::<K>(file) };
    if count > MAX_WRITE {
        if log_allowed() {
            pr_err!(
                "{}: write of {} bytes refused: at most {} are accepted\n",
                entry.name,
                count,
                MAX_WRITE
            );
        }
        return EINVAL.to_errno() as isize;
    }
    let mut data = [0u8; MAX_WRITE];
    let mut reader = UserSlice::new(buf as usize, count).reader();
    if let Err(e) = reader.read_slice(&mut data[..count]) {
        return e.to_errno() as isize;
    }
    match entry.knob.store(&data[..count]) {
        Ok(()) => count as isize,
        Err(r) => {
            if log_allowed() {
                pr_err!("{}: {}\n", entry.name, r.why);
            }
            r.err.to_errno() as isize
        }
    }
}
