//! Isolated timings of the fused attention op (forward and backward) at the model's shapes.
//!
//! `cargo run --release -p wonhee-model --example bench_ops -- [--kernels fused|composed]`
//! prints one JSON line per shape: seconds per call and achieved GFLOP/s (nominal FLOPs:
//! 4 n^2 d per sample forward, 2.5x that for the backward with recomputed scores; causal
//! calls do about half of that work).

use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use wonhee_model::ops::{self, Kernels};

fn time(mut f: impl FnMut()) -> f64 {
    f();
    let (mut n, t) = (0u32, Instant::now());
    while n < 2 || t.elapsed().as_secs_f64() < 1.0 {
        f();
        n += 1;
    }
    t.elapsed().as_secs_f64() / f64::from(n)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kernels = match std::env::args().nth(2).as_deref() {
        Some("composed") => Kernels::Composed,
        _ => Kernels::Fused,
    };
    let (b, heads, d) = (32usize, 4usize, 128usize);
    for n in [641usize, 81] {
        for causal in [false, true] {
            let qkv = Var::from_tensor(&Tensor::randn(0f32, 1.0, (b, n, 3 * d), &Device::Cpu)?)?;
            let dout = Tensor::randn(0f32, 1.0, (b, n, d), &Device::Cpu)?;
            let fwd = time(|| {
                let _ = ops::attention(qkv.as_tensor(), heads, causal, None, kernels);
            });
            let both = time(|| {
                let y = ops::attention(qkv.as_tensor(), heads, causal, None, kernels)
                    .and_then(|y| y * &dout);
                if let Ok(l) = y.and_then(|y| y.sum_all()) {
                    let _ = l.backward();
                }
            });
            let flop = 4.0 * (n * n * d * b) as f64;
            println!(
                "{{\"n\": {n}, \"causal\": {causal}, \"kernels\": \"{kernels:?}\", \"fwd_s\": {fwd:.5}, \"bwd_s\": {:.5}, \"fwd_gflops\": {:.1}, \"bwd_gflops\": {:.1}}}",
                both - fwd,
                flop / fwd / 1e9,
                2.5 * flop / (both - fwd) / 1e9
            );
        }
    }
    // The block's matrix products (same gemm engine as candle's CPU matmul), M = 32 x 641 rows.
    let m = 32 * 641;
    for (what, rows, inner, cols, ta) in [
        ("qkv fwd", m, 128, 384, false),
        ("gate_up fwd", m, 128, 1024, false),
        ("down fwd", m, 512, 128, false),
        ("dX of qkv", m, 384, 128, false),
        ("dW of qkv", 384, m, 128, true),
        ("dW of proj", 128, m, 128, true),
        ("dW of down", 128, m, 512, true),
    ] {
        let a = if ta {
            Tensor::randn(0f32, 1.0, (inner, rows), &Device::Cpu)?.t()?
        } else {
            Tensor::randn(0f32, 1.0, (rows, inner), &Device::Cpu)?
        };
        let b = Tensor::randn(0f32, 1.0, (inner, cols), &Device::Cpu)?;
        let s = time(|| {
            let _ = a.matmul(&b);
        });
        let gflops = 2.0 * (rows * inner * cols) as f64 / s / 1e9;
        println!(
            "{{\"matmul\": \"{what}\", \"m\": {rows}, \"k\": {inner}, \"n\": {cols}, \"s\": {s:.5}, \"gflops\": {gflops:.1}}}"
        );
    }
    Ok(())
}
