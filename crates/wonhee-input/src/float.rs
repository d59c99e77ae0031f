//! Decimal number parsing for CSV cells, bit-identical to `str::parse` and faster on the
//! common case.
//!
//! Clinger's fast path: a plain decimal `[+-]digits[.digits]` (at most 19 digits) whose digits
//! form an integer `m` exactly representable in the target type and whose fractional digits
//! `k` make `10^k` exact too is `m / 10^k`, one correctly rounded division of exact operands,
//! which is the correctly rounded value of the decimal, as `str::parse` gives it. Everything
//! else (exponents, long mantissas, `inf`, `nan`, garbage) goes to `str::parse`, which
//! decides. The tests check equality with `str::parse`, bit for bit, on swept and random
//! strings.

/// Exact powers of ten in `f32` (5^10 < 2^24).
const P10_F32: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/// Exact powers of ten in `f64` (5^22 < 2^53).
const P10_F64: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Powers of ten for appending up to 8 digits to a significand.
const P10_U64: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// How many of the 8 bytes of `w` (the first byte lowest) are ASCII digits before the first
/// byte that is not. Each byte less `'0'` is a digit when it is below 10; a borrow or carry
/// between bytes only reaches bytes after a non-digit, which do not count.
#[inline(always)]
fn digit_run(w: u64) -> u32 {
    let x = w.wrapping_sub(0x3030_3030_3030_3030);
    let not_digit = (x | x.wrapping_add(0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080;
    not_digit.trailing_zeros() / 8
}

/// The value of the first `n` (1 to 8) digits of `w`: moved to the top bytes, then paired up
/// in three multiply-add steps (no lane overflows: 99, 9999, 99999999).
#[inline(always)]
fn digits_value(w: u64, n: u32) -> u64 {
    let v = (w & 0x0f0f_0f0f_0f0f_0f0f) << (8 * (8 - n));
    let v = (v.wrapping_mul(10).wrapping_add(v >> 8)) & 0x00ff_00ff_00ff_00ff;
    let v = (v.wrapping_mul(100).wrapping_add(v >> 16)) & 0x0000_ffff_0000_ffff;
    (v.wrapping_mul(10_000).wrapping_add(v >> 32)) & 0xffff_ffff
}

/// Appends the run of digits at `s[i..]` to `m` (wrapping past 19 digits); returns the index
/// after the run. `WIDE`: eight bytes at a time where the slice has them, then byte by byte;
/// used for fractional digits (a signal's are many: `0.145000`), while the short integer
/// parts are faster byte by byte (measured).
#[inline(always)]
fn digits<const WIDE: bool>(s: &[u8], mut i: usize, m: &mut u64) -> usize {
    while let Some(w) = s
        .get(i..)
        .and_then(|t| t.first_chunk::<8>())
        .filter(|_| WIDE)
    {
        let w = u64::from_le_bytes(*w);
        let n = digit_run(w);
        if n == 0 {
            return i;
        }
        *m = m
            .wrapping_mul(P10_U64[n as usize])
            .wrapping_add(digits_value(w, n));
        i += n as usize;
        if n < 8 {
            return i;
        }
    }
    while let Some(&b) = s.get(i) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        *m = m.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    i
}

/// The plain decimal `[+-]digits[.digits]` at the start of `s[i..]`: sign, its digits as an
/// integer (wrapped past 19 digits), the number of digits, of fractional digits, and the index
/// of the first byte after it.
#[inline(always)]
fn decimal_prefix(s: &[u8], mut i: usize) -> (bool, u64, usize, usize, usize) {
    // Branch-free: the sign of a signal's values is as good as random.
    let first = s.get(i).copied().unwrap_or(0);
    let neg = first == b'-';
    i += usize::from(neg | (first == b'+'));
    let mut m = 0u64;
    let start = i;
    i = digits::<false>(s, i, &mut m);
    let mut count = i - start;
    let mut frac = 0;
    if s.get(i) == Some(&b'.') {
        let start = i + 1;
        i = digits::<true>(s, start, &mut m);
        frac = i - start;
        count += frac;
    }
    (neg, m, count, frac, i)
}

/// The plain decimal at the start of `s[i..]` and the index after it, when Clinger's fast
/// path gives its `f32` exactly (at most 19 digits, significand below 2^24, at most 10
/// fractional digits); `None` leaves the decision to [`parse_f32`]'s fallback.
#[inline(always)]
pub(crate) fn parse_f32_prefix(s: &[u8], i: usize) -> Option<(f32, usize)> {
    let (neg, m, digits, k, end) = decimal_prefix(s, i);
    if digits == 0 || digits > 19 || m >= 1 << 24 || k >= P10_F32.len() {
        return None;
    }
    // `v >= 0`: the sign bit set is `-v` (branch-free, as the sign is).
    let v = m as f32 / P10_F32[k];
    Some((f32::from_bits(v.to_bits() | u32::from(neg) << 31), end))
}

/// As [`parse_f32_prefix`], for `f64` (significand below 2^53, at most 22 fractional digits).
#[inline(always)]
pub(crate) fn parse_f64_prefix(s: &[u8], i: usize) -> Option<(f64, usize)> {
    let (neg, m, digits, k, end) = decimal_prefix(s, i);
    if digits == 0 || digits > 19 || m >= 1 << 53 || k >= P10_F64.len() {
        return None;
    }
    let v = m as f64 / P10_F64[k];
    Some((f64::from_bits(v.to_bits() | u64::from(neg) << 63), end))
}

/// Parses `s` as `str::parse::<f32>` does, bit for bit (`None` where it fails).
#[inline]
pub(crate) fn parse_f32(s: &[u8]) -> Option<f32> {
    match parse_f32_prefix(s, 0) {
        Some((v, end)) if end == s.len() => Some(v),
        _ => std::str::from_utf8(s).ok()?.parse().ok(),
    }
}

/// Parses `s` as `str::parse::<f64>` does, bit for bit (`None` where it fails).
#[inline]
pub(crate) fn parse_f64(s: &[u8]) -> Option<f64> {
    match parse_f64_prefix(s, 0) {
        Some((v, end)) if end == s.len() => Some(v),
        _ => std::str::from_utf8(s).ok()?.parse().ok(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `parse_f32` equals std on `s`, and so does the prefix parser where it takes all of
    /// `s` followed by a separator.
    fn same_f32(s: &str) {
        let want = s.parse::<f32>().ok().map(f32::to_bits);
        let got = parse_f32(s.as_bytes()).map(f32::to_bits);
        assert_eq!(got, want, "f32 `{s}`");
        // Followed by a separator and enough bytes for eight-at-a-time digit runs.
        for row in [
            format!("{s},"),
            format!("{s},12345678"),
            format!("{s}0.5\n"),
        ] {
            if let Some((v, end)) = parse_f32_prefix(row.as_bytes(), 0)
                && end == s.len()
            {
                assert_eq!(Some(v.to_bits()), want, "f32 prefix `{row}`");
            }
        }
    }

    fn same_f64(s: &str) {
        let want = s.parse::<f64>().ok().map(f64::to_bits);
        let got = parse_f64(s.as_bytes()).map(f64::to_bits);
        assert_eq!(got, want, "f64 `{s}`");
        for row in [format!("{s}\n"), format!("{s};-1234567.")] {
            if let Some((v, end)) = parse_f64_prefix(row.as_bytes(), 0)
                && end == s.len()
            {
                assert_eq!(Some(v.to_bits()), want, "f64 prefix `{row}`");
            }
        }
    }

    /// Digit runs of every length 0 to 8 at every position of a word, with every kind of byte
    /// after them (below, between and above the digits).
    #[test]
    fn eight_byte_digit_runs_are_exact() {
        for n in 0..=8usize {
            for stop in [
                b'\0',
                b'/',
                b'.',
                b',',
                b':',
                b'e',
                b'\xff',
                b'0' - 1,
                b'9' + 1,
            ] {
                for seed in 0..50u64 {
                    let mut bytes = [stop; 8];
                    let mut want = 0u64;
                    for (k, b) in bytes.iter_mut().enumerate().take(n) {
                        let d = (seed * 7 + k as u64 * 3 + seed / 7) % 10;
                        *b = b'0' + d as u8;
                        want = want * 10 + d;
                    }
                    if n < 7 {
                        bytes[n + 1] = b'0' + (seed % 10) as u8;
                    }
                    let w = u64::from_le_bytes(bytes);
                    assert_eq!(digit_run(w) as usize, n, "{bytes:?}");
                    if n > 0 {
                        assert_eq!(digits_value(w, n as u32), want, "{bytes:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_prefix_parser_stops_after_the_number() {
        assert_eq!(
            parse_f32_prefix(b"-0.145000,0.123456\n", 0),
            Some((-0.145, 9))
        );
        assert_eq!(parse_f32_prefix(b"12345678.5,", 0), None, "above 2^24");
        assert_eq!(
            parse_f64_prefix(b"1799.997222,0.1", 0),
            Some((1799.997222, 11))
        );
        assert_eq!(parse_f32_prefix(b"1,-2.5\n", 2), Some((-2.5, 6)));
        assert_eq!(parse_f32_prefix(b"1.5e3", 0), Some((1.5, 3)));
        assert_eq!(parse_f32_prefix(b"x", 0), None);
        assert_eq!(parse_f32_prefix(b"-.", 0), None);
        assert_eq!(parse_f32_prefix(b"", 0), None);
        assert_eq!(
            parse_f64_prefix(b"0.0027777777777777779;", 0),
            None,
            "20 digits"
        );
    }

    #[test]
    fn edge_cases_agree_with_std() {
        for s in [
            "",
            "+",
            "-",
            ".",
            "+.",
            "-.",
            "5.",
            ".5",
            "-.5",
            "+.5",
            "+5",
            "-0",
            "-0.0",
            "0",
            "00000",
            "000.000",
            "0001.2500",
            "1e5",
            "1E-5",
            "1e",
            "1e+",
            "e5",
            ".e5",
            "5.e3",
            "1.5e-3",
            "inf",
            "-inf",
            "+inf",
            "Infinity",
            "nan",
            "NaN",
            "-nan",
            "NAN",
            "1,5",
            " 1",
            "1 ",
            "1..2",
            "1.2.3",
            "--1",
            "+-1",
            "0x10",
            "1_000",
            "16777215",
            "16777216",
            "16777217",
            "-16777217",
            "0.16777217",
            "9999999999",
            "0.0000000001",
            "0.00000000001",
            "1234567890123456789",
            "12345678901234567890",
            "0.1234567890123456789",
            "340282356779733661637539395458142568448",
            "3.4028236e38",
            "1e39",
            "1e-46",
            "1.4e-45",
            "0.7e-45",
            "\u{661}",
            "١",
            "1\u{0}",
            "9007199254740993",
            "0.30000000000000004",
            "2.2250738585072014e-308",
            "4.9e-324",
            "1e23",
            "1e22",
        ] {
            same_f32(s);
            same_f64(s);
        }
    }

    /// Every significand below 2^24 at a stride, with every fractional-digit count the fast
    /// path takes and a few it does not, both signs.
    #[test]
    fn a_sweep_of_fast_path_numbers_agrees_with_std() {
        let mut m = 0u64;
        while m < 1 << 25 {
            let digits = m.to_string();
            for k in 0..=12usize {
                let s = if k == 0 {
                    digits.clone()
                } else if k >= digits.len() {
                    format!("0.{}{digits}", "0".repeat(k - digits.len()))
                } else {
                    let (a, b) = digits.split_at(digits.len() - k);
                    format!("{a}.{b}")
                };
                same_f32(&s);
                same_f32(&format!("-{s}"));
                same_f64(&s);
            }
            m += 1601 + m % 97;
        }
    }

    /// Shortest round-trip and fixed-precision renderings of f32 values spread over every
    /// exponent.
    #[test]
    fn printed_floats_read_back_as_std_reads_them() {
        let mut bits = 1u32;
        while bits < 0x7f80_0000 {
            let x = f32::from_bits(bits);
            for s in [
                format!("{x}"),
                format!("{x:.3}"),
                format!("{x:.6}"),
                format!("{x:e}"),
                format!("{}", f64::from(x)),
            ] {
                same_f32(&s);
                same_f64(&s);
            }
            bits += 0x0000_9e37;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn decimal_strings_agree_with_std(
            s in "[+-]?0{0,3}[0-9]{0,10}(\\.[0-9]{0,14})?([eE][+-]?[0-9]{1,3})?"
        ) {
            same_f32(&s);
            same_f64(&s);
        }

        #[test]
        fn near_misses_agree_with_std(s in "[-+.0-9eEna ,x]{0,12}") {
            same_f32(&s);
            same_f64(&s);
        }

        #[test]
        fn any_f32_printed_reads_back(bits in any::<u32>(), prec in 0usize..12) {
            let x = f32::from_bits(bits);
            same_f32(&format!("{x}"));
            same_f32(&format!("{x:.prec$}"));
            same_f64(&format!("{x:.prec$}"));
        }
    }
}
