//! Agreement with an independent PyTorch implementation (float64) for two tiny configs with
//! fixed weights: outputs, [CLS] embedding, losses and every gradient within 1e-4.
//! Fixtures written by docs/reference-scripts/model_fixture.py.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use common::{max_abs_diff, task_losses};
use wonhee_model::ops::Kernels;
use wonhee_model::{ModelConfig, WonHee, init_varmap, load_weights};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("tests/fixtures")
    .join(name)
}

fn check(name: &str, kernels: Kernels) {
    let cfg = ModelConfig::from_toml_file(fixture(&format!("{name}.toml"))).unwrap();
    let vm = init_varmap(&cfg, 0, &Device::Cpu).unwrap();
    load_weights(&vm, fixture(&format!("{name}.weights.safetensors"))).unwrap();
    let model = WonHee::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu))
        .unwrap()
        .with_kernels(kernels);
    let exp: HashMap<String, Tensor> = candle_core::safetensors::load(
        fixture(&format!("{name}.expected.safetensors")),
        &Device::Cpu,
    )
    .unwrap();
    let x = &exp["input.x"];
    let x_masked = &exp["input.x_masked"];
    let missing = &exp["input.missing"];
    let labels = &exp["input.labels"];
    let tol = 1e-4;
    let close = |what: &str, got: &Tensor, want: &Tensor| {
        let d = max_abs_diff(got, want);
        assert!(d <= tol, "{name} {kernels:?} {what}: max |diff| {d}");
    };
    close(
        "classify",
        &model.forward_classify(x, false).unwrap(),
        &exp["out.classify"],
    );
    close("embed", &model.embed(x).unwrap(), &exp["out.embed"]);
    close(
        "impute",
        &model.forward_impute(x_masked, missing, false).unwrap(),
        &exp["out.impute"],
    );
    close(
        "forecast",
        &model.forward_forecast(x_masked, missing, false).unwrap(),
        &exp["out.forecast"],
    );

    let losses = task_losses(&model, x, x_masked, missing, labels, false);
    for (l, key) in losses
        .iter()
        .zip(["loss.classify", "loss.impute", "loss.forecast"])
    {
        close(key, &l.reshape(1).unwrap(), &exp[key]);
    }
    let total = ((&losses[0] + &losses[1]).unwrap() + &losses[2]).unwrap();
    let grads = total.backward().unwrap();
    let data = vm.data().lock().unwrap();
    assert_eq!(
        data.len(),
        exp.keys().filter(|k| k.starts_with("grad.")).count()
    );
    for (n, var) in data.iter() {
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("{name}: no gradient for {n}"));
        close(&format!("grad of {n}"), g, &exp[&format!("grad.{n}")]);
    }
}

#[test]
fn swiglu_with_patching_matches_pytorch_fused() {
    check("tiny_swiglu", Kernels::Fused);
}

#[test]
fn swiglu_with_patching_matches_pytorch_composed() {
    check("tiny_swiglu", Kernels::Composed);
}

#[test]
fn soft_moe_matches_pytorch_fused() {
    check("tiny_moe", Kernels::Fused);
}

#[test]
fn soft_moe_matches_pytorch_composed() {
    check("tiny_moe", Kernels::Composed);
}
