//! Reading a picture upload's `multipart/form-data` body (RFC 7578).
//!
//! The body is read whole (it is bounded by `MAX_PICTURE_BYTES` plus
//! framing, and the picture is needed whole to decode it anyway) and then
//! split on its boundary. Before a byte of it is read, the upload takes its
//! share of `PICTURE_UPLOAD_BUFFER_BYTES` (its declared length, or the most
//! it may hold), so the uploads waiting for a decode slot hold a bounded
//! total, and those waiting for room hold nothing but their connection.
//! Part headers are read leniently: only the `name` of
//! `Content-Disposition` matters, and the client's file name is never
//! used, so whatever it holds (NUL, CR or LF, quotes, separators, any
//! length) cannot make the body unparseable.

use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{web, HttpMessage, HttpRequest};
use futures_util::StreamExt;

use crate::accounts::{Accounts, Upload};
use crate::config::MULTIPART_OVERHEAD;
use crate::error::ApiError;

/// The multipart field that carries the picture.
const PICTURE_FIELD: &str = "profile_pic";

/// Reads the `profile_pic` field, refusing more than `limit` bytes while
/// reading (nothing is buffered past the limit, nothing touches the disk).
pub async fn read_picture(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    accounts: &Accounts,
) -> Result<Upload, ApiError> {
    let boundary = req
        .mime_type()
        .ok()
        .flatten()
        .filter(|m| m.essence_str() == "multipart/form-data")
        .and_then(|m| m.get_param("boundary").map(|b| b.as_str().to_owned()))
        // RFC 2046: a boundary has 1 to 70 characters.
        .filter(|b| (1..=70).contains(&b.len()));
    let Some(boundary) = boundary else {
        return Err(ApiError::Malformed(
            "The picture must be sent as multipart/form-data with a `profile_pic` file field."
                .into(),
        ));
    };
    let declared: Option<usize> = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body_limit = limit.saturating_add(MULTIPART_OVERHEAD);
    if declared.is_some_and(|n| n > body_limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    // A body without a length (chunked) may take the most a body may.
    let room = declared.unwrap_or(body_limit);
    let buffer = accounts.reserve_upload_buffer(room).await?;
    let timeout = accounts.picture_upload_timeout();
    // The share is held while the body arrives: a client that sends it
    // slowly, or not at all, lets go of it after PICTURE_UPLOAD_TIMEOUT_SECS.
    let mut body = tokio::time::timeout(timeout, read_body(&mut payload, room, limit))
        .await
        .map_err(|_| {
            ApiError::Malformed(format!(
                "The picture did not arrive within {} seconds.",
                timeout.as_secs()
            ))
        })??;
    let picture = picture_part(&body, boundary.as_bytes())?;
    if picture.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    if picture.is_empty() {
        // A file that is there but empty is a picture that is not an image.
        return Err(ApiError::InvalidImage(
            "The file is empty; send a PNG, JPEG, GIF or WebP image.".into(),
        ));
    }
    // The picture is cut out of the body in place, not copied beside it.
    body.truncate(picture.end);
    body.drain(..picture.start);
    Ok(Upload {
        bytes: body,
        buffer,
    })
}

/// The whole body, at most `room` bytes (else 413 naming `limit`).
async fn read_body(
    payload: &mut web::Payload,
    room: usize,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::with_capacity(room.min(64 * 1024));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::Malformed("The request body could not be read.".into()))?;
        if body.len() + chunk.len() > room {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        // Grown by doubling, but never past its share of the buffer.
        if body.capacity() < body.len() + chunk.len() {
            let target = (body.capacity() * 2).clamp(body.len() + chunk.len(), room);
            body.reserve_exact(target - body.len());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Where the `profile_pic` field's bytes are in the body.
fn picture_part(body: &[u8], boundary: &[u8]) -> Result<std::ops::Range<usize>, ApiError> {
    let parts = parse(body, boundary)
        .ok_or_else(|| ApiError::Malformed("The multipart body could not be parsed.".into()))?;
    let mut picture: Option<&[u8]> = None;
    for part in parts {
        match part.name.as_deref() {
            Some(PICTURE_FIELD) if picture.is_none() => picture = Some(part.content),
            Some(PICTURE_FIELD) => {
                return Err(ApiError::field(PICTURE_FIELD, "Send one file only."))
            }
            other => {
                return Err(ApiError::field(
                    other.unwrap_or("non_field_errors"),
                    "Unknown field.",
                ));
            }
        }
    }
    let picture =
        picture.ok_or_else(|| ApiError::field(PICTURE_FIELD, "No file was submitted."))?;
    // Parts are slices of the body.
    let start = picture.as_ptr() as usize - body.as_ptr() as usize;
    Ok(start..start + picture.len())
}

/// One part of the body: its field name, if it has one, and its content.
#[derive(Debug)]
struct Part<'a> {
    name: Option<String>,
    content: &'a [u8],
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Splits a body on its boundary; `None` when it is not a multipart body
/// (no opening or closing delimiter, a part without a header block).
fn parse<'a>(body: &'a [u8], boundary: &[u8]) -> Option<Vec<Part<'a>>> {
    let delimiter = [b"--".as_slice(), boundary].concat();
    let next_delimiter = [b"\r\n".as_slice(), &delimiter].concat();
    // The first delimiter opens the body (a preamble before it is ignored).
    let start = if body.starts_with(&delimiter) {
        0
    } else {
        find(body, &next_delimiter)? + 2
    };
    let mut rest = &body[start + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        // Transport padding, then the line break that ends the delimiter.
        let line_end = find(rest, b"\r\n")?;
        if !rest[..line_end].iter().all(|b| *b == b' ' || *b == b'\t') {
            return None;
        }
        rest = &rest[line_end + 2..];
        let (headers, content_start) = if rest.starts_with(b"\r\n") {
            (&rest[..0], 2)
        } else {
            let end = find(rest, b"\r\n\r\n")?;
            (&rest[..end], end + 4)
        };
        rest = &rest[content_start..];
        let content_end = find(rest, &next_delimiter)?;
        parts.push(Part {
            name: field_name(headers),
            content: &rest[..content_end],
        });
        rest = &rest[content_end + next_delimiter.len()..];
    }
}

/// The `name` parameter of the part's `Content-Disposition`. Header lines
/// that are not `Name: value` (a file name broken by a raw CR or LF leaves
/// such pieces) are passed over.
fn field_name(headers: &[u8]) -> Option<String> {
    headers
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            let (name, value) = line.split_at(colon);
            name.trim_ascii()
                .eq_ignore_ascii_case(b"content-disposition")
                .then(|| &value[1..])
        })
        .find_map(disposition_name)
}

