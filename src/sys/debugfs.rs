// SPDX-License-Identifier: GPL-2.0

//! A small safe wrapper over debugfs: a directory that owns its files and
//! the data behind them.
//!
//! Modelled on the 6.18 `kernel::debugfs` (RAII directory and files whose
//! data outlives their dentries), reduced to what this module needs: every
//! file is backed by a [`StatefulFile`], which makes a state for each open
//! file, renders the file on read and parses what is written to it; a
//! [`File`] (the common case) is a [`StatefulFile`] without per-open state.
//! Each debugfs file (or small family of files) is one type implementing
//! one of the two traits, as with the 6.18 `debugfs::File<T>`. Files are
//! root-only (mode 0400, 0200 or 0600).
//!
//! Lifetimes. A file's data pointer (`i_private`) is the data inside a
//! `FileEntry` that the [`Dir`] owns; the entry also holds the file's
//! `file_operations`, which the debugfs proxy keeps using until the last
//! `release`. The entries are freed when the [`Dir`] is dropped, after
//! `debugfs_remove()` (which waits for callbacks in flight and lets no new
//! one start). Two things make sure no file is open then:
//!
//! - an open file holds a reference on the module (`fops.owner`), so at
//!   unload no file is open;
//! - while the module loads, opens are refused (`-ENODEV`) until
//!   [`Dir::publish`], which `init` calls last, once every file exists and
//!   nothing can fail any more: if a later file cannot be created, the
//!   directory goes away with no file ever opened.
//!
//! Each open file has its own state and text: a read at offset 0 (or the
//! first read of the open file, wherever it starts) renders the file into
//! the open's snapshot, later chunks come from it, so concurrent readers
//! and writers never make a reader see torn output.
//!
//! Why not 7.x's `kernel::debugfs` (checked in 7.3.4), on the kernel that
//! has it: its files are `Writer`/`Reader` values with no per-open state,
//! and this module's `lookup` and `audit` files are stateful per open (the
//! address or region a writer asked about is answered to that writer's
//! reads, not to another opener's); its writes cannot fail with an errno
//! of the file's choosing plus a reason in the log, which every knob here
//! does; and a directory's files cannot be kept closed until all exist
//! ([`Dir::publish`]). 6.12 has no `kernel::debugfs` at all, so one
//! wrapper serves both kernels; the only version difference is the glue's
//! `debugfs_create_file()`, a macro since 6.13.

use core::fmt;
use core::pin::Pin;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use kernel::bindings;
use kernel::error::{code::*, Result};
use kernel::ffi::{c_char, c_int, c_void};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Mutex;

use kernel::ThisModule;

use crate::pure::parse::ParseError;
use crate::sys::log::{pr_err_rl, Show};
use crate::sys::{ffi, mem};

/// The longest write a file accepts, in bytes; longer ones get `-EINVAL`.
pub(crate) const MAX_WRITE: usize = 256;

/// Why a file refused a write: the error returned to user space and the
/// reason logged with `pr_err`.
pub(crate) struct Rejected {
    /// The errno the write returns.
    pub(crate) err: Error,
    /// The reason, printed after the file name.
    pub(crate) reason: Reason,
}

/// The reason of a [`Rejected`] write.
pub(crate) enum Reason {
    /// The input did not parse.
    Parse(ParseError),
    /// Anything else, said in words.
    Msg(&'static str),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Parse(e) => e.fmt(f),
            Reason::Msg(m) => f.write_str(m),
        }
    }
}

impl From<ParseError> for Rejected {
    fn from(e: ParseError) -> Self {
        Rejected {
            err: EINVAL,
            reason: Reason::Parse(e),
        }
    }
}

impl Rejected {
    /// A refusal with `err` for the reason `reason`.
    pub(crate) fn new(err: Error, reason: &'static str) -> Self {
        Rejected {
            err,
            reason: Reason::Msg(reason),
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

/// The data behind one debugfs file with no per-open state.
pub(crate) trait File: Send + Sync + 'static {
    /// Renders the file's contents into `out` (at each read from offset 0).
    fn show(&self, out: &mut Output) -> Result;

    /// Handles one write of at most [`MAX_WRITE`] bytes. The default
    /// refuses: the file is read-only.
    fn store(&self, _input: &[u8]) -> Result<(), Rejected> {
        Err(Rejected::new(EPERM, "the file is read-only"))
    }
}

/// The data behind one debugfs file whose every open has a state of its
/// own, made at open and dropped at release.
pub(crate) trait StatefulFile: Send + Sync + 'static {
    /// What one open file keeps.
    type State: Send + Sync + 'static;

    /// Makes the state of a new open file.
    fn open(&self) -> Result<Self::State>;

    /// Renders the file as `state` sees it into `out` (at each read from
    /// offset 0).
    fn show(&self, state: &Self::State, out: &mut Output) -> Result;

    /// Handles one write of at most [`MAX_WRITE`] bytes to the open file
    /// with `state`.
    fn store(&self, state: &Self::State, input: &[u8]) -> Result<(), Rejected>;
}

impl<F: File> StatefulFile for F {
    type State = ();

