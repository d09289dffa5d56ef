//! The conv architecture's convolutions on the host: 4 × 4 kernels, stride 2, padding 1
//! (each halves the sides; each transposed one doubles them), on channels-last (NHWC)
//! maps, as matrix products around one gather and its adjoint.
//!
//! - [`im2col`] lays out, for every output position of a convolution, the 4 × 4 × C patch
//!   it reads (zeros outside the image): a convolution is then one product with the weights
//!   repacked as a `16·C_in × C_out` matrix.
//! - [`col2im`] is its adjoint: it sums the patches back onto the image. It gives a
//!   convolution's input gradient, and a transposed convolution's output from the product
//!   of its input with the weights repacked as `C_in × 16·C_out`.
//!
//! The patches take four times the memory of the map they come from, so they are never
//! laid out for the whole batch: the batch is cut into [`IMAGE_BLOCKS`] blocks of images,
//! more where their patches would take over [`PATCH_BYTES`] (the cut depends on the shapes
//! alone), and each block, on one thread of rayon's pool, lays out its patches in a buffer
//! that stays in the core's cache, multiplies, and scatters or gathers them at once. The
//! backward pass lays the patches out again rather than keeping them; each block's weight
//! gradient is a partial product, and the partials are summed in block order. So the
//! results do not depend on the number of threads.
//!
//! Rows of the network are image pixels in row-major order with the channels innermost
//! (HWC), so a batch of rows is already an NHWC map; burn's module computes on NCHW, and the
//! dense layers read its flattening in CHW order, so the feature map is permuted at the
//! boundary between the convolutions and the dense layers ([`to_chw`], [`from_chw`]).

use faer::{Accum, MatMut, MatRef};
use rayon::prelude::*;

use super::{kernels, seq_matmul};
use crate::config::Activation;

/// A batch is cut into this many blocks of images (measured on 2 cores: 8 blocks of 16
/// images of 28 × 28 were 3 % faster than 16 of 8, and 7 uneven ones no faster)…
const IMAGE_BLOCKS: usize = 8;

/// …or more, so that the patches of a block take at most this many bytes (or one image's)
/// and stay in a core's cache between their layout and their product. The cut follows from
/// the shapes alone.
const PATCH_BYTES: usize = 2 << 20;

/// A convolution (the encoder's) or a transposed convolution (the decoder's): indices of
/// its weight and bias in the network's parameter list, its channels, and its larger side.
#[derive(Debug, Clone, Copy)]
pub(super) struct ConvLayer {
    /// Index of the weight: `[c_out, c_in, 4, 4]` (conv) or `[c_in, c_out, 4, 4]`
    /// (transposed), burn's and PyTorch's layouts.
    pub w: usize,
    /// Index of the bias, `[c_out]`.
    pub b: usize,
    pub c_in: usize,
    pub c_out: usize,
    /// Height and width of the larger map: a convolution's input, a transposed
    /// convolution's output.
    pub h: usize,
    pub wd: usize,
    /// A transposed convolution (the decoder's).
    pub transposed: bool,
}

impl ConvLayer {
    /// Positions of the smaller map (`h/2 × w/2`) in one image.
    fn small(&self) -> usize {
        (self.h / 2) * (self.wd / 2)
    }

    /// Pixels of the larger map in one image.
    fn large(&self) -> usize {
        self.h * self.wd
    }
}

/// The convolutions of a conv network: the encoder's, applied to the image before the
/// dense layers, and the decoder's transposed ones, applied after them.
#[derive(Debug, Clone)]
pub(super) struct ConvStack {
    pub enc: Vec<ConvLayer>,
    pub dec: Vec<ConvLayer>,
    pub act: Activation,
    /// The feature map between the convolutions and the dense layers, `[c, h, w]`.
    pub features: [usize; 3],
}

