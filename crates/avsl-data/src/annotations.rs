//! Box annotations: the VGG-SS json and Flickr-SoundNet XML folders (docs/method.md §1, §7 item 2).

use std::collections::HashMap;
use std::path::Path;

use avsl_metrics::PixelBox;

use crate::error::{DataError, Result, read_file};

/// Boxes per sample id, already on the 224 grid.
pub type BoxTable = HashMap<String, Vec<PixelBox>>;

#[derive(serde::Deserialize)]
struct VggssEntry {
    file: String,
    #[serde(default, rename = "class")]
    _class: Option<String>,
    bbox: Vec<Vec<f64>>,
}

/// Reads `vggss.json`: `[{"file", "class", "bbox": [[xmin, ymin, xmax, ymax], …]}]` with
/// normalised coordinates. A later entry for the same file replaces an earlier one, as a
/// Python dict does.
pub fn read_vggss_json(path: &Path) -> Result<BoxTable> {
    parse_vggss_json(&read_file(path)?, path)
}

/// [`read_vggss_json`] on bytes already read (`path` names them in errors).
pub fn parse_vggss_json(bytes: &[u8], path: &Path) -> Result<BoxTable> {
    let entries: Vec<VggssEntry> = serde_json::from_slice(bytes)
        .map_err(|e| DataError::record(path, e.line() as u64, format!("malformed VGG-SS annotation json: {e}")))?;
    let mut table = BoxTable::with_capacity(entries.len());
    for entry in entries {
        let mut boxes = Vec::with_capacity(entry.bbox.len());
        for b in &entry.bbox {
            let coords: [f64; 4] = b.as_slice().try_into().map_err(|_| {
                DataError::invalid(path, format!("entry {:?}: a box has {} numbers, expected 4", entry.file, b.len()))
            })?;
            boxes.push(PixelBox::from_normalized(coords));
        }
        table.insert(entry.file, boxes);
    }
    Ok(table)
}

/// Reads one Flickr-SoundNet annotation XML: every `<bbox>` grandchild of the root is one
/// annotator's box, `xmin, ymin, xmax, ymax` on a 256 scale. Coordinates are read by tag
/// name; a `<bbox>` without those tags falls back to the reference's positional rule
/// (children 2–5 in order, the first child skipped). Other elements are ignored, and there
/// is no limit on the number of boxes.
pub fn read_flickr_xml(path: &Path) -> Result<Vec<PixelBox>> {
    parse_flickr_xml(&read_file(path)?, path)
}

/// [`read_flickr_xml`] on bytes already read (`path` names them in errors).
pub fn parse_flickr_xml(bytes: &[u8], path: &Path) -> Result<Vec<PixelBox>> {
    let text = std::str::from_utf8(bytes).map_err(|_| DataError::invalid(path, "annotation is not UTF-8 text"))?;
    let doc = roxmltree::Document::parse(text).map_err(|e| DataError::invalid(path, format!("malformed XML: {e}")))?;
    let mut boxes = Vec::new();
    for child in doc.root_element().children().filter(|n| n.is_element()) {
        for bbox in child.children().filter(|n| n.is_element() && n.tag_name().name() == "bbox") {
            let line = doc.text_pos_at(bbox.range().start).row as u64;
            let coords = flickr_coords(&bbox).map_err(|p| DataError::record(path, line, p))?;
            boxes.push(PixelBox::from_flickr_256(coords));
        }
    }
    Ok(boxes)
}

fn flickr_coords(bbox: &roxmltree::Node) -> std::result::Result<[i64; 4], String> {
    let elements: Vec<roxmltree::Node> = bbox.children().filter(|n| n.is_element()).collect();
    let by_name = |name: &str| elements.iter().find(|n| n.tag_name().name() == name);
    let named: Option<Vec<&roxmltree::Node>> = ["xmin", "ymin", "xmax", "ymax"].iter().map(|n| by_name(n)).collect();
    let nodes: Vec<&roxmltree::Node> = match named {
        Some(n) => n,
        None if elements.len() >= 5 => elements[1..5].iter().collect(),
        None => {
            return Err(format!("<bbox> needs xmin, ymin, xmax, ymax; found {} child elements", elements.len()));
        }
    };
    let mut out = [0i64; 4];
    for (slot, node) in out.iter_mut().zip(nodes) {
        let text = node.text().unwrap_or("").trim();
        *slot = text
            .parse::<i64>()
            .map_err(|_| format!("<{}> is {text:?}, expected an integer", node.tag_name().name()))?;
    }
    Ok(out)
}

/// Reads every annotation in a Flickr-SoundNet folder; the id is the file name before its
/// first `.`. Hidden files (`.DS_Store` and the like) and sub-folders are skipped.
pub fn read_flickr_folder(dir: &Path) -> Result<BoxTable> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut table = BoxTable::new();
    for entry in entries {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with('.') || path.is_dir() {
            continue;
        }
        let id = name.split('.').next().unwrap_or("").to_string();
        table.insert(id, read_flickr_xml(&path)?);
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn flickr_xml_by_name_and_position() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "123.xml",
            "<annotation><filename>123.jpg</filename>\
             <object><bbox><label>1</label><xmin>0</xmin><ymin>16</ymin><xmax>256</xmax><ymax>128</ymax></bbox></object>\
             <object><bbox><idx>2</idx><a> 10 </a><b>20</b><c>30</c><d>40</d></bbox><name>x</name></object>\
             </annotation>",
        );
        let boxes = read_flickr_xml(&p).unwrap();
        assert_eq!(boxes.len(), 2);
        assert_eq!(boxes[0], PixelBox { xmin: 0, ymin: 14, xmax: 224, ymax: 112 });
        assert_eq!(boxes[1], PixelBox { xmin: 8, ymin: 17, xmax: 26, ymax: 35 });
        let table = read_flickr_folder(dir.path()).unwrap();
        assert_eq!(table["123"].len(), 2);
    }

    #[test]
    fn flickr_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "9.xml",
            "<a>\n<o>\n<bbox><xmin>1.5</xmin><ymin>0</ymin><xmax>3</xmax><ymax>4</ymax></bbox></o></a>",
        );
        let e = read_flickr_xml(&p).unwrap_err().to_string();
        assert!(e.contains("9.xml:3") && e.contains("1.5"), "{e}");
        let p = write(dir.path(), "8.xml", "<a><o><bbox>");
        assert!(read_flickr_xml(&p).unwrap_err().to_string().contains("malformed XML"));
    }

    #[test]
    fn vggss_json_reads_reference_file_shape() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "v.json",
            r#"[{"file": "a", "class": "c", "bbox": [[0.5, 0.0, 1.2, 0.25]]}, {"file": "b", "class": "c", "bbox": []}]"#,
        );
        let t = read_vggss_json(&p).unwrap();
        assert_eq!(t["a"], vec![PixelBox { xmin: 112, ymin: 0, xmax: 224, ymax: 56 }]);
        assert!(t["b"].is_empty());
        let p = write(dir.path(), "w.json", "[{\"file\": \"a\",\n \"bbox\": [[0.5, 0.0]]}]");
        assert!(read_vggss_json(&p).unwrap_err().to_string().contains("2 numbers"));
        let p = write(dir.path(), "x.json", "[{\"file\": \"a\",\n\n \"bbox\": [[0.5, }]");
        assert!(read_vggss_json(&p).unwrap_err().to_string().contains("x.json:3"));
    }
}
