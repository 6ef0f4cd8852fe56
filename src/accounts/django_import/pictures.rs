//! The pictures of one batch: read from the Django media root, checked
//! and re-encoded exactly as an upload is (`media::process`), stored
//! under server-chosen names before the batch's transaction.

use std::path::{Component, Path, PathBuf};

use super::{Accepted, Accounts};
use crate::error::ApiError;
use crate::media::{self, MediaStore};
use crate::telemetry::spawn_blocking_in_span;

/// A picture read from the Django media root and re-encoded.
pub(super) struct Picture {
    index: usize,
    encoded: media::Encoded,
}

impl Accounts {
    /// Whether this process can store pictures (the media directory opened).
    pub fn stores_pictures(&self) -> bool {
        self.media.is_some()
    }

    /// Reads and re-encodes the batch's pictures exactly as an upload is
    /// (`media::process`, one decode permit): the good ones, and a reason
    /// for each that is not.
    pub(super) async fn read_pictures(
        &self,
        accepted: &[Accepted],
    ) -> Result<(Vec<Picture>, Vec<(usize, String)>), ApiError> {
        let wanted: Vec<(usize, PathBuf, String)> = accepted
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.picture.clone().map(|(path, name)| (i, path, name)))
            .collect();
        if wanted.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let rules = self.picture_rules();
        let max_bytes = self.settings.limits.max_picture_bytes;
        let permit = self
            .decodes
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::internal("the decode pool is closed"))?;
        Ok(spawn_blocking_in_span(move || {
            let _decoding = permit;
            let (mut good, mut bad) = (Vec::new(), Vec::new());
            for (index, path, name) in wanted {
                match read_picture(&path, max_bytes) {
                    Err(why) => bad.push((index, format!("{name}: {why}"))),
                    Ok(bytes) => match media::process(&bytes, rules) {
                        Ok(encoded) => good.push(Picture { index, encoded }),
                        Err(ApiError::InvalidImage(why)) => {
                            bad.push((index, format!("{name}: {why}")))
                        }
                        Err(e) => bad.push((index, format!("{name}: {e}"))),
                    },
                }
            }
            (good, bad)
        })
        .await?)
    }

    /// Stores the pictures; each one's path is set on its user. `None`
    /// when there were none (no media store is needed then).
    pub(super) async fn store_pictures(
        &self,
        accepted: &mut [Accepted],
        pictures: Vec<Picture>,
    ) -> Result<Option<(MediaStore, Vec<String>)>, ApiError> {
        if pictures.is_empty() {
            return Ok(None);
        }
        let store = self
            .media
            .clone()
            .ok_or_else(|| ApiError::internal("MEDIA_ROOT cannot be written"))?;
        let files = store.clone();
        let stored = spawn_blocking_in_span(move || {
            let mut stored = Vec::with_capacity(pictures.len());
            for picture in pictures {
                match files.store(&picture.encoded) {
                    Ok(path) => stored.push((picture.index, path)),
                    Err(e) => {
                        for (_, path) in &stored {
                            let _ = files.remove(path);
                        }
                        return Err(ApiError::internal(format!("storing a picture: {e}")));
                    }
                }
            }
            Ok(stored)
        })
        .await??;
        let mut paths = Vec::with_capacity(stored.len());
        for (index, path) in stored {
            accepted[index].imported.profile_pic = Some(path.clone());
            paths.push(path);
        }
        Ok(Some((store, paths)))
    }
}

/// Removes pictures a failed batch stored.
pub(super) async fn remove(store: MediaStore, paths: Vec<String>) -> Result<(), ApiError> {
    spawn_blocking_in_span(move || {
        for path in &paths {
            if let Err(e) = store.remove(path) {
                tracing::warn!(error = %e, "could not delete an unreferenced picture");
            }
        }
    })
    .await?;
    Ok(())
}

/// `relative` under `root`, or `None` when it would leave it (an absolute
/// path or `..`): a profile row does not choose which file is read.
pub(super) fn inside(root: &Path, relative: &str) -> Option<PathBuf> {
    let path = Path::new(relative);
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        .then(|| root.join(path))
}

/// The file's bytes, refused past `max` bytes (as an upload would be).
fn read_picture(path: &Path, max: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "the file is missing".to_owned(),
        _ => format!("cannot read the file: {e}"),
    })?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if bytes.len() > max {
        return Err(format!("the file is larger than {max} bytes"));
    }
    Ok(bytes)
}
