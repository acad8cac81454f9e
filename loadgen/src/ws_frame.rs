//! WebSocket frame headers as seatbench writes them: unmasked server frames (the floor, and the
//! scripted servers of tests) and the header of the viewers' masked client frames.

/// Appends a frame header: `first` is the FIN bit and opcode byte, `masked` sets the mask bit
/// (the masking key itself is the caller's), `len` the payload length in its shortest form.
pub fn push_header(out: &mut Vec<u8>, first: u8, masked: bool, len: usize) {
    let mask_bit = if masked { 0x80 } else { 0 };
    out.push(first);
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// One unmasked server frame.
pub fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 10);
    push_header(
        &mut frame,
        u8::from(fin) << 7 | opcode,
        false,
        payload.len(),
    );
    frame.extend_from_slice(payload);
    frame
}
