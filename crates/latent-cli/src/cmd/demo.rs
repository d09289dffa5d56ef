//! `latent demo`: the comparison preset on the embedded Fashion-MNIST-10k; prints the
//! reading and where the report is.

use anyhow::Result;
use latent::CompareSpec;

use crate::cli::DemoArgs;
use crate::progress::Terminal;

/// `latent demo`.
pub fn run(args: &DemoArgs) -> Result<()> {
    let spec = CompareSpec::demo(args.quick);
    let dims = spec
        .latent_dims
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let same = spec.command_line(&args.out);
    outln!(
        "latent demo: PCA, a linear autoencoder, a deep autoencoder and VAEs (β = 0.5, 1, 4) at \
         latent dimensions {dims} on the embedded Fashion-MNIST-10k (80 % train, 20 % test).\n\
         Same as: {same}{}\n",
        if args.force { " --force" } else { "" }
    );
    // progress on stderr: stdout keeps the header and the findings
    let summary = latent::compare::compare(
        &spec,
        &args.out,
        args.force,
        &same,
        &mut Terminal::on_stderr(false),
    )?;
    outln!("\n== what the numbers show (details in the report)");
    for l in &summary.reading {
        outln!("- {l}");
    }
    outln!(
        "\ndemo written to {}: open {} in a browser",
        args.out.display(),
        args.out.join("report.html").display()
    );
    Ok(())
}
