//! The in-process all-MiniLM-L6-v2 model (`studio::knowledge::local_model`) against reference vectors
//! from an independent numpy implementation (`scripts/minilm_reference.py`, committed output in
//! `shared/tests/data/minilm_reference.json`), and its errors for a missing or broken model folder.
//!
//! The model's files come from `EMBEDDINGS_MODEL_DIR`, which `scripts/test.sh` sets after installing
//! them; without it these tests fail rather than skip.

use std::path::PathBuf;
use std::sync::OnceLock;

use studio::knowledge::local_model::LocalModel;
use studio_testing::TempDir;

fn model_dir() -> PathBuf {
    match std::env::var_os("EMBEDDINGS_MODEL_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => panic!(
            "EMBEDDINGS_MODEL_DIR is not set: run scripts/test.sh (it installs the all-MiniLM-L6-v2 files \
             and sets it), or set it to a folder holding config.json, tokenizer.json and model.safetensors"
        ),
    }
}

/// One model for the whole binary (loading reads ~90 MB).
fn model() -> &'static LocalModel {
    static MODEL: OnceLock<LocalModel> = OnceLock::new();
    MODEL.get_or_init(|| LocalModel::load(&model_dir()).unwrap())
}

#[derive(serde::Deserialize)]
struct Reference {
    sentences: Vec<String>,
    vectors: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/minilm_reference.json"
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// In f64, so that a cosine within 1e-7 of 1 is still told apart from 1.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    dot(a, b) / (dot(a, a).sqrt() * dot(b, b).sqrt())
}

/// A text's first 40 characters, for messages (one reference text is over 2,000).
fn short(text: &str) -> String {
    text.chars().take(40).collect()
}

fn texts(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| (*t).to_owned()).collect()
}

#[test]
fn embeddings_match_the_reference_vectors() {
    let model = model();
    assert_eq!(model.dimensions(), 384);
    assert_eq!(model.name(), "all-MiniLM-L6-v2");
    let reference = reference();
    assert!(reference.sentences.len() >= 6);
    let got = model.embed(&reference.sentences).unwrap();
    assert_eq!(got.len(), reference.sentences.len());

    let mut worst = (f64::INFINITY, String::new());
    let mut largest_difference = 0f32;
    for ((sentence, expected), vector) in
        reference.sentences.iter().zip(&reference.vectors).zip(&got)
    {
        let sentence = short(sentence);
        assert_eq!(vector.len(), 384, "{sentence:?}");
        let norm = dot(vector, vector).sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{sentence:?}: norm {norm}");
        let similarity = cosine(vector, expected);
        let diff = vector.iter().zip(expected).map(|(a, b)| (a - b).abs());
        largest_difference = diff.fold(largest_difference, f32::max);
        assert!(
            similarity >= 1.0 - 1e-4,
            "{sentence:?}: cosine with the reference vector is {similarity}"
        );
        if similarity < worst.0 {
            worst = (similarity, sentence);
        }
    }
    println!(
        "worst cosine with the reference: {:.9} (1 - cos = {:.1e}; {:?}); largest difference in one \
         component: {largest_difference:.1e}",
        worst.0,
        1.0 - worst.0,
        worst.1
    );
}

/// sentence-transformers' own published similarities for this model (its README's quickstart), an
/// anchor independent of the numpy reference.
#[test]
fn reproduces_the_published_similarity_matrix() {
    let vectors = model()
        .embed(&texts(&[
            "The weather is lovely today.",
            "It's so sunny outside!",
            "He drove to the stadium.",
        ]))
        .unwrap();
    let published = [
        [1.0, 0.6660, 0.1046],
        [0.6660, 1.0, 0.1411],
        [0.1046, 0.1411, 1.0],
    ];
    for (i, row) in published.iter().enumerate() {
        for (j, expected) in row.iter().enumerate() {
            let got = dot(&vectors[i], &vectors[j]);
            assert!(
                (got - expected).abs() < 5e-4,
                "[{i}][{j}]: {got:.4}, published {expected:.4}"
            );
        }
    }
}

#[test]
fn a_batch_gives_each_text_the_vector_it_gets_alone() {
    let model = model();
    let reference = reference();
    // Mixed lengths in one batch (the longest is truncated at 256), so most of them are padded.
    let mut batch = reference.sentences.clone();
    batch.extend(texts(&["", "ok", "SKU-4411"]));
    let together = model.embed(&batch).unwrap();
    for (text, vector) in batch.iter().zip(&together) {
        let alone = model.embed(std::slice::from_ref(text)).unwrap();
        let similarity = cosine(vector, &alone[0]);
        assert!(
            similarity >= 1.0 - 1e-5,
            "{text:?}: batch vs alone cosine {similarity}"
        );
    }
    // More texts than one forward pass takes: order kept.
    let many: Vec<String> = (0..70)
        .map(|i| format!("question number {i} about refunds"))
        .collect();
    let vectors = model.embed(&many).unwrap();
    assert_eq!(vectors.len(), 70);
    for i in [0, 31, 32, 69] {
        let alone = model.embed(std::slice::from_ref(&many[i])).unwrap();
        assert!(cosine(&vectors[i], &alone[0]) >= 1.0 - 1e-5, "text {i}");
    }
    assert!(model.embed(&[]).unwrap().is_empty());
}

#[test]
fn a_question_is_closest_to_its_answer() {
    let vectors = model()
        .embed(&texts(&[
            "How do I get my money back?",
            "Refunds are paid within 5 days",
            "Our office is in Berlin",
        ]))
        .unwrap();
    let (answer, other) = (
        cosine(&vectors[0], &vectors[1]),
        cosine(&vectors[0], &vectors[2]),
    );
    assert!(answer > other + 0.1, "refund {answer} vs office {other}");
}

