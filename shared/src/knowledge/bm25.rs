//! BM25 as sparse vectors: the analyzer (Unicode words, lower-casing, stop words and a Snowball stemmer
//! per language), the document side of BM25 stored in each chunk's point, and the query side built from
//! the workspace's own term statistics.
//!
//! **Why the statistics are ours, not Qdrant's `idf` modifier.** One collection holds every workspace, and
//! Qdrant's `idf` counts over the whole collection: a tenant's scores would move with other tenants'
//! documents (a skew, and a side channel telling one tenant what words another uses). So the point stores
//! BM25's term-frequency part, `tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen))`, and the query carries each
//! term's IDF, `ln(1 + (N − df + 0.5)/(df + 0.5))`, computed from the counts PostgreSQL keeps per workspace
//! (`kb_term_stats`, `kb_text_stats`: see [`crate::repo::term_stats`]). The dot product Qdrant computes is
//! then exactly BM25 over that workspace's chunks, whatever else the collection holds.
//!
//! **Length normalisation** uses the workspace's average chunk length *when the chunk is indexed*: as a
//! knowledge base grows the average settles, and a re-index brings every chunk to the current one.
//!
//! Terms are 32-bit hashes of the analysed words (the sparse vector's indices); a collision merges two
//! rare words' counts, which at 2³² buckets is negligible.

use icu_segmenter::options::{SentenceBreakInvariantOptions, WordBreakInvariantOptions};
use icu_segmenter::{
    SentenceSegmenter, SentenceSegmenterBorrowed, WordSegmenter, WordSegmenterBorrowed,
};
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

/// BM25's term-frequency saturation.
pub const K1: f32 = 1.2;
/// BM25's length normalisation.
pub const B: f32 = 0.75;
/// Words longer than this are not terms (hashes, base64, minified code).
const MAX_TERM_CHARS: usize = 64;

/// The word segmenter text-splitter already links (UAX #29 with dictionaries for scripts without
/// spaces), so the analyzer adds no segmentation data to a binary.
static WORDS: LazyLock<WordSegmenterBorrowed<'static>> =
    LazyLock::new(|| WordSegmenter::new_dictionary(WordBreakInvariantOptions::default()));

/// The sentence segmenter (UAX #29), also already linked by text-splitter.
static SENTENCES: LazyLock<SentenceSegmenterBorrowed<'static>> =
    LazyLock::new(|| SentenceSegmenter::new(SentenceBreakInvariantOptions::default()));

/// The sentences of a text (UAX #29 sentence breaks), trimmed, empty ones left out.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut last = 0;
    for at in SENTENCES.segment_str(text) {
        if at > last {
            let sentence = text[last..at].trim();
            if !sentence.is_empty() {
                out.push(sentence);
            }
        }
        last = at;
    }
    out
}

static ANALYZERS: LazyLock<Mutex<HashMap<String, Arc<Analyzer>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A sparse vector: sorted, distinct indices and their weights.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseVector {
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    fn from_map(weights: HashMap<u32, f32>) -> Self {
        let mut pairs: Vec<(u32, f32)> = weights.into_iter().filter(|(_, w)| *w > 0.0).collect();
        pairs.sort_unstable_by_key(|(i, _)| *i);
        let (indices, values) = pairs.into_iter().unzip();
        Self { indices, values }
    }

    /// The dot product with another sparse vector (what Qdrant scores).
    pub fn dot(&self, other: &SparseVector) -> f32 {
        let weights: HashMap<u32, f32> = other
            .indices
            .iter()
            .copied()
            .zip(other.values.iter().copied())
            .collect();
        self.indices
            .iter()
            .zip(&self.values)
            .filter_map(|(i, v)| weights.get(i).map(|w| v * w))
            .sum()
    }
}

/// The analyzer of one language: which words are dropped and how words are reduced to terms.
pub struct Analyzer {
    language: String,
    stemmer: Option<Stemmer>,
    stop_words: HashSet<&'static str>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("language", &self.language)
            .field("stemmer", &self.stemmer.is_some())
            .field("stop_words", &self.stop_words.len())
            .finish()
    }
}

pub use crate::text::language_code;

