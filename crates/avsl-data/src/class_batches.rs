//! Batches whose samples all have different classes. The contrastive losses treat every
//! other clip of a batch as a negative; one of the same class is a false negative the loss
//! pushes away (docs/synthetic.md measured what that costs EZ-VSL on a six-class benchmark).
//! A class list (`id,class` per line, a header line `id,class` allowed) says each
//! training sample's class; `avsl synth` writes one (`metadata/train_classes.csv`).

use std::collections::HashMap;
use std::path::Path;

use crate::error::{DataError, Result};

/// Each id's class, as an index into the distinct class names (in order of appearance).
pub fn read_class_list(path: &Path, ids: &[String]) -> Result<Vec<u32>> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let mut class_index: HashMap<&str, u32> = HashMap::new();
    let mut class_of: HashMap<&str, u32> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || (n == 0 && line == "id,class") {
            continue;
        }
        let Some((id, class)) = line.split_once(',') else {
            return Err(DataError::record(path, n as u64 + 1, format!("expected `id,class`, found {line:?}")));
        };
        let (id, class) = (id.trim(), class.trim());
        if id.is_empty() || class.is_empty() {
            return Err(DataError::record(path, n as u64 + 1, format!("an empty id or class in {line:?}")));
        }
        let next = class_index.len() as u32;
        let index = *class_index.entry(class).or_insert(next);
        if class_of.insert(id, index).is_some_and(|earlier| earlier != index) {
            return Err(DataError::record(path, n as u64 + 1, format!("id {id} is listed with two classes")));
        }
    }
    ids.iter()
        .map(|id| {
            class_of
                .get(id.as_str())
                .copied()
                .ok_or_else(|| DataError::invalid(path, format!("no class for training id {id}")))
        })
        .collect()
}

/// The number of distinct classes among `classes`.
pub fn class_count(classes: &[u32]) -> usize {
    let mut seen: Vec<u32> = classes.to_vec();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

/// Splits `order` (sample indices) into batches of `batch` samples of distinct classes.
/// Each batch takes the next sample (in `order`) of each of the `batch` classes with the
/// most samples left, ties to the lower class index, so classes run out together; the
/// samples left once fewer than `batch` classes remain sit out this epoch. How many
/// batches there are depends only on the class counts, not on the order.
pub fn distinct_class_batches(order: &[usize], classes: &[u32], batch: usize) -> Vec<Vec<usize>> {
    let mut batches = Vec::new();
    if batch == 0 {
        return batches;
    }
    let n_classes = classes.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
    let mut queues: Vec<std::collections::VecDeque<usize>> = vec![Default::default(); n_classes];
    for &i in order {
        queues[classes[i] as usize].push_back(i);
    }
    loop {
        let mut fullest: Vec<usize> = (0..n_classes).filter(|&c| !queues[c].is_empty()).collect();
        if fullest.len() < batch {
            return batches;
        }
        // Stable sort: equal counts keep the lower class index first.
        fullest.sort_by_key(|&c| std::cmp::Reverse(queues[c].len()));
        batches.push(fullest[..batch].iter().map(|&c| queues[c].pop_front().expect("non-empty")).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn batches_hold_distinct_classes_and_classes_run_out_together() {
        // Class counts 5, 3, 2, 2 (class = i % 4 for the first 8, then 0,0,1,0).
        let classes: Vec<u32> = vec![0, 1, 2, 3, 0, 1, 2, 3, 0, 0, 1, 0];
        let order: Vec<usize> = (0..classes.len()).rev().collect();
        let batches = distinct_class_batches(&order, &classes, 3);
        // Counts (5,3,2,2) → take 0,1,2 → (4,2,1,2) → 0,1,3 → (3,1,1,1) → 0,1,2 → (2,0,0,1):
        // two classes left, fewer than 3.
        assert_eq!(batches.len(), 3);
        for b in &batches {
            let mut cs: Vec<u32> = b.iter().map(|&i| classes[i]).collect();
            cs.sort_unstable();
            cs.dedup();
            assert_eq!(cs.len(), 3, "{b:?}");
        }
        // Each class's samples come in the given order: class 0 in reverse index order.
        assert_eq!(batches[0][0], 11);
        assert_eq!(batches[1][0], 9);
        // The count does not depend on the order.
        let forward: Vec<usize> = (0..classes.len()).collect();
        assert_eq!(distinct_class_batches(&forward, &classes, 3).len(), 3);
        assert!(distinct_class_batches(&forward, &classes, 5).is_empty());
    }

    #[test]
    fn class_lists_are_read_by_id_and_bad_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("classes.csv");
        std::fs::write(&path, "id,class\r\nb,dog\r\na,cat\r\nc,dog\r\n").unwrap();
        assert_eq!(read_class_list(&path, &ids(&["a", "b", "c"])).unwrap(), vec![1, 0, 0]);
        let missing = read_class_list(&path, &ids(&["a", "z"])).unwrap_err().to_string();
        assert!(missing.contains("no class for training id z") && missing.contains("classes.csv"), "{missing}");
        std::fs::write(&path, "a,cat\na,dog\n").unwrap();
        let twice = read_class_list(&path, &ids(&["a"])).unwrap_err().to_string();
        assert!(twice.contains("classes.csv:2:") && twice.contains("two classes"), "{twice}");
        std::fs::write(&path, "a cat\n").unwrap();
        let malformed = read_class_list(&path, &ids(&["a"])).unwrap_err().to_string();
        assert!(malformed.contains("classes.csv:1:") && malformed.contains("id,class"), "{malformed}");
    }
}
