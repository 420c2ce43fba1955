// SPDX-License-Identifier: GPL-2.0

//! Kernel threads that run a closure, joined on drop.
//!
//! The kernel crate has no kthread abstraction (6.12 nor 7.3.4):
//! `kthread_run()` is a macro, hence the glue.

use core::ptr::NonNull;

use kernel::alloc::{flags::GFP_KERNEL, KBox};
use kernel::bindings;
use kernel::error::{from_err_ptr, Result};
use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::{new_condvar, new_mutex};

use crate::sys::ffi;

/// Whether a thread's closure has returned.
#[pin_data]
struct Finished {
    #[pin]
    done: Mutex<bool>,
    #[pin]
    cv: CondVar,
}

/// What a new thread is handed: its closure and where it says it is done.
struct Start<F> {
    f: F,
    finished: Arc<Finished>,
}

/// A kernel thread running a closure, with a reference on its task.
///
/// Dropping (or [`Task::join`]ing) a `Task` waits until the closure has
/// returned, then reaps the thread: the closure always runs to its end
/// (nothing here asks a thread to stop; callers have their own flags), so
/// whatever it owns is dropped by it.
///
/// # Invariants
///
/// `task` is a kthread created by `pte_attrs_glue_kthread_run()` with
/// [`trampoline::<F>`] for some `F`, on which this value holds the task
/// reference that `kthread_stop_put()` drops; `finished` is the flag that
/// thread sets once its closure has returned.
pub(crate) struct Task {
    task: NonNull<bindings::task_struct>,
    finished: Arc<Finished>,
}

// SAFETY: a task reference may be dropped, and the thread waited for, from
// any thread.
unsafe impl Send for Task {}
// SAFETY: `&Task` exposes nothing.
unsafe impl Sync for Task {}

impl Task {
    /// Starts `f` on a new kernel thread named `name/id`.
    pub(crate) fn spawn<F>(name: &'static CStr, id: u32, f: F) -> Result<Task>
    where
        F: FnOnce() + Send + 'static,
    {
        let finished = Arc::pin_init(
            pin_init!(Finished {
                done <- new_mutex!(false, "pte_attrs::task::done"),
                cv <- new_condvar!("pte_attrs::task::cv"),
            }),
            GFP_KERNEL,
        )?;
        let start = KBox::new(
            Start {
                f,
                finished: finished.clone(),
            },
            GFP_KERNEL,
        )?;
        let raw = KBox::into_raw(start);
        // SAFETY: `trampoline::<F>` takes ownership of `raw`, a
        // `KBox<Start<F>>`; `name` is NUL-terminated and outlives the call
        // (the kernel copies the formatted name).
        let task = unsafe {
            ffi::pte_attrs_glue_kthread_run(trampoline::<F>, raw.cast(), name.as_char_ptr(), id)
        };
        match from_err_ptr(task).ok().and_then(NonNull::new) {
            // INVARIANT: a new kthread running `trampoline::<F>`, and the
            // glue took the reference this value holds.
            Some(task) => Ok(Task { task, finished }),
            None => {
                // SAFETY: no thread was created, so `raw` is still ours.
                drop(unsafe { KBox::from_raw(raw) });
                Err(from_err_ptr(task).err().unwrap_or(ENOMEM))
            }
        }
    }

    /// Waits until the thread's closure has returned, and reaps it.
    pub(crate) fn join(self) {
        drop(self);
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        let mut done = self.finished.done.lock();
        while !*done {
            self.finished.cv.wait(&mut done);
        }
        drop(done);
        // The closure has returned, so `kthread_stop_put()` cannot keep it
        // from running: it only waits for the thread to exit.
        // SAFETY: this value holds the task reference taken at creation
        // (type invariant), dropped here once.
        unsafe { bindings::kthread_stop_put(self.task.as_ptr()) };
    }
}

/// The thread function of a [`Task`]: runs the closure, then says so.
///
/// # Safety
///
/// `data` comes from `KBox::<Start<F>>::into_raw` and is not used again.
unsafe extern "C" fn trampoline<F: FnOnce() + Send + 'static>(data: *mut c_void) -> c_int {
    // SAFETY: by the function's safety contract.
    let start = unsafe { KBox::from_raw(data.cast::<Start<F>>()) };
    let Start { f, finished } = KBox::into_inner(start);
    f();
    *finished.done.lock() = true;
    finished.cv.notify_all();
    0
}
