//! Properties of the whole model on tiny configs: gradients, masking, causality, Soft-MoE,
//! dropout determinism, weights I/O, input errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, VarBuilder};
use common::{
    build, lead2_for, mask, max_abs_diff, rand, rand_vec, rhythm_for, task_losses, tiny,
    with_interpolation, with_lead2_context, with_mask_channel, with_rhythm, with_second_lead,
};
use wonhee_model::ops::Kernels;
use wonhee_model::{
    FfnKind, ModelConfig, SoftMoe, WonHee, init_varmap, load_weights, save_weights, tensor_specs,
};

const B: usize = 3;

fn labels() -> Tensor {
    Tensor::new(&[1u32, 4, 0], &Device::Cpu).unwrap()
}

#[test]
fn param_count_matches_the_varmap_and_names_are_stable() {
    for cfg in [
        tiny(1, FfnKind::Swiglu),
        tiny(4, FfnKind::Swiglu),
        tiny(2, FfnKind::SoftMoe),
        with_mask_channel(tiny(4, FfnKind::Swiglu)),
        with_interpolation(tiny(4, FfnKind::Swiglu)),
        with_rhythm(tiny(4, FfnKind::Swiglu)),
        with_second_lead(tiny(4, FfnKind::Swiglu)),
        with_lead2_context(tiny(4, FfnKind::Swiglu)),
        ModelConfig {
            second_lead: true,
            lead2_context: true,
            ..with_lead2_context(tiny(2, FfnKind::SoftMoe))
        },
        ModelConfig::default(),
        ModelConfig {
            patch: 8,
            ffn: FfnKind::SoftMoe,
            slots_per_expert: 16,
            ..Default::default()
        },
    ] {
        // A fresh VarMap filled by WonHee::new itself...
        let vm = candle_nn::VarMap::new();
        WonHee::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu)).unwrap();
        let data = vm.data().lock().unwrap();
        let total: usize = data.values().map(|v| v.elem_count()).sum();
        assert_eq!(total, cfg.param_count(), "{cfg:?}");
        // ...has exactly the documented names and shapes.
        let specs = tensor_specs(&cfg);
        let names: HashSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        let vm_names: HashSet<&str> = data.keys().map(|s| s.as_str()).collect();
        assert_eq!(names, vm_names);
        for s in &specs {
            assert_eq!(data[&s.name].dims(), s.shape.as_slice(), "{}", s.name);
        }
    }
    assert_eq!(ModelConfig::default().param_count(), 2_625_927);
}

#[test]
fn seeded_init_is_reproducible() {
    let cfg = tiny(2, FfnKind::Swiglu);
    let a = init_varmap(&cfg, 5, &Device::Cpu).unwrap();
    let b = init_varmap(&cfg, 5, &Device::Cpu).unwrap();
    let c = init_varmap(&cfg, 6, &Device::Cpu).unwrap();
    let (a, b, c) = (
        a.data().lock().unwrap(),
        b.data().lock().unwrap(),
        c.data().lock().unwrap(),
    );
    for (n, v) in a.iter() {
        assert_eq!(max_abs_diff(v.as_tensor(), b[n].as_tensor()), 0.0, "{n}");
        if !n.contains("norm") {
            assert!(
                max_abs_diff(v.as_tensor(), c[n].as_tensor()) > 0.0,
                "{n} ignores the seed"
            );
        }
    }
}

/// Which input options a case runs with.
#[derive(Clone, Copy, Debug)]
enum Input {
    /// The paper's: tokens holding a missing point are replaced whole.
    Paper,
    /// `with_mask_channel`.
    MaskChannel,
    /// `with_interpolation`.
    Interpolate,
    /// `with_rhythm`: interpolation plus rhythm features for the classifier.
    Rhythm,
    /// `with_second_lead`: `with_rhythm` plus a second lead for the classifier.
    SecondLead,
    /// `with_lead2_context`: `with_rhythm` plus the second lead's shape features.
    Lead2Context,
}

impl Input {
    fn apply(self, cfg: ModelConfig) -> ModelConfig {
        match self {
            Input::Paper => cfg,
            Input::MaskChannel => with_mask_channel(cfg),
            Input::Interpolate => with_interpolation(cfg),
            Input::Rhythm => with_rhythm(cfg),
            Input::SecondLead => with_second_lead(cfg),
            Input::Lead2Context => with_lead2_context(cfg),
        }
    }
}

