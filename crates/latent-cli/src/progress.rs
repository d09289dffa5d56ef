//! Progress bars on a terminal; silence when stderr is not a terminal (pipes, CI, tests).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

fn target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A bar counting to `len` (a spinner with a count when the length is unknown).
pub fn bar(len: Option<usize>, msg: &str) -> ProgressBar {
    let pb = match len {
        Some(n) => ProgressBar::with_draw_target(Some(n as u64), target()).with_style(
            ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} [{elapsed_precise}<{eta}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::with_draw_target(None, target()),
    };
    pb.set_message(msg.to_string());
    pb
}

/// A spinner for work of unknown length.
pub fn spinner(msg: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(None, target()).with_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Whether the line of epoch `epoch` of `total` is printed: every epoch of a short run,
/// otherwise the first, every tenth of the run, and the last (a 635-epoch linear AE prints
/// a dozen lines, not 635).
pub fn epoch_line_shown(epoch: usize, total: usize) -> bool {
    let every = total.div_ceil(10).max(1);
    total <= 20 || epoch <= 1 || epoch >= total || epoch.is_multiple_of(every)
}

/// Where a [`Terminal`]'s lines of progress go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lines {
    /// Standard output (`fit`: its epochs are its output).
    Stdout,
    /// Standard error (`compare`, `demo`: stdout keeps the findings).
    Stderr,
    /// Nowhere, and no progress bars (`--quiet`); notes still go to stderr.
    Quiet,
}

/// The terminal's view of a fit or a comparison: progress bars on a terminal, a bounded
/// number of epoch lines (on stdout for a fit, stderr for a comparison), notes on stderr.
pub struct Terminal {
    bar: ProgressBar,
    epochs: usize,
    sums: [f64; 3],
    count: usize,
    vae: bool,
    lines: Lines,
}

impl Terminal {
    /// A fresh view whose lines of progress go to stdout.
    pub fn new() -> Self {
        Terminal {
            bar: ProgressBar::hidden(),
            epochs: 0,
            sums: [0.0; 3],
            count: 0,
            vae: false,
            lines: Lines::Stdout,
        }
    }

    /// A fresh view whose lines of progress go to stderr (stdout is left to the caller's
    /// findings), or nowhere with `quiet` (no bars either; notes still go to stderr).
    pub fn on_stderr(quiet: bool) -> Self {
        Terminal {
            lines: if quiet { Lines::Quiet } else { Lines::Stderr },
            ..Terminal::new()
        }
    }

    fn print(&self, line: &str) {
        use std::io::Write as _;
        match self.lines {
            Lines::Stdout => {
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }
            Lines::Stderr => crate::errln(line),
            Lines::Quiet => {}
        }
    }

    /// A progress bar, or a hidden one when quiet.
    fn new_bar(&self, len: Option<usize>, msg: &str) -> ProgressBar {
        if self.lines == Lines::Quiet {
            ProgressBar::hidden()
        } else {
            bar(len, msg)
        }
    }
}

impl Default for Terminal {
    fn default() -> Self {
        Terminal::new()
    }
}

impl latent_nn::Observer for Terminal {
    fn epoch_start(&mut self, epoch: usize, steps: usize) {
        self.bar = self.new_bar(Some(steps), &format!("epoch {epoch}/{}", self.epochs));
        self.sums = [0.0; 3];
        self.count = 0;
    }
    fn step(&mut self, _step: usize, loss: f64, recon: f64, kl: f64) {
        for (s, v) in self.sums.iter_mut().zip([loss, recon, kl]) {
            *s += v;
        }
        self.count += 1;
        self.bar.inc(1);
        if self.count.is_multiple_of(10) {
            let c = self.count as f64;
            self.bar.set_message(if self.vae {
                format!(
                    "loss {:.2} (recon {:.2} + kl {:.2})",
                    self.sums[0] / c,
                    self.sums[1] / c,
                    self.sums[2] / c
                )
            } else {
                format!("loss {:.4}", self.sums[0] / c)
            });
        }
    }
    fn epoch_end(
        &mut self,
        m: &latent_nn::EpochMetrics,
        _history: &[latent_nn::EpochMetrics],
    ) -> latent_nn::Result<()> {
        self.bar.finish_and_clear();
        if !epoch_line_shown(m.epoch, self.epochs) {
            return Ok(());
        }
        let val = m
            .val_loss
            .map(|v| format!(", val {v:.3}"))
            .unwrap_or_default();
        self.print(&if self.vae {
            format!(
                "epoch {}/{}: loss {:.3} (recon {:.3} + kl {:.3}){val} [{:.1} s]",
                m.epoch, self.epochs, m.train_loss, m.train_recon, m.train_kl, m.seconds
            )
        } else {
            format!(
                "epoch {}/{}: loss {:.4}{val} [{:.1} s]",
                m.epoch, self.epochs, m.train_loss, m.seconds
            )
        });
        Ok(())
    }
    fn note(&mut self, message: &str) {
        crate::errln(&format!("note: {message}"));
    }
}

impl latent::FitEvents for Terminal {
    fn stage(&mut self, what: &str) {
        self.bar.finish_and_clear();
        self.bar = if self.lines == Lines::Quiet {
            ProgressBar::hidden()
        } else {
            spinner(what)
        };
    }
    fn rows(&mut self, seen: usize, total: Option<usize>) {
        if self.bar.length() != total.map(|t| t as u64) {
            self.bar = self.new_bar(total, "incremental PCA: rows");
        }
        self.bar.set_position(seen as u64);
    }
    fn training(&mut self, epochs: usize, vae: bool) {
        self.epochs = epochs;
        self.vae = vae;
    }
    fn info(&mut self, line: &str) {
        self.bar.finish_and_clear();
        self.print(line);
    }
}

impl latent::compare::CompareEvents for Terminal {
    fn log(&mut self, line: &str) {
        self.bar.finish_and_clear();
        self.print(line);
    }
}

#[cfg(test)]
mod tests {
    use super::epoch_line_shown;

    #[test]
    fn epoch_lines_are_bounded() {
        let shown = |total| (1..=total).filter(|&e| epoch_line_shown(e, total)).count();
        assert_eq!(shown(3), 3);
        assert_eq!(shown(20), 20);
        assert!(shown(635) <= 12, "{}", shown(635));
        assert!(epoch_line_shown(635, 635) && epoch_line_shown(1, 635));
    }
}
