//! A block (N rows of M seats) laid out seat by seat: row labels, per-row overrides, and each
//! seat placed along a straight or curved row, turned about the block's origin.

use std::collections::{BTreeSet, HashSet};

use super::expand::{check_aisles, check_flags, fault, known, seat_id, Checked};
use super::file::{BlockFile, RowOverride};
use super::{Row, RowItem};
use crate::chart::ChartSeat;
use crate::seat::{parse_row_label, row_label};

/// The labels of a block's rows, front to back.
fn block_row_labels(block: &BlockFile, path: &str) -> Checked<Vec<String>> {
    let first = block.first_row.text();
    if let Ok(n) = first.parse::<u32>() {
        return Ok((0..u32::from(block.rows))
            .map(|i| (n + i).to_string())
            .collect());
    }
    let start = parse_row_label(&first).ok_or_else(|| {
        fault(
            format!("{path}.first_row"),
            format!("'{first}' is neither letters (A, AA) nor a number"),
        )
    })?;
    (0..block.rows)
        .map(|i| {
            start
                .checked_add(i)
                .map(row_label)
                .ok_or_else(|| fault(format!("{path}.rows"), "too many rows"))
        })
        .collect()
}

/// Which rows an override key names: one label, or `FIRST-LAST` inclusive.
fn override_rows(key: &str, labels: &[String], path: &str) -> Checked<Vec<usize>> {
    let canonical = key.trim().to_ascii_uppercase();
    let position = |label: &str| {
        labels.iter().position(|l| l == label).ok_or_else(|| {
            fault(
                path,
                format!(
                    "the block has no row '{label}' (its rows are {} to {})",
                    labels[0],
                    labels[labels.len() - 1]
                ),
            )
        })
    };
    match canonical.split_once('-') {
        Some((first, last)) => {
            let (a, b) = (position(first)?, position(last)?);
            if a > b {
                return Err(fault(path, format!("the range '{key}' runs backwards")));
            }
            Ok((a..=b).collect())
        }
        None => Ok(vec![position(&canonical)?]),
    }
}

pub(super) fn expand_block(
    block: &BlockFile,
    path: &str,
    section: &str,
    default: Option<&str>,
    categories: &HashSet<String>,
) -> Checked<Vec<Row>> {
    if block.rows == 0 || block.seats == 0 {
        return Err(fault(path, "a block needs at least one row of one seat"));
    }
    let numbers_ok = [
        block.seat_spacing,
        block.row_spacing,
        block.rotation,
        block.radius,
        block.origin.x,
        block.origin.y,
        block.aisle_width.unwrap_or(0.0),
    ]
    .iter()
    .all(|n| n.is_finite());
    if !numbers_ok || block.seat_spacing <= 0.0 || block.row_spacing <= 0.0 || block.radius < 0.0 {
        return Err(fault(
            path,
            "spacings must be above 0, the radius 0 or more, and every number finite",
        ));
    }
    let labels = block_row_labels(block, path)?;
    let mut overrides = vec![RowOverride::default(); labels.len()];
    let mut overridden = vec![false; labels.len()];
    for (key, change) in &block.row_overrides {
        let key_path = format!("{path}.row_overrides.{key}");
        for r in override_rows(key, &labels, &key_path)? {
            if overridden[r] {
                return Err(fault(
                    key_path,
                    format!("row {} is overridden twice", labels[r]),
                ));
            }
            overridden[r] = true;
            overrides[r] = change.clone();
        }
    }
    let mut rows = Vec::new();
    for (r, label) in labels.iter().enumerate() {
        let change = &overrides[r];
        let key_path = format!("{path}.row_overrides");
        let category = match change.category.clone().or(default.map(str::to_owned)) {
            Some(c) => known(c, categories, &format!("{key_path}.{label}.category"))?,
            None => {
                return Err(fault(
                    path,
                    "no category: give the section one (or each row, in row_overrides)",
                ))
            }
        };
        let row = lay_out_row(block, r, change, section, label, &category, &key_path)?;
        rows.push(row);
    }
    Ok(rows)
}

/// Seats of one block row, placed along a straight or curved line, turned and moved.
fn lay_out_row(
    block: &BlockFile,
    index: usize,
    change: &RowOverride,
    section: &str,
    label: &str,
    category: &str,
    path: &str,
) -> Checked<Row> {
    let count = change.seats.unwrap_or(block.seats);
    let first = block.first_seat;
    let last = first + u32::from(count).saturating_sub(1);
    let path = format!("{path}.{label}");
    let numbers_in = |list: &[u32], field: &str| -> Checked<BTreeSet<u32>> {
        match list.iter().find(|n| **n < first || **n > last) {
            Some(n) => Err(fault(
                format!("{path}.{field}"),
                format!("row {label} has seats {first} to {last}, not {n}"),
            )),
            None => Ok(list.iter().copied().collect()),
        }
    };
    let aisles = numbers_in(
        change
            .aisles_after
            .as_deref()
            .unwrap_or(&block.aisles_after),
        "aisles_after",
    )?;
    let skip = numbers_in(&change.skip, "skip")?;
    let blocked = numbers_in(&change.blocked, "blocked")?;
    let accessible = numbers_in(&change.accessible, "accessible")?;
    let companion = numbers_in(&change.companion, "companion")?;
    if count == 0 {
        return Err(fault(
            format!("{path}.seats"),
            "a row needs at least one seat",
        ));
    }
    let aisle_width = block.aisle_width.unwrap_or(block.seat_spacing);
    // Distance of each seat along the row from seat 1, aisles included.
    let along: Vec<f64> = (first..=last)
        .map(|n| {
            let aisles_before = aisles.range(..n).count() as f64;
            f64::from(n - first) * block.seat_spacing + aisles_before * aisle_width
        })
        .collect();
    let middle = along.last().copied().unwrap_or(0.0) / 2.0;
    let depth = index as f64 * block.row_spacing;
    let (sin, cos) = block.rotation.to_radians().sin_cos();
    let mut items = Vec::new();
    let mut previous: Option<u32> = None;
    for (k, n) in (first..=last).enumerate() {
        if skip.contains(&n) {
            continue;
        }
        let offset = along[k] - middle;
        let (lx, ly) = if block.radius > 0.0 {
            let radius = block.radius + depth;
            let angle = offset / radius;
            (radius * angle.sin(), radius * angle.cos() - block.radius)
        } else {
            (offset, depth)
        };
        let x = block.origin.x + lx * cos - ly * sin;
        let y = block.origin.y + lx * sin + ly * cos;
        let number = n.to_string();
        let seat_path = path.clone();
        let seat = ChartSeat {
            id: seat_id(section, label, &number, &seat_path)?,
            number,
            x: round2(x),
            y: round2(y),
            category: category.to_owned(),
            accessible: accessible.contains(&n),
            companion: companion.contains(&n),
            blocked: change.blocked_row || blocked.contains(&n),
        };
        check_flags(&seat, &seat_path)?;
        // An aisle after any seat from the previous kept one up to this one runs between them.
        if previous.is_some_and(|p| aisles.range(p..n).next().is_some()) {
            items.push(RowItem::Aisle);
        }
        previous = Some(n);
        items.push(RowItem::Seat(seat));
    }
    check_aisles(&items, &path)?;
    Ok(Row {
        label: label.to_owned(),
        seats: items,
    })
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
