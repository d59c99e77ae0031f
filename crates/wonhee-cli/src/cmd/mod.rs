//! One module per subcommand: its clap arguments and its `run`.

pub mod adapt;
pub mod annotations;
pub mod bench;
pub mod compare;
pub mod detect;
pub mod download;
pub mod eval;
pub mod export;
pub mod impute;
pub mod info;
pub mod model;
pub mod pool;
pub mod predict;
pub mod prepare;
pub mod report;
pub mod train;
pub mod tsne;

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress(len: u64, message: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed_precise}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    bar
}
