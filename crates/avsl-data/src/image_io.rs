//! Image decoding to 8-bit RGB, as `PIL.Image.open(path).convert('RGB')` does.
//!
//! Grayscale is replicated to three channels, alpha is dropped (not composited), palettes
//! are expanded. JPEG is decoded by `zune-jpeg` (through the `image` crate); current Pillow
//! uses libjpeg-turbo, and the two agree to within ±1 level per pixel (see the fixture
//! tests for the measured difference).

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat, ImageReader};

use crate::error::{DataError, Result, read_file};

/// An 8-bit RGB image, row-major, interleaved.
#[derive(Debug, Clone, PartialEq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl RgbImage {
    pub fn new(width: usize, height: usize) -> RgbImage {
        RgbImage {
            width,
            height,
            data: vec![0; width * height * 3],
        }
    }

    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }
}

/// Largest accepted image side and pixel count: a header may claim anything, the decoder
/// must not allocate for it.
const MAX_SIDE: u32 = 16_384;
const MAX_PIXELS: u64 = 64 * 1024 * 1024;

/// Reads and decodes a JPEG or PNG file (recognised by content, not by extension).
pub fn read_rgb(path: &Path) -> Result<RgbImage> {
    let bytes = read_file(path)?;
    decode_rgb(&bytes).map_err(|problem| DataError::invalid(path, problem))
}

pub fn decode_rgb(bytes: &[u8]) -> std::result::Result<RgbImage, String> {
    if bytes.is_empty() {
        return Err("empty file (0 bytes), expected a JPEG or PNG image".into());
    }
    let format = image::guess_format(bytes)
        .map_err(|_| "not a JPEG or PNG image (unrecognised content)".to_string())?;
    if !matches!(format, ImageFormat::Jpeg | ImageFormat::Png) {
        return Err(format!(
            "unsupported image format {format:?} (expected JPEG or PNG)"
        ));
    }
    if format == ImageFormat::Jpeg && !jpeg_has_end_marker(bytes) {
        // zune-jpeg fills a cut-off scan with grey; Pillow refuses it ("image file is
        // truncated"), and so do we.
        return Err("truncated JPEG: no end-of-image marker after the last scan".into());
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| format!("cannot decode {format:?} image: {e}"))?;
    Ok(to_rgb(decoded))
}

/// Entropy-coded data cannot contain an unescaped `FF D9`, so a complete stream has one
/// after the start of its last scan (`FF DA`); trailing bytes after it are allowed.
fn jpeg_has_end_marker(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_scan {
        Some(start) => bytes[start..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    }
}

fn to_rgb(img: DynamicImage) -> RgbImage {
    let (width, height) = (img.width() as usize, img.height() as usize);
    let data = match img {
        DynamicImage::ImageRgb8(b) => b.into_raw(),
        // 16-bit and float images are rare in this field; `image` scales them to 8 bits.
        other => other.to_rgb8().into_raw(),
    };
    RgbImage {
        width,
        height,
        data,
    }
}

/// Encodes an RGB image as PNG bytes (lossless; for `inspect` and reports).
pub fn encode_png(img: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::write_buffer_with_format(
        &mut out,
        &img.data,
        img.width as u32,
        img.height as u32,
        image::ExtendedColorType::Rgb8,
        ImageFormat::Png,
    )
    .expect("encoding an in-memory RGB buffer cannot fail");
    out.into_inner()
}

/// Encodes an RGB image as JPEG bytes at the given quality.
pub fn encode_jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode(
            &img.data,
            img.width as u32,
            img.height as u32,
            image::ExtendedColorType::Rgb8,
        )
        .expect("encoding an in-memory RGB buffer cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_empty_and_truncated_are_errors() {
        assert!(decode_rgb(b"").unwrap_err().contains("empty"));
        assert!(
            decode_rgb(b"GIF89a....")
                .unwrap_err()
                .contains("unsupported")
        );
        assert!(
            decode_rgb(b"definitely not an image")
                .unwrap_err()
                .contains("not a JPEG or PNG")
        );
        let mut img = RgbImage::new(40, 30);
        img.data
            .iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = (i % 251) as u8);
        let png = encode_png(&img);
        assert_eq!(decode_rgb(&png).unwrap(), img);
        assert!(decode_rgb(&png[..png.len() / 2]).is_err());
        let jpg = encode_jpeg(&img, 90);
        assert!(decode_rgb(&jpg[..jpg.len() / 2]).is_err());
    }
}
