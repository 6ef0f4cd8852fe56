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
            max_json_body_bytes: env.parse("MAX_JSON_BODY_BYTES", 1024 * 1024)?,
            max_picture_bytes: env.parse("MAX_PICTURE_BYTES", 5 * 1024 * 1024)?,
            max_picture_pixels: env.parse("MAX_PICTURE_PIXELS", 40_000_000)?,
            max_picture_dimension: env.parse("MAX_PICTURE_DIMENSION", 10_000)?,
            picture_stored_edge: env.parse("PICTURE_STORED_EDGE", 1024)?,
            picture_decode_concurrency: env.concurrency("PICTURE_DECODE_CONCURRENCY", env.cores)?,
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
        Ok(limits)
    }
}