fn algorithm(code: &str) -> Option<Algorithm> {
    Some(match code {
        "ar" => Algorithm::Arabic,
        "da" => Algorithm::Danish,
        "nl" => Algorithm::Dutch,
        "en" => Algorithm::English,
        "fi" => Algorithm::Finnish,
        "fr" => Algorithm::French,
        "de" => Algorithm::German,
        "el" => Algorithm::Greek,
        "hu" => Algorithm::Hungarian,
        "it" => Algorithm::Italian,
        "no" | "nb" | "nn" => Algorithm::Norwegian,
        "pt" => Algorithm::Portuguese,
        "ro" => Algorithm::Romanian,
        "ru" => Algorithm::Russian,
        "es" => Algorithm::Spanish,
        "sv" => Algorithm::Swedish,
        "ta" => Algorithm::Tamil,
        "tr" => Algorithm::Turkish,
        _ => return None,
    })
}

/// Whether the analyzer has a stemmer for this language (others are lower-cased words, with the stop
/// words of the language when NLTK has a list for it).
pub fn has_stemmer(tag: &str) -> bool {
    algorithm(&language_code(tag)).is_some()
}

impl Analyzer {
    /// The analyzer of a language tag (`en`, `de`, `pt-BR`), built once per process.
    pub fn for_language(tag: &str) -> Arc<Analyzer> {
        let code = language_code(tag);
        let mut cache = ANALYZERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .entry(code.clone())
            .or_insert_with(|| {
                let stop_words = stop_words::lookup(&code)
                    .or_else(|| (code == "nb" || code == "nn").then(|| stop_words::get("no")))
                    .unwrap_or(&[])
                    .iter()
                    .copied()
                    .collect();
                Arc::new(Analyzer {
                    stemmer: algorithm(&code).map(Stemmer::create),
                    language: code,
                    stop_words,
                })
            })
            .clone()
    }

    /// The language code this analyzer is for.
    pub fn language(&self) -> &str {
        &self.language
    }

    /// The terms of `text`, in order, repeated as often as they occur. Words are Unicode words (UAX #29;
    /// Chinese, Japanese and Thai by dictionary), lower-cased; stop words dropped; words of letters
    /// stemmed, words with digits kept whole. A code written with inner punctuation (`SKU-4411`,
    /// `v2.1-beta`, `A/B-12`) is a term of its own beside its parts, so searching for the code finds it
    /// exactly and searching for a part still matches.
    pub fn terms(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for raw in text.split_whitespace() {
            let token = raw.trim_matches(|c: char| !c.is_alphanumeric());
            if token.is_empty() {
                continue;
            }
            let mut words = 0usize;
            let mut last = 0usize;
            for (at, kind) in WORDS.segment_str(token).iter_with_word_type() {
                if at > last && kind.is_word_like() {
                    words += 1;
                    self.push_word(&token[last..at], &mut out);
                }
                last = at;
            }
            if words > 1
                && token.chars().any(|c| c.is_numeric())
                && token.chars().count() <= MAX_TERM_CHARS
            {
                out.push(normalise(token));
            }
        }
        out
    }

    fn push_word(&self, word: &str, out: &mut Vec<String>) {
        if word.chars().count() > MAX_TERM_CHARS {
            return;
        }
        let lower = normalise(word);
        if self.stop_words.contains(lower.as_str()) {
            return;
        }
        match &self.stemmer {
            Some(stemmer) if !lower.chars().any(|c| c.is_numeric()) => {
                out.push(stemmer.stem(&lower).into_owned());
            }
            _ => out.push(lower),
        }
    }

    /// The counts of a text's terms and its length in terms.
    pub fn count(&self, text: &str) -> TermCounts {
        let mut counts: HashMap<u32, u32> = HashMap::new();
        let mut length = 0u32;
        for term in self.terms(text) {
            *counts.entry(term_id(&term)).or_default() += 1;
            length += 1;
        }
        TermCounts { counts, length }
    }
}

/// Lower-cased, with typographic apostrophes made plain (`don’t` and `don't` are one word).
fn normalise(word: &str) -> String {
    word.to_lowercase().replace(['\u{2019}', '\u{02bc}'], "'")
}

/// FNV-1a over bytes: a stable hash (the same in every process and release).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A term's index in the sparse vectors (and its key in the term statistics).
pub fn term_id(term: &str) -> u32 {
    let h = fnv1a(term.as_bytes());
    (h ^ (h >> 32)) as u32
}

/// How often each term occurs in a text, and the text's length in terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TermCounts {
    pub counts: HashMap<u32, u32>,
    pub length: u32,
}

