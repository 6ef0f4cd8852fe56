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
    /// Pictures decoded at once (each can take 4 bytes a pixel, 160 MB at
    /// 40 megapixels); more uploads wait their turn.
    pub picture_decode_concurrency: usize,
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
        let limits = Limits {
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
            max_bio_chars: env.int("MAX_BIO_CHARS", 2000, 0..=100_000)?,
            admin_max_page_size: env.int("ADMIN_MAX_PAGE_SIZE", 200, 1..=10_000)?,
            // A batch is one multi-row insert: 2,000 users of 12 columns stay
            // well under either backend's limit on bound parameters.
            import_batch_size: env.int("IMPORT_BATCH_SIZE", 500, 1..=2000)?,
        };
        Ok(limits)
    }
}
