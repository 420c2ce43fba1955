// SPDX-License-Identifier: GPL-2.0

//! The action files that drive a run: `run`, `stop`, `reset` and `evict`.
//! All are write-only (0200); reading them is refused by the VFS.

use kernel::error::{code::*, Result};
use kernel::sync::Arc;

use crate::exerciser::Exerciser;
use crate::pure::parse;
use crate::sys::debugfs::{File, Output, Rejected};

/// Accepts only `1`.
fn one(input: &[u8]) -> Result<(), Rejected> {
    if parse::token(input)? == "1" {
        Ok(())
    } else {
        Err(Rejected::new(EINVAL, "write 1"))
    }
}

/// `run`: write `1` to start a run of the current settings on worker
/// threads, `sync` to run it in the writing task and return when it is
/// done. Errors: `-EINVAL` for other input ("write 1, or sync"), and the
/// errors of starting a run, with their reason: `-EBUSY` while one runs,
/// `-ENOMEM`, and for `ioremap` `-EBUSY`, `-EINVAL` or `-ENODEV` from the
/// BAR.
pub(crate) struct RunFile {
    /// The exerciser.
    pub(crate) ex: Arc<Exerciser>,
}

impl File for RunFile {
    fn show(&self, _out: &mut Output) -> Result {
        Ok(())
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        let sync = match parse::token(input)? {
            "1" => false,
            "sync" => true,
            _ => return Err(Rejected::new(EINVAL, "write 1, or sync")),
        };
        self.ex
            .start(sync)
            .map_err(|(err, why)| Rejected::new(err, why))
    }
}

/// `stop`: write `1` to stop the run and wait until it has cleaned up
/// (nothing to do when none runs). Errors: `-EINVAL` for other input
/// ("write 1").
pub(crate) struct StopFile {
    /// The exerciser.
    pub(crate) ex: Arc<Exerciser>,
}

impl File for StopFile {
    fn show(&self, _out: &mut Output) -> Result {
        Ok(())
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        one(input)?;
        self.ex.stop();
        Ok(())
    }
}

/// `reset`: write `1` to clear the results of the last run. Errors:
/// `-EINVAL` for other input ("write 1"), `-EBUSY` while a run is in
/// progress ("a run is in progress").
pub(crate) struct ResetFile {
    /// The exerciser.
    pub(crate) ex: Arc<Exerciser>,
}

impl File for ResetFile {
    fn show(&self, _out: &mut Output) -> Result {
        Ok(())
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        one(input)?;
        self.ex
            .reset()
            .map_err(|e| Rejected::new(e, "a run is in progress"))
    }
}

/// `evict`: write `1` to evict the whole GEM pool. Errors: `-EINVAL` for
/// other input ("write 1").
pub(crate) struct EvictFile {
    /// The exerciser.
    pub(crate) ex: Arc<Exerciser>,
}

impl File for EvictFile {
    fn show(&self, _out: &mut Output) -> Result {
        Ok(())
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        one(input)?;
        self.ex.evict_all();
        Ok(())
    }
}
