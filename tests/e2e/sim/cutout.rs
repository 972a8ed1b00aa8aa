//! The cutout view's renderers (boss `bossspatialdb/views.py`): blosc by default with the bit
//! depth as typesize, the other binary renderers, JPEG's own refusal, and 406 for an `Accept`
//! no renderer satisfies (there is no raw octet-stream renderer).

use super::{volumetric_config, Api};
use crate::support::sim::{Backend, SimHandle, SimOptions};
use aws_sdk_s3::primitives::ByteStream;
use boss_protocol::cuboid::{self, Dtype, CUBOID_VOXELS};
use boss_protocol::messages::VolumetricUploadMessage;
use serde_json::{json, Value};

/// A uint16 cuboid at the origin of `ch16`, uploaded as a volumetric client would; returns its
/// voxels (z, y, x, little-endian).
async fn one_cuboid(sim: &SimHandle) -> Vec<u8> {
    let api = Api::new(sim);
    let config = volumetric_config(sim, "ch16", [0, 512], [0, 512], [0, 16], [512, 512, 16]);
    let id = api.create_ok(&config).await;
    let (join, creds) = api.join_uploading(id).await;
    let sqs = sim.sqs(&creds.access_key, &creds.secret_key);
    let bodies = super::drain(&sqs, join.ingest_job.upload_queue.as_deref().unwrap()).await;
    let msg: VolumetricUploadMessage = serde_json::from_str(&bodies[0]).unwrap();
    let voxels: Vec<u8> = (0..CUBOID_VOXELS)
        .flat_map(|i| ((i * 7 % 65521) as u16).to_le_bytes())
        .collect();
    sim.s3(&creds.access_key, &creds.secret_key)
        .put_object()
        .bucket(join.ingest_bucket_name.as_deref().unwrap())
        .key(&msg.cuboids[0].key)
        .body(ByteStream::from(cuboid::compress(&voxels, Dtype::U16)))
        .metadata(
            "metadata",
            json!({"ingest_job": id, "chunk_key": msg.chunk_key}).to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(sim.stats(id).await["cuboids_stored"], json!(1));
    voxels
}

/// Status, Content-Type and body of a cutout of `ch16` `[0, 4) × [0, 2) × [0, 2)` with `accept`.
async fn get(sim: &SimHandle, accept: Option<&str>) -> (u16, String, Vec<u8>) {
    let mut request = reqwest::Client::new()
        .get(format!("{}/v1/cutout/col/exp/ch16/0/0:4/0:2/0:2/", sim.api))
        .header("Authorization", format!("Token {}", sim.token));
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    let kind = reply
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, kind, reply.bytes().await.unwrap().to_vec())
}

async fn cutouts_render_as_the_view_does(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let voxels = one_cuboid(&sim).await;
    // The box [0, 4) × [0, 2) × [0, 2) of the cuboid, z, y, x.
    let want: Vec<u8> = (0..2)
        .flat_map(|z| (0..2).map(move |y| (z, y)))
        .flat_map(|(z, y)| {
            let at = (z * 512 * 512 + y * 512) * 2;
            voxels[at..at + 8].to_vec()
        })
        .collect();

    for accept in [None, Some("*/*"), Some("application/blosc")] {
        let (status, kind, body) = get(&sim, accept).await;
        assert_eq!(
            (status, kind.as_str()),
            (200, "application/blosc"),
            "{accept:?}"
        );
        // blosc.compress(array, typesize=bit depth): 16 for uint16, in the header's 4th byte.
        assert_eq!(body[3], 16, "{accept:?}");
        assert_eq!(cuboid::decompress(&body).unwrap(), want, "{accept:?}");
    }

    // blosc.pack_array: a pickled numpy array compressed with typesize = itemsize; the raw
    // voxels are its last bytes before the pickle's closing opcodes.
    let (status, kind, body) = get(&sim, Some("application/blosc-python")).await;
    assert_eq!((status, kind.as_str()), (200, "application/blosc-python"));
    assert_eq!(body[3], 2);
    let pickle = cuboid::decompress(&body).unwrap();
    assert!(pickle.starts_with(b"\x80\x03cnumpy.core.multiarray\n_reconstruct\n"));
    assert!(pickle.ends_with(&[want.as_slice(), b"tb."].concat()));

    // zlib (RFC 1950) of a .npy file.
    let (status, kind, body) = get(&sim, Some("application/npygz")).await;
    assert_eq!((status, kind.as_str()), (200, "application/npygz"));
    assert_eq!(body[0], 0x78, "a zlib stream");

    let (status, _, body) = get(&sim, Some("image/jpeg")).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, body),
        (
            400,
            json!({"status": 400, "message": "The cutout service JPEG interface only supports uint8 image data", "code": 2001})
        )
    );

    // No raw renderer: what the view cannot render is refused.
    for accept in ["application/octet-stream", "text/csv", ""] {
        let (status, kind, body) = get(&sim, Some(accept)).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (status, kind.as_str(), body),
            (
                406,
                "application/json",
                json!({"detail": "Could not satisfy the request Accept header."})
            ),
            "{accept:?}"
        );
    }
    // A renderer that cannot encode a cube: the view's 500.
    let (status, kind, _) = get(&sim, Some("application/json")).await;
    assert_eq!((status, kind.as_str()), (500, "text/html"));
}

on_both_backends!(cutouts_render_as_the_view_does);
