//! The inverse of the standard normal CDF, `Φ⁻¹`.

// AS241's coefficients (and the reference values of the tests) are kept digit for digit as
// published, beyond what an f64 holds, so that they can be checked against the paper.
#![allow(clippy::excessive_precision)]

/// `Φ⁻¹(p)`, the `p`-quantile of the standard normal distribution, for `p ∈ (0, 1)`;
/// `−∞` at 0, `+∞` at 1 and NaN outside `[0, 1]` or for NaN.
///
/// Wichura's algorithm AS241 (`PPND16`, Applied Statistics 37(3), 1988): a rational
/// approximation in three regions (`|p − ½| ≤ 0.425`, the tails up to `r = √(−ln min(p, 1−p)) ≤
/// 5`, and beyond), accurate to about 1e-16 relative — no refinement step needed. Symmetric
/// by construction: `Φ⁻¹(1 − p) = −Φ⁻¹(p)` exactly when `1 − p` is exact.
pub fn normal_quantile(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180_625 - q * q;
        return q * horner(&CENTRAL_NUM, r) / horner(&CENTRAL_DEN, r);
    }
    let tail = if q < 0.0 { p } else { 1.0 - p };
    let r = (-tail.ln()).sqrt();
    let x = if r <= 5.0 {
        let r = r - 1.6;
        horner(&NEAR_NUM, r) / horner(&NEAR_DEN, r)
    } else {
        let r = r - 5.0;
        horner(&FAR_NUM, r) / horner(&FAR_DEN, r)
    };
    if q < 0.0 { -x } else { x }
}

/// `c[0] + c[1] r + … + c[7] r⁷`.
fn horner(c: &[f64; 8], r: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &ci| acc * r + ci)
}

// AS241 coefficients, lowest degree first.
const CENTRAL_NUM: [f64; 8] = [
    3.387_132_872_796_366_608,
    1.331_416_678_917_843_774_5e2,
    1.971_590_950_306_551_442_7e3,
    1.373_169_376_550_946_112_5e4,
    4.592_195_393_154_987_145_7e4,
    6.726_577_092_700_870_085_3e4,
    3.343_057_558_358_812_810_5e4,
    2.509_080_928_730_122_672_7e3,
];
const CENTRAL_DEN: [f64; 8] = [
    1.0,
    4.231_333_070_160_091_125_2e1,
    6.871_870_074_920_579_083e2,
    5.394_196_021_424_751_107_7e3,
    2.121_379_430_158_659_586_7e4,
    3.930_789_580_009_271_061e4,
    2.872_908_573_572_194_267_4e4,
    5.226_495_278_852_854_561e3,
];
const NEAR_NUM: [f64; 8] = [
    1.423_437_110_749_683_577_34,
    4.630_337_846_156_545_295_9,
    5.769_497_221_460_691_405_5,
    3.647_848_324_763_204_605_04,
    1.270_458_252_452_368_382_58,
    2.417_807_251_774_506_117_7e-1,
    2.272_384_498_926_918_458_33e-2,
    7.745_450_142_783_414_076_4e-4,
];
const NEAR_DEN: [f64; 8] = [
    1.0,
    2.053_191_626_637_758_821_87,
    1.676_384_830_183_803_849_4,
    6.897_673_349_851_000_045_5e-1,
    1.481_039_764_274_800_745_9e-1,
    1.519_866_656_361_645_719_66e-2,
    5.475_938_084_995_344_946e-4,
    1.050_750_071_644_416_843_24e-9,
];
const FAR_NUM: [f64; 8] = [
    6.657_904_643_501_103_777_2,
    5.463_784_911_164_114_369_9,
    1.784_826_539_917_291_335_8,
    2.965_605_718_285_048_912_3e-1,
    2.653_218_952_657_612_309_3e-2,
    1.242_660_947_388_078_438_6e-3,
    2.711_555_568_743_487_578_15e-5,
    2.010_334_399_292_288_132_65e-7,
];
const FAR_DEN: [f64; 8] = [
    1.0,
    5.998_322_065_558_879_376_9e-1,
    1.369_298_809_227_358_053_1e-1,
    1.487_536_129_085_061_485_25e-2,
    7.868_691_311_456_132_591e-4,
    1.846_318_317_510_054_681_8e-5,
    1.421_511_758_316_445_887_7e-7,
    2.044_263_103_389_939_785_64e-15,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference quantiles from a 40-digit root of `Φ(x) = p` (mpmath's `ncdf`).
    const KNOWN: [(f64, f64); 14] = [
        (0.975, 1.959_963_984_540_054_2),
        (0.5, 0.0),
        (0.05, -1.644_853_626_951_472_7),
        (0.001, -3.090_232_306_167_813_5),
        (1e-10, -6.361_340_902_404_056),
        (0.3, -0.524_400_512_708_040_8),
        (0.6, 0.253_347_103_135_799_8),
        (0.024_25, -1.972_961_051_311_884_9),
        (0.9, 1.281_551_565_544_600_5),
        (0.999_999, 4.753_424_308_822_899),
        (1e-300, -37.047_096_299_361_2),
        (0.425, -0.189_118_426_272_792_5),
        (0.075, -1.439_531_470_938_456),
        (0.999, 3.090_232_306_167_813_5),
    ];

    #[test]
    fn matches_known_quantiles_to_1e_9() {
        for (p, want) in KNOWN {
            let got = normal_quantile(p);
            let tol = 1e-9 * want.abs().max(1.0);
            assert!((got - want).abs() < tol, "Φ⁻¹({p}) = {got}, want {want}");
        }
        assert_eq!(normal_quantile(0.5), 0.0);
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
    }

    #[test]
    fn is_symmetric_and_increasing() {
        let mut last = f64::NEG_INFINITY;
        for i in 1..1000 {
            let p = f64::from(i) / 1000.0;
            let x = normal_quantile(p);
            assert!(x > last, "not increasing at {p}");
            last = x;
            // 1 − p is exact for these p (multiples of 1/1000 are not, but the error is 1e-16).
            assert!(
                (x + normal_quantile(1.0 - p)).abs() < 1e-12,
                "asymmetric at {p}"
            );
        }
    }

    #[test]
    fn edges() {
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
        assert!(normal_quantile(-0.1).is_nan());
        assert!(normal_quantile(1.5).is_nan());
        assert!(normal_quantile(f64::NAN).is_nan());
    }
}