/// A temporary model folder holding copies of the named files of the real one.
fn folder_with(files: &[&str]) -> TempDir {
    let dir = TempDir::new("local-model");
    for file in files {
        std::fs::copy(model_dir().join(file), dir.0.join(file)).unwrap();
    }
    dir
}

fn load_error(dir: &std::path::Path) -> String {
    format!("{:#}", LocalModel::load(dir).unwrap_err())
}

#[test]
fn a_missing_folder_is_an_error_naming_it() {
    let dir = TempDir::new("local-model");
    let missing = dir.0.join("no-such-model");
    let error = load_error(&missing);
    assert!(error.contains(&missing.display().to_string()), "{error}");
    assert!(error.contains("does not exist"), "{error}");
    assert!(error.contains("EMBEDDINGS_MODEL_DIR"), "{error}");
    println!("{error}");
}

#[test]
fn a_missing_tokenizer_is_an_error_naming_it() {
    let dir = folder_with(&["config.json"]);
    let error = load_error(&dir.0);
    let path = dir.0.join("tokenizer.json").display().to_string();
    assert!(error.contains(&format!("{path} is missing")), "{error}");
    assert!(error.contains("EMBEDDINGS_MODEL_DIR"), "{error}");
    println!("{error}");
}

#[test]
fn corrupt_weights_are_an_error_naming_the_file() {
    let dir = folder_with(&["config.json", "tokenizer.json"]);
    let weights = dir.0.join("model.safetensors");
    let path = weights.display().to_string();

    std::fs::write(&weights, b"this is not a safetensors file at all").unwrap();
    let error = load_error(&dir.0);
    assert!(
        error.contains(&format!("{path} is not a valid safetensors file")),
        "{error}"
    );
    println!("{error}");

    // Cut short, as an interrupted download or copy leaves it.
    let whole = std::fs::read(model_dir().join("model.safetensors")).unwrap();
    std::fs::write(&weights, &whole[..whole.len() / 2]).unwrap();
    let error = load_error(&dir.0);
    assert!(
        error.contains(&format!("{path} is not a valid safetensors file")),
        "{error}"
    );
    println!("{error}");
}

#[test]
fn a_config_that_is_not_json_is_an_error_naming_it() {
    let dir = folder_with(&["tokenizer.json", "model.safetensors"]);
    let config = dir.0.join("config.json");
    std::fs::write(&config, "hidden_size: 384\n").unwrap();
    let error = load_error(&dir.0);
    let path = config.display().to_string();
    assert!(
        error.contains(&format!("{path} is not a valid BERT config.json")),
        "{error}"
    );
    println!("{error}");
}

/// Not a check: how long loading the model and embedding 100 short texts take on this machine.
/// `cargo test -p studio --test integration local_model::timing -- --ignored --nocapture` (debug builds
/// run candle at opt-level 3, so this is close to a release build's numbers).
#[test]
#[ignore = "a measurement, not a check"]
fn timing() {
    let started = std::time::Instant::now();
    let model = LocalModel::load(&model_dir()).unwrap();
    let loaded = started.elapsed();
    let many: Vec<String> = (0..100)
        .map(|i| format!("How long does refund number {i} take to reach my card?"))
        .collect();
    let started = std::time::Instant::now();
    let vectors = model.embed(&many).unwrap();
    println!(
        "load {loaded:?}; embed 100 short texts {:?} ({} vectors)",
        started.elapsed(),
        vectors.len()
    );
}

#[tokio::test]
async fn when_the_configuration_names_the_model_folder_the_embedder_is_the_local_model_else_bm25_alone()
 {
    let config = |dir: &str| {
        let mut src = studio_testing::source("postgres://unused@127.0.0.1/unused");
        src.set("EMBEDDINGS_MODEL_DIR", dir);
        studio::Config::from_source(&src).unwrap().knowledge
    };
    let dir = model_dir();
    let embedder =
        studio::knowledge::Embedder::from_config(&config(dir.to_str().unwrap())).unwrap();
    assert_eq!(embedder.dense(), Some(("all-MiniLM-L6-v2", 384)));
    let v = embedder
        .embed(&["Refunds are paid within 5 days".to_owned()])
        .await
        .unwrap();
    assert!((dot(&v[0], &v[0]) - 1.0).abs() < 1e-4, "unit vectors");

    // A missing or corrupt folder: no dense embedder (search is BM25 alone), the reason logged; the
    // error itself names the file.
    let missing = embedder_for(&config("/nonexistent/minilm"));
    assert_eq!(missing.dense(), None);
    let broken = TempDir::new("minilm-broken");
    for file in ["config.json", "tokenizer.json"] {
        std::fs::copy(
            dir.join(file),
            std::path::Path::new(broken.path_str()).join(file),
        )
        .unwrap();
    }
    std::fs::write(
        std::path::Path::new(broken.path_str()).join("model.safetensors"),
        b"not a model",
    )
    .unwrap();
    assert_eq!(embedder_for(&config(broken.path_str())).dense(), None);
    let err = studio::knowledge::Embedder::local(std::path::Path::new(broken.path_str()))
        .expect_err("corrupt");
    assert!(format!("{err:#}").contains("model.safetensors"), "{err:#}");
}

fn embedder_for(cfg: &studio::config::KnowledgeConfig) -> studio::knowledge::Embedder {
    studio::knowledge::Embedder::from_config(cfg).unwrap()
}
