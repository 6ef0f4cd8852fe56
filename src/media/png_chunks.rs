//! PNG's chunks, measured and stripped before the decoder reads them.
//!
//! `png` inflates an `iCCP` profile as it reads the header, bounded only by
//! its allocation limit, which `image` 0.25 sets after the fact: a 1x1
//! file of under 1 MB could make it allocate a gigabyte. Here each
//! compressed chunk (`iCCP`, `zTXt`, a compressed `iTXt`) is inflated into
//! a small scratch buffer that is overwritten as it goes, stopping as soon
//! as the metadata bound is passed, so measuring costs constant memory.
//! The decoder then gets only the chunks the pixels need.

use std::io::Read;

use flate2::read::ZlibDecoder;

use super::container::{Budget, Refusal};

const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// The longest chunk the format allows (2^31 - 1 bytes).
const MAX_CHUNK: usize = i32::MAX as usize;

/// The file with only IHDR, PLTE, tRNS, IDAT, eXIf (for the orientation)
/// and IEND, plus any unknown critical chunk (for the decoder to refuse
/// as it always has). Animation control, colour profiles, text and
/// everything after IEND is left out: none of it survives the re-encode.
pub fn strip(file: &[u8], budget: &mut Budget) -> Result<Vec<u8>, Refusal> {
    let mut rest = file.strip_prefix(SIGNATURE).ok_or(Refusal::Malformed)?;
    let mut out = Vec::with_capacity(file.len());
    out.extend_from_slice(SIGNATURE);
    while rest.len() >= 8 {
        let length = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let kind = [rest[4], rest[5], rest[6], rest[7]];
        if length > MAX_CHUNK {
            return Err(Refusal::Malformed);
        }
        let critical = kind[0].is_ascii_uppercase();
        let Some(chunk) = rest.get(..length + 12) else {
            // Cut short: a critical chunk goes on as it is (the decoder
            // reports the truncation, as before), metadata goes nowhere.
            if critical {
                out.extend_from_slice(rest);
            }
            break;
        };
        let data = &chunk[8..8 + length];
        budget.spend(metadata_bytes(&kind, data, budget.left()))?;
        if critical || matches!(&kind, b"tRNS" | b"eXIf") {
            out.extend_from_slice(chunk);
        }
        rest = &rest[length + 12..];
        if &kind == b"IEND" {
            break;
        }
    }
    Ok(out)
}

/// How much metadata a chunk holds: the inflated size of a compressed one
/// (measured up to `left + 1` bytes, enough to know it is over), the raw
/// size of text and EXIF, 0 for anything else.
fn metadata_bytes(kind: &[u8; 4], data: &[u8], left: usize) -> usize {
    match kind {
        // name NUL, method, zlib stream
        b"iCCP" | b"zTXt" => after_nul(data)
            .and_then(|rest| rest.get(1..))
            .map_or(0, |stream| inflated_len(stream, left)),
        // keyword NUL, flag, method, language NUL, translated keyword NUL, text
        b"iTXt" => {
            let Some(rest) = after_nul(data) else {
                return data.len();
            };
            let compressed = rest.first() == Some(&1);
            let text = rest
                .get(2..)
                .and_then(after_nul)
                .and_then(after_nul)
                .unwrap_or_default();
            if compressed {
                inflated_len(text, left)
            } else {
                data.len()
            }
        }
        b"tEXt" | b"eXIf" => data.len(),
        _ => 0,
    }
}

fn after_nul(data: &[u8]) -> Option<&[u8]> {
    let nul = data.iter().position(|&b| b == 0)?;
    Some(&data[nul + 1..])
}

/// The size `stream` inflates to, reading at most `left + 1` bytes of
/// output into a scratch buffer that is reused: the memory is constant
/// and the work stops once the answer is "too much". A corrupt stream
/// counts what came out before the error.
fn inflated_len(stream: &[u8], left: usize) -> usize {
    let cap = u64::try_from(left).unwrap_or(u64::MAX).saturating_add(1);
    let mut inflater = ZlibDecoder::new(stream).take(cap);
    let mut scratch = [0u8; 8192];
    let mut total = 0usize;
    while let Ok(n @ 1..) = inflater.read(&mut scratch) {
        total += n;
    }
    total
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&[0, 0, 0, 0]); // the CRC is the decoder's business
        out
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn file(chunks: &[Vec<u8>]) -> Vec<u8> {
        [SIGNATURE.to_vec(), chunks.concat()].concat()
    }

    #[test]
    fn compressed_metadata_is_measured_inflated_and_refused_over_the_bound() {
        let bomb = zlib(&vec![0u8; 4 << 20]);
        assert!(bomb.len() < 8 << 10, "{}", bomb.len());
        let iccp = [b"icc\0\0".as_slice(), &bomb].concat();
        let ztxt = [b"Comment\0\0".as_slice(), &bomb].concat();
        let itxt = [b"XML:com.adobe.xmp\0\x01\0en\0\0".as_slice(), &bomb].concat();
        for (kind, data) in [(b"iCCP", iccp), (b"zTXt", ztxt), (b"iTXt", itxt)] {
            let png = file(&[chunk(b"IHDR", &[0; 13]), chunk(kind, &data)]);
            let refused = strip(&png, &mut Budget::new(1 << 20));
            assert_eq!(refused, Err(Refusal::Metadata { limit: 1 << 20 }));
            let kept = strip(&png, &mut Budget::new(8 << 20)).unwrap();
            assert_eq!(kept, file(&[chunk(b"IHDR", &[0; 13])]), "stripped");
        }
    }

    #[test]
    fn the_bound_is_for_the_whole_file() {
        let text = chunk(b"tEXt", &[b'a'; 600]);
        let png = file(&[text.clone(), text]);
        assert!(strip(&png, &mut Budget::new(1000)).is_err());
        assert!(strip(&png, &mut Budget::new(1200)).is_ok());
    }

    #[test]
    fn pixels_and_orientation_stay_the_rest_goes() {
        let kept = [
            chunk(b"IHDR", &[0; 13]),
            chunk(b"PLTE", &[0; 3]),
            chunk(b"tRNS", &[0]),
            chunk(b"eXIf", b"MM\0*"),
            chunk(b"IDAT", b"pixels"),
            chunk(b"IEND", b""),
        ];
        let dropped = [chunk(b"acTL", &[0; 8]), chunk(b"gAMA", &[0; 4])];
        let all = [
            kept[..4].to_vec(),
            dropped.to_vec(),
            kept[4..].to_vec(),
            vec![b"trailing payload".to_vec()],
        ]
        .concat();
        assert_eq!(
            strip(&file(&all), &mut Budget::new(100)).unwrap(),
            file(&kept)
        );
    }

    #[test]
    fn cut_short_chunks_and_lying_lengths_are_no_panic() {
        let idat = chunk(b"IDAT", b"0123456789");
        let cut = file(&[chunk(b"IHDR", &[0; 13]), idat[..9].to_vec()]);
        assert_eq!(strip(&cut, &mut Budget::new(10)).unwrap(), cut);
        let huge = file(&[[&u32::MAX.to_be_bytes()[..], b"iCCP"].concat()]);
        assert_eq!(strip(&huge, &mut Budget::new(10)), Err(Refusal::Malformed));
        let claims_more = file(&[[&1000u32.to_be_bytes()[..], b"zTXt\0\0"].concat()]);
        assert_eq!(
            strip(&claims_more, &mut Budget::new(10)).unwrap(),
            SIGNATURE
        );
        assert_eq!(
            strip(b"GIF89a", &mut Budget::new(10)),
            Err(Refusal::Malformed)
        );
    }
}