/// The buffers of one batch size, reused from step to step.
#[derive(Debug, Default)]
pub(super) struct ConvWs {
    rows: usize,
    /// Images per block of the batch.
    block: usize,
    /// The weights repacked for the products: encoder layers, then decoder layers.
    packed: Vec<Vec<f32>>,
    /// Each block's patches (one slot per block).
    patches: Vec<f32>,
    /// Each block's weight gradient in the packed layout (one slot per block).
    partials: Vec<f32>,
    /// Each block's bias gradient (one slot per block).
    bias_partials: Vec<f32>,
    /// A weight gradient in the packed layout, the partials summed.
    packed_grad: Vec<f32>,
    /// The encoder: each layer's output after the activation (NHWC), and before it (SiLU).
    enc_h: Vec<Vec<f32>>,
    enc_a: Vec<Vec<f32>>,
    /// The encoder's feature map flattened in CHW order: the dense encoder's input.
    pub flat: Vec<f32>,
    /// The decoder: each layer's input (NHWC), the first the dense decoder's output.
    dec_in: Vec<Vec<f32>>,
    /// The decoder: the pre-activation of `dec_in[i + 1]` (SiLU).
    dec_a: Vec<Vec<f32>>,
    /// Gradients of maps, two of the largest size.
    d_maps: [Vec<f32>; 2],
    /// The gradient at the flattened feature map (CHW), out of the decoder's backward pass.
    pub d_flat: Vec<f32>,
}

/// `c (m × n) = a · b` on the calling thread, every operand row-major.
fn product(c: &mut [f32], m: usize, n: usize, k: usize, a: MatRef<'_, f32>, b: MatRef<'_, f32>) {
    debug_assert!(a.nrows() == m && a.ncols() == k && b.nrows() == k && b.ncols() == n);
    seq_matmul(
        MatMut::from_row_major_slice_mut(&mut c[..m * n], m, n),
        Accum::Replace,
        a,
        b,
    );
}

/// `m × n` row-major.
fn mat(s: &[f32], m: usize, n: usize) -> MatRef<'_, f32> {
    MatRef::from_row_major_slice(&s[..m * n], m, n)
}

impl ConvStack {
    fn silu(&self) -> bool {
        self.act == Activation::Silu
    }

    fn layers(&self) -> impl Iterator<Item = &ConvLayer> {
        self.enc.iter().chain(&self.dec)
    }

    /// Allocates the buffers for `rows` images (once per batch size).
    pub fn resize(&self, ws: &mut ConvWs, rows: usize) {
        if ws.rows == rows && !ws.packed.is_empty() {
            return;
        }
        ws.rows = rows;
        // an image's patches: a convolution's of its input, a transposed one's of its output
        let patch = self
            .enc
            .iter()
            .map(|l| l.small() * 16 * l.c_in)
            .chain(self.dec.iter().map(|l| l.small() * 16 * l.c_out))
            .max()
            .unwrap_or(0);
        ws.block = rows
            .div_ceil(IMAGE_BLOCKS)
            .min(PATCH_BYTES / (4 * patch).max(1))
            .max(1);
        let blocks = rows.div_ceil(ws.block);
        let buf = |len: usize| vec![0.0f32; rows * len];
        let silu = self.silu();
        ws.packed = self
            .layers()
            .map(|l| vec![0.0; 16 * l.c_in * l.c_out])
            .collect();
        ws.patches = vec![0.0; blocks * ws.block * patch];
        let weights = self
            .layers()
            .map(|l| 16 * l.c_in * l.c_out)
            .max()
            .unwrap_or(0);
        ws.partials = vec![0.0; blocks * weights];
        let widest = self.layers().map(|l| l.c_out).max().unwrap_or(0);
        ws.bias_partials = vec![0.0; blocks * widest];
        ws.packed_grad = vec![0.0; weights];
        ws.enc_h = self.enc.iter().map(|l| buf(l.small() * l.c_out)).collect();
        ws.enc_a = if silu {
            ws.enc_h.iter().map(|v| vec![0.0; v.len()]).collect()
        } else {
            Vec::new()
        };
        let [c, fh, fw] = self.features;
        ws.flat = buf(c * fh * fw);
        ws.d_flat = buf(c * fh * fw);
        ws.dec_in = self.dec.iter().map(|l| buf(l.small() * l.c_in)).collect();
        ws.dec_a = if silu {
            ws.dec_in
                .iter()
                .skip(1)
                .map(|v| vec![0.0; v.len()])
                .collect()
        } else {
            Vec::new()
        };
        let largest_map = self
            .layers()
            .map(|l| l.large() * l.c_in.max(l.c_out))
            .max()
            .unwrap_or(0);
        ws.d_maps = [buf(largest_map), buf(largest_map)];
    }

