//! `wonhee model --config F`: parameter count and FLOPs of a model configuration.

use std::path::PathBuf;

use anyhow::Result;
use wonhee_model::ModelConfig;

/// Arguments of `wonhee model`.
#[derive(clap::Args)]
pub struct Args {
    /// Model or run configuration (TOML; a [model] table is used when present).
    #[arg(long)]
    config: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let cfg = ModelConfig::from_toml_file(&args.config)?;
    let f = cfg.flops();
    if args.json {
        let v = serde_json::json!({
            "config": cfg, "parameters": cfg.param_count(), "tokens": cfg.n_tokens(),
            "flops_per_sample": { "classify": f.classify, "impute": f.impute, "forecast": f.forecast, "train_step": f.train_step },
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "model: L {} / patch {} -> {} tokens, d {}, {} heads, {} encoder blocks ({:?}), heads of {} blocks, {} classes",
        cfg.seq_len,
        cfg.patch,
        cfg.n_tokens(),
        cfg.d_model,
        cfg.n_heads,
        cfg.n_layers,
        cfg.ffn,
        cfg.head_layers,
        cfg.n_classes
    );
    println!("parameters: {}", cfg.param_count());
    println!(
        "FLOPs per sample (forward): classify {:.3} G, impute {:.3} G, forecast {:.3} G",
        f.classify / 1e9,
        f.impute / 1e9,
        f.forecast / 1e9
    );
    println!(
        "FLOPs per training sample (3 tasks, forward + backward): {:.3} G",
        f.train_step / 1e9
    );
    Ok(())
}
