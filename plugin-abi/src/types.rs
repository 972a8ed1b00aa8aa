//! The plain Rust data types that plugin authors and the host exchange: tile images, chunk
//! arrays, notes about what a processor did, and the description of a processor class.
//!
//! These types never cross the library boundary themselves. `ffi` converts them to and from
//! `#[repr(C)]` twins at the boundary, so plugin authors and the host write ordinary Rust and only
//! `ffi` knows how the bytes travel. Enums cross as integer codes, so an older host meeting a
//! newer code sees "unknown" instead of undefined behaviour.

use std::fmt;

/// The sample type of a tile or chunk. Samples are unsigned integers, stored little-endian.
/// Ordered by width (a plain Rust enum: it crosses the boundary as its code, see `ffi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dtype {
    U8,
    U16,
    U32,
    U64,
}

impl Dtype {
    /// Every dtype, in code order.
    pub const ALL: [Dtype; 4] = [Dtype::U8, Dtype::U16, Dtype::U32, Dtype::U64];

    /// Bytes per sample.
    pub fn size(self) -> usize {
        match self {
            Dtype::U8 => 1,
            Dtype::U16 => 2,
            Dtype::U32 => 4,
            Dtype::U64 => 8,
        }
    }

    /// The largest value a sample can hold.
    pub fn max_value(self) -> u64 {
        match self {
            Dtype::U8 => u8::MAX.into(),
            Dtype::U16 => u16::MAX.into(),
            Dtype::U32 => u32::MAX.into(),
            Dtype::U64 => u64::MAX,
        }
    }

    /// The Boss / numpy name of the dtype (`uint8`, `uint16`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::U8 => "uint8",
            Dtype::U16 => "uint16",
            Dtype::U32 => "uint32",
            Dtype::U64 => "uint64",
        }
    }

    /// Parses a Boss / numpy dtype name (`uint8`, `uint16`, `uint32`, `uint64`).
    pub fn from_name(name: &str) -> Option<Dtype> {
        Dtype::ALL.into_iter().find(|d| d.name() == name)
    }

    pub(crate) fn code(self) -> u32 {
        match self {
            Dtype::U8 => 0,
            Dtype::U16 => 1,
            Dtype::U32 => 2,
            Dtype::U64 => 3,
        }
    }

    pub(crate) fn from_code(code: u32) -> Option<Dtype> {
        Dtype::ALL.into_iter().find(|d| d.code() == code)
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An encoding the Boss accepts for a tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Png,
    Tiff,
    Jpeg,
}

impl ImageFormat {
    pub const ALL: [ImageFormat; 3] = [ImageFormat::Png, ImageFormat::Tiff, ImageFormat::Jpeg];

    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Tiff => "tiff",
            ImageFormat::Jpeg => "jpeg",
        }
    }

    pub(crate) fn code(self) -> u32 {
        match self {
            ImageFormat::Png => 0,
            ImageFormat::Tiff => 1,
            ImageFormat::Jpeg => 2,
        }
    }

    pub(crate) fn from_code(code: u32) -> Option<ImageFormat> {
        ImageFormat::ALL.into_iter().find(|f| f.code() == code)
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a tile processor produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TileImage {
    /// A complete single-channel image file, uploaded as it is.
    Encoded { format: ImageFormat, bytes: Vec<u8> },
    /// Raw pixels, row-major, little-endian samples of `dtype`, `width * height * dtype.size()`
    /// bytes. The host encodes them (PNG).
    Raw {
        width: u32,
        height: u32,
        dtype: Dtype,
        data: Vec<u8>,
    },
}

/// A tile and what the processor wants the user to know about how it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileOutput {
    pub image: TileImage,
    pub notes: Vec<Note>,
}

impl TileOutput {
    /// A tile with nothing to report.
    pub fn new(image: TileImage) -> TileOutput {
        TileOutput {
            image,
            notes: Vec::new(),
        }
    }