    fn open(&self) -> Result {
        Ok(())
    }

    fn show(&self, _state: &(), out: &mut Output) -> Result {
        File::show(self, out)
    }

    fn store(&self, _state: &(), input: &[u8]) -> Result<(), Rejected> {
        File::store(self, input)
    }
}

/// The text a file renders; allocation failures surface as `-ENOMEM`.
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

/// One file: its data, its name and the `file_operations` that reach it.
///
/// # Invariants
///
/// `fops.open`/`release`/`read`/`write` are `open::<F>`, `release::<F>`,
/// `read::<F>` and `write::<F>`; the file created with `fops` has `&data`
/// as its data; `published` points to the flag of the [`Dir`] that owns
/// the entry, which outlives it.
struct FileEntry<F: StatefulFile> {
    fops: bindings::file_operations,
    name: &'static CStr,
    published: *const AtomicBool,
    data: F,
}

/// What one open file holds (its `private_data`).
///
/// # Invariants
///
/// `entry` is the entry of the file, alive while the file is open (see
/// the module documentation).
#[pin_data]
struct OpenFile<F: StatefulFile> {
    entry: *const FileEntry<F>,
    state: F::State,
    /// The text of the last read at offset 0 (`None` before the first
    /// read).
    #[pin]
    snapshot: Mutex<Option<KVec<u8>>>,
}

/// A type-erased owned [`FileEntry`], freed by `drop_fn` when dropped.
///
/// # Invariants
///
/// `ptr` comes from `KBox::<FileEntry<F>>::into_raw` and `drop_fn` is
/// `drop_file_entry::<F>`; only a [`Dir`] holds one, and drops it after the
/// entry's file has been removed, when no file of it is open.
struct OwnedFileEntry {
    ptr: *mut c_void,
    drop_fn: unsafe fn(*mut c_void),
}

impl Drop for OwnedFileEntry {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the pointer matches `drop_fn`, and
        // the file that reached the entry is gone.
        unsafe { (self.drop_fn)(self.ptr) };
    }
}

/// Frees a `FileEntry<F>` made by [`KBox::into_raw`].
///
/// # Safety
///
/// `p` must come from `KBox::<FileEntry<F>>::into_raw` and not be used again;
/// no debugfs callback may be running or start on it, and no file of it
/// may be open.
unsafe fn drop_file_entry<F: StatefulFile>(p: *mut c_void) {
    // SAFETY: by the function's safety contract.
    drop(unsafe { KBox::from_raw(p.cast::<FileEntry<F>>()) });
}

/// A debugfs directory and its files.
///
/// # Invariants
///
/// `dentry` is a live debugfs directory until `drop`; every `OwnedFileEntry`
/// in `entries` backs a file below it and points to `published`. The
/// entries are dropped (freeing the files' data) only after `Drop::drop` has
/// removed the directory and so every file, and before `published`
/// (declared after them). No file can be opened before
/// [`Dir::publish`].
pub(crate) struct Dir {
    dentry: *mut c_void,
    entries: KVec<OwnedFileEntry>,
    published: KBox<AtomicBool>,
    module: &'static ThisModule,
}

// SAFETY: the dentry pointer is only handed to debugfs functions, which may
// be called from any thread; the entries are `Send + Sync` file data.
unsafe impl Send for Dir {}
// SAFETY: `&Dir` exposes nothing; all mutation takes `&mut self`.
unsafe impl Sync for Dir {}

impl Dir {
    /// Creates `/sys/kernel/debug/<name>/`, whose files cannot be opened
    /// until [`Dir::publish`].
    pub(crate) fn new(name: &'static CStr, module: &'static ThisModule) -> Result<Self> {
        let published = KBox::new(AtomicBool::new(false), GFP_KERNEL)?;
        // SAFETY: `name` is a NUL-terminated string; a null parent means the
        // debugfs root.
        let dentry = unsafe { ffi::debugfs_create_dir(name.as_char_ptr(), ptr::null_mut()) };
        check_dentry(dentry, name)?;
        Ok(Dir {
            dentry,
            entries: KVec::new(),
            published,
            module,
        })
    }

