use super::*;

const SMALL: &str = r##"{
  "title": "Small hall",
  "focal_point": {"x": 0, "y": -5},
  "categories": [
    {"id": "front", "label": "Front", "color": "#c0392b", "price": 6500, "currency": "EUR"},
    {"id": "back", "label": "Back", "color": "#2980b9", "price": 3500, "currency": "EUR"}
  ],
  "sections": [
    {"id": "s", "category": "front", "rows": [
      {"label": "a", "seats": [
        {"number": 1, "x": 0, "y": 0, "accessible": true},
        {"number": 2, "x": 1, "y": 0, "companion": true},
        "aisle",
        {"number": 3, "x": 3, "y": 0, "blocked": true, "category": "back"}
      ]}
    ]},
    {"id": "101", "category": "back", "block": {
      "rows": 3, "seats": 6, "origin": {"x": 10, "y": 0},
      "aisles_after": [3],
      "row_overrides": {"B": {"skip": [1], "blocked": [6]}, "C": {"seats": 4, "aisles_after": []}}
    }}
  ]
}"##;

fn ids(chart: &Chart) -> Vec<&str> {
    chart.seats().map(|s| s.id.as_str()).collect()
}

#[test]
fn explicit_rows_and_blocks_expand_to_every_seat() {
    let chart = Chart::parse(SMALL).unwrap();
    assert_eq!(
        ids(&chart),
        [
            "S-A-1", "S-A-2", "S-A-3", "101-A-1", "101-A-2", "101-A-3", "101-A-4", "101-A-5",
            "101-A-6", "101-B-2", "101-B-3", "101-B-4", "101-B-5", "101-B-6", "101-C-1", "101-C-2",
            "101-C-3", "101-C-4"
        ]
    );
    let first = chart.seats().next().unwrap();
    assert!(first.accessible && first.category == "front");
    let blocked: Vec<&str> = chart
        .seats()
        .filter(|s| s.blocked)
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(blocked, ["S-A-3", "101-B-6"]);
    // Aisles sit between seats 3 and 4 of rows A and B, nowhere in row C.
    let aisle_at = |row: &Row| row.seats.iter().position(|i| *i == RowItem::Aisle);
    let block = &chart.sections[1];
    assert_eq!(aisle_at(&block.rows[0]), Some(3));
    assert_eq!(aisle_at(&block.rows[1]), Some(2));
    assert_eq!(aisle_at(&block.rows[2]), None);
    // The aisle takes a seat's room: seat 4 is two units right of seat 3.
    let x_of = |id: &str| chart.seats().find(|s| s.id == id).unwrap().x;
    assert_eq!(x_of("101-A-4") - x_of("101-A-3"), 2.0);
    assert_eq!(x_of("101-A-1"), 10.0 - 3.0);
}