    /// Adds a note (builder style).
    pub fn with_note(mut self, note: Note) -> TileOutput {
        self.notes.push(note);
        self
    }
}

/// Something a processor did that the user should hear about: the host logs each note and
/// counts them by kind in its summaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub kind: NoteKind,
    pub message: String,
}

impl Note {
    /// A tile was replaced by a black (all zero) tile, e.g. its source file was missing.
    pub fn black_tile(message: impl Into<String>) -> Note {
        Note {
            kind: NoteKind::BlackTile,
            message: message.into(),
        }
    }

    /// Samples were converted from one type to another on the user's request.
    pub fn cast(message: impl Into<String>) -> Note {
        Note {
            kind: NoteKind::Cast,
            message: message.into(),
        }
    }

    /// Anything else worth a log line.
    pub fn other(message: impl Into<String>) -> Note {
        Note {
            kind: NoteKind::Other,
            message: message.into(),
        }
    }
}

/// The kinds of [`Note`]. A code the host does not know arrives as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoteKind {
    BlackTile,
    Cast,
    Other,
}

impl NoteKind {
    pub(crate) fn code(self) -> u32 {
        match self {
            NoteKind::BlackTile => 0,
            NoteKind::Cast => 1,
            NoteKind::Other => 2,
        }
    }

    pub(crate) fn from_code(code: u32) -> NoteKind {
        match code {
            0 => NoteKind::BlackTile,
            1 => NoteKind::Cast,
            _ => NoteKind::Other,
        }
    }
}

/// The order of the axes of a [`ChunkArray`], slowest-varying first (C order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AxisOrder {
    Xyz,
    Zyx,
    Xyzt,
    Tzyx,
}

impl AxisOrder {
    pub const ALL: [AxisOrder; 4] = [
        AxisOrder::Xyz,
        AxisOrder::Zyx,
        AxisOrder::Xyzt,
        AxisOrder::Tzyx,
    ];

    /// Number of axes (3 or 4).
    pub fn rank(self) -> usize {
        match self {
            AxisOrder::Xyz | AxisOrder::Zyx => 3,
            AxisOrder::Xyzt | AxisOrder::Tzyx => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AxisOrder::Xyz => "XYZ",
            AxisOrder::Zyx => "ZYX",
            AxisOrder::Xyzt => "XYZT",
            AxisOrder::Tzyx => "TZYX",
        }
    }

    pub(crate) fn code(self) -> u32 {
        match self {
            AxisOrder::Xyz => 0,
            AxisOrder::Zyx => 1,
            AxisOrder::Xyzt => 2,
            AxisOrder::Tzyx => 3,
        }
    }

    pub(crate) fn from_code(code: u32) -> Option<AxisOrder> {
        AxisOrder::ALL.into_iter().find(|o| o.code() == code)
    }
}

impl fmt::Display for AxisOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A 3-D or 4-D block of voxels returned by a chunk processor.
///
/// `shape[i]` is the length of axis `i` of `order` (so `shape.len() == order.rank()`); `data`
/// holds `shape.product() * dtype.size()` bytes, little-endian samples in C order of `order`
/// (the last axis varies fastest). `notes` report what the processor did that the user should
/// hear about (missing source chunks filled with zeros, casts), as a tile's notes do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkArray {
    pub shape: Vec<u64>,
    pub order: AxisOrder,
    pub dtype: Dtype,
    pub data: Vec<u8>,
    pub notes: Vec<Note>,
}

impl ChunkArray {
    /// A chunk with nothing to report.
    pub fn new(shape: Vec<u64>, order: AxisOrder, dtype: Dtype, data: Vec<u8>) -> ChunkArray {
        ChunkArray {
            shape,
            order,
            dtype,
            data,
            notes: Vec::new(),
        }
    }

    /// Adds a note (builder style).
    pub fn with_note(mut self, note: Note) -> ChunkArray {
        self.notes.push(note);
        self
    }

