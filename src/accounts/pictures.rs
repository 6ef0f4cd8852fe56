//! Profile pictures: `PUT` and `DELETE /accounts/me/profile/picture`, and
//! serving them under `/media/`.

use tokio::sync::OwnedSemaphorePermit;

use super::Accounts;
use crate::db::models::Profile;
use crate::db::profiles;
use crate::error::ApiError;
use crate::media::{self, MediaStore};
use crate::telemetry::spawn_blocking_in_span;

/// A stored file, ready to serve.
pub struct MediaFile {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

/// A share of `PICTURE_UPLOAD_BUFFER_BYTES`, taken before an upload's body
/// is read and given back when its decode is over (or the request ends):
/// uploads waiting their turn hold no buffer, and all those read hold at
/// most that many bytes together.
pub struct UploadBuffer {
    _permit: OwnedSemaphorePermit,
}

/// An upload's bytes, read within its share of the buffer.
pub struct Upload {
    pub bytes: Vec<u8>,
    pub buffer: UploadBuffer,
}

/// Bytes as the buffer semaphore counts them (KiB, rounded up): a permit
/// count is a `u32`, and 64 GiB (the setting's bound) is 2^26 KiB.
pub fn kib(bytes: usize) -> usize {
    bytes.div_ceil(1024)
}

impl Accounts {
    /// How long an upload may wait for room, then take to send its body.
    pub fn picture_upload_timeout(&self) -> std::time::Duration {
        self.settings.limits.picture_upload_timeout
    }

    /// Waits until `bytes` more fit in `PICTURE_UPLOAD_BUFFER_BYTES` (at
    /// most the whole of it, so one upload always can), at most
    /// `PICTURE_UPLOAD_TIMEOUT_SECS`: then 503, retry.
    pub async fn reserve_upload_buffer(&self, bytes: usize) -> Result<UploadBuffer, ApiError> {
        let capacity = kib(self.settings.limits.picture_upload_buffer_bytes);
        let wanted = u32::try_from(kib(bytes).min(capacity))
            .map_err(|_| ApiError::internal("an upload larger than 4 TiB"))?;
        let buffer = self.upload_buffer.clone();
        let permit = match buffer.clone().try_acquire_many_owned(wanted) {
            Ok(permit) => permit,
            Err(_) => {
                self.metrics.picture_buffer_waited();
                tokio::time::timeout(
                    self.picture_upload_timeout(),
                    buffer.acquire_many_owned(wanted),
                )
                .await
                .map_err(|_| ApiError::Unavailable("the picture upload buffer stayed full".into()))?
                .map_err(|_| ApiError::internal("the upload buffer is closed"))?
            }
        };
        Ok(UploadBuffer { _permit: permit })
    }

    fn media(&self) -> Result<MediaStore, ApiError> {
        self.media
            .clone()
            .ok_or_else(|| ApiError::internal("no media store in this process"))
    }

    /// Checks and re-encodes an upload (off the async executor, at most
    /// `PICTURE_DECODE_CONCURRENCY` at once), stores it under a new name,
    /// points the profile at it and deletes the previous file. A file never
    /// referenced (the database failed) is deleted too.
    pub async fn replace_picture(&self, user_id: i32, upload: Upload) -> Result<Profile, ApiError> {
        let rules = self.picture_rules();
        let store = self.media()?;
        // The permits move into the blocking task: they are held for as long
        // as the decode runs, even if this request is dropped meanwhile, and
        // the upload's bytes are dropped with its buffer share.
        let closed = |_| ApiError::internal("the decode pool is closed");
        let permit = match self.decodes.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                self.metrics.picture_decode_waited();
                self.decodes.clone().acquire_owned().await.map_err(closed)?
            }
        };
        let stored = spawn_blocking_in_span(move || {
            let _decoding = permit;
            let Upload { bytes, buffer } = upload;
            let encoded = media::process(&bytes, rules);
            drop((bytes, buffer));
            let encoded = encoded?;
            store
                .store(&encoded)
                .map_err(|e| ApiError::internal(format!("storing a picture: {e}")))
        })
        .await??;

        let new = stored.clone();
        let swapped = self
            .db
            .run(move |conn| profiles::swap_picture(conn, user_id, Some(&new)))
            .await;
        let store = self.media()?;
        let outcome = match swapped {
            Ok(old) => {
                // The row points at the new file now; the old one can go.
                spawn_blocking_in_span(move || old.map(|old| store.remove(&old)).transpose())
                    .await?
            }
            Err(error) => {
                if let Err(e) = spawn_blocking_in_span(move || store.remove(&stored)).await? {
                    tracing::warn!(error = %e, "could not delete an unreferenced picture");
                }
                return Err(error);
            }
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "could not delete a replaced picture");
        }
        self.profile(user_id).await
    }

    /// Removes the picture from the profile, then its file (also fine when
    /// there was none).
    pub async fn delete_picture(&self, user_id: i32) -> Result<(), ApiError> {
        let old = self
            .db
            .run(move |conn| profiles::swap_picture(conn, user_id, None))
            .await?;
        if let Some(old) = old {
            let store = self.media()?;
            spawn_blocking_in_span(move || store.remove(&old))
                .await?
                .map_err(|e| ApiError::internal(format!("deleting a picture: {e}")))?;
        }
        Ok(())
    }

    /// A stored picture by its path under `/media/`; `None` for anything
    /// that is not one, and for a file no profile points at (left behind
    /// by a crash between a deletion's commit and the file's removal).
    pub async fn media_file(&self, relative: String) -> Result<Option<MediaFile>, ApiError> {
        let store = self.media()?;
        let probe = relative.clone();
        if !self
            .db
            .run(move |conn| profiles::is_referenced(conn, &probe))
            .await?
        {
            return Ok(None);
        }
        let found = spawn_blocking_in_span(move || store.read(&relative))
            .await?
            .map_err(|e| ApiError::internal(format!("reading media: {e}")))?;
        Ok(found.map(|(bytes, content_type)| MediaFile {
            bytes,
            content_type,
        }))
    }

    /// Removes picture files no profile points at that are older than
    /// `grace` (younger ones may belong to an upload about to be swapped
    /// in). Returns how many went.
    pub async fn sweep_media(&self, grace: std::time::Duration) -> Result<usize, ApiError> {
        let Some(store) = self.media.clone() else {
            return Ok(0);
        };
        let before = std::time::SystemTime::now() - grace;
        let lister = store.clone();
        let stored = spawn_blocking_in_span(move || lister.stored_before(before))
            .await?
            .map_err(|e| ApiError::internal(format!("listing media: {e}")))?;
        let mut removed = 0;
        for batch in stored.chunks(500) {
            let batch = batch.to_vec();
            let paths = batch.clone();
            let referenced = self
                .db
                .run(move |conn| profiles::referenced_among(conn, &paths))
                .await?;
            let orphans: Vec<String> = batch
                .into_iter()
                .filter(|p| !referenced.contains(p))
                .collect();
            let store = store.clone();
            removed += spawn_blocking_in_span(move || {
                orphans.iter().filter(|p| store.remove(p).is_ok()).count()
            })
            .await?;
        }
        Ok(removed)
    }
}
