//! A trained run's [CLS] embeddings of dataset windows: the features of `wonhee tsne --run`
//! (the paper's embedding figure).

use candle_core::Tensor;
use wonhee_dataset::{Dataset, scale_into};

use crate::batch::{lead2_batch, rhythm_batch};
use crate::error::Result;
use crate::evaluate::check_dataset;
use crate::run::Run;

/// Windows per forward pass.
const BATCH: usize = 256;

/// The [CLS] embeddings (`d_model` values per window, row-major) of the full windows `idx` of
/// `ds`, the dataset the run was trained on, scaled with the run's training-side scaler.
/// `progress` is called with the number of windows done after each batch.
pub fn embed_windows(
    run: &Run,
    ds: &Dataset,
    idx: &[usize],
    progress: &dyn Fn(usize),
) -> Result<Vec<f32>> {
    check_dataset(run, ds)?;
    let scaler = ds.scaler(run.config.train.fold)?;
    let (model, len) = (&run.model, ds.window_len());
    let dev = model.device();
    let mut values = Vec::with_capacity(idx.len() * run.config.model.d_model);
    let mut buf = vec![0f32; len];
    let mut done = 0;
    for chunk in idx.chunks(BATCH) {
        let mut x = Vec::with_capacity(chunk.len() * len);
        for &i in chunk {
            scale_into(ds.window(i), &scaler, &mut buf);
            x.extend_from_slice(&buf);
        }
        let x = Tensor::from_vec(x, (chunk.len(), len), dev)?;
        let r = rhythm_batch(model.config(), ds, chunk, dev)?;
        let x2 = lead2_batch(model.config(), ds, chunk, dev)?;
        values.extend(
            model
                .embed_leads(&x, x2.as_ref(), r.as_ref())?
                .flatten_all()?
                .to_vec1::<f32>()?,
        );
        done += chunk.len();
        progress(done);
    }
    Ok(values)
}
