//! Real image files, made in the tests.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

/// A photograph-like picture: gradients and noise.
pub fn photo(width: u32, height: u32) -> DynamicImage {
    let mut seed = 0x2545_f491_u32;
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let noise = (seed % 32) as u8;
        Rgb([
            (x * 255 / width) as u8 ^ noise,
            (y * 255 / height) as u8,
            noise.wrapping_mul(7),
        ])
    }))
}

pub fn graphic(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(width, height, |x, y| {
        Rgba([
            (x % 256) as u8,
            (y % 256) as u8,
            128,
            if (x + y) % 2 == 0 { 255 } else { 100 },
        ])
    }))
}

pub fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    let image = match format {
        // JPEG has no alpha channel.
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(image.to_rgb8()),
        _ => image.clone(),
    };
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .unwrap();
    bytes
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    encode(&graphic(width, height), ImageFormat::Png)
}

/// A JPEG carrying an EXIF block with GPS coordinates and a marker string.
pub fn jpeg_with_gps(marker: &str) -> Vec<u8> {
    let jpeg = encode(&photo(320, 240), ImageFormat::Jpeg);
    // TIFF (big-endian): IFD0 with one entry, GPSInfo -> a GPS IFD holding
    // GPSLatitudeRef "N".
    let mut tiff: Vec<u8> = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&[
        0x00, 0x01, 0x88, 0x25, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 26,
    ]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(&[
        0x00, 0x01, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, b'N', 0, 0, 0,
    ]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(marker.as_bytes());
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend_from_slice(&tiff);
    let length = u16::try_from(app1.len() + 2).unwrap().to_be_bytes();
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1, length[0], length[1]]);
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A valid small PNG whose header claims `width` x `height` pixels.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(4, 4);
    // Signature (8), IHDR length (4), "IHDR" (4), then width and height.
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// Where a PNG's metadata bomb goes.
#[derive(Clone, Copy, Debug)]
pub enum Bomb {
    Iccp,
    Ztxt,
    Itxt,
}

/// A valid 1x1 PNG with a `bomb` chunk (valid CRC) whose zlib stream
/// inflates to `size` zero bytes (a multiple of 1 MiB).
pub fn png_with_metadata_bomb(bomb: Bomb, size: usize) -> Vec<u8> {
    let (kind, head): (&[u8], &[u8]) = match bomb {
        Bomb::Iccp => (b"iCCP", b"icc\0\0"),
        Bomb::Ztxt => (b"zTXt", b"Comment\0\0"),
        Bomb::Itxt => (b"iTXt", b"XML:com.adobe.xmp\0\x01\0\0\0"),
    };
    let data = [head, &zlib_of_zeros(size)].concat();
    let mut chunk = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(&data);
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    let mut png = png(1, 1);
    // After the signature (8) and IHDR (25), before IDAT.
    png.splice(33..33, chunk);
    png
}

/// A zlib stream of `size` zero bytes, made without compressing them all:
/// one 1 MiB block, flushed so that it stands alone, repeated.
fn zlib_of_zeros(size: usize) -> Vec<u8> {
    let mut deflate = flate2::Compress::new(flate2::Compression::best(), false);
    let mut block = Vec::with_capacity(64 << 10);
    deflate
        .compress_vec(&vec![0; 1 << 20], &mut block, flate2::FlushCompress::Full)
        .unwrap();
    assert_eq!(deflate.total_in(), 1 << 20);
    let mut out = vec![0x78, 0xDA];
    for _ in 0..size >> 20 {
        out.extend_from_slice(&block);
    }
    // A final, empty block, then the Adler-32 of `size` zeros.
    out.extend_from_slice(&[0x03, 0x00]);
    let adler = (((size % 65521) as u32) << 16) | 1;
    out.extend_from_slice(&adler.to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