    /// The encoder's convolutions, each followed by the activation, on `rows` images `x`
    /// (NHWC): the feature map flattened in CHW order in `ws.flat`.
    pub fn encode(&self, values: &[Vec<f32>], ws: &mut ConvWs, x: &[f32], rows: usize) {
        self.resize(ws, rows);
        // the weights change at every update: laid out again at every pass
        for (l, p) in self.enc.iter().zip(ws.packed.iter_mut()) {
            pack(&values[l.w], p, l.c_in, l.c_out, l.transposed);
        }
        let (silu, act, block) = (self.silu(), self.act, ws.block);
        for (i, l) in self.enc.iter().enumerate() {
            let (done, rest) = ws.enc_h.split_at_mut(i);
            let input: &[f32] = if i == 0 { x } else { &done[i - 1] };
            let out = &mut rest[0][..rows * l.small() * l.c_out];
            let (bias, packed) = (&values[l.b], &ws.packed[i]);
            let k = 16 * l.c_in;
            let slot = block * l.small() * k;
            input[..rows * l.large() * l.c_in]
                .par_chunks(block * l.large() * l.c_in)
                .zip(out.par_chunks_mut(block * l.small() * l.c_out))
                .zip(ws.patches.par_chunks_mut(slot))
                .for_each(|((src, dst), cols)| {
                    let n = src.len() / (l.large() * l.c_in);
                    let m = n * l.small();
                    im2col(src, n, l.h, l.wd, l.c_in, cols);
                    for row in dst.chunks_exact_mut(l.c_out) {
                        row.copy_from_slice(bias);
                    }
                    seq_matmul(
                        MatMut::from_row_major_slice_mut(dst, m, l.c_out),
                        Accum::Add,
                        mat(cols, m, k),
                        mat(packed, k, l.c_out),
                    );
                    if !silu {
                        kernels::activate(act, dst);
                    }
                });
            if silu {
                ws.enc_a[i].copy_from_slice(out);
                kernels::activate(act, out);
            }
        }
        let [c, fh, fw] = self.features;
        if let Some(last) = ws.enc_h.last() {
            to_chw(last, rows, fh * fw, c, &mut ws.flat);
        }
    }

