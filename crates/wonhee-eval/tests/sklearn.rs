//! Agreement with scikit-learn (numbers from docs/reference-scripts/eval_sklearn.py).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde::Deserialize;
use wonhee_eval::{Bootstrap, classification_report};

#[derive(Deserialize)]
struct Case {
    name: String,
    y_true: Vec<u8>,
    y_pred: Vec<u8>,
    accuracy: f64,
    balanced_accuracy: f64,
    macro_f1: f64,
    precision: Vec<Option<f64>>,
    recall: Vec<Option<f64>>,
    f1: Vec<Option<f64>>,
    tp: Vec<u64>,
    fp: Vec<u64>,
    #[serde(rename = "fn")]
    fn_: Vec<u64>,
    tn: Vec<u64>,
    confusion: Vec<Vec<u64>>,
}

#[derive(Deserialize)]
struct Fixture {
    n_classes: usize,
    cases: Vec<Case>,
}

fn same(what: &str, got: Option<f64>, want: Option<f64>) {
    match (got, want) {
        (Some(g), Some(w)) => assert!((g - w).abs() < 1e-12, "{what}: got {g}, sklearn {w}"),
        (None, None) => {}
        _ => panic!("{what}: got {got:?}, sklearn {want:?}"),
    }
}

#[test]
fn classification_metrics_agree_with_sklearn() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/data/sklearn_cases.json",
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
    ))
    .unwrap();
    let fx: Fixture = serde_json::from_str(&text).unwrap();
    assert_eq!(fx.cases.len(), 4);
    let names: Vec<String> = (0..fx.n_classes).map(|k| format!("c{k}")).collect();
    for c in &fx.cases {
        let r = classification_report(&c.y_true, &c.y_pred, &names, None, &Bootstrap::new(0, 0))
            .unwrap();
        let n = &c.name;
        same(&format!("{n} accuracy"), r.accuracy.value, Some(c.accuracy));
        same(
            &format!("{n} balanced accuracy"),
            r.balanced_accuracy.value,
            Some(c.balanced_accuracy),
        );
        same(&format!("{n} macro-F1"), r.macro_f1.value, Some(c.macro_f1));
        assert_eq!(r.confusion, c.confusion, "{n} confusion");
        for (k, m) in r.per_class.iter().enumerate() {
            same(
                &format!("{n} +P[{k}]"),
                m.positive_predictivity.value,
                c.precision[k],
            );
            same(&format!("{n} Se[{k}]"), m.sensitivity.value, c.recall[k]);
            same(&format!("{n} F1[{k}]"), m.f1.value, c.f1[k]);
            assert_eq!(
                (m.tp, m.fp, m.fn_, m.tn),
                (c.tp[k], c.fp[k], c.fn_[k], c.tn[k]),
                "{n} counts[{k}]"
            );
            // Specificity/FPR from sklearn's one-vs-rest counts.
            let neg = (c.tn[k] + c.fp[k]) as f64;
            same(
                &format!("{n} specificity[{k}]"),
                m.specificity.value,
                (neg > 0.0).then(|| c.tn[k] as f64 / neg),
            );
            same(
                &format!("{n} FPR[{k}]"),
                m.fpr.value,
                (neg > 0.0).then(|| c.fp[k] as f64 / neg),
            );
        }
    }
}
