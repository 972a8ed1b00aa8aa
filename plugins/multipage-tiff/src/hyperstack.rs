//! Hyperstacks split over several multi-page TIFFs along time (as ImageJ/Fiji saves them):
//! `time_chunk_size` time points per file, each time point `num_z_slices × num_channels` pages,
//! ordered time, then z, then channel.
//!
//! - `TiffMultiFileHyperStackPathProcessor`: file number `t div time_chunk_size`, put into
//!   `base_filename` with the stack plugin's placeholders (`<>`, `<o:N>`, `<p:N>`, `<x>`...).
//! - `TiffMultiFileHyperStackTileProcessor`: page `(num_z_slices·num_channels·t +
//!   z·num_channels + channel_index) mod (frames per file)`, where a file holds
//!   `time_chunk_size·num_z_slices·num_channels` frames. **fix**: the original took the page
//!   number modulo `time_chunk_size`, which picks the wrong page whenever a file holds more than
//!   one z slice or channel.

use boss_ingest_plugin_kit::params::{Params, ParamsError};
use boss_ingest_plugin_kit::template::{FileNames, TemplateError};
use serde_json::Value;

/// A configured hyperstack path processor.
#[derive(Debug, Clone)]
pub struct HyperStackPaths {
    names: FileNames,
    time_chunk_size: u64,
}

fn time_chunk_size(p: &Params<'_>) -> Result<u64, ParamsError> {
    match p.uint("time_chunk_size", "the number of time points in one file")? {
        0 => Err(ParamsError(
            "param \"time_chunk_size\" must be at least 1".to_string(),
        )),
        n => Ok(n),
    }
}

impl HyperStackPaths {
    pub fn from_params(params: &Value) -> Result<HyperStackPaths, ParamsError> {
        let p = Params::new(params)?;
        Ok(HyperStackPaths {
            names: FileNames::from_params(&p, "the file number")?,
            time_chunk_size: time_chunk_size(&p)?,
        })
    }

    pub fn path(&self, x: u64, y: u64, z: u64, t: u64) -> Result<String, TemplateError> {
        self.names.path(t / self.time_chunk_size, x, y, z)
    }
}

/// Which page of its file holds (z, t) of the configured channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HyperStackPages {
    num_z_slices: u64,
    num_channels: u64,
    channel_index: u64,
    frames_per_file: u64,
}

/// A z outside the hyperstack's slices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("z={z} is outside the hyperstack's num_z_slices ({num_z_slices})")]
pub struct SliceOutOfRange {
    pub z: u64,
    pub num_z_slices: u64,
}

impl HyperStackPages {
    pub fn from_params(params: &Value) -> Result<HyperStackPages, ParamsError> {
        let p = Params::new(params)?;
        let positive = |key: &str, what: &str| match p.uint(key, what)? {
            0 => Err(ParamsError(format!("param \"{key}\" must be at least 1"))),
            n => Ok(n),
        };
        let num_z_slices = positive("num_z_slices", "z slices per time point")?;
        let num_channels = positive("num_channels", "channels per z slice")?;
        let channel_index = p.uint("channel_index", "the channel to upload, from 0")?;
        if channel_index >= num_channels {
            return Err(ParamsError(format!(
                "param \"channel_index\" is {channel_index}, but there are only {num_channels} \
                 channels (num_channels); channels count from 0"
            )));
        }
        let frames_per_file = time_chunk_size(&p)?
            .checked_mul(num_z_slices)
            .and_then(|n| n.checked_mul(num_channels))
            .ok_or_else(|| {
                ParamsError("time_chunk_size × num_z_slices × num_channels is too large".into())
            })?;
        Ok(HyperStackPages {
            num_z_slices,
            num_channels,
            channel_index,
            frames_per_file,
        })
    }

    pub fn page(&self, z: u64, t: u64) -> Result<u64, SliceOutOfRange> {
        if z >= self.num_z_slices {
            return Err(SliceOutOfRange {
                z,
                num_z_slices: self.num_z_slices,
            });
        }
        let per_time = self.num_z_slices * self.num_channels;
        // Only t's place inside its file matters; reducing first keeps the product small.
        let t_in_file = t % (self.frames_per_file / per_time);
        Ok(t_in_file * per_time + z * self.num_channels + self.channel_index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn file_number_is_t_div_time_chunk_size_with_placeholders() {
        let p = HyperStackPaths::from_params(&json!({
            "root_dir": "/data", "extension": "tif", "base_filename": "<o:200>_my_base_<p:4>",
            "time_chunk_size": 10
        }))
        .unwrap();
        assert_eq!(p.path(0, 0, 5, 0).unwrap(), "/data/200_my_base_0000.tif");
        assert_eq!(p.path(0, 0, 5, 9).unwrap(), "/data/200_my_base_0000.tif");
        assert_eq!(p.path(0, 0, 5, 21).unwrap(), "/data/202_my_base_0002.tif");
        // Quoted numbers, as old configs have them, work too.
        let p = HyperStackPaths::from_params(&json!({
            "root_dir": "", "extension": "tiff", "base_filename": "movie_<>",
            "time_chunk_size": "3"
        }))
        .unwrap();
        assert_eq!(p.path(0, 0, 0, 7).unwrap(), "movie_2.tiff");
    }

    fn pages(tcs: u64, nz: u64, nc: u64, ch: u64) -> Result<HyperStackPages, ParamsError> {
        HyperStackPages::from_params(&json!({
            "time_chunk_size": tcs, "num_z_slices": nz, "num_channels": nc, "channel_index": ch
        }))
    }

    #[test]
    fn page_is_time_then_z_then_channel_within_the_file() {
        let p = pages(2, 3, 2, 1).unwrap();
        // t=0: z0c0 z0c1 z1c0 z1c1 z2c0 z2c1 → z=1, channel 1 is page 3.
        assert_eq!(p.page(1, 0).unwrap(), 3);
        // t=1 is the second time point of file 0: 6 pages further.
        assert_eq!(p.page(1, 1).unwrap(), 9);
        // t=2 starts file 1 again at page 3 (the original's `mod time_chunk_size` gave 3 mod 2).
        assert_eq!(p.page(1, 2).unwrap(), 3);
        assert_eq!(p.page(2, 3).unwrap(), 6 + 5);
        assert_eq!(
            p.page(3, 0).unwrap_err().to_string(),
            "z=3 is outside the hyperstack's num_z_slices (3)"
        );
    }

    #[test]
    fn params_are_checked() {
        assert_eq!(
            pages(1, 1, 2, 2).unwrap_err().0,
            "param \"channel_index\" is 2, but there are only 2 channels (num_channels); \
             channels count from 0"
        );
        assert_eq!(
            pages(0, 1, 1, 0).unwrap_err().0,
            "param \"time_chunk_size\" must be at least 1"
        );
        assert_eq!(
            HyperStackPages::from_params(&json!({"time_chunk_size": 1, "num_z_slices": "x"}))
                .unwrap_err()
                .0,
            "param \"num_z_slices\" must be a non-negative integer, got \"x\""
        );
    }
}
