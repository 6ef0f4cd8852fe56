//! A walk over an upload's container (PNG chunks, JPEG segments, WebP RIFF
//! chunks, GIF blocks) before any decoder sees it.
//!
//! The decoders allocate for metadata as they read their header: `png`
//! inflates an `iCCP` profile with no limit, `image-webp` allocates an
//! `EXIF` or `ICCP` chunk's declared size before reading it, and `image`
//! applies its own limits only once the decoder is built. So every
//! metadata block (EXIF, ICC, XMP, text, comments) is measured here first,
//! compressed ones by a streaming inflate that keeps nothing and stops at
//! the bound, and the file is refused when their total is over
//! `MAX_PICTURE_METADATA_BYTES` or when a block claims more bytes than the
//! file holds. PNG metadata is also stripped from what the decoder gets
//! (the re-encode drops it anyway), so the decoder inflates nothing but
//! the pixels.

use std::borrow::Cow;

use image::ImageFormat;

use super::png_chunks;
use super::PictureRules;

/// Why the walk refused a file.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A block claims more bytes than the file holds.
    Malformed,
    /// EXIF, ICC, XMP, text and comments come to more than the bound.
    Metadata { limit: usize },
    /// A GIF frame is larger than any accepted image.
    FrameTooLarge { width: u32, height: u32 },
}

/// What is left of `MAX_PICTURE_METADATA_BYTES` for the rest of a file.
pub struct Budget {
    left: usize,
    limit: usize,
}

impl Budget {
    pub fn new(limit: usize) -> Self {
        Budget { left: limit, limit }
    }

    /// The most one more block may hold.
    pub fn left(&self) -> usize {
        self.left
    }

    pub fn spend(&mut self, bytes: usize) -> Result<(), Refusal> {
        self.left = self
            .left
            .checked_sub(bytes)
            .ok_or(Refusal::Metadata { limit: self.limit })?;
        Ok(())
    }
}

/// The bytes to give the decoder (a PNG without its metadata chunks, other
/// formats as they are), or why the file is refused.
pub fn screen<'a>(
    file: &'a [u8],
    format: ImageFormat,
    rules: &PictureRules,
) -> Result<Cow<'a, [u8]>, Refusal> {
    let mut budget = Budget::new(rules.max_metadata_bytes);
    match format {
        ImageFormat::Png => png_chunks::strip(file, &mut budget).map(Cow::Owned),
        ImageFormat::Jpeg => jpeg(file, &mut budget).map(|()| Cow::Borrowed(file)),
        ImageFormat::WebP => webp(file, &mut budget).map(|()| Cow::Borrowed(file)),
        ImageFormat::Gif => gif(file, &mut budget, rules).map(|()| Cow::Borrowed(file)),
        _ => Err(Refusal::Malformed),
    }
}

fn be16(file: &[u8], at: usize) -> Option<usize> {
    file.get(at..at + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
}

fn le16(file: &[u8], at: usize) -> Option<u32> {
    file.get(at..at + 2)
        .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])))
}

/// JPEG: the EXIF (APP1) and ICC (APP2) segments count, wherever they are
/// (progressive files may have some between scans): they are what the
/// decoder keeps, a profile in as many 64 KiB parts as the file likes.
/// Other segments (XMP, a phone's depth map, comments) are skipped by the
/// decoder and cost nothing, so they do not count.
fn jpeg(file: &[u8], budget: &mut Budget) -> Result<(), Refusal> {
    let mut i = 2; // after SOI
    while i + 1 < file.len() {
        if file[i] != 0xFF {
            i += 1; // entropy-coded data: look for the next marker
            continue;
        }
        match file[i + 1] {
            0xFF => i += 1,                      // fill byte
            0x00 | 0x01 | 0xD0..=0xD8 => i += 2, // stuffed 0xFF, TEM, RSTn, SOI
            0xD9 => break,                       // EOI
            code => {
                let Some(length) = be16(file, i + 2) else {
                    break;
                };
                let payload = length.saturating_sub(2).min(file.len() - i - 4);
                let kept = match code {
                    0xE1 => file[i + 4..].starts_with(b"Exif\0"),
                    0xE2 => file[i + 4..].starts_with(b"ICC_PROFILE\0"),
                    _ => false,
                };
                if kept {
                    budget.spend(payload)?;
                }
                i += 2 + length.max(2);
            }
        }
    }
    Ok(())
}

