//! SSL-align's loss (eq. 5) against PyTorch (tools/make_ssl_align_fixtures.py): the same
//! random views in, the same loss and the same gradient of every input out.

use avsl_train::loss::{AlignViews, ssl_align_loss};
use burn::tensor::{Device, Tensor, TensorData};

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn assert_close(what: &str, ours: &[f32], theirs: &[f32], tol: f32) {
    assert_eq!(ours.len(), theirs.len(), "{what}: length");
    let scale = theirs.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!((a - b).abs() <= tol * scale.max(1e-6), "{what}[{i}]: {a} vs {b} (scale {scale})");
    }
}

#[test]
fn ssl_align_loss_and_gradients_match_pytorch() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/model/ssl_align_loss.json");
    let f: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let dim = |k: &str| f["shapes"][k].as_u64().unwrap() as usize;
    let (b, c, h, w, d) = (dim("B"), dim("C"), dim("H"), dim("W"), dim("D"));
    let device = Device::autodiff(Device::flex());
    let leaf4 = |k: &str, i: usize| {
        Tensor::<4>::from_data(TensorData::new(floats(&f["inputs"][k][i]), [b, c, h, w]), &device).require_grad()
    };
    let leaf2 = |k: &str, i: usize, width: usize| {
        Tensor::<2>::from_data(TensorData::new(floats(&f["inputs"][k][i]), [b, width]), &device).require_grad()
    };
    let images: [Tensor<4>; 3] = std::array::from_fn(|i| leaf4("images", i));
    let audios: [Tensor<2>; 3] = std::array::from_fn(|i| leaf2("audios", i, c));
    let image_proj: [Tensor<2>; 3] = std::array::from_fn(|i| leaf2("image_proj", i, d));
    let audio_proj: [Tensor<2>; 3] = std::array::from_fn(|i| leaf2("audio_proj", i, d));
    let tau = f["tau"].as_f64().unwrap();
    // The ablation without s_A: the localisation terms alone.
    let ablation = AlignViews { images: images.clone(), audios: audios.clone(), projections: None };
    let ablated = ssl_align_loss(&ablation, tau).into_data().try_to_vec::<f32>().unwrap()[0];
    let expected = f["loss_without_alignment"].as_f64().unwrap() as f32;
    assert!((ablated - expected).abs() <= 1e-5 * expected.abs(), "loss without s_A {ablated} vs {expected}");
    let views = AlignViews {
        images: images.clone(),
        audios: audios.clone(),
        projections: Some((image_proj.clone(), audio_proj.clone())),
    };
    let loss = ssl_align_loss(&views, tau);
    let value = loss.clone().into_data().try_to_vec::<f32>().unwrap()[0];
    let expected = f["loss"].as_f64().unwrap() as f32;
    assert!((value - expected).abs() <= 1e-5 * expected.abs(), "loss {value} vs {expected}");
    let graph = loss.backward();
    let host = |g: Option<Vec<f32>>| g.expect("the loss depends on every input");
    for i in 0..3 {
        let g = host(images[i].grad(&graph).map(|t| t.into_data().try_to_vec::<f32>().unwrap()));
        assert_close(&format!("d images[{i}]"), &g, &floats(&f["grads"]["images"][i]), 1e-4);
        for (name, t) in [("audios", &audios[i]), ("image_proj", &image_proj[i]), ("audio_proj", &audio_proj[i])] {
            let g = host(t.grad(&graph).map(|t| t.into_data().try_to_vec::<f32>().unwrap()));
            assert_close(&format!("d {name}[{i}]"), &g, &floats(&f["grads"][name][i]), 1e-4);
        }
    }
}