/// Variables a task's loss must reach: the shared trunk plus the task's own parameters.
fn expected_vars(task: usize, name: &str) -> bool {
    let shared = name.starts_with("embed.") || name.starts_with("encoder.");
    match task {
        0 => {
            shared
                || name == "cls"
                || name.starts_with("classify.")
                || name.starts_with("rhythm.")
                || name.starts_with("lead2.")
        }
        1 => shared || name == "missing" || name.starts_with("impute."),
        2 => shared || name == "missing" || name.starts_with("forecast."),
        _ => true, // the sum reaches everything
    }
}

#[test]
fn every_variable_gets_a_finite_nonzero_gradient() {
    for (ffn, patch, kernels, mc) in [
        (FfnKind::Swiglu, 1, Kernels::Fused, Input::Paper),
        (FfnKind::Swiglu, 4, Kernels::Fused, Input::Paper),
        (FfnKind::SoftMoe, 2, Kernels::Fused, Input::Paper),
        (FfnKind::Swiglu, 2, Kernels::Composed, Input::Paper),
        (FfnKind::SoftMoe, 1, Kernels::Composed, Input::Paper),
        (FfnKind::Swiglu, 4, Kernels::Fused, Input::MaskChannel),
        (FfnKind::Swiglu, 4, Kernels::Fused, Input::Interpolate),
        (FfnKind::Swiglu, 4, Kernels::Fused, Input::Rhythm),
        (FfnKind::SoftMoe, 2, Kernels::Composed, Input::Rhythm),
        (FfnKind::Swiglu, 4, Kernels::Fused, Input::SecondLead),
        (FfnKind::Swiglu, 1, Kernels::Composed, Input::SecondLead),
        (FfnKind::Swiglu, 4, Kernels::Fused, Input::Lead2Context),
    ] {
        let cfg = mc.apply(tiny(patch, ffn));
        let (model, vm) = build(&cfg, 1);
        let model = model.with_kernels(kernels);
        let x = rand((B, cfg.seq_len), 2, 1.0);
        let m = mask(B, cfg.seq_len, 3);
        let losses = task_losses(&model, &x, &x, &m, &labels(), true);
        let sum = ((&losses[0] + &losses[1]).unwrap() + &losses[2]).unwrap();
        for (task, loss) in losses.iter().chain([&sum]).enumerate() {
            let grads = loss.backward().unwrap();
            for (name, var) in vm.data().lock().unwrap().iter() {
                let g = grads.get(var.as_tensor());
                let what = format!("{ffn:?} P={patch} {kernels:?} {mc:?} task {task}: {name}");
                if expected_vars(task, name) {
                    let g = g.unwrap_or_else(|| panic!("{what}: no gradient"));
                    let v: Vec<f32> = g.flatten_all().unwrap().to_vec1().unwrap();
                    assert!(
                        v.iter().all(|x| x.is_finite()),
                        "{what}: non-finite gradient"
                    );
                    assert!(v.iter().any(|x| *x != 0.0), "{what}: zero gradient");
                } else if let Some(g) = g {
                    let z: f32 = g.abs().unwrap().sum_all().unwrap().to_scalar().unwrap();
                    assert_eq!(z, 0.0, "{what}: gradient from another task's loss");
                }
            }
        }
    }
}

/// Replaces the values at missing points with garbage (NaN, huge numbers).
fn poison(x: &Tensor, m: &Tensor, seed: u64) -> Tensor {
    let xs: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
    let ms: Vec<u8> = m.flatten_all().unwrap().to_vec1().unwrap();
    let r = rand_vec(xs.len(), seed, 1e6);
    let v: Vec<f32> = xs
        .iter()
        .zip(&ms)
        .enumerate()
        .map(|(i, (x, m))| match (*m, i % 3) {
            (0, _) => *x,
            (_, 0) => f32::NAN,
            (_, 1) => f32::INFINITY,
            _ => r[i],
        })
        .collect();
    Tensor::from_vec(v, x.dims(), &Device::Cpu).unwrap()
}