/// WebP: a chunk's declared size must fit in the file (`image-webp`
/// allocates a metadata chunk's declared size, up to 4 GiB, before reading
/// it), and ICCP, EXIF and XMP count.
fn webp(file: &[u8], budget: &mut Budget) -> Result<(), Refusal> {
    if file.get(..4) != Some(b"RIFF") || file.get(8..12) != Some(b"WEBP") {
        return Err(Refusal::Malformed);
    }
    let mut i = 12;
    while let Some(header) = file.get(i..i + 8) {
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if size > file.len() - i - 8 {
            return Err(Refusal::Malformed);
        }
        if matches!(&header[..4], b"ICCP" | b"EXIF" | b"XMP ") {
            budget.spend(size)?;
        }
        i += 8 + size + (size & 1);
    }
    Ok(())
}

/// GIF: comment, plain-text and application extensions (XMP, ICC) count,
/// and every frame must be within the picture rules: `image` allocates a
/// frame that does not match the logical screen at the frame's own size,
/// which the header check never saw.
fn gif(file: &[u8], budget: &mut Budget, rules: &PictureRules) -> Result<(), Refusal> {
    let flags = *file.get(10).ok_or(Refusal::Malformed)?;
    let mut i = 13 + color_table(flags);
    while let Some(&block) = file.get(i) {
        match block {
            0x21 => {
                let label = file.get(i + 1).copied();
                let counts = matches!(label, Some(0x01 | 0xFE | 0xFF));
                i = sub_blocks(
                    file,
                    i + 2,
                    |n| if counts { budget.spend(n) } else { Ok(()) },
                )?;
            }
            0x2C => {
                let (Some(width), Some(height), Some(&flags)) =
                    (le16(file, i + 5), le16(file, i + 7), file.get(i + 9))
                else {
                    break;
                };
                if width > rules.max_dimension
                    || height > rules.max_dimension
                    || u64::from(width) * u64::from(height) > rules.max_pixels
                {
                    return Err(Refusal::FrameTooLarge { width, height });
                }
                // Descriptor, local colour table, LZW code size, then data.
                i = sub_blocks(file, i + 10 + color_table(flags) + 1, |_| Ok(()))?;
            }
            _ => break, // the trailer, or bytes the decoder will judge
        }
    }
    Ok(())
}

fn color_table(flags: u8) -> usize {
    if flags & 0x80 != 0 {
        3 << ((flags & 7) + 1)
    } else {
        0
    }
}

