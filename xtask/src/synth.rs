//! Synthetic two-lead ECG with reference-style beat annotations, for test fixtures.
//!
//! Each beat is a sum of Gaussian waves (P, Q, R, S, T) whose shape depends on the beat's
//! class; the rhythm has mild RR variability, premature beats come early and are followed by
//! a compensatory pause. Baseline wander, mains hum and white noise are added. Everything is
//! drawn from a seeded generator, so the same seed gives the same bytes.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use wonhee_wfdb::Annotation;
use wonhee_wfdb::symbol_code;

/// One Gaussian wave: amplitude (mV), centre relative to the R peak (s), width (s).
#[derive(Clone, Copy)]
struct Wave(f64, f64, f64);

/// Wave shapes per beat symbol, for lead MLII.
fn shape(symbol: &str) -> Vec<Wave> {
    let normal = vec![
        Wave(0.15, -0.20, 0.025),
        Wave(-0.10, -0.03, 0.010),
        Wave(1.20, 0.0, 0.012),
        Wave(-0.25, 0.03, 0.012),
        Wave(0.30, 0.25, 0.050),
    ];
    let ventricular = vec![
        Wave(1.5, 0.0, 0.040),
        Wave(-0.6, 0.08, 0.040),
        Wave(-0.5, 0.32, 0.070),
    ];
    match symbol {
        "N" | "j" | "e" => normal,
        // Bundle branch blocks: a widened, notched QRS.
        "L" => vec![
            Wave(0.15, -0.2, 0.025),
            Wave(0.9, -0.01, 0.02),
            Wave(0.8, 0.03, 0.02),
            Wave(-0.3, 0.3, 0.06),
        ],
        "R" => vec![
            Wave(0.15, -0.2, 0.025),
            Wave(1.0, 0.0, 0.012),
            Wave(-0.2, 0.03, 0.01),
            Wave(0.5, 0.06, 0.015),
            Wave(0.25, 0.26, 0.05),
        ],
        // Supraventricular ectopics: abnormal (inverted, early) P wave, normal QRS.
        "A" | "a" | "J" | "S" => {
            let mut w = normal;
            w[0] = Wave(-0.12, -0.15, 0.02);
            w
        }
        "V" | "E" => ventricular,
        // Fusion: half normal, half ventricular.
        "F" => normal
            .iter()
            .chain(&ventricular)
            .map(|w| Wave(w.0 * 0.55, w.1, w.2))
            .collect(),
        // Paced: a narrow pacemaker spike before a wide complex.
        "/" => vec![
            Wave(2.0, -0.05, 0.002),
            Wave(1.1, 0.0, 0.035),
            Wave(-0.5, 0.07, 0.035),
            Wave(-0.3, 0.3, 0.07),
        ],
        "f" => vec![
            Wave(2.0, -0.05, 0.002),
            Wave(0.1, -0.2, 0.025),
            Wave(1.1, 0.0, 0.02),
            Wave(-0.3, 0.05, 0.02),
            Wave(0.1, 0.28, 0.06),
        ],
        // Unclassifiable: a small irregular complex.
        _ => vec![
            Wave(0.4, 0.0, 0.03),
            Wave(-0.3, 0.05, 0.02),
            Wave(0.2, 0.2, 0.05),
        ],
    }
}

/// A synthetic record: two leads in digital units plus its annotations.
pub struct SynthRecord {
    /// Digital samples of the two leads (MLII-like, V5-like), 11-bit, zero at 1024.
    pub leads: [Vec<i32>; 2],
    /// Beat and rhythm annotations, in time order.
    pub annotations: Vec<Annotation>,
}

/// Generates `seconds` of ECG at `fs` Hz; `rhythm` is the list of beat symbols to cycle through.
pub fn generate(seed: u64, fs: f64, seconds: f64, rhythm: &[&str]) -> SynthRecord {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = (seconds * fs).round() as usize;
    let mut mv = [vec![0f64; n], vec![0f64; n]];
    let mut anns = Vec::new();
    let mut rhythm_note = Annotation::new(0, symbol_code("+").unwrap_or(28));
    rhythm_note.aux = b"(N".to_vec();
    anns.push(rhythm_note);

    let base_rr = 0.8 + rng.random_range(-0.1..0.1);
    let mut t = 0.5;
    let mut previous_premature = false;
    for k in 0.. {
        let sym = rhythm[k % rhythm.len()];
        let premature = matches!(sym, "A" | "a" | "J" | "S" | "V" | "F");
        if k > 0 {
            let rr = base_rr * (1.0 + rng.random_range(-0.04..0.04));
            // Premature beats come early; the beat after one follows a compensatory pause.
            t += if premature {
                0.65 * rr
            } else if previous_premature {
                1.35 * rr
            } else {
                rr
            };
        }
        if t >= seconds - 0.5 {
            break;
        }
        previous_premature = premature;
        let r_sample = (t * fs).round() as i64;
        let code = symbol_code(sym).unwrap_or(13);
        anns.push(Annotation::new(r_sample, code));
        let amp = 1.0 + rng.random_range(-0.08..0.08);
        for (lead, out) in mv.iter_mut().enumerate() {
            for w in shape(sym) {
                // Lead V5: smaller R, deeper S, same timing.
                let a = if lead == 0 {
                    w.0
                } else if w.0 > 0.5 {
                    w.0 * 0.6
                } else {
                    w.0 * 1.3
                };
                add_gaussian(out, fs, t + w.1, w.2, a * amp);
            }
        }
    }
    // A noise episode marker and an isolated artifact, as reference annotators write them.
    let mid = (seconds * fs / 2.0) as i64;
    anns.push(Annotation::new(mid + 7, symbol_code("~").unwrap_or(14)));
    anns.push(Annotation::new(mid + 90, symbol_code("|").unwrap_or(16)));
    anns.sort_by_key(|a| a.sample);

    // Baseline wander, mains hum, white noise.
    let phase: f64 = rng.random_range(0.0..std::f64::consts::TAU);
    for out in &mut mv {
        for (i, v) in out.iter_mut().enumerate() {
            let s = i as f64 / fs;
            *v += 0.1 * (std::f64::consts::TAU * 0.3 * s + phase).sin()
                + 0.02 * (std::f64::consts::TAU * 60.0 * s).sin()
                + 0.01 * gaussian(&mut rng);
        }
    }
    let digitize = |v: &f64| ((v * 200.0).round() as i32 + 1024).clamp(0, 2047);
    SynthRecord {
        leads: [
            mv[0].iter().map(digitize).collect(),
            mv[1].iter().map(digitize).collect(),
        ],
        annotations: anns,
    }
}

fn add_gaussian(out: &mut [f64], fs: f64, centre: f64, width: f64, amp: f64) {
    let lo = ((centre - 5.0 * width) * fs).floor().max(0.0) as usize;
    let hi = (((centre + 5.0 * width) * fs).ceil() as usize).min(out.len());
    for (i, v) in out.iter_mut().enumerate().take(hi).skip(lo) {
        let z = (i as f64 / fs - centre) / width;
        *v += amp * (-0.5 * z * z).exp();
    }
}

/// Standard normal draw (Box-Muller).
fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
