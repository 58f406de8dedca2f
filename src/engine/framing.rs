//! Tagged bytes: how several writers' messages are told apart in one stream.
//!
//! A `write_messages` writer fills each message with bytes that carry its writer number
//! and their position; `read_messages` follows every writer's bytes through the shared
//! stream and counts the messages that arrived whole and those another writer's bytes
//! split. The benches check their streams with the same [`FrameCheck`].

/// Writers a `read_messages` check can tell apart: a byte carries its writer in 4 bits.
pub const MAX_TAGGED_WRITERS: usize = 16;

/// The byte a writer puts at position `pos` of its own stream (see `read_messages`).
pub fn tag_byte(writer: usize, pos: usize) -> u8 {
    ((writer as u8 & 0x0F) << 4) | (pos as u8 & 0x0F)
}

/// Checks a stream of tagged bytes (see [`tag_byte`]) from several writers.
///
/// Every byte names its writer and its position (mod 16) in that writer's own stream, so
/// each writer's bytes can be followed through the shared stream: a message is intact
/// when its bytes arrived contiguously, interleaved when another writer's bytes came in
/// between. A byte that names no writer or the wrong position is corrupt.
pub struct FrameCheck {
    size: usize,
    /// Bytes seen per writer so far.
    seen: Vec<usize>,
    /// Stream position of the first byte of each writer's current message.
    started: Vec<usize>,
    pub received: usize,
    pub valid: usize,
    pub corrupt: usize,
    pub intact: usize,
    pub interleaved: usize,
}

impl FrameCheck {
    pub fn new(writers: usize, size: usize) -> FrameCheck {
        FrameCheck {
            size: size.max(1),
            seen: vec![0; writers],
            started: vec![0; writers],
            received: 0,
            valid: 0,
            corrupt: 0,
            intact: 0,
            interleaved: 0,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let at = self.received;
            self.received += 1;
            let w = usize::from(b >> 4);
            if w >= self.seen.len() || usize::from(b & 0x0F) != self.seen[w] & 0x0F {
                self.corrupt += 1;
                continue;
            }
            if self.seen[w].is_multiple_of(self.size) {
                self.started[w] = at;
            }
            self.seen[w] += 1;
            self.valid += 1;
            if self.seen[w].is_multiple_of(self.size) {
                if at + 1 - self.started[w] == self.size {
                    self.intact += 1;
                } else {
                    self.interleaved += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(writer: usize, m: usize, size: usize) -> Vec<u8> {
        (0..size).map(|i| tag_byte(writer, m * size + i)).collect()
    }

    #[test]
    fn whole_messages_in_any_order_are_intact() {
        let mut c = FrameCheck::new(2, 20);
        c.feed(&message(0, 0, 20));
        c.feed(&message(1, 0, 20));
        c.feed(&message(0, 1, 20));
        assert_eq!((c.intact, c.interleaved, c.corrupt, c.valid), (3, 0, 0, 60));
    }

    #[test]
    fn a_message_split_by_another_writer_is_interleaved() {
        let mut c = FrameCheck::new(2, 20);
        let a = message(0, 0, 20);
        c.feed(&a[..7]);
        c.feed(&message(1, 0, 20));
        c.feed(&a[7..]);
        assert_eq!((c.intact, c.interleaved, c.corrupt), (1, 1, 0));
    }

    #[test]
    fn lost_or_foreign_bytes_are_corrupt() {
        let mut c = FrameCheck::new(1, 20);
        let a = message(0, 0, 20);
        c.feed(&a[..5]);
        c.feed(&a[6..]);
        assert!(c.corrupt > 0);
        let mut c = FrameCheck::new(1, 4);
        c.feed(&[0xF0]);
        assert_eq!(c.corrupt, 1);
    }
}
