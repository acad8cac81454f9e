//! The WebSocket protocol: text frames of JSON `{"type":…,"data":{…}}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ErrorCode;
use crate::event::{ReleaseReason, SeatEvent};
use crate::seat::{Seat, SeatStatus};
pub use crate::state::{CompactSeats, Mine, MineHeld, StateForm, StateSeats, VenueState};

/// The largest client frame an edge accepts.
pub const MAX_CLIENT_FRAME_BYTES: usize = 4 * 1024;

/// A message from server to client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServerMessage {
    Welcome(Welcome),
    VenueState(VenueState),
    SeatUpdate(SeatUpdate),
    Ok(CommandOk),
    Error(CommandError),
    /// Waiting room: this identity's place in the queue.
    Queue(QueuePlace),
    /// Waiting room: this identity may hold and book until `until_ms`.
    Admitted(Admission),
    /// The socket's own seats, after each compact `VENUE_STATE`.
    Mine(Mine),
    /// Whether the edge is current with the venue (`live`), or may be behind and why.
    Status(Status),
    /// The answer to a client's `PING`.
    Pong(Pong),
}

impl ServerMessage {
    /// Serialises the message once, ready to be shared by every recipient.
    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail.
        serde_json::to_string(self).expect("server messages always serialise")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    pub user_id: String,
    pub token: String,
    pub edge_id: String,
    pub venue: String,
    pub hold_seconds: u64,
    /// The most seats one identity may hold at once (`MAX_HOLDS_PER_USER`).
    #[serde(default)]
    pub max_holds_per_user: u32,
    pub server_time_ms: u64,
}

/// One change, as a client sees it. Absent values are sent as `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatUpdate {
    pub venue: String,
    pub seq: u64,
    pub seat_id: String,
    pub status: SeatStatus,
    pub held_by: Option<String>,
    pub expires_at: Option<u64>,
    pub reason: Option<ReleaseReason>,
}

impl From<&SeatEvent> for SeatUpdate {
    fn from(event: &SeatEvent) -> Self {
        SeatUpdate {
            venue: event.venue.clone(),
            seq: event.seq,
            seat_id: event.seat_id.clone(),
            status: event.status,
            held_by: event.held_by(),
            expires_at: event.hold_expires_at(),
            reason: event.reason,
        }
    }
}

/// `QUEUE`: sent on joining the waiting room and whenever the position changes (at most once
/// a second).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePlace {
    pub venue: String,
    /// 1 for the next identity to be admitted.
    pub position: u64,
    /// Identities waiting in all.
    pub size: u64,
    /// From the admissions of the last minutes; a rough guide.
    pub estimated_wait_s: u64,
}

/// `ADMITTED`: the identity is a shopper until `until_ms` (unix ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admission {
    pub venue: String,
    pub until_ms: u64,
}

/// `STATUS`: `live: false` tells the client that its edge may be behind on the venue (it lost
/// NATS, or is catching up since it came back), with the `reason`; `live: true` (no reason) that
/// it is current again. A client that gets a `VENUE_STATE` while its edge is not live gets
/// `STATUS` right after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub venue: String,
    pub live: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<NotLiveReason>,
}

/// Why an edge may be behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotLiveReason {
    /// The edge lost its NATS connection: changes may happen that it does not hear of.
    NatsLost,
    /// NATS is back and the edge is fetching what it missed from the booking service.
    CatchingUp,
}

/// `PONG`: the answer to `PING`, with the edge's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    pub server_time_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandOk {
    pub req_id: Value,
    pub action: String,
    #[serde(flatten)]
    pub seats: OkSeats,
}

/// What an `OK` is about: the one seat of `SELECT_SEAT` & co., or the several of
/// `SELECT_SEATS` & co. (in the order asked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OkSeats {
    One {
        seat_id: String,
        seat: Seat,
    },
    Several {
        seat_ids: Vec<String>,
        seats: Vec<Seat>,
    },
}

