//! A `Read + Seek` over byte-range reads, so a TIFF decoder pulls only the parts of a large file
//! one tile needs.
//!
//! Cutting a 2048² slice into four 1024² tiles would otherwise read the whole file four times.
//! The TIFF decoder seeks to the directory, then to each strip it wants; this reader serves those
//! reads from blocks of at least [`BLOCK`] bytes fetched through the host, so many small strips
//! cost a few calls, and strips outside the window are never fetched.

use std::io::{self, Read, Seek, SeekFrom};

use plugin_abi::PluginError;

/// Range fetched when reads run on from the previous one (strip after strip): large enough that
/// per-call overhead vanishes, small enough that little beyond the window is read.
pub const BLOCK: u64 = 1 << 20;

/// Range fetched after a jump (the header, the directory, the window's first strip): these are
/// often followed by another jump, so reading far ahead would be wasted.
pub const JUMP_BLOCK: u64 = 64 << 10;

/// Reads `len` bytes at `offset` (fewer only at the end of the data).
pub type FetchFn<'a> = dyn Fn(u64, u64) -> Result<Vec<u8>, PluginError> + 'a;

/// A reader over `size` bytes fetched on demand.
pub struct RangeReader<'a> {
    fetch: &'a FetchFn<'a>,
    size: u64,
    pos: u64,
    block: Vec<u8>,
    block_start: u64,
    /// The first fetch failure, kept whole so the caller can report its kind (the decoder only
    /// passes on an `io::Error`).
    failure: Option<PluginError>,
}

impl<'a> RangeReader<'a> {
    pub fn new(fetch: &'a FetchFn<'a>, size: u64) -> RangeReader<'a> {
        RangeReader {
            fetch,
            size,
            pos: 0,
            block: Vec::new(),
            block_start: 0,
            failure: None,
        }
    }

    /// The host error behind a failed read, if any.
    pub fn take_failure(&mut self) -> Option<PluginError> {
        self.failure.take()
    }

    /// Whether `pos` lies in the current block.
    fn in_block(&self, pos: u64) -> bool {
        pos >= self.block_start && pos < self.block_start + self.block.len() as u64
    }
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.pos >= self.size {
            return Ok(0);
        }
        if !self.in_block(self.pos) {
            let sequential =
                !self.block.is_empty() && self.pos == self.block_start + self.block.len() as u64;
            let ahead = if sequential { BLOCK } else { JUMP_BLOCK };
            let len = (buf.len() as u64).max(ahead).min(self.size - self.pos);
            match (self.fetch)(self.pos, len) {
                Ok(bytes) if !bytes.is_empty() => {
                    self.block = bytes;
                    self.block_start = self.pos;
                }
                Ok(_) => return Ok(0),
                Err(e) => {
                    let err = io::Error::other(e.message.clone());
                    self.failure.get_or_insert(e);
                    return Err(err);
                }
            }
        }
        let start = (self.pos - self.block_start) as usize;
        let n = buf.len().min(self.block.len() - start);
        buf[..n].copy_from_slice(&self.block[start..start + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RangeReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn reads_and_seeks_like_a_cursor_fetching_blocks() {
        let data: Vec<u8> = (0..3 * BLOCK + 10).map(|i| (i % 251) as u8).collect();
        let calls = RefCell::new(Vec::new());
        let fetch = |off: u64, len: u64| {
            calls.borrow_mut().push((off, len));
            let end = (off + len).min(data.len() as u64) as usize;
            Ok(data[off as usize..end].to_vec())
        };
        let mut r = RangeReader::new(&fetch, data.len() as u64);
        let mut buf = [0u8; 16];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(&buf[..], &data[..16]);
        r.seek(SeekFrom::End(-4)).unwrap();
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, &data[data.len() - 4..]);
        r.seek(SeekFrom::Start(BLOCK - 2)).unwrap();
        r.read_exact(&mut buf[..4]).unwrap();
        assert_eq!(&buf[..4], &data[BLOCK as usize - 2..BLOCK as usize + 2]);
        // Reading on past the block continues sequentially: a full block.
        r.seek(SeekFrom::Start(BLOCK - 2 + JUMP_BLOCK - 1)).unwrap();
        r.read_exact(&mut buf[..2]).unwrap();
        let at = (BLOCK - 2 + JUMP_BLOCK - 1) as usize;
        assert_eq!(&buf[..2], &data[at..at + 2]);
        assert_eq!(
            *calls.borrow(),
            vec![
                (0, JUMP_BLOCK),
                (3 * BLOCK + 6, 4),
                (BLOCK - 2, JUMP_BLOCK),
                (BLOCK - 2 + JUMP_BLOCK, BLOCK)
            ]
        );
    }

    #[test]
    fn a_failed_fetch_keeps_the_host_error() {
        let fetch = |_: u64, _: u64| Err(PluginError::io("disk on fire"));
        let mut r = RangeReader::new(&fetch, 100);
        let err = r.read(&mut [0; 4]).unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
        assert_eq!(r.take_failure(), Some(PluginError::io("disk on fire")));
    }
}
