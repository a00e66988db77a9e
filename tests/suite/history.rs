//! The loss history keeps constant memory however long training runs.

use bevy_neural_sphere::learn::{LossBucket, LossHistory, StepStats};

fn step(step: usize) -> StepStats {
    StepStats {
        step,
        loss: (step % 7) as f32,
        lr: 0.05,
    }
}

/// Checks that the spans follow one another from step 0 and counts the steps they cover.
fn steps_covered(spans: &[LossBucket]) -> usize {
    spans.iter().fold(0, |next, span| {
        assert_eq!(span.first_step, next);
        next + span.steps
    })
}

/// The mean loss over the steps the spans cover.
fn mean(spans: &[LossBucket]) -> f64 {
    let sum: f64 = spans.iter().map(|s| s.mean as f64 * s.steps as f64).sum();
    sum / steps_covered(spans) as f64
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
    assert_eq!(
        steps_covered(&buckets),
        history.recent().next().unwrap().step
    );
    assert_eq!(buckets.iter().map(|b| b.min).fold(f32::MAX, f32::min), 0.0);
    assert_eq!(buckets.iter().map(|b| b.max).fold(f32::MIN, f32::max), 6.0);
    assert!(
        (mean(&buckets) - 3.0).abs() < 1e-3,
        "mean {}",
        mean(&buckets)
    );
    assert_eq!(history.lowest(), Some(0.0));

    // A plot 300 pixels wide gets at most 300 columns that cover every step once, in order,
    // and keep the run's extremes and mean.
    let columns = history.columns(300);
    assert!(columns.len() <= 300, "{} columns", columns.len());
    assert_eq!(steps_covered(&columns), 1_000_000);
    assert!(columns.iter().all(|c| c.min == 0.0 && c.max == 6.0));
    assert!(
        (mean(&columns) - 3.0).abs() < 1e-3,
        "mean {}",
        mean(&columns)
    );

    history.clear();
    assert!(history.is_empty());
    assert_eq!(history.columns(300), Vec::new());
}

#[test]
fn a_short_run_gets_a_column_for_each_step() {
    let mut history = LossHistory::default();
    history.extend((0..50).map(step));
    let columns = history.columns(300);
    assert_eq!(columns.len(), 50);
    for (i, column) in columns.iter().enumerate() {
        let loss = (i % 7) as f32;
        assert_eq!((column.first_step, column.steps), (i, 1));
        assert_eq!((column.min, column.mean, column.max), (loss, loss, loss));
    }
    // However many columns are asked for, the run itself bounds them.
    assert_eq!(history.columns(usize::MAX), columns);
}