#[test]
fn values_at_missing_points_change_no_output_bit() {
    for (ffn, patch, kernels, mc) in [
        (FfnKind::Swiglu, 1, Kernels::Fused, Input::Paper),
        (FfnKind::Swiglu, 4, Kernels::Fused, Input::Paper),
        (FfnKind::SoftMoe, 2, Kernels::Fused, Input::Paper),
        (FfnKind::Swiglu, 3, Kernels::Composed, Input::Paper),
        (FfnKind::Swiglu, 4, Kernels::Fused, Input::MaskChannel),
        (FfnKind::SoftMoe, 2, Kernels::Composed, Input::MaskChannel),
        (FfnKind::Swiglu, 4, Kernels::Fused, Input::Interpolate),
        (FfnKind::SoftMoe, 2, Kernels::Composed, Input::Interpolate),
        (FfnKind::Swiglu, 4, Kernels::Fused, Input::Rhythm),
        (FfnKind::Swiglu, 4, Kernels::Fused, Input::SecondLead),
        (FfnKind::Swiglu, 4, Kernels::Composed, Input::Lead2Context),
    ] {
        let cfg = mc.apply(tiny(patch, ffn));
        let (model, _) = build(&cfg, 4);
        let model = model.with_kernels(kernels);
        let x = rand((B, cfg.seq_len), 5, 1.0);
        let m = mask(B, cfg.seq_len, 6);
        let poisoned = poison(&x, &m, 7);
        for train in [false, true] {
            let run = |x: &Tensor| {
                model.seed_dropout(9);
                let i = model.forward_impute(x, &m, train).unwrap();
                let f = model.forward_forecast(x, &m, train).unwrap();
                let i: Vec<f32> = i.flatten_all().unwrap().to_vec1().unwrap();
                let f: Vec<f32> = f.flatten_all().unwrap().to_vec1().unwrap();
                (i, f)
            };
            let (i0, f0) = run(&x);
            let (i1, f1) = run(&poisoned);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let what = format!("{ffn:?} P={patch} {kernels:?} {mc:?} train={train}");
            assert_eq!(bits(&i0), bits(&i1), "{what}: imputation saw masked values");
            assert_eq!(bits(&f0), bits(&f1), "{what}: forecast saw masked values");
        }
        // Positive control: the same change at observed points does change the output.
        let shifted = (&x + 0.5).unwrap();
        let a = model.forward_impute(&x, &m, false).unwrap();
        let b = model.forward_impute(&shifted, &m, false).unwrap();
        assert!(max_abs_diff(&a, &b) > 0.0);
    }
}

#[test]
fn interpolated_input_differs_from_zero_fill_only_where_points_are_missing() {
    // Same weights, two input options: identical outputs without missing points (the fill is
    // the input itself), different ones with them (the fill reaches the embedding).
    let zero = with_mask_channel(tiny(4, FfnKind::Swiglu));
    let interp = with_interpolation(tiny(4, FfnKind::Swiglu));
    let (a, vm) = build(&zero, 21);
    let b = WonHee::new(
        &interp,
        VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu),
    )
    .unwrap();
    let x = rand((B, zero.seq_len), 22, 1.0);
    let none = Tensor::zeros((B, zero.seq_len), DType::U8, &Device::Cpu).unwrap();
    let m = mask(B, zero.seq_len, 23);
    let same = |f: &dyn Fn(&WonHee, &Tensor) -> Tensor| max_abs_diff(&f(&a, &none), &f(&b, &none));
    assert_eq!(same(&|w, m| w.forward_impute(&x, m, false).unwrap()), 0.0);
    assert_eq!(same(&|w, m| w.forward_forecast(&x, m, false).unwrap()), 0.0);
    let ia = a.forward_impute(&x, &m, false).unwrap();
    let ib = b.forward_impute(&x, &m, false).unwrap();
    assert!(max_abs_diff(&ia, &ib) > 0.0, "imputation ignores the fill");
    let fa = a.forward_forecast(&x, &m, false).unwrap();
    let fb = b.forward_forecast(&x, &m, false).unwrap();
    assert!(max_abs_diff(&fa, &fb) > 0.0, "forecasting ignores the fill");
}

