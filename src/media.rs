//! Profile pictures: validated by content, re-encoded, stored under
//! server-chosen names in `MEDIA_ROOT/profile_pics/`, and read back for
//! `/media/`.
//!
//! Nothing the client says about the file (name, content type) is trusted:
//! the bytes must decode as PNG, JPEG, GIF or WebP, their size is checked
//! from the header before any pixel is decoded, and what is stored is a
//! fresh encoding of the pixels, so metadata (EXIF, GPS), trailing payloads
//! and polyglots never reach the disk. Decoding is in `decode.rs`; the walk
//! that bounds metadata before any decoder runs is in `container.rs` and
//! `png_chunks.rs`.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rand::RngCore;

mod container;
mod decode;
mod png_chunks;

pub use decode::process;

pub const PICTURE_DIR: &str = "profile_pics";
/// The public prefix stored files are served under.
pub const URL_PREFIX: &str = "/media/";

/// Limits on accepted pictures, from the settings.
#[derive(Clone, Copy, Debug)]
pub struct PictureRules {
    pub max_pixels: u64,
    pub max_dimension: u32,
    /// Stored pictures fit in a square of this side.
    pub stored_edge: u32,
    /// The metadata a file may carry in all: EXIF and ICC in any format,
    /// PNG text, XMP, GIF extensions (compressed ones counted inflated).
    pub max_metadata_bytes: usize,
}

/// A picture ready to store.
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub extension: &'static str,
}

/// The media directory.
#[derive(Clone, Debug)]
pub struct MediaStore {
    root: PathBuf,
}

impl MediaStore {
    /// Creates `MEDIA_ROOT/profile_pics` if needed; fails at start-up when
    /// the directory cannot be made or written.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        let dir = root.join(PICTURE_DIR);
        fs::create_dir_all(&dir).map_err(|e| {
            anyhow::anyhow!(
                "MEDIA_ROOT {}: cannot create {PICTURE_DIR}/: {e}",
                root.display()
            )
        })?;
        let probe = dir.join(".write-test");
        File::create(&probe)
            .and_then(|_| fs::remove_file(&probe))
            .map_err(|e| anyhow::anyhow!("MEDIA_ROOT {} is not writable: {e}", root.display()))?;
        Ok(MediaStore {
            root: root.to_owned(),
        })
    }

    /// Writes the picture under a new random name, via a temporary file
    /// and a rename, so a crash never leaves half a file under a live name.
    /// Returns the path relative to the media root.
    pub fn store(&self, picture: &Encoded) -> io::Result<String> {
        let mut random = [0u8; 16];
        rand::rng().fill_bytes(&mut random);
        let stem: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("{stem}.{}", picture.extension);
        let dir = self.root.join(PICTURE_DIR);
        let temporary = dir.join(format!(".tmp-{name}"));
        let result = File::create(&temporary)
            .and_then(|mut file| {
                file.write_all(&picture.bytes)?;
                file.sync_all()
            })
            .and_then(|()| fs::rename(&temporary, dir.join(&name)));
        if result.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        result.map(|()| format!("{PICTURE_DIR}/{name}"))
    }

    /// Removes a stored picture; a file already gone is fine.
    pub fn remove(&self, relative: &str) -> io::Result<()> {
        let Some(path) = self.path_of(relative) else {
            return Ok(());
        };
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// A stored picture's bytes and content type; `None` for anything that
    /// is not one (other names, directories, links, missing files).
    pub fn read(&self, relative: &str) -> io::Result<Option<(Vec<u8>, &'static str)>> {
        let Some(path) = self.path_of(relative) else {
            return Ok(None);
        };
        let content_type = if relative.ends_with(".png") {
            "image/png"
        } else {
            "image/jpeg"
        };
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_file() => {
                fs::read(&path).map(|bytes| Some((bytes, content_type)))
            }
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The stored pictures (paths relative to the media root) last written
    /// before `before`, and leftover temporary files of that age (an
    /// upload cut off by a crash), which are removed here.
    pub fn stored_before(&self, before: std::time::SystemTime) -> io::Result<Vec<String>> {
        let mut found = Vec::new();
        for entry in fs::read_dir(self.root.join(PICTURE_DIR))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified < before);
            if !old {
                continue;
            }
            if name.starts_with(".tmp-") {
                let _ = fs::remove_file(entry.path());
                continue;
            }
            let relative = format!("{PICTURE_DIR}/{name}");
            if self.path_of(&relative).is_some() {
                found.push(relative);
            }
        }
        Ok(found)
    }

    /// Only names this module makes are ever mapped to a path: no
    /// traversal, encoded or not, can name another file.
    fn path_of(&self, relative: &str) -> Option<PathBuf> {
        let name = relative.strip_prefix(PICTURE_DIR)?.strip_prefix('/')?;
        let (stem, extension) = name.split_once('.')?;
        let valid = stem.len() == 32
            && stem
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            && matches!(extension, "png" | "jpg");
        valid.then(|| self.root.join(PICTURE_DIR).join(name))
    }
}

/// The public URL of a stored picture.
pub fn url(relative: &str) -> String {
    format!("{URL_PREFIX}{relative}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_names_map_to_paths() {
        let store = MediaStore {
            root: PathBuf::from("/srv/media"),
        };
        assert!(store
            .path_of("profile_pics/0123456789abcdef0123456789abcdef.png")
            .is_some());
        for bad in [
            "profile_pics/../../etc/passwd",
            "profile_pics/0123456789ABCDEF0123456789abcdef.png",
            "profile_pics/.tmp-0123456789abcdef0123456789abcdef.png",
            "profile_pics/0123456789abcdef0123456789abcdef.png/x",
            "other/0123456789abcdef0123456789abcdef.png",
            "profile_pics/0123456789abcdef0123456789abcdef.svg",
            "profile_pics",
        ] {
            assert!(store.path_of(bad).is_none(), "{bad}");
        }
    }
}
