//! Viewers as the fault: slow readers beside normal ones, and a rush through the waiting room.

use std::time::{Duration, Instant};

use super::{failed, Row, Stack};
use testkit::{eventually, Reading, Viewer};

/// A stalled and a slow-reading viewer next to normal ones: the others' latency is unchanged.
pub async fn slow_viewers(stack: &Stack) -> Row {
    stack.reset().await;
    let normal = stack.viewers(100, Reading::Normal);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let baseline = latency_round(stack, &normal, "A").await;
    let _stalled = stack.viewers(1, Reading::StallAfter(3));
    let _slow = stack.viewers(1, Reading::Slow);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let with_slow = latency_round(stack, &normal, "B").await;
    let violations: usize = normal
        .iter()
        .map(|v| v.view.lock().unwrap().violations.len())
        .sum();
    let ok = baseline.2 == 0
        && with_slow.2 == 0
        && violations == 0
        && with_slow.1 <= baseline.1 * 2.0 + 5.0;
    Row {
        scenario: "A stalled viewer and a slow-reading viewer".into(),
        done: "100 normal viewers through NGINX; 100 changes at 20/s, then the same with one viewer that never reads and one that reads every 50 ms".into(),
        observed: format!(
            "normal viewers' latency p50/p99 {:.1}/{:.1} ms before and {:.1}/{:.1} ms with the slow ones; {} + {} updates missing; {violations} seq violations",
            baseline.0, baseline.1, with_slow.0, with_slow.1, baseline.2, with_slow.2
        ),
        figures: format!("p99 {:.1} → {:.1} ms", baseline.1, with_slow.1),
        passed: ok,
    }
}

/// 100 changes at 20/s on row `row`; the normal viewers' p50 and p99 (ms) and missing updates.
async fn latency_round(stack: &Stack, viewers: &[Viewer], row: &str) -> (f64, f64, usize) {
    let (token, _) = stack.mint();
    let mut sent: Vec<(String, u64, Instant)> = Vec::new();
    for n in 0..100 {
        let seat = format!("{row}{}", n % 10 + 1);
        let verb = if (n / 10) % 2 == 0 {
            "select"
        } else {
            "release"
        };
        let at = Instant::now();
        if stack.seat(&stack.bookings[0], verb, &seat, &token).await == "OK" {
            sent.push((seat, if verb == "select" { 1 } else { 0 }, at));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut latencies = Vec::new();
    let mut missing = 0;
    for viewer in viewers {
        let arrivals = viewer.view.lock().unwrap().arrivals.clone();
        for (seat, status, at) in &sent {
            match arrivals
                .iter()
                .find(|(s, st, got)| s == seat && st == status && got >= at)
            {
                Some((_, _, got)) => latencies.push(got.duration_since(*at).as_secs_f64() * 1000.0),
                None => missing += 1,
            }
        }
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    (
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.99),
        missing,
    )
}

/// The waiting room under load (the stack runs with MAX_SHOPPERS and a short SHOPPING_SECONDS):
/// viewers join one after another through NGINX; as passes end, the rest must be admitted in
/// join order. Reports the time from a freed slot (a pass ending) to the next admission.
pub async fn queue(stack: &Stack, max_shoppers: usize, viewers: usize) -> Row {
    let mut joined: Vec<Viewer> = Vec::new();
    for _ in 0..viewers {
        let viewer = Viewer::spawn(&stack.ws, Reading::Normal);
        let placed = eventually(Duration::from_secs(10), || {
            let s = viewer.view.lock().unwrap();
            s.queue_position.is_some() || s.admitted.is_some()
        })
        .await;
        if !placed {
            return failed(
                "queue",
                "a viewer got neither QUEUE nor ADMITTED within 10 s (is MAX_SHOPPERS set?)",
            );
        }
        joined.push(viewer);
    }
    let joined_waiting = joined
        .iter()
        .filter(|v| v.view.lock().unwrap().admitted.is_none())
        .count();
    // Wait until everyone has been admitted once (passes are short), bounded.
    let all_in = eventually(Duration::from_secs(120), || {
        joined
            .iter()
            .all(|v| !v.view.lock().unwrap().admissions.is_empty())
    })
    .await;
    // Each viewer's first admission, by join order: when it arrived, and its pass's end
    // (Redis's admission time plus SHOPPING_SECONDS: the true order of admissions; arrival
    // order across two edges can differ by one presence report).
    let firsts: Vec<(usize, Instant, u64)> = joined
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.view
                .lock()
                .unwrap()
                .admissions
                .first()
                .map(|(at, until)| (i, *at, *until))
        })
        .collect();
    let order_errors = order_errors(&firsts);
    let delays = slot_to_admission_ms(&joined, &firsts, max_shoppers);
    let pick = |q: f64| quantile(&delays, q);
    Row {
        scenario: "Waiting room under load".into(),
        done: format!("{viewers} viewers join one after another through NGINX (MAX_SHOPPERS={max_shoppers}); passes run out and the rest are admitted"),
        observed: format!(
            "{} of {viewers} admitted, {joined_waiting} after waiting; ordering errors (admitted before someone who joined earlier): {order_errors}; from a slot freeing to the next admission p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            firsts.len(), pick(0.5), pick(0.99), pick(1.0)
        ),
        figures: format!("ordering errors {order_errors}; free slot → admission p99 {:.0} ms", pick(0.99)),
        passed: all_in && order_errors == 0,
    }
}

/// Ordering errors among first admissions (join index, arrival, pass end): a viewer admitted
/// before one that joined earlier.
fn order_errors(firsts: &[(usize, Instant, u64)]) -> usize {
    let mut errors = 0;
    for (i, _, a) in firsts {
        for (j, _, b) in firsts {
            if i < j && a > b {
                errors += 1;
            }
        }
    }
    errors
}

/// From a freed slot to the next admission, sorted (ms): for each first admission after the
/// first `max_shoppers`, its arrival minus the latest pass end before it (one clock: this
/// machine).
fn slot_to_admission_ms(
    joined: &[Viewer],
    firsts: &[(usize, Instant, u64)],
    max_shoppers: usize,
) -> Vec<f64> {
    let base = Instant::now();
    let now_ms = shared::now_ms() as f64;
    let ms_of = |at: &Instant| now_ms - base.duration_since(*at).as_secs_f64() * 1000.0;
    let ends: Vec<f64> = joined
        .iter()
        .flat_map(|v| {
            let view = v.view.lock().unwrap();
            let ends = view.admissions.iter().map(|(_, until)| *until as f64);
            ends.collect::<Vec<_>>()
        })
        .collect();
    let mut by_time: Vec<f64> = firsts.iter().map(|(_, at, _)| ms_of(at)).collect();
    by_time.sort_by(|a, b| a.total_cmp(b));
    let mut delays: Vec<f64> = by_time
        .iter()
        .skip(max_shoppers)
        .filter_map(|at| {
            // The last pass that had ended by then: the slot this admission took.
            ends.iter()
                .copied()
                .filter(|end| *end <= *at)
                .reduce(f64::max)
                .map(|end| at - end)
        })
        .collect();
    delays.sort_by(|a, b| a.total_cmp(b));
    delays
}

/// The `q` quantile of `sorted` (the nearest rank below); NaN when it is empty.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * q) as usize)
        .copied()
        .unwrap_or(f64::NAN)
}