#[test]
fn rhythm_features_reach_the_classifier_only() {
    let cfg = with_rhythm(tiny(4, FfnKind::Swiglu));
    let (model, _) = build(&cfg, 26);
    let (l, b) = (cfg.seq_len, B);
    let x = rand((b, l), 27, 1.0);
    let m = mask(b, l, 28);
    let r = rhythm_for(&cfg, b, 29).unwrap();
    // Beat 1 gets other rhythm features; the other beats keep theirs.
    let mut rv: Vec<f32> = r.flatten_all().unwrap().to_vec1().unwrap();
    for v in &mut rv[cfg.rhythm_inputs..2 * cfg.rhythm_inputs] {
        *v -= 0.7;
    }
    let r2 = Tensor::from_vec(rv, (b, cfg.rhythm_inputs), &Device::Cpu).unwrap();
    let l1: Vec<Vec<f32>> = model
        .forward_classify_with(&x, Some(&r), false)
        .unwrap()
        .to_vec2()
        .unwrap();
    let l2: Vec<Vec<f32>> = model
        .forward_classify_with(&x, Some(&r2), false)
        .unwrap()
        .to_vec2()
        .unwrap();
    assert_ne!(l1[1], l2[1], "the classifier ignores the rhythm features");
    assert_eq!(l1[0], l2[0], "one beat's rhythm reached another beat");
    assert_eq!(l1[2], l2[2], "one beat's rhythm reached another beat");
    let e1 = model.embed_with(&x, Some(&r)).unwrap();
    let e2 = model.embed_with(&x, Some(&r2)).unwrap();
    assert!(max_abs_diff(&e1, &e2) > 0.0);
    // Imputation and forecasting take no rhythm: same weights, same outputs as a model
    // without the rhythm layer.
    let plain_cfg = ModelConfig {
        rhythm_inputs: 0,
        ..cfg.clone()
    };
    let vm = init_varmap(&cfg, 26, &Device::Cpu).unwrap();
    let plain = WonHee::new(
        &plain_cfg,
        VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu),
    )
    .unwrap();
    for (a, p) in [
        (
            model.forward_impute(&x, &m, false).unwrap(),
            plain.forward_impute(&x, &m, false).unwrap(),
        ),
        (
            model.forward_forecast(&x, &m, false).unwrap(),
            plain.forward_forecast(&x, &m, false).unwrap(),
        ),
    ] {
        assert_eq!(max_abs_diff(&a, &p), 0.0);
    }
    // Missing, unexpected, misshapen or non-finite rhythm features are errors.
    let e = model.forward_classify(&x, false).unwrap_err().to_string();
    assert!(
        e.contains("rhythm_inputs") && e.contains("none given"),
        "{e}"
    );
    let e = plain
        .forward_classify_with(&x, Some(&r), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("rhythm_inputs = 0"), "{e}");
    let e = model
        .forward_classify_with(&x, Some(&rand((b, 3), 1, 1.0)), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected [3, 4]"), "{e}");
    let mut rv: Vec<f32> = r.flatten_all().unwrap().to_vec1().unwrap();
    rv[6] = f32::NAN;
    let bad = Tensor::from_vec(rv, (b, cfg.rhythm_inputs), &Device::Cpu).unwrap();
    let e = model.embed_with(&x, Some(&bad)).unwrap_err().to_string();
    assert!(e.contains("rhythm[1, 2]"), "{e}");
}

