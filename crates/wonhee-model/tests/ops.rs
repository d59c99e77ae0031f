//! Each fused CPU op against its composition of candle primitives: values and gradients.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use candle_core::{D, DType, Device, Tensor, Var};
use wonhee_model::ops::{self, DropSpec, Kernels};

/// Deterministic pseudo-random tensor in [-scale, scale).
fn rand(shape: &[usize], seed: u64, scale: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}

/// Runs `f` with both implementations on fresh variables made from `inputs`, takes
/// `sum(f(..) * r)` for a fixed random `r`, and compares outputs and all input gradients.
fn check(name: &str, inputs: &[Tensor], tol: f32, f: impl Fn(&[Tensor], Kernels) -> Tensor) {
    let mut results = Vec::new();
    for k in [Kernels::Fused, Kernels::Composed] {
        let vars: Vec<Var> = inputs
            .iter()
            .map(|t| Var::from_tensor(t).unwrap())
            .collect();
        let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let y = f(&ts, k);
        let r = rand(y.dims(), 99, 1.0);
        let loss = (&y * &r).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        let g: Vec<Tensor> = vars
            .iter()
            .map(|v| {
                grads
                    .get(v.as_tensor())
                    .unwrap_or_else(|| panic!("{name} {k:?}: no gradient"))
                    .clone()
            })
            .collect();
        results.push((y, g));
    }
    let (yf, gf) = &results[0];
    let (yc, gc) = &results[1];
    let dy = max_abs_diff(yf, yc);
    assert!(dy <= tol, "{name}: outputs differ by {dy}");
    for (i, (a, b)) in gf.iter().zip(gc).enumerate() {
        let d = max_abs_diff(a, b);
        let scale: f32 = b
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap();
        assert!(scale > 0.0, "{name}: gradient {i} is zero");
        assert!(
            d <= tol * scale.max(1.0),
            "{name}: gradient {i} differs by {d} (scale {scale})"
        );
    }
}

#[test]
fn rms_norm_fused_matches_composed() {
    for (rows, d) in [(3, 16), (700, 24), (5, 130)] {
        let x = rand(&[rows, d], 1, 2.0);
        let w = (rand(&[d], 2, 0.5) + 1.0).unwrap();
        check("rms_norm", &[x, w], 2e-5, |t, k| {
            ops::rms_norm(&t[0], &t[1], 1e-5, k).unwrap()
        });
    }
}

#[test]
fn softmax_fused_matches_composed() {
    for (rows, n) in [(4, 7), (33, 64), (3, 257)] {
        let x = rand(&[2, rows, n], 3, 8.0);
        check("softmax", &[x], 1e-6, |t, k| {
            ops::softmax_last_dim(&t[0], k).unwrap()
        });
    }
}

#[test]
fn swiglu_fused_matches_composed() {
    for (rows, h) in [(3, 8), (129, 40)] {
        let gu = rand(&[rows, 2 * h], 4, 6.0);
        check("swiglu", &[gu], 2e-5, |t, k| ops::swiglu(&t[0], k).unwrap());
    }
}

#[test]
fn dropout_fused_matches_composed_and_is_seeded() {
    let x = rand(&[3, 1500], 5, 1.0);
    let spec = DropSpec { p: 0.25, seed: 7 };
    check("dropout", std::slice::from_ref(&x), 0.0, |t, k| {
        ops::dropout(&t[0], spec, k).unwrap()
    });
    let y = ops::dropout(&x, spec, Kernels::Fused).unwrap();
    let zeros = y
        .eq(0f64)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
        .mean_all()
        .unwrap();
    let rate: f32 = zeros.to_scalar().unwrap();
    assert!((rate - 0.25).abs() < 0.03, "drop rate {rate}");
    let kept = (y.ne(0f64).unwrap().to_dtype(DType::F32).unwrap() * &x).unwrap();
    assert!(
        max_abs_diff(&(kept / 0.75).unwrap(), &y) < 1e-6,
        "kept values not scaled by 1/(1-p)"
    );
    let y2 = ops::dropout(&x, spec, Kernels::Fused).unwrap();
    assert_eq!(max_abs_diff(&y, &y2), 0.0, "same seed, different mask");
    let y3 = ops::dropout(&x, DropSpec { p: 0.25, seed: 8 }, Kernels::Fused).unwrap();
    assert!(max_abs_diff(&y, &y3) > 0.0, "different seeds, same mask");
}

#[test]
fn attention_fused_matches_composed() {
    // n = 70 spans two query blocks (64 + 6); head dims 8 and 32 use different tile shapes.
    for &(b, n, heads, hd) in &[(2, 70, 2, 8), (1, 65, 1, 32), (3, 5, 4, 4), (2, 130, 4, 16)] {
        let d = heads * hd;
        let qkv = rand(&[b, n, 3 * d], 6, 1.5);
        for causal in [false, true] {
            for drop in [None, Some(DropSpec { p: 0.3, seed: 11 })] {
                let name =
                    format!("attention b{b} n{n} h{heads} hd{hd} causal {causal} drop {drop:?}");
                check(&name, std::slice::from_ref(&qkv), 2e-5, |t, k| {
                    ops::attention(&t[0], heads, causal, drop, k).unwrap()
                });
            }
        }
    }
}

#[test]
fn attention_is_a_weighted_average_of_values() {
    // Independent check of the composed reference itself: with all keys equal, every query
    // attends uniformly (non-causal: the mean of all values; causal: the running mean).
    let (n, d) = (6, 4);
    let mut v = vec![0f32; n * 3 * d];
    for i in 0..n {
        for c in 0..d {
            v[i * 3 * d + c] = 0.3; // q
            v[i * 3 * d + d + c] = 1.0; // k, identical for all tokens
            v[i * 3 * d + 2 * d + c] = i as f32; // v = token index
        }
    }
    let qkv = Tensor::from_vec(v, (1, n, 3 * d), &Device::Cpu).unwrap();
    for k in [Kernels::Fused, Kernels::Composed] {
        let full = ops::attention(&qkv, 2, false, None, k)
            .unwrap()
            .squeeze(0)
            .unwrap();
        let causal = ops::attention(&qkv, 2, true, None, k)
            .unwrap()
            .squeeze(0)
            .unwrap();
        let full: Vec<Vec<f32>> = full.to_vec2().unwrap();
        let causal: Vec<Vec<f32>> = causal.to_vec2().unwrap();
        for i in 0..n {
            for c in 0..d {
                assert!(
                    (full[i][c] - 2.5).abs() < 1e-5,
                    "{k:?} full[{i}][{c}] = {}",
                    full[i][c]
                );
                assert!(
                    (causal[i][c] - i as f32 / 2.0).abs() < 1e-5,
                    "{k:?} causal[{i}][{c}]"
                );
            }
        }
    }
}

#[test]
fn candle_nn_fused_softmax_loses_the_gradient() {
    // The pitfall this crate avoids: candle-nn 0.11's softmax_last_dim has no backward.
    let x = Var::from_tensor(&rand(&[2, 5], 1, 1.0)).unwrap();
    let y = candle_nn::ops::softmax_last_dim(x.as_tensor()).unwrap();
    let r = rand(&[2, 5], 2, 1.0);
    let grads = (y * r).unwrap().sum_all().unwrap().backward().unwrap();
    assert!(grads.get(x.as_tensor()).is_none());
    let ours = ops::softmax_last_dim(x.as_tensor(), Kernels::Fused).unwrap();
    let grads = (ours * rand(&[2, 5], 2, 1.0))
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(grads.get(x.as_tensor()).is_some());
    let _ = D::Minus1;
}