/// Walks GIF sub-blocks from `i`; returns where the next block starts.
fn sub_blocks(
    file: &[u8],
    mut i: usize,
    mut each: impl FnMut(usize) -> Result<(), Refusal>,
) -> Result<usize, Refusal> {
    while let Some(&size) = file.get(i) {
        i += 1;
        if size == 0 {
            return Ok(i);
        }
        let size = usize::from(size);
        each(size.min(file.len() - i))?;
        i += size;
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: PictureRules = PictureRules {
        max_pixels: 1_000_000,
        max_dimension: 2000,
        stored_edge: 64,
        max_metadata_bytes: 100_000,
    };

    fn segment(code: u8, payload: &[u8]) -> Vec<u8> {
        let length = u16::try_from(payload.len() + 2).unwrap().to_be_bytes();
        [&[0xFF, code, length[0], length[1]][..], payload].concat()
    }

    #[test]
    fn jpeg_exif_and_icc_segments_count_wherever_they_are() {
        let icc = segment(0xE2, &[&b"ICC_PROFILE\0"[..], &[7; 59_988]].concat());
        let exif = segment(0xE1, &[&b"Exif\0\0"[..], &[7; 29_994]].concat());
        let xmp = segment(
            0xE1,
            &[&b"http://ns.adobe.com/xap/1.0/\0"[..], &[7; 60_000]].concat(),
        );
        let com = segment(0xFE, &[b'c'; 60_000]);
        let scan = [
            &segment(0xDA, &[0; 10])[..],
            &[1, 0xFF, 0x00, 2, 0xFF, 0xD0],
        ]
        .concat();
        let ok = [
            &[0xFF, 0xD8][..],
            &icc,
            &xmp,
            &scan,
            &exif,
            &com,
            &[0xFF, 0xD9],
        ]
        .concat();
        assert!(jpeg(&ok, &mut Budget::new(100_000)).is_ok());
        let more = [&[0xFF, 0xD8][..], &icc, &scan, &exif, &exif, &[0xFF, 0xD9]].concat();
        let refused = jpeg(&more, &mut Budget::new(100_000));
        assert_eq!(refused, Err(Refusal::Metadata { limit: 100_000 }));
        // A lying or cut length is no panic.
        assert!(jpeg(&[0xFF, 0xD8, 0xFF, 0xE1, 0xFF], &mut Budget::new(10)).is_ok());
        assert!(jpeg(
            &[0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x00, 0xFF],
            &mut Budget::new(10)
        )
        .is_ok());
    }

    fn riff(chunks: &[(&[u8; 4], u32, &[u8])]) -> Vec<u8> {
        let mut body = b"WEBP".to_vec();
        for (kind, size, data) in chunks {
            body.extend_from_slice(*kind);
            body.extend_from_slice(&size.to_le_bytes());
            body.extend_from_slice(data);
        }
        [
            b"RIFF".as_slice(),
            &(body.len() as u32).to_le_bytes(),
            &body,
        ]
        .concat()
    }

    #[test]
    fn webp_chunks_must_fit_and_metadata_counts() {
        let vp8x = (b"VP8X", 10, &[0u8; 10][..]);
        let exif = [1u8; 5001];
        let ok = riff(&[vp8x, (b"EXIF", 5001, &[&exif[..], &[0]].concat())]);
        assert!(webp(&ok, &mut Budget::new(6000)).is_ok());
        assert!(webp(&ok, &mut Budget::new(5000)).is_err());
        let lying = riff(&[vp8x, (b"EXIF", u32::MAX, &exif)]);
        assert_eq!(
            webp(&lying, &mut Budget::new(1 << 30)),
            Err(Refusal::Malformed)
        );
        assert_eq!(webp(b"RIFF", &mut Budget::new(1)), Err(Refusal::Malformed));
    }

    fn gif_with(blocks: &[u8]) -> Vec<u8> {
        // 1x1 screen with a 2-colour global table.
        let head = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff";
        [&head[..], blocks, b";"].concat()
    }

    fn frame(width: u16, height: u16) -> Vec<u8> {
        let mut out = vec![0x2C, 0, 0, 0, 0];
        out.extend_from_slice(&width.to_le_bytes());
        out.extend_from_slice(&height.to_le_bytes());
        out.extend_from_slice(&[0, 2, 2, 0x4C, 0x01, 0]);
        out
    }

    #[test]
    fn gif_frames_are_within_the_rules_and_comments_count() {
        let comment = [&[0x21, 0xFE, 200][..], &[b'x'; 200], &[0]].concat();
        let ok = gif_with(&[&comment[..], &frame(1, 1)].concat());
        assert!(gif(&ok, &mut Budget::new(200), &RULES).is_ok());
        assert!(gif(&ok, &mut Budget::new(199), &RULES).is_err());
        let huge = gif_with(&frame(65535, 65535));
        assert_eq!(
            gif(&huge, &mut Budget::new(10), &RULES),
            Err(Refusal::FrameTooLarge {
                width: 65535,
                height: 65535
            })
        );
        assert!(gif(b"GIF89a", &mut Budget::new(10), &RULES).is_err());
        assert!(gif(&gif_with(&[0x21, 0xFE, 9]), &mut Budget::new(10), &RULES).is_ok());
    }
}
