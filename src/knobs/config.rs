// SPDX-License-Identifier: GPL-2.0

//! The files that set up the next run: `scenario`, the numbers (`pages`,
//! `max_order`, `iterations`, `threads`), the flags (`verify`, `scatter`),
//! `bar`, `hold` and `inject_miss`. All are 0600; a value written here is
//! used by the next run (`hold` also acts at once when cleared). None of
//! them takes an address: the exerciser only changes pages it allocated
//! and mappings it created.

use core::fmt::Write;

use kernel::error::{code::*, Result};
use kernel::sync::Arc;

use crate::exerciser::Exerciser;
use crate::pure::config::{Config, Scenario, MAX_ITERATIONS, MAX_ORDER, MAX_PAGES, MAX_THREADS};
use crate::pure::parse::cstr_field;
use crate::pure::parse::{self, ParseError};
use crate::sys::debugfs::{File, Output, Rejected};

/// `scenario`: reads the scenario names with the current one in brackets;
/// accepts one of the names. Errors: `-EINVAL` for an unknown name
/// ("unknown scenario (read the file for the list)") or input that is not
/// one token.
pub(crate) struct ScenarioFile {
    /// The exerciser.
    pub(crate) ex: Arc<Exerciser>,
}

impl File for ScenarioFile {
    fn show(&self, out: &mut Output) -> Result {
        let cur = self.ex.with_cfg(|c| c.scenario);
        Scenario::ALL
            .iter()
            .try_for_each(|&s| {
                if s == cur {
                    write!(out, "[{s}] ")
                } else {
                    write!(out, "{s} ")
                }
            })
            .and_then(|()| writeln!(out))
            .map_err(|_| ENOMEM)
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        let s = Scenario::from_name(parse::token(input)?).ok_or(Rejected::new(
            EINVAL,
            "unknown scenario (read the file for the list)",
        ))?;
        self.ex.with_cfg(|c| c.scenario = s);
        Ok(())
    }
}

/// One numeric setting of the next run: reads the value in decimal;
/// accepts a number in `min..=max` (decimal or `0x` hex). Errors:
/// `-EINVAL` for input that does not parse or is out of range (the parse
/// error says which). The family:
///
/// - `pages`: pages per batch and thread (1..=2^20);
/// - `max_order`: largest `gem_evict` block order (0..=10);
/// - `iterations`: rounds per thread (1..=10^6);
/// - `threads`: worker threads (1..=16).
pub(crate) struct NumberFile {
    /// The exerciser.
    ex: Arc<Exerciser>,
    /// The smallest accepted value.
    min: u64,
    /// The largest accepted value.
    max: u64,
    /// The setting in the run's configuration.
    field: fn(&mut Config) -> &mut u64,
}

impl NumberFile {
    /// `pages`.
    pub(crate) fn pages(ex: Arc<Exerciser>) -> Self {
        NumberFile {
            ex,
            min: 1,
            max: MAX_PAGES,
            field: |c| &mut c.pages,
        }
    }

    /// `max_order`.
    pub(crate) fn max_order(ex: Arc<Exerciser>) -> Self {
        NumberFile {
            ex,
            min: 0,
            max: MAX_ORDER,
            field: |c| &mut c.max_order,
        }
    }

    /// `iterations`.
    pub(crate) fn iterations(ex: Arc<Exerciser>) -> Self {
        NumberFile {
            ex,
            min: 1,
            max: MAX_ITERATIONS,
            field: |c| &mut c.iterations,
        }
    }

    /// `threads`.
    pub(crate) fn threads(ex: Arc<Exerciser>) -> Self {
        NumberFile {
            ex,
            min: 1,
            max: MAX_THREADS,
            field: |c| &mut c.threads,
        }
    }
}

impl File for NumberFile {
    fn show(&self, out: &mut Output) -> Result {
        let v = self.ex.with_cfg(|c| *(self.field)(c));
        writeln!(out, "{v}").map_err(|_| ENOMEM)
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        let v = parse::parse_u64_in(input, self.min, self.max)?;
        self.ex.with_cfg(|c| *(self.field)(c) = v);
        Ok(())
    }
}

/// A yes/no setting of the next run: reads 0 or 1; accepts a boolean
/// (`0`/`1`, `y`/`n`, ...). Errors: `-EINVAL` for anything else. The
/// family:
///
/// - `verify`: 1 checks every transition of the run through the accessor;
/// - `scatter`: 1 takes each single page of a `pages_array` or
///   `wc_wb_free` run from a 2 MiB block of its own (a run of another
///   scenario is refused with `-EINVAL`).
pub(crate) struct FlagFile {
    /// The exerciser.
    ex: Arc<Exerciser>,
    /// The setting in the run's configuration.
    field: fn(&mut Config) -> &mut bool,
}