    /// Checks that shape, order, dtype and data length agree.
    pub fn validate(&self) -> Result<(), String> {
        if self.shape.len() != self.order.rank() {
            return Err(format!(
                "chunk shape {:?} has {} axes but axis order {} has {}",
                self.shape,
                self.shape.len(),
                self.order,
                self.order.rank()
            ));
        }
        let expected = self
            .shape
            .iter()
            .try_fold(self.dtype.size() as u64, |acc, &n| acc.checked_mul(n));
        match expected {
            Some(n) if n == self.data.len() as u64 => Ok(()),
            Some(n) => Err(format!(
                "chunk of shape {:?} ({}) needs {} bytes but has {}",
                self.shape,
                self.dtype,
                n,
                self.data.len()
            )),
            None => Err(format!("chunk shape {:?} overflows", self.shape)),
        }
    }
}

/// What a processor class does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcessorKind {
    /// `(x, y, z, t) → path`
    Path,
    /// `(path, x, y, z, t) → tile`
    Tile,
    /// `(path, x, y, z) → chunk`
    Chunk,
}

impl ProcessorKind {
    pub fn name(self) -> &'static str {
        match self {
            ProcessorKind::Path => "path",
            ProcessorKind::Tile => "tile",
            ProcessorKind::Chunk => "chunk",
        }
    }

    pub(crate) fn code(self) -> u32 {
        match self {
            ProcessorKind::Path => 0,
            ProcessorKind::Tile => 1,
            ProcessorKind::Chunk => 2,
        }
    }

    pub(crate) fn from_code(code: u32) -> Option<ProcessorKind> {
        [
            ProcessorKind::Path,
            ProcessorKind::Tile,
            ProcessorKind::Chunk,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

impl fmt::Display for ProcessorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One processor class a library provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassInfo {
    /// The class name used in configs (`ZindexStackTileProcessor`).
    pub name: String,
    pub kind: ProcessorKind,
    /// The dotted Python names this class answers to
    /// (`ingestclient.plugins.stack.ZindexStackTileProcessor`), if any.
    pub legacy_names: Vec<String>,
    /// One line saying what it does, for `boss-ingest plugins`.
    pub description: String,
}

/// Severity of a log line a plugin sends through [`crate::HostServices::log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub(crate) fn code(self) -> u32 {
        match self {
            LogLevel::Error => 1,
            LogLevel::Warn => 2,
            LogLevel::Info => 3,
            LogLevel::Debug => 4,
            LogLevel::Trace => 5,
        }
    }

    pub(crate) fn from_code(code: u32) -> LogLevel {
        match code {
            0 | 1 => LogLevel::Error,
            2 => LogLevel::Warn,
            3 => LogLevel::Info,
            4 => LogLevel::Debug,
            _ => LogLevel::Trace,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for d in Dtype::ALL {
            assert_eq!(Dtype::from_code(d.code()), Some(d));
            assert_eq!(Dtype::from_name(d.name()), Some(d));
        }
        for f in ImageFormat::ALL {
            assert_eq!(ImageFormat::from_code(f.code()), Some(f));
        }
        for o in AxisOrder::ALL {
            assert_eq!(AxisOrder::from_code(o.code()), Some(o));
        }
        assert_eq!(Dtype::from_code(99), None);
        assert_eq!(NoteKind::from_code(99), NoteKind::Other);
    }

    #[test]
    fn chunk_validation_names_the_mismatch() {
        let mut c = ChunkArray::new(vec![2, 3, 4], AxisOrder::Zyx, Dtype::U16, vec![0; 48]);
        assert_eq!(c.validate(), Ok(()));
        c.data.pop();
        assert_eq!(
            c.validate().unwrap_err(),
            "chunk of shape [2, 3, 4] (uint16) needs 48 bytes but has 47"
        );
        c.order = AxisOrder::Tzyx;
        assert_eq!(
            c.validate().unwrap_err(),
            "chunk shape [2, 3, 4] has 3 axes but axis order TZYX has 4"
        );
    }
}
