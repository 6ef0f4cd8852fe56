//! Profile pictures: validated by content, re-encoded, stored under
//! server-chosen names in `MEDIA_ROOT/profile_pics/`, and read back for
//! `/media/`.
//!
//! Nothing the client says about the file (name, content type) is trusted:
//! the bytes must decode as PNG, JPEG, GIF or WebP, their size is checked
//! from the header before any pixel is decoded, and what is stored is a
//! fresh encoding of the pixels, so metadata (EXIF, GPS), trailing payloads
//! and polyglots never reach the disk.

use std::fs::{self, File};
use std::io::{self, Cursor, Write};
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use rand::RngCore;

use crate::error::ApiError;

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
}

/// A picture ready to store.
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub extension: &'static str,
}

/// Decodes, checks and re-encodes an upload. Blocking (CPU-bound): run it
/// on the blocking pool.
pub fn process(upload: &[u8], rules: PictureRules) -> Result<Encoded, ApiError> {
    let not_an_image =
        || ApiError::InvalidImage("The file is not a PNG, JPEG, GIF or WebP image.".into());
    let mut reader = ImageReader::new(Cursor::new(upload))
        .with_guessed_format()
        .map_err(|_| not_an_image())?;
    let format = reader.format().ok_or_else(not_an_image)?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP
    ) {
        return Err(not_an_image());
    }
    // Only the header is read here: the size limits are checked below, with
    // messages that say which limit was hit.
    reader.no_limits();
    let mut decoder = reader.into_decoder().map_err(|_| not_an_image())?;

    // The header alone says how big the pixels would be: a decompression
    // bomb is refused here, before anything is decoded.
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > rules.max_pixels {
        return Err(ApiError::InvalidImage(format!(
            "The image is {width}x{height} pixels; at most {} pixels are accepted.",
            rules.max_pixels
        )));
    }
    if width > rules.max_dimension || height > rules.max_dimension {
        return Err(ApiError::InvalidImage(format!(
            "The image is {width}x{height} pixels; at most {0}x{0} is accepted.",
            rules.max_dimension
        )));
    }
    if width == 0 || height == 0 {
        return Err(not_an_image());
    }
    // The decoder's own allocation limits stay on as a second line.
    let mut limits = Limits::default();
    limits.max_image_width = Some(rules.max_dimension);
    limits.max_image_height = Some(rules.max_dimension);
    decoder.set_limits(limits).map_err(|_| not_an_image())?;
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder)
        .map_err(|_| ApiError::InvalidImage("The image could not be decoded.".into()))?;
    // The EXIF orientation is applied to the pixels, since the tag itself
    // is dropped with the rest of the metadata.
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    if image.width() > rules.stored_edge || image.height() > rules.stored_edge {
        image = image.resize(rules.stored_edge, rules.stored_edge, FilterType::Triangle);
    }
    encode(image, format == ImageFormat::Jpeg)
}

/// Photographs stay JPEG (smaller); everything else becomes PNG (lossless,
/// keeps transparency; GIF animations keep their first frame).
fn encode(image: DynamicImage, photograph: bool) -> Result<Encoded, ApiError> {
    let mut bytes = Vec::new();
    if photograph {
        let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 85);
        rgb.write_with_encoder(encoder)
            .map_err(|e| ApiError::internal(format!("JPEG encoding: {e}")))?;
        Ok(Encoded {
            bytes,
            extension: "jpg",
        })
    } else {
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .map_err(|e| ApiError::internal(format!("PNG encoding: {e}")))?;
        Ok(Encoded {
            bytes,
            extension: "png",
        })
    }
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

    const RULES: PictureRules = PictureRules {
        max_pixels: 40_000_000,
        max_dimension: 4096,
        stored_edge: 64,
    };

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbaImage::from_pixel(width, height, image::Rgba([200, 30, 30, 128]));
        let mut bytes = Vec::new();
        DynamicImage::ImageRgba8(image)
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn pictures_are_reencoded_and_scaled_down_never_up() {
        let big = process(&png(300, 150), RULES).unwrap();
        let decoded = image::load_from_memory(&big.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 32));
        let small = process(&png(10, 20), RULES).unwrap();
        assert_eq!(image::load_from_memory(&small.bytes).unwrap().width(), 10);
    }

    #[test]
    fn not_images_are_refused() {
        for bytes in [
            &b"hello"[..],
            b"",
            b"\x89PNG\r\n\x1a\n garbage",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        ] {
            assert!(matches!(
                process(bytes, RULES),
                Err(ApiError::InvalidImage(_))
            ));
        }
    }

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
