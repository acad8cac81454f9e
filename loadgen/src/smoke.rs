//! The correctness-only run: viewers in this process, a few changes, and a verdict on order,
//! gaps and duplicates. It never judges timing, so it is safe on a loaded CI machine.

use std::time::Duration;

use anyhow::bail;

use crate::driver::ChangeDriver;
use crate::viewers::{GroupSpec, Protocol, Report, ViewerGroup};

/// Connects `viewers` seat-map viewers round-robin to `urls`, makes `changes` changes through
/// the booking API, and fails unless every viewer got every change once, in order.
pub async fn run(
    booking: &str,
    urls: &[String],
    viewers: usize,
    changes: usize,
) -> anyhow::Result<Report> {
    let spec = GroupSpec {
        protocol: Protocol::Seatmap,
        urls: urls.to_vec(),
        count: viewers,
        offset: 0,
        venue: None,
        source_ips: 1,
        parallel: 64,
        compact: false,
        spread_ms: 0,
    };
    let group = ViewerGroup::connect(&spec, Duration::from_secs(60)).await?;
    if group.ready() < viewers {
        bail!(
            "only {} of {viewers} viewers got a VENUE_STATE ({:?})",
            group.ready(),
            group.joins().await?.first_error
        );
    }
    let mut driver = ChangeDriver::new(booking, "main").await?;
    let sent = driver.run(50.0, changes).await?;
    let expected = sent.sent_ns.len() as u64 * viewers as u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while group.count(sent.first_seq, sent.last_seq()).await?.0 < expected
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = group
        .report(sent.first_seq, sent.sent_ns.clone(), Vec::new())
        .await?;
    driver.release_all().await?;
    if !report.is_correct() || report.delivered != expected || report.resynced != 0 {
        bail!(
            "{viewers} viewers x {} changes: delivered {} of {expected}, missing {}, resynced {}, duplicates {}, out of order {}, closed {} ({:?})",
            sent.sent_ns.len(),
            report.delivered,
            report.missing,
            report.resynced,
            report.duplicates,
            report.out_of_order,
            report.closed,
            report.close_reasons
        );
    }
    Ok(report)
}
