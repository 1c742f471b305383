//! `avsl convert`: checkpoints between the authors' `.pth` and our safetensors.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Result, bail};
use avsl_data::fsutil::write_atomic;
use avsl_model::checkpoint::{pth_bytes, read_checkpoint, safetensors_bytes};
use clap::Args;

#[derive(Args)]
pub struct ConvertArgs {
    /// A .pth (the authors' or torchvision-style state dict) or an avsl .safetensors file.
    #[arg(long)]
    pub input: PathBuf,
    /// `.safetensors` writes our format, `.pth` the authors' layout.
    #[arg(long)]
    pub output: PathBuf,
    /// τ recorded in the configuration when the input has none (the authors' files).
    #[arg(long, default_value_t = 0.03)]
    pub tau: f64,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
}

enum Format {
    Pth,
    Safetensors,
}

pub fn run(args: ConvertArgs) -> Result<()> {
    let format = match args.output.extension().and_then(|e| e.to_str()) {
        Some("safetensors") => Format::Safetensors,
        Some("pth" | "pt") => Format::Pth,
        _ => bail!("{}: name the output .safetensors (avsl's format) or .pth (the authors')", args.output.display()),
    };
    if args.output.exists() {
        let same = std::fs::canonicalize(&args.output)? == std::fs::canonicalize(&args.input)?;
        if same {
            bail!("{}: the output is the input; choose another file", args.output.display());
        }
        if !args.force {
            bail!("{}: exists (pass --force to replace it)", args.output.display());
        }
    }
    let checkpoint = read_checkpoint(&args.input)?;
    let config = checkpoint.config(args.tau, None)?;
    checkpoint.verify(&config)?;
    match format {
        Format::Safetensors => {
            let mut metadata = BTreeMap::new();
            metadata.insert("converted_from".to_string(), args.input.display().to_string());
            metadata.extend(checkpoint.metadata.clone());
            write_atomic(&args.output, &safetensors_bytes(&args.output, &checkpoint.weights, &config, &metadata)?)?;
        }
        Format::Pth => write_atomic(&args.output, &pth_bytes(&args.output, &checkpoint.weights)?)?,
    }
    println!(
        "{} ({}, d = {}, {} tensors) -> {}",
        args.input.display(),
        config.architecture.name(),
        config.dim,
        checkpoint.weights.len(),
        args.output.display()
    );
    Ok(())
}