    /// The encoder's backward pass from the gradient at its flattened output (`d_flat`,
    /// CHW), `x` the images it encoded: every layer's weight and bias gradients into
    /// `grads`. The image needs no gradient.
    pub fn encode_backward(
        &self,
        grads: &mut [Vec<f32>],
        ws: &mut ConvWs,
        x: &[f32],
        d_flat: &[f32],
        rows: usize,
    ) {
        let [c, fh, fw] = self.features;
        let (act, block) = (self.act, ws.block);
        let [mut cur, mut next] = std::mem::take(&mut ws.d_maps);
        from_chw(d_flat, rows, fh * fw, c, &mut cur[..rows * fh * fw * c]);
        for (i, l) in self.enc.iter().enumerate().rev() {
            let input: &[f32] = if i == 0 { x } else { &ws.enc_h[i - 1] };
            let (h, pre) = (&ws.enc_h[i], ws.enc_a.get(i).map(Vec::as_slice));
            let packed = &ws.packed[i];
            let (k, img_in, img_out) = (16 * l.c_in, l.large() * l.c_in, l.small() * l.c_out);
            let weights = k * l.c_out;
            let blocks = rows.div_ceil(block);
            cur[..rows * img_out]
                .par_chunks_mut(block * img_out)
                .zip(ws.patches.par_chunks_mut(block * l.small() * k))
                .zip(ws.partials[..blocks * weights].par_chunks_mut(weights))
                .zip(ws.bias_partials.par_chunks_mut(l.c_out))
                .zip(next[..rows * img_in].par_chunks_mut(block * img_in))
                .enumerate()
                .for_each(|(j, ((((dc, cols), part), bias), di))| {
                    let n = dc.len() / img_out;
                    let m = n * l.small();
                    let at = j * block;
                    // the gradient at the layer's output, through its activation
                    let h = &h[at * img_out..(at + n) * img_out];
                    let pre = pre.map(|p| &p[at * img_out..(at + n) * img_out]);
                    kernels::activation_backward(act, h, pre, dc);
                    kernels::column_sums(dc, l.c_out, bias);
                    let src = &input[at * img_in..(at + n) * img_in];
                    im2col(src, n, l.h, l.wd, l.c_in, cols);
                    let dc: &[f32] = dc;
                    product(
                        part,
                        k,
                        l.c_out,
                        m,
                        mat(cols, m, k).transpose(),
                        mat(dc, m, l.c_out),
                    );
                    if i > 0 {
                        // the patches are used: their gradient takes their place
                        product(
                            cols,
                            m,
                            k,
                            l.c_out,
                            mat(dc, m, l.c_out),
                            mat(packed, k, l.c_out).transpose(),
                        );
                        col2im(cols, n, l.h, l.wd, l.c_in, di, None);
                    }
                });
            layer_grads(ws, grads, l, blocks);
            std::mem::swap(&mut cur, &mut next);
        }
        ws.d_maps = [cur, next];
    }

    /// The decoder's transposed convolutions on `rows` feature maps `flat` (CHW rows, the
    /// dense decoder's output after its activation), the activation between them: the
    /// decoder's raw output (NHWC rows) in `out`.
    pub fn decode(
        &self,
        values: &[Vec<f32>],
        ws: &mut ConvWs,
        flat: &[f32],
        rows: usize,
        out: &mut [f32],
    ) {
        self.resize(ws, rows);
        let skip = self.enc.len();
        for (l, p) in self.dec.iter().zip(ws.packed.iter_mut().skip(skip)) {
            pack(&values[l.w], p, l.c_in, l.c_out, l.transposed);
        }
        let [c, fh, fw] = self.features;
        from_chw(flat, rows, fh * fw, c, &mut ws.dec_in[0]);
        let (silu, act, block) = (self.silu(), self.act, ws.block);
        let last = self.dec.len() - 1;
        for (i, l) in self.dec.iter().enumerate() {
            let (done, rest) = ws.dec_in.split_at_mut(i + 1);
            let input = &done[i][..rows * l.small() * l.c_in];
            let target: &mut [f32] = if i == last { &mut *out } else { &mut rest[0] };
            let target = &mut target[..rows * l.large() * l.c_out];
            let (bias, packed) = (values[l.b].as_slice(), &ws.packed[skip + i]);
            let k = 16 * l.c_out;
            input
                .par_chunks(block * l.small() * l.c_in)
                .zip(target.par_chunks_mut(block * l.large() * l.c_out))
                .zip(ws.patches.par_chunks_mut(block * l.small() * k))
                .for_each(|((src, dst), tcols)| {
                    let n = src.len() / (l.small() * l.c_in);
                    let m = n * l.small();
                    product(
                        tcols,
                        m,
                        k,
                        l.c_in,
                        mat(src, m, l.c_in),
                        mat(packed, l.c_in, k),
                    );
                    col2im(tcols, n, l.h, l.wd, l.c_out, dst, Some(bias));
                    if i < last && !silu {
                        kernels::activate(act, dst);
                    }
                });
            if i < last && silu {
                ws.dec_a[i].copy_from_slice(target);
                kernels::activate(act, target);
            }
        }
    }