#[test]
fn lead2_context_widens_the_rhythm_layer_and_needs_rhythm_inputs() {
    let cfg = with_lead2_context(tiny(4, FfnKind::Swiglu));
    assert_eq!(cfg.beat_inputs(), cfg.rhythm_inputs + 3);
    let (model, vm) = build(&cfg, 51);
    assert_eq!(
        vm.data().lock().unwrap()["rhythm.weight"].dims(),
        &[cfg.d_model, cfg.rhythm_inputs + 3]
    );
    let x = rand((B, cfg.seq_len), 52, 1.0);
    let r = rhythm_for(&cfg, B, 53).unwrap();
    assert_eq!(r.dims(), &[B, 7]);
    model.forward_classify_with(&x, Some(&r), false).unwrap();
    // Only the rhythm features' width is refused.
    let e = model
        .forward_classify_with(&x, Some(&rand((B, 4), 1, 0.5)), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected [3, 7]"), "{e}");
    let e = ModelConfig {
        rhythm_inputs: 0,
        ..cfg
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert!(e.contains("lead2_context needs rhythm_inputs"), "{e}");
}

#[test]
fn second_lead_reaches_the_classifier_only() {
    let cfg = with_second_lead(tiny(4, FfnKind::Swiglu));
    let (model, _) = build(&cfg, 41);
    let (l, b) = (cfg.seq_len, B);
    let x = rand((b, l), 42, 1.0);
    let m = mask(b, l, 43);
    let r = rhythm_for(&cfg, b, 44);
    let x2 = lead2_for(&cfg, b, 45).unwrap();
    // Beat 1 gets another second lead at one point; the other beats keep theirs.
    let mut v: Vec<f32> = x2.flatten_all().unwrap().to_vec1().unwrap();
    v[l + 5] += 0.9;
    let x2b = Tensor::from_vec(v, (b, l), &Device::Cpu).unwrap();
    let logits = |x2: &Tensor| -> Vec<Vec<f32>> {
        model
            .forward_classify_leads(&x, Some(x2), r.as_ref(), false)
            .unwrap()
            .to_vec2()
            .unwrap()
    };
    let (l1, l2) = (logits(&x2), logits(&x2b));
    assert_ne!(l1[1], l2[1], "the classifier ignores the second lead");
    assert_eq!(l1[0], l2[0], "one beat's second lead reached another beat");
    assert_eq!(l1[2], l2[2], "one beat's second lead reached another beat");
    let e1 = model.embed_leads(&x, Some(&x2), r.as_ref()).unwrap();
    let e2 = model.embed_leads(&x, Some(&x2b), r.as_ref()).unwrap();
    assert!(max_abs_diff(&e1, &e2) > 0.0);
    // A zero second lead adds nothing to the tokens (the embedding has no bias): the same
    // logits as a model without it, on the same weights.
    let plain_cfg = ModelConfig {
        second_lead: false,
        ..cfg.clone()
    };
    let vm = init_varmap(&cfg, 41, &Device::Cpu).unwrap();
    let plain = WonHee::new(
        &plain_cfg,
        VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu),
    )
    .unwrap();
    let zeros = x2.zeros_like().unwrap();
    let with_zero = model
        .forward_classify_leads(&x, Some(&zeros), r.as_ref(), false)
        .unwrap();
    let without = plain.forward_classify_with(&x, r.as_ref(), false).unwrap();
    assert!(max_abs_diff(&with_zero, &without) < 1e-6);
    // Imputation and forecasting read the first lead alone.
    for (a, p) in [
        (
            model.forward_impute(&x, &m, false).unwrap(),
            plain.forward_impute(&x, &m, false).unwrap(),
        ),
        (
            model.forward_forecast(&x, &m, false).unwrap(),
            plain.forward_forecast(&x, &m, false).unwrap(),
        ),
    ] {
        assert_eq!(max_abs_diff(&a, &p), 0.0);
    }
    // Missing, unexpected, misshapen or non-finite second leads are errors.
    let e = model
        .forward_classify_with(&x, r.as_ref(), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("second lead") && e.contains("none given"), "{e}");
    let e = plain
        .forward_classify_leads(&x, Some(&x2), r.as_ref(), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("second_lead = false"), "{e}");
    let e = model
        .forward_classify_leads(&x, Some(&rand((b, l / 2), 1, 1.0)), r.as_ref(), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&format!("expected [{b}, {l}]")), "{e}");
    let mut v: Vec<f32> = x2.flatten_all().unwrap().to_vec1().unwrap();
    v[2 * l + 7] = f32::INFINITY;
    let bad = Tensor::from_vec(v, (b, l), &Device::Cpu).unwrap();
    let e = model
        .embed_leads(&x, Some(&bad), r.as_ref())
        .unwrap_err()
        .to_string();
    assert!(e.contains("x2[2, 7]"), "{e}");
}