impl OkSeats {
    /// Every seat the answer is about (one, or the group in the order asked).
    pub fn all(&self) -> &[Seat] {
        match self {
            OkSeats::One { seat, .. } => std::slice::from_ref(seat),
            OkSeats::Several { seats, .. } => seats,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandError {
    pub req_id: Value,
    pub code: ErrorCode,
    pub message: String,
    pub seat_id: Option<String>,
    /// A refusal of a command on several seats: every seat that stood in the way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat_ids: Option<Vec<String>>,
}

/// A seat command a client can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeatAction {
    Select,
    Book,
    Release,
}

impl SeatAction {
    /// The client message type: `SELECT_SEAT`, `BOOK_SEAT`, `RELEASE_SEAT`.
    pub fn message_type(self) -> &'static str {
        match self {
            SeatAction::Select => "SELECT_SEAT",
            SeatAction::Book => "BOOK_SEAT",
            SeatAction::Release => "RELEASE_SEAT",
        }
    }

    /// The client message type of the same command on several seats: `SELECT_SEATS`,
    /// `BOOK_SEATS`, `RELEASE_SEATS`.
    pub fn group_message_type(self) -> &'static str {
        match self {
            SeatAction::Select => "SELECT_SEATS",
            SeatAction::Book => "BOOK_SEATS",
            SeatAction::Release => "RELEASE_SEATS",
        }
    }

    /// The verb used in HTTP routes (`/api/seats/{verb}`) and in `OK.action`.
    pub fn verb(self) -> &'static str {
        match self {
            SeatAction::Select => "select",
            SeatAction::Book => "book",
            SeatAction::Release => "release",
        }
    }
}

/// A parsed client frame.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientCommand {
    /// `CONNECT` (or its alias `subscribe`): resume an identity and/or choose a venue.
    Connect {
        token: Option<String>,
        venue: Option<String>,
        /// The last seq the client applied, to resume with just the missed updates.
        after_seq: Option<u64>,
        /// The epoch that `after_seq` belongs to (from `VENUE_STATE`).
        epoch: Option<u64>,
        /// The form of this socket's `VENUE_STATE`s from now on (unchanged when absent).
        state: Option<StateForm>,
    },
    /// `SELECT_SEAT`, `BOOK_SEAT`, `RELEASE_SEAT`.
    Seat {
        action: SeatAction,
        seat_id: String,
        req_id: Value,
    },
    /// `SELECT_SEATS`, `BOOK_SEATS`, `RELEASE_SEATS`: several seats, all or none.
    Seats {
        action: SeatAction,
        seat_ids: Vec<String>,
        req_id: Value,
    },
    /// `HOLD_BEST`: the best `count` adjacent free seats, chosen and held in one step.
    Best { ask: BestAsk, req_id: Value },
    /// `PING`: answered `PONG` at once, whatever else the connection waits for.
    Ping,
}

/// What `HOLD_BEST` asks for (the same fields as `POST /api/seats/best`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BestAsk {
    pub count: u64,
    pub category: Option<String>,
    pub section: Option<String>,
    pub accessible: bool,
}

/// A frame that could not be understood; answered with an `ERROR` and nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
    pub req_id: Value,
}

impl FrameError {
    fn new(code: ErrorCode, message: impl Into<String>, req_id: Value) -> Self {
        FrameError {
            code,
            message: message.into(),
            req_id,
        }
    }

    pub fn into_message(self) -> ServerMessage {
        ServerMessage::Error(CommandError {
            req_id: self.req_id,
            code: self.code,
            message: self.message,
            seat_id: None,
            seat_ids: None,
        })
    }
}