    /// The decoder's backward pass from the gradient at its raw output `d_out` (NHWC
    /// rows): every layer's weight and bias gradients into `grads`, and the gradient at
    /// the flattened feature map it read (CHW, before the dense layer's activation is
    /// undone) in `ws.d_flat`.
    pub fn decode_backward(
        &self,
        grads: &mut [Vec<f32>],
        ws: &mut ConvWs,
        d_out: &[f32],
        rows: usize,
    ) {
        let (act, block) = (self.act, ws.block);
        let [mut cur, mut next] = std::mem::take(&mut ws.d_maps);
        let last = self.dec.len() - 1;
        for (i, l) in self.dec.iter().enumerate().rev() {
            let (k, img_in, img_out) = (16 * l.c_out, l.small() * l.c_in, l.large() * l.c_out);
            let d: &[f32] = if i == last {
                &d_out[..rows * img_out]
            } else {
                &cur[..rows * img_out]
            };
            let input = &ws.dec_in[i];
            // the layer's input is the previous layer's output, after its activation
            let pre = i
                .checked_sub(1)
                .and_then(|p| ws.dec_a.get(p))
                .map(Vec::as_slice);
            let packed = &ws.packed[self.enc.len() + i];
            let weights = l.c_in * k;
            let blocks = rows.div_ceil(block);
            next[..rows * img_in]
                .par_chunks_mut(block * img_in)
                .zip(ws.patches.par_chunks_mut(block * l.small() * k))
                .zip(ws.partials[..blocks * weights].par_chunks_mut(weights))
                .zip(ws.bias_partials.par_chunks_mut(l.c_out))
                .enumerate()
                .for_each(|(j, (((di, d_cols), part), bias))| {
                    let n = di.len() / img_in;
                    let m = n * l.small();
                    let at = j * block;
                    let dc = &d[at * img_out..(at + n) * img_out];
                    let src = &input[at * img_in..(at + n) * img_in];
                    kernels::column_sums(dc, l.c_out, bias);
                    im2col(dc, n, l.h, l.wd, l.c_out, d_cols);
                    product(
                        part,
                        l.c_in,
                        k,
                        m,
                        mat(src, m, l.c_in).transpose(),
                        mat(d_cols, m, k),
                    );
                    product(
                        di,
                        m,
                        l.c_in,
                        k,
                        mat(d_cols, m, k),
                        mat(packed, l.c_in, k).transpose(),
                    );
                    if i > 0 {
                        let pre = pre.map(|p| &p[at * img_in..(at + n) * img_in]);
                        kernels::activation_backward(act, src, pre, di);
                    }
                });
            layer_grads(ws, grads, l, blocks);
            std::mem::swap(&mut cur, &mut next);
        }
        let [c, fh, fw] = self.features;
        to_chw(&cur[..rows * fh * fw * c], rows, fh * fw, c, &mut ws.d_flat);
        ws.d_maps = [cur, next];
    }
}

/// A layer's gradients from its blocks' partials: the bias's, and the weight's, laid out as
/// the parameter.
fn layer_grads(ws: &mut ConvWs, grads: &mut [Vec<f32>], l: &ConvLayer, blocks: usize) {
    let weights = 16 * l.c_in * l.c_out;
    sum_partials(&ws.bias_partials[..blocks * l.c_out], &mut grads[l.b]);
    sum_partials(
        &ws.partials[..blocks * weights],
        &mut ws.packed_grad[..weights],
    );
    let packed = &ws.packed_grad[..weights];
    unpack(packed, &mut grads[l.w], l.c_in, l.c_out, l.transposed);
}

