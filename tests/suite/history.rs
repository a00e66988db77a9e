//! The loss history keeps constant memory however long training runs.

use bevy_neural_sphere::{LossHistory, StepStats};

fn step(step: usize) -> StepStats {
    StepStats {
        step,
        loss: (step % 7) as f32,
        lr: 0.05,
    }
}

#[test]
fn a_million_steps_fit_in_the_same_memory_as_two_thousand() {
    let mut history = LossHistory::default();
    history.extend((0..2000).map(step));
    let early = (history.recent().len(), history.buckets().count());
    history.extend((2000..1_000_000).map(step));

    assert_eq!(history.len(), 1_000_000);
    assert_eq!(history.last(), Some(&step(999_999)));
    assert_eq!(history.recent().len(), LossHistory::RECENT_STEPS);
    assert_eq!(early.0, LossHistory::RECENT_STEPS);
    let buckets: Vec<_> = history.buckets().copied().collect();
    assert!(
        buckets.len() <= LossHistory::MAX_BUCKETS,
        "{} buckets",
        buckets.len()
    );

    // The buckets cover every older step once, in order, and keep their extremes.
    let mut next = 0;
    for bucket in &buckets {
        assert_eq!(bucket.first_step, next);
        next += bucket.steps;
    }
    assert_eq!(next, history.recent().next().unwrap().step);
    assert_eq!(buckets.iter().map(|b| b.min).fold(f32::MAX, f32::min), 0.0);
    assert_eq!(buckets.iter().map(|b| b.max).fold(f32::MIN, f32::max), 6.0);
    let mean = buckets
        .iter()
        .map(|b| b.mean as f64 * b.steps as f64)
        .sum::<f64>()
        / next as f64;
    assert!((mean - 3.0).abs() < 1e-3, "mean {mean}");
    assert_eq!(history.lowest(), Some(0.0));

    // The plot gets at most the promised number of points, in step order.
    let curve = history.curve();
    assert!(
        curve.len() <= LossHistory::MAX_CURVE_POINTS,
        "{} points",
        curve.len()
    );
    assert!(curve.windows(2).all(|w| w[0][0] < w[1][0]));
    assert_eq!(curve.last(), Some(&[999_999.0, (999_999 % 7) as f64]));

    // The range keeps every bucket's extremes, within its own bound.
    let spread = history.spread();
    assert!(spread.len() <= LossHistory::MAX_SPREAD_POINTS);
    assert!(spread.windows(2).all(|w| w[0][0] < w[1][0]));
    let older = &spread[..spread.len() - LossHistory::RECENT_STEPS];
    assert_eq!(older.iter().map(|p| p[1]).fold(f64::MAX, f64::min), 0.0);
    assert_eq!(older.iter().map(|p| p[1]).fold(f64::MIN, f64::max), 6.0);

    history.clear();
    assert!(history.is_empty());
    assert_eq!(history.curve(), Vec::<[f64; 2]>::new());
}
