//! From a chart file to every seat: blocks laid out row by row, categories resolved, ids made,
//! and everything a person can get wrong reported with the JSON path where it is.

use std::collections::{BTreeSet, HashSet};

use super::file::{BlockFile, ChartFile, RowFile, RowItemFile, RowOverride, SectionFile};
use super::{Chart, ChartError, ChartSeat, Row, RowItem, Section};
use crate::seat::{parse_row_label, row_label, VenueSpec, MAX_SEAT_ID_LEN};

type Checked<T> = Result<T, ChartError>;

fn fault(path: impl Into<String>, message: impl Into<String>) -> ChartError {
    ChartError {
        path: path.into(),
        message: message.into(),
    }
}

/// `[A-Z0-9]+`: a part of a seat id.
fn is_id_part(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn id_part(text: String, path: &str, what: &str) -> Checked<String> {
    if is_id_part(&text) {
        Ok(text)
    } else {
        Err(fault(
            path,
            format!("{what} '{text}' must be letters and digits only (A-Z, 0-9)"),
        ))
    }
}

pub(super) fn expand(file: ChartFile) -> Checked<Chart> {
    if file.title.trim().is_empty() {
        return Err(fault("$.title", "the title is empty"));
    }
    if !(file.focal_point.x.is_finite() && file.focal_point.y.is_finite()) {
        return Err(fault("$.focal_point", "x and y must be numbers"));
    }
    let categories = check_categories(&file)?;
    if file.sections.is_empty() {
        return Err(fault("$.sections", "a chart needs at least one section"));
    }
    let mut section_ids = HashSet::new();
    let mut sections = Vec::new();
    for (i, section) in file.sections.into_iter().enumerate() {
        let path = format!("$.sections[{i}]");
        let expanded = expand_section(section, &path, &categories)?;
        if !section_ids.insert(expanded.id.clone()) {
            return Err(fault(
                format!("{path}.id"),
                format!("section '{}' is defined twice", expanded.id),
            ));
        }
        sections.push(expanded);
    }
    let chart = Chart {
        title: file.title,
        focal_point: file.focal_point,
        single_seat_rule: file.single_seat_rule,
        categories: file.categories,
        sections,
    };
    let total = chart.seats().count();
    if total > VenueSpec::MAX_SEATS {
        return Err(fault(
            "$.sections",
            format!("{total} seats; at most {} are served", VenueSpec::MAX_SEATS),
        ));
    }
    if chart.seats().all(|s| s.blocked) {
        return Err(fault("$.sections", "no seat is for sale"));
    }
    Ok(chart)
}

fn check_categories(file: &ChartFile) -> Checked<HashSet<String>> {
    if file.categories.is_empty() {
        return Err(fault("$.categories", "a chart needs at least one category"));
    }
    let mut ids = HashSet::new();
    for (i, category) in file.categories.iter().enumerate() {
        let path = format!("$.categories[{i}]");
        let id_ok = !category.id.is_empty()
            && category.id.len() <= 32
            && category
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok {
            return Err(fault(
                format!("{path}.id"),
                "must be 1-32 characters of a-z, A-Z, 0-9, '_' or '-'",
            ));
        }
        if !ids.insert(category.id.clone()) {
            return Err(fault(
                format!("{path}.id"),
                format!("category '{}' is defined twice", category.id),
            ));
        }
        if category.label.trim().is_empty() {
            return Err(fault(format!("{path}.label"), "the label is empty"));
        }
        let hex = category.color.strip_prefix('#').unwrap_or("");
        if !matches!(hex.len(), 3 | 6) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fault(
                format!("{path}.color"),
                format!("'{}' is not a colour like #1f77b4", category.color),
            ));
        }
        if category.currency.len() != 3
            || !category.currency.bytes().all(|b| b.is_ascii_uppercase())
        {
            return Err(fault(
                format!("{path}.currency"),
                format!("'{}' is not an ISO 4217 code like EUR", category.currency),
            ));
        }
    }
    Ok(ids)
}

fn expand_section(
    section: SectionFile,
    path: &str,
    categories: &HashSet<String>,
) -> Checked<Section> {
    let id = id_part(section.id.text(), &format!("{path}.id"), "section id")?;
    let default = match section.category {
        Some(category) => Some(known(category, categories, &format!("{path}.category"))?),
        None => None,
    };
    let rows = match (section.rows, section.block) {
        (Some(rows), None) => {
            let mut expanded = Vec::new();
            for (r, row) in rows.into_iter().enumerate() {
                let row_path = format!("{path}.rows[{r}]");
                expanded.push(explicit_row(
                    row,
                    &row_path,
                    &id,
                    default.as_deref(),
                    categories,
                )?);
            }
            expanded
        }
        (None, Some(block)) => expand_block(
            &block,
            &format!("{path}.block"),
            &id,
            default.as_deref(),
            categories,
        )?,
        _ => {
            return Err(fault(
                path,
                "a section has either \"rows\" or \"block\", not both and not neither",
            ))
        }
    };
    if rows.is_empty() {
        return Err(fault(path, "the section has no rows"));
    }
    let mut labels = HashSet::new();
    for (r, row) in rows.iter().enumerate() {
        if !labels.insert(row.label.clone()) {
            return Err(fault(
                format!("{path}.rows[{r}].label"),
                format!("row '{}' appears twice in section {id}", row.label),
            ));
        }
    }
    Ok(Section {
        label: section.label.unwrap_or_else(|| format!("Section {id}")),
        id,
        rows,
    })
}

