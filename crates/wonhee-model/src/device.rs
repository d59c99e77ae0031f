//! Parsing `--device` strings.

use candle_core::Device;

use crate::{ModelError, Result};

/// Whether this build can run on CUDA GPUs (the `cuda` feature).
pub const CUDA_COMPILED: bool = cfg!(feature = "cuda");

/// Parses `cpu`, `cuda` (GPU 0) or `cuda:N` into a candle [`Device`].
///
/// Errors name the string and say why: unknown syntax, a binary built without the `cuda`
/// feature, or no usable GPU with that ordinal (no driver, no device).
pub fn parse_device(spec: &str) -> Result<Device> {
    let s = spec.trim().to_ascii_lowercase();
    let err = |msg: String| ModelError::Device {
        spec: spec.to_string(),
        msg,
    };
    if s == "cpu" {
        return Ok(Device::Cpu);
    }
    let ordinal = if s == "cuda" || s == "gpu" {
        0
    } else if let Some(n) = s.strip_prefix("cuda:") {
        n.parse::<usize>().map_err(|_| {
            err(format!(
                "{n:?} is not a GPU number (expected cuda:0, cuda:1, ...)"
            ))
        })?
    } else {
        return Err(err("expected `cpu`, `cuda` or `cuda:N`".into()));
    };
    if !CUDA_COMPILED {
        return Err(err(
            "this binary was built without CUDA support; rebuild with `--features cuda` \
             (see docs/gpu.md)"
                .into(),
        ));
    }
    Device::new_cuda(ordinal).map_err(|e| {
        // candle appends a backtrace to some errors: keep the first line.
        let e = e.to_string();
        let first = e.lines().next().unwrap_or("unknown error").trim();
        err(format!(
            "no usable CUDA GPU {ordinal} (driver and device present?): {first}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_rejects_garbage() {
        assert!(parse_device("cpu").is_ok_and(|d| d.is_cpu()));
        assert!(parse_device(" CPU ").is_ok_and(|d| d.is_cpu()));
        for bad in ["", "tpu", "cuda:x", "cuda:-1", "cuda:"] {
            let e = parse_device(bad).map(|_| ()).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn cuda_without_gpu_is_a_clear_error() {
        // Without the feature: "built without CUDA"; with it but no GPU here: "no usable CUDA GPU".
        if let Err(e) = parse_device("cuda:0") {
            let e = e.to_string();
            assert!(
                e.contains("without CUDA") || e.contains("no usable CUDA GPU"),
                "{e}"
            );
        }
    }
}
