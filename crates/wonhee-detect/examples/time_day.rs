//! Times detection on a long WFDB record read on demand (development aid):
//! `cargo run --release -p wonhee-detect --example time_day -- RECORD [ROUNDS]`.

use std::time::Instant;

struct Lead(wonhee_wfdb::SignalView);

impl wonhee_detect::Source for Lead {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn read(&self, start: usize, out: &mut [f32]) -> Result<(), wonhee_detect::ReadError> {
        Ok(self.0.physical_into(start, out)?)
    }
}

fn main() -> Result<(), wonhee_detect::ReadError> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: time_day RECORD [ROUNDS]")?;
    let rounds: usize = args.next().map_or(Ok(5), |r| r.parse())?;
    let rec = wonhee_wfdb::Record::open(&path)?;
    let lead = Lead(rec.view(0)?);
    for _ in 0..rounds {
        let t = Instant::now();
        let u = wonhee_detect::unusable_stretches_in(&lead, lead.0.fs())?;
        let tu = t.elapsed();
        let d = wonhee_detect::detect_in(&lead, lead.0.fs(), &Default::default())?;
        println!(
            "{} beats ({} unusable): scan {:.1} ms, detect {:.1} ms",
            d.beats.len(),
            u.len(),
            tu.as_secs_f64() * 1e3,
            (t.elapsed() - tu).as_secs_f64() * 1e3
        );
    }
    Ok(())
}
