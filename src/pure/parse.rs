// SPDX-License-Identifier: GPL-2.0

//! Strict parsing of what user space writes to the module's debugfs files.
//!
//! The input is the raw bytes of one `write()`. Exactly one trailing newline
//! (as added by `echo`) is accepted; anything else around the value, such as
//! spaces, a second line, a NUL byte or a sign, is rejected.

use core::fmt;

/// Why an input was rejected.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Nothing but an optional newline was written.
    Empty,
    /// The input is not a well-formed value.
    Invalid,
    /// The number does not fit in 64 bits.
    Overflow,
    /// The number is outside the accepted range.
    OutOfRange {
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => f.write_str("empty input"),
            ParseError::Invalid => f.write_str("not a number"),
            ParseError::Overflow => f.write_str("number too large"),
            ParseError::OutOfRange { min, max } => {
                write!(f, "must be between {min} and {max}")
            }
        }
    }
}

/// Returns the single token of `input` after removing one optional trailing
/// `"\n"`. The token must be non-empty printable ASCII without spaces.
pub(crate) fn token(input: &[u8]) -> Result<&str, ParseError> {
    let tok = input.strip_suffix(b"\n").unwrap_or(input);
    if tok.is_empty() {
        return Err(ParseError::Empty);
    }
    if !tok.iter().all(u8::is_ascii_graphic) {
        return Err(ParseError::Invalid);
    }
    core::str::from_utf8(tok).map_err(|_| ParseError::Invalid)
}

/// Parses `digits` (no prefix, no sign) in `radix`. A bad digit anywhere
/// makes the input invalid, even after the value has overflowed.
fn parse_digits(digits: &str, radix: u32) -> Result<u64, ParseError> {
    if digits.is_empty() {
        return Err(ParseError::Invalid);
    }
    let mut acc = Some(0u64);
    for c in digits.chars() {
        let d = c.to_digit(radix).ok_or(ParseError::Invalid)?;
        acc = acc.and_then(|a| a.checked_mul(u64::from(radix))?.checked_add(u64::from(d)));
    }
    acc.ok_or(ParseError::Overflow)
}

/// Strips a `0x`/`0X` prefix.
fn strip_hex_prefix(s: &str) -> Option<&str> {
    s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))
}

/// Parses a decimal number, or a hex one with a `0x`/`0X` prefix.
pub(crate) fn parse_u64(input: &[u8]) -> Result<u64, ParseError> {
    let tok = token(input)?;
    match strip_hex_prefix(tok) {
        Some(hex) => parse_digits(hex, 16),
        None => parse_digits(tok, 10),
    }
}

/// Like [`parse_u64`], but also requires `min <= value <= max`.
pub(crate) fn parse_u64_in(input: &[u8], min: u64, max: u64) -> Result<u64, ParseError> {
    let v = parse_u64(input)?;
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(ParseError::OutOfRange { min, max })
    }
}

/// Parses a kernel virtual address: always hex, the `0x` prefix is optional.
pub(crate) fn parse_addr(input: &[u8]) -> Result<u64, ParseError> {
    let tok = token(input)?;
    parse_digits(strip_hex_prefix(tok).unwrap_or(tok), 16)
}

/// Parses `1`/`0`, `y`/`n`, `on`/`off` or `true`/`false`, ignoring case.
pub(crate) fn parse_bool(input: &[u8]) -> Result<bool, ParseError> {
    let tok = token(input)?;
    let is = |words: [&str; 4]| words.iter().any(|w| w.eq_ignore_ascii_case(tok));
    if is(["1", "y", "on", "true"]) {
        Ok(true)
    } else if is(["0", "n", "off", "false"]) {
        Ok(false)
    } else {
        Err(ParseError::Invalid)
    }
}