#[test]
fn forecast_output_at_t_depends_on_nothing_after_t() {
    for (patch, kernels, input) in [
        (1, Kernels::Fused, Input::Paper),
        (3, Kernels::Fused, Input::Paper),
        (1, Kernels::Composed, Input::Paper),
        (2, Kernels::Composed, Input::Paper),
        (4, Kernels::Fused, Input::MaskChannel),
        (4, Kernels::Fused, Input::Interpolate),
        (2, Kernels::Composed, Input::Interpolate),
        (4, Kernels::Fused, Input::Rhythm),
        (4, Kernels::Fused, Input::SecondLead),
        (2, Kernels::Composed, Input::Lead2Context),
    ] {
        let cfg = input.apply(tiny(patch, FfnKind::Swiglu));
        let l = cfg.seq_len;
        let (model, _) = build(&cfg, 10);
        let model = model.with_kernels(kernels);
        let x = rand((B, l), 11, 1.0);
        let m = mask(B, l, 12);
        let base: Vec<Vec<f32>> = model
            .forward_forecast(&x, &m, false)
            .unwrap()
            .to_vec2()
            .unwrap();
        // Cut after each token boundary t: change every input value and missing flag after it.
        for tok in 0..cfg.n_tokens() - 1 {
            let cut = (tok + 1) * patch;
            let mut xv: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
            let mut mv: Vec<u8> = m.flatten_all().unwrap().to_vec1().unwrap();
            for b in 0..B {
                for t in cut..l {
                    xv[b * l + t] += 3.0 + t as f32;
                    mv[b * l + t] ^= u8::from(t % 2 == 0);
                }
            }
            let x2 = Tensor::from_vec(xv, (B, l), &Device::Cpu).unwrap();
            let m2 = Tensor::from_vec(mv, (B, l), &Device::Cpu).unwrap();
            let out: Vec<Vec<f32>> = model
                .forward_forecast(&x2, &m2, false)
                .unwrap()
                .to_vec2()
                .unwrap();
            let mut later_changed = false;
            for b in 0..B {
                for t in 0..l {
                    if t < cut {
                        assert_eq!(
                            out[b][t].to_bits(),
                            base[b][t].to_bits(),
                            "P={patch} {kernels:?} {input:?}: output {t} changed when inputs from {cut} on changed"
                        );
                    } else if out[b][t] != base[b][t] {
                        later_changed = true;
                    }
                }
            }
            assert!(
                later_changed,
                "positive control: outputs after the cut must change"
            );
        }
        // The imputation head is bidirectional: there, later inputs do matter.
        let mut xv: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
        xv[l - 1] += 5.0;
        let x2 = Tensor::from_vec(xv, (B, l), &Device::Cpu).unwrap();
        let m0 = Tensor::zeros((B, l), DType::U8, &Device::Cpu).unwrap();
        let a: Vec<Vec<f32>> = model
            .forward_impute(&x, &m0, false)
            .unwrap()
            .to_vec2()
            .unwrap();
        let b: Vec<Vec<f32>> = model
            .forward_impute(&x2, &m0, false)
            .unwrap()
            .to_vec2()
            .unwrap();
        assert_ne!(a[0][0], b[0][0]);
    }
}

#[test]
fn soft_moe_dispatch_and_combine_are_normalised() {
    let (d, experts, spe, tokens) = (8, 3, 4, 10);
    let vm = candle_nn::VarMap::new();
    let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
    let moe = SoftMoe::new(d, 16, experts, spe, vb).unwrap();
    let x = Tensor::from_vec(
        rand_vec(2 * tokens * d, 1, 3.0),
        (2, tokens, d),
        &Device::Cpu,
    )
    .unwrap();
    for k in [Kernels::Fused, Kernels::Composed] {
        let (dispatch, combine) = moe.routing(&x, k).unwrap();
        assert_eq!(dispatch.dims(), &[2, experts * spe, tokens]);
        assert_eq!(combine.dims(), &[2, tokens, experts * spe]);
        for (w, what) in [
            (&dispatch, "dispatch over tokens"),
            (&combine, "combine over slots"),
        ] {
            let sums: Vec<Vec<f32>> = w.sum(2).unwrap().to_vec2().unwrap();
            for s in sums.iter().flatten() {
                assert!((s - 1.0).abs() < 1e-5, "{k:?} {what} sums to {s}");
            }
            let min: f32 = w
                .flatten_all()
                .unwrap()
                .min(0)
                .unwrap()
                .to_scalar()
                .unwrap();
            assert!(min > 0.0, "{what} has non-positive weights");
        }
        let y = moe.forward(&x, k).unwrap();
        assert_eq!(y.dims(), x.dims());
    }
}

