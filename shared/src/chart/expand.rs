//! From a chart file to every seat: blocks laid out row by row, categories resolved, ids made,
//! and everything a person can get wrong reported with the JSON path where it is.

use std::collections::HashSet;

use super::file::{ChartFile, RowFile, RowItemFile, SectionFile};
use super::{Chart, ChartError, ChartSeat, Row, RowItem, Section};
use crate::seat::{VenueSpec, MAX_SEAT_ID_LEN};

pub(super) type Checked<T> = Result<T, ChartError>;

pub(super) fn fault(path: impl Into<String>, message: impl Into<String>) -> ChartError {
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
        (None, Some(block)) => super::block::expand_block(
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

pub(super) fn known(category: String, categories: &HashSet<String>, path: &str) -> Checked<String> {
    if categories.contains(&category) {
        Ok(category)
    } else {
        Err(fault(path, format!("there is no category '{category}'")))
    }
}

pub(super) fn seat_id(section: &str, row: &str, number: &str, path: &str) -> Checked<String> {
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

pub(super) fn check_flags(seat: &ChartSeat, path: &str) -> Checked<()> {
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

pub(super) fn check_aisles(items: &[RowItem], path: &str) -> Checked<()> {
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
