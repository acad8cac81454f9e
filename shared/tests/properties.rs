//! Property tests: every parser that takes untrusted input answers arbitrary input with a value
//! or a coded error, never a panic, and what it accepts round-trips.
//! The number of cases is bounded (PROPTEST_CASES overrides it) so the test command stays quick.

use proptest::prelude::*;
use shared::api::SeatRequest;
use shared::ws::{parse_client_frame, ClientCommand, MAX_CLIENT_FRAME_BYTES};
use shared::{SeatId, SeatIdError, TokenError, TokenSigner, VenueSeats, VenueSpec};

/// The shipped arena, expanded once.
fn arena() -> &'static (shared::chart::Chart, VenueSeats) {
    static ARENA: std::sync::OnceLock<(shared::chart::Chart, VenueSeats)> =
        std::sync::OnceLock::new();
    ARENA.get_or_init(|| {
        let chart = shared::chart::Chart::parse(include_str!("../../venues/arena.json")).unwrap();
        let seats = VenueSeats::chart(&chart);
        (chart, seats)
    })
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(2_000),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Frames that look like the protocol, with arbitrary values in the fields.
fn frame_like() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        Just("CONNECT".to_owned()),
        Just("subscribe".to_owned()),
        Just("SELECT_SEAT".to_owned()),
        Just("BOOK_SEAT".to_owned()),
        Just("RELEASE_SEAT".to_owned()),
        Just("HOLD_BEST".to_owned()),
        ".{0,12}",
    ];
    let value = prop_oneof![
        Just("null".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| format!("{n:?}")),
        ".{0,20}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
    ];
    let field = prop_oneof![
        Just("seat_id"),
        Just("req_id"),
        Just("token"),
        Just("venue"),
        Just("after_seq"),
        Just("epoch"),
        Just("count"),
        Just("accessible"),
        Just("category"),
    ];
    (
        kind,
        prop::collection::vec((field, value), 0..5),
        any::<bool>(),
    )
        .prop_map(|(kind, fields, with_data)| {
            let data: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            let kind = serde_json::to_string(&kind).unwrap();
            if with_data {
                format!("{{\"type\":{kind},\"data\":{{{}}}}}", data.join(","))
            } else {
                format!("{{\"type\":{kind}}}")
            }
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_frames_never_panic(text in ".{0,300}") {
        let _ = parse_client_frame(&text);
    }

    #[test]
    fn arbitrary_bytes_as_frames_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_client_frame(&text);
    }

    #[test]
    fn protocol_like_frames_parse_or_get_a_code(frame in frame_like()) {
        match parse_client_frame(&frame) {
            Ok(ClientCommand::Seat { seat_id, .. }) => prop_assert!(frame.contains(&serde_json::to_string(&seat_id).unwrap())),
            Ok(ClientCommand::Connect { .. }) => prop_assert!(frame.contains("CONNECT") || frame.contains("subscribe")),
            Ok(ClientCommand::Seats { seat_ids, .. }) => prop_assert!(!seat_ids.is_empty() && frame.contains("seat_ids")),
            Ok(ClientCommand::Best { ask, .. }) => {
                let count = format!("\"count\":{}", ask.count);
                prop_assert!(frame.contains("HOLD_BEST") && frame.contains(&count));
            }
            Ok(ClientCommand::Ping) => prop_assert!(frame.contains("PING")),
            Err(error) => prop_assert!(!error.message.is_empty()),
        }
    }

    #[test]
    fn oversized_frames_are_refused_before_parsing(extra in 1usize..2000) {
        let frame = format!("{{\"type\":\"CONNECT\",\"data\":{{\"venue\":\"{}\"}}}}", "a".repeat(MAX_CLIENT_FRAME_BYTES + extra));
        prop_assert_eq!(parse_client_frame(&frame).unwrap_err().code, shared::ErrorCode::FrameTooLarge);
    }

    #[test]
    fn arbitrary_seat_ids_never_panic(raw in ".{0,10}|[A-Za-z]{1,4}[0-9]{1,4}", rows in 0u16..800, cols in 0u16..1100) {
        match SeatId::parse(&raw, rows, cols) {
            Ok(id) => {
                prop_assert!(id.row < rows && id.col < cols);
                prop_assert_eq!(SeatId::parse(&id.to_string(), rows, cols), Ok(id));
            }
            Err(SeatIdError::Malformed) | Err(SeatIdError::OutOfRange(_)) => {}
            Err(SeatIdError::NotForSale(id)) => prop_assert!(false, "a grid has no blocked seat, yet {id}"),
            Err(SeatIdError::MalformedChartId) => prop_assert!(false, "a grid id read as a chart's"),
        }
    }

    #[test]
    fn every_arena_seat_id_round_trips_and_blocked_ones_are_not_for_sale(pick in any::<usize>(), lower in any::<bool>()) {
        let (chart, seats) = arena();
        let all: Vec<&shared::chart::ChartSeat> = chart.seats().collect();
        let seat = all[pick % all.len()];
        let typed = if lower { seat.id.to_lowercase() } else { seat.id.clone() };
        match seats.lookup(&typed) {
            Ok(position) => {
                prop_assert!(!seat.blocked);
                prop_assert_eq!(seats.id(position), seat.id.as_str());
            }
            Err(SeatIdError::NotForSale(id)) => {
                prop_assert!(seat.blocked);
                prop_assert_eq!(id, seat.id.clone());
            }
            Err(other) => prop_assert!(false, "{} refused: {}", seat.id, other),
        }
    }

    #[test]
    fn arbitrary_chart_ids_never_panic(raw in ".{0,40}|[0-9A-Za-z]{1,4}-[A-Za-z]{1,2}-[0-9]{1,3}") {
        let (_, seats) = arena();
        if let Ok(position) = seats.lookup(&raw) {
            prop_assert_eq!(seats.id(position), raw.trim().to_uppercase());
        }
    }

    #[test]
    fn every_seat_of_a_venue_round_trips(rows in 1u16..=VenueSpec::MAX_ROWS, cols in 1u16..=999, pick in any::<u32>()) {
        let last = SeatId { row: rows - 1, col: cols - 1 };
        prop_assert_eq!(SeatId::parse(&last.to_string(), rows, cols), Ok(last));
        // Any seat, in the lower case a person might type, parses to itself.
        let any = SeatId { row: (pick % u32::from(rows)) as u16, col: (pick % u32::from(cols)) as u16 };
        prop_assert_eq!(SeatId::parse(&any.to_string().to_lowercase(), rows, cols), Ok(any));
        prop_assert_eq!(shared::seat::parse_row_label(&shared::seat::row_label(any.row)), Some(any.row));
        let beyond = SeatId { row: rows - 1, col: cols };
        prop_assert!(SeatId::parse(&beyond.to_string(), rows, cols).is_err());
    }

    #[test]
    fn arbitrary_venue_lists_never_panic(raw in ".{0,60}") {
        if let Ok(venues) = VenueSpec::parse_list(&raw) {
            for v in venues {
                prop_assert!(v.rows >= 1 && v.rows <= VenueSpec::MAX_ROWS && v.cols >= 1 && v.cols <= 999);
                prop_assert!(v.seat_count() <= VenueSpec::MAX_SEATS);
            }
        }
    }

    #[test]
    fn venue_specs_round_trip(name in "[a-z0-9_-]{1,32}", rows in 1u16..=50, cols in 1u16..=999) {
        let spec = VenueSpec::parse(&format!("{name}:{rows}x{cols}")).unwrap();
        prop_assert_eq!((spec.name.as_str(), spec.rows, spec.cols), (name.as_str(), rows, cols));
    }

    #[test]
    fn arbitrary_tokens_are_refused_without_panic(raw in "[A-Za-z0-9_.-]{0,140}|.{0,40}") {
        let signer = TokenSigner::new("property-test-secret-0123").unwrap();
        prop_assert!(matches!(
            signer.verify(&raw),
            Err(TokenError::Missing | TokenError::Malformed | TokenError::NotIssued)
        ));
    }

    #[test]
    fn a_changed_character_breaks_an_issued_token(index in 0usize..48, replacement in "[A-Za-z0-9_-]") {
        let signer = TokenSigner::new("property-test-secret-0123").unwrap();
        let token = signer.issue();
        let raw = token.as_str();
        prop_assert_eq!(signer.verify(raw), Ok(token.clone()));
        let index = index % raw.len();
        let mut forged = raw.to_owned();
        forged.replace_range(index..index + 1, &replacement);
        if forged != raw {
            prop_assert!(signer.verify(&forged).is_err(), "{} was accepted", forged);
        }
    }

    #[test]
    fn arbitrary_http_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = serde_json::from_slice::<SeatRequest>(&body);
    }
}
