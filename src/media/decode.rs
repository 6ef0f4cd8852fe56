//! Decoding, checking and re-encoding an upload.
//!
//! What this may allocate is the decoded image and its scaled copy, never
//! more: the container walk bounds (and for PNG strips) every metadata
//! block before the decoder is built, the header's size is checked before
//! any pixel is decoded, and the orientation is applied to the scaled copy
//! rather than to a second full-size one.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use super::container::{self, Refusal};
use super::{Encoded, PictureRules};
use crate::error::ApiError;

/// Decodes, checks and re-encodes an upload. Blocking (CPU-bound): run it
/// on the blocking pool.
pub fn process(upload: &[u8], rules: PictureRules) -> Result<Encoded, ApiError> {
    let not_an_image =
        || ApiError::InvalidImage("The file is not a PNG, JPEG, GIF or WebP image.".into());
    let format = image::guess_format(upload).map_err(|_| not_an_image())?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP
    ) {
        return Err(not_an_image());
    }
    let screened = container::screen(upload, format, &rules).map_err(|refusal| match refusal {
        Refusal::Malformed => not_an_image(),
        Refusal::Metadata { limit } => ApiError::InvalidImage(format!(
            "The image carries more than {limit} bytes of metadata (EXIF, ICC profile, text)."
        )),
        Refusal::FrameTooLarge { width, height } => ApiError::InvalidImage(format!(
            "A frame of the image is {width}x{height} pixels; at most {} pixels and {}x{} are accepted.",
            rules.max_pixels, rules.max_dimension, rules.max_dimension
        )),
    })?;
    let mut reader = ImageReader::with_format(Cursor::new(&*screened), format);
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
    drop(screened);
    if image.width() > rules.stored_edge || image.height() > rules.stored_edge {
        // Fitting in a square does not depend on the orientation, so the
        // scaling comes first and the rotation turns the small copy.
        image = image.resize(rules.stored_edge, rules.stored_edge, FilterType::Triangle);
    }
    // The EXIF orientation is applied to the pixels, since the tag itself
    // is dropped with the rest of the metadata.
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
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

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: PictureRules = PictureRules {
        max_pixels: 40_000_000,
        max_dimension: 4096,
        stored_edge: 64,
        max_metadata_bytes: 64 * 1024,
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
            b"RIFF\xff\xff\xff\x7fWEBPVP8X\xff\xff\xff\x7f",
        ] {
            assert!(matches!(
                process(bytes, RULES),
                Err(ApiError::InvalidImage(_))
            ));
        }
    }
}