fn known(category: String, categories: &HashSet<String>, path: &str) -> Checked<String> {
    if categories.contains(&category) {
        Ok(category)
    } else {
        Err(fault(path, format!("there is no category '{category}'")))
    }
}

fn seat_id(section: &str, row: &str, number: &str, path: &str) -> Checked<String> {
    let id = format!("{section}-{row}-{number}");
    if id.len() > MAX_SEAT_ID_LEN {
        return Err(fault(
            path,
            format!("seat id {id} is longer than {MAX_SEAT_ID_LEN} characters"),
        ));
    }
    Ok(id)
}

fn explicit_row(
    row: RowFile,
    path: &str,
    section: &str,
    default: Option<&str>,
    categories: &HashSet<String>,
) -> Checked<Row> {
    let label = id_part(row.label.text(), &format!("{path}.label"), "row label")?;
    let row_default = match row.category {
        Some(category) => Some(known(category, categories, &format!("{path}.category"))?),
        None => default.map(str::to_owned),
    };
    let mut items = Vec::new();
    let mut numbers = HashSet::new();
    for (s, item) in row.seats.into_iter().enumerate() {
        let seat_path = format!("{path}.seats[{s}]");
        match item {
            RowItemFile::Marker(marker) if marker == "aisle" => items.push(RowItem::Aisle),
            RowItemFile::Marker(other) => {
                return Err(fault(
                    seat_path,
                    format!("'{other}' is neither a seat nor \"aisle\""),
                ))
            }
            RowItemFile::Seat(seat) => {
                let number = id_part(
                    seat.number.text(),
                    &format!("{seat_path}.number"),
                    "seat number",
                )?;
                if !numbers.insert(number.clone()) {
                    return Err(fault(
                        format!("{seat_path}.number"),
                        format!("seat {number} appears twice in row {label}"),
                    ));
                }
                if !(seat.x.is_finite() && seat.y.is_finite()) {
                    return Err(fault(seat_path, "x and y must be numbers"));
                }
                let category = match seat.category.or_else(|| row_default.clone()) {
                    Some(c) => known(c, categories, &format!("{seat_path}.category"))?,
                    None => {
                        return Err(fault(
                            format!("{seat_path}.category"),
                            "no category: give the seat, its row or its section one",
                        ))
                    }
                };
                let id = seat_id(section, &label, &number, &seat_path)?;
                if seat.id.as_deref().is_some_and(|given| given != id) {
                    return Err(fault(
                        format!("{seat_path}.id"),
                        format!("this seat's id is {id}"),
                    ));
                }
                let seat = ChartSeat {
                    id,
                    number,
                    x: seat.x,
                    y: seat.y,
                    category,
                    accessible: seat.accessible,
                    companion: seat.companion,
                    blocked: seat.blocked,
                };
                check_flags(&seat, &seat_path)?;
                items.push(RowItem::Seat(seat));
            }
        }
    }
    check_aisles(&items, path)?;
    Ok(Row {
        label,
        seats: items,
    })
}

fn check_flags(seat: &ChartSeat, path: &str) -> Checked<()> {
    if seat.accessible && seat.companion {
        return Err(fault(
            path,
            format!(
                "seat {} cannot be both a wheelchair space and a companion seat",
                seat.id
            ),
        ));
    }
    Ok(())
}

fn check_aisles(items: &[RowItem], path: &str) -> Checked<()> {
    if items.iter().all(|i| matches!(i, RowItem::Aisle)) {
        return Err(fault(format!("{path}.seats"), "the row has no seats"));
    }
    let first_or_last = matches!(items.first(), Some(RowItem::Aisle))
        || matches!(items.last(), Some(RowItem::Aisle));
    let doubled = items
        .windows(2)
        .any(|w| matches!(w, [RowItem::Aisle, RowItem::Aisle]));
    if first_or_last || doubled {
        return Err(fault(
            format!("{path}.seats"),
            "an aisle goes between two seats (not at a row's end, not twice in a row)",
        ));
    }
    Ok(())
}

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

fn expand_block(
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