/// `out = Σ_j partials[j]` over the slots of `out.len()` values, in slot order (the same
/// bits whatever the number of threads).
fn sum_partials(partials: &[f32], out: &mut [f32]) {
    let len = out.len();
    out.par_chunks_mut(1024).enumerate().for_each(|(c, o)| {
        let (at, n) = (c * 1024, o.len());
        o.copy_from_slice(&partials[at..at + n]);
        for p in partials.chunks_exact(len).skip(1) {
            o.iter_mut().zip(&p[at..at + n]).for_each(|(a, &v)| *a += v);
        }
    });
}

/// Where each value of a 4 × 4 weight stands in the matrix the products use, as
/// `(index in the parameter, index in the matrix)`. A convolution's `w[co][ci][kh][kw]` is
/// row `(kh·4 + kw)·c_in + ci`, column `co` of the `16·c_in × c_out` matrix that multiplies
/// [`im2col`]'s patches; a transposed one's `w[ci][co][kh][kw]` row `ci`, column
/// `(kh·4 + kw)·c_out + co` of the `c_in × 16·c_out` matrix whose product with the input
/// [`col2im`] sums.
fn layout(c_in: usize, c_out: usize, transposed: bool) -> impl Iterator<Item = (usize, usize)> {
    (0..c_in).flat_map(move |ci| {
        (0..c_out).flat_map(move |co| {
            (0..16).map(move |k| {
                if transposed {
                    ((ci * c_out + co) * 16 + k, (ci * 16 + k) * c_out + co)
                } else {
                    ((co * c_in + ci) * 16 + k, (k * c_in + ci) * c_out + co)
                }
            })
        })
    })
}

/// A weight `w` as its matrix ([`layout`]).
fn pack(w: &[f32], packed: &mut [f32], c_in: usize, c_out: usize, transposed: bool) {
    for (at, to) in layout(c_in, c_out, transposed) {
        packed[to] = w[at];
    }
}

/// The inverse of [`pack`]: a gradient in the matrix's layout as the weight's.
fn unpack(packed: &[f32], w: &mut [f32], c_in: usize, c_out: usize, transposed: bool) {
    for (at, to) in layout(c_in, c_out, transposed) {
        w[at] = packed[to];
    }
}

/// For `n` images `h × w × c` (NHWC) in `img`, the patches a 4 × 4, stride 2, padding 1
/// convolution reads: row `(b, oy, ox)` of `cols` (`n·(h/2)·(w/2) × 16·c`) holds
/// `img[b][2·oy − 1 + kh][2·ox − 1 + kw][ci]` at column `(kh·4 + kw)·c + ci`, zero outside
/// the image.
pub(super) fn im2col(img: &[f32], n: usize, h: usize, w: usize, c: usize, cols: &mut [f32]) {
    let (oh, ow) = (h / 2, w / 2);
    let row = 16 * c;
    let image = h * w * c;
    cols[..n * oh * ow * row]
        .chunks_exact_mut(oh * ow * row)
        .zip(img[..n * image].chunks_exact(image))
        .for_each(|(dst, src)| {
            for oy in 0..oh {
                for ox in 0..ow {
                    let patch = &mut dst[(oy * ow + ox) * row..][..row];
                    for (kh, line) in patch.chunks_exact_mut(4 * c).enumerate() {
                        // y = 2·oy − 1 + kh
                        let Some(y) = (2 * oy + kh).checked_sub(1).filter(|&y| y < h) else {
                            line.fill(0.0);
                            continue;
                        };
                        let src_line = &src[y * w * c..(y + 1) * w * c];
                        // the four pixels x = 2·ox − 1 … 2·ox + 2 are contiguous
                        if ox > 0 && 2 * ox + 2 < w {
                            let x0 = 2 * ox - 1;
                            let from = &src_line[x0 * c..(x0 + 4) * c];
                            // one channel: four values, copied without a call to memcpy
                            match (
                                <&mut [f32; 4]>::try_from(&mut *line),
                                <&[f32; 4]>::try_from(from),
                            ) {
                                (Ok(to), Ok(from)) => *to = *from,
                                _ => line.copy_from_slice(from),
                            }
                        } else {
                            for (kw, px) in line.chunks_exact_mut(c).enumerate() {
                                match (2 * ox + kw).checked_sub(1).filter(|&x| x < w) {
                                    Some(x) => px.copy_from_slice(&src_line[x * c..(x + 1) * c]),
                                    None => px.fill(0.0),
                                }
                            }
                        }
                    }
                }
            }
        });
}

