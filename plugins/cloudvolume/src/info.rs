//! A precomputed volume's `info` file reduced to one scale (mip level): where its chunks are,
//! the volume's bounds at that scale, its chunk grid and sample type.
//!
//! Refusals name the field: a volume we cannot read says exactly which part (a sharded scale,
//! a JPEG encoding, float samples) is the reason.

use serde_json::Value;

use crate::CloudVolumeError;
use plugin_abi::Dtype;

/// One scale of a precomputed image volume, all vectors in (x, y, z).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scale {
    /// The scale's directory relative to the volume (`"8_8_40"`).
    pub key: String,
    pub size: [u64; 3],
    pub voxel_offset: [u64; 3],
    pub chunk_size: [u64; 3],
    pub dtype: Dtype,
}

impl Scale {
    /// The first voxel past the volume's bounds on each axis.
    pub fn end(&self) -> [u64; 3] {
        [0, 1, 2].map(|d| self.voxel_offset[d] + self.size[d])
    }
}

fn bad(message: impl Into<String>) -> CloudVolumeError {
    CloudVolumeError::Info(message.into())
}

fn triple(v: &Value, what: &str) -> Result<[u64; 3], CloudVolumeError> {
    match v.as_array().map(Vec::as_slice) {
        Some([a, b, c]) => match (a.as_u64(), b.as_u64(), c.as_u64()) {
            (Some(a), Some(b), Some(c)) => Ok([a, b, c]),
            _ => Err(bad(format!(
                "{what} must be three non-negative integers, got {v}"
            ))),
        },
        _ => Err(bad(format!(
            "{what} must be three non-negative integers, got {v}"
        ))),
    }
}

/// Parses `info` and picks scale `mip`.
pub fn parse(text: &[u8], mip: u64) -> Result<Scale, CloudVolumeError> {
    let v: Value = serde_json::from_slice(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let name = v["data_type"]
        .as_str()
        .ok_or_else(|| bad("\"data_type\" must be a string like \"uint8\""))?;
    let dtype = Dtype::from_name(name).ok_or_else(|| CloudVolumeError::Dtype(name.to_string()))?;
    let channels = v["num_channels"].as_u64().unwrap_or(1);
    if channels != 1 {
        return Err(CloudVolumeError::Unsupported(format!(
            "{channels} channels (a Boss channel holds one; only single-channel volumes are read)"
        )));
    }
    let scales = v["scales"]
        .as_array()
        .ok_or_else(|| bad("\"scales\" must be a list"))?;
    let scale = usize::try_from(mip)
        .ok()
        .and_then(|i| scales.get(i))
        .ok_or(CloudVolumeError::NoSuchMip {
            mip,
            scales: scales.len(),
        })?;
    let key = scale["key"]
        .as_str()
        .ok_or_else(|| bad(format!("scale {mip} has no \"key\"")))?;
    if !scale["sharding"].is_null() {
        return Err(CloudVolumeError::Unsupported(format!(
            "a sharded scale {mip} (only unsharded chunk files are read)"
        )));
    }
    match scale["encoding"].as_str() {
        Some("raw") => {}
        other => {
            return Err(CloudVolumeError::Unsupported(format!(
                "encoding {} at scale {mip} (raw is read, gzip-compressed or not)",
                other.map_or("(none)".to_string(), |e| format!("{e:?}"))
            )))
        }
    }
    let size = triple(&scale["size"], &format!("scale {mip} \"size\""))?;
    let voxel_offset = if scale["voxel_offset"].is_null() {
        [0, 0, 0]
    } else {
        triple(
            &scale["voxel_offset"],
            &format!("scale {mip} \"voxel_offset\""),
        )?
    };
    let chunk_size = triple(
        &scale["chunk_sizes"][0],
        &format!("scale {mip} \"chunk_sizes\"[0]"),
    )?;
    if chunk_size.contains(&0) {
        return Err(bad(format!(
            "scale {mip} chunk size {chunk_size:?} has a zero length"
        )));
    }
    Ok(Scale {
        key: key.to_string(),
        size,
        voxel_offset,
        chunk_size,
        dtype,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &[u8] = br#"{"type": "image", "data_type": "uint16", "num_channels": 1,
        "scales": [
          {"key": "4_4_40", "size": [100, 80, 30], "voxel_offset": [10, 0, 5],
           "chunk_sizes": [[64, 64, 16]], "encoding": "raw", "resolution": [4, 4, 40]},
          {"key": "8_8_40", "size": [50, 40, 30], "voxel_offset": [5, 0, 5],
           "chunk_sizes": [[32, 32, 16]], "encoding": "jpeg", "resolution": [8, 8, 40]}]}"#;

    #[test]
    fn picks_the_scale_of_the_mip() {
        let s = parse(INFO, 0).unwrap();
        assert_eq!(
            s,
            Scale {
                key: "4_4_40".into(),
                size: [100, 80, 30],
                voxel_offset: [10, 0, 5],
                chunk_size: [64, 64, 16],
                dtype: Dtype::U16,
            }
        );
        assert_eq!(s.end(), [110, 80, 35]);
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(
            parse(INFO, 1).unwrap_err().to_string(),
            "the volume uses encoding \"jpeg\" at scale 1 (raw is read, gzip-compressed or not)"
        );
        assert_eq!(
            parse(INFO, 2).unwrap_err().to_string(),
            "mip 2 does not exist: the volume has 2 scales (mip 0 to 1)"
        );
        let float = br#"{"data_type": "float32", "num_channels": 1, "scales": []}"#;
        assert_eq!(
            parse(float, 0).unwrap_err(),
            CloudVolumeError::Dtype("float32".into())
        );
    }
}