/// Parses one client text frame, naming precisely what is wrong with a bad one.
pub fn parse_client_frame(text: &str) -> Result<ClientCommand, FrameError> {
    let (frame, data) = frame_parts(text)?;
    let fields = FrameData::new(data);
    let kind = match frame.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        _ => return Err(fields.error("frame has no \"type\" string")),
    };
    let action = match kind {
        "CONNECT" | "subscribe" => {
            return Ok(ClientCommand::Connect {
                token: fields.string("token")?,
                venue: fields.string("venue")?,
                after_seq: fields.number("after_seq")?,
                epoch: fields.number("epoch")?,
                state: fields.state_form()?,
            })
        }
        "PING" => return Ok(ClientCommand::Ping),
        "HOLD_BEST" => {
            let Some(count) = fields.number("count")? else {
                return Err(fields.error("HOLD_BEST needs data.count, the number of seats"));
            };
            let ask = BestAsk {
                count,
                category: fields.string("category")?,
                section: fields.string("section")?,
                accessible: fields.boolean("accessible")?.unwrap_or(false),
            };
            return Ok(ClientCommand::Best {
                ask,
                req_id: fields.req_id,
            });
        }
        "SELECT_SEAT" => SeatAction::Select,
        "BOOK_SEAT" => SeatAction::Book,
        "RELEASE_SEAT" => SeatAction::Release,
        "SELECT_SEATS" | "BOOK_SEATS" | "RELEASE_SEATS" => {
            let action = match kind {
                "SELECT_SEATS" => SeatAction::Select,
                "BOOK_SEATS" => SeatAction::Book,
                _ => SeatAction::Release,
            };
            return match fields.string_list("seat_ids")? {
                Some(seat_ids) if !seat_ids.is_empty() => Ok(ClientCommand::Seats {
                    action,
                    seat_ids,
                    req_id: fields.req_id,
                }),
                _ => Err(fields.error(format!(
                    "{} needs data.seat_ids, a non-empty array of seat ids",
                    action.group_message_type()
                ))),
            };
        }
        other => {
            let shown: String = other.chars().take(40).collect();
            return Err(FrameError::new(
                ErrorCode::UnknownType,
                format!("unknown message type \"{shown}\""),
                fields.req_id,
            ));
        }
    };
    match fields.string("seat_id")? {
        Some(seat_id) => Ok(ClientCommand::Seat {
            action,
            seat_id,
            req_id: fields.req_id,
        }),
        None => Err(fields.error(format!("{} needs data.seat_id", action.message_type()))),
    }
}

/// A JSON object as serde_json reads it.
type JsonObject = serde_json::Map<String, Value>;

/// A frame's object and its `data` object (empty when absent or null), or why the frame is not
/// `{"type":…,"data":{…}}` within the size limit. Nothing here can echo a `req_id`.
fn frame_parts(text: &str) -> Result<(JsonObject, JsonObject), FrameError> {
    let invalid =
        |message: String| FrameError::new(ErrorCode::ValidationError, message, Value::Null);
    if text.len() > MAX_CLIENT_FRAME_BYTES {
        return Err(FrameError::new(
            ErrorCode::FrameTooLarge,
            format!("frames are limited to {MAX_CLIENT_FRAME_BYTES} bytes"),
            Value::Null,
        ));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("frame is not valid JSON: {e}")))?;
    let Value::Object(mut frame) = value else {
        return Err(invalid(
            "frame must be a JSON object like {\"type\":…,\"data\":{…}}".into(),
        ));
    };
    let data = match frame.remove("data") {
        None | Some(Value::Null) => JsonObject::new(),
        Some(Value::Object(data)) => data,
        Some(_) => return Err(invalid("\"data\" must be an object".into())),
    };
    Ok((frame, data))
}

/// A frame's `data`, read field by field; every error echoes its `req_id` (a string or a number,
/// else null).
struct FrameData {
    data: JsonObject,
    req_id: Value,
}

impl FrameData {
    fn new(data: JsonObject) -> Self {
        let req_id = match data.get("req_id") {
            Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
            _ => Value::Null,
        };
        FrameData { data, req_id }
    }

    fn error(&self, message: impl Into<String>) -> FrameError {
        FrameError::new(ErrorCode::ValidationError, message, self.req_id.clone())
    }