/// The text of a NUL-padded name field (up to its first NUL; "?" if that
/// is not UTF-8).
pub(crate) fn cstr_field(b: &[u8]) -> &str {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    b.get(..n)
        .and_then(|t| core::str::from_utf8(t).ok())
        .unwrap_or("?")
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::format;

    #[test]
    fn tokens() {
        assert_eq!(token(b"abc"), Ok("abc"));
        assert_eq!(token(b"UC-\n"), Ok("UC-"));
        assert_eq!(token(b""), Err(ParseError::Empty));
        assert_eq!(token(b"\n"), Err(ParseError::Empty));
        for bad in [
            &b"\n\n"[..],
            b" 1",
            b"1 ",
            b"1 \n",
            b"1\t",
            b"1\0",
            b"\0",
            b"1\n2",
            b"1\n2\n",
            b"1\r\n",
            b"\xff",
            b"\xc3\xa9",
        ] {
            assert_eq!(token(bad), Err(ParseError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"0"), Ok(0));
        assert_eq!(parse_u64(b"42\n"), Ok(42));
        assert_eq!(parse_u64(b"007"), Ok(7));
        assert_eq!(parse_u64(b"0x1F"), Ok(0x1f));
        assert_eq!(parse_u64(b"0XaB\n"), Ok(0xab));
        assert_eq!(parse_u64(b"9223372036854775808"), Ok(1 << 63));
        assert_eq!(parse_u64(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_u64(b"0xffffffffffffffff"), Ok(u64::MAX));
        assert_eq!(parse_u64(b"0x0000000000000000000001"), Ok(1));
        for big in [
            &b"18446744073709551616"[..],
            b"99999999999999999999",
            b"0x10000000000000000",
            &[b'9'; 300],
        ] {
            assert_eq!(parse_u64(big), Err(ParseError::Overflow), "{big:?}");
        }
        assert_eq!(parse_u64(b""), Err(ParseError::Empty));
        assert_eq!(parse_u64(b"\n"), Err(ParseError::Empty));
        for bad in [
            &b"\n\n"[..],
            b" 1",
            b"1 ",
            b"+1",
            b"-1",
            b"1\0",
            b"0x",
            b"0xg",
            b"0x-1",
            b"0x+1",
            b"x1",
            b"ff",
            b"1_000",
            b"1e3",
            b"0b1",
            b"0o7",
            b"\xff",
            b"1\xff",
            b"99999999999999999999x",
        ] {
            assert_eq!(parse_u64(bad), Err(ParseError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn bounds() {
        let range = ParseError::OutOfRange { min: 1, max: 64 };
        assert_eq!(parse_u64_in(b"1", 1, 64), Ok(1));
        assert_eq!(parse_u64_in(b"64\n", 1, 64), Ok(64));
        assert_eq!(parse_u64_in(b"0x20", 1, 64), Ok(32));
        assert_eq!(parse_u64_in(b"0", 1, 64), Err(range));
        assert_eq!(parse_u64_in(b"65", 1, 64), Err(range));
        assert_eq!(parse_u64_in(b"x", 1, 64), Err(ParseError::Invalid));
        assert_eq!(
            parse_u64_in(b"18446744073709551616", 0, u64::MAX),
            Err(ParseError::Overflow)
        );
        assert_eq!(
            parse_u64_in(b"18446744073709551615", 0, u64::MAX),
            Ok(u64::MAX)
        );
        assert_eq!(format!("{range}"), "must be between 1 and 64");
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_addr(b"ffffffff81000000"), Ok(0xffff_ffff_8100_0000));
        assert_eq!(
            parse_addr(b"0xffffffff81000000\n"),
            Ok(0xffff_ffff_8100_0000)
        );
        assert_eq!(parse_addr(b"0XFFFF888000000000"), Ok(0xffff_8880_0000_0000));
        assert_eq!(parse_addr(b"10"), Ok(0x10));
        assert_eq!(
            parse_addr(b"0x10000000000000000"),
            Err(ParseError::Overflow)
        );
        assert_eq!(parse_addr(b"\n"), Err(ParseError::Empty));
        for bad in [
            &b"0x"[..],
            b"0xg",
            b"-1",
            b" ff",
            b"ff ",
            b"ff\0",
            b"ffff_8880",
        ] {
            assert_eq!(parse_addr(bad), Err(ParseError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn bools() {
        for t in [&b"1"[..], b"y", b"Y\n", b"on", b"ON", b"true", b"True\n"] {
            assert_eq!(parse_bool(t), Ok(true), "{t:?}");
        }
        for f in [
            &b"0"[..],
            b"n",
            b"N\n",
            b"off",
            b"Off",
            b"false",
            b"FALSE\n",
        ] {
            assert_eq!(parse_bool(f), Ok(false), "{f:?}");
        }
        assert_eq!(parse_bool(b""), Err(ParseError::Empty));
        for bad in [
            &b"2"[..],
            b"yes",
            b"no",
            b"o",
            b" 1",
            b"1 ",
            b"+1",
            b"01",
            b"\n\n",
        ] {
            assert_eq!(parse_bool(bad), Err(ParseError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn messages() {
        assert_eq!(format!("{}", ParseError::Empty), "empty input");
        assert_eq!(format!("{}", ParseError::Invalid), "not a number");
        assert_eq!(format!("{}", ParseError::Overflow), "number too large");
    }

    #[test]
    fn cstr_fields() {
        assert_eq!(cstr_field(b"0000:00:05.0\0\0\0"), "0000:00:05.0");
        assert_eq!(cstr_field(b"abc"), "abc");
        assert_eq!(cstr_field(b"\0abc"), "");
        assert_eq!(cstr_field(b"\xff\0"), "?");
    }
}
