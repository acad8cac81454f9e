//! What a viewer does with each whole message, per protocol: the seat map's `VENUE_STATE` and
//! `SEAT_UPDATE`, the NATS text protocol (`INFO` → `CONNECT`/`SUB`/`PING`, `PING` → `PONG`, `MSG`),
//! and the floor's raw frames. Messages are scanned, never parsed as JSON, and noted without
//! allocating (an update is one push into the viewer's notes).

use super::frames::{encode_client, find, frame_type, number_after, string_after, OP_BINARY};
use super::notes::Notes;
use super::Protocol;

const SEQ: &[u8] = b"\"seq\":";
const EPOCH: &[u8] = b"\"epoch\":";

/// What every viewer of one loop shares.
pub struct Settings {
    pub protocol: Protocol,
    /// `seatmap` only: the venue watched, when not the default.
    pub venue: Option<String>,
}

/// One viewer's protocol state and notes.
#[derive(Default)]
pub struct Viewer {
    pub notes: Notes,
    /// nats: `CONNECT` and `SUB` sent.
    subscribed: bool,
    /// nats: protocol bytes not handled yet (a partial line or `MSG` payload).
    pending: Vec<u8>,
}

impl Viewer {
    /// Handles one whole data message (`binary`: its opcode was binary) received at `at`; replies
    /// go to `out` as masked frames. An error ends the connection.
    pub fn message(
        &mut self,
        settings: &Settings,
        binary: bool,
        payload: &[u8],
        at: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        match settings.protocol {
            Protocol::Seatmap if !binary => self.seatmap(settings.venue.as_deref(), payload, at),
            Protocol::Raw if !binary => self.raw(payload, at),
            Protocol::Nats => return self.nats(payload, at, out),
            _ => {}
        }
        Ok(())
    }

    fn seatmap(&mut self, venue: Option<&str>, text: &[u8], at: u64) {
        let watching = || {
            venue.is_none_or(|venue| {
                string_after(text, b"\"venue\":\"").is_some_and(|v| v == venue.as_bytes())
            })
        };
        match frame_type(text) {
            Some(b"SEAT_UPDATE") if watching() => {
                if let Some(seq) = number_after(text, SEQ) {
                    self.notes.update(seq, at);
                }
            }
            Some(b"VENUE_STATE") if watching() => {
                let seq = number_after(text, SEQ).unwrap_or(0);
                let epoch = number_after(text, EPOCH).unwrap_or(0);
                self.notes.state(epoch, seq, text.len(), at);
            }
            _ => {}
        }
    }

    fn raw(&mut self, text: &[u8], at: u64) {
        if self.notes.ready_ns.is_none() {
            self.notes.ready_ns = Some(at);
        }
        if let Some(seq) = number_after(text, SEQ) {
            self.notes.update(seq, at);
        }
    }

    /// The NATS protocol is a byte stream: a message's bytes may end mid-line, the rest comes in
    /// the next one.
    fn nats(&mut self, bytes: &[u8], at: u64, out: &mut Vec<u8>) -> Result<(), String> {
        if self.pending.is_empty() {
            let used = self.nats_lines(bytes, at, out)?;
            self.pending.extend_from_slice(&bytes[used..]);
        } else {
            let mut pending = std::mem::take(&mut self.pending);
            pending.extend_from_slice(bytes);
            let used = self.nats_lines(&pending, at, out)?;
            pending.drain(..used);
            self.pending = pending;
        }
        Ok(())
    }