#[test]
fn soft_moe_model_loss_falls_on_a_toy_task() {
    // Impute sine waves of random phase with 30% of the points missing.
    let cfg = ModelConfig {
        dropout: 0.0,
        attn_dropout: 0.0,
        ..tiny(1, FfnKind::SoftMoe)
    };
    let l = cfg.seq_len;
    let (model, vm) = build(&cfg, 13);
    let mut opt = candle_nn::AdamW::new(
        vm.all_vars(),
        candle_nn::ParamsAdamW {
            lr: 3e-3,
            ..Default::default()
        },
    )
    .unwrap();
    let phases = rand_vec(64, 14, 3.0);
    let data: Vec<f32> = (0..16 * l)
        .map(|i| ((i % l) as f32 * 0.5 + phases[i / l]).sin())
        .collect();
    let x = Tensor::from_vec(data, (16, l), &Device::Cpu).unwrap();
    let m = Tensor::from_vec(
        rand_vec(16 * l, 15, 1.0)
            .iter()
            .map(|r| u8::from(*r > 0.4))
            .collect::<Vec<_>>(),
        (16, l),
        &Device::Cpu,
    )
    .unwrap();
    let mf = m.to_dtype(DType::F32).unwrap();
    let loss = |model: &WonHee| {
        let pred = model.forward_impute(&x, &m, true).unwrap();
        ((pred - &x).unwrap() * &mf)
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .div(&mf.sum_all().unwrap())
            .unwrap()
    };
    let first: f32 = loss(&model).to_scalar().unwrap();
    let mut last = first;
    for _ in 0..150 {
        let l = loss(&model);
        last = l.to_scalar().unwrap();
        opt.backward_step(&l).unwrap();
    }
    assert!(last < 0.3 * first && last < 0.15, "loss {first} -> {last}");
}

#[test]
fn fused_and_composed_models_agree_in_training_mode() {
    // Same dropout masks by construction: losses and gradients must agree. SwiGLU blocks run
    // as one fused block op, Soft-MoE blocks as separate fused ops.
    for (patch, ffn) in [
        (1, FfnKind::Swiglu),
        (3, FfnKind::Swiglu),
        (2, FfnKind::SoftMoe),
    ] {
        let cfg = tiny(patch, ffn);
        let (fused, vm) = build(&cfg, 16);
        let composed = WonHee::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu))
            .unwrap()
            .with_kernels(Kernels::Composed);
        let fused = fused.with_kernels(Kernels::Fused);
        let x = rand((B, cfg.seq_len), 17, 1.0);
        let m = mask(B, cfg.seq_len, 18);
        let mut grads = Vec::new();
        let mut outs = Vec::new();
        for model in [&fused, &composed] {
            model.seed_dropout(19);
            let losses = task_losses(model, &x, &x, &m, &labels(), true);
            let sum = ((&losses[0] + &losses[1]).unwrap() + &losses[2]).unwrap();
            outs.push(sum.to_scalar::<f32>().unwrap());
            grads.push(sum.backward().unwrap());
        }
        assert!(
            (outs[0] - outs[1]).abs() < 1e-4,
            "{ffn:?} P={patch}: losses {outs:?}"
        );
        for (name, var) in vm.data().lock().unwrap().iter() {
            let a = grads[0].get(var.as_tensor()).unwrap();
            let b = grads[1].get(var.as_tensor()).unwrap();
            let d = max_abs_diff(a, b);
            assert!(d < 1e-4, "{ffn:?} P={patch} {name}: {d}");
        }
    }
}

#[test]
fn dropout_is_seeded_resumable_and_off_in_eval() {
    let cfg = tiny(2, FfnKind::Swiglu);
    let (model, _) = build(&cfg, 20);
    let x = rand((B, cfg.seq_len), 21, 1.0);
    let run = |train| model.forward_classify(&x, train).unwrap();
    model.seed_dropout(1);
    let a1 = run(true);
    let state = model.dropout_state();
    let a2 = run(true);
    model.seed_dropout(1);
    assert_eq!(
        max_abs_diff(&run(true), &a1),
        0.0,
        "same seed, different result"
    );
    assert_eq!(
        max_abs_diff(&run(true), &a2),
        0.0,
        "second pass differs after re-seeding"
    );
    model.set_dropout_state(state);
    assert_eq!(
        max_abs_diff(&run(true), &a2),
        0.0,
        "restored state does not resume"
    );
    assert!(
        max_abs_diff(&a1, &a2) > 0.0,
        "consecutive passes share a mask"
    );
    model.seed_dropout(2);
    assert!(max_abs_diff(&run(true), &a1) > 0.0, "seed ignored");
    // Evaluation: no dropout, no generator use.
    let before = model.dropout_state();
    let e1 = run(false);
    assert_eq!(model.dropout_state(), before);
    let no_drop = ModelConfig {
        dropout: 0.0,
        attn_dropout: 0.0,
        ..cfg.clone()
    };
    let vm2 = init_varmap(&no_drop, 20, &Device::Cpu).unwrap();
    let plain = WonHee::new(
        &no_drop,
        VarBuilder::from_varmap(&vm2, DType::F32, &Device::Cpu),
    )
    .unwrap();
    assert_eq!(
        max_abs_diff(&e1, &plain.forward_classify(&x, true).unwrap()),
        0.0
    );
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(
        serde_json::from_str::<wonhee_model::DropoutState>(&json).unwrap(),
        state
    );
}

