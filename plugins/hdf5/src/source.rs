//! Opening a source HDF5 file and its datasets, with errors that name the file and dataset.
//!
//! libhdf5 reads files by path. A local source is opened where it is (libhdf5 then reads only
//! the parts of a dataset a tile selects); an `s3://` source (`filesystem: s3`) is first copied
//! through the host's byte-range reads, in bounded blocks, into a temporary file that is removed
//! when the tile is done, so the plugin needs no AWS SDK and never holds a whole file in memory.

use std::io::Write;

use hdf5::types::TypeDescriptor;
use plugin_abi::{ErrorKind, HostServices, PluginError};

/// Bytes fetched per host call when copying a remote file.
const COPY_BLOCK: u64 = 8 << 20;

/// Why a source file or dataset could not be read. Each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{location}: file not found")]
    NotFound { location: String },
    /// The host's own failure; its message names the location.
    #[error("{0}")]
    Read(PluginError),
    #[error("{location}: not a readable HDF5 file ({reason})")]
    NotHdf5 { location: String, reason: String },
    #[error("{location}: no dataset \"{name}\" in the file; it has: {available}")]
    NoDataset {
        location: String,
        name: String,
        available: String,
    },
    #[error("{location}: dataset \"{name}\": {reason}")]
    Dataset {
        location: String,
        name: String,
        reason: String,
    },
}

impl From<SourceError> for PluginError {
    fn from(e: SourceError) -> PluginError {
        let message = e.to_string();
        match e {
            SourceError::NotFound { .. } => PluginError::not_found(message),
            SourceError::Read(e) => e,
            SourceError::NotHdf5 { .. } => PluginError::invalid_image(message),
            SourceError::NoDataset { .. } | SourceError::Dataset { .. } => {
                PluginError::invalid_image(message)
            }
        }
    }
}

/// An open source file (and the temporary copy behind it, for remote sources).
pub struct Opened {
    pub location: String,
    pub file: hdf5::File,
    _copy: Option<tempfile::NamedTempFile>,
}

/// Opens the HDF5 file at `location` (a local path or an `s3://` URL the host can read).
pub fn open(host: &HostServices, location: &str) -> Result<Opened, SourceError> {
    let size = host.size(location).map_err(|e| match e.kind {
        ErrorKind::NotFound => SourceError::NotFound {
            location: location.to_string(),
        },
        _ => SourceError::Read(e),
    })?;
    let not_hdf5 = |e: hdf5::Error| SourceError::NotHdf5 {
        location: location.to_string(),
        reason: e.to_string(),
    };
    if !location.contains("://") {
        let file = hdf5::File::open(location).map_err(not_hdf5)?;
        return Ok(Opened {
            location: location.to_string(),
            file,
            _copy: None,
        });
    }
    let copy = copy_to_temp(host, location, size)?;
    let file = hdf5::File::open(copy.path()).map_err(not_hdf5)?;
    Ok(Opened {
        location: location.to_string(),
        file,
        _copy: Some(copy),
    })
}

fn copy_to_temp(
    host: &HostServices,
    location: &str,
    size: u64,
) -> Result<tempfile::NamedTempFile, SourceError> {
    let local = |e: std::io::Error| {
        SourceError::Read(PluginError::io(format!(
            "{location}: cannot write a temporary copy: {e}"
        )))
    };
    let mut copy = tempfile::Builder::new()
        .prefix("boss-ingest-hdf5-")
        .suffix(".h5")
        .tempfile()
        .map_err(local)?;
    let mut offset = 0;
    while offset < size {
        let block = host
            .read_range(location, offset, COPY_BLOCK.min(size - offset))
            .map_err(SourceError::Read)?;
        if block.is_empty() {
            break;
        }
        copy.write_all(&block).map_err(local)?;
        offset += block.len() as u64;
    }
    copy.flush().map_err(local)?;
    Ok(copy)
}

/// A dataset of an open file, with its shape and stored type.
pub struct Data {
    pub dataset: hdf5::Dataset,
    pub name: String,
    pub shape: Vec<usize>,
    pub stored: TypeDescriptor,
}

impl Opened {
    /// The dataset `name`; a missing one lists what the file has.
    pub fn dataset(&self, name: &str) -> Result<Data, SourceError> {
        let dataset = self
            .file
            .dataset(name)
            .map_err(|_| SourceError::NoDataset {
                location: self.location.clone(),
                name: name.to_string(),
                available: self
                    .file
                    .member_names()
                    .map(|names| {
                        if names.is_empty() {
                            "nothing".to_string()
                        } else {
                            names.join(", ")
                        }
                    })
                    .unwrap_or_else(|e| format!("(its members cannot be listed: {e})")),
            })?;
        let stored = dataset
            .dtype()
            .and_then(|t| t.to_descriptor())
            .map_err(|e| self.dataset_error(name, format!("unreadable type: {e}")))?;
        Ok(Data {
            shape: dataset.shape(),
            dataset,
            name: name.to_string(),
            stored,
        })
    }

    pub fn dataset_error(&self, name: &str, reason: impl Into<String>) -> SourceError {
        SourceError::Dataset {
            location: self.location.clone(),
            name: name.to_string(),
            reason: reason.into(),
        }
    }
}

impl Data {
    /// Checks the number of axes, naming the layout the processor expects.
    pub fn expect_rank(&self, opened: &Opened, layout: &str) -> Result<(), SourceError> {
        let rank = layout.split(',').count();
        if self.shape.len() == rank {
            return Ok(());
        }
        Err(opened.dataset_error(
            &self.name,
            format!(
                "has shape {:?}, but this processor reads a {rank}-D dataset laid out ({layout})",
                self.shape
            ),
        ))
    }

    /// Whether the stored samples are read as floating point (else as unsigned integers).
    pub fn is_float(&self) -> bool {
        matches!(self.stored, TypeDescriptor::Float(_))
    }
}
