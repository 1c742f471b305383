//! The parsers on the authors' real list and annotation files
//! (`crates/avsl-data/lists`, Apache-2.0, see its README). Counts were taken with
//! Python's csv/json.

use std::collections::BTreeSet;
use std::path::PathBuf;

use avsl_data::annotations::read_vggss_json;
use avsl_data::embedded_lists::ListSource;
use avsl_data::lists::{read_id_list, read_plus_silent, read_test_ids};
use avsl_data::testset::{TestSet, TestSetPaths, build_test_list};

fn metadata() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("lists");
    assert!(dir.is_dir(), "{} is missing from the repository", dir.display());
    dir
}

#[test]
fn lists_and_annotations_parse_with_the_reference_counts() {
    let m = metadata();
    let boxes = read_vggss_json(&m.join("vggss.json")).unwrap();
    assert_eq!(boxes.len(), 5158);
    assert_eq!(boxes.values().map(Vec::len).max(), Some(7));
    // CRLF line ends: ids must not keep a trailing '\r'.
    let test = read_test_ids(&m.join("vggss_test.csv")).unwrap();
    assert_eq!(test.len(), 5158);
    assert!(test.iter().all(|id| !id.ends_with('\r') && boxes.contains_key(id)));
    let silent = read_plus_silent(&m.join("vggss_test_plus_silent.csv")).unwrap();
    assert_eq!(silent.len(), 5158);
    assert_eq!(silent.iter().filter(|p| p.video != p.audio).count(), 4779);
    // Flickr's list has a second column (`id,number`).
    assert_eq!(read_test_ids(&m.join("flickr_test.csv")).unwrap().len(), 250);
    assert_eq!(read_plus_silent(&m.join("flickr_test_plus_silent.csv")).unwrap().len(), 250);
    assert_eq!(read_test_ids(&m.join("vggss_heard_test.csv")).unwrap().len(), 2564);
    assert_eq!(read_test_ids(&m.join("vggss_unheard_test.csv")).unwrap().len(), 2575);
    assert_eq!(read_id_list(&m.join("vggss_10k.txt")).unwrap().len(), 10000);
    assert_eq!(read_id_list(&m.join("flickr_10k.txt")).unwrap().len(), 10000);
    assert_eq!(read_id_list(&m.join("flickr_sup_train.txt")).unwrap().len(), 4750);
}

/// The sample-list rules of docs/method.md §7 items 1–3 on the real lists, with placeholder
/// files standing in for the dataset (the list is built from names; nothing is decoded).
#[test]
fn extended_vggss_list_follows_the_reference_rules() {
    let m = metadata();
    let data = tempfile::tempdir().unwrap();
    let (frames, audio) = (data.path().join("frames"), data.path().join("audio"));
    std::fs::create_dir_all(&frames).unwrap();
    std::fs::create_dir_all(&audio).unwrap();
    let test = read_test_ids(&m.join("vggss_test.csv")).unwrap();
    let silent = read_plus_silent(&m.join("vggss_test_plus_silent.csv")).unwrap();
    // One positive lacks its audio file (and no negative uses that audio), so the
    // intersection rule must drop it.
    let dropped = test.iter().find(|id| silent.iter().all(|p| &p.audio != *id)).unwrap();
    let mut names: BTreeSet<&str> = test.iter().map(String::as_str).collect();
    names.extend(silent.iter().flat_map(|p| [p.video.as_str(), p.audio.as_str()]));
    for id in &names {
        std::fs::write(frames.join(format!("{id}.jpg")), b"").unwrap();
        if id != dropped {
            std::fs::write(audio.join(format!("{id}.wav")), b"").unwrap();
        }
    }
    let paths = TestSetPaths { lists: ListSource::Folder(m.clone()), ..TestSetPaths::new(data.path()) };
    let list = build_test_list(&paths, TestSet::VggssPlusSilent).unwrap();
    let positives: Vec<_> = list.iter().filter(|s| s.has_boxes()).collect();
    assert_eq!(positives.len(), 5157);
    assert!(positives.iter().all(|s| &s.name != dropped));
    assert!(positives.windows(2).all(|w| w[0].name < w[1].name));
    assert_eq!(list.len() - positives.len(), 5158);
    assert!(list[positives.len()..].iter().all(|s| !s.has_boxes()));
    let heard = build_test_list(
        &TestSetPaths { lists: ListSource::Folder(m), ..TestSetPaths::new(data.path()) },
        TestSet::VggssHeard,
    )
    .unwrap();
    assert!(heard.len() >= 2563 && heard.iter().all(|s| s.has_boxes()));
}
