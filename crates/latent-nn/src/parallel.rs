//! Data-parallel training: which rows a rank holds, and what the ranks exchange.
//!
//! A job of `N` ranks trains one network. Every rank draws the same random streams (they
//! derive from the seed and the epoch, as in one process): the same shuffle of the global
//! row indices, the same batches, the same noise. Each rank computes the step on the rows of
//! the batch it holds; the losses and the gradients, weighted by each rank's share of the
//! batch, are summed over the ranks ([`Collective`]) between [`Network::step`] and
//! [`Network::update`], so every rank applies the same update — the one a single process
//! computes on the whole batch, to float-summation rounding (the order of the sums differs).
//! Validation is summed the same way. Rank 0 writes the checkpoints; on resume it reads the
//! newest one and sends it to the others ([`encode_state`]).
//!
//! [`Network::step`]: crate::engine::Network::step
//! [`Network::update`]: crate::engine::Network::update

use std::collections::BTreeMap;

use latent_core::Collective;
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

use crate::params::HostTensors;
use crate::train::EpochMetrics;
use crate::{NnError, Result};

const NONE: u32 = u32::MAX;

/// Which rows of a data set (global indices `0..len`) this rank holds, and where: the
/// local row of each global one.
#[derive(Debug, Clone, PartialEq)]
pub struct RowMap {
    len: usize,
    /// `local[t]`: the local row of global row `t`, or `NONE`; `None`: every row, in order.
    local: Option<Vec<u32>>,
}

impl RowMap {
    /// Every one of `len` rows, global row `t` being local row `t` (one process).
    pub fn all(len: usize) -> Self {
        RowMap { len, local: None }
    }

    /// The rows of a rank whose local row `j` is global row `global[j]`.
    ///
    /// # Errors
    /// [`NnError::InvalidParam`] for an index out of `0..len`, a repeated one, or more
    /// than `u32::MAX − 1` local rows.
    pub fn from_global(len: usize, global: &[usize]) -> Result<Self> {
        if global.len() >= NONE as usize {
            return Err(NnError::param(
                "shard",
                format!("{} rows on one rank: at most {}", global.len(), NONE - 1),
            ));
        }
        let mut local = vec![NONE; len];
        for (j, &t) in global.iter().enumerate() {
            match local.get_mut(t) {
                Some(slot) if *slot == NONE => *slot = j as u32,
                Some(_) => {
                    return Err(NnError::param("shard", format!("row {t} is held twice")));
                }
                None => {
                    return Err(NnError::param(
                        "shard",
                        format!("row {t} is past the {len} rows"),
                    ));
                }
            }
        }
        Ok(RowMap {
            len,
            local: Some(local),
        })
    }

    /// The number of rows of the whole data set.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the data set has no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether this rank holds every row, in order.
    pub fn is_all(&self) -> bool {
        self.local.is_none()
    }

    /// The number of rows this rank holds.
    pub fn local_count(&self) -> usize {
        match &self.local {
            None => self.len,
            Some(l) => l.iter().filter(|&&j| j != NONE).count(),
        }
    }

    /// The local row of global row `t`, when this rank holds it.
    pub fn local(&self, t: usize) -> Option<usize> {
        match &self.local {
            None => (t < self.len).then_some(t),
            Some(l) => l.get(t).copied().filter(|&j| j != NONE).map(|j| j as usize),
        }
    }
}

/// How a training job's rows are spread over its ranks: the collective, and the rows of the
/// training and validation sets this rank holds.
pub struct Shards<'a> {
    /// The ranks of the job ([`latent_core::Single`] for one process).
    pub comm: &'a dyn Collective,
    /// The training rows this rank holds.
    pub train: RowMap,
    /// The validation rows this rank holds (when there is a validation set).
    pub val: Option<RowMap>,
}

impl std::fmt::Debug for Shards<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shards")
            .field("rank", &self.comm.rank())
            .field("size", &self.comm.size())
            .field("train", &self.train.len())
            .field("val", &self.val.as_ref().map(RowMap::len))
            .finish()
    }
}

/// A collective failure as a training error.
pub(crate) fn comm_err(e: latent_core::Error) -> NnError {
    NnError::Backend(format!("exchange between the ranks: {e}"))
}

/// What a job starts from, sent by rank 0 to the others: its parameters (fresh or from a
/// checkpoint), the optimizer's state and the epochs already trained.
#[derive(Debug, Clone, PartialEq)]
pub struct StartState {
    /// The parameters by name.
    pub params: HostTensors,
    /// Adam's step count.
    pub adam_step: u64,
    /// Adam's moments by name.
    pub adam: HostTensors,
    /// The epochs trained before (resumed).
    pub history: Vec<EpochMetrics>,
    /// The best validation loss so far.
    pub best_val: Option<f64>,
    /// Epochs since it.
    pub since_best: usize,
}

