//! WebSocket frames as a client sees them (RFC 6455): server frames parsed in place from a byte
//! buffer (unmasked; fragments and control frames included), client frames encoded masked, and
//! the byte scans a viewer needs (`"type":"…"`, `"seq":N`) instead of parsing JSON.

use std::cell::Cell;

pub const OP_CONTINUATION: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// The largest message (all its fragments) a viewer accepts, as tungstenite's default.
pub const MAX_MESSAGE: usize = 64 << 20;

/// One server frame, borrowed from the buffer it was read into.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub fin: bool,
    pub opcode: u8,
    pub payload: &'a [u8],
}

/// What the front of a buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A whole frame, and how many bytes it took.
    Frame(Frame<'a>, usize),
    /// Not a whole frame yet: how many bytes the frame will take (0 while its header is short).
    Incomplete(usize),
}

/// Parses the frame at the front of `buf`. Errors are protocol violations by the server.
pub fn parse(buf: &[u8]) -> Result<Parsed<'_>, &'static str> {
    let [b0, b1, ..] = *buf else {
        return Ok(Parsed::Incomplete(0));
    };
    if b0 & 0x70 != 0 {
        return Err("server frame with reserved bits set (no extension was negotiated)");
    }
    if b1 & 0x80 != 0 {
        return Err("masked server frame");
    }
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0f;
    let (len, header) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(Parsed::Incomplete(0)),
        },
        127 => match buf.get(2..10) {
            Some(b) => (u64::from_be_bytes(b.try_into().expect("8 bytes")), 10),
            None => return Ok(Parsed::Incomplete(0)),
        },
        n => (u64::from(n), 2),
    };
    if opcode >= OP_CLOSE && (!fin || len > 125) {
        return Err("fragmented or oversized control frame");
    }
    if len > MAX_MESSAGE as u64 {
        return Err("server frame larger than 64 MiB");
    }
    let total = header + len as usize;
    if buf.len() < total {
        return Ok(Parsed::Incomplete(total));
    }
    Ok(Parsed::Frame(
        Frame {
            fin,
            opcode,
            payload: &buf[header..total],
        },
        total,
    ))
}

thread_local! {
    static MASK_STATE: Cell<u64> = Cell::new(crate::sys::now_ns() | 1);
}

/// A masking key (xorshift: servers only unmask; nothing here needs it unpredictable).
fn next_mask() -> [u8; 4] {
    MASK_STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x as u32).to_ne_bytes()
    })
}

/// Appends one final, masked client frame to `out`.
pub fn encode_client(opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(payload.len() + 14);
    crate::ws_frame::push_header(out, 0x80 | opcode, true, payload.len());
    let mask = next_mask();
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
}

/// Where `needle` first occurs in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = haystack[from..].iter().position(|&b| b == first) {
        let at = from + i;
        if haystack[at + 1..].starts_with(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The value of the first `"type":"…"` in a frame.
pub fn frame_type(text: &[u8]) -> Option<&[u8]> {
    string_after(text, b"\"type\":\"")
}

/// The string that follows `key` up to the next `"`.
pub fn string_after<'a>(text: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let start = find(text, key)? + key.len();
    let len = text[start..].iter().position(|&b| b == b'"')?;
    Some(&text[start..start + len])
}

/// The unsigned number that follows the first `key` (None without a digit there).
pub fn number_after(text: &[u8], key: &[u8]) -> Option<u64> {
    let start = find(text, key)? + key.len();
    text[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(None, |acc: Option<u64>, d| {
            Some(
                acc.unwrap_or(0)
                    .wrapping_mul(10)
                    .wrapping_add(u64::from(d - b'0')),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws_frame::server_frame;

    #[test]
    fn parses_each_length_form_and_waits_for_the_rest() {
        for n in [0, 5, 125, 126, 300, 65535, 65536, 700_000] {
            let payload: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let bytes = server_frame(true, OP_TEXT, &payload);
            let Ok(Parsed::Frame(frame, used)) = parse(&bytes) else {
                panic!("{n}: not a frame");
            };
            assert_eq!(
                (frame.fin, frame.opcode, frame.payload),
                (true, OP_TEXT, &payload[..])
            );
            assert_eq!(used, bytes.len());
            // Every prefix is incomplete; once the header is whole it tells the frame's size.
            for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
                match parse(&bytes[..cut]) {
                    Ok(Parsed::Incomplete(need)) => assert!(need == 0 || need == bytes.len()),
                    other => panic!("{n} cut at {cut}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn refuses_what_a_server_must_not_send() {
        assert!(parse(&[0x81, 0x81, 0, 0, 0, 0, b'x']).is_err()); // masked
        assert!(parse(&[0xc1, 0x00]).is_err()); // RSV1 (compression) not negotiated
        assert!(parse(&[0x09, 0x00]).is_err()); // fragmented ping
        assert!(parse(&[0x89, 126, 0, 200]).is_err()); // ping over 125 bytes
    }

    #[test]
    fn client_frames_are_masked() {
        let mut out = Vec::new();
        encode_client(OP_TEXT, b"hello", &mut out);
        assert_eq!(out[0], 0x81);
        assert_eq!(out[1], 0x80 | 5);
        let mask = &out[2..6];
        let unmasked: Vec<u8> = out[6..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        assert_eq!(unmasked, b"hello");
        let mut long = Vec::new();
        encode_client(OP_BINARY, &[7; 300], &mut long);
        assert_eq!(&long[..4], &[0x82, 0x80 | 126, 1, 44]);
        assert_eq!(long.len(), 4 + 4 + 300);
    }

    #[test]
    fn scans_frames() {
        let update = br#"{"type":"SEAT_UPDATE","data":{"venue":"main","seq":42,"seat_id":"A1"}}"#;
        assert_eq!(frame_type(update), Some(&b"SEAT_UPDATE"[..]));
        assert_eq!(number_after(update, b"\"seq\":"), Some(42));
        assert_eq!(string_after(update, b"\"venue\":\""), Some(&b"main"[..]));
        assert_eq!(number_after(b"{}", b"\"seq\":"), None);
        assert_eq!(number_after(br#"{"seq":x}"#, b"\"seq\":"), None);
        assert_eq!(find(b"aab", b"ab"), Some(1));
        assert_eq!(find(b"a", b"ab"), None);
    }
}
