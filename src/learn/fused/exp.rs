//! An exponential for the host loops, where `f32::exp` is a call per element: one that the
//! compiler vectorises, and the same steps in AVX2 and FMA instructions.

/// The Taylor coefficients of `exp(r)` from the degree-7 term down to the constant term.
const TAYLOR: [f32; 8] = [
    1.0 / 5040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];
/// 1.5 · 2²³: adding it rounds to an integer, which then sits in the low mantissa bits.
const ROUND: f32 = 12_582_912.0;
/// ln 2 in two parts, so that `n ln 2` is exact in its first part.
const LN2: [f32; 2] = [0.693_359_4, -2.121_944_4e-4];

/// `exp(x)` for `x ≤ 0` (a little above 0 is fine too), to about 1e-7 relative, in operations
/// the compiler vectorises: `x = n ln 2 + r` with `n` an integer and `|r| ≤ ln 2 / 2`, `exp(r)`
/// by its degree-7 Taylor polynomial, `2ⁿ` built in the exponent bits. Below −87, where
/// `exp` leaves the normal floats, it returns about 1e-38.
#[inline(always)]
pub(super) fn exp_nonpositive(x: f32) -> f32 {
    let x = x.clamp(-87.0, 1.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2[0] - n * LN2[1];
    let p = TAYLOR[1..].iter().fold(TAYLOR[0], |p, &c| p * r + c);
    let exponent = shifted
        .to_bits()
        .wrapping_sub(ROUND.to_bits())
        .wrapping_add(127)
        << 23;
    p * f32::from_bits(exponent)
}

/// [`exp_nonpositive`] of eight floats at once.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(super) fn exp8_nonpositive(x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    let x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0)), _mm256_set1_ps(1.0));
    let round = _mm256_set1_ps(ROUND);
    let shifted = _mm256_fmadd_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E), round);
    let n = _mm256_sub_ps(shifted, round);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2[0]), x);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2[1]), r);
    let p = (TAYLOR[1..].iter()).fold(_mm256_set1_ps(TAYLOR[0]), |p, &c| {
        _mm256_fmadd_ps(p, r, _mm256_set1_ps(c))
    });
    let bias = _mm256_set1_epi32(ROUND.to_bits() as i32 - 127);
    let exponent = _mm256_slli_epi32::<23>(_mm256_sub_epi32(_mm256_castps_si256(shifted), bias));
    _mm256_mul_ps(p, _mm256_castsi256_ps(exponent))
}