    /// Handles the whole lines (and `MSG` payloads) in `buf`; returns the bytes handled.
    fn nats_lines(&mut self, buf: &[u8], at: u64, out: &mut Vec<u8>) -> Result<usize, String> {
        let mut start = 0;
        while let Some(eol) = find(&buf[start..], b"\r\n") {
            let line = &buf[start..start + eol];
            if let Some(rest) = line.strip_prefix(b"MSG ") {
                let size: usize = std::str::from_utf8(rest)
                    .ok()
                    .and_then(|r| r.rsplit(' ').next())
                    .and_then(|n| n.parse().ok())
                    .ok_or("bad MSG line")?;
                let payload_at = start + eol + 2;
                if buf.len() < payload_at + size + 2 {
                    break; // the rest of the message is in a later frame
                }
                if let Some(seq) = number_after(&buf[payload_at..payload_at + size], SEQ) {
                    self.notes.update(seq, at);
                }
                start = payload_at + size + 2;
                continue;
            }
            if line.starts_with(b"INFO") && !self.subscribed {
                self.subscribed = true;
                encode_client(
                    OP_BINARY,
                    b"CONNECT {\"verbose\":false,\"pedantic\":false,\"lang\":\"seatbench\",\"version\":\"0\",\"protocol\":1,\"headers\":false}\r\nSUB seats.> 1\r\nPING\r\n",
                    out,
                );
            } else if line == b"PING" {
                encode_client(OP_BINARY, b"PONG\r\n", out);
            } else if line == b"PONG" && self.notes.ready_ns.is_none() {
                self.notes.ready_ns = Some(at);
            } else if line.starts_with(b"-ERR") {
                return Err(format!("nats-server: {}", String::from_utf8_lossy(line)));
            }
            start += eol + 2;
        }
        Ok(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(protocol: Protocol, venue: Option<&str>) -> Settings {
        Settings {
            protocol,
            venue: venue.map(str::to_owned),
        }
    }

    #[test]
    fn seatmap_notes_states_and_updates_of_its_venue() {
        let s = settings(Protocol::Seatmap, Some("mid"));
        let mut v = Viewer::default();
        let mut out = Vec::new();
        let state = br#"{"type":"VENUE_STATE","data":{"venue":"mid","seq":7,"seats":[]}}"#;
        let other = br#"{"type":"SEAT_UPDATE","data":{"venue":"main","seq":8}}"#;
        let mine = br#"{"type":"SEAT_UPDATE","data":{"venue":"mid","seq":8}}"#;
        v.message(&s, false, br#"{"type":"WELCOME","data":{}}"#, 1, &mut out)
            .unwrap();
        assert_eq!(v.notes.ready_ns, None);
        v.message(&s, false, state, 2, &mut out).unwrap();
        v.message(&s, false, other, 3, &mut out).unwrap();
        v.message(&s, true, mine, 4, &mut out).unwrap(); // binary: not the seat map's
        v.message(&s, false, mine, 5, &mut out).unwrap();
        assert_eq!(v.notes.ready_ns, Some(2));
        assert_eq!(v.notes.state_bytes, state.len());
        assert_eq!(v.notes.updates, vec![(8, 5)]);
        assert!(out.is_empty());
    }

    #[test]
    fn nats_subscribes_answers_pings_and_reads_messages_across_frames() {
        let s = settings(Protocol::Nats, None);
        let mut v = Viewer::default();
        let mut out = Vec::new();
        v.message(&s, false, b"INFO {\"server_id\":\"x\"}\r\n", 1, &mut out)
            .unwrap();
        assert!(v.subscribed);
        let sent = out.len();
        assert!(sent > 100);
        v.message(&s, true, b"PONG\r\nPI", 2, &mut out).unwrap();
        assert_eq!(v.notes.ready_ns, Some(2));
        v.message(
            &s,
            true,
            b"NG\r\nMSG seats.main.A1 1 12\r\n{\"seq\":",
            3,
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len(), sent + 2 + 4 + 6, "one masked PONG");
        assert!(v.notes.updates.is_empty());
        v.message(
            &s,
            true,
            b"31}  \r\nMSG seats.main.A2 1 10\r\n{\"seq\":32}\r\n",
            4,
            &mut out,
        )
        .unwrap();
        assert_eq!(v.notes.updates, vec![(31, 4), (32, 4)]);
        assert!(v.pending.is_empty());
        let err = v.message(&s, true, b"-ERR 'Authorization Violation'\r\n", 5, &mut out);
        assert!(err.unwrap_err().contains("Authorization"));
    }

    #[test]
    fn raw_is_ready_on_its_first_frame() {
        let s = settings(Protocol::Raw, None);
        let mut v = Viewer::default();
        let mut out = Vec::new();
        v.message(&s, false, br#"{"venue":"main","seq":3}"#, 9, &mut out)
            .unwrap();
        assert_eq!(v.notes.ready_ns, Some(9));
        assert_eq!(v.notes.updates, vec![(3, 9)]);
    }
}
