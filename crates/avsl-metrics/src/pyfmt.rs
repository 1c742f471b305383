//! Python's `str()`/`repr()` of floats, so result files can be compared line by line with
//! the authors' (`metrics.txt`, `sample_cious.txt`). Python prints the shortest digits that
//! round-trip, in positional notation for decimal exponents −4 ≤ e < 16 and scientific
//! (`1e-05`, `1.5e+16`) outside, and always shows a fractional part (`1.0`).

/// `str(x)` / `repr(x)` of a Python float (float64).
pub fn repr_f64(x: f64) -> String {
    shortest(nearest_shortest(format!("{x:e}"), |p| format!("{x:.p$e}")), x)
}

/// `str(np.float32(x))`: numpy prints the shortest digits that round-trip in float32,
/// with Python's notation rules.
pub fn repr_f32(x: f32) -> String {
    shortest(nearest_shortest(format!("{x:e}"), |p| format!("{x:.p$e}")), x as f64)
}

/// Rust's `{:e}` finds the shortest digit count that round-trips, but when two strings of
/// that length round-trip it may pick the farther one; Python picks the nearest (ties to
/// even). Reformatting with that many digits gives the correctly rounded, nearest one.
fn nearest_shortest(sci: String, with_precision: impl Fn(usize) -> String) -> String {
    let digits = sci.split('e').next().unwrap_or("").chars().filter(char::is_ascii_digit).count();
    if digits == 0 { sci } else { with_precision(digits - 1) }
}

fn shortest(sci: String, x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-5", "0e0".
    let (mantissa, exponent) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exponent: i32 = exponent.parse().expect("integer exponent");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0.0");
    }
    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        if point <= 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{sign}{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            format!("{sign}{}.{}", &digits[..point as usize], &digits[point as usize..])
        }
    } else {
        let rest = if digits.len() > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        let e_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{}{rest}e{e_sign}{:02}", &digits[..1], exponent.abs())
    }
}

/// Python's `f'{x:.1f}'` (correctly rounded, ties to even on the exact binary value).
pub fn fixed1(x: f64) -> String {
    format!("{x:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_repr() {
        // Expected strings are what CPython 3.11 prints for the same values.
        let cases: [(f64, &str); 16] = [
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (0.15000000000000002, "0.15000000000000002"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.5e16, "1.5e+16"),
            (1e16, "1e+16"),
            (123456789012345.6, "123456789012345.6"),
            (12544.5, "12544.5"),
            (2.0 / 3.0, "0.6666666666666666"),
            (f64::NAN, "nan"),
            (-3.25e-7, "-3.25e-07"),
            // Two 16-digit strings round-trip; Python prints the nearer (a tie: even).
            (10_781_312.0 / 16_777_216.0, "0.6426162719726562"),
            (0.6253433227539063, "0.6253433227539062"),
        ];
        for (x, want) in cases {
            assert_eq!(repr_f64(x), want, "{x:e}");
        }
    }

    #[test]
    fn matches_numpy_float32_str() {
        // str(np.float32(v)) in numpy.
        assert_eq!(repr_f32(0.1), "0.1");
        assert_eq!(repr_f32(0.512_345_7), "0.5123457");
        assert_eq!(repr_f32(1.0 / 3.0), "0.33333334");
        assert_eq!(repr_f32(3.0), "3.0");
        assert_eq!(repr_f32(1e-6), "1e-06");
    }

    #[test]
    fn one_decimal_rounds_like_python() {
        assert_eq!(fixed1(0.25), "0.2");
        assert_eq!(fixed1(0.35), "0.3"); // 0.35 is 0.34999… in binary
        assert_eq!(fixed1(66.66666666666667), "66.7");
        assert_eq!(fixed1(100.0), "100.0");
        assert_eq!(fixed1(0.0), "0.0");
    }
}