impl FlagFile {
    /// `verify`.
    pub(crate) fn verify(ex: Arc<Exerciser>) -> Self {
        FlagFile {
            ex,
            field: |c| &mut c.verify,
        }
    }

    /// `scatter`.
    pub(crate) fn scatter(ex: Arc<Exerciser>) -> Self {
        FlagFile {
            ex,
            field: |c| &mut c.scatter,
        }
    }
}

impl File for FlagFile {
    fn show(&self, out: &mut Output) -> Result {
        let v = self.ex.with_cfg(|c| *(self.field)(c));
        writeln!(out, "{}", u8::from(v)).map_err(|_| ENOMEM)
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        let v = parse::parse_bool(input)?;
        self.ex.with_cfg(|c| *(self.field)(c) = v);
        Ok(())
    }
}

/// `bar`: the PCI BAR the `ioremap` scenario maps. Reads
/// `<device>/<bar>` (`auto/<bar>` when the device is picked at run time);
/// accepts `auto` or `<pci device>`, optionally followed by `/<bar>`
/// (0..=5). Errors: `-EINVAL` for a BAR index that does not parse or is
/// out of range, or a device name of 32 bytes or more.
pub(crate) struct BarFile {
    /// The exerciser.
    pub(crate) ex: Arc<Exerciser>,
}

impl File for BarFile {
    fn show(&self, out: &mut Output) -> Result {
        let bar = self.ex.with_bar(|b| *b);
        match cstr_field(&bar.dev) {
            "" => writeln!(out, "auto/{}", bar.index),
            d => writeln!(out, "{d}/{}", bar.index),
        }
        .map_err(|_| ENOMEM)
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        let t = parse::token(input)?;
        let (dev, index) = match crate::pure::attrs::cut(t, "/") {
            Some((d, i)) => (d, parse::parse_u64_in(i.as_bytes(), 0, 5)?),
            None => (t, 0),
        };
        let dev = if dev == "auto" { "" } else { dev };
        let mut name = [0u8; 32];
        if dev.len() >= name.len() {
            return Err(ParseError::Invalid.into());
        }
        name[..dev.len()].copy_from_slice(dev.as_bytes());
        self.ex.with_bar(|b| {
            b.dev = name;
            b.index = index as u8;
        });
        Ok(())
    }
}

/// `hold`: 1 keeps the `ioremap` scenario's first WC mapping alive, or
/// the first page set a `pages_array` or `wc_wb_free` run made WC (UC-
/// without PAT), with its address in `results`, until 0 is written or the
/// run is stopped. Reads 0 or 1; accepts a boolean. Errors: `-EINVAL` for
/// anything else.
pub(crate) struct HoldFile {
    /// The exerciser.
    pub(crate) ex: Arc<Exerciser>,
}

impl File for HoldFile {
    fn show(&self, out: &mut Output) -> Result {
        writeln!(out, "{}", u8::from(self.ex.hold())).map_err(|_| ENOMEM)
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        self.ex.set_hold(parse::parse_bool(input)?);
        Ok(())
    }
}

/// `inject_miss`: 1 makes the next run's first non-WB transition (worker
/// 0, its first batch) skip the CPA call for the first page of the set
/// while the check still expects the new mode: a negative control of
/// verification (`inject.addr=` in `results`). Cleared by the run that
/// uses it. Reads 0 or 1; accepts a boolean. Errors: `-EINVAL` for
/// anything else.
pub(crate) struct InjectMissFile {
    /// The exerciser.
    pub(crate) ex: Arc<Exerciser>,
}

impl File for InjectMissFile {
    fn show(&self, out: &mut Output) -> Result {
        writeln!(out, "{}", u8::from(self.ex.inject())).map_err(|_| ENOMEM)
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        self.ex.set_inject(parse::parse_bool(input)?);
        Ok(())
    }
}

/// `inject_fail`: 1 makes the next run's worker 0 fail (`-EIO`,
/// counted in `errors=`) right after its first transition away from WB has
/// been made and checked: the pages are WC or UC- at that moment, so the
/// run's restore on drop (back to WB, every page checked through the
/// accessor and its memtype record before it is freed) is what cleans up.
/// Cleared by the run that uses it (not by `ioremap`). Reads 0 or 1;
/// accepts a boolean. Errors: `-EINVAL` for anything else.
pub(crate) struct InjectFailFile {
    /// The exerciser.
    pub(crate) ex: Arc<Exerciser>,
}

impl File for InjectFailFile {
    fn show(&self, out: &mut Output) -> Result {
        writeln!(out, "{}", u8::from(self.ex.inject_fail())).map_err(|_| ENOMEM)
    }

    fn store(&self, input: &[u8]) -> Result<(), Rejected> {
        self.ex.set_inject_fail(parse::parse_bool(input)?);
        Ok(())
    }
}