/// BM25's document side for one chunk: each term's saturated, length-normalised frequency.
pub fn document_vector(chunk: &TermCounts, average_length: f32) -> SparseVector {
    let avg = if average_length > 0.0 {
        average_length
    } else {
        chunk.length.max(1) as f32
    };
    let norm = K1 * (1.0 - B + B * chunk.length as f32 / avg);
    SparseVector::from_map(
        chunk
            .counts
            .iter()
            .map(|(term, tf)| {
                let tf = *tf as f32;
                (*term, tf * (K1 + 1.0) / (tf + norm))
            })
            .collect(),
    )
}

/// BM25's inverse document frequency of a term found in `df` of `n` chunks (never negative).
pub fn idf(n: u64, df: u64) -> f32 {
    let (n, df) = (n as f64, df.min(n) as f64);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln() as f32
}

/// BM25's query side: each query term weighted by its IDF in the workspace (times its count in the
/// query). Terms no chunk of the workspace has are left out: they cannot match.
pub fn query_vector(query: &TermCounts, stats: &CorpusStats) -> SparseVector {
    SparseVector::from_map(
        query
            .counts
            .iter()
            .filter_map(|(term, qtf)| {
                let df = *stats.document_frequency.get(term)?;
                (df > 0).then(|| (*term, *qtf as f32 * idf(stats.chunks, df)))
            })
            .collect(),
    )
}

/// One workspace's counts that a query needs: how many chunks are searchable, and in how many of them
/// each of the query's terms occurs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorpusStats {
    pub chunks: u64,
    pub document_frequency: HashMap<u32, u64>,
}

/// What one document version adds to its workspace's statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DocumentStats {
    pub chunks: u32,
    /// The chunks' lengths in terms, summed.
    pub terms: u64,
    /// For each term, how many of the chunks contain it.
    pub chunk_frequency: HashMap<u32, u32>,
}

impl DocumentStats {
    pub fn of(chunks: &[TermCounts]) -> Self {
        let mut stats = DocumentStats {
            chunks: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
            ..Default::default()
        };
        for chunk in chunks {
            stats.terms += u64::from(chunk.length);
            for term in chunk.counts.keys() {
                *stats.chunk_frequency.entry(*term).or_default() += 1;
            }
        }
        stats
    }
}