#[test]
fn weights_round_trip_and_bad_files_are_named() {
    let cfg = tiny(2, FfnKind::Swiglu);
    let (model, vm) = build(&cfg, 22);
    let x = rand((B, cfg.seq_len), 23, 1.0);
    let want = model.forward_classify(&x, false).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    save_weights(&vm, &path).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "temporary file left behind"
    );

    let vm2 = init_varmap(&cfg, 99, &Device::Cpu).unwrap();
    load_weights(&vm2, &path).unwrap();
    let model2 = WonHee::new(
        &cfg,
        VarBuilder::from_varmap(&vm2, DType::F32, &Device::Cpu),
    )
    .unwrap();
    assert_eq!(
        max_abs_diff(&model2.forward_classify(&x, false).unwrap(), &want),
        0.0
    );

    let other = ModelConfig {
        d_model: 8,
        ..cfg.clone()
    };
    let vm3 = init_varmap(&other, 0, &Device::Cpu).unwrap();
    let e = load_weights(&vm3, &path).unwrap_err().to_string();
    assert!(e.contains("w.safetensors") && e.contains("shape"), "{e}");
    let more = ModelConfig {
        n_layers: 3,
        ..cfg.clone()
    };
    let vm4 = init_varmap(&more, 0, &Device::Cpu).unwrap();
    let e = load_weights(&vm4, &path).unwrap_err().to_string();
    assert!(
        e.contains("missing tensors") && e.contains("encoder.2."),
        "{e}"
    );
    let garbage = dir.path().join("g.safetensors");
    std::fs::write(&garbage, b"not a safetensors file").unwrap();
    let e = load_weights(&vm2, &garbage).unwrap_err().to_string();
    assert!(e.contains("g.safetensors"), "{e}");
    let e = load_weights(&vm2, dir.path().join("none.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("none.safetensors"), "{e}");
}

#[test]
fn bad_inputs_get_clear_errors() {
    let cfg = tiny(2, FfnKind::Swiglu);
    let (model, _) = build(&cfg, 24);
    let l = cfg.seq_len;
    let m = mask(B, l, 25);
    let e = model
        .forward_classify(&rand((B, l + 1), 1, 1.0), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected [batch, 24]"), "{e}");
    let e = model
        .forward_impute(&rand((B, l), 1, 1.0), &mask(B + 1, l, 1), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing mask has shape"), "{e}");
    let x64 = rand((B, l), 1, 1.0).to_dtype(DType::F64).unwrap();
    assert!(
        model
            .forward_classify(&x64, false)
            .unwrap_err()
            .to_string()
            .contains("f32")
    );
    // NaN at an observed point is an error naming the place; at a missing point it is fine.
    let mut v = rand_vec(B * l, 2, 1.0);
    let ms: Vec<u8> = m.flatten_all().unwrap().to_vec1().unwrap();
    let observed = ms.iter().position(|&x| x == 0).unwrap();
    let missing_at = ms.iter().position(|&x| x != 0).unwrap();
    v[missing_at] = f32::NAN;
    let ok = Tensor::from_vec(v.clone(), (B, l), &Device::Cpu).unwrap();
    assert!(model.forward_impute(&ok, &m, false).is_ok());
    v[observed] = f32::NAN;
    let bad = Tensor::from_vec(v, (B, l), &Device::Cpu).unwrap();
    let e = model
        .forward_impute(&bad, &m, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("x[{}, {}]", observed / l, observed % l)),
        "{e}"
    );
    // An f32 0/1 mask is the same as a u8 one.
    let mf = m.to_dtype(DType::F32).unwrap();
    let a = model.forward_impute(&ok, &m, false).unwrap();
    let b = model.forward_impute(&ok, &mf, false).unwrap();
    assert_eq!(max_abs_diff(&a, &b), 0.0);
    assert_eq!(
        model.embed(&rand((B, l), 3, 1.0)).unwrap().dims(),
        &[B, cfg.d_model]
    );
}