/// The adjoint of [`im2col`]: `img[b][y][x][ci] = init[ci] + Σ cols[(b, oy, ox)][(kh·4 +
/// kw)·c + ci]` over the patches that read the pixel (`2·oy − 1 + kh = y`,
/// `2·ox − 1 + kw = x`); `init` is zero when `None`. Each pixel sums its (at most four)
/// patches in a fixed order.
pub(super) fn col2im(
    cols: &[f32],
    n: usize,
    h: usize,
    w: usize,
    c: usize,
    img: &mut [f32],
    init: Option<&[f32]>,
) {
    let (oh, ow) = (h / 2, w / 2);
    let row = 16 * c;
    let image = h * w * c;
    // the (position, tap) pairs reading coordinate y: (t / 2, t % 2) and (t / 2 − 1, t % 2 + 2)
    // for t = y + 1, where the position is on the smaller map
    let taps = |y: usize, len: usize| -> [Option<(usize, usize)>; 2] {
        let t = y + 1;
        let (p, k) = (t / 2, t % 2);
        [
            (p < len).then_some((p, k)),
            p.checked_sub(1).map(|q| (q, k + 2)),
        ]
    };
    img[..n * image]
        .chunks_exact_mut(image)
        .zip(cols[..n * oh * ow * row].chunks_exact(oh * ow * row))
        .for_each(|(dst, src)| {
            for y in 0..h {
                let ys = taps(y, oh);
                for x in 0..w {
                    let xs = taps(x, ow);
                    let px = &mut dst[(y * w + x) * c..][..c];
                    match init {
                        Some(b) => px.copy_from_slice(b),
                        None => px.fill(0.0),
                    }
                    for &(oy, kh) in ys.iter().flatten() {
                        for &(ox, kw) in xs.iter().flatten() {
                            let s = &src[(oy * ow + ox) * row + (kh * 4 + kw) * c..][..c];
                            px.iter_mut().zip(s).for_each(|(p, &v)| *p += v);
                        }
                    }
                }
            }
        });
}

/// `n` maps of `hw` pixels × `c` channels, from NHWC to CHW rows: each image's `hw × c`
/// matrix transposed.
pub(super) fn to_chw(src: &[f32], n: usize, hw: usize, c: usize, dst: &mut [f32]) {
    transpose_each(src, n, hw, c, dst);
}

/// The inverse of [`to_chw`].
pub(super) fn from_chw(src: &[f32], n: usize, hw: usize, c: usize, dst: &mut [f32]) {
    transpose_each(src, n, c, hw, dst);
}