#[test]
fn a_served_chart_reads_back_as_the_same_chart() {
    let chart = Chart::parse(SMALL).unwrap();
    let served = serde_json::to_string(&chart).unwrap();
    assert!(served.contains(r#""aisle""#));
    assert_eq!(Chart::parse(&served).unwrap(), chart);
    let grid = Chart::grid("main", 3, 4);
    assert_eq!(ids(&grid)[11], "C4");
    assert_eq!(grid.seats().count(), 12);
}

#[test]
fn rotation_and_radius_place_seats_on_an_arc() {
    let text = r##"{"title":"t","focal_point":{"x":0,"y":0},
      "categories":[{"id":"c","label":"C","color":"#abc","price":1,"currency":"EUR"}],
      "sections":[{"id":"1","category":"c","block":{"rows":2,"seats":5,"origin":{"x":0,"y":20},
        "radius":20,"rotation":90}}]}"##;
    let chart = Chart::parse(text).unwrap();
    for seat in chart.seats() {
        let row = seat.id.split('-').nth(1).unwrap();
        let expected = if row == "A" { 20.0 } else { 21.0 };
        // Every seat of a row is as far from the centre of curvature, here (20, 20) after the
        // quarter turn (the centre is 20 units in front of the front row's middle).
        let distance = ((seat.x - 20.0).powi(2) + (seat.y - 20.0).powi(2)).sqrt();
        assert!((distance - expected).abs() < 0.02, "{seat:?} at {distance}");
    }
}

fn fault_of(text: &str) -> ChartError {
    Chart::parse(text).unwrap_err()
}

#[test]
fn faults_name_the_json_path_and_what_is_wrong() {
    let base: serde_json::Value = serde_json::from_str(SMALL).unwrap();
    let with = |pointer: &str, value: serde_json::Value| {
        // Sets (or adds) the member the pointer names.
        let mut doc = base.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        match doc.pointer_mut(parent).unwrap() {
            serde_json::Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
            other => other[key] = value,
        }
        doc.to_string()
    };
    let cases = [
        (
            with("/sections/1/block/rows", "x".into()),
            "$.sections[1].block.rows",
            "invalid type",
        ),
        (
            with("/categories/1/color", "blue".into()),
            "$.categories[1].color",
            "colour",
        ),
        (
            with("/sections/0/rows/0/seats/0/category", "vip".into()),
            "$.sections[0].rows[0].seats[0].category",
            "no category 'vip'",
        ),
        (
            with(
                "/sections/1/block/row_overrides/B/skip",
                serde_json::json!([9]),
            ),
            "$.sections[1].block.row_overrides.B.skip",
            "not 9",
        ),
        (
            with(
                "/sections/1/block/row_overrides",
                serde_json::json!({"Q": {}}),
            ),
            "$.sections[1].block.row_overrides.Q",
            "no row 'Q'",
        ),
        (
            with("/sections/1/id", "S".into()),
            "$.sections[1].id",
            "twice",
        ),
        (
            with("/sections/0/rows/0/seats/1", "gap".into()),
            "$.sections[0].rows[0].seats[1]",
            "\"aisle\"",
        ),
        (
            with("/sections/0/rows/0/seats/1/accessible", true.into()),
            "$.sections[0].rows[0].seats[1]",
            "both",
        ),
        (
            with("/sections/0/id", "1-2".into()),
            "$.sections[0].id",
            "letters and digits",
        ),
        (
            with("/sections/1/block/rows", 20000.into()),
            "$.sections",
            "at most",
        ),
    ];
    for (text, path, what) in cases {
        let error = fault_of(&text);
        assert_eq!(error.path, path, "{error}");
        assert!(error.message.contains(what), "{error}");
    }
    let error = fault_of("{\"title\": \"t\",");
    assert_eq!(error.path, "$");
    let mut typo = base.clone();
    typo["sections"][0]["rows"][0]["seats"][0]["acessible"] = true.into();
    let error = fault_of(&typo.to_string());
    assert_eq!(error.path, "$.sections[0].rows[0].seats[0]", "{error}");
}

#[test]
fn etags_follow_the_bytes() {
    assert_eq!(etag(b"abc"), etag(b"abc"));
    assert_ne!(etag(b"abc"), etag(b"abd"));
    assert!(etag(b"abc").starts_with('"'));
}

#[test]
fn the_shipped_charts_are_real_venues() {
    let arena = Chart::parse(include_str!("../../../venues/arena.json")).unwrap();
    let seats: Vec<&ChartSeat> = arena.seats().collect();
    assert!((10_000..=20_000).contains(&seats.len()), "{}", seats.len());
    assert!(arena.categories.len() >= 3);
    let count = |f: fn(&ChartSeat) -> bool| seats.iter().filter(|s| f(s)).count();
    assert!(count(|s| s.accessible) >= 10 && count(|s| s.companion) >= 10);
    assert!(count(|s| s.blocked) > 0);
    for category in &arena.categories {
        assert!(
            seats.iter().any(|s| s.category == category.id),
            "{}",
            category.id
        );
    }
    let aisles = arena
        .sections
        .iter()
        .flat_map(|s| &s.rows)
        .filter(|r| r.seats.contains(&RowItem::Aisle))
        .count();
    assert!(aisles > 100, "{aisles} rows with an aisle");
    let theatre = Chart::parse(include_str!("../../../venues/theatre.json")).unwrap();
    assert!((200..=1_000).contains(&theatre.seats().count()));
    assert_eq!(theatre.sections.len(), 2);
}
