//! Limits on what a client may send: body sizes, pictures, profile text.

use super::env::Env;
use super::ConfigError;

#[derive(Clone, Debug)]
pub struct Limits {
    pub max_json_body_bytes: usize,
    pub max_picture_bytes: usize,
    pub max_picture_pixels: u64,
    pub max_picture_dimension: u32,
    /// Stored pictures are scaled down to fit this many pixels a side.
    pub picture_stored_edge: u32,
    /// Pictures decoded at once (each can take 8 bytes a pixel, 320 MB
    /// for a 40-megapixel 16-bit PNG with alpha); more uploads wait their
    /// turn.
    pub picture_decode_concurrency: usize,
    /// The metadata one picture may carry in all (EXIF and ICC in any
    /// format, PNG text, XMP, GIF extensions), compressed ones counted
    /// inflated; more is `400 invalid_image`.
    pub max_picture_metadata_bytes: usize,
    /// The bytes all picture upload bodies being read or waiting for the
    /// decode pool may hold at once; an upload that would pass it waits
    /// before reading its body.
    pub picture_upload_buffer_bytes: usize,
    /// How long an upload may wait for room in that buffer, and then take
    /// to send its body: a slow or silent client cannot hold the buffer
    /// (and every other user's upload) for longer.
    pub picture_upload_timeout: std::time::Duration,
    pub max_bio_chars: usize,
    /// `GET /admin/users` serves at most this many users a page; a larger
    /// `page_size` is taken as this.
    pub admin_max_page_size: i64,
    /// `accounts import-django` reads and writes this many users a
    /// transaction.
    pub import_batch_size: i64,
}

impl Limits {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        let mut limits = Limits {
            max_json_body_bytes: env.int("MAX_JSON_BODY_BYTES", 1024 * 1024, 1..=64 << 20)?,
            // The multipart reader adds its overhead to this: the bound
            // keeps the sum far from overflowing.
            max_picture_bytes: env.int("MAX_PICTURE_BYTES", 5 * 1024 * 1024, 1..=100 << 20)?,
            // Decoded at 4 bytes a pixel: at most 400 MB a picture.
            max_picture_pixels: env.int("MAX_PICTURE_PIXELS", 40_000_000, 1..=100_000_000)?,
            // JPEG's own limit.
            max_picture_dimension: env.int("MAX_PICTURE_DIMENSION", 10_000, 1..=65_535)?,
            picture_stored_edge: env.int("PICTURE_STORED_EDGE", 1024, 1..=10_000)?,
            picture_decode_concurrency: env.concurrency("PICTURE_DECODE_CONCURRENCY", env.cores)?,
            max_picture_metadata_bytes: env.int(
                "MAX_PICTURE_METADATA_BYTES",
                1024 * 1024,
                1024..=MAX_METADATA,
            )?,
            picture_upload_buffer_bytes: 0,
            picture_upload_timeout: env.secs("PICTURE_UPLOAD_TIMEOUT_SECS", 60, 1..=3600)?,
            max_bio_chars: env.int("MAX_BIO_CHARS", 2000, 0..=100_000)?,
            admin_max_page_size: env.int("ADMIN_MAX_PAGE_SIZE", 200, 1..=10_000)?,
            // A batch is one multi-row insert: 2,000 users of 12 columns stay
            // well under either backend's limit on bound parameters.
            import_batch_size: env.int("IMPORT_BATCH_SIZE", 500, 1..=2000)?,
        };
        limits.picture_upload_buffer_bytes = picture_upload_buffer(env, limits.max_picture_bytes)?;
        Ok(limits)
    }
}

/// Room for the multipart framing around a picture's bytes.
pub const MULTIPART_OVERHEAD: usize = 16 * 1024;
/// 64 MiB: metadata is measured by inflating it, so this bounds the work.
const MAX_METADATA: usize = 64 << 20;
/// 64 GiB: far more than any one process should buffer.
const MAX_UPLOAD_BUFFER: usize = 64 << 30;

/// `PICTURE_UPLOAD_BUFFER_BYTES`: by default 64 MiB, or room for four of
/// the largest uploads if that is more; never less than one.
fn picture_upload_buffer(env: &Env, max_picture_bytes: usize) -> Result<usize, ConfigError> {
    let one = max_picture_bytes.saturating_add(MULTIPART_OVERHEAD);
    let default = (64 << 20).max(one.saturating_mul(4)).min(MAX_UPLOAD_BUFFER);
    // At least one largest upload (with its multipart overhead).
    env.int(
        "PICTURE_UPLOAD_BUFFER_BYTES",
        default,
        one..=MAX_UPLOAD_BUFFER,
    )
}