/// Each of the `n` row-major `rows × cols` matrices laid end to end in `src`, transposed
/// into `dst`.
fn transpose_each(src: &[f32], n: usize, rows: usize, cols: usize, dst: &mut [f32]) {
    let size = rows * cols;
    dst[..n * size]
        .par_chunks_mut(size)
        .zip(src[..n * size].par_chunks(size))
        .for_each(|(d, s)| {
            for (i, row) in s.chunks_exact(cols).enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    d[j * rows + i] = v;
                }
            }
        });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A direct convolution, the definition: 4 × 4, stride 2, padding 1, NHWC.
    fn direct(img: &[f32], h: usize, w: usize, c: usize, wt: &[f32], c_out: usize) -> Vec<f32> {
        let (oh, ow) = (h / 2, w / 2);
        let mut out = vec![0.0f32; oh * ow * c_out];
        for oy in 0..oh {
            for ox in 0..ow {
                for co in 0..c_out {
                    let mut s = 0.0f64;
                    for kh in 0..4 {
                        for kw in 0..4 {
                            let (y, x) = (2 * oy + kh, 2 * ox + kw);
                            if y == 0 || x == 0 || y > h || x > w {
                                continue;
                            }
                            for ci in 0..c {
                                s += f64::from(img[((y - 1) * w + x - 1) * c + ci])
                                    * f64::from(wt[((co * c + ci) * 4 + kh) * 4 + kw]);
                            }
                        }
                    }
                    out[(oy * ow + ox) * c_out + co] = s as f32;
                }
            }
        }
        out
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n as u32)
            .map(|i| {
                ((i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) % 1000) as f32 / 500.0
                    - 1.0
            })
            .collect()
    }

    /// `im2col` and the packed weights give the direct convolution, on sides that meet
    /// every edge case (2, odd halves, wider than tall).
    #[test]
    fn im2col_product_is_the_convolution() {
        for (h, w, c, c_out) in [(2, 2, 1, 1), (6, 10, 3, 2), (8, 8, 2, 5)] {
            let img = values(h * w * c, 1);
            let wt = values(c_out * c * 16, 7);
            let want = direct(&img, h, w, c, &wt, c_out);
            let mut cols = vec![f32::NAN; (h / 2) * (w / 2) * 16 * c];
            im2col(&img, 1, h, w, c, &mut cols);
            let mut packed = vec![0.0; 16 * c * c_out];
            pack(&wt, &mut packed, c, c_out, false);
            let mut got = vec![0.0; want.len()];
            let m = (h / 2) * (w / 2);
            product(
                &mut got,
                m,
                c_out,
                16 * c,
                mat(&cols, m, 16 * c),
                mat(&packed, 16 * c, c_out),
            );
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-5, "{h}×{w}×{c}: {a} vs {b}");
            }
            let mut back = vec![0.0; wt.len()];
            unpack(&packed, &mut back, c, c_out, false);
            assert_eq!(back, wt);
        }
    }

    /// `col2im` is the adjoint of `im2col`: ⟨im2col(a), b⟩ = ⟨a, col2im(b)⟩.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        for (n, h, w, c) in [(1, 2, 2, 1), (2, 6, 4, 3), (3, 8, 10, 2)] {
            let a = values(n * h * w * c, 3);
            let b = values(n * (h / 2) * (w / 2) * 16 * c, 5);
            let mut cols = vec![0.0; b.len()];
            im2col(&a, n, h, w, c, &mut cols);
            let mut img = vec![0.0; a.len()];
            col2im(&b, n, h, w, c, &mut img, None);
            let lhs: f64 = cols.iter().zip(&b).map(|(p, q)| f64::from(p * q)).sum();
            let rhs: f64 = a.iter().zip(&img).map(|(p, q)| f64::from(p * q)).sum();
            assert!(
                (lhs - rhs).abs() <= 1e-4 * lhs.abs().max(1.0),
                "{lhs} vs {rhs}"
            );
            let bias: Vec<f32> = (0..c).map(|i| i as f32 + 0.5).collect();
            let mut with = vec![0.0; a.len()];
            col2im(&b, n, h, w, c, &mut with, Some(&bias));
            for (i, (p, q)) in with.iter().zip(&img).enumerate() {
                assert!((p - q - bias[i % c]).abs() <= 1e-5);
            }
        }
    }

    #[test]
    fn packing_round_trips() {
        let (ci, co) = (3, 5);
        let w = values(ci * co * 16, 9);
        let mut p = vec![0.0; w.len()];
        pack(&w, &mut p, ci, co, true);
        let mut back = vec![0.0; w.len()];
        unpack(&p, &mut back, ci, co, true);
        assert_eq!(back, w);
        let mut chw = vec![0.0; 2 * 6 * 3];
        to_chw(&values(36, 2), 2, 6, 3, &mut chw);
        let mut hwc = vec![0.0; 36];
        from_chw(&chw, 2, 6, 3, &mut hwc);
        assert_eq!(hwc, values(36, 2));
    }
}