/// Reads `form-data; name="..."; filename="..."` parameter by parameter,
/// quoted strings with their backslash escapes included, and returns the
/// value of `name`. A broken parameter (a file name with a stray quote) is
/// skipped up to the next `;`.
fn disposition_name(value: &[u8]) -> Option<String> {
    let mut i = 0;
    while i < value.len() {
        // The parameter's name, up to `=` or `;`.
        let start = i;
        while i < value.len() && value[i] != b'=' && value[i] != b';' {
            i += 1;
        }
        let key = value[start..i].trim_ascii().to_ascii_lowercase();
        if i >= value.len() || value[i] == b';' {
            i += 1;
            continue;
        }
        i += 1; // '='
        while i < value.len() && value[i] == b' ' {
            i += 1;
        }
        let mut parsed = Vec::new();
        if value.get(i) == Some(&b'"') {
            i += 1;
            while i < value.len() && value[i] != b'"' {
                if value[i] == b'\\' && i + 1 < value.len() {
                    i += 1;
                }
                parsed.push(value[i]);
                i += 1;
            }
            // The closing quote, if the value has one.
            i = (i + 1).min(value.len());
        }
        // Whatever follows up to the next `;` (an unquoted value, or the
        // rest of a broken one).
        let tail_start = i;
        while i < value.len() && value[i] != b';' {
            i += 1;
        }
        if parsed.is_empty() {
            let tail = value.get(tail_start..i).unwrap_or_default();
            parsed.extend_from_slice(tail.trim_ascii());
        }
        i += 1;
        if key == b"name" {
            return Some(String::from_utf8_lossy(&parsed).into_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(disposition: &[u8], content: &[u8]) -> Vec<u8> {
        [
            b"--XyZ\r\nContent-Disposition: ".as_slice(),
            disposition,
            b"\r\nContent-Type: image/png\r\n\r\n",
            content,
            b"\r\n--XyZ--\r\n",
        ]
        .concat()
    }

    #[test]
    fn the_file_name_never_matters() {
        let names: [&[u8]; 8] = [
            b"a.png",
            b"a\x00b.png",
            b"a\rb.png",
            b"a\nb.png",
            b"../../etc/passwd",
            b"quo\"te.png",
            "ümlaut 名前.png".as_bytes(),
            &[b'x'; 1000],
        ];
        for name in names {
            let disposition =
                [b"form-data; name=\"profile_pic\"; filename=\"", name, b"\""].concat();
            let raw = body(&disposition, b"PIXELS");
            let parts = parse(&raw, b"XyZ").expect("parses");
            assert_eq!(parts.len(), 1, "{name:?}");
            assert_eq!(parts[0].name.as_deref(), Some("profile_pic"), "{name:?}");
            assert_eq!(parts[0].content, b"PIXELS", "{name:?}");
        }
    }

    #[test]
    fn parts_keep_their_names_and_bytes() {
        let raw = b"preamble\r\n--b\r\nContent-Disposition: form-data; name=one\r\n\r\n1\r\n--b\r\ncontent-disposition: form-data; name=\"two\"\r\n\r\n\r\n--b--";
        let parts = parse(raw, b"b").unwrap();
        assert_eq!(parts[0].name.as_deref(), Some("one"));
        assert_eq!(parts[0].content, b"1");
        assert_eq!(parts[1].name.as_deref(), Some("two"));
        assert_eq!(parts[1].content, b"");
        let nameless = parse(b"--b\r\n\r\nx\r\n--b--", b"b").unwrap();
        assert_eq!(nameless[0].name, None);
    }

    #[test]
    fn unterminated_and_empty_quotes_are_no_panic() {
        for disposition in [
            b"form-data; name=\"".as_slice(),
            b"form-data; name=\"profile_pic\"; filename=\"",
            b"form-data; name=\"profile_pic\"; filename=\"\\",
            b"form-data; name=",
            b"form-data; name",
            b"form-data; =",
            b"form-data; name=\"\"",
            b";;;=\"",
            b"",
        ] {
            let raw = body(disposition, b"x");
            let parsed = parse(&raw, b"XyZ");
            assert!(parsed.is_some(), "{disposition:?}");
            let _ = disposition_name(disposition);
        }
        let broken = body(b"form-data; name=\"profile_pic\"; filename=\"\nx\"", b"x");
        let parts = parse(&broken, b"XyZ").unwrap();
        assert_eq!(parts[0].name.as_deref(), Some("profile_pic"));
    }

    /// Any bytes at all, shaped like a multipart body or not: an answer,
    /// never a panic (a small deterministic fuzz).
    #[test]
    fn arbitrary_bytes_never_panic() {
        let alphabet: &[u8] = b"-\r\n\";=\\ XyZnamefilecontent:dispositionform-data\x00\xff";
        let mut seed = 0x9e37_79b9_u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 120) as usize;
            let mut raw: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() as usize) % alphabet.len()])
                .collect();
            if next() % 2 == 0 {
                raw.splice(0..0, b"--XyZ\r\nContent-Disposition: ".iter().copied());
            }
            let _ = parse(&raw, b"XyZ");
            let _ = disposition_name(&raw);
            let _ = field_name(&raw);
        }
    }

    #[test]
    fn bodies_without_their_framing_are_refused() {
        for raw in [
            b"".as_slice(),
            b"not multipart at all",
            b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nno closing delimiter",
            b"--other\r\n\r\nx\r\n--other--",
        ] {
            assert!(parse(raw, b"b").is_none(), "{raw:?}");
        }
    }
}