/// Ranks `sentences` against `question` with BM25 over those sentences alone (the offline answer's
/// extractive step); returns their indices, best first, leaving out sentences that share no term.
pub fn rank_sentences(analyzer: &Analyzer, question: &str, sentences: &[&str]) -> Vec<usize> {
    let counted: Vec<TermCounts> = sentences.iter().map(|s| analyzer.count(s)).collect();
    let stats = DocumentStats::of(&counted);
    let corpus = CorpusStats {
        chunks: u64::from(stats.chunks),
        document_frequency: stats
            .chunk_frequency
            .iter()
            .map(|(t, n)| (*t, u64::from(*n)))
            .collect(),
    };
    let average = stats.terms as f32 / stats.chunks.max(1) as f32;
    let query = query_vector(&analyzer.count(question), &corpus);
    let mut scored: Vec<(usize, f32)> = counted
        .iter()
        .enumerate()
        .map(|(i, c)| (i, document_vector(c, average).dot(&query)))
        .filter(|(_, s)| *s > 0.0)
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.into_iter().map(|(i, _)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn en(text: &str) -> Vec<String> {
        Analyzer::for_language("en").terms(text)
    }

    #[test]
    fn when_english_text_is_analysed_words_are_lower_cased_stemmed_and_stop_words_dropped() {
        assert_eq!(
            en("The Refunds are PROCESSED within five business days."),
            vec!["refund", "process", "within", "five", "busi", "day"]
        );
        // Inflections meet on one stem.
        assert_eq!(en("running runs"), en("run run"));
        assert_eq!(en("connection connected connecting"), vec!["connect"; 3]);
        assert!(en("the and of to is it").is_empty());
    }

    #[test]
    fn when_a_code_has_inner_punctuation_it_is_a_term_beside_its_parts() {
        let terms = en("Order SKU-4411 (qty 2), firmware v2.1-beta.");
        for t in ["sku-4411", "sku", "4411", "2", "v2.1-beta"] {
            assert!(terms.contains(&t.to_owned()), "{t} in {terms:?}");
        }
        // Numbers are kept whole, not stemmed; a plain hyphenated word is just its words.
        assert_eq!(en("3,000 1.5"), vec!["3,000", "1.5"]);
        assert_eq!(en("e-mail"), vec!["e", "mail"]);
        // The code matches whether it is typed with its dash or not.
        let a = Analyzer::for_language("en");
        let doc = a.count("Replacement part SKU-4411 ships in 2 days");
        let q = a.count("sku 4411");
        assert!(q.counts.keys().all(|t| doc.counts.contains_key(t)));
    }

    #[test]
    fn when_text_is_not_english_its_language_stems_it_and_other_scripts_are_words() {
        let de = Analyzer::for_language("de-AT");
        assert_eq!(de.language(), "de");
        let terms = de.terms("Die Rückerstattungen werden erstattet");
        assert!(!terms.contains(&"die".to_owned()), "German stop word");
        assert!(!terms.contains(&"werden".to_owned()), "German stop word");
        // Snowball's German stemmer folds umlauts and the plural: one term for both.
        assert_eq!(de.terms("Rückerstattungen"), de.terms("Rückerstattung"));
        assert_eq!(terms[0], "ruckerstatt", "{terms:?}");
        // Typographic apostrophes, accents and scripts without spaces.
        assert_eq!(en("don’t"), en("don't"));
        let zh = Analyzer::for_language("zh").terms("我们的退货政策");
        assert!(zh.len() >= 2, "dictionary segmentation: {zh:?}");
        let ru = Analyzer::for_language("ru").terms("Возвраты денег");
        assert_eq!(ru.len(), 2, "{ru:?}");
        // Unknown languages: lower-cased words, no stemming.
        assert_eq!(
            Analyzer::for_language("xx").terms("Refunds Running"),
            vec!["refunds", "running"]
        );
        assert_eq!(language_code("pt-BR"), "pt");
        assert_eq!(language_code(""), "en");
        assert!(has_stemmer("pt-BR") && !has_stemmer("zh"));
    }

    #[test]
    fn when_bm25_scores_the_rarer_term_and_the_shorter_chunk_weigh_more() {
        assert!(idf(100, 1) > idf(100, 50));
        assert!(idf(100, 100) > 0.0, "never negative");
        let a = Analyzer::for_language("en");
        let short = a.count("refund policy");
        let long = a.count("refund policy and a great many other words about shipping and returns");
        let (ws, wl) = (document_vector(&short, 6.0), document_vector(&long, 6.0));
        let refund = term_id("refund");
        let at = |v: &SparseVector| v.values[v.indices.binary_search(&refund).expect("term")];
        assert!(at(&ws) > at(&wl));
        // Saturation: ten repetitions weigh less than ten times one.
        let many = a.count(&"refund ".repeat(10));
        assert!(at(&document_vector(&many, 10.0)) < 10.0 * at(&document_vector(&short, 10.0)));
        assert!(
            ws.indices.windows(2).all(|w| w[0] < w[1]),
            "sorted, distinct"
        );
    }

    #[test]
    fn when_a_query_is_weighted_terms_absent_from_the_workspace_are_left_out() {
        let a = Analyzer::for_language("en");
        let stats = CorpusStats {
            chunks: 10,
            document_frequency: HashMap::from([(term_id("refund"), 2), (term_id("ship"), 9)]),
        };
        let q = query_vector(&a.count("refund shipping unicorn"), &stats);
        assert_eq!(q.indices.len(), 2);
        assert!(!q.indices.contains(&term_id("unicorn")));
        let weight =
            |t: &str| q.values[q.indices.iter().position(|i| *i == term_id(t)).expect("in")];
        assert!(weight("refund") > weight("ship"));
    }

    #[test]
    fn when_sentences_are_ranked_the_one_answering_the_question_comes_first() {
        let a = Analyzer::for_language("en");
        let sentences = [
            "Welcome to Acme.",
            "Orders ship from Berlin.",
            "Refunds are paid within five days of the return arriving.",
        ];
        assert_eq!(
            rank_sentences(&a, "How long do refunds take?", &sentences),
            vec![2]
        );
        assert!(rank_sentences(&a, "unicorn", &sentences).is_empty());
    }

    #[test]
    fn when_text_is_split_into_sentences_abbreviations_and_numbers_stay_whole() {
        assert_eq!(
            sentences("Refunds take 5.5 days. Call us!  Open 9-5?\n\nThanks"),
            vec!["Refunds take 5.5 days.", "Call us!", "Open 9-5?", "Thanks"]
        );
        assert!(sentences("  ").is_empty());
    }

    #[test]
    fn when_term_ids_are_made_they_are_stable_across_processes() {
        // FNV-1a's published test vector: the hash must never change, or stored vectors stop matching.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(term_id("refund"), term_id("refund"));
        assert_ne!(term_id("refund"), term_id("refunds"));
    }
}