    /// An optional string field.
    fn string(&self, field: &str) -> Result<Option<String>, FrameError> {
        match self.data.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.error(format!("\"{field}\" must be a string"))),
        }
    }

    /// An optional array of strings.
    fn string_list(&self, field: &str) -> Result<Option<Vec<String>>, FrameError> {
        match self.data.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| self.error(format!("\"{field}\" must be an array of strings"))),
            Some(_) => Err(self.error(format!("\"{field}\" must be an array of strings"))),
        }
    }

    /// `state`: `"full"` or `"compact"`, if present.
    fn state_form(&self) -> Result<Option<StateForm>, FrameError> {
        match self.string("state")? {
            None => Ok(None),
            Some(form) => StateForm::parse(&form)
                .map(Some)
                .ok_or_else(|| self.error("\"state\" must be \"full\" or \"compact\"")),
        }
    }

    /// An optional `true` or `false`.
    fn boolean(&self, field: &str) -> Result<Option<bool>, FrameError> {
        match self.data.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.error(format!("\"{field}\" must be true or false"))),
        }
    }

    /// An optional whole number of 0 or more.
    fn number(&self, field: &str) -> Result<Option<u64>, FrameError> {
        match self.data.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(_) => Err(self.error(format!("\"{field}\" must be a whole number of 0 or more"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_commands_and_the_subscribe_alias() {
        assert_eq!(
            parse_client_frame(r#"{"type":"SELECT_SEAT","data":{"seat_id":"A1","req_id":"r1"}}"#),
            Ok(ClientCommand::Seat {
                action: SeatAction::Select,
                seat_id: "A1".into(),
                req_id: json!("r1")
            })
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"subscribe","data":{"venue":"main"}}"#),
            Ok(ClientCommand::Connect {
                token: None,
                venue: Some("main".into()),
                after_seq: None,
                epoch: None,
                state: None,
            })
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"CONNECT"}"#),
            Ok(ClientCommand::Connect {
                token: None,
                venue: None,
                after_seq: None,
                epoch: None,
                state: None,
            })
        );
        assert_eq!(
            parse_client_frame(
                r#"{"type":"CONNECT","data":{"token":"t","after_seq":42,"epoch":7}}"#
            ),
            Ok(ClientCommand::Connect {
                token: Some("t".into()),
                venue: None,
                after_seq: Some(42),
                epoch: Some(7),
                state: None,
            })
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"CONNECT","data":{"state":"compact"}}"#),
            Ok(ClientCommand::Connect {
                token: None,
                venue: None,
                after_seq: None,
                epoch: None,
                state: Some(StateForm::Compact),
            })
        );
    }

    #[test]
    fn parses_group_commands() {
        assert_eq!(
            parse_client_frame(
                r#"{"type":"BOOK_SEATS","data":{"seat_ids":["A1","a2"],"req_id":7}}"#
            ),
            Ok(ClientCommand::Seats {
                action: SeatAction::Book,
                seat_ids: vec!["A1".into(), "a2".into()],
                req_id: json!(7)
            })
        );
        let code = |text: &str| parse_client_frame(text).unwrap_err().code;
        for bad in [
            r#"{"type":"SELECT_SEATS","data":{}}"#,
            r#"{"type":"SELECT_SEATS","data":{"seat_ids":[]}}"#,
            r#"{"type":"SELECT_SEATS","data":{"seat_ids":"A1"}}"#,
            r#"{"type":"RELEASE_SEATS","data":{"seat_ids":["A1",2]}}"#,
        ] {
            assert_eq!(code(bad), ErrorCode::ValidationError, "{bad}");
        }
    }

    #[test]
    fn parses_hold_best() {
        assert_eq!(
            parse_client_frame(
                r#"{"type":"HOLD_BEST","data":{"count":4,"category":"lower","accessible":true,"req_id":"b"}}"#
            ),
            Ok(ClientCommand::Best {
                ask: BestAsk {
                    count: 4,
                    category: Some("lower".into()),
                    section: None,
                    accessible: true,
                },
                req_id: json!("b")
            })
        );
        let code = |text: &str| parse_client_frame(text).unwrap_err().code;
        for bad in [
            r#"{"type":"HOLD_BEST","data":{}}"#,
            r#"{"type":"HOLD_BEST","data":{"count":"4"}}"#,
            r#"{"type":"HOLD_BEST","data":{"count":-1}}"#,
            r#"{"type":"HOLD_BEST","data":{"count":2,"accessible":"yes"}}"#,
            r#"{"type":"HOLD_BEST","data":{"count":2,"section":7}}"#,
        ] {
            assert_eq!(code(bad), ErrorCode::ValidationError, "{bad}");
        }
    }

    #[test]
    fn group_answers_round_trip() {
        let seat = |id: &str| Seat {
            id: id.into(),
            row: Some(0),
            col: Some(0),
            status: SeatStatus::Held,
            held_by: Some("u-1".into()),
            expires_at: Some(9),
        };
        for seats in [
            OkSeats::One {
                seat_id: "A1".into(),
                seat: seat("A1"),
            },
            OkSeats::Several {
                seat_ids: vec!["A1".into(), "A2".into()],
                seats: vec![seat("A1"), seat("A2")],
            },
        ] {
            let msg = ServerMessage::Ok(CommandOk {
                req_id: json!("r"),
                action: "select".into(),
                seats,
            });
            assert_eq!(
                serde_json::from_str::<ServerMessage>(&msg.to_json()).unwrap(),
                msg
            );
        }
        let error = ServerMessage::Error(CommandError {
            req_id: json!("r"),
            code: ErrorCode::SeatUnavailable,
            message: "A2 is held by another user".into(),
            seat_id: None,
            seat_ids: Some(vec!["A2".into()]),
        });
        assert!(error
            .to_json()
            .contains(r#""seat_id":null,"seat_ids":["A2"]"#));
    }

    #[test]
    fn names_what_is_wrong_with_bad_frames() {
        let code = |text: &str| parse_client_frame(text).unwrap_err().code;
        assert_eq!(code("not json"), ErrorCode::ValidationError);
        assert_eq!(code("[1,2]"), ErrorCode::ValidationError);
        assert_eq!(code(r#"{"data":{}}"#), ErrorCode::ValidationError);
        assert_eq!(
            code(r#"{"type":"DANCE","data":{}}"#),
            ErrorCode::UnknownType
        );
        assert_eq!(
            code(r#"{"type":"BOOK_SEAT","data":{}}"#),
            ErrorCode::ValidationError
        );
        assert_eq!(
            code(r#"{"type":"BOOK_SEAT","data":{"seat_id":5}}"#),
            ErrorCode::ValidationError
        );
        assert_eq!(code(&"x".repeat(5000)), ErrorCode::FrameTooLarge);
        assert_eq!(
            code(r#"{"type":"CONNECT","data":{"after_seq":-1}}"#),
            ErrorCode::ValidationError
        );
        assert_eq!(
            code(r#"{"type":"CONNECT","data":{"after_seq":"12"}}"#),
            ErrorCode::ValidationError
        );
        assert_eq!(
            code(r#"{"type":"CONNECT","data":{"state":"tiny"}}"#),
            ErrorCode::ValidationError
        );
        assert_eq!(
            code(r#"{"type":"CONNECT","data":{"state":1}}"#),
            ErrorCode::ValidationError
        );
        let err = parse_client_frame(r#"{"type":"BOOK_SEAT","data":{"req_id":"q9"}}"#).unwrap_err();
        assert_eq!(err.req_id, json!("q9"));
    }

    #[test]
    fn ping_status_and_pong_frames() {
        assert_eq!(
            parse_client_frame(r#"{"type":"PING"}"#),
            Ok(ClientCommand::Ping)
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"PING","data":{}}"#),
            Ok(ClientCommand::Ping)
        );
        let lost = ServerMessage::Status(Status {
            venue: "main".into(),
            live: false,
            reason: Some(NotLiveReason::NatsLost),
        });
        assert_eq!(
            lost.to_json(),
            r#"{"type":"STATUS","data":{"venue":"main","live":false,"reason":"nats_lost"}}"#
        );
        let live = ServerMessage::Status(Status {
            venue: "main".into(),
            live: true,
            reason: None,
        });
        assert_eq!(
            live.to_json(),
            r#"{"type":"STATUS","data":{"venue":"main","live":true}}"#
        );
        assert_eq!(
            serde_json::from_str::<ServerMessage>(&lost.to_json()).unwrap(),
            lost
        );
        let pong = ServerMessage::Pong(Pong { server_time_ms: 7 });
        assert_eq!(
            pong.to_json(),
            r#"{"type":"PONG","data":{"server_time_ms":7}}"#
        );
    }

    #[test]
    fn server_messages_are_tagged_with_type_and_data() {
        let msg = ServerMessage::SeatUpdate(SeatUpdate {
            venue: "main".into(),
            seq: 3,
            seat_id: "A1".into(),
            status: SeatStatus::Available,
            held_by: None,
            expires_at: None,
            reason: Some(ReleaseReason::Expired),
        });
        let json = msg.to_json();
        assert_eq!(
            json,
            r#"{"type":"SEAT_UPDATE","data":{"venue":"main","seq":3,"seat_id":"A1","status":0,"held_by":null,"expires_at":null,"reason":"expired"}}"#
        );
        assert_eq!(serde_json::from_str::<ServerMessage>(&json).unwrap(), msg);
    }
}