    /// Lets the files be opened: call it once every file exists and the
    /// caller can no longer fail (so that the directory is never dropped
    /// while a file is open, see the module documentation).
    pub(crate) fn publish(&self) {
        self.published.store(true, Ordering::Release);
    }

    /// Adds a root-only file backed by `data`.
    pub(crate) fn file<F: StatefulFile>(
        &mut self,
        name: &'static CStr,
        access: Access,
        data: F,
    ) -> Result {
        self.entries.reserve(1, GFP_KERNEL)?;
        // `owner` pins the module while one of its files is open.
        let fops = bindings::file_operations {
            owner: self.module.as_ptr(),
            open: Some(open::<F>),
            release: Some(release::<F>),
            llseek: Some(bindings::default_llseek),
            read: if access != Access::Write {
                Some(read::<F>)
            } else {
                None
            },
            write: if access != Access::Read {
                Some(write::<F>)
            } else {
                None
            },
            ..Default::default()
        };
        let published: *const AtomicBool = &*self.published;
        let entry = KBox::new(
            FileEntry {
                fops,
                name,
                published,
                data,
            },
            GFP_KERNEL,
        )?;
        let raw = KBox::into_raw(entry);
        let mode: bindings::umode_t = match access {
            Access::Read => 0o400,
            Access::ReadWrite => 0o600,
            Access::Write => 0o200,
        };
        // SAFETY: `raw` is a valid, pinned-until-drop `FileEntry<F>` (it is freed
        // only after the directory is removed); `name` is NUL-terminated;
        // `self.dentry` is live by the type invariant.
        let dentry = unsafe {
            ffi::pte_attrs_glue_debugfs_create_file(
                name.as_char_ptr(),
                mode,
                self.dentry,
                ptr::addr_of_mut!((*raw).data).cast(),
                ptr::addr_of!((*raw).fops).cast(),
            )
        };
        if let Err(e) = check_dentry(dentry, name) {
            // SAFETY: the file was not created, so no callback can reach it.
            unsafe { drop_file_entry::<F>(raw.cast()) };
            return Err(e);
        }
        // Cannot fail: the capacity was reserved above.
        self.entries.push(
            OwnedFileEntry {
                ptr: raw.cast(),
                drop_fn: drop_file_entry::<F>,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // No new open from here (the module is going, or never finished
        // loading, and refuses them anyway).
        self.published.store(false, Ordering::Release);
        // `self.dentry` is live by the type invariant. Removal is
        // recursive and waits for open/read/write/llseek in flight, and
        // none can start afterwards. No file is open: an open file holds
        // the module (its fops `owner`), and before `publish` every open
        // was refused. So the entries (fops and data), which `release`
        // would still reach, may be freed.
        // SAFETY: a live debugfs directory of ours, removed once.
        unsafe { ffi::debugfs_remove(self.dentry) };
        // `self.entries` is dropped next, freeing the data, then the flag.
    }
}

fn check_dentry(dentry: *mut c_void, name: &CStr) -> Result {
    if dentry.is_null() || kernel::error::from_err_ptr(dentry).is_err() {
        pr_err!("cannot create debugfs entry {}\n", name);
        return Err(ENODEV);
    }
    Ok(())
}

/// `open` of a file: refused until the directory is published, then
/// makes the open's state.
///
/// # Safety
///
/// Called by the VFS (through the debugfs proxy, which holds the file
/// against removal) with an inode and a file of an entry created by
/// [`Dir::file`] with `F`.
unsafe extern "C" fn open<F: StatefulFile>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: the inode's data is `&entry.data` (type invariant of
    // `FileEntry`), alive while the proxy runs this callback.
    let entry = unsafe {
        let data = (*inode).i_private.cast::<F>();
        &*kernel::container_of!(data, FileEntry<F>, data)
    };
    // SAFETY: `published` outlives the entry (type invariant).
    if !unsafe { &*entry.published }.load(Ordering::Acquire) {
        pr_err_rl!("{}: not ready: the module is loading\n", entry.name);
        return ENODEV.to_errno();
    }
    let state = match entry.data.open() {
        Ok(s) => s,
        Err(e) => return e.to_errno(),
    };
    let open = KBox::pin_init(
        pin_init!(OpenFile {
            entry: ptr::from_ref(entry),
            state,
            snapshot <- new_mutex!(None, "pte_attrs::debugfs::snapshot"),
        }),
        GFP_KERNEL,
    );
    match open {
        Ok(open) => {
            // SAFETY: the box is only turned back into a `Pin<KBox>` in
            // `release`, and never moved in between.
            let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(open) });
            // SAFETY: `file` is the file being opened; its private data is
            // ours.
            unsafe { (*file).private_data = raw.cast() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `release` of a file: drops the open's state. Touches neither the
/// inode's data nor the entry (`full_proxy_release()` may call it after
/// the file was removed).
///
/// # Safety
///
/// Called by the VFS once per file that [`open`] opened with `F`.
unsafe extern "C" fn release<F: StatefulFile>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `open` stored a `Pin<KBox<OpenFile<F>>>` there; this is the
    // last use of the file.
    drop(unsafe { Pin::new_unchecked(KBox::from_raw((*file).private_data.cast::<OpenFile<F>>())) });
    0
}

/// Recovers the open state of `file`.
///
/// # Safety
///
/// `file` must be a file opened by [`open`] with `F`, inside one of its
/// read or write callbacks.
unsafe fn open_file<'a, F: StatefulFile>(
    file: *mut bindings::file,
) -> (&'a OpenFile<F>, &'a FileEntry<F>) {
    // SAFETY: `open` set the private data to a pinned `OpenFile<F>`, freed
    // only at release; its entry is alive while the file is open (type
    // invariant of `OpenFile`).
    unsafe {
        let open = &*(*file).private_data.cast::<OpenFile<F>>();
        (open, &*open.entry)
    }
}

/// `read` of a file: at offset 0 (or at the first read of the open
/// file) renders the file into the open's snapshot; copies the part of the
/// snapshot at `*ppos`.
///
/// # Safety
///
/// Called by the VFS with a file opened by [`open`] with `F`.
unsafe extern "C" fn read<F: StatefulFile>(
    file: *mut bindings::file,
    buf: *mut c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: by the function's safety contract.
    let (open, entry) = unsafe { open_file::<F>(file) };
    // SAFETY: the VFS passes a valid position pointer.
    let pos = unsafe { *ppos };
    let Ok(pos) = usize::try_from(pos) else {
        return EINVAL.to_errno() as isize;
    };
    let mut guard = open.snapshot.lock();
    if pos == 0 || guard.is_none() {
        let mut out = Output::new();
        if let Err(e) = entry.data.show(&open.state, &mut out) {
            return e.to_errno() as isize;
        }
        match out.into_bytes() {
            Ok(text) => *guard = Some(text),
            Err(e) => return e.to_errno() as isize,
        }
    }
    let Some(snapshot) = guard.as_ref() else {
        return 0;
    };
    if pos >= snapshot.len() {
        return 0;
    }
    let n = count.min(snapshot.len() - pos);
    let mut writer = mem::user_slice(buf as usize, n).writer();
    if let Err(e) = writer.write_slice(&snapshot[pos..pos + n]) {
        return e.to_errno() as isize;
    }
    // SAFETY: as above; `n` is at most the rendered length, so this fits.
    unsafe { *ppos += n as bindings::loff_t };
    n as isize
}

/// `write` of a file: copies at most [`MAX_WRITE`] bytes in and
/// hands them to the file; every refusal is logged with its reason
/// (rate-limited).
///
/// # Safety
///
/// Called by the VFS with a file opened by [`open`] with `F`.
unsafe extern "C" fn write<F: StatefulFile>(
    file: *mut bindings::file,
    buf: *const c_char,
    count: usize,
    _ppos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: by the function's safety contract.
    let (open, entry) = unsafe { open_file::<F>(file) };
    if count > MAX_WRITE {
        pr_err_rl!(
            "{}: write of {} bytes refused: at most {} are accepted\n",
            entry.name,
            count,
            MAX_WRITE
        );
        return EINVAL.to_errno() as isize;
    }
    let mut data = [0u8; MAX_WRITE];
    let mut reader = mem::user_slice(buf as usize, count).reader();
    if let Err(e) = reader.read_slice(&mut data[..count]) {
        return e.to_errno() as isize;
    }
    match entry.data.store(&open.state, &data[..count]) {
        Ok(()) => count as isize,
        Err(r) => {
            pr_err_rl!("{}: {}\n", entry.name, Show(r.reason));
            r.err.to_errno() as isize
        }
    }
}