#[derive(Serialize, Deserialize)]
struct Header {
    adam_step: u64,
    history: Vec<EpochMetrics>,
    best_val: Option<f64>,
    since_best: usize,
    params: Vec<(String, Vec<usize>)>,
    adam: Vec<(String, Vec<usize>)>,
}

/// [`StartState`] as bytes: a length-prefixed JSON header, then every tensor's values
/// (little-endian `f32`), parameters first.
///
/// # Errors
/// Serialization failures.
pub fn encode_state(s: &StartState) -> Result<Vec<u8>> {
    let shapes = |t: &HostTensors| -> Vec<(String, Vec<usize>)> {
        t.iter()
            .map(|(k, a)| (k.clone(), a.shape().to_vec()))
            .collect()
    };
    let header = Header {
        adam_step: s.adam_step,
        history: s.history.clone(),
        best_val: s.best_val,
        since_best: s.since_best,
        params: shapes(&s.params),
        adam: shapes(&s.adam),
    };
    let json = serde_json::to_vec(&header).map_err(|e| NnError::Backend(e.to_string()))?;
    let mut out = Vec::new();
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for a in s.params.values().chain(s.adam.values()) {
        for v in a.iter() {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    Ok(out)
}

/// The [`StartState`] of [`encode_state`]'s bytes.
///
/// # Errors
/// [`NnError::Backend`] for bytes that are not such a state.
pub fn decode_state(bytes: &[u8]) -> Result<StartState> {
    let bad = |why: &str| NnError::Backend(format!("the start state from rank 0: {why}"));
    let len_bytes: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("truncated"))?;
    let len = usize::try_from(u64::from_le_bytes(len_bytes)).map_err(|_| bad("too long"))?;
    let json = bytes
        .get(8..8usize.saturating_add(len))
        .ok_or_else(|| bad("truncated header"))?;
    let header: Header = serde_json::from_slice(json).map_err(|e| bad(&e.to_string()))?;
    let mut values = bytes[8 + len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    let mut take = |shapes: &[(String, Vec<usize>)]| -> Result<HostTensors> {
        let mut out = BTreeMap::new();
        for (name, shape) in shapes {
            let n: usize = shape.iter().product();
            let v: Vec<f32> = values.by_ref().take(n).collect();
            if v.len() != n {
                return Err(bad("truncated values"));
            }
            let a = ArrayD::from_shape_vec(IxDyn(shape), v).map_err(|e| bad(&e.to_string()))?;
            out.insert(name.clone(), a);
        }
        Ok(out)
    };
    let params = take(&header.params)?;
    let adam = take(&header.adam)?;
    if values.next().is_some() {
        return Err(bad("trailing values"));
    }
    Ok(StartState {
        params,
        adam_step: header.adam_step,
        adam,
        history: header.history,
        best_val: header.best_val,
        since_best: header.since_best,
    })
}

/// A 52-bit digest of the parameters' bits (exact in an `f64`), to check that every rank
/// holds the same network.
pub(crate) fn digest(params: &HostTensors) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, a) in params {
        for b in name.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        for v in a.iter() {
            h = (h ^ u64::from(v.to_bits())).wrapping_mul(0x0100_0000_01b3);
        }
    }
    (h >> 12) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_map_finds_local_rows_and_refuses_bad_ones() {
        let m = RowMap::from_global(6, &[4, 1, 5]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.local_count(), 3);
        assert_eq!(m.local(4), Some(0));
        assert_eq!(m.local(1), Some(1));
        assert_eq!(m.local(0), None);
        assert_eq!(m.local(9), None);
        assert!(RowMap::from_global(3, &[1, 1]).is_err());
        assert!(RowMap::from_global(3, &[3]).is_err());
        let all = RowMap::all(3);
        assert_eq!(
            (all.local(2), all.local(3), all.local_count()),
            (Some(2), None, 3)
        );
    }

    #[test]
    fn the_start_state_round_trips() {
        let t = |v: Vec<f32>, shape: &[usize]| {
            ArrayD::from_shape_vec(IxDyn(shape), v).unwrap_or_else(|e| panic!("{e}"))
        };
        let mut params = HostTensors::new();
        params.insert("a.weight".into(), t(vec![1.0, -2.5, 3.0, 0.1], &[2, 2]));
        params.insert("a.bias".into(), t(vec![f32::MIN_POSITIVE], &[1]));
        let mut adam = HostTensors::new();
        adam.insert("m.a.bias".into(), t(vec![0.5], &[1]));
        let s = StartState {
            params,
            adam_step: 7,
            adam,
            history: Vec::new(),
            best_val: Some(1.5),
            since_best: 2,
        };
        let bytes = encode_state(&s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(decode_state(&bytes).unwrap_or_else(|e| panic!("{e}")), s);
        assert!(decode_state(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_state(&bytes[..5]).is_err());
        assert_eq!(digest(&s.params), digest(&s.params.clone()));
    }
}
