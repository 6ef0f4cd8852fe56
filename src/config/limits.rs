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
            max_json_body_bytes: env.parse("MAX_JSON_BODY_BYTES", 1024 * 1024)?,
            max_picture_bytes: env.parse("MAX_PICTURE_BYTES", 5 * 1024 * 1024)?,
            max_picture_pixels: env.parse("MAX_PICTURE_PIXELS", 40_000_000)?,
            max_picture_dimension: env.parse("MAX_PICTURE_DIMENSION", 10_000)?,
            picture_stored_edge: env.parse("PICTURE_STORED_EDGE", 1024)?,
            picture_decode_concurrency: env.concurrency("PICTURE_DECODE_CONCURRENCY", env.cores)?,
            max_picture_metadata_bytes: env.parse("MAX_PICTURE_METADATA_BYTES", 1024 * 1024)?,
            picture_upload_buffer_bytes: 0,
            max_bio_chars: env.parse("MAX_BIO_CHARS", 2000)?,
            admin_max_page_size: env.parse("ADMIN_MAX_PAGE_SIZE", 200)?,
            import_batch_size: env.parse("IMPORT_BATCH_SIZE", 500)?,
        };
        // A batch is one multi-row insert: 2,000 users of 12 columns stay
        // well under either backend's limit on bound parameters.
        if !(1..=2000).contains(&limits.import_batch_size) {
            return Err(ConfigError(
                "IMPORT_BATCH_SIZE must be between 1 and 2000".into(),
            ));
        }
        if !(1..=10_000).contains(&limits.admin_max_page_size) {
            return Err(ConfigError(
                "ADMIN_MAX_PAGE_SIZE must be between 1 and 10000".into(),
            ));
        }
        if limits.max_json_body_bytes == 0 || limits.max_picture_bytes == 0 {
            return Err(ConfigError(
                "MAX_JSON_BODY_BYTES and MAX_PICTURE_BYTES must be positive".into(),
            ));
        }
        if limits.max_picture_pixels == 0
            || limits.max_picture_dimension == 0
            || limits.picture_stored_edge == 0
        {
            return Err(ConfigError("MAX_PICTURE_PIXELS, MAX_PICTURE_DIMENSION and PICTURE_STORED_EDGE must be positive".into()));
        }
        if !(1024..=MAX_METADATA).contains(&limits.max_picture_metadata_bytes) {
            return Err(ConfigError(format!(
                "MAX_PICTURE_METADATA_BYTES must be from 1024 to {MAX_METADATA}"
            )));
        }
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
    let bytes = env.parse("PICTURE_UPLOAD_BUFFER_BYTES", default)?;
    if bytes < one || bytes > MAX_UPLOAD_BUFFER {
        return Err(ConfigError(format!(
            "PICTURE_UPLOAD_BUFFER_BYTES must be from MAX_PICTURE_BYTES + {MULTIPART_OVERHEAD} ({one}) to {MAX_UPLOAD_BUFFER}"
        )));
    }
    Ok(bytes)
}
