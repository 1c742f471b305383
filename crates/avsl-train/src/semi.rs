//! Targets of the semi-supervised variant (supplement eq. 9): for the training samples
//! listed in `--sup-list`, the ground-truth map of their boxes, moved with the training
//! crop and flip, built as the evaluation builds it (VGG-SS: union of boxes; Flickr:
//! annotator sum halved, clipped at 1), and averaged over each cell of the feature grid.

use std::collections::HashMap;
use std::path::Path;

use crate::trainable::Supervision;
use avsl_data::annotations::BoxTable;
use avsl_data::error::DataError;
use avsl_data::transform::Crop;
use avsl_metrics::gt::{GtMap, MAP_SIZE};
use avsl_metrics::{BoxFormat, PixelBox};

/// Boxes of the supervised training ids, as fractions of their frames.
pub struct SupervisedBoxes {
    boxes: HashMap<String, Vec<[f64; 4]>>,
    format: BoxFormat,
}

impl SupervisedBoxes {
    /// The boxes of every id of `ids` (read from `list`) in `table`; an id without boxes
    /// is an error naming it (and how many more there are).
    pub fn new(ids: &[String], table: &BoxTable, format: BoxFormat, list: &Path) -> Result<SupervisedBoxes, DataError> {
        let missing: Vec<&str> = ids.iter().filter(|id| !table.contains_key(*id)).map(String::as_str).collect();
        if let Some(first) = missing.first() {
            return Err(DataError::invalid(
                list,
                format!("{} listed id(s) have no box annotation, e.g. {first}", missing.len()),
            ));
        }
        // The tables hold boxes on the 224 grid of the test resize: back to fractions.
        let fraction = |v: i64| v as f64 / MAP_SIZE as f64;
        let boxes = ids
            .iter()
            .map(|id| {
                let b =
                    table[id].iter().map(|b| [fraction(b.xmin), fraction(b.ymin), fraction(b.xmax), fraction(b.ymax)]);
                (id.clone(), b.collect())
            })
            .collect();
        Ok(SupervisedBoxes { boxes, format })
    }

    pub fn len(&self) -> usize {
        self.boxes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.boxes.is_empty()
    }

    /// The targets of a batch (`ids` and the crops its images were cut with) on a
    /// `grid` = (rows, columns) feature map; `None` when no sample of it is supervised.
    pub fn supervision(&self, ids: &[&str], crops: &[Option<Crop>], grid: (usize, usize)) -> Option<Supervision> {
        let (rows, cols) = grid;
        let mut maps = vec![0.0f32; ids.len() * rows * cols];
        let mut supervised = vec![false; ids.len()];
        for (k, (id, crop)) in ids.iter().zip(crops).enumerate() {
            let (Some(boxes), Some(crop)) = (self.boxes.get(*id), crop) else { continue };
            supervised[k] = true;
            let target = target_map(boxes, crop, self.format, grid);
            maps[k * rows * cols..][..rows * cols].copy_from_slice(&target);
        }
        supervised.iter().any(|&s| s).then_some(Supervision { maps, supervised })
    }
}

/// The ground-truth map of `boxes` (fractions of the frame) on the crop, averaged over
/// each cell of a `grid` laid over the crop (drawn at 224×224, the crop scaled to it).
pub fn target_map(boxes: &[[f64; 4]], crop: &Crop, format: BoxFormat, (rows, cols): (usize, usize)) -> Vec<f32> {
    let side = crop.size as f64;
    let scale = MAP_SIZE as f64 / side;
    let pixel = |v: f64| (v.clamp(0.0, side) * scale).round() as i64;
    let moved: Vec<PixelBox> = boxes
        .iter()
        .map(|b| {
            let [x0, y0, x1, y1] = crop.map_box(*b);
            PixelBox { xmin: pixel(x0), ymin: pixel(y0), xmax: pixel(x1), ymax: pixel(y1) }
        })
        .collect();
    let gt = GtMap::from_boxes(&moved, format);
    let mut out = vec![0.0f32; rows * cols];
    for r in 0..rows {
        let (y0, y1) = (r * MAP_SIZE / rows, (r + 1) * MAP_SIZE / rows);
        for c in 0..cols {
            let (x0, x1) = (c * MAP_SIZE / cols, (c + 1) * MAP_SIZE / cols);
            let sum: f64 = (y0..y1).map(|y| gt.values[y * MAP_SIZE + x0..y * MAP_SIZE + x1].iter().sum::<f64>()).sum();
            out[r * cols + c] = (sum / ((y1 - y0) * (x1 - x0)) as f64) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_covers_its_cells_after_the_crop_and_the_flip() {
        // Frame 448×246 → resized 448×246 (shorter side already 246); crop at x = 112.
        let crop = Crop { resized_width: 448, resized_height: 246, left: 112, top: 11, flip: false, size: 224 };
        // The box spans x 112..224 and y 11..235 of the resized frame: the crop's left half.
        let b = [112.0 / 448.0, 11.0 / 246.0, 224.0 / 448.0, 235.0 / 246.0];
        let map = target_map(&[b], &crop, BoxFormat::Vggss, (7, 7));
        for r in 0..7 {
            assert_eq!(&map[r * 7..r * 7 + 7], &[1.0, 1.0, 1.0, 0.5, 0.0, 0.0, 0.0]);
        }
        let flipped = target_map(&[b], &Crop { flip: true, ..crop }, BoxFormat::Vggss, (7, 7));
        for r in 0..7 {
            assert_eq!(&flipped[r * 7..r * 7 + 7], &[0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0]);
        }
        // Outside the crop: nothing (not wrapped around as a negative numpy index would).
        let outside = target_map(&[[0.0, 0.0, 0.1, 0.1]], &crop, BoxFormat::Vggss, (7, 7));
        assert!(outside.iter().all(|&v| v == 0.0));
        // Flickr: one annotator's box counts half.
        let flickr = target_map(&[b], &crop, BoxFormat::Flickr, (7, 7));
        assert_eq!(flickr[0], 0.5);
    }

    #[test]
    fn unannotated_ids_are_named() {
        let table = BoxTable::from([("a".to_string(), vec![PixelBox { xmin: 0, ymin: 0, xmax: 112, ymax: 224 }])]);
        let ids = ["a".to_string(), "b".to_string()];
        let err = SupervisedBoxes::new(&ids, &table, BoxFormat::Vggss, Path::new("sup.txt")).err().unwrap();
        assert!(err.to_string().contains("sup.txt") && err.to_string().contains("e.g. b"), "{err}");
        let sup = SupervisedBoxes::new(&ids[..1], &table, BoxFormat::Vggss, Path::new("sup.txt")).unwrap();
        let crop = Some(Crop { resized_width: 246, resized_height: 246, left: 11, top: 11, flip: false, size: 224 });
        let s = sup.supervision(&["b", "a"], &[crop, crop], (7, 7)).unwrap();
        assert_eq!(s.supervised, [false, true]);
        assert!(s.maps[..49].iter().all(|&v| v == 0.0));
        assert!(sup.supervision(&["b"], &[crop], (7, 7)).is_none());
    }
}
